"""The values of the catalogue rows: workflow and action definitions.

This module owns the frozen dataclasses that hold exactly the column values
upstream Mistral stores for one workflow (:class:`WorkflowDefinition`, a row of
``workflow_definitions_v2``) or one ad-hoc action (:class:`ActionDefinition`, a
row of ``action_definitions_v2``), and the column computations that need
nothing but those values (:func:`md5_hex`, :func:`action_input_text`).

Row values (facts of upstream Mistral 23.0.0, see tests/reference/upstream-populate.json)
    * ``spec`` of a workflow: the workflow's own mapping in file order, then
      ``name`` and ``version`` (``"2.0"``); each task gets ``type`` (the
      workflow's type, ``direct`` when absent), ``name`` and ``version`` after
      its own keys.  A key that is already there keeps its place and takes the
      injected value.  Inline parameters of a task's ``action``/``workflow``
      string (``nova.servers_create name=<% $.n %>``) are merged into the
      task's ``input`` mapping when it has one, as upstream does.
    * ``spec`` of an action: its mapping, then ``name`` and ``version``; inline
      parameters of ``base`` are merged into ``base-input`` when present.
      (Both ``spec`` values are computed by :mod:`.validate`.)
    * JSON columns are ``json.dumps`` with default separators; ``tags`` is
      ``"[]"`` when absent.
    * ``definition`` of a workflow: the whole file text when the file holds one
      workflow.  When it holds several, each workflow's text is *the file with
      the blocks of the other workflows removed* (the rule is in :mod:`.cutting`).
    * ``definition`` of an action: the whole file text, for every action of
      the file (upstream stores the file it was given).
    * ``checksum``: md5 hex digest of the UTF-8 ``definition``.
    * ``input`` of an action: its input entries joined by ``", "``; a plain
      name as is, a ``name: default`` entry as ``name=<json.dumps(default)>``
      (``a, b="x", c=1, d=null``); NULL when there is no input.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class _DefinitionColumns:
    """Column values and messages shared by workflow and action definitions."""

    spec: dict[str, Any]
    tags: tuple[str, ...]
    filename: str
    line: int

    @property
    def spec_json(self) -> str:
        return json.dumps(self.spec)

    @property
    def tags_json(self) -> str:
        return json.dumps(list(self.tags))

    @property
    def location(self) -> str:
        return f"{self.filename}:{self.line}"


@dataclass(frozen=True)
class WorkflowDefinition(_DefinitionColumns):
    """One workflow, with the values of its ``workflow_definitions_v2`` row."""

    name: str
    #: This workflow's own text (the ``definition`` column).
    definition_text: str
    #: The ``spec`` column as a Python value (see :attr:`spec_json`).
    spec: dict[str, Any] = field(hash=False)
    tags: tuple[str, ...]
    #: The file (or resource) it was read from, as shown in messages.
    filename: str
    #: Line of the workflow's key in that file.
    line: int
    #: Who provided the file (an entry point, a directory, a bundled resource).
    source: str

    @property
    def checksum(self) -> str:
        return md5_hex(self.definition_text)


@dataclass(frozen=True)
class ActionDefinition(_DefinitionColumns):
    """One ad-hoc action, with the values of its ``action_definitions_v2`` row."""

    name: str
    definition_text: str
    spec: dict[str, Any] = field(hash=False)
    tags: tuple[str, ...]
    description: str | None
    #: The ``input`` column: ``"a, b=\"x\""`` or ``None``.
    input_text: str | None
    filename: str
    line: int
    source: str


CatalogDefinition = WorkflowDefinition | ActionDefinition


def md5_hex(text: str) -> str:
    """The ``checksum`` column: md5 of the UTF-8 text, in hex."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def action_input_text(entries: Sequence[Any] | None) -> str | None:
    """The ``input`` column of an action from its ``input`` list (``None`` if empty)."""
    parts: list[str] = []
    for entry in entries or ():
        if isinstance(entry, dict):
            parts.extend(f"{key}={json.dumps(value)}" for key, value in entry.items())
        else:
            parts.append(str(entry))
    return ", ".join(parts) if parts else None
