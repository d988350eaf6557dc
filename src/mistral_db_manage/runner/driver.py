"""Reading the version record through the bare driver, for a fast ``current``.

Importing SQLAlchemy costs about 0.25 s, more than ``current`` takes in all,
and configuration management runs ``current`` on every pass.  So ``current``
and ``history`` first ask the driver directly for the rows of the version
table (with :data:`.version.SELECT_VERSIONS`, the version record's own query),
read-only, for the plain URLs operators use:

* ``sqlite:///relative`` and ``sqlite:////absolute`` (no parameters);
* ``postgresql[+psycopg2]://user:password@host:port/database``, or with the
  socket directory as ``?host=/run/postgresql`` (and ``&port=``);
* ``mysql+pymysql://...`` and ``mariadb+pymysql://...``, with at most
  ``charset`` and ``unix_socket`` as parameters.

Anything else (another URL form, a missing file or table, any error) gives
None, and the caller takes the full path, which handles every URL and turns
every failure into its one-line error.  Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .version import SELECT_VERSIONS

CONNECT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class PlainUrl:
    """A URL this module can open without SQLAlchemy."""

    dialect: str  # sqlite, postgresql or mysql
    host: str = ""
    port: int = 0
    user: str | None = None
    password: str | None = None
    database: str = ""
    charset: str | None = None
    #: MySQL: the server's socket file
    unix_socket: str | None = None
    #: SQLite: the database file
    path: Path | None = None


def parse_plain_url(connection_url: str) -> PlainUrl | None:
    """The URL's parts, or None when the URL needs the full path."""
    try:
        parts = urlsplit(connection_url)
        scheme = parts.scheme.lower()
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if scheme == "sqlite":
            # sqlite:///relative, sqlite:////absolute; no memory databases
            if params or not parts.path.startswith("/") or parts.path in ("/", "/:memory:"):
                return None
            return PlainUrl("sqlite", path=Path(parts.path[1:]))
        if scheme in ("postgresql", "postgresql+psycopg2") and set(params) <= {"host", "port"}:
            dialect = "postgresql"
            host = params.get("host") or parts.hostname
            port = int(params.get("port") or parts.port or 5432)
        elif scheme in ("mysql+pymysql", "mariadb+pymysql") and set(params) <= {
            "charset", "unix_socket"
        }:
            dialect = "mysql"
            host = parts.hostname or ("localhost" if params.get("unix_socket") else None)
            port = parts.port or 3306
        else:
            return None
        database = unquote(parts.path.lstrip("/"))
        if not database or not host:
            return None
        return PlainUrl(
            dialect,
            host=host,
            port=port,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            database=database,
            charset=params.get("charset"),
            unix_socket=params.get("unix_socket"),
        )
    except ValueError:  # a malformed port, for one
        return None


def read_versions(connection_url: str) -> tuple[str, ...] | None:
    """The rows of the version table, or None when the full path must answer."""
    try:
        url = parse_plain_url(connection_url)
        if url is None or (url.path is not None and not url.path.is_file()):
            return None
        connection = connect_readonly(url)
        try:
            cursor = connection.cursor()
            cursor.execute(SELECT_VERSIONS)
            return tuple(str(row[0]) for row in cursor.fetchall())
        finally:
            connection.close()
    except Exception:
        return None


def connect_readonly(url: PlainUrl) -> Any:
    """An open read-only DB-API connection; the driver's own exception when that
    fails.  The driver is imported here, for the one dialect the URL names (lazily,
    for start-up time)."""
    if url.dialect == "sqlite":
        import sqlite3

        assert url.path is not None
        uri = f"{url.path.resolve().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True, isolation_level=None)
    if url.dialect == "postgresql":
        import psycopg2  # type: ignore[import-untyped]

        connection = psycopg2.connect(
            host=url.host, port=url.port, dbname=url.database, user=url.user,
            password=url.password, connect_timeout=CONNECT_TIMEOUT_SECONDS,
        )
        connection.set_session(readonly=True, autocommit=True)
        return connection
    import pymysql  # type: ignore[import-untyped]

    return pymysql.connect(
        host=url.host, port=url.port, database=url.database, user=url.user or "",
        password=url.password or "", charset=url.charset or "utf8mb4",
        unix_socket=url.unix_socket, connect_timeout=CONNECT_TIMEOUT_SECONDS,
    )
