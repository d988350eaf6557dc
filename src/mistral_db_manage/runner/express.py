"""An empty database brought to head through the bare driver: the express path.

On an empty database the runner creates the target's schema at once
(:mod:`.fresh`); even so, importing SQLAlchemy and building the schema objects
take most of the run.  For the commonest case (``upgrade head`` on an empty
database, with a plain URL, see :mod:`.driver`) the statements the runner
would send are rendered ahead of time into ``resources/express.json`` (run
``python -m mistral_db_manage.runner.express`` after changing the chain or
the schema code), and sent by the driver alone.  A test renders them again
and compares, so the file cannot go stale unnoticed; at run time the file is
used only when it was rendered from exactly the revision files on disk.

What the express path does, in order:

1. opens the database with the driver and takes the migration lock without
   waiting (:mod:`.lock`: the same advisory lock, ``GET_LOCK`` or ``flock``);
2. checks that the database holds nothing at all (no table, view, index or
   sequence; this tool's own tables count too);
3. PostgreSQL and SQLite, in one transaction: this tool's audit table, the
   version table, the schema, the data statements of :func:`.fresh.seed_operations`,
   the version row and the audit row;
   MySQL, whose DDL commits by itself: the audit and journal tables and a
   journal row saying a direct creation is under way (so that a run that dies
   half-way is cleaned up by the next, as with :meth:`.Executor.create_directly`),
   then the statements, then the version row, the audit row and the removal
   of the journal row in one transaction.

Whenever a step cannot be taken (another URL form, a lock held by another
run, a database that is not empty, a stale file) or fails, the express path
rolls back what it can and returns False, and the caller takes the full path,
which does the same work with its complete handling of waits, leftovers and
errors.  The fault injection of :data:`.execute.FAULT_ENV` (``create:N``)
numbers the statements as the full path does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .audit import RUNS_TABLE_NAME, host_name, new_run_id, now, user_name
from .journal import DIRECT_CREATION, JOURNAL_TABLE_NAME
from .version import VERSION_TABLE_NAME

if TYPE_CHECKING:
    from .chain import Chain
    from .driver import PlainUrl
    from .execute import ProgressCallback

log = logging.getLogger(__name__)

RESOURCE = "express.json"
DIALECTS = ("postgresql", "mysql", "sqlite")


@dataclass(frozen=True)
class Script:
    """What the full path would send to create ``revision`` on an empty database."""

    revision: str
    chain_digest: str
    #: this tool's own tables (audit; on MySQL also the journal)
    own_tables: tuple[str, ...]
    version_table: str
    #: the schema, in the full path's order (its fault numbers 1..n)
    schema: tuple[str, ...]
    #: the data operations, each a list of statements (fault numbers n+1..)
    seeds: tuple[tuple[str, ...], ...]


def chain_digest(chain: Chain) -> str:
    """A digest of the revision files (names and contents) the chain was read from."""
    digest = hashlib.sha256()
    for revision in chain.revisions:
        digest.update(revision.path.name.encode() + b"\0")
        digest.update(revision.path.read_bytes() + b"\0")
    return digest.hexdigest()


# -- rendering (SQLAlchemy; run by the generator and the tests) ------------------------


def render_scripts(chain: Chain) -> dict[str, Any]:
    """The file's content for ``chain``'s head: one script per dialect."""
    head = chain.head
    if head is None:
        raise ValueError("an empty chain has nothing to create")
    return {
        "revision": head,
        "chain_digest": chain_digest(chain),
        "dialects": {dialect: _render(chain, dialect, head) for dialect in DIALECTS},
    }


def _render(chain: Chain, dialect: str, head: str) -> dict[str, Any]:
    from sqlalchemy.schema import CreateTable
    from sqlalchemy.sql.elements import TextClause

    from ..migrations.ops import RunContext
    from .audit import runs_table
    from .execute import state_at
    from .fresh import schema_statements, seed_operations
    from .journal import journal_table
    from .version import version_table

    compile_dialect = _sqlalchemy_dialect(dialect)

    def sql(statement: Any) -> str:
        if isinstance(statement, str):
            return statement
        if isinstance(statement, TextClause):
            return statement.text  # the SQL as written, as the driver receives it
        return str(statement.compile(dialect=compile_dialect)).strip()

    state = state_at(chain, dialect, head)
    own = [runs_table()] + ([journal_table()] if dialect == "mysql" else [])
    recorder = _Recorder()
    context = RunContext(dialect, recorder, state, False)  # type: ignore[arg-type]
    seeds = []
    for operation in seed_operations(chain, dialect, head):
        recorder.statements = []
        operation.run(context)
        seeds.append([sql(s) for s in recorder.statements])
    return {
        "own_tables": [sql(CreateTable(table)) for table in own],
        "version_table": sql(CreateTable(version_table())),
        "schema": [sql(s) for s in schema_statements(state)],
        "seeds": seeds,
    }


class _Recorder:
    """Stands in for Alembic's ``Operations``: keeps what would be executed."""

    def __init__(self) -> None:
        self.statements: list[Any] = []

    def execute(self, statement: Any) -> None:
        self.statements.append(statement)


