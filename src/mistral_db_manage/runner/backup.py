"""A consistent copy of a SQLite database file before it is upgraded.

Uses SQLite's online backup API (a consistent snapshot even while another
connection reads), writing ``<file>.<revision>-<UTC time>.bak`` beside the
database.  The copy holds everything the database does (auth tokens,
environment variables of executions), so:

* it is never more readable than the database: it is written to a temporary
  file created with mode 0600, given the database's mode (and its group,
  where the process may set it), then renamed to its final name, so that no
  other user can open it at any moment and a crash never leaves a half copy
  under a backup's name;
* the backups of a database do not pile up: after each new one, only the
  newest ``keep`` are kept (the others, and temporary files left by a crashed
  copy, are deleted).  The caller holds the migration lock, so no other run
  is copying at the same time.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

from ..errors import MistralDbManageError
from ..limits import DEFAULT_KEEP_BACKUPS
from .files import write_atomically

_TEMPORARY_SUFFIX = ".bak.partial"


def _pattern(database: Path) -> re.Pattern[str]:
    """The names of this database's backups; group 1 is the time of the copy."""
    return re.compile(re.escape(database.name) + r"\.[A-Za-z0-9_]+-(\d{8}T\d{6}Z)\.bak")


def match_owner(path: Path, like: Path) -> None:
    """Give ``path`` the permission bits of ``like``, and its group where allowed."""
    info = like.stat()
    os.chmod(path, stat.S_IMODE(info.st_mode) & 0o666)
    with contextlib.suppress(PermissionError):  # only a member of the group may set it
        os.chown(path, -1, info.st_gid)


def backup_sqlite(database: Path, revision: str | None, *,
                  keep: int = DEFAULT_KEEP_BACKUPS) -> Path:
    """Copy ``database`` beside itself; return the copy.  Keeps the newest ``keep`` backups."""
    if keep < 1:
        raise ValueError("keep at least the backup just made")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = database.with_name(f"{database.name}.{revision or 'base'}-{stamp}.bak")
    partial = target.with_name(f".{target.name}{_TEMPORARY_SUFFIX}")
    _remove_partials(database)
    def fill(path: Path) -> None:
        match_owner(path, database)
        _copy(database, path)

    try:
        write_atomically(target, partial, fill)
    except OSError as error:
        raise MistralDbManageError(
            f"cannot write the backup of {database} to {database.parent} "
            f"({error.strerror or error}); make the directory writable, free some space, "
            "or run with --no-backup; nothing was changed"
        ) from None
    prune_backups(database, keep)
    return target


def _copy(database: Path, target: Path) -> None:
    source = sqlite3.connect(str(database))
    try:
        copy = sqlite3.connect(str(target))
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    descriptor = os.open(target, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_partials(database: Path) -> None:
    """Delete the temporary files of copies that never finished."""
    prefix = f".{database.name}."
    for entry in database.parent.glob(f".{glob_escape(database.name)}.*{_TEMPORARY_SUFFIX}"):
        if entry.name.startswith(prefix):
            with contextlib.suppress(OSError):
                entry.unlink()


def glob_escape(name: str) -> str:
    """``name`` with the characters that mean something to :meth:`Path.glob` escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def backups_of(database: Path) -> list[Path]:
    """The backups of ``database`` beside it, oldest first."""
    pattern = _pattern(database)
    found: list[tuple[str, str, Path]] = []
    for entry in database.parent.glob(f"{glob_escape(database.name)}.*.bak"):
        match = pattern.fullmatch(entry.name)
        if match is not None:
            found.append((match.group(1), entry.name, entry))
    return [path for _stamp, _name, path in sorted(found)]


def prune_backups(database: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups of ``database``; return the deleted ones."""
    old = backups_of(database)[:-keep]
    removed = []
    for path in old:
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed
