"""Drafting a revision we lack from the reference dumps before and after it.

For each server dialect the dumps after the upstream revision and after its
down revision are compared table by table (:func:`steps`): tables, columns
(type, nullability, default), unique keys, foreign keys and indexes that
appear, go or change.  The two dialects' steps are then merged
(:func:`merge`): a step both servers make becomes one operation for every
dialect, SQLite included, with the column type that gives each server its
type (``TEXT`` + ``MEDIUMTEXT`` is ``MediumText()``); a step only one server
makes is limited to it (MySQL's steps go to SQLite too, as in the chain).
Indexes InnoDB makes by itself for a foreign key are left to the state,
which knows them.  What a dump cannot show (data changes, a primary key
change, a type we do not know) becomes a note for a human in the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from mistral_db_manage.migrations import ops
from mistral_db_manage.schema import types

from .dumps import Dump, DumpColumn, DumpIndex, DumpTable

SERVERS = ("postgresql", "mysql")
ONLY = {"postgresql": ("postgresql",), "mysql": ("mysql", "sqlite")}
#: the order operations of different kinds are written in
ORDER = ("drop_fk", "drop_index", "drop_unique", "drop_column", "drop_table", "create_table",
         "add_column", "alter_type", "alter_nullable", "set_default", "add_unique", "add_fk",
         "create_index")


@dataclass(frozen=True)
class Step:
    """One change one server's dump shows; ``key`` identifies it across dialects."""

    kind: str
    table: str
    key: tuple[str, ...]
    #: what the change leads to (a column, a table, a type text, ...), per dialect
    value: Any = None
    #: 1 for a second identical step (PostgreSQL keeps duplicate unique constraints)
    nth: int = 0


def _plain_index(table: DumpTable, index: DumpIndex) -> bool:
    """False for an index InnoDB made for a foreign key (named after its first column)."""
    return not any(fk.columns == index.columns and index.name == fk.columns[0]
                   for fk in table.foreign_keys)


def table_steps(old: DumpTable, new: DumpTable) -> list[Step]:
    name = new.name
    out: list[Step] = []
    old_columns = {c.name: c for c in old.columns}
    new_columns = {c.name: c for c in new.columns}
    out += [Step("drop_column", name, (c,)) for c in old_columns if c not in new_columns]
    for column in new.columns:
        before = old_columns.get(column.name)
        if before is None:
            out.append(Step("add_column", name, (column.name,), column))
            continue
        if before.type != column.type:
            out.append(Step("alter_type", name, (column.name,), column.type))
        if before.nullable != column.nullable:
            out.append(Step("alter_nullable", name, (column.name,), column.nullable))
        if before.autoincrement != column.autoincrement:
            out.append(Step("autoincrement", name, (column.name,), column.autoincrement))
        elif before.default != column.default and not column.autoincrement:
            out.append(Step("set_default", name, (column.name,), column.default))
    if old.primary_key != new.primary_key:
        out.append(Step("primary_key", name, new.primary_key))
    # By name and columns: a unique key dropped and made again under another name is two
    # steps, and PostgreSQL may hold the same columns twice.
    old_uniques, new_uniques = set(old.uniques.items()), set(new.uniques.items())
    for kind, keys in (("drop_unique", sorted(old_uniques - new_uniques)),
                       ("add_unique", sorted(new_uniques - old_uniques))):
        seen: list[tuple[str, ...]] = []
        for _, columns in keys:
            out.append(Step(kind, name, columns, nth=seen.count(columns)))
            seen.append(columns)
    old_fks = {(f.columns, f.ref_table, f.ref_columns, f.ondelete) for f in old.foreign_keys}
    new_fks = {(f.columns, f.ref_table, f.ref_columns, f.ondelete) for f in new.foreign_keys}
    out += [Step("drop_fk", name, f[0]) for f in sorted(old_fks - new_fks, key=repr)]
    out += [Step("add_fk", name, f[0], ops.FK(*f)) for f in sorted(new_fks - old_fks, key=repr)]
    # An index InnoDB made for a foreign key is no step: it comes and goes with the
    # key (the state knows), and stays as a plain index when the key is dropped.
    old_ix = {(i.name, i.columns, i.unique) for i in old.indexes}
    new_ix = {(i.name, i.columns, i.unique) for i in new.indexes}
    old_plain = {(i.name, i.columns, i.unique) for i in old.indexes if _plain_index(old, i)}
    new_plain = {(i.name, i.columns, i.unique) for i in new.indexes if _plain_index(new, i)}
    out += [Step("drop_index", name, (i[0],)) for i in sorted(old_plain - new_ix)]
    out += [Step("create_index", name, (i[0],), i) for i in sorted(new_plain - old_ix)]
    return out


