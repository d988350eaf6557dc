"""What an upgrade would do, without doing it (``upgrade --plan``, ``status``).

For each pending revision: its message and operations, which operations
rewrite data and how many rows that touches, and which take locks that
block the running Mistral service, judged per dialect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..migrations.ops import Operation
    from ..schema.state import SchemaState
    from .chain import Chain


@dataclass(frozen=True)
class PlannedOperation:
    description: str
    rewrites_data: bool
    #: rows of the table the operation rewrites or scans (None: nothing to count)
    rows: int | None
    #: what the Mistral service notices while it runs; None when nothing
    blocking: str | None


@dataclass(frozen=True)
class PlannedRevision:
    revision: str
    message: str
    operations: tuple[PlannedOperation, ...]

    @property
    def rewrites_data(self) -> bool:
        return any(o.rewrites_data for o in self.operations)


@dataclass(frozen=True)
class Plan:
    current: str | None
    target: str | None
    head: str | None
    pending: tuple[PlannedRevision, ...]

    @property
    def status(self) -> str:
        return "pending" if self.pending else "up-to-date"


def blocking_effect(operation: Operation, state: SchemaState) -> str | None:
    """How the operation affects a running service on ``state.dialect``."""
    from ..migrations import ops

    dialect = state.dialect
    tables = [t for t in operation.tables() if t in state.tables]
    if not tables:
        return None  # a new table: nobody uses it yet
    table = tables[0]
    if dialect == "sqlite":
        return f"locks the whole database file while {table} changes"
    if isinstance(operation, ops.Sql):
        if operation.rewrites_data:
            return f"locks the rows of {table} it changes until the revision commits"
        return f"exclusive lock on {table}"
    if isinstance(operation, ops.AlterColumn):
        if not operation.changes_anything(state):
            return None
        old = state.table(table).column(operation.column)
        if dialect == "mysql" and operation.type is not None:
            return f"copies {table}: writes to it wait until the copy ends"
        if dialect == "postgresql" and operation.type is not None:
            old_type = ops.compiled_type(old.type, dialect)
            new_type = ops.compiled_type(operation.type, dialect)
            if old_type.startswith("VARCHAR") and new_type.startswith("VARCHAR"):
                return f"brief exclusive lock on {table} (no rewrite for a longer VARCHAR)"
            return f"rewrites {table}: reads and writes wait until it ends"
        return f"brief exclusive lock on {table}"
    if isinstance(operation, (ops.CreateIndex, ops.AddUnique)):
        if dialect == "postgresql":
            return f"builds an index: writes to {table} wait until it ends"
        return f"builds an index online; brief metadata lock on {table}"
    if isinstance(operation, ops.AddForeignKey):
        return f"checks every row of {table}: writes wait until it ends"
    if isinstance(operation, ops.DropTable):
        return f"drops {table}: a service still using it fails"
    if isinstance(operation, ops.AddColumn) and dialect == "mysql":
        return f"brief metadata lock on {table} (instant ADD COLUMN)"
    return f"brief exclusive lock on {table}"


def _rows(connection: Connection | None, table: str, state: SchemaState) -> int | None:
    if connection is None or table not in state.tables:
        return None
    from sqlalchemy import func, select
    from sqlalchemy import table as table_clause

    count = connection.execute(select(func.count()).select_from(table_clause(table))).scalar()
    return int(count or 0)


def build_plan(
    chain: Chain,
    dialect: str,
    current: str | None,
    target: str | None,
    connection: Connection | None,
) -> Plan:
    from .execute import state_at

    state = state_at(chain, dialect, current)
    existing = set(state.tables)
    pending: list[PlannedRevision] = []
    for step in chain.between(current, target):
        planned: list[PlannedOperation] = []
        for operation in chain.operations(step.id):
            if not operation.applies_to(dialect):
                continue
            counted = [t for t in operation.tables() if t in existing and t in state.tables]
            rows = None
            effect = blocking_effect(operation, state)
            if counted and (operation.rewrites_data or (effect and "rewrites" in effect)
                            or (effect and "copies" in effect)):
                rows = _rows(connection, counted[0], state)
            planned.append(PlannedOperation(
                operation.describe(), operation.rewrites_data, rows, effect
            ))
            operation.apply_state(state)
        pending.append(PlannedRevision(step.id, step.message, tuple(planned)))
    if connection is not None:
        connection.rollback()
    return Plan(current, target, chain.head, tuple(pending))
