"""Applying revisions: online against a connection, or offline as an SQL script.

One code path serves both (Alembic's idea): operations talk to an Alembic
``Operations`` object whose context either executes or prints.  Only this
module decides transaction boundaries:

* PostgreSQL and SQLite: each revision and its version bump commit together
  (``BEGIN``/``COMMIT`` around each revision in scripts as well);
* MySQL/MariaDB: DDL commits by itself, so there is no framing; progress
  inside a revision is recorded in the journal so that an interrupted
  revision is completed by running ``upgrade`` again.

Progress is reported through a callback; nothing here prints to stdout
except the offline script itself.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, cast

from ..errors import MigrationFailedError, MistralDbManageError
from .chain import Chain, Revision
from .version import create_version_table, write_version

if TYPE_CHECKING:
    from alembic.operations import Operations
    from sqlalchemy.engine import Connection

    from ..migrations.ops import Operation
    from ..schema.state import SchemaState

TRANSACTIONAL_DDL = {"postgresql": True, "sqlite": True, "mysql": False}

#: testing switch: ``REV:K`` stops the run after operation K of revision REV
FAULT_ENV = "MISTRAL_DB_MANAGE_FAIL_AFTER"


def maybe_inject_fault(revision: str, number: int) -> None:
    import os

    fault = os.environ.get(FAULT_ENV)
    if fault and fault == f"{revision}:{number}":
        raise MigrationFailedError(
            f"fault injected after operation {number} of revision {revision} ({FAULT_ENV})"
        )


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _already_applied(connection: Connection, operation: Operation, state: SchemaState) -> bool:
    """Whether the live tables the operation touches already look like its result."""
    from .verify import compare_shapes, shapes_from_database, shapes_from_state

    if operation.rewrites_data or not operation.tables():
        return False
    expected = shapes_from_state(operation.after(state))
    actual = shapes_from_database(connection, state.dialect)
    connection.commit()
    touched = set(operation.tables())
    return not compare_shapes(
        {k: v for k, v in expected.items() if k in touched},
        {k: v for k, v in actual.items() if k in touched},
    )


@dataclass(frozen=True)
class RevisionApplied:
    revision: Revision
    seconds: float


ProgressCallback = Callable[[str, Revision, float], None]


def replay(chain: Chain, dialect: str, end: str | None = None) -> Iterator[tuple[str, SchemaState]]:
    """Walk the chain from an empty database: after each revision up to ``end``
    (default: head), yield its id and the schema (one state object, updated in
    place; copy it to keep it)."""
    from ..schema.state import SchemaState

    state = SchemaState(dialect)
    for step in chain.between(None, chain.head if end is None else end):
        for operation in chain.operations(step.id):
            if operation.applies_to(dialect):
                operation.apply_state(state)
        yield step.id, state


def state_at(chain: Chain, dialect: str, revision: str | None) -> SchemaState:
    """The schema the chain describes at ``revision`` (None = empty database)."""
    from ..schema.state import SchemaState

    if revision is None:
        return SchemaState(dialect)
    last = deque(replay(chain, dialect, revision), maxlen=1)
    return last[0][1]


def resumable_states(
    chain: Chain, dialect: str, start: str | None, connection: Connection
) -> list[SchemaState]:
    """The schemas the live database may have at ``start``: the revision's own, or,
    on MySQL after an interrupted run, part-way into the next revision (as the
    journal records: the operations done, or one more if it was started)."""
    state = state_at(chain, dialect, start)
    if TRANSACTIONAL_DDL[dialect] or start == chain.head:
        return [state]
    from sqlalchemy import inspect

    from . import journal

    if not inspect(connection).has_table(journal.JOURNAL_TABLE_NAME):
        return [state]
    step = chain.between(start, chain.head)[0]
    done, started = journal.progress(connection, step.id)
    if not started:
        return [state]
    applicable = [op for op in chain.operations(step.id) if op.applies_to(dialect)]
    for operation in applicable[:done]:
        operation.apply_state(state)
    states = [state]
    if started > done:
        states.append(applicable[done].after(state))
    return states


class _ConnectionSink:
    """Executes statements on a connection; stands in for Alembic's ``Operations``
    where only ``execute`` is needed (Sql operations, the version record)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def execute(self, statement: Any) -> None:
        if isinstance(statement, str):
            from sqlalchemy import text

            statement = text(statement)
        self.connection.execute(statement)

    def execute_batch(self, statements: list[Any]) -> None:
        """Several DDL statements in one round trip (PostgreSQL)."""
        dialect = self.connection.dialect
        script = ";\n".join(
            s if isinstance(s, str) else str(s.compile(dialect=dialect)).strip()
            for s in statements
        )
        self.connection.exec_driver_sql(script)


