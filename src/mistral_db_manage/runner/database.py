"""Opening the configured database for the runner.

Wraps :mod:`.connect` (URL checks, friendly connection errors) with what the
runner needs from every engine: a dialect name among ``sqlite``,
``postgresql`` and ``mysql``, and on SQLite real transactions around DDL
(the pysqlite driver otherwise commits before each DDL statement) with
foreign-key enforcement off while tables are rebuilt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def normalized_dialect(name: str) -> str:
    return "mysql" if name in ("mysql", "mariadb") else name


def open_engine(connection_url: str) -> Engine:
    from sqlalchemy import event

    from .connect import create_engine_checked

    engine = create_engine_checked(connection_url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
