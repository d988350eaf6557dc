"""Progress inside a revision, for servers whose DDL cannot be rolled back.

On MySQL/MariaDB every DDL statement commits by itself, so a revision that
dies half-way leaves some of its operations applied.  After each operation
the executor records how many operations of the revision are done; the row
is deleted in the same transaction that moves the version record.  A re-run
skips the operations already done, and checks whether the next one already
took effect (the process may have died between the operation and the
record) before running it.

The table ``mistral_db_manage_journal`` is this tool's, not Mistral's; schema
comparisons leave it out (see :data:`.verify.OWN_TABLES`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, inspect, select

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

JOURNAL_TABLE_NAME = "mistral_db_manage_journal"
#: the journal key of a direct creation of the schema on an empty database
DIRECT_CREATION = "<create>"

_metadata = MetaData()
journal_table = Table(
    JOURNAL_TABLE_NAME,
    _metadata,
    Column("revision", String(32), primary_key=True),
    Column("operations_done", Integer, nullable=False),
    #: operations started; one more than done means "the next one may have run"
    Column("operations_started", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)


def ensure_journal(connection: Connection) -> None:
    if not inspect(connection).has_table(JOURNAL_TABLE_NAME):
        journal_table.create(connection)
    connection.commit()


def progress(connection: Connection, revision: str) -> tuple[int, int]:
    """(operations done, operations started) of ``revision``; (0, 0) when unknown."""
    row = connection.execute(
        select(journal_table.c.operations_done, journal_table.c.operations_started).where(
            journal_table.c.revision == revision
        )
    ).first()
    connection.commit()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def record_progress(connection: Connection, revision: str, done: int, started: int) -> None:
    values = {"operations_done": done, "operations_started": started, "updated_at": func.now()}
    updated = connection.execute(
        journal_table.update().where(journal_table.c.revision == revision).values(**values)
    )
    if updated.rowcount == 0:
        connection.execute(journal_table.insert().values(revision=revision, **values))
    connection.commit()


def forget(connection: Connection, revision: str) -> None:
    """Delete the revision's progress (inside the caller's transaction)."""
    if inspect(connection).has_table(JOURNAL_TABLE_NAME):
        connection.execute(journal_table.delete().where(journal_table.c.revision == revision))
