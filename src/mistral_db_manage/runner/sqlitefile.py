"""A SQLite database file: who may write it, how a reader opens it, its journal mode.

The tool leaves every SQLite file it upgrades in write-ahead-log mode (WAL, a
property of the file that stays): the Mistral services run as several
processes on one file, and with SQLite's rollback journal one reader blocks
every writer (``database is locked``).  WAL asks something of readers,
though: a reader maps the ``<file>-shm`` index beside the database and
creates it when it is missing; a reader that cannot write there fails with
"attempt to write a readonly database", and a reader that can create files
there but not remove them on close leaves ``-wal`` and ``-shm`` files owned by
itself, which the services may then be unable to write.

So a process that may not write the file or its directory opens it without
writing anything (:func:`connect_for_reading`):

* when a ``-wal`` or ``-journal`` file is present (a writer is working, or one
  died), read-only through SQLite's locks (``mode=ro``), which reads the
  committed pages of the log, or rolls nothing back and fails clearly;
* otherwise the file alone holds every committed page: it is opened
  ``immutable=1``, which reads it without locks and creates no file.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import DatabaseConnectionError
from .identity import os_user

#: the companion files SQLite may keep beside a database file
COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")


def may_write(path: Path) -> bool:
    """Whether this process may write the file and create files beside it."""
    return not_writable_error(path) is None


def not_writable_error(path: Path) -> DatabaseConnectionError | None:
    """The one-line refusal for a file this process may not write (None: it may)."""
    directory = path.parent
    if not os.access(directory, os.W_OK | os.X_OK):
        return DatabaseConnectionError(
            f"the directory {directory} of the SQLite database is not writable for "
            f"{os_user()}; SQLite writes its journal and this tool its lock file there: "
            "run as the database's owner or make the directory writable; nothing was changed"
        )
    if path.exists() and not os.access(path, os.W_OK):
        return DatabaseConnectionError(
            f"the SQLite database {path} is read-only for {os_user()}; run as its owner "
            "or make it writable; nothing was changed"
        )
    return None


def connect_for_reading(path: Path) -> sqlite3.Connection:
    """A connection that reads ``path`` without creating or changing any file."""
    busy = any(path.with_name(path.name + suffix).exists() for suffix in ("-wal", "-journal"))
    uri = f"{path.as_uri()}?{'mode=ro' if busy else 'immutable=1'}"
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)


def journal_mode(connection: sqlite3.Connection) -> str:
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode")
        return str(cursor.fetchone()[0]).lower()
    finally:
        cursor.close()


def switch_to_wal(connection: sqlite3.Connection) -> str | None:
    """Put the file in WAL mode; None when it is (now) in WAL mode, else why not.

    Outside any transaction.  The switch needs the file to itself: a service
    holding it open keeps it in its current mode ("database is locked").
    """
    if journal_mode(connection) == "wal":
        return None
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        mode = str(cursor.fetchone()[0]).lower()
    except sqlite3.Error as error:
        return str(error)
    finally:
        cursor.close()
    return None if mode == "wal" else f"SQLite kept the {mode} journal mode"
