"""Reconcile the standard definitions with the database: the populate plan and its apply.

:func:`plan_populate` compares the collected definitions with the rows of
``action_definitions_v2`` and ``workflow_definitions_v2`` and returns a frozen
:class:`PopulatePlan`; :func:`apply_plan` writes it.  The caller owns the
transaction (and the migration lock): plan and apply run on the same
connection inside one ``begin()``, so either the whole plan is written or
nothing is.

Identity
    A definition is matched with the row of the same ``name`` in project
    ``<default-project>`` whose ``namespace`` is ``''`` (or NULL, which rows
    written before upstream revision 037 may carry; such a row is rewritten
    with ``''``).  Matched rows keep their ``id`` and ``created_at``; an
    update sets ``updated_at``.  New rows get a uuid4 ``id`` and
    ``created_at`` = now (UTC, naive, whole seconds), ``updated_at`` NULL.

Workflows
    Rows are written with ``is_system`` true, scope ``public``.  A row is
    *unchanged* when every column populate writes (``definition``, ``spec``,
    ``tags``, ``checksum``, ``scope``, ``is_system``, ``namespace``,
    ``workbook_name``) already holds the expected value, else it is
    *updated*.  A same-named row that is not a system workflow belongs to a
    user: populate refuses to overwrite it (:class:`DefinitionError`).
    System workflows of ``<default-project>`` (namespace ``''``/NULL) that no
    current source defines are *kept* and reported unless ``prune`` is true;
    with ``prune`` they are removed, except those that a cron trigger or an
    event trigger references through ``workflow_id``, which are kept and
    reported with the trigger names.  (The database does not record which
    package a system workflow came from, so "its source is not installed"
    and "no current source defines it" are the same test.)

Actions (the rule for "system" actions)
    Upstream writes its ad-hoc actions with ``is_system`` false, so the flag
    cannot tell them from users' actions.  Populate therefore manages *only
    the rows whose name is one of the bundled actions* (in
    ``<default-project>``, namespace ``''``/NULL): it adds or updates them and
    never removes an action row, with or without ``prune``.  Every other
    action row, a user's or not, is left alone.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mistral_db_manage.catalog.rows import ActionDefinition, CatalogDefinition, WorkflowDefinition
from mistral_db_manage.catalog.sources import check_unique_names
from mistral_db_manage.errors import DefinitionError, MistralDbManageError
from mistral_db_manage.schema.models import (
    action_definitions_v2,
    cron_triggers_v2,
    event_triggers_v2,
    workflow_definitions_v2,
)

DEFAULT_PROJECT = "<default-project>"
PUBLIC_SCOPE = "public"
DEFAULT_NAMESPACE = ""

#: Columns whose values are JSON text; read and written as raw text so that the
#: stored text is exactly the one computed (``json.dumps`` of the spec).
_JSON_COLUMNS = frozenset({"spec", "tags", "attributes"})

WORKFLOW_COLUMNS = (
    "name",
    "definition",
    "spec",
    "tags",
    "scope",
    "project_id",
    "is_system",
    "namespace",
    "workbook_name",
    "checksum",
)
ACTION_COLUMNS = (
    "name",
    "definition",
    "spec",
    "tags",
    "description",
    "input",
    "action_class",
    "attributes",
    "scope",
    "project_id",
    "is_system",
    "namespace",
    "workbook_name",
)


class ItemAction(enum.StrEnum):
    """What the plan does with one definition or row."""

    ADD = "add"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    REMOVE = "remove"
    KEPT_REFERENCED = "kept-referenced"
    KEPT_SOURCE_MISSING = "kept-source-missing"


_WRITES = frozenset({ItemAction.ADD, ItemAction.UPDATE, ItemAction.REMOVE})


@dataclass(frozen=True)
class PlanItem:
    """One line of the plan."""

    kind: str  # "workflow" or "action"
    name: str
    action: ItemAction
    #: The existing row's id (update, unchanged, remove, kept).
    row_id: str | None = None
    #: Column values to write (add, update).
    values: Mapping[str, Any] | None = field(default=None, hash=False)
    #: Columns an update changes.
    changed: tuple[str, ...] = ()
    #: Where the definition comes from (add, update, unchanged).
    source: str | None = None
    #: Why a row is kept (kept-*).
    reason: str = ""

    def describe(self) -> str:
        """One human line, e.g. ``update workflow create_vm (definition, spec changed)``."""
        what = f"{self.kind} {self.name}"
        if self.action is ItemAction.ADD:
            return f"add {what} (from {self.source})"
        if self.action is ItemAction.UPDATE:
            return f"update {what} ({', '.join(self.changed)} changed; from {self.source})"
        if self.action is ItemAction.UNCHANGED:
            return f"unchanged {what}"
        if self.action is ItemAction.REMOVE:
            return f"remove {what} (id {self.row_id}; no source defines it, --prune given)"
        return f"keep {what} (id {self.row_id}): {self.reason}"


@dataclass(frozen=True)
class PopulatePlan:
    """What populate will do, item by item (actions first, then workflows)."""

    items: tuple[PlanItem, ...]
    prune: bool = False
    actions_only: bool = False

    def count(self, action: ItemAction) -> int:
        return sum(1 for item in self.items if item.action is action)

    @property
    def has_changes(self) -> bool:
        return any(item.action in _WRITES for item in self.items)

    def summary(self) -> str:
        """``3 added, 1 updated, 12 unchanged`` plus the non-zero removed/kept counts."""
        parts = [
            f"{self.count(ItemAction.ADD)} added",
            f"{self.count(ItemAction.UPDATE)} updated",
            f"{self.count(ItemAction.UNCHANGED)} unchanged",
        ]
        removed = self.count(ItemAction.REMOVE)
        if removed:
            parts.append(f"{removed} removed")
        referenced = self.count(ItemAction.KEPT_REFERENCED)
        if referenced:
            parts.append(f"{referenced} kept (referenced by a trigger)")
        missing = self.count(ItemAction.KEPT_SOURCE_MISSING)
        if missing:
            parts.append(f"{missing} kept (no source defines them; --prune removes them)")
        return ", ".join(parts)

    def lines(self, *, verbose: bool = False) -> list[str]:
        """One line per item (unchanged items only when *verbose*)."""
        return [
            item.describe()
            for item in self.items
            if verbose or item.action is not ItemAction.UNCHANGED
        ]


# --------------------------------------------------------------------------- row values


def workflow_row_values(definition: WorkflowDefinition) -> dict[str, Any]:
    """The ``workflow_definitions_v2`` columns populate writes for *definition*."""
    return {
        "name": definition.name,
        "definition": definition.definition_text,
        "spec": definition.spec_json,
        "tags": definition.tags_json,
        "scope": PUBLIC_SCOPE,
        "project_id": DEFAULT_PROJECT,
        "is_system": True,
        "namespace": DEFAULT_NAMESPACE,
        "workbook_name": None,
        "checksum": definition.checksum,
    }


def action_row_values(definition: ActionDefinition) -> dict[str, Any]:
    """The ``action_definitions_v2`` columns populate writes for *definition*."""
    return {
        "name": definition.name,
        "definition": definition.definition_text,
        "spec": definition.spec_json,
        "tags": definition.tags_json,
        "description": definition.description,
        "input": definition.input_text,
        "action_class": None,
        "attributes": None,
        "scope": PUBLIC_SCOPE,
        "project_id": DEFAULT_PROJECT,
        "is_system": False,
        "namespace": DEFAULT_NAMESPACE,
        "workbook_name": None,
    }


def _column(table: sa.Table, name: str) -> sa.ColumnElement[Any]:
    column: sa.ColumnElement[Any] = table.c[name]
    if name in _JSON_COLUMNS:
        return sa.type_coerce(column, sa.Text()).label(name)
    return column


def _bind(table: sa.Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """Values for insert/update, JSON columns bound as the exact text given."""
    return {
        name: sa.type_coerce(value, sa.Text()) if name in _JSON_COLUMNS else value
        for name, value in values.items()
    }


def _default_rows(
    connection: Connection, table: sa.Table, columns: Sequence[str]
) -> list[dict[str, Any]]:
    """Rows of ``<default-project>`` in namespace ``''`` or NULL."""
    query = (
        sa.select(*(_column(table, name) for name in ("id", *columns)))
        .where(table.c.project_id == DEFAULT_PROJECT)
        .where(sa.or_(table.c.namespace == DEFAULT_NAMESPACE, table.c.namespace.is_(None)))
        .order_by(table.c.name, table.c.id)
    )
    return [dict(row._mapping) for row in connection.execute(query)]


def _by_name(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One row per name, preferring namespace ``''`` over NULL."""
    result: dict[str, dict[str, Any]] = {}
    for row in rows:
        current = result.get(row["name"])
        if current is None or (current["namespace"] is None and row["namespace"] is not None):
            result[row["name"]] = row
    return result


