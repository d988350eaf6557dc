"""Reading the version record without SQLAlchemy, for a fast ``current``.

Importing SQLAlchemy costs about 0.2 s, more than everything else ``current``
does.  For the plain URLs operators use (``sqlite:///file``,
``postgresql[+psycopg2]://user:pw@host:port/db``,
``mysql+pymysql://user:pw@host:port/db[?charset=...]``) this module opens the
driver directly and reads ``alembic_version``.  Anything else (another
driver, other URL parameters, a missing table, an error of any kind) returns
None, and the caller takes the full path, which gives the proper answer or
the proper one-line error.  Read-only: it never writes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

QUERY = "SELECT version_num FROM alembic_version"


def read_version_quickly(connection_url: str) -> tuple[str, ...] | None:
    """The rows of ``alembic_version``, or None when the full path must answer."""
    try:
        parts = urlsplit(connection_url)
        scheme = parts.scheme.lower()
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if scheme == "sqlite":
            return _sqlite(parts.path, params)
        if scheme in ("postgresql", "postgresql+psycopg2") and not params:
            return _postgresql(parts)
        if scheme in ("mysql+pymysql", "mariadb+pymysql") and set(params) <= {"charset"}:
            return _mysql(parts, params.get("charset"))
    except Exception:
        return None
    return None


def _rows(connection: Any) -> tuple[str, ...]:
    cursor = connection.cursor()
    try:
        cursor.execute(QUERY)
        return tuple(str(row[0]) for row in cursor.fetchall())
    finally:
        cursor.close()
        connection.close()


def _sqlite(path: str, params: dict[str, str]) -> tuple[str, ...] | None:
    import sqlite3
    from pathlib import Path

    if params or not path.startswith("/") or path in ("/", "/:memory:"):
        return None
    database = Path(path[1:])  # sqlite:///relative, sqlite:////absolute
    if not database.is_file():
        return None
    return _rows(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True))


def _postgresql(parts: Any) -> tuple[str, ...] | None:
    import psycopg2  # type: ignore[import-untyped]

    database = unquote(parts.path.lstrip("/"))
    if not database or not parts.hostname:
        return None
    connection = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, dbname=database,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        connect_timeout=10,
    )
    connection.set_session(readonly=True, autocommit=True)
    return _rows(connection)


def _mysql(parts: Any, charset: str | None) -> tuple[str, ...] | None:
    import pymysql  # type: ignore[import-untyped]

    database = unquote(parts.path.lstrip("/"))
    if not database or not parts.hostname:
        return None
    connection = pymysql.connect(
        host=parts.hostname, port=parts.port or 3306, database=database,
        user=unquote(parts.username) if parts.username else "",
        password=unquote(parts.password) if parts.password is not None else "",
        charset=charset or "utf8mb4", connect_timeout=10,
    )
    return _rows(connection)
