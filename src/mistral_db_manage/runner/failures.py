"""One line for a database error that no command turned into its own message.

The commands explain the failures they expect (a server that cannot be
reached, a revision that fails, drift...).  What is left reaches the CLI as
the driver's exception, wrapped by SQLAlchemy with the SQL statement and its
parameters (which may hold a definition's text, or anything else).  This
module names such an error in one line: the driver's own first line, with
any secret of the configured URL hidden, and what to do for the failures an
operator meets in practice (a SQLite file that is not a database or is
damaged, read-only or locked; a MySQL server that dropped the connection,
usually over ``max_allowed_packet``).  The statement and its parameters are
never shown.

Nothing is imported here that the caller has not imported already: this runs
on the error path of ``current`` and ``history`` too (start-up time).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from ..errors import DatabaseConnectionError, MistralDbManageError
from .dburl import DatabaseUrl, parse_url, sqlite_file
from .identity import os_user

_FIX_URL = "fix [database] connection"


def _driver_error(error: BaseException) -> BaseException | None:
    """The DB-API exception in ``error`` (SQLAlchemy's wrapper unwrapped), or None."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(error, sa_exc.DBAPIError):
        original = error.orig
        return original if isinstance(original, BaseException) else error
    driver_bases = [sqlite3.Error]
    for module, name in (("pymysql.err", "MySQLError"), ("psycopg2", "Error")):
        loaded = sys.modules.get(module)
        if loaded is not None:
            driver_bases.append(getattr(loaded, name))
    return error if isinstance(error, tuple(driver_bases)) else None


def first_line(error: BaseException) -> str:
    """The first line of what the driver says (SQLAlchemy's wrapper unwrapped; of
    MySQL's ``(code, message)`` the message), or of the error itself; never empty."""
    error = _driver_error(error) or error
    args: tuple[object, ...] = getattr(error, "args", ())
    text = args[1] if len(args) >= 2 and isinstance(args[1], str) else str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _errno(error: BaseException) -> int | None:
    args: tuple[object, ...] = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _scrub(text: str, url: DatabaseUrl | None) -> str:
    for secret in url.secrets if url is not None else ():
        text = text.replace(secret, "***")
    return text


def _sqlite_message(path: Path | None, said: str) -> str:
    where = str(path) if path is not None else "in memory"
    lowered = said.lower()
    if "not a database" in lowered or "malformed" in lowered:
        return (
            f"the SQLite file {where} is not a SQLite database or is damaged ({said}); "
            f"restore it from a backup ({where}.*.bak) or {_FIX_URL}; nothing was changed"
        )
    if "readonly" in lowered or "read-only" in lowered:
        return (
            f"the SQLite database {where} is read-only for {os_user()} ({said}); run as its "
            "owner or make it (and its directory) writable"
        )
    if "locked" in lowered:
        return (
            f"the SQLite database {where} is locked by another process ({said}); "
            "stop what holds it (a Mistral service?) and try again"
        )
    if "unable to open" in lowered:
        return (
            f"cannot open the SQLite database {where} ({said}); check that its directory "
            f"exists and is writable, or {_FIX_URL}"
        )
    return f"the SQLite database {where} reported an error: {said}"


def _server_message(url: DatabaseUrl, error: BaseException, said: str) -> str:
    label = url.driver_info.label
    errno = _errno(error)
    lowered = said.lower()
    if errno in (1153, 2006, 2013) or "gone away" in lowered or "max_allowed_packet" in lowered:
        return (
            f"the {label} server closed the connection ({said}); a statement was probably "
            "larger than the server's max_allowed_packet: raise max_allowed_packet on the "
            "server or make the definitions smaller; the open transaction was rolled back"
        )
    return f"the {label} server reported an error: {said}"


def describe_database_error(error: BaseException, connection_url: str | DatabaseUrl) -> (
    MistralDbManageError | None
):
    """A one-line error for a database failure no command explained; None for anything else.

    ``connection_url`` (``""`` if unknown) names the database and gives the
    secrets to hide.
    """
    driver_error = _driver_error(error)
    if driver_error is None:
        return None
    url: DatabaseUrl | None = None
    if isinstance(connection_url, DatabaseUrl):
        url = connection_url
    elif connection_url:
        try:
            url = parse_url(connection_url)
        except MistralDbManageError:
            url = None
    said = _scrub(first_line(driver_error), url)
    if url is None or url.dialect == "sqlite":
        path = sqlite_file(url) if url is not None else None
        return DatabaseConnectionError(_sqlite_message(path, said))
    return DatabaseConnectionError(_server_message(url, driver_error, said))
