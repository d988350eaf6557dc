"""Progress inside a revision, for servers whose DDL cannot be rolled back.

On MySQL/MariaDB every DDL statement commits by itself, so a revision that
dies half-way leaves some of its operations applied.  After each operation
the executor records how many operations of the revision are done; the row
is deleted in the same transaction that moves the version record.  A re-run
skips the operations already done, and checks whether the next one already
took effect (the process may have died between the operation and the
record) before running it.

A direct creation of the schema on an empty database (strategy ``create``)
is journaled under the key :data:`DIRECT_CREATION`, so that the next run knows
the tables it finds are an interrupted creation's, not an operator's.

The table ``mistral_db_manage_journal`` is this tool's, not Mistral's; schema
comparisons leave it out (see :data:`.database.OWN_TABLES`).  This module is
the only code that reads or writes it.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, inspect, select
from sqlalchemy.engine import Connection

from .galera import cluster_wide_ddl

JOURNAL_TABLE_NAME = "mistral_db_manage_journal"
#: the journal key of a direct creation of the schema on an empty database
DIRECT_CREATION = "<create>"


@cache
def journal_table() -> Table:
    """The table's definition."""
    return Table(
        JOURNAL_TABLE_NAME,
        MetaData(),
        Column("revision", String(32), primary_key=True),
        Column("operations_done", Integer, nullable=False),
        # operations started; one more than done means "the next one may have run"
        Column("operations_started", Integer, nullable=False),
        Column("updated_at", DateTime, nullable=False),
    )


def has_journal(connection: Connection) -> bool:
    return inspect(connection).has_table(JOURNAL_TABLE_NAME)


def recorded_progress(connection: Connection, revision: str) -> tuple[int, int]:
    """:func:`progress` when the journal exists, else (0, 0); creates nothing."""
    found = progress(connection, revision) if has_journal(connection) else (0, 0)
    connection.rollback()
    return found


def ensure_journal(connection: Connection) -> None:
    if not has_journal(connection):
        connection.rollback()
        with cluster_wide_ddl(connection):
            journal_table().create(connection, checkfirst=True)
    connection.commit()


def progress(connection: Connection, revision: str) -> tuple[int, int]:
    """(operations done, operations started) of ``revision``; (0, 0) when unknown."""
    table = journal_table()
    row = connection.execute(
        select(table.c.operations_done, table.c.operations_started).where(
            table.c.revision == revision
        )
    ).first()
    connection.commit()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def record_progress(connection: Connection, revision: str, done: int, started: int) -> None:
    table = journal_table()
    values = {"operations_done": done, "operations_started": started, "updated_at": func.now()}
    updated = connection.execute(
        table.update().where(table.c.revision == revision).values(**values)
    )
    if updated.rowcount == 0:
        connection.execute(table.insert().values(revision=revision, **values))
    connection.commit()


def forget(connection: Connection, revision: str) -> None:
    """Delete the revision's progress (inside the caller's transaction)."""
    if has_journal(connection):
        table = journal_table()
        connection.execute(table.delete().where(table.c.revision == revision))
