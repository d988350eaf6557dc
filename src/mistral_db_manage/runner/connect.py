"""From a configured database URL to an open connection, with one-line errors.

This module owns the step between ``[database] connection`` and a live
SQLAlchemy :class:`~sqlalchemy.engine.Connection`:

* :func:`make_url_checked` gives the SQLAlchemy URL of the configured one,
  parsed by :mod:`.dburl` (the one parser of ``[database] connection``, which
  also rejects the schemes this tool does not support);
* :func:`dialect_name` (from :mod:`.dburl`) names the database family without
  importing a driver (offline ``--sql`` mode works without drivers installed);
* :func:`create_engine_checked` builds the engine and reports a missing driver
  with the ``pip install`` command that provides it;
* :func:`connect_checked` opens a connection and turns the usual failures
  (server unreachable, unknown host, timeout, wrong credentials, unknown
  database, unusable SQLite file) into one line naming host, port, user and
  database, never the password.

What a scheme means (dialect family, DB-API module, how messages name the
server, its default port) is :data:`.dburl.DRIVERS`; the file of a SQLite URL
is :func:`.dburl.sqlite_file`.

URLs are used as the operator wrote them: nothing (charset, driver options) is
added to or removed from the URL, except that the scheme is given to
SQLAlchemy in lower case (its dialect registry knows no other spelling).  The
only additions are engine arguments: ``NullPool`` and a connect timeout for
network drivers.  One spelling is pinned to the driver it has always meant: a
bare ``postgresql://`` uses psycopg2 (as with oslo.db), although SQLAlchemy
2.1 would pick psycopg 3 for it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import NullPool

from mistral_db_manage.errors import (
    ConfigError,
    DatabaseConnectionError,
    DatabaseError,
    DriverMissingError,
)

from .dburl import (
    SUPPORTED_SCHEMES,
    DatabaseUrl,
    dialect_name,
    from_sqlalchemy,
    parse_url,
    sqlite_file,
)
from .driver import CONNECT_TIMEOUT_SECONDS
from .failures import describe_database_error, first_line

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "SUPPORTED_SCHEMES",
    "connect_checked",
    "create_engine_checked",
    "describe_connect_error",
    "dialect_name",
    "make_url_checked",
]


# Engine arguments / URL query keys that set the connect timeout, per driver.
_TIMEOUT_DRIVERS = frozenset({"psycopg2", "pymysql", "MySQLdb"})

_FIX_URL = "fix [database] connection"


# --------------------------------------------------------------------------- URLs


def make_url_checked(connection: str) -> URL:
    """The SQLAlchemy URL of ``connection``, a supported scheme, spelled as written.

    Raises :class:`ConfigError` (never showing the password) when the value is
    empty, is not a URL, names a scheme outside :data:`SUPPORTED_SCHEMES`, or
    is one of the URLs :func:`.dburl.parse_url` refuses as misread.
    """
    return parse_url(connection).to_sqlalchemy()


# --------------------------------------------------------------------------- engines


def _pip(package: str, extra: str) -> str:
    """How to install ``package`` into the environment running this tool, from a checkout
    as well as from an installed package (the extra names what it installs)."""
    return (f"{sys.executable} -m pip install {package} (what the extra "
            f"'mistral-db-manage[{extra}]' installs)")


def _install_hint(url: DatabaseUrl) -> str:
    module = url.driver
    if module == "psycopg2":
        return (
            f"the PostgreSQL driver psycopg2, needed by the URL scheme {url.drivername}://, "
            f"is not installed; install it with: {_pip('psycopg2-binary', 'postgresql')}"
        )
    if module == "pymysql":
        return (
            f"the MySQL/MariaDB driver PyMySQL, needed by the URL scheme {url.drivername}://, "
            f"is not installed; install it with: {_pip('PyMySQL', 'mysql')}"
        )
    if module == "MySQLdb":
        return (
            f"the URL scheme {url.drivername}:// selects the MySQLdb driver (package "
            "mysqlclient), which is not installed; write mysql+pymysql:// in [database] "
            "connection (as upstream Mistral configurations do) and install PyMySQL with: "
            f"{_pip('PyMySQL', 'mysql')}"
        )
    return (
        f"the Python module {module}, needed by the URL scheme {url.drivername}://, "
        "is not available; use a Python built with SQLite support"
    )


def _check_sqlite_directory(url: DatabaseUrl) -> None:
    path, absolute = url.sqlite_path, sqlite_file(url)
    if path is None or absolute is None:
        return
    parent = absolute.parent
    if parent.is_dir():
        return
    relative = ""
    if not path.is_absolute():
        relative = f" (the relative path {path} is taken from the current directory {Path.cwd()})"
    raise DatabaseConnectionError(
        f"the directory {parent} of the SQLite database {absolute} does not exist{relative}; "
        f"create it (mkdir -p {parent}) or {_FIX_URL}"
    )


def create_engine_checked(connection: str | DatabaseUrl, **kwargs: Any) -> Engine:
    """Create an engine for ``connection`` (as configured, or parsed by
    :func:`.dburl.parse_url`) without connecting.

    ``kwargs`` go to :func:`sqlalchemy.create_engine`; by default the engine
    uses :class:`~sqlalchemy.pool.NullPool`, and network drivers get
    ``connect_timeout`` = :data:`CONNECT_TIMEOUT_SECONDS` unless the URL query
    or ``connect_args`` sets one.

    Raises :class:`ConfigError` for a bad URL, :class:`DriverMissingError`
    when the driver module cannot be imported (naming the pip extra), and
    :class:`DatabaseConnectionError` when the directory of a SQLite file does
    not exist.
    """
    configured = parse_url(connection) if isinstance(connection, str) else connection
    if configured.dialect == "sqlite":
        _check_sqlite_directory(configured)
    # The registry knows lower-case names only.  A bare postgresql:// meant
    # psycopg2 for oslo.db and SQLAlchemy < 2.1; SQLAlchemy 2.1 switched the
    # default to psycopg 3.  Keep the meaning upstream Mistral configurations
    # were written for.
    scheme = "postgresql+psycopg2" if configured.scheme == "postgresql" else configured.scheme
    url = replace(configured, drivername=scheme).to_sqlalchemy()

    options: dict[str, Any] = dict(kwargs)
    options.setdefault("poolclass", NullPool)
    if configured.driver in _TIMEOUT_DRIVERS and "connect_timeout" not in url.query:
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        options["connect_args"] = connect_args

    try:
        return sqlalchemy.create_engine(url, **options)
    except ImportError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DriverMissingError(f"{_install_hint(configured)} (import error: {reason})") from None
    except (TypeError, ValueError, LookupError) as exc:
        # the dialect converts some ?parameters (read_timeout=abc) when the engine is made
        raise _rejected_by_driver(configured, exc) from None


# --------------------------------------------------------------------------- connecting


def connect_checked(engine: Engine) -> Connection:
    """Open a connection on ``engine``, reporting failures in one line.

    The returned connection is a context manager (``with connect_checked(e) as
    conn:``).  Raises :class:`DatabaseConnectionError` for an unreachable
    server, unknown host, timeout, rejected credentials, unknown database or
    unusable SQLite file, and :class:`ConfigError` when the driver rejects an
    argument taken from the URL's query string.
    """
    try:
        connection = engine.connect()
    except sa_exc.DBAPIError as exc:
        raise describe_connect_error(engine.url, exc.orig) from None
    except (TypeError, ValueError, LookupError, AttributeError) as exc:
        # The URL's parts reach the driver's connect() call, which may choke on
        # them: an unknown or malformed ?parameter, a password it cannot encode.
        raise _rejected_by_driver(from_sqlalchemy(engine.url), exc) from None
    if engine.dialect.name == "sqlite":
        _probe_sqlite(engine, connection)
    return connection


def _rejected_by_driver(url: DatabaseUrl, exc: BaseException) -> ConfigError:
    """The driver's connect() refused a part of the URL: say which, if it can be told."""
    if url.driver == "pymysql" and isinstance(exc, UnicodeEncodeError):
        for part, value in (("password", url.password), ("user name", url.username)):
            if value is not None and not _latin1(value):
                return ConfigError(
                    f"PyMySQL sends the {part} in Latin-1, and the {part} in [database] "
                    f"connection {url.masked()} holds characters outside it; use a {part} "
                    "of Latin-1 characters (change it on the server too)"
                )
    charset = url.query_mapping.get("charset")
    if url.driver == "pymysql" and isinstance(exc, AttributeError) and isinstance(charset, str):
        return ConfigError(
            f"the MySQL character set {charset!r} of [database] connection {url.masked()} "
            "is unknown to PyMySQL; use ?charset=utf8mb4 (or utf8)"
        )
    reason = f"{type(exc).__name__}: {_scrub(first_line(exc), url)}"
    return ConfigError(
        f"the database driver rejected an option of [database] connection "
        f"{url.masked()} ({reason}); remove or correct the ?parameter in the URL"
    )


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _probe_sqlite(engine: Engine, connection: Connection) -> None:
    """Read the SQLite file's header now, so that a file that is not a database
    (or is damaged) is reported here, in one line, before anything else."""
    # Through the driver, outside any transaction: a SQLAlchemy statement would begin
    # one (BEGIN IMMEDIATE on this tool's engines) before the migration lock is held.
    driver_connection = connection.connection.dbapi_connection
    assert driver_connection is not None
    try:
        cursor = driver_connection.cursor()
        try:
            cursor.execute("PRAGMA schema_version")
            cursor.fetchall()
        finally:
            cursor.close()
    except Exception as exc:
        described = describe_database_error(exc, from_sqlalchemy(engine.url))
        if described is None:
            raise
        connection.close()
        raise described from None