def steps(before: Dump, after: Dump) -> list[Step]:
    """Every change from ``before`` to ``after`` (one dialect)."""
    out = [Step("drop_table", t, (t,)) for t in before.tables if t not in after.tables]
    for name, table in after.tables.items():
        if name in before.tables:
            out += table_steps(before.tables[name], table)
        else:
            out.append(Step("create_table", name, (name,), table))
    return out


# -- types ---------------------------------------------------------------------------

def _base_type(text: str) -> TypeEngine[Any] | None:
    simple: dict[str, TypeEngine[Any]] = {
        "TEXT": sa.Text(), "DATETIME": sa.DateTime(), "BOOLEAN": sa.Boolean(),
        "INTEGER": sa.Integer(), "BIGINT": sa.BigInteger(), "SMALLINT": sa.SmallInteger(),
        "DATE": sa.Date(), "FLOAT": sa.Float(), "DOUBLE PRECISION": sa.Float(),
        "DOUBLE": sa.Float(), "BYTEA": sa.LargeBinary(), "BLOB": sa.LargeBinary(),
    }
    if text in simple:
        return simple[text]
    for prefix, factory in (("VARCHAR(", sa.String), ("CHAR(", sa.CHAR)):
        if text.startswith(prefix) and text.endswith(")") and text[len(prefix):-1].isdigit():
            return factory(int(text[len(prefix):-1]))
    return None


def column_type(by_dialect: dict[str, str], notes: list[str], where: str) -> TypeEngine[Any]:
    """One type giving each server the type its dump shows."""
    pg, my = by_dialect.get("postgresql"), by_dialect.get("mysql")
    if my in ("MEDIUMTEXT", "LONGTEXT") and pg in (None, "TEXT"):
        return types.MediumText() if my == "MEDIUMTEXT" else types.LongText()
    pg_type = _base_type(pg) if pg else None
    my_type = _base_type(my) if my else None
    if pg and my and pg != my and pg_type is not None and my_type is not None:
        notes.append(f"{where}: PostgreSQL has {pg}, MySQL {my}: check the type variant")
        return pg_type.with_variant(my_type, "mysql", "mariadb")
    found = pg_type or my_type
    if found is None or (pg and my and pg != my):
        notes.append(f"{where}: type {by_dialect} is unknown here: write it by hand")
        return sa.Text()
    return found


# -- merging the servers' steps into operations ----------------------------------------

def _column(values: dict[str, DumpColumn], notes: list[str], where: str) -> ops.Col:
    first = next(iter(values.values()))
    kind = column_type({d: c.type for d, c in values.items()}, notes, where)
    return ops.Col(first.name, kind, first.nullable, autoincrement=first.autoincrement,
                   server_default=None if first.autoincrement else first.default)


def _create_table(
    name: str, values: dict[str, DumpTable], notes: list[str]
) -> list[ops.Operation]:
    """CreateTable with what both servers have; the rest per server."""
    tables = list(values.values())
    pairs = {c.name: {d: t.column(c.name) for d, t in values.items()} for c in tables[0].columns}
    columns = [_column(v, notes, f"{name}.{c}") for c, v in pairs.items()]
    per: dict[str, dict[str, set[Any]]] = {}
    for dialect, table in values.items():
        per[dialect] = {
            "uniques": set(table.uniques.values()),
            "fks": {ops.FK(f.columns, f.ref_table, f.ref_columns, f.ondelete)
                    for f in table.foreign_keys},
            "indexes": {ops.Ix(i.name, i.columns) for i in table.indexes
                        if _plain_index(table, i)},
        }
    common = {k: set.intersection(*(p[k] for p in per.values()))
              for k in ("uniques", "fks", "indexes")}
    out: list[ops.Operation] = [ops.CreateTable(
        name, columns, primary_key=tables[0].primary_key,
        uniques=sorted(common["uniques"]), foreign_keys=sorted(common["fks"], key=repr),
        indexes=sorted(common["indexes"], key=repr),
        dialects=None if len(values) == len(SERVERS) else ONLY[next(iter(values))],
    )]
    if len(values) == len(SERVERS):
        for dialect, found in per.items():
            where = ONLY[dialect]
            out += [ops.AddUnique(name, u, dialects=where)
                    for u in sorted(found["uniques"] - common["uniques"])]
            out += [ops.AddForeignKey(name, f, dialects=where)
                    for f in sorted(found["fks"] - common["fks"], key=repr)]
            out += [ops.CreateIndex(i.name, name, i.columns, dialects=where)
                    for i in sorted(found["indexes"] - common["indexes"], key=repr)]
    return out


