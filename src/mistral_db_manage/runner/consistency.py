"""``check_migration``: the chain against itself, and its head against the models.

The chain must be one straight line (:func:`.chain.find_problems`), and on every
dialect the schema it reaches at head must be the one the models describe
(:mod:`..schema.models`), with the same naming rules on both sides.  The
revisions after upstream's chain are linted (:mod:`.lint`): an operation that
costs an operator a window must be made cheaper or accepted in its file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..migrations.model_operations import redundant_uniques, state_from_metadata
from ..schema.history import state_at
from ..schema.models import metadata
from ..schema.state import DIALECTS
from .chain import Chain, find_problems, scan_directory
from .estimate import Estimator
from .lint import lint_chain
from .verify import compare_shapes, shapes_from_state


def chain_problems(versions_dir: Path,
                   estimators: Mapping[str, Estimator] | None = None) -> list[str]:
    """Every problem of the chain in ``versions_dir``, every difference from the models,
    and every flag of the lint no revision accepts (``estimators``: the predicted
    seconds on a configured database, per dialect)."""
    revisions = scan_directory(versions_dir)
    problems = find_problems(revisions)
    if problems:
        return problems
    chain = Chain(revisions)
    for dialect in DIALECTS:
        try:
            chain_state = state_at(chain, dialect, chain.head)
        except (KeyError, ValueError) as error:
            problems.append(f"{dialect}: the chain cannot be replayed: {error}")
            continue
        model_state = state_from_metadata(metadata, dialect)
        redundant = redundant_uniques(chain_state, model_state)
        for table in chain_state.tables.values():
            table.uniques = [u for u in table.uniques if u.name not in redundant]
        differences = compare_shapes(
            shapes_from_state(model_state), shapes_from_state(chain_state), exact=True
        )
        problems.extend(
            f"{dialect}: the models and the chain's head ({chain.head}) differ: {difference}"
            for difference in differences
        )
    problems.extend(flag.describe() for flag in lint_chain(chain, estimators)
                    if not flag.accepted)
    return problems
