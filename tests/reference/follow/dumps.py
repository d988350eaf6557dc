"""Reading the normalised reference dumps back into a description of the schema.

A PostgreSQL dump (``pg_dump --schema-only``, normalised) or a MariaDB dump
(``mariadb-dump --no-data --compact``, normalised) becomes a dict of
:class:`DumpTable`; :func:`shapes` turns that into the
:class:`~mistral_db_manage.runner.verify.TableShape` the chain's state is
compared in, so a reference file and the chain's description of a revision
can be compared without a database.  ``alembic_version`` is left out, as in
the state.  A statement this module does not understand is kept in
``Dump.unparsed`` rather than ignored silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mistral_db_manage.runner.verify import ColumnShape, TableShape, normalize_type

VERSION_TABLE = "alembic_version"
SERVER_DIALECTS = ("postgresql", "mysql")


@dataclass(frozen=True)
class DumpColumn:
    name: str
    #: normalised as ``verify`` does (``VARCHAR(36)``, ``TEXT``, ``MEDIUMTEXT``, ``BOOLEAN``)
    type: str
    nullable: bool
    default: str | None
    autoincrement: bool = False


@dataclass(frozen=True)
class DumpForeignKey:
    name: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    ondelete: str | None


@dataclass(frozen=True)
class DumpIndex:
    name: str
    columns: tuple[str, ...]
    unique: bool = False


@dataclass
class DumpTable:
    name: str
    columns: list[DumpColumn] = field(default_factory=list)
    primary_key: tuple[str, ...] = ()
    uniques: dict[str, tuple[str, ...]] = field(default_factory=dict)
    foreign_keys: list[DumpForeignKey] = field(default_factory=list)
    indexes: list[DumpIndex] = field(default_factory=list)

    def column(self, name: str) -> DumpColumn:
        return next(c for c in self.columns if c.name == name)


@dataclass
class Dump:
    dialect: str
    tables: dict[str, DumpTable] = field(default_factory=dict)
    unparsed: list[str] = field(default_factory=list)


def column_type(text: str) -> str:
    value = normalize_type(text.strip())
    return re.sub(r"^CHARACTER\((\d+)\)$", r"CHAR(\1)", value)


def default_value(text: str | None) -> str | None:
    if text is None:
        return None
    value = re.sub(r"::[a-z ]+(\(\d+\))?$", "", text.strip())
    return None if value.upper() == "NULL" else value.strip("'")


def _names(text: str) -> tuple[str, ...]:
    return tuple(re.sub(r"\(\d+\)$", "", n.strip().strip('`"')) for n in text.split(","))


def _statements(text: str) -> list[str]:
    statements: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if not line.strip() and not current:
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            statements.append("\n".join(current))
            current = []
    if current:
        statements.append("\n".join(current))
    return statements


# -- PostgreSQL ------------------------------------------------------------------------

_PG_COLUMN = re.compile(r"^\s+\"?(\w+)\"? (.+?)(?: DEFAULT (.+?))?( NOT NULL)?,?$")
_PG_CONSTRAINT = re.compile(
    r"^ALTER TABLE ONLY public\.(\w+)\s+ADD CONSTRAINT (\w+) "
    r"(PRIMARY KEY|UNIQUE) \(([^)]*)\);$", re.S)
_PG_FOREIGN_KEY = re.compile(
    r"^ALTER TABLE ONLY public\.(\w+)\s+ADD CONSTRAINT (\w+) FOREIGN KEY \(([^)]*)\) "
    r"REFERENCES public\.(\w+)\(([^)]*)\)(?: ON DELETE ([A-Z ]+))?;$", re.S)
_PG_INDEX = re.compile(r"^CREATE (UNIQUE )?INDEX (\w+) ON public\.(\w+) USING \w+ \(([^)]*)\);$")
_PG_SERIAL = re.compile(
    r"^ALTER TABLE ONLY public\.(\w+) ALTER COLUMN \"?(\w+)\"? SET DEFAULT nextval\(")


def parse_postgresql(text: str) -> Dump:
    dump = Dump("postgresql")
    tables = dump.tables
    for statement in _statements(text):
        flat = " ".join(line.strip() for line in statement.splitlines())
        if statement.startswith("CREATE TABLE public."):
            lines = statement.splitlines()
            table = DumpTable(lines[0].split(".", 1)[1].split(" ", 1)[0])
            for line in lines[1:-1]:
                match = _PG_COLUMN.match(line)
                if match is None:
                    dump.unparsed.append(f"{table.name}: {line.strip()}")
                    continue
                name, type_text, default, not_null = match.groups()
                table.columns.append(
                    DumpColumn(name, column_type(type_text), not not_null, default_value(default))
                )
            tables[table.name] = table
        elif match := _PG_CONSTRAINT.match(flat):
            table_name, name, kind, columns = match.groups()
            if kind == "PRIMARY KEY":
                tables[table_name].primary_key = _names(columns)
            else:
                tables[table_name].uniques[name] = _names(columns)
        elif match := _PG_FOREIGN_KEY.match(flat):
            table_name, name, columns, ref_table, ref_columns, ondelete = match.groups()
            tables[table_name].foreign_keys.append(
                DumpForeignKey(name, _names(columns), ref_table, _names(ref_columns), ondelete)
            )
        elif match := _PG_INDEX.match(flat):
            unique, name, table_name, columns = match.groups()
            tables[table_name].indexes.append(DumpIndex(name, _names(columns), bool(unique)))
        elif match := _PG_SERIAL.match(flat):
            table = tables[match.group(1)]
            old = table.column(match.group(2))
            table.columns[table.columns.index(old)] = DumpColumn(
                old.name, old.type, old.nullable, None, autoincrement=True
            )
        elif not flat.startswith(("CREATE SEQUENCE ", "ALTER SEQUENCE ")):
            dump.unparsed.append(flat)
    tables.pop(VERSION_TABLE, None)
    return dump


# -- MariaDB ---------------------------------------------------------------------------

_MY_COLUMN = re.compile(
    r"^  `(\w+)` (\S+(?: unsigned)?)(?: CHARACTER SET \w+)?(?: COLLATE \w+)?( NOT NULL)?"
    r"(?: DEFAULT ('[^']*'|[^\s,]+))?( AUTO_INCREMENT)?,?$")
_MY_KEY = re.compile(r"^  (PRIMARY KEY|UNIQUE KEY `(\w+)`|KEY `(\w+)`) \((.*)\),?$")
_MY_FOREIGN_KEY = re.compile(
    r"^  CONSTRAINT `(\w+)` FOREIGN KEY \(([^)]*)\) REFERENCES `(\w+)` \(([^)]*)\)"
    r"(?: ON DELETE (CASCADE|SET NULL|RESTRICT|NO ACTION))?,?$")


def parse_mysql(text: str) -> Dump:
    dump = Dump("mysql")
    for statement in _statements(text):
        lines = statement.splitlines()
        match = re.match(r"^CREATE TABLE `(\w+)` \($", lines[0])
        if match is None:
            dump.unparsed.append(" ".join(lines))
            continue
        table = DumpTable(match.group(1))
        for line in lines[1:-1]:
            if column := _MY_COLUMN.match(line):
                name, type_text, not_null, default, auto = column.groups()
                table.columns.append(DumpColumn(
                    name, column_type(type_text), not not_null, default_value(default),
                    autoincrement=bool(auto),
                ))
            elif key := _MY_KEY.match(line):
                kind, unique_name, index_name, columns = key.groups()
                if kind == "PRIMARY KEY":
                    table.primary_key = _names(columns)
                elif unique_name:
                    table.uniques[unique_name] = _names(columns)
                else:
                    table.indexes.append(DumpIndex(index_name, _names(columns)))
            elif fk := _MY_FOREIGN_KEY.match(line):
                name, columns, ref_table, ref_columns, ondelete = fk.groups()
                table.foreign_keys.append(
                    DumpForeignKey(name, _names(columns), ref_table, _names(ref_columns), ondelete)
                )
            else:
                dump.unparsed.append(f"{table.name}: {line.strip()}")
        dump.tables[table.name] = table
    dump.tables.pop(VERSION_TABLE, None)
    return dump


def parse(dialect: str, text: str) -> Dump:
    return parse_postgresql(text) if dialect == "postgresql" else parse_mysql(text)


def read(reference_dir: Path, dialect: str, revision: str | None) -> Dump:
    """The reference dump of ``dialect`` after ``revision`` (None: an empty database)."""
    if revision is None:
        return Dump(dialect)
    path = reference_dir / "upstream-schema" / dialect / f"{revision}.sql"
    return parse(dialect, path.read_text(encoding="utf-8"))


def shapes(dump: Dump) -> dict[str, TableShape]:
    """The dump as :func:`~mistral_db_manage.runner.verify.compare_shapes` takes it."""
    return {
        table.name: TableShape(
            table.name,
            tuple(ColumnShape(c.name, c.type, c.nullable, None if c.autoincrement else c.default)
                  for c in table.columns),
            table.primary_key,
            frozenset((name, columns) for name, columns in table.uniques.items()),
            frozenset((fk.name, fk.columns, fk.ref_table, fk.ref_columns, fk.ondelete)
                      for fk in table.foreign_keys),
            frozenset((i.name, i.columns, i.unique) for i in table.indexes),
        )
        for table in dump.tables.values()
    }