def operation(kind: str, table: str, key: tuple[str, ...], values: dict[str, Any],
              dialects: tuple[str, ...] | None, notes: list[str]) -> list[ops.Operation]:
    first = next(iter(values.values()))
    where = f"{table}.{key[0]}" if key else table
    if kind == "create_table":
        return _create_table(table, values, notes)
    if kind == "drop_table":
        return [ops.DropTable(table, dialects=dialects)]
    if kind == "add_column":
        return [ops.AddColumn(table, _column(values, notes, where), dialects=dialects)]
    if kind == "drop_column":
        return [ops.DropColumn(table, key[0], dialects=dialects)]
    if kind == "alter_type":
        new_type = column_type(values, notes, where)
        return [ops.AlterColumn(table, key[0], type=new_type, dialects=dialects)]
    if kind == "alter_nullable":
        return [ops.AlterColumn(table, key[0], nullable=first, dialects=dialects)]
    if kind == "set_default":
        return [ops.SetDefault(table, key[0], first, dialects=dialects)]
    if kind == "add_unique":
        return [ops.AddUnique(table, key, dialects=dialects)]
    if kind == "drop_unique":
        return [ops.DropUnique(table, key, dialects=dialects)]
    if kind == "add_fk":
        return [ops.AddForeignKey(table, first, dialects=dialects)]
    if kind == "drop_fk":
        return [ops.DropForeignKey(table, key, dialects=dialects)]
    if kind == "create_index":
        return [ops.CreateIndex(first[0], table, first[1], dialects=dialects)]
    if kind == "drop_index":
        return [ops.DropIndex(key[0], table, dialects=dialects)]
    if kind == "autoincrement":
        notes.append(f"{where} {'becomes' if first else 'stops being'} autoincrement on "
                     f"{dialects or 'every dialect'}: no operation alters that; recreate the "
                     "table (DropTable, CreateTable) by hand")
        return []
    notes.append(f"{table}: the primary key becomes {key} on {dialects or 'every dialect'}; "
                 "our operations cannot change a primary key: write it by hand")
    return []


def merge(by_dialect: Mapping[str, Iterable[Step]]) -> tuple[list[ops.Operation], list[str]]:
    """The servers' steps as operations (see the module docstring), and notes for a human."""
    grouped: dict[tuple[str, str, tuple[str, ...], int], dict[str, Any]] = {}
    for dialect in SERVERS:
        for step in by_dialect.get(dialect, ()):
            group = (step.kind, step.table, step.key, step.nth)
            grouped.setdefault(group, {})[dialect] = step.value
    notes: list[str] = []
    out: list[ops.Operation] = []
    for (kind, table, key, _), values in sorted(
        grouped.items(), key=lambda item: (ORDER.index(item[0][0])
                                           if item[0][0] in ORDER else len(ORDER), item[0][1:])
    ):
        agree = len(values) == len(SERVERS) and (
            kind in ("create_table", "add_column", "alter_type")
            or len({repr(v) for v in values.values()}) == 1
        )
        if agree or len(values) == 1:
            dialects = None if agree else ONLY[next(iter(values))]
            out += operation(kind, table, key, values, dialects, notes)
            continue
        for dialect, value in values.items():
            out += operation(kind, table, key, {dialect: value}, ONLY[dialect], notes)
    text_columns = [f"{o.name}.{c.name}" for o in out if isinstance(o, ops.CreateTable)
                    for c in o.columns if isinstance(c.type, sa.Text)]
    text_columns += [f"{o.table}.{o.column.name}" for o in out if isinstance(o, ops.AddColumn)
                     and isinstance(o.column.type, sa.Text)]
    if text_columns:
        notes.append(f"text columns {', '.join(text_columns)}: where the models keep JSON in "
                     "one, Json()/JsonMedium()/JsonLong() give the same DDL and say so")
    return _referenced_first(out, notes), notes


def _referenced_first(operations: list[ops.Operation], notes: list[str]) -> list[ops.Operation]:
    """Put each new table after the new tables its foreign keys refer to."""
    created = [o for o in operations if isinstance(o, ops.CreateTable)]
    ordered: list[ops.CreateTable] = []
    for _ in range(len(created)):
        done = {t.name for t in ordered}
        for table in created:
            refs = {fk.ref_table for fk in table.foreign_keys} & {t.name for t in created}
            if table.name not in done and refs - {table.name} <= done:
                ordered.append(table)
                break
    if len(ordered) < len(created):
        notes.append("the new tables' foreign keys form a cycle: move one into AddForeignKey")
        ordered += [t for t in created if t not in ordered]
    position = operations.index(created[0]) if created else 0
    rest = [o for o in operations if not isinstance(o, ops.CreateTable)]
    return rest[:position] + list(ordered) + rest[position:]
