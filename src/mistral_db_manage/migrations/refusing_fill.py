"""A fill of a new column that also refuses bad rows, in one pass (MySQL/MariaDB, online).

A data revision that cannot work out a value for some rows (020: a spec that is
not a JSON object, array or string) must refuse them before anything changes.
With an UPDATE alone that takes two passes over the table on MySQL, which
cannot roll DDL back: first a check that reads every row, then, once the new
column exists, the UPDATE that reads every row again.  At N = 200,000 task
executions the check alone was 4 s of 020's 10 s.

:class:`RefusingFill` makes it one pass.  Its revision has just added the
column with the value most rows get (in constant time, see
:func:`.ops.add_column_with_value`); then one UPDATE both sets the other rows
and gives every row to refuse a value longer than the column, which fails the
statement under ``STRICT_ALL_TABLES`` (MySQL error 1406) and InnoDB undoes it.
On that failure the column is dropped again (constant time on MariaDB 10.4+
and MySQL 8.0.29+) and the revision's check runs to name the row and say why:
the database is as the revision found it, as when the check runs first.
The pass runs as two UPDATEs at once, one per half of the primary key
(:meth:`RefusingFill._fill`): MariaDB gives a statement one thread, and the
pass is bound by the CPU that decodes JSON.

When the column is missing at the start (a refusal dropped it, and the
journal still counts the operations that added it as done) it is added again
first, so running ``upgrade`` after the rows are fixed simply goes on.

Offline, a script cannot branch on a failure: there the check runs first, as
its own statements, then the plain UPDATE (``statements``), two passes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ..errors import RevisionRefusedError
from .operation import Col, RunContext, compiled_type
from .ops import Sql

#: MySQL's "Data too long for column": a value longer than the column in strict mode
DATA_TOO_LONG = 1406
#: longer than any VARCHAR(10) a revision adds: the value a row to refuse gets
REFUSED = "'a row to refuse'"


def mysql_errno(error: DBAPIError) -> int | None:
    args = getattr(error.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


@dataclass(kw_only=True)
class RefusingFill(Sql):
    """Sets ``column`` of ``table`` to ``value`` where ``condition`` holds.

    The operations before this one added ``column`` with ``default`` for
    every row.  ``problem`` is an SQL condition true for a row to refuse;
    ``check``: statements that fail with the explanation when such a row
    exists and do nothing otherwise (in a script they run before the column is
    added, as an operation of their own).  ``statements`` holds the other
    dialects' SQL (PostgreSQL and SQLite run theirs as they are); MySQL's is
    built from ``value`` and ``condition``.
    """

    undoes_revision_on_refusal: ClassVar[bool] = True

    table: str
    column: Col
    default: str
    value: str
    condition: str
    problem: str
    check: Sequence[str]

    def cpu_parts(self, dialect: str) -> int:
        return PARTS if dialect == "mysql" else super().cpu_parts(dialect)

    def sql_for(self, ctx: RunContext) -> Sequence[str]:
        if ctx.dialect == "mysql":
            return [f"UPDATE {self.table} SET {self.column.name} = {self.value}\n"
                    f" WHERE {self.condition}"]
        return super().sql_for(ctx)

    def one_pass(self, rows: str) -> str:
        """MySQL: the UPDATE of ``rows`` (a condition) that also gives every row to
        refuse a value too long."""
        return (f"UPDATE {self.table} SET {self.column.name} = "
                f"CASE WHEN {self.problem} THEN {REFUSED} ELSE {self.value} END\n"
                f" WHERE {rows} AND (({self.problem}) OR ({self.condition}))")

    def run(self, ctx: RunContext) -> None:
        if ctx.dialect != "mysql" or ctx.offline:
            super().run(ctx)
            return
        connection = ctx.operations.get_bind()
        exists, default = self._column(connection)
        if not exists:
            self._add_column(ctx)
        elif default is not None:  # a run stopped between adding it and dropping the default
            self._drop_default(ctx)
        if not self._fill(connection):
            return
        connection.rollback()
        ctx.execute(f"ALTER TABLE {self.table} DROP COLUMN {self.column.name}")
        try:
            for statement in self.check:
                ctx.execute(statement)
        except DBAPIError as error:
            args = getattr(error.orig, "args", ())
            raise RevisionRefusedError(str(args[-1]) if args else str(error)) from error
        raise RevisionRefusedError(
            f"a row of {self.table} was refused, but the check found none when run again "
            "(did something change the rows meanwhile?)")

    def _column(self, connection: Any) -> tuple[bool, str | None]:
        """Whether the column exists, and its default (MariaDB says NULL or 'NULL' for none)."""
        found = connection.exec_driver_sql(
            "SELECT column_default FROM information_schema.columns WHERE table_schema = "
            "DATABASE() AND table_name = %s AND column_name = %s",
            (self.table, self.column.name)).first()
        connection.commit()
        if found is None:
            return False, None
        default = found[0]
        return True, None if default is None or default == "NULL" else str(default)

    def _add_column(self, ctx: RunContext) -> None:
        type_ = compiled_type(self.column.type, "mysql")
        name = self.column.name
        ctx.execute(f"ALTER TABLE {self.table} ADD COLUMN {name} {type_} NULL "
                    f"DEFAULT {self.default}")
        self._drop_default(ctx)

    def _drop_default(self, ctx: RunContext) -> None:
        ctx.execute(f"ALTER TABLE {self.table} ALTER COLUMN {self.column.name} DROP DEFAULT")

    def _fill(self, connection: Any) -> bool:
        """The one pass; whether it refused a row.

        It runs as :data:`PARTS` UPDATEs at once, one per range of the primary key,
        each on a connection of its own in strict mode and READ COMMITTED (no gap
        lock where the ranges meet); they commit once all succeeded.  A run that
        stops between the commits leaves the operation unfinished in the journal,
        and running it again gives the same rows.
        """
        engine = connection.engine
        ranges = [f"{self.table}.id < '{SPLIT_AT}'", f"{self.table}.id >= '{SPLIT_AT}'"]
        parts = [_Part(engine.connect(), self.one_pass(where)) for where in ranges[:PARTS]]
        try:
            threads = [threading.Thread(target=part.run, daemon=True) for part in parts]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            failures = [part.error for part in parts if part.error is not None]
            refused = [f for f in failures
                       if isinstance(f, DBAPIError) and mysql_errno(f) == DATA_TOO_LONG]
            others = [f for f in failures if f not in refused]
            if others:
                raise others[0]
            if not refused:
                for part in parts:
                    part.connection.commit()
            return bool(refused)
        finally:
            for part in parts:
                part.close()


#: the one pass runs as this many UPDATEs at once: MariaDB runs a statement on one
#: thread, and the pass is bound by the CPU that decodes the JSON (at N = 200,000 on
#: the 2-core reference: 5.9 s as one UPDATE, 4.5 s as two)
PARTS = 2
#: where the ranges of the primary key meet: Mistral's ids are UUIDs written in hex,
#: so about half fall on each side; other ids give the same rows, less evenly split
SPLIT_AT = "8"


class _Part:
    """One UPDATE of the one pass, on its own connection (run in a thread)."""

    def __init__(self, connection: Any, update: str) -> None:
        self.connection = connection
        self.update = update
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.connection.exec_driver_sql("SET SESSION sql_mode = 'STRICT_ALL_TABLES'")
            self.connection.exec_driver_sql(
                "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            self.connection.execute(text(self.update))
        except BaseException as error:  # handed to the thread that waits
            self.error = error

    def close(self) -> None:
        """Roll back what was not committed; the session's settings go with it."""
        with suppress(Exception):
            self.connection.rollback()
        with suppress(Exception):
            self.connection.invalidate()
        with suppress(Exception):
            self.connection.close()