@contextmanager
def reported_failures(url: DatabaseUrl, doing: str) -> Iterator[None]:
    """Turn a server error escaping the block (the connection lost with a cluster node,
    a statement refused) into one line that says what was being done; no secret shown."""
    try:
        yield
    except sa_exc.DBAPIError as exc:
        message = _scrub(_driver_message(exc.orig), url)
        errno = _mysql_errno(exc.orig)
        code = f" ({errno})" if errno else ""
        raise DatabaseError(
            f"the database failed while {doing}{code}: {message}; the run stopped where it "
            "was safe to: see `mistral-db-manage status`, then run the command again"
        ) from exc


def _scrub(text: str, url: DatabaseUrl) -> str:
    """``text`` without the password or a secret query value (any of 3 characters or more)."""
    for secret in url.secrets:
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def _endpoint(url: DatabaseUrl) -> str:
    default_port = url.driver_info.default_port
    if url.host:
        return f"{url.host}:{url.port or default_port}"
    if url.driver == "psycopg2":
        return "the default local socket"
    return f"localhost:{url.port or default_port}"


def _driver_message(error: BaseException | None) -> str:
    """The server's or driver's own words, without libpq's location prefix."""
    if error is None:
        return ""
    args: tuple[Any, ...] = getattr(error, "args", ())
    if len(args) >= 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = args[1]  # PyMySQL / MySQLdb: (errno, message)
    else:
        text = str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    first = lines[0]
    first = re.sub(r"^connection to server (at|on) .*? failed: ", "", first)
    first = re.sub(r"^FATAL:\s+", "", first)
    return first


