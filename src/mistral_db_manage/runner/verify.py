"""Comparing a live database with the schema the chain describes.

Both sides are turned into the same plain description (:class:`TableShape`):
columns in order with a normalised type, nullability and default; primary
key; unique constraints; foreign keys; indexes.  Names of constraints are
compared where the server gives them names (PostgreSQL, MySQL), not on
SQLite.  The version table and this tool's own bookkeeping tables are left
out on both sides.

The index InnoDB keeps for a foreign key (named after the key or its column,
on exactly its columns, not unique) is left out on both sides: InnoDB
creates it when the key needs one and drops it when another index covers the
key, but a dump restored with ``mariadb-dump`` turns it into an ordinary index
that stays.  Either way the schema is the same to Mistral.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect

from ..migrations.ops import compiled_type
from .database import OWN_TABLES

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..schema.state import SchemaState



@dataclass(frozen=True)
class ColumnShape:
    name: str
    type: str
    nullable: bool
    default: str | None


@dataclass(frozen=True)
class TableShape:
    name: str
    columns: tuple[ColumnShape, ...]
    primary_key: tuple[str, ...]
    uniques: frozenset[tuple[str | None, tuple[str, ...]]]
    foreign_keys: frozenset[tuple[str | None, tuple[str, ...], str, tuple[str, ...], str | None]]
    indexes: frozenset[tuple[str, tuple[str, ...], bool]]


_INT_WIDTH = re.compile(r"^(INTEGER|INT|BIGINT|SMALLINT)\(\d+\)$")


def normalize_type(text: str) -> str:
    value = text.upper().replace("CHARACTER VARYING", "VARCHAR")
    value = re.sub(r"\s+COLLATE\s+.*$", "", value)
    value = _INT_WIDTH.sub(r"\1", value)
    return {
        "BOOL": "BOOLEAN",
        "TINYINT(1)": "BOOLEAN",
        "INT": "INTEGER",
        "TIMESTAMP WITHOUT TIME ZONE": "DATETIME",
        "TIMESTAMP": "DATETIME",
    }.get(value, value)


def _normalize_default(default: Any) -> str | None:
    if default is None:
        return None
    text = str(default).strip()
    if text.upper() == "NULL":
        return None
    return text.strip("'")


def _compile(type_: Any, dialect: str) -> str:
    return compiled_type(type_, dialect)


def shapes_from_state(state: SchemaState) -> dict[str, TableShape]:
    named = state.dialect != "sqlite"
    shapes: dict[str, TableShape] = {}
    for table in state.tables.values():
        if table.name in OWN_TABLES:
            continue
        columns = tuple(
            ColumnShape(
                c.name,
                normalize_type(_compile(c.type, state.dialect)),
                c.nullable,
                None if c.autoincrement else _normalize_default(c.server_default),
            )
            for c in table.columns
        )
        foreign_keys = frozenset(
            (f.name if named else None, f.columns, f.ref_table, f.ref_columns,
             (f.ondelete or "").upper() or None)
            for f in table.foreign_keys
        )
        shapes[table.name] = TableShape(
            table.name,
            columns,
            table.primary_key,
            frozenset((u.name if named else None, u.columns) for u in table.uniques),
            foreign_keys,
            frozenset((i.name, i.columns, i.unique) for i in table.indexes),
        )
    return shapes


def _same_keys(shape: TableShape) -> TableShape:
    return replace(shape, indexes=_without_key_indexes(shape.foreign_keys, shape.indexes))


_Index = tuple[str, tuple[str, ...], bool]
_ForeignKey = tuple[str | None, tuple[str, ...], str, tuple[str, ...], str | None]


def _without_key_indexes(
    foreign_keys: frozenset[_ForeignKey], indexes: frozenset[_Index]
) -> frozenset[_Index]:
    """The indexes without those InnoDB keeps for foreign keys (see the module): no
    revision of the chain makes such an index on PostgreSQL or SQLite."""
    key_indexes = {
        (name, columns) for key_name, columns, *_rest in foreign_keys
        for name in (key_name, columns[0]) if name
    }
    return frozenset(
        index for index in indexes if index[2] or (index[0], index[1]) not in key_indexes
    )


def shapes_from_database(connection: Connection, dialect: str) -> dict[str, TableShape]:
    inspector = inspect(connection)
    named = dialect != "sqlite"
    shapes: dict[str, TableShape] = {}
    for name in inspector.get_table_names():
        if name in OWN_TABLES:
            continue
        autoincrement_columns = set()
        columns = []
        for c in inspector.get_columns(name):
            default = _normalize_default(c.get("default"))
            if default and default.startswith("nextval("):
                autoincrement_columns.add(c["name"])
                default = None
            if dialect == "mysql" and c.get("autoincrement") is True:
                default = None
            columns.append(
                ColumnShape(c["name"], normalize_type(_compile(c["type"], dialect)),
                            bool(c["nullable"]), default)
            )
        pk = inspector.get_pk_constraint(name)
        uniques = frozenset(
            (u["name"] if named else None, tuple(u["column_names"]))
            for u in inspector.get_unique_constraints(name)
        )
        foreign_keys = frozenset(
            (
                f["name"] if named else None,
                tuple(f["constrained_columns"]),
                f["referred_table"],
                tuple(f["referred_columns"]),
                (f.get("options", {}).get("ondelete") or "").upper() or None,
            )
            for f in inspector.get_foreign_keys(name)
        )
        unique_names = {u[0] for u in uniques}
        indexes = frozenset(
            (str(i["name"]), tuple(str(c) for c in i["column_names"]), bool(i["unique"]))
            for i in inspector.get_indexes(name)
            if not i.get("duplicates_constraint") and i["name"] not in unique_names
        )
        shapes[name] = TableShape(
            name,
            tuple(columns),
            tuple(pk["constrained_columns"]),
            uniques,
            foreign_keys,
            indexes,
        )
    return shapes


def compare_shapes(
    expected: dict[str, TableShape], actual: dict[str, TableShape], *, exact: bool = False
) -> list[str]:
    """Every difference, one readable line each; empty when the schemas agree.

    InnoDB's foreign-key indexes are left out on both sides (see the module), unless
    ``exact`` (the maintainer tools comparing the chain with upstream's dumps)."""
    if not exact:
        expected = {name: _same_keys(shape) for name, shape in expected.items()}
        actual = {name: _same_keys(shape) for name, shape in actual.items()}
    differences: list[str] = []
    for name in sorted(expected.keys() - actual.keys()):
        differences.append(f"table {name} is missing")
    for name in sorted(actual.keys() - expected.keys()):
        differences.append(f"table {name} is not expected")
    for name in sorted(expected.keys() & actual.keys()):
        differences.extend(_compare_table(expected[name], actual[name]))
    return differences


def _compare_table(expected: TableShape, actual: TableShape) -> list[str]:
    out: list[str] = []
    table = expected.name
    want = {c.name: c for c in expected.columns}
    have = {c.name: c for c in actual.columns}
    for column in expected.columns:
        if column.name not in have:
            out.append(f"{table}.{column.name}: column is missing")
            continue
        got = have[column.name]
        if got.type != column.type:
            out.append(f"{table}.{column.name}: type is {got.type}, expected {column.type}")
        if got.nullable != column.nullable:
            out.append(
                f"{table}.{column.name}: is {'NULL' if got.nullable else 'NOT NULL'}, "
                f"expected {'NULL' if column.nullable else 'NOT NULL'}"
            )
        if got.default != column.default:
            out.append(f"{table}.{column.name}: default is {got.default!r}, "
                       f"expected {column.default!r}")
    for column in actual.columns:
        if column.name not in want:
            out.append(f"{table}.{column.name}: column is not expected")
    if expected.primary_key != actual.primary_key:
        out.append(f"{table}: primary key is {actual.primary_key}, expected {expected.primary_key}")
    for label, want_set, have_set in (
        ("unique constraint", expected.uniques, actual.uniques),
        ("foreign key", expected.foreign_keys, actual.foreign_keys),
        ("index", expected.indexes, actual.indexes),
    ):
        for item in sorted(want_set - have_set, key=repr):
            out.append(f"{table}: {label} {_describe(item)} is missing")
        for item in sorted(have_set - want_set, key=repr):
            out.append(f"{table}: {label} {_describe(item)} is not expected")
    return out


def _describe(item: tuple[Any, ...]) -> str:
    name, columns = item[0], item[1]
    text = f"{name + ' ' if name else ''}({', '.join(columns)})"
    if len(item) == 5:
        text += f" -> {item[2]}({', '.join(item[3])})"
        if item[4]:
            text += f" ON DELETE {item[4]}"
    return text


def verify_state(connection: Connection, state: SchemaState) -> list[str]:
    return compare_shapes(shapes_from_state(state), shapes_from_database(connection, state.dialect))
