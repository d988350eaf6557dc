"""The catalogue of standard definitions that ``populate`` writes.

This package owns everything between a YAML file and a row of
``workflow_definitions_v2`` / ``action_definitions_v2``:

* :mod:`.parse` parses Mistral DSL v2 (workflow files, ad-hoc action files) into
  the :mod:`.rows` values, the exact column values upstream Mistral writes;
  :mod:`.validate` (with :mod:`.checks` and the tables of :mod:`.keys`) checks
  the definitions and :mod:`.cutting` gives each workflow of a multi-workflow
  file its own text;
* :mod:`.sources` finds the definitions: the ad-hoc actions bundled with this
  package, the ``mistral.preinstalled_workflows`` entry points of installed
  distributions and the directories an operator names;
* :mod:`.sync` compares them with the database, builds a :class:`~.sync.PopulatePlan`
  and applies it (add / update / keep / remove) inside the caller's transaction.
"""

from __future__ import annotations

from mistral_db_manage.catalog.parse import parse_actions, parse_workflows
from mistral_db_manage.catalog.rows import ActionDefinition, CatalogDefinition, WorkflowDefinition
from mistral_db_manage.catalog.sources import collect_definitions
from mistral_db_manage.catalog.sync import (
    ItemAction,
    PlanItem,
    PopulatePlan,
    apply_plan,
    plan_populate,
)

__all__ = [
    "ActionDefinition",
    "CatalogDefinition",
    "ItemAction",
    "PlanItem",
    "PopulatePlan",
    "WorkflowDefinition",
    "apply_plan",
    "collect_definitions",
    "parse_actions",
    "parse_workflows",
    "plan_populate",
]
