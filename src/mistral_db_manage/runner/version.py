"""The version record (``alembic_version``): the only code that reads or writes it.

A row in the table always means "the schema is at this revision".  The table
is Alembic's own (``version_num VARCHAR(32)``, primary key
``alembic_version_pkc``), so upstream Mistral and plain Alembic read it too.

:data:`SELECT_VERSIONS` is plain SQL that any connection runs: the bare
driver of a fast ``current`` (:mod:`.driver`) and the SQLAlchemy connection of
every other command.  For that reader's start-up time, SQLAlchemy is imported
lazily, inside the functions that use it.  Writes go through the run's statement sink, so an
offline script records the version with the very statements a live run sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from ..errors import MistralDbManageError

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection

    from ..migrations.ops import StatementSink

VERSION_TABLE_NAME = "alembic_version"
SELECT_VERSIONS = f"SELECT version_num FROM {VERSION_TABLE_NAME}"


@cache
def version_table() -> Table:
    """The table's definition (built on first use)."""
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table

    return Table(
        VERSION_TABLE_NAME,
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )


def one_revision(rows: Sequence[str]) -> str | None:
    """The revision the rows of the table record; an error when there are several."""
    if len(rows) > 1:
        raise MistralDbManageError(
            f"{VERSION_TABLE_NAME} holds {len(rows)} rows ({', '.join(sorted(rows))}); "
            "a Mistral database has one: fix it with `mistral-db-manage stamp <revision>`"
        )
    return rows[0] if rows else None


def has_version_table(connection: Connection) -> bool:
    from sqlalchemy import inspect

    return inspect(connection).has_table(VERSION_TABLE_NAME)


def read_version(connection: Connection) -> str | None:
    """The recorded revision, or None when there is no table or no row."""
    if not has_version_table(connection):
        return None
    rows = connection.exec_driver_sql(SELECT_VERSIONS).scalars().all()
    return one_revision([str(row) for row in rows])


def create_version_table(operations: StatementSink) -> None:
    from sqlalchemy.schema import CreateTable

    operations.execute(CreateTable(version_table()))


def write_version(operations: StatementSink, old: str | None, new: str | None) -> None:
    """Move the record from ``old`` to ``new`` (None = no row)."""
    table = version_table()
    if old is None and new is not None:
        operations.execute(table.insert().values(version_num=new))
    elif old is not None and new is None:
        operations.execute(table.delete().where(table.c.version_num == old))
    elif old is not None and new is not None:
        operations.execute(
            table.update().values(version_num=new).where(table.c.version_num == old)
        )


def script_check(dialect: str, start: str, revision: str) -> tuple[str, ...]:
    """Statements that stop a script, before ``revision``, unless the database is at ``start``.

    An offline script cannot look at the database when it is written; these lines
    look when it is applied, so a script applied at another revision than the one
    it was written from (``030:head`` applied at 019) stops with the reason instead
    of leaving half of each revision.  Each dialect's client stops at the error:
    ``psql -v ON_ERROR_STOP=1``, ``mariadb`` (its default), ``sqlite3 -bail``.
    """
    for value in (start, revision):  # ids of the chain: never quotes or backquotes
        if not value.replace("_", "").isalnum():
            raise MistralDbManageError(f"revision id {value!r} cannot go into a script's check")
    message = (f"the database is not at revision {start}, where revision {revision} of this "
               f"script starts: stop; see mistral-db-manage current")
    count = f"(SELECT COUNT(*) FROM {VERSION_TABLE_NAME} WHERE version_num = '{start}')"
    if dialect == "postgresql":
        return (f"DO $$ BEGIN IF {count} <> 1 THEN RAISE EXCEPTION '{message}'; "
                "END IF; END $$;",)
    if dialect == "mysql":
        # No SIGNAL outside a stored program: preparing a statement that names an
        # unknown column fails with the message as the column's name.
        return (
            f"SET @mistral_db_manage_check = IF({count} = 1, 'DO 0', 'DO `{message}`');",
            "PREPARE mistral_db_manage_check FROM @mistral_db_manage_check;",
            "DEALLOCATE PREPARE mistral_db_manage_check;",
        )
    # SQLite raises only in a trigger: a temporary one, on a temporary table.
    trigger = f"mistral_db_manage_check_{revision}"
    return (
        "CREATE TEMP TABLE IF NOT EXISTS mistral_db_manage_check "
        "(revision TEXT, found INTEGER);",
        f"CREATE TEMP TRIGGER IF NOT EXISTS {trigger} BEFORE INSERT ON "
        f"mistral_db_manage_check WHEN NEW.revision = '{revision}' AND NEW.found <> 1 "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END;",
        f"INSERT INTO mistral_db_manage_check SELECT '{revision}', COUNT(*) FROM "
        f"{VERSION_TABLE_NAME} WHERE version_num = '{start}';",
    )