def _changed(row: Mapping[str, Any], values: Mapping[str, Any]) -> tuple[str, ...]:
    changed = []
    for name, value in values.items():
        current = row.get(name)
        if isinstance(value, bool) and current is not None:
            current = bool(current)
        if current != value:
            changed.append(name)
    return tuple(changed)


# --------------------------------------------------------------------------- planning


def plan_populate(
    connection: Connection,
    definitions: Sequence[CatalogDefinition],
    *,
    prune: bool,
    actions_only: bool,
) -> PopulatePlan:
    """Compare *definitions* with the database and return what populate would do.

    Reads only.  With *actions_only* the workflows (of *definitions* and of
    the database) are left out of the plan.
    """
    check_unique_names(definitions)
    actions = [d for d in definitions if isinstance(d, ActionDefinition)]
    workflows = [d for d in definitions if isinstance(d, WorkflowDefinition)]
    items = _plan_actions(connection, actions)
    if not actions_only:
        items.extend(_plan_workflows(connection, workflows, prune=prune))
    return PopulatePlan(items=tuple(items), prune=prune, actions_only=actions_only)


def _plan_actions(connection: Connection, actions: Sequence[ActionDefinition]) -> list[PlanItem]:
    existing = _by_name(_default_rows(connection, action_definitions_v2, ACTION_COLUMNS))
    items: list[PlanItem] = []
    for definition in actions:
        values = action_row_values(definition)
        row = existing.get(definition.name)
        items.append(_match("action", definition.name, definition.source, values, row))
    return items


