"""The base of the operations revision files are written in (see :mod:`.ops`).

Each operation knows three things (the shape of Django's operations):

* ``apply_state(state)``: how it changes :class:`~..schema.state.SchemaState`;
* ``run(ctx)``: the SQL it sends, online or offline (the very same code path:
  an Alembic ``Operations`` object either executes or prints), chosen per
  dialect from the state, never from reflection;
* ``describe()``: one line for ``upgrade --plan``.

Where SQLite cannot ALTER (types, nullability, constraints, dropping
constrained columns) the table is rebuilt from the state: create a new
table, copy the rows, drop the old one, rename, recreate the indexes.

An operation may be limited to some dialects (``dialects=("postgresql",)``):
upstream drops constraints by the names only one server gives them, so the
same drop only happens there.  SQLite follows the MySQL path, which is the
one that ends with the schema of the models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from sqlalchemy import Column, text
from sqlalchemy.schema import CreateIndex as CreateIndexDDL
from sqlalchemy.schema import CreateTable as CreateTableDDL
from sqlalchemy.types import TypeEngine

from ..schema.state import (
    ColumnState,
    SchemaState,
)

if TYPE_CHECKING:
    from alembic.operations import Operations


class StatementSink(Protocol):
    """Where SQL goes: Alembic's ``Operations``, or a bare connection."""

    def execute(self, sqltext: Any) -> Any: ...


@dataclass
class RunContext:
    """What an operation needs to emit its SQL.

    ``operations`` is Alembic's ``Operations`` (online or offline); the direct
    creation of an empty database passes a bare statement sink, which only
    :class:`Sql` operations receive.
    """

    dialect: str
    operations: Operations
    #: the schema before the operation (the operation must not change it)
    state: SchemaState
    offline: bool

    def execute(self, statement: Any) -> None:
        if isinstance(statement, str):
            statement = text(statement)
        self.operations.execute(statement)


# -- building blocks of table definitions -----------------------------------------------


@dataclass(frozen=True)
class Col:
    """A column as a revision declares it."""

    name: str
    type: TypeEngine[Any]
    nullable: bool = True
    autoincrement: bool = False
    server_default: str | None = None

    def to_state(self) -> ColumnState:
        return ColumnState(
            self.name, self.type, self.nullable, self.server_default, self.autoincrement
        )

    def to_column(self) -> Column[Any]:
        kwargs: dict[str, Any] = {}
        if self.server_default is not None:
            kwargs["server_default"] = text(self.server_default)
        return Column(self.name, self.type, nullable=self.nullable, **kwargs)


@dataclass(frozen=True)
class FK:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...] = ("id",)
    ondelete: str | None = None


@dataclass(frozen=True)
class Ix:
    name: str
    columns: tuple[str, ...]


def compiled_type(type_: TypeEngine[Any], dialect: str) -> str:
    return str(type_.compile(dialect=dialect_object(dialect)))


_DIALECT_CACHE: dict[str, Any] = {}


def dialect_object(name: str) -> Any:
    """SQLAlchemy's dialect object for ``name``; only that dialect's module is
    imported (lazily, for start-up time)."""
    if name not in _DIALECT_CACHE:
        if name == "postgresql":
            from sqlalchemy.dialects.postgresql import psycopg2

            _DIALECT_CACHE[name] = psycopg2.dialect()  # type: ignore[no-untyped-call]
        elif name == "mysql":
            from sqlalchemy.dialects.mysql import pymysql

            _DIALECT_CACHE[name] = pymysql.dialect()
        else:
            from sqlalchemy.dialects.sqlite import pysqlite

            _DIALECT_CACHE[name] = pysqlite.dialect()
    return _DIALECT_CACHE[name]


# -- the operation base ------------------------------------------------------------------


@dataclass
class Operation:
    """Base of every operation; ``dialects`` limits where it applies."""

    dialects: tuple[str, ...] | None = field(default=None, kw_only=True)
    rewrites_data: bool = field(default=False, init=False)
    #: when it refuses the data, it undoes its revision's earlier operations first
    #: (:class:`~.refusing_fill.RefusingFill`): interrupted, its revision may be undone
    undoes_revision_on_refusal: ClassVar[bool] = False

    def cpu_parts(self, dialect: str) -> int:
        """How many statements share its passes' CPU work at once (the estimate divides it)."""
        return 1

    def applies_to(self, dialect: str) -> bool:
        return self.dialects is None or dialect in self.dialects

    def tables(self) -> tuple[str, ...]:
        raise NotImplementedError

    def apply_state(self, state: SchemaState) -> None:
        raise NotImplementedError

    def run(self, ctx: RunContext) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def after(self, state: SchemaState) -> SchemaState:
        new_state = state.copy()
        self.apply_state(new_state)
        return new_state


@dataclass
class TableOperation(Operation):
    """An operation on one existing table, named first."""

    table: str

    def tables(self) -> tuple[str, ...]:
        return (self.table,)


def by_columns(items: Sequence[Any], columns: tuple[str, ...], what: str, table: str) -> Any:
    """The first of ``items`` (uniques or foreign keys) on exactly ``columns``."""
    for item in items:
        if item.columns == columns:
            return item
    raise KeyError(f"no {what} on {table}{columns}")


# -- SQLite table rebuild ---------------------------------------------------------------

REBUILD_PREFIX = "_mdm_rebuild_"


def rebuild_sqlite_table(
    ctx: RunContext, new_state: SchemaState, table: str, fill: Mapping[str, str] | None = None
) -> None:
    """Give SQLite's ``table`` the definition it has in ``new_state``, keeping its rows.

    ``fill`` gives SQL expressions for new NOT NULL columns of existing rows.
    """
    fill = fill or {}
    old = ctx.state.table(table)
    new = new_state.table(table)
    temporary = REBUILD_PREFIX + table
    metadata = new_state.to_metadata(with_names=False)
    new_state.to_table(table, metadata, with_names=False, indexes=False, as_name=temporary)
    ctx.execute(CreateTableDDL(metadata.tables[temporary]))
    target_columns: list[str] = []
    source_values: list[str] = []
    for column in new.columns:
        if old.has_column(column.name):
            target_columns.append(_q(column.name))
            source_values.append(_q(column.name))
        elif column.name in fill:
            target_columns.append(_q(column.name))
            source_values.append(fill[column.name])
    ctx.execute(
        f"INSERT INTO {_q(temporary)} ({', '.join(target_columns)}) "
        f"SELECT {', '.join(source_values)} FROM {_q(table)}"
    )
    ctx.execute(f"DROP TABLE {_q(table)}")
    ctx.execute(f"ALTER TABLE {_q(temporary)} RENAME TO {_q(table)}")
    for index in metadata.tables[table].indexes:
        ctx.execute(CreateIndexDDL(index))


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


