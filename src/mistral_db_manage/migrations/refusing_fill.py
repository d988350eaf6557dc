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

When the column is missing at the start (a refusal dropped it, and the
journal still counts the operations that added it as done) it is added again
first, so running ``upgrade`` after the rows are fixed simply goes on.

Offline, a script cannot branch on a failure: there the check runs first, as
its own statements, then the plain UPDATE (``statements``), two passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

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

    def sql_for(self, ctx: RunContext) -> Sequence[str]:
        if ctx.dialect == "mysql":
            return [f"UPDATE {self.table} SET {self.column.name} = {self.value}\n"
                    f" WHERE {self.condition}"]
        return super().sql_for(ctx)

    def one_pass(self) -> str:
        """MySQL: the UPDATE that also gives every row to refuse a value too long."""
        return (f"UPDATE {self.table} SET {self.column.name} = "
                f"CASE WHEN {self.problem} THEN {REFUSED} ELSE {self.value} END\n"
                f" WHERE ({self.problem}) OR ({self.condition})")

    def run(self, ctx: RunContext) -> None:
        if ctx.dialect != "mysql" or ctx.offline:
            super().run(ctx)
            return
        connection = ctx.operations.get_bind()
        if not self._column_exists(connection):
            self._add_column(ctx)
        if not self._fill(ctx, connection):
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

    def _column_exists(self, connection: Any) -> bool:
        found = connection.exec_driver_sql(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() "
            "AND table_name = %s AND column_name = %s", (self.table, self.column.name)).first()
        connection.commit()
        return found is not None

    def _add_column(self, ctx: RunContext) -> None:
        type_ = compiled_type(self.column.type, "mysql")
        name = self.column.name
        ctx.execute(f"ALTER TABLE {self.table} ADD COLUMN {name} {type_} NULL "
                    f"DEFAULT {self.default}")
        ctx.execute(f"ALTER TABLE {self.table} ALTER COLUMN {name} DROP DEFAULT")

    def _fill(self, ctx: RunContext, connection: Any) -> bool:
        """The one pass, in strict mode; whether it refused a row."""
        mode = connection.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar()
        connection.exec_driver_sql("SET SESSION sql_mode = 'STRICT_ALL_TABLES'")
        try:
            ctx.execute(self.one_pass())
        except DBAPIError as error:
            if mysql_errno(error) != DATA_TOO_LONG:
                raise
            refused = True
        else:
            refused = False
        connection.exec_driver_sql("SET SESSION sql_mode = %s", (mode,))
        return refused