def _sqlalchemy_dialect(dialect: str) -> Any:
    """The dialect object of the driver the full path uses."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import psycopg2

        return psycopg2.dialect()  # type: ignore[no-untyped-call]
    if dialect == "mysql":
        from sqlalchemy.dialects.mysql import pymysql

        return pymysql.dialect()
    from sqlalchemy.dialects.sqlite import pysqlite

    return pysqlite.dialect()


def resource_path() -> Path:
    return Path(str(resources.files("mistral_db_manage.runner") / "resources" / RESOURCE))


def write_resource(chain: Chain) -> Path:
    path = resource_path()
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(render_scripts(chain), indent=1) + "\n", encoding="utf-8")
    return path


# -- running (the driver only) ---------------------------------------------------------


def load_script(dialect: str) -> Script | None:
    try:
        data = json.loads(resource_path().read_text(encoding="utf-8"))
        script = data["dialects"][dialect]
        return Script(
            revision=data["revision"],
            chain_digest=data["chain_digest"],
            own_tables=tuple(script["own_tables"]),
            version_table=script["version_table"],
            schema=tuple(script["schema"]),
            seeds=tuple(tuple(statements) for statements in script["seeds"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def try_create(
    connection_url: str,
    chain: Chain,
    end: str | None,
    *,
    command: str,
    progress: ProgressCallback | None = None,
) -> bool:
    """Create ``end`` on an empty database by the express path; False to take the full path."""
    from .driver import connect, parse_plain_url

    url = parse_plain_url(connection_url)
    if url is None or end is None or end != chain.head:
        return False
    script = load_script(url.dialect)
    if script is None or script.revision != end or script.chain_digest != chain_digest(chain):
        log.debug("express creation: the rendered script does not match the chain")
        return False
    began = time.perf_counter()
    with ExitStack() as stack:
        try:
            if url.path is not None and not url.path.parent.is_dir():
                return False
            connection = connect(url, readonly=False)
            stack.callback(connection.close)
            if not _lock(stack, connection, url):
                return False
            if not _is_empty(connection, url.dialect):
                return False
        except Exception as error:  # the full path reports it properly
            log.debug("express creation not possible: %s", error)
            return False
        target = chain.get(end)
        if progress is not None:
            progress("create", target, 0.0)
        try:
            _create(connection, url.dialect, script, command, began)
        except Exception as error:
            log.debug("express creation failed, the full path takes over: %s", error)
            _rollback(connection, url.dialect)
            return False
        if progress is not None:
            progress("done", target, time.perf_counter() - began)
        return True


def _lock(stack: ExitStack, connection: Any, url: PlainUrl) -> bool:
    """Take the migration lock without waiting; False when another run holds it."""
    from ..errors import LockTimeoutError
    from .lock import server_lock, sqlite_file_lock

    if url.path is not None:  # SQLite
        try:
            stack.enter_context(sqlite_file_lock(url.path.resolve(), 0.0, lambda message: None))
        except LockTimeoutError:
            return False
        return True

    lock = server_lock(url.dialect, partial(_first_row, connection))
    acquired = lock.try_acquire()
    connection.commit()
    if not acquired:
        return False

    stack.callback(lock.release_quietly, connection)
    return True


_EMPTY_QUERY = {
    # every relation of the schema the tables would go to: tables, views,
    # sequences, indexes, types' rows; NULL when search_path names no schema
    "postgresql": "SELECT CASE WHEN current_schema() IS NULL THEN NULL ELSE "
    "(SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
    "ON n.oid = c.relnamespace WHERE n.nspname = current_schema()) END",
    "mysql": "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()",
    "sqlite": "SELECT count(*) FROM sqlite_master",
}


def _first_row(connection: Any, sql: str, params: Any = None) -> Any:
    """The first row of one statement, on a cursor of its own; without ``params``
    the SQL goes as written (sqlite3 refuses None, PyMySQL would %-format ())."""
    cursor = connection.cursor()
    try:
        if params is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, params)
        return cursor.fetchone()
    finally:
        cursor.close()


def _is_empty(connection: Any, dialect: str) -> bool:
    row = _first_row(connection, _EMPTY_QUERY[dialect])
    if dialect != "sqlite":
        connection.commit()
    return row is not None and row[0] == 0


def _create(connection: Any, dialect: str, script: Script, command: str, began: float) -> None:
    from .execute import maybe_inject_fault

    cursor = connection.cursor()
    started_at = now()
    if dialect == "mysql":
        for statement in script.own_tables:
            cursor.execute(statement)
        cursor.execute(
            f"INSERT INTO {JOURNAL_TABLE_NAME} (revision, operations_done, operations_started, "
            "updated_at) VALUES (%(key)s, 0, 1, now())",
            {"key": DIRECT_CREATION},
        )
        connection.commit()
        cursor.execute(script.version_table)
        for number, statement in enumerate(script.schema, start=1):
            cursor.execute(statement)
            maybe_inject_fault("create", number)
    else:
        if dialect == "sqlite":
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.execute("BEGIN IMMEDIATE")
        ddl = [*script.own_tables, script.version_table, *script.schema]
        if dialect == "postgresql":
            cursor.execute(";\n".join(ddl))  # one round trip
        else:
            for statement in ddl:
                cursor.execute(statement)
        for number in range(1, len(script.schema) + 1):
            maybe_inject_fault("create", number)
    number = len(script.schema)
    for statements in script.seeds:
        for statement in statements:
            cursor.execute(statement)
        number += 1
        maybe_inject_fault("create", number)
    mark = "?" if dialect == "sqlite" else "%s"
    cursor.execute(
        f"INSERT INTO {VERSION_TABLE_NAME} (version_num) VALUES ({mark})", (script.revision,)
    )
    if dialect == "mysql":
        cursor.execute(
            f"DELETE FROM {JOURNAL_TABLE_NAME} WHERE revision = %s", (DIRECT_CREATION,)
        )
    seconds = round(time.perf_counter() - began, 3)
    finished_at = now()
    if dialect == "sqlite":  # stored as SQLAlchemy stores a DateTime on SQLite
        started, finished = (f"{t:%Y-%m-%d %H:%M:%S}.000000" for t in (started_at, finished_at))
    else:
        started, finished = started_at, finished_at  # type: ignore[assignment]
    cursor.execute(
        f"INSERT INTO {RUNS_TABLE_NAME} (id, started_at, finished_at, user_name, host, command, "
        "from_revision, to_revision, outcome, seconds, detail) VALUES "
        f"({', '.join([mark] * 11)})",
        (new_run_id(), started, finished, user_name(), host_name(), command[:255], None,
         script.revision, "succeeded", seconds, None),
    )
    if dialect == "sqlite":
        cursor.execute("COMMIT")
    else:
        connection.commit()
    cursor.close()


def _rollback(connection: Any, dialect: str) -> None:
    try:
        if dialect != "sqlite":
            connection.rollback()
        elif connection.in_transaction:
            connection.execute("ROLLBACK")
    except Exception:
        pass


def main() -> None:
    """``python -m mistral_db_manage.runner.express``: render the file again."""
    from .chain import Chain

    print(write_resource(Chain.load()))


if __name__ == "__main__":
    main()