def _match(
    kind: str, name: str, source: str, values: dict[str, Any], row: dict[str, Any] | None
) -> PlanItem:
    if row is None:
        return PlanItem(kind, name, ItemAction.ADD, values=values, source=source)
    changed = _changed(row, values)
    if not changed:
        return PlanItem(kind, name, ItemAction.UNCHANGED, row_id=row["id"], source=source)
    return PlanItem(
        kind,
        name,
        ItemAction.UPDATE,
        row_id=row["id"],
        values=values,
        changed=changed,
        source=source,
    )


def _plan_workflows(
    connection: Connection, workflows: Sequence[WorkflowDefinition], *, prune: bool
) -> list[PlanItem]:
    rows = _default_rows(connection, workflow_definitions_v2, WORKFLOW_COLUMNS)
    existing = _by_name(rows)
    items: list[PlanItem] = []
    wanted = set()
    for definition in workflows:
        wanted.add(definition.name)
        row = existing.get(definition.name)
        if row is not None and not row["is_system"]:
            raise DefinitionError(
                f"{definition.location}: {definition.name}: workflow {definition.name!r} "
                f"(from {definition.source}) has the name of a user workflow in project "
                f"{DEFAULT_PROJECT} (id {row['id']}, not a system workflow); populate does not "
                "overwrite it: rename or delete that workflow, then run populate again"
            )
        values = workflow_row_values(definition)
        items.append(_match("workflow", definition.name, definition.source, values, row))

    leftovers = [row for row in rows if row["is_system"] and row["name"] not in wanted]
    references = _trigger_references(connection, [row["id"] for row in leftovers])
    for row in leftovers:
        if not prune:
            items.append(
                PlanItem(
                    "workflow",
                    row["name"],
                    ItemAction.KEPT_SOURCE_MISSING,
                    row_id=row["id"],
                    reason="no installed source defines it (--prune removes it)",
                )
            )
        elif references.get(row["id"]):
            items.append(
                PlanItem(
                    "workflow",
                    row["name"],
                    ItemAction.KEPT_REFERENCED,
                    row_id=row["id"],
                    reason="no source defines it, but it is referenced by "
                    + ", ".join(references[row["id"]]),
                )
            )
        else:
            items.append(PlanItem("workflow", row["name"], ItemAction.REMOVE, row_id=row["id"]))
    return items


