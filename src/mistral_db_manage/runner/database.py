"""The configured database, opened for one command.

Wraps :mod:`.connect` (friendly connection errors) with what every command
needs: the URL parsed once by :mod:`.dburl`, one engine and one connection, a
dialect name among ``sqlite``, ``postgresql`` and ``mysql``, the file of a
SQLite database (for the migration lock and backups), and on SQLite real
transactions around DDL (the pysqlite driver otherwise commits before each DDL
statement) with foreign-key enforcement off while tables are rebuilt; on a
Galera node, causal reads for every session (:mod:`.galera`).  It also
owns the one answer to "which tables does this database hold" that every
policy uses (this tool's own bookkeeping tables never count).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection, Engine

from .audit import RUNS_TABLE_NAME
from .connect import connect_checked, create_engine_checked
from .dburl import DatabaseUrl, parse_url, sqlite_file
from .galera import INFO_KEY, GaleraNode, node_of, prepare_session
from .journal import JOURNAL_TABLE_NAME
from .lockrow import LOCK_TABLE_NAME
from .sqlitefile import connect_for_reading, may_write, switch_to_wal
from .version import VERSION_TABLE_NAME

#: this tool's bookkeeping tables: not part of Mistral's schema
OWN_TABLES = frozenset(
    {VERSION_TABLE_NAME, JOURNAL_TABLE_NAME, RUNS_TABLE_NAME, LOCK_TABLE_NAME})


@dataclass(frozen=True)
class Database:
    engine: Engine
    connection: Connection
    dialect: str
    #: the configured URL, parsed
    url: DatabaseUrl

    @property
    def sqlite_file(self) -> Path | None:
        """SQLite: the database file, symbolic links resolved (:func:`.dburl.sqlite_file`);
        None for an in-memory database and for the other dialects."""
        return sqlite_file(self.url)

    @property
    def galera(self) -> GaleraNode | None:
        """The Galera node the connection reached (None: not a Galera cluster)."""
        return node_of(self.connection)

    def tables(self) -> frozenset[str]:
        """The tables besides this tool's own (ends the transaction it opens)."""
        return mistral_tables(self.connection)


def mistral_tables(connection: Connection) -> frozenset[str]:
    """The tables of the database besides this tool's own; none means an empty database."""
    names = frozenset(inspect(connection).get_table_names()) - OWN_TABLES
    connection.rollback()
    return names


def open_engine(connection_url: str | DatabaseUrl) -> Engine:
    url = parse_url(connection_url) if isinstance(connection_url, str) else connection_url
    path = sqlite_file(url)
    if path is not None and path.exists() and not may_write(path):
        # a reader that may not write there must not create -wal/-shm files (.sqlitefile)
        engine = create_engine_checked(url, creator=lambda: connect_for_reading(path))
        begin = "BEGIN"
    else:
        engine = create_engine_checked(url)
        begin = "BEGIN IMMEDIATE"
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql(begin)

    elif engine.dialect.name == "mysql":

        @event.listens_for(engine, "connect")
        def _galera_connect(dbapi_connection: Any, record: Any) -> None:
            record.info[INFO_KEY] = prepare_session(dbapi_connection)

    return engine


@contextmanager
def open_database(connection_url: str) -> Iterator[Database]:
    url = parse_url(connection_url)
    engine = open_engine(url)
    try:
        connection = connect_checked(engine)
        try:
            yield Database(engine, connection, url.dialect, url)
        finally:
            connection.close()
    finally:
        engine.dispose()


def leave_in_wal_mode(database: Database) -> str | None:
    """SQLite file: switch it to write-ahead logging (:mod:`.sqlitefile`), a property of
    the file that stays; None when done (or not a SQLite file), else why it could not be.

    The backup (SQLite's backup API), the migration lock (a file beside the
    database) and offline scripts work the same in either mode.  Called after a
    run committed: the switch happens outside any transaction.
    """
    if database.dialect != "sqlite" or database.sqlite_file is None:
        return None
    database.connection.commit()
    raw = database.connection.connection.dbapi_connection
    assert raw is not None
    return switch_to_wal(raw)  # type: ignore[arg-type]