class ScriptWriter:
    """Output buffer for Alembic's offline mode: one statement per line, ending in ``;``."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        statement = _one_line(text.strip())
        if statement:
            self.stream.write(statement + "\n")

    def flush(self) -> None:
        self.stream.flush()


def _one_line(sql: str) -> str:
    """Join the lines of one statement, leaving string literals alone."""
    out: list[str] = []
    in_literal = False
    pending_space = False
    for char in sql:
        if in_literal:
            out.append(char)
            if char == "'":
                in_literal = False
            continue
        if char in "\r\n\t":
            pending_space = True
            continue
        if char == " " and pending_space:
            continue
        if pending_space:
            if out and out[-1] not in " (" and char not in ",)":
                out.append(" ")
            pending_space = False
        if char == "'":
            in_literal = True
        out.append(char)
    return "".join(out)


class Executor:
    """Runs a list of revisions on one dialect, online or offline."""

    def __init__(
        self,
        chain: Chain,
        dialect: str,
        *,
        connection: Connection | None = None,
        output: IO[str] | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        if (connection is None) == (output is None):
            raise ValueError("give exactly one of connection (online) or output (offline)")
        self.chain = chain
        self.dialect = dialect
        self.connection = connection
        self.output = output
        self.progress = progress or (lambda event, revision, seconds: None)
        self._operations: Operations | None = None

    @property
    def offline(self) -> bool:
        return self.output is not None

    def operations(self) -> Operations:
        if self._operations is None:
            from alembic.operations import Operations
            from alembic.runtime.migration import MigrationContext

            if self.connection is not None:
                context = MigrationContext.configure(connection=self.connection)
            else:
                assert self.output is not None
                context = MigrationContext.configure(
                    dialect_name=self.dialect,
                    opts={
                        "as_sql": True,
                        "output_buffer": ScriptWriter(self.output),
                        "literal_binds": True,
                    },
                )
            self._operations = Operations(context)
        return self._operations

    def _raw(self, sql: str) -> None:
        assert self.output is not None
        self.output.write(sql + "\n")

    def upgrade(self, start: str | None, end: str | None, *, create_version: bool) -> None:
        """Apply the revisions after ``start`` up to ``end``."""
        steps = self.chain.between(start, end)
        if not steps:
            return
        state = state_at(self.chain, self.dialect, start)
        if self.offline and self.dialect == "sqlite":
            self._raw("PRAGMA foreign_keys=OFF;")
        journaled = not self.offline and not TRANSACTIONAL_DDL[self.dialect]
        if journaled:
            assert self.connection is not None
            from .journal import ensure_journal

            ensure_journal(self.connection)
        previous = start
        for index, step in enumerate(steps):
            began = time.perf_counter()
            self.progress("start", step, 0.0)
            if journaled:
                self._apply_journaled(step, state, previous, create_version and index == 0)
            else:
                with self._transaction(TRANSACTIONAL_DDL[self.dialect]):
                    if create_version and index == 0:
                        create_version_table(self.operations())
                    self._apply_operations(step, state, skip=0)
                    write_version(self.operations(), previous, step.id)
            previous = step.id
            self.progress("done", step, time.perf_counter() - began)

    def create_directly(self, end: str, *, create_version: bool) -> None:
        """Empty database, online: create ``end``'s schema at once (see :mod:`.fresh`).

        Statements go straight to the connection (no Alembic context is needed);
        on PostgreSQL the whole DDL travels in one round trip.
        """
        from ..migrations.ops import RunContext
        from .fresh import schema_statements, seed_operations

        connection = self.connection
        assert connection is not None, "direct creation is an online operation"
        sink = _ConnectionSink(connection)
        state = state_at(self.chain, self.dialect, end)
        began = time.perf_counter()
        target = self.chain.get(end)
        self.progress("create", target, 0.0)
        journaled = not TRANSACTIONAL_DDL[self.dialect]
        if journaled:
            from . import journal

            journal.ensure_journal(connection)
            journal.record_progress(connection, journal.DIRECT_CREATION, 0, 1)
        with self._transaction(TRANSACTIONAL_DDL[self.dialect]):
            if create_version:
                create_version_table(sink)
            statements = list(schema_statements(state))
            if self.dialect == "postgresql":
                sink.execute_batch(statements)
                for number in range(1, len(statements) + 1):
                    maybe_inject_fault("create", number)
            else:
                for number, statement in enumerate(statements, start=1):
                    sink.execute(statement)
                    maybe_inject_fault("create", number)
            number = len(statements)
            # Only Sql operations run here, and they only call ``execute``.
            context = RunContext(self.dialect, cast("Operations", sink), state, self.offline)
            for operation in seed_operations(self.chain, self.dialect, end):
                operation.run(context)
                number += 1
                maybe_inject_fault("create", number)
            write_version(sink, None, end)
            if journaled:
                journal.forget(connection, journal.DIRECT_CREATION)
        if journaled:
            connection.commit()
        self.progress("done", target, time.perf_counter() - began)

    def discard_interrupted_creation(self) -> list[str]:
        """MySQL: drop what an interrupted direct creation left (empty tables only).

        Returns the dropped tables; refuses when one of them holds rows.
        """
        from sqlalchemy import inspect, text

        from . import journal

        connection = self.connection
        assert connection is not None
        if TRANSACTIONAL_DDL[self.dialect] or not inspect(connection).has_table(
            journal.JOURNAL_TABLE_NAME
        ):
            return []
        if journal.progress(connection, journal.DIRECT_CREATION) == (0, 0):
            return []
        # Every table any revision creates (the interrupted target is not recorded).
        chain_tables: set[str] = set()
        for _revision, state in replay(self.chain, self.dialect):
            chain_tables.update(state.tables)
        present = [t for t in inspect(connection).get_table_names() if t in chain_tables]
        for table in present:
            if connection.execute(text(f"SELECT 1 FROM `{table}` LIMIT 1")).first():
                raise MigrationFailedError(
                    f"an interrupted creation of the schema left table {table} with rows in "
                    "it; this tool will not drop it: inspect the database"
                )
        connection.execute(text("SET foreign_key_checks = 0"))
        for table in present:
            connection.execute(text(f"DROP TABLE `{table}`"))
        connection.execute(text("SET foreign_key_checks = 1"))
        journal.forget(connection, journal.DIRECT_CREATION)
        connection.commit()
        return present

    def _apply_operations(
        self,
        step: Revision,
        state: SchemaState,
        *,
        skip: int,
        after_each: Callable[[int], None] | None = None,
        before_each: Callable[[int, Operation], bool] | None = None,
    ) -> None:
        """Run the step's operations on ``state`` (updated in place)."""
        from ..migrations.ops import RunContext

        context = RunContext(self.dialect, self.operations(), state, self.offline)
        applicable = [op for op in self.chain.operations(step.id) if op.applies_to(self.dialect)]
        for number, operation in enumerate(applicable, start=1):
            context.state = state
            if number <= skip:
                operation.apply_state(state)
                continue
            if before_each is None or before_each(number, operation):
                try:
                    operation.run(context)
                except MistralDbManageError:
                    raise
                except Exception as error:
                    raise MigrationFailedError(
                        f"revision {step.id} failed at operation {number} "
                        f"({operation.describe()}): {_first_line(error)}"
                    ) from error
            operation.apply_state(state)
            if after_each is not None:
                after_each(number)
            maybe_inject_fault(step.id, number)

    def _apply_journaled(
        self, step: Revision, state: SchemaState, previous: str | None, create_version: bool
    ) -> None:
        """MySQL/MariaDB: record progress after each operation; resume where it stopped."""
        from . import journal

        connection = self.connection
        assert connection is not None
        if create_version:
            from .version import has_version_table

            if not has_version_table(connection):
                create_version_table(self.operations())
        done, started = journal.progress(connection, step.id)

        def before(number: int, operation: Operation) -> bool:
            if number == started and started > done and _already_applied(
                connection, operation, state
            ):
                return False
            journal.record_progress(connection, step.id, number - 1, number)
            return True

        def after(number: int) -> None:
            connection.commit()
            journal.record_progress(connection, step.id, number, number)

        self._apply_operations(step, state, skip=done, before_each=before, after_each=after)
        with connection.begin():
            write_version(self.operations(), previous, step.id)
            journal.forget(connection, step.id)

    def stamp(self, old: str | None, new: str | None, *, create_version: bool) -> None:
        operations = self.operations()
        with self._transaction(TRANSACTIONAL_DDL[self.dialect]):
            if create_version:
                create_version_table(operations)
            write_version(operations, old, new)

    def _transaction(self, transactional: bool) -> _Transaction:
        return _Transaction(self, transactional)


class _Transaction:
    """BEGIN/COMMIT around one revision: real online, printed offline."""

    def __init__(self, executor: Executor, transactional: bool) -> None:
        self.executor = executor
        self.transactional = transactional

    def __enter__(self) -> None:
        executor = self.executor
        if executor.connection is not None:
            self._trans = executor.connection.begin()
        elif self.transactional:
            executor._raw("BEGIN;")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        executor = self.executor
        if executor.connection is not None:
            if exc_type is None:
                self._trans.commit()
            else:
                self._trans.rollback()
        elif self.transactional and exc_type is None:
            executor._raw("COMMIT;")
