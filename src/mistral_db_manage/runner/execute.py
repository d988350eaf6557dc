"""Running an upgrade plan: online against a connection, or offline as an SQL script.

:meth:`Executor.run` takes the :class:`~.plan.UpgradePlan` and does what it
says: create the schema at once, or replay (or resume) its revisions.  One
code path serves online and offline runs (Alembic's idea): operations talk to
an Alembic ``Operations`` object whose context either executes or prints.
Only this module decides transaction boundaries:

* PostgreSQL and SQLite: each revision and its version bump commit together
  (``BEGIN``/``COMMIT`` around each revision in scripts as well);
* MySQL/MariaDB: DDL commits by itself, so there is no framing; progress
  inside a revision is recorded in the journal so that an interrupted
  revision is completed by running ``upgrade`` again.

Progress is reported as typed events (:mod:`.events`); nothing here prints
to stdout except the offline script itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..errors import MigrationFailedError, MistralDbManageError, RevisionRefusedError
from ..migrations.ops import Operation, RunContext
from ..schema.history import state_at
from ..schema.state import SchemaState
from . import journal
from .chain import Chain, Revision
from .creation import creation_script
from .events import (
    EventSink,
    Notice,
    RevisionApplied,
    RevisionStarted,
    SchemaCreated,
    SchemaCreationStarted,
    ignore,
)
from .failures import first_line
from .plan import Strategy, UpgradePlan
from .verify import compare_shapes, shapes_from_database, shapes_from_state
from .version import create_version_table, has_version_table, script_check, write_version

if TYPE_CHECKING:
    from alembic.operations import Operations
    from sqlalchemy.engine import Connection

TRANSACTIONAL_DDL = {"postgresql": True, "sqlite": True, "mysql": False}

#: testing switch: ``REV:K`` stops the run after operation K of revision REV
FAULT_ENV = "MISTRAL_DB_MANAGE_FAIL_AFTER"


def maybe_inject_fault(revision: str, number: int) -> None:
    fault = os.environ.get(FAULT_ENV)
    if fault and fault == f"{revision}:{number}":
        raise MigrationFailedError(
            f"fault injected after operation {number} of revision {revision} ({FAULT_ENV})"
        )


def _already_applied(connection: Connection, operation: Operation, state: SchemaState) -> bool:
    """Whether the live tables the operation touches already look like its result."""
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


class _ConnectionSink:
    """Executes statements on a connection; stands in for Alembic's ``Operations``
    where only ``execute`` is needed (Sql operations, the version record)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def execute(self, statement: Any) -> None:
        if isinstance(statement, str):
            self.connection.exec_driver_sql(statement)
        else:
            self.connection.execute(statement)

    def execute_batch(self, statements: tuple[str, ...]) -> None:
        """Several DDL statements in one round trip (PostgreSQL)."""
        self.connection.exec_driver_sql(";\n".join(statements))


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
        events: EventSink = ignore,
        guard: Callable[[], None] = lambda: None,
    ) -> None:
        """``guard`` is asked at each safe point (before each revision, each journaled
        operation, a creation, a drop) and raises when the run must stop there."""
        if (connection is None) == (output is None):
            raise ValueError("give exactly one of connection (online) or output (offline)")
        self.chain = chain
        self.dialect = dialect
        self.connection = connection
        self.output = output
        self.events = events
        self.guard = guard
        self._operations: Operations | None = None

    @property
    def offline(self) -> bool:
        return self.output is not None

    def operations(self) -> Operations:
        if self._operations is None:
            # Imported lazily, for start-up time: creating an empty database needs no Alembic.
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

    def run(self, plan: UpgradePlan, *, create_version: bool) -> None:
        """Do what ``plan`` says (``create_version``: the version table does not exist yet)."""
        if plan.dialect != self.dialect:
            raise ValueError(f"a plan for {plan.dialect} cannot run on {self.dialect}")
        if plan.leftovers:
            self._drop_leftovers(plan.leftovers)
        if plan.strategy is Strategy.CREATE:
            assert plan.target is not None
            self._create(plan.target, create_version=create_version)
        elif plan.strategy in (Strategy.REPLAY, Strategy.RESUME):
            self._replay(plan, create_version=create_version)

    def _replay(self, plan: UpgradePlan, *, create_version: bool) -> None:
        """Apply the plan's revisions in order (resuming the first, on MySQL, where a
        run stopped: the journal says how far it got)."""
        steps = [self.chain.get(revision) for revision in plan.revision_ids]
        state = state_at(self.chain, self.dialect, plan.current)
        if self.offline and self.dialect == "sqlite":
            self._raw("PRAGMA foreign_keys=OFF;")
        journaled = not self.offline and not TRANSACTIONAL_DDL[self.dialect]
        if journaled:
            assert self.connection is not None
            journal.ensure_journal(self.connection)
        previous = plan.current
        for index, step in enumerate(steps):
            self.guard()
            began = time.perf_counter()
            self.events(RevisionStarted(step))
            if self.offline and previous is not None:  # the script checks where it starts
                for line in script_check(self.dialect, previous, step.id):
                    self._raw(line)
            try:
                if journaled:
                    self._apply_journaled(step, state, previous, create_version and index == 0)
                else:
                    with self._transaction(TRANSACTIONAL_DDL[self.dialect]):
                        if create_version and index == 0:
                            create_version_table(self.operations())
                        self._apply_operations(step, state, skip=0)
                        write_version(self.operations(), previous, step.id)
            except SQLAlchemyError as error:  # the bookkeeping's, or the connection lost
                raise MigrationFailedError(
                    f"revision {step.id} stopped: {first_line(error)}; the database is at "
                    f"{previous or 'no revision'}"
                    + (" with the journal recording how far this revision got"
                       if journaled else "") + "; run upgrade again"
                ) from error
            previous = step.id
            self.events(RevisionApplied(step, time.perf_counter() - began))

    def _create(self, end: str, *, create_version: bool) -> None:
        """Empty database, online: create ``end``'s schema at once (see :mod:`.creation`).

        Statements go straight to the connection (no Alembic context is needed);
        on PostgreSQL the whole DDL travels in one round trip.
        """
        connection = self.connection
        assert connection is not None, "direct creation is an online operation"
        sink = _ConnectionSink(connection)
        script = creation_script(self.chain, self.dialect, end)
        self.guard()
        began = time.perf_counter()
        target = self.chain.get(end)
        self.events(SchemaCreationStarted(target))
        journaled = not TRANSACTIONAL_DDL[self.dialect]
        if journaled:
            journal.ensure_journal(connection)
            journal.record_progress(connection, journal.DIRECT_CREATION, 0, 1)
        with self._transaction(TRANSACTIONAL_DDL[self.dialect]):
            if create_version:
                create_version_table(sink)
            if self.dialect == "postgresql":
                sink.execute_batch(script.schema)
                for number in range(1, len(script.schema) + 1):
                    maybe_inject_fault("create", number)
            else:
                for number, statement in enumerate(script.schema, start=1):
                    sink.execute(statement)
                    maybe_inject_fault("create", number)
            number = len(script.schema)
            for statements in script.seeds:
                for statement in statements:
                    sink.execute(statement)
                number += 1
                maybe_inject_fault("create", number)
            write_version(sink, None, end)
            if journaled:
                journal.forget(connection, journal.DIRECT_CREATION)
        if journaled:
            connection.commit()
        self.events(SchemaCreated(target, time.perf_counter() - began))

    def _drop_leftovers(self, tables: tuple[str, ...]) -> None:
        """MySQL: drop the tables an interrupted creation left (empty ones only:
        refuses when one of them holds rows), and forget that creation."""
        connection = self.connection
        assert connection is not None
        self.guard()
        for table in tables:
            if connection.execute(text(f"SELECT 1 FROM `{table}` LIMIT 1")).first():
                raise MigrationFailedError(
                    f"an interrupted creation of the schema left table {table} with rows in "
                    "it; this tool will not drop it: inspect the database"
                )
        connection.execute(text("SET foreign_key_checks = 0"))
        for table in tables:
            connection.execute(text(f"DROP TABLE `{table}`"))
        connection.execute(text("SET foreign_key_checks = 1"))
        journal.forget(connection, journal.DIRECT_CREATION)
        connection.commit()
        self.events(Notice(
            f"removed {len(tables)} empty table(s) an interrupted run left behind"))

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
                except RevisionRefusedError as refusal:
                    raise RevisionRefusedError(
                        f"revision {step.id} failed at operation {number} "
                        f"({operation.describe()}) and changed nothing: {refusal}"
                    ) from refusal
                except MistralDbManageError:
                    raise
                except Exception as error:
                    raise MigrationFailedError(
                        f"revision {step.id} failed at operation {number} "
                        f"({operation.describe()}): {first_line(error)}"
                    ) from error
            operation.apply_state(state)
            if after_each is not None:
                after_each(number)
            maybe_inject_fault(step.id, number)

    def _apply_journaled(
        self, step: Revision, state: SchemaState, previous: str | None, create_version: bool
    ) -> None:
        """MySQL/MariaDB: record progress after each operation; resume where it stopped."""
        connection = self.connection
        assert connection is not None
        if create_version and not has_version_table(connection):
            create_version_table(self.operations())
        done, started = journal.progress(connection, step.id)

        def before(number: int, operation: Operation) -> bool:
            self.guard()
            if number == started and started > done and _already_applied(
                connection, operation, state
            ):
                return False
            journal.record_progress(connection, step.id, number - 1, number)
            return True

        def after(number: int) -> None:
            connection.commit()
            journal.record_progress(connection, step.id, number, number)

        try:
            self._apply_operations(
                step, state, skip=done, before_each=before, after_each=after)
        except RevisionRefusedError:
            # the operation undid the revision's earlier ones: nothing to resume
            connection.rollback()
            journal.forget(connection, step.id)
            connection.commit()
            raise
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
