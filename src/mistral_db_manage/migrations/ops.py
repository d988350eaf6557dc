"""The operations revision files are written in: the schema and data operations.

The base every operation shares (:class:`~.operation.Operation`, the run context,
column and key descriptions, the SQLite table rebuild) lives in :mod:`.operation`;
this module holds the operations themselves and re-exports what revision files
import from it (``from mistral_db_manage.migrations.ops import AddColumn, Col``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData, text
from sqlalchemy.schema import CreateTable as CreateTableDDL
from sqlalchemy.types import TypeEngine

from ..schema.state import ForeignKeyState, IndexState, SchemaState, TableState, UniqueState
from .operation import (
    FK,
    Col,
    Ix,
    Operation,
    RunContext,
    StatementSink,
    TableOperation,
    by_columns,
    compiled_type,
    dialect_object,
    rebuild_sqlite_table,
)
from .work import Rewrite, Scan, SqlWork

__all__ = [
    "FK",
    "AddColumn",
    "AddForeignKey",
    "AddUnique",
    "AlterColumn",
    "Col",
    "CreateIndex",
    "CreateTable",
    "DropColumn",
    "DropForeignKey",
    "DropIndex",
    "DropTable",
    "DropUnique",
    "Ix",
    "Operation",
    "RunContext",
    "Sql",
    "StatementSink",
    "TableOperation",
    "add_column_with_value",
    "compiled_type",
    "dialect_object",
]

# -- schema operations -------------------------------------------------------------------


@dataclass
class CreateTable(Operation):
    name: str
    columns: Sequence[Col]
    primary_key: tuple[str, ...] = ("id",)
    uniques: Sequence[tuple[str, ...]] = ()
    foreign_keys: Sequence[FK] = ()
    indexes: Sequence[Ix] = ()

    def tables(self) -> tuple[str, ...]:
        return (self.name,)

    def describe(self) -> str:
        return f"create table {self.name}"

    def apply_state(self, state: SchemaState) -> None:
        if self.name in state.tables:
            raise KeyError(f"table {self.name!r} already exists")
        table = TableState(self.name, [c.to_state() for c in self.columns], self.primary_key)
        table.primary_key_name = state.primary_key_name(self.name)
        state.tables[self.name] = table
        for column in self.columns:
            if column.autoincrement and state.dialect == "postgresql":
                state.sequences.add(f"{self.name}_{column.name}_seq")
        for columns in self.uniques:
            table.uniques.append(UniqueState(columns, state.unique_name(self.name, columns)))
        for fk in self.foreign_keys:
            name = state.foreign_key_name(self.name, fk.columns)
            table.foreign_keys.append(
                ForeignKeyState(fk.columns, fk.ref_table, fk.ref_columns, fk.ondelete, name)
            )
        state.refresh_implicit_indexes(self.name)
        for index in self.indexes:
            table.indexes.append(IndexState(index.name, index.columns))
            state.refresh_implicit_indexes(self.name)

    def run(self, ctx: RunContext) -> None:
        new_state = self.after(ctx.state)
        # PostgreSQL gets explicit names (the ones it would choose); MySQL and
        # SQLite get unnamed constraints, exactly as upstream sends them.
        with_names = ctx.dialect == "postgresql"
        metadata = MetaData()
        for name in {self.name, *(fk.ref_table for fk in self.foreign_keys)}:
            new_state.to_table(name, metadata, with_names=with_names, indexes=False)
        ctx.execute(CreateTableDDL(metadata.tables[self.name]))
        for index in self.indexes:
            ctx.operations.create_index(index.name, self.name, list(index.columns))


@dataclass
class DropTable(Operation):
    name: str

    def tables(self) -> tuple[str, ...]:
        return (self.name,)

    def describe(self) -> str:
        return f"drop table {self.name}"

    def apply_state(self, state: SchemaState) -> None:
        state.table(self.name)
        del state.tables[self.name]
        state.sequences = {s for s in state.sequences if not s.startswith(f"{self.name}_")}

    def run(self, ctx: RunContext) -> None:
        ctx.operations.drop_table(self.name)


@dataclass
class AddColumn(TableOperation):
    column: Col
    #: SQL value given to existing rows when the column is NOT NULL without default
    fill: str | None = None

    def describe(self) -> str:
        return f"add column {self.table}.{self.column.name}"

    def apply_state(self, state: SchemaState) -> None:
        table = state.table(self.table)
        if table.has_column(self.column.name):
            raise KeyError(f"column {self.table}.{self.column.name} already exists")
        table.columns.append(self.column.to_state())

    def run(self, ctx: RunContext) -> None:
        needs_fill = not self.column.nullable and self.column.server_default is None
        if needs_fill and self.fill is not None:
            if ctx.dialect == "sqlite":
                rebuild_sqlite_table(
                    ctx, self.after(ctx.state), self.table, {self.column.name: self.fill}
                )
                return
            if ctx.dialect == "postgresql":
                filled = Col(self.column.name, self.column.type, False, server_default=self.fill)
                ctx.operations.add_column(self.table, filled.to_column())
                ctx.operations.alter_column(self.table, self.column.name, server_default=None)
                return
        ctx.operations.add_column(self.table, self.column.to_column())


@dataclass
class DropColumn(TableOperation):
    column: str

    def describe(self) -> str:
        return f"drop column {self.table}.{self.column}"

    def apply_state(self, state: SchemaState) -> None:
        table = state.table(self.table)
        table.column(self.column)
        table.columns = [c for c in table.columns if c.name != self.column]
        table.uniques = [u for u in table.uniques if self.column not in u.columns]
        table.indexes = [i for i in table.indexes if self.column not in i.columns]

    def run(self, ctx: RunContext) -> None:
        if ctx.dialect == "sqlite":
            rebuild_sqlite_table(ctx, self.after(ctx.state), self.table)
        else:
            ctx.operations.drop_column(self.table, self.column)


@dataclass
class AlterColumn(TableOperation):
    column: str
    type: TypeEngine[Any] | None = None
    nullable: bool | None = None

    def describe(self) -> str:
        changes = []
        if self.type is not None:
            changes.append(f"type {compiled_type(self.type, 'postgresql')}")
        if self.nullable is not None:
            changes.append("nullable" if self.nullable else "not null")
        return f"alter column {self.table}.{self.column} ({', '.join(changes)})"

    def apply_state(self, state: SchemaState) -> None:
        column = state.table(self.table).column(self.column)
        if self.type is not None:
            column.type = self.type
        if self.nullable is not None:
            column.nullable = self.nullable

    def changes_anything(self, state: SchemaState) -> bool:
        old = state.table(self.table).column(self.column)
        type_changes = self.type is not None and compiled_type(
            self.type, state.dialect
        ) != compiled_type(old.type, state.dialect)
        null_changes = self.nullable is not None and self.nullable != old.nullable
        return type_changes or null_changes

    def run(self, ctx: RunContext) -> None:
        if not self.changes_anything(ctx.state):
            # e.g. TEXT -> "LONGTEXT" on PostgreSQL, where both are TEXT
            return
        if ctx.dialect == "sqlite":
            rebuild_sqlite_table(ctx, self.after(ctx.state), self.table)
            return
        old = ctx.state.table(self.table).column(self.column)
        kwargs: dict[str, Any] = {"existing_type": old.type, "existing_nullable": old.nullable}
        if self.type is not None and compiled_type(self.type, ctx.dialect) != compiled_type(
            old.type, ctx.dialect
        ):
            kwargs["type_"] = self.type
        if self.nullable is not None and self.nullable != old.nullable:
            kwargs["nullable"] = self.nullable
        ctx.operations.alter_column(self.table, self.column, **kwargs)


@dataclass
class AddUnique(TableOperation):
    columns: tuple[str, ...]

    def describe(self) -> str:
        return f"add unique constraint on {self.table}({', '.join(self.columns)})"

    def apply_state(self, state: SchemaState) -> None:
        name = state.unique_name(self.table, self.columns)
        state.table(self.table).uniques.append(UniqueState(self.columns, name))
        state.refresh_implicit_indexes(self.table)

    def run(self, ctx: RunContext) -> None:
        if ctx.dialect == "sqlite":
            rebuild_sqlite_table(ctx, self.after(ctx.state), self.table)
            return
        name = ctx.state.unique_name(self.table, self.columns)
        ctx.operations.create_unique_constraint(
            name if ctx.dialect == "postgresql" else None, self.table, list(self.columns)
        )


@dataclass
class DropUnique(TableOperation):
    """Drop the unique constraint of ``table`` on exactly ``columns`` (the first one)."""

    columns: tuple[str, ...]

    def describe(self) -> str:
        return f"drop unique constraint on {self.table}({', '.join(self.columns)})"

    def _find(self, state: SchemaState) -> UniqueState:
        uniques = state.table(self.table).uniques
        found: UniqueState = by_columns(uniques, self.columns, "unique constraint", self.table)
        return found

    def apply_state(self, state: SchemaState) -> None:
        table = state.table(self.table)
        target = self._find(state)
        table.uniques = [u for u in table.uniques if u is not target]
        state.refresh_implicit_indexes(self.table)

    def run(self, ctx: RunContext) -> None:
        if ctx.dialect == "sqlite":
            rebuild_sqlite_table(ctx, self.after(ctx.state), self.table)
            return
        name = self._find(ctx.state).name
        assert name is not None
        if ctx.dialect == "mysql":
            ctx.operations.drop_index(name, table_name=self.table)
        else:
            ctx.operations.drop_constraint(name, self.table, type_="unique")


@dataclass
class AddForeignKey(TableOperation):
    foreign_key: FK

    def tables(self) -> tuple[str, ...]:
        return (self.table, self.foreign_key.ref_table)

    def describe(self) -> str:
        fk = self.foreign_key
        return (
            f"add foreign key {self.table}({', '.join(fk.columns)}) -> "
            f"{fk.ref_table}({', '.join(fk.ref_columns)})"
        )

    def apply_state(self, state: SchemaState) -> None:
        fk = self.foreign_key
        name = state.foreign_key_name(self.table, fk.columns)
        state.table(self.table).foreign_keys.append(
            ForeignKeyState(fk.columns, fk.ref_table, fk.ref_columns, fk.ondelete, name)
        )
        state.refresh_implicit_indexes(self.table)

    def run(self, ctx: RunContext) -> None:
        if ctx.dialect == "sqlite":
            rebuild_sqlite_table(ctx, self.after(ctx.state), self.table)
            return
        fk = self.foreign_key
        name = ctx.state.foreign_key_name(self.table, fk.columns)
        ctx.operations.create_foreign_key(
            name if ctx.dialect == "postgresql" else None,
            self.table,
            fk.ref_table,
            list(fk.columns),
            list(fk.ref_columns),
            ondelete=fk.ondelete,
        )


@dataclass
class CreateIndex(Operation):
    name: str
    table: str
    columns: tuple[str, ...]

    def tables(self) -> tuple[str, ...]:
        return (self.table,)

    def describe(self) -> str:
        return f"create index {self.name} on {self.table}({', '.join(self.columns)})"

    def apply_state(self, state: SchemaState) -> None:
        state.table(self.table).indexes.append(IndexState(self.name, self.columns))
        state.refresh_implicit_indexes(self.table)

    def run(self, ctx: RunContext) -> None:
        ctx.operations.create_index(self.name, self.table, list(self.columns))


@dataclass
class DropIndex(Operation):
    name: str
    table: str

    def tables(self) -> tuple[str, ...]:
        return (self.table,)

    def describe(self) -> str:
        return f"drop index {self.name} on {self.table}"

    def apply_state(self, state: SchemaState) -> None:
        table = state.table(self.table)
        if not any(i.name == self.name for i in table.indexes):
            raise KeyError(f"no index {self.name} on {self.table}")
        table.indexes = [i for i in table.indexes if i.name != self.name]
        state.refresh_implicit_indexes(self.table)

    def run(self, ctx: RunContext) -> None:
        ctx.operations.drop_index(self.name, table_name=self.table)


# -- data and raw SQL ------------------------------------------------------------------

SqlByDialect = Mapping[str, Sequence[str]] | Callable[[RunContext], Sequence[str]]


@dataclass
class Sql(Operation):
    """SQL statements (per dialect), with an optional schema effect.

    ``statements`` maps a dialect (or ``"*"``) to statements, or is a function
    of the run context returning them.  ``effect`` is an operation whose state
    change the SQL makes (it is not run).  ``work`` declares the passes it makes
    and the rows it rewrites (:mod:`.work`); without it, a data change is taken
    to read and rewrite every row of its first table.  ``parallel``: per
    dialect, how many processes share the CPU of its passes (a query that the
    server runs in parallel workers); the estimate divides that work by it.
    """

    description: str
    statements: SqlByDialect
    table_names: tuple[str, ...] = ()
    effect: Operation | None = None
    data: bool = True
    work: tuple[SqlWork, ...] | None = None
    parallel: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rewrites_data = self.data

    def tables(self) -> tuple[str, ...]:
        return self.table_names

    def describe(self) -> str:
        return self.description

    def apply_state(self, state: SchemaState) -> None:
        if self.effect is not None:
            self.effect.apply_state(state)

    def cpu_parts(self, dialect: str) -> int:
        return self.parallel.get(dialect, 1)

    def sql_for(self, ctx: RunContext) -> Sequence[str]:
        if callable(self.statements):
            return self.statements(ctx)
        if ctx.dialect in self.statements:
            return self.statements[ctx.dialect]
        return self.statements.get("*", ())

    def run(self, ctx: RunContext) -> None:
        for statement in self.sql_for(ctx):
            ctx.execute(statement)


@dataclass
class DropForeignKey(TableOperation):
    """Drop the foreign key of ``table`` on exactly ``columns``."""

    columns: tuple[str, ...]

    def describe(self) -> str:
        return f"drop foreign key {self.table}({', '.join(self.columns)})"

    def _find(self, state: SchemaState) -> ForeignKeyState:
        keys = state.table(self.table).foreign_keys
        found: ForeignKeyState = by_columns(keys, self.columns, "foreign key", self.table)
        return found

    def apply_state(self, state: SchemaState) -> None:
        table = state.table(self.table)
        target = self._find(state)
        table.foreign_keys = [f for f in table.foreign_keys if f is not target]
        # InnoDB keeps the index it made for the key, now as an ordinary index.
        for index in table.indexes:
            if index.implicit and index.columns == target.columns:
                index.implicit = False

    def run(self, ctx: RunContext) -> None:
        if ctx.dialect == "sqlite":
            rebuild_sqlite_table(ctx, self.after(ctx.state), self.table)
            return
        name = self._find(ctx.state).name
        assert name is not None
        ctx.operations.drop_constraint(name, self.table, type_="foreignkey")


@dataclass
class SetDefault(TableOperation):
    """Set (or with ``default=None`` drop) a column's server default."""

    column: str
    default: str | None

    def describe(self) -> str:
        if self.default is None:
            return f"drop the default of {self.table}.{self.column}"
        return f"set the default of {self.table}.{self.column} to {self.default}"

    def apply_state(self, state: SchemaState) -> None:
        state.table(self.table).column(self.column).server_default = self.default

    def run(self, ctx: RunContext) -> None:
        if ctx.dialect == "sqlite":
            rebuild_sqlite_table(ctx, self.after(ctx.state), self.table)
            return
        old = ctx.state.table(self.table).column(self.column)
        ctx.operations.alter_column(
            self.table,
            self.column,
            server_default=text(self.default) if self.default is not None else None,
            existing_type=old.type,
            existing_nullable=old.nullable,
        )


SERVER_DIALECTS = ("postgresql", "mysql")


def add_column_with_value(table: str, column: Col, value: str) -> list[Operation]:
    """Add a nullable column whose existing rows all get ``value`` (an SQL literal).

    On PostgreSQL (11+) and MariaDB (10.3+) adding a column with a constant
    default touches no row, and dropping the default afterwards leaves the
    existing rows with the value and the column without a default: the same
    schema and rows as ADD COLUMN followed by UPDATE, in constant time instead
    of rewriting every row.  SQLite adds the column and updates the rows.
    Each step is one operation, so an interrupted MySQL run resumes exactly.
    """
    with_default = Col(column.name, column.type, column.nullable, server_default=value)
    return [
        AddColumn(table, with_default, dialects=SERVER_DIALECTS),
        SetDefault(table, column.name, None, dialects=SERVER_DIALECTS),
        AddColumn(table, column, dialects=("sqlite",)),
        Sql(
            f"set {table}.{column.name} to {value} in existing rows",
            {"sqlite": [f"UPDATE {table} SET {column.name} = {value}"]},
            table_names=(table,),
            dialects=("sqlite",),
            work=(Scan(table), Rewrite(table)),  # every row; no index holds the new column
        ),
    ]