def _trigger_references(
    connection: Connection, workflow_ids: Sequence[str]
) -> dict[str, list[str]]:
    """``{workflow id: ["cron trigger 'x' (id ...)", ...]}`` for the given ids."""
    found: dict[str, list[str]] = {}
    if not workflow_ids:
        return found
    for label, table in (("cron trigger", cron_triggers_v2), ("event trigger", event_triggers_v2)):
        query = (
            sa.select(table.c.workflow_id, table.c.name, table.c.id)
            .where(table.c.workflow_id.in_(list(workflow_ids)))
            .order_by(table.c.name, table.c.id)
        )
        for workflow_id, name, trigger_id in connection.execute(query):
            found.setdefault(workflow_id, []).append(f"{label} {name!r} (id {trigger_id})")
    return found


# --------------------------------------------------------------------------- applying


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def apply_plan(connection: Connection, plan: PopulatePlan) -> None:
    """Write *plan* on *connection*; the caller commits (or rolls back on error).

    Every update and delete addresses its row by id and must touch exactly one
    row; a removal is re-checked against the triggers first.  Any surprise
    raises :class:`MistralDbManageError` and the caller's rollback undoes the rest.
    """
    now = _now()
    for item in plan.items:
        table = workflow_definitions_v2 if item.kind == "workflow" else action_definitions_v2
        if item.action is ItemAction.ADD:
            assert item.values is not None
            values = {**item.values, "id": str(uuid.uuid4()), "created_at": now, "updated_at": None}
            connection.execute(sa.insert(table).values(_bind(table, values)))
        elif item.action is ItemAction.UPDATE:
            assert item.values is not None and item.row_id is not None
            values = {**item.values, "updated_at": now}
            result = connection.execute(
                sa.update(table).where(table.c.id == item.row_id).values(_bind(table, values))
            )
            _expect_one(result.rowcount, item)
        elif item.action is ItemAction.REMOVE:
            assert item.row_id is not None
            referenced = _trigger_references(connection, [item.row_id]).get(item.row_id)
            if referenced:
                raise MistralDbManageError(
                    f"workflow {item.name!r} became referenced by {', '.join(referenced)} "
                    "after the plan was made; nothing was written, run populate again"
                )
            result = connection.execute(
                sa.delete(table)
                .where(table.c.id == item.row_id)
                .where(table.c.is_system == sa.true())
            )
            _expect_one(result.rowcount, item)


def _expect_one(rowcount: int, item: PlanItem) -> None:
    if rowcount != 1:
        raise MistralDbManageError(
            f"cannot {item.action} {item.kind} {item.name!r}: its row (id {item.row_id}) "
            "changed or disappeared after the plan was made; nothing was written, "
            "run populate again"
        )