def _mysql_errno(error: BaseException | None) -> int | None:
    args: tuple[Any, ...] = getattr(error, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


_UNKNOWN_HOST = (
    "could not translate host name",
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "no address associated with hostname",
    "unknown mysql server host",
    "errno -2]",
    "errno -3]",
    "errno -5]",
    "getaddrinfo failed",
)
_TIMEOUT = ("timeout expired", "timed out")
_UNREACHABLE = (
    "connection refused",
    "no route to host",
    "network is unreachable",
    "host is unreachable",
    "could not connect to server",
    "can't connect to",
    "no such file or directory",
    "lost connection",
    "connection reset",
)
_BAD_CREDENTIALS = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "fe_sendauth",
    "no pg_hba.conf entry",
    "pg_hba.conf rejects",
    "access denied",
)


def describe_connect_error(
    url: URL | DatabaseUrl, error: BaseException | None
) -> DatabaseConnectionError:
    """Map a driver's connect-time exception to a one-line error for ``url``
    (an engine's URL, or one parsed by :func:`.dburl.parse_url`)."""
    if not isinstance(url, DatabaseUrl):
        url = from_sqlalchemy(url)
    said = _scrub(_driver_message(error), url)
    lowered = said.lower()
    label = url.driver_info.label

    if url.dialect == "sqlite":
        path = sqlite_file(url)
        where = str(path) if path is not None else "in memory"
        return DatabaseConnectionError(
            f"cannot open the SQLite database {where} ({said}); check that the path is a "
            f"file (not a directory) and that its directory is writable, or {_FIX_URL}"
        )

    endpoint = _endpoint(url)
    user = url.username or "(default user)"
    database = url.database or "(default database)"
    errno = _mysql_errno(error) if url.dialect == "mysql" else None

    if errno == 1049 or re.search(r'database ".*" does not exist', said):
        return DatabaseConnectionError(
            f"database {database!r} does not exist on the {label} server at {endpoint} "
            f"({said}); create it (CREATE DATABASE {database}) or fix the database name "
            "in [database] connection"
        )
    if re.search(r'role ".*" does not exist', said) or errno in (1045, 1698):
        return DatabaseConnectionError(
            f"the {label} server at {endpoint} rejected user {user!r} ({said}); check the "
            "user name and password in [database] connection"
        )
    if errno == 1044 or "permission denied for database" in lowered:
        return DatabaseConnectionError(
            f"user {user!r} may not use database {database!r} on the {label} server at "
            f"{endpoint} ({said}); grant the user access to the database or fix "
            "[database] connection"
        )
    if any(marker in lowered for marker in _BAD_CREDENTIALS):
        return DatabaseConnectionError(
            f"the {label} server at {endpoint} rejected user {user!r} ({said}); check the "
            "user name and password in [database] connection"
        )
    if any(marker in lowered for marker in _UNKNOWN_HOST) or errno == 2005:
        return DatabaseConnectionError(
            f"cannot resolve the host name {url.host or 'localhost'!r} of the {label} "
            f"server ({said}); check the host in [database] connection and DNS"
        )
    if any(marker in lowered for marker in _TIMEOUT):
        return DatabaseConnectionError(
            f"timed out connecting to the {label} server at {endpoint} ({said}); check the "
            "host and port in [database] connection and any firewall in between"
        )
    if any(marker in lowered for marker in _UNREACHABLE) or errno in (2002, 2003, 2013):
        return DatabaseConnectionError(
            f"cannot reach the {label} server at {endpoint} ({said}); check that the server "
            "is running and that the host and port in [database] connection are right"
        )
    return DatabaseConnectionError(
        f"cannot connect to the {label} server at {endpoint} as user {user!r}, database "
        f"{database!r}: {said}"
    )
