"""Creating the schema of a revision at once on an empty database (strategy ``create``).

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

Building those statements means importing every revision and compiling the
DDL, which costs more than the creation itself.  For the commonest target,
head, they are rendered ahead of time into ``resources/creation.json`` (run
``python -m mistral_db_manage.runner.creation`` after changing the chain or
the schema code); :func:`creation_statements` uses the file only when it was
rendered from exactly the revision files on disk, and a test renders it again
and compares, so the file cannot go stale unnoticed.  The file holds Mistral's
schema only: this tool's own tables are written by their owners.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy.schema import (
    AddConstraint,
    CreateIndex,
    CreateTable,
    ForeignKeyConstraint,
    UniqueConstraint,
)
from sqlalchemy.sql.elements import TextClause

from ..migrations import ops
from ..migrations.ops import Operation, RunContext
from ..schema.history import state_at
from ..schema.state import DIALECTS, SchemaState
from .chain import Chain

RESOURCE = "creation.json"


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
    dialect = ops.dialect_object("mysql")
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


@dataclass(frozen=True)
class CreationScript:
    """The SQL that creates ``revision``'s schema on an empty database of one dialect."""

    revision: str
    #: the tables it creates
    tables: tuple[str, ...]
    #: the schema, in order (fault numbers 1..n)
    schema: tuple[str, ...]
    #: the data operations, each a list of statements (fault numbers n+1..)
    seeds: tuple[tuple[str, ...], ...]


def creation_script(chain: Chain, dialect: str, end: str) -> CreationScript:
    """The statements for ``end``: from the rendered file when it is current, else rendered now."""
    if end == chain.head:
        stored = _load(dialect, chain)
        if stored is not None:
            return stored
    return render_script(chain, dialect, end)


def render_script(chain: Chain, dialect: str, end: str) -> CreationScript:
    compile_dialect = ops.dialect_object(dialect)

    def sql(statement: Any) -> str:
        if isinstance(statement, str):
            return statement
        if isinstance(statement, TextClause):
            return statement.text  # the SQL as written, as the driver receives it
        return str(statement.compile(dialect=compile_dialect)).strip()

    state = state_at(chain, dialect, end)
    recorder = _Recorder()
    # offline: the statements are kept to run later, as a script would hold them
    context = RunContext(dialect, recorder, state, True)  # type: ignore[arg-type]
    seeds = []
    for operation in seed_operations(chain, dialect, end):
        recorder.statements = []
        operation.run(context)
        seeds.append(tuple(sql(s) for s in recorder.statements))
    return CreationScript(
        end, tuple(state.tables), tuple(sql(s) for s in schema_statements(state)), tuple(seeds)
    )


class _Recorder:
    """Stands in for Alembic's ``Operations``: keeps what would be executed."""

    def __init__(self) -> None:
        self.statements: list[Any] = []

    def execute(self, statement: Any) -> None:
        self.statements.append(statement)


def chain_digest(chain: Chain) -> str:
    """A digest of the revision files (names and contents) the chain was read from."""
    digest = hashlib.sha256()
    for revision in chain.revisions:
        digest.update(revision.path.name.encode() + b"\0")
        digest.update(revision.path.read_bytes() + b"\0")
    return digest.hexdigest()


def rendered_file(chain: Chain) -> dict[str, Any]:
    """The file's content for ``chain``'s head: one script per dialect."""
    head = chain.head
    if head is None:
        raise ValueError("an empty chain has nothing to create")
    scripts = {dialect: render_script(chain, dialect, head) for dialect in DIALECTS}
    return {
        "revision": head,
        "chain_digest": chain_digest(chain),
        "dialects": {
            dialect: {
                "tables": list(script.tables),
                "schema": list(script.schema),
                "seeds": [list(s) for s in script.seeds],
            }
            for dialect, script in scripts.items()
        },
    }


def resource_path() -> Path:
    return Path(str(resources.files("mistral_db_manage.runner") / "resources" / RESOURCE))


def _load(dialect: str, chain: Chain) -> CreationScript | None:
    try:
        data = json.loads(resource_path().read_text(encoding="utf-8"))
        if data["revision"] != chain.head or data["chain_digest"] != chain_digest(chain):
            return None
        script = data["dialects"][dialect]
        return CreationScript(
            data["revision"],
            tuple(script["tables"]),
            tuple(script["schema"]),
            tuple(tuple(statements) for statements in script["seeds"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main() -> None:
    """``python -m mistral_db_manage.runner.creation``: render the file again."""
    path = resource_path()
    path.write_text(json.dumps(rendered_file(Chain.load()), indent=1) + "\n", encoding="utf-8")
    print(path)


if __name__ == "__main__":
    main()
