"""Reading the version record through the bare driver, for a fast ``current``.

Importing SQLAlchemy costs about 0.25 s, more than ``current`` takes in all,
and configuration management runs ``current`` on every pass.  So ``current``
and ``history`` first ask the driver directly for the rows of the version
table (with :data:`.version.SELECT_VERSIONS`, the version record's own query),
read-only, for the plain URLs operators use (split by :func:`.dburl.parse_url`
into the very parts the full path gives SQLAlchemy; each parameter given once,
since a repeated one, such as several PostgreSQL hosts, means more to
SQLAlchemy than to the bare driver):

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

from ..errors import ConfigError
from .dburl import DatabaseUrl, parse_url, sqlite_file
from .version import SELECT_VERSIONS

#: seconds a network driver waits for the server (the full path's engines use it too)
CONNECT_TIMEOUT_SECONDS = 10

# Scheme -> the query parameters the bare driver understands for it.
_PLAIN_PARAMS = {
    "postgresql": frozenset({"host", "port"}),
    "postgresql+psycopg2": frozenset({"host", "port"}),
    "mysql+pymysql": frozenset({"charset", "unix_socket"}),
    "mariadb+pymysql": frozenset({"charset", "unix_socket"}),
}


@dataclass(frozen=True)
class PlainUrl:
    """A URL this module can open without SQLAlchemy: the parsed URL, and where
    the driver connects (what the driver's defaults and the query add to it)."""

    url: DatabaseUrl
    host: str = ""
    port: int = 0
    #: SQLite: the database file (:func:`.dburl.sqlite_file`, links resolved)
    path: Path | None = None


def parse_plain_url(connection_url: str) -> PlainUrl | None:
    """The URL as :func:`.dburl.parse_url` splits it, or None when it needs the full path."""
    try:
        url = parse_url(connection_url)
    except ConfigError:
        return None  # the full path explains it
    if url.scheme == "sqlite":
        # sqlite:///relative, sqlite:////absolute; no memory databases, no parameters
        path = sqlite_file(url)
        return PlainUrl(url, path=path) if path is not None and not url.query else None
    allowed = _PLAIN_PARAMS.get(url.scheme)
    keys = [key for key, _value in url.query]
    if allowed is None or not set(keys) <= allowed or len(set(keys)) < len(keys):
        return None
    params = dict(url.query)
    default_port = url.driver_info.default_port or 0
    if url.dialect == "postgresql":
        host = params.get("host") or url.host
        try:
            port = int(params["port"]) if params.get("port") else url.port or default_port
        except ValueError:
            return None
    else:
        host = url.host or ("localhost" if params.get("unix_socket") else None)
        port = url.port or default_port
    if not url.database or not host:
        return None
    return PlainUrl(url, host=host, port=port)


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


def connect_readonly(plain: PlainUrl) -> Any:
    """An open read-only DB-API connection; the driver's own exception when that
    fails.  The driver is imported here, for the one dialect the URL names (lazily,
    for start-up time)."""
    url = plain.url
    if url.dialect == "sqlite":
        from .sqlitefile import connect_for_reading

        assert plain.path is not None
        return connect_for_reading(plain.path)
    if url.dialect == "postgresql":
        import psycopg2  # type: ignore[import-untyped]

        connection = psycopg2.connect(
            host=plain.host, port=plain.port, dbname=url.database, user=url.username or None,
            password=url.password, connect_timeout=CONNECT_TIMEOUT_SECONDS,
        )
        connection.set_session(readonly=True, autocommit=True)
        return connection
    import pymysql  # type: ignore[import-untyped]

    params = dict(url.query)
    return pymysql.connect(
        host=plain.host, port=plain.port, database=url.database, user=url.username or "",
        password=url.password or "", charset=params.get("charset") or "utf8mb4",
        unix_socket=params.get("unix_socket"), connect_timeout=CONNECT_TIMEOUT_SECONDS,
    )
