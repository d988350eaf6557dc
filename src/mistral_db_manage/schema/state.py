"""The schema as the revision chain describes it, at any revision, per dialect.

Every operation of the chain updates a :class:`SchemaState` (Django calls this
``state_forwards``).  The state is what ``verify`` compares a live database
with, what the SQLite table rebuilds and the offline SQL are generated from
(no reflection), and what ``adopt`` matches an unversioned database against.

The state records the names the *server* gives to unnamed constraints (see
:mod:`.naming`), so it is dialect specific.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    ForeignKeyConstraint,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeEngine

from . import naming

DIALECTS = ("sqlite", "postgresql", "mysql")


@dataclass
class ColumnState:
    name: str
    type: TypeEngine[Any]
    nullable: bool = True
    server_default: str | None = None
    autoincrement: bool = False


@dataclass
class UniqueState:
    columns: tuple[str, ...]
    name: str | None


@dataclass
class ForeignKeyState:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    ondelete: str | None
    name: str | None


@dataclass
class IndexState:
    name: str
    columns: tuple[str, ...]
    unique: bool = False
    #: created by InnoDB for a foreign key, not by a revision (MySQL only)
    implicit: bool = False


@dataclass
class TableState:
    name: str
    columns: list[ColumnState]
    primary_key: tuple[str, ...]
    primary_key_name: str | None = None
    uniques: list[UniqueState] = field(default_factory=list)
    foreign_keys: list[ForeignKeyState] = field(default_factory=list)
    indexes: list[IndexState] = field(default_factory=list)

    def column(self, name: str) -> ColumnState:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name}.{name}")

    def has_column(self, name: str) -> bool:
        return any(column.name == name for column in self.columns)

    def copy(self) -> TableState:
        return TableState(
            self.name,
            [dataclasses.replace(c) for c in self.columns],
            self.primary_key,
            self.primary_key_name,
            [dataclasses.replace(u) for u in self.uniques],
            [dataclasses.replace(f) for f in self.foreign_keys],
            [dataclasses.replace(i) for i in self.indexes],
        )

    def index_names(self) -> set[str]:
        """Names of the table's keys in MySQL's sense (uniques and indexes)."""
        names = {index.name for index in self.indexes}
        names.update(unique.name for unique in self.uniques if unique.name)
        return names


@dataclass
class SchemaState:
    dialect: str
    tables: dict[str, TableState] = field(default_factory=dict)
    #: PostgreSQL sequences (serial columns), by name
    sequences: set[str] = field(default_factory=set)

    def copy(self) -> SchemaState:
        """A copy sharing nothing mutable (column types are treated as immutable)."""
        return SchemaState(
            self.dialect,
            {name: table.copy() for name, table in self.tables.items()},
            set(self.sequences),
        )

    def table(self, name: str) -> TableState:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"table {name!r} does not exist at this revision") from None

    # -- names the server would choose ------------------------------------------------

    def _pg_taken(self, name: str) -> bool:
        if name in self.tables or name in self.sequences:
            return True
        for table in self.tables.values():
            if name == table.primary_key_name or name in table.index_names():
                return True
            if any(fk.name == name for fk in table.foreign_keys):
                return True
        return False

    def primary_key_name(self, table: str) -> str | None:
        if self.dialect == "postgresql":
            return naming.pg_choose_name(table, None, "pkey", self._pg_taken)
        return None

    def unique_name(self, table: str, columns: tuple[str, ...]) -> str | None:
        if self.dialect == "postgresql":
            return naming.pg_choose_name(table, columns, "key", self._pg_taken)
        if self.dialect == "mysql":
            existing = self.tables[table].index_names() if table in self.tables else set()
            return naming.mysql_unique_name(columns, existing.__contains__)
        return None

    def foreign_key_name(self, table: str, columns: tuple[str, ...]) -> str | None:
        if self.dialect == "postgresql":
            return naming.pg_choose_name(table, columns, "fkey", self._pg_taken)
        if self.dialect == "mysql":
            existing = [fk.name or "" for fk in self.tables[table].foreign_keys]
            return naming.mysql_foreign_key_name(table, existing)
        return None

    def refresh_implicit_indexes(self, table_name: str) -> None:
        """Mimic InnoDB: each foreign key needs an index whose leading columns are
        the key's columns; InnoDB creates one named after the first column when
        none exists and drops it when an explicit one arrives."""
        if self.dialect != "mysql":
            return
        table = self.tables[table_name]

        def served(columns: tuple[str, ...], skip: IndexState | None) -> bool:
            candidates = [table.primary_key] + [u.columns for u in table.uniques]
            candidates += [i.columns for i in table.indexes if i is not skip]
            return any(c[: len(columns)] == columns for c in candidates)

        for index in list(table.indexes):
            if index.implicit and served(index.columns, index):
                table.indexes.remove(index)
        for fk in table.foreign_keys:
            if not served(fk.columns, None):
                table.indexes.append(IndexState(fk.columns[0], fk.columns, implicit=True))

    # -- SQLAlchemy objects -----------------------------------------------------------

    def to_table(
        self,
        name: str,
        metadata: MetaData,
        *,
        with_names: bool = True,
        indexes: bool = True,
        as_name: str | None = None,
    ) -> Table:
        """A SQLAlchemy Table for the state of ``name``.

        ``with_names=False`` leaves constraints unnamed (the server names them);
        ``as_name`` builds the same table under another name (SQLite rebuilds).
        """
        table = self.table(name)
        items: list[Any] = []
        for column in table.columns:
            kwargs: dict[str, Any] = {}
            if column.server_default is not None:
                kwargs["server_default"] = text(column.server_default)
            items.append(
                Column(
                    column.name,
                    column.type,
                    nullable=column.nullable,
                    autoincrement=column.autoincrement,
                    **kwargs,
                )
            )
        items.append(
            PrimaryKeyConstraint(
                *table.primary_key, name=table.primary_key_name if with_names else None
            )
        )
        for unique in table.uniques:
            unique_name = unique.name if with_names else None
            items.append(UniqueConstraint(*unique.columns, name=unique_name))
        for fk in table.foreign_keys:
            items.append(
                ForeignKeyConstraint(
                    list(fk.columns),
                    [f"{fk.ref_table}.{c}" for c in fk.ref_columns],
                    ondelete=fk.ondelete,
                    name=fk.name if with_names else None,
                    use_alter=False,
                )
            )
        sa_table = Table(as_name or name, metadata, *items)
        if not indexes:
            return sa_table
        for index in table.indexes:
            if not index.implicit:
                Index(index.name, *[sa_table.c[c] for c in index.columns], unique=index.unique)
        return sa_table

    def to_metadata(self, *, with_names: bool = True) -> MetaData:
        metadata = MetaData()
        for name in self.tables:
            self.to_table(name, metadata, with_names=with_names)
        return metadata
