"""Creating the schema of a revision directly on an empty database.

Replaying 45 revisions on an empty database sends some 250 DDL statements,
most of them rewriting tables that are still empty; on MySQL/MariaDB each
one costs a file operation.  When the database has no tables at all, the
executor instead creates the chain's state at the target revision in one
go, with every name the replayed chain would have produced (PostgreSQL gets
them explicitly; MySQL and SQLite name constraints by the same rules the
state predicts), and then runs the revisions' data statements that still
matter on an empty database (the rows 044 inserts; a data statement on a
table that a later revision drops is skipped).  The reference tests prove
the result identical to the replayed chain on every dialect.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy.schema import (
    AddConstraint,
    CreateIndex,
    CreateTable,
    ForeignKeyConstraint,
    UniqueConstraint,
)

if TYPE_CHECKING:
    from ..migrations.ops import Operation
    from ..schema.state import SchemaState
    from .chain import Chain


def schema_statements(state: SchemaState) -> Iterator[Any]:
    """DDL (SQLAlchemy constructs or SQL text) creating ``state`` on an empty database."""
    dialect = state.dialect
    metadata = state.to_metadata(with_names=dialect == "postgresql")
    if dialect == "mysql":
        # Tables may reference each other in any order while checks are off.
        yield "SET foreign_key_checks = 0"
    for name in state.tables:
        table = metadata.tables[name]
        if dialect == "postgresql":
            # SQLAlchemy renders only one of two uniques on the same columns; the
            # chain leaves two on cron_triggers_v2 (003 + 014), so add the rest after.
            duplicates = _duplicate_uniques(table)
            for constraint in duplicates:
                table.constraints.discard(constraint)
            yield CreateTable(table, include_foreign_key_constraints=[])
            yield from (AddConstraint(constraint) for constraint in duplicates)
            yield from (CreateIndex(index) for index in _sorted_indexes(table))
        elif dialect == "mysql":
            yield _mysql_table_with_keys(table)
        else:
            yield CreateTable(table)
            yield from (CreateIndex(index) for index in _sorted_indexes(table))
    if dialect == "postgresql":
        for name in state.tables:
            keys = (c for c in metadata.tables[name].constraints
                    if isinstance(c, ForeignKeyConstraint))
            # a set: sorted, so that the DDL is the same in every run
            yield from (AddConstraint(key) for key in sorted(keys, key=lambda c: str(c.name)))
    if dialect == "mysql":
        yield "SET foreign_key_checks = 1"


def _duplicate_uniques(table: Any) -> list[Any]:
    seen: set[tuple[str, ...]] = set()
    duplicates = []
    for constraint in sorted(
        (c for c in table.constraints if isinstance(c, UniqueConstraint)), key=lambda c: str(c.name)
    ):
        columns = tuple(c.name for c in constraint.columns)
        if columns in seen:
            duplicates.append(constraint)
        seen.add(columns)
    return duplicates


def _sorted_indexes(table: Any) -> list[Any]:
    return sorted(table.indexes, key=lambda index: str(index.name))


def _mysql_table_with_keys(table: Any) -> str:
    """CREATE TABLE with the secondary indexes inline (one statement per table)."""
    from sqlalchemy.dialects.mysql import pymysql

    dialect = pymysql.dialect()
    ddl = str(CreateTable(table).compile(dialect=dialect)).rstrip()
    if not ddl.endswith(")"):
        raise ValueError(f"unexpected CREATE TABLE shape for {table.name}")
    preparer = dialect.identifier_preparer
    keys = [
        f"\tKEY {preparer.quote(str(index.name))} "
        f"({', '.join(preparer.quote(c.name) for c in index.columns)})"
        for index in _sorted_indexes(table)
    ]
    if not keys:
        return ddl
    return ddl[:-1].rstrip() + ",\n" + ",\n".join(keys) + "\n)"


def seed_operations(chain: Chain, dialect: str, end: str | None) -> list[Operation]:
    """The data operations up to ``end`` whose rows survive on an empty database."""
    from ..migrations import ops

    ordered: list[Operation] = []
    for step in chain.between(None, end):
        ordered.extend(o for o in chain.operations(step.id) if o.applies_to(dialect))
    seeds: list[Operation] = []
    for position, operation in enumerate(ordered):
        if not operation.rewrites_data:
            continue
        later = ordered[position + 1:]
        dropped_later = any(
            isinstance(o, ops.DropTable) and o.name in operation.tables() for o in later
        )
        if not dropped_later:
            seeds.append(operation)
    return seeds
