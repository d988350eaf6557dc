"""The migration lock: one writer at a time across a whole cluster.

* PostgreSQL and MySQL/MariaDB (a Galera cluster, PgBouncer in any pooling
  mode): a row under a lease, kept alive by a heartbeat (:mod:`.lockrow`,
  :mod:`.heartbeat`); a holder that died is taken over when the next run is on
  the same machine at once, otherwise once the holder's lease (30 s by
  default) has passed without a heartbeat;
* SQLite: an ``flock`` on ``<database file>.lock``, beside the real file when
  the configured path is a symbolic link (the file is
  :attr:`.database.Database.sqlite_file`; in-memory databases need no lock).

A waiting runner polls, says once who holds the lock (and again every
``report_every`` seconds), and gives up after ``timeout`` seconds with
:class:`~..errors.LockTimeoutError`.  Whoever gets the lock must re-read the
version afterwards: the previous holder may have done the work.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

from ..errors import DatabaseConnectionError, LockTimeoutError
from . import lockrow
from .heartbeat import Heartbeat
from .identity import this_run
from .sqlitefile import not_writable_error

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .database import Database

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
DEFAULT_TIMEOUT = 300.0
#: how long a holder that stopped beating keeps the lock
DEFAULT_LEASE = 30.0
#: the shortest lease accepted (a heartbeat every sixth of it)
MIN_LEASE = 3.0

WaitCallback = Callable[[str], None]
_Held = TypeVar("_Held")


@dataclass(frozen=True)
class _Waiting:
    """Not this time: the lock's holder as it describes itself (None: none seen)."""

    holder: str | None


@dataclass
class LockHold:
    """The held lock, for the run that holds it."""

    token: str
    #: the row of a dead run this run took the lock from (None: the lock was free)
    displaced: lockrow.Holder | None = None
    #: why the displaced holder counted as dead
    displaced_because: str = ""
    heartbeat: Heartbeat | None = None

    def check(self) -> None:
        """Raise :class:`~..errors.LockLostError` if this run may no longer hold the lock."""
        if self.heartbeat is not None:
            self.heartbeat.check()


@contextmanager
def migration_lock(
    database: Database,
    *,
    token: str = "",
    command: str = "upgrade",
    timeout: float = DEFAULT_TIMEOUT,
    lease: float = DEFAULT_LEASE,
    on_wait: WaitCallback | None = None,
    report_every: float = 30.0,
) -> Iterator[LockHold]:
    """Hold the migration lock for the block (``token`` names the run; a new one when empty)."""
    notify = on_wait or (lambda message: None)
    token = token or os.urandom(16).hex()
    if database.dialect == "sqlite":
        with sqlite_file_lock(database.sqlite_file, timeout, notify, report_every,
                              command=command):
            yield LockHold(token)
        return
    connection = database.connection
    claim = lockrow.claimant(token, command, int(max(lease, MIN_LEASE)))
    lockrow.ensure_table(connection)
    hold = _acquire(connection, claim, timeout, notify, report_every)
    hold.heartbeat = Heartbeat(database.engine, token, claim.lease_seconds)
    hold.heartbeat.start()
    try:
        yield hold
    finally:
        hold.heartbeat.stop()
        _release_quietly(database, token)


def _acquire(
    connection: Connection, claim: lockrow.Claimant, timeout: float,
    notify: WaitCallback, report_every: float,
) -> LockHold:
    """Insert the row, or wait for it to be released or for its holder to die."""
    seen: tuple[str, int] | None = None
    seen_since = time.monotonic()

    def attempt() -> LockHold | _Waiting:
        nonlocal seen, seen_since
        if lockrow.try_insert(connection, claim):
            return LockHold(claim.token)
        holder = lockrow.read_holder(connection)
        if holder is None:
            return _Waiting(None)
        now = time.monotonic()
        if (holder.token, holder.beat) != seen:
            seen, seen_since = (holder.token, holder.beat), now
        silent = now - seen_since
        gone = holder.process_gone()
        if gone or silent >= holder.lease_seconds:
            log.debug("trying to take over the lock of %s (process gone: %s, silent "
                      "%.1f s, beat %d)", holder.owner, gone, silent, holder.beat)
            if lockrow.take_over(connection, claim, holder):
                because = (
                    f"its process {holder.process.pid} on this machine is gone" if gone
                    else f"no heartbeat for {silent:.0f} s, over its lease of "
                         f"{holder.lease_seconds} s"
                )
                return LockHold(claim.token, holder, because)
            log.debug("the takeover failed: the holder's row changed meanwhile")
            seen = None
        return _Waiting(holder.describe())

    return _wait_for(attempt, timeout, notify, report_every)


def _release_quietly(database: Database, token: str) -> None:
    """Delete this run's row; if the run's connection is broken, through a new one.
    Failing that, the lease expires on its own."""
    connection = database.connection
    try:
        if connection.in_transaction():
            connection.rollback()
        lockrow.release(connection, token)
        return
    except Exception:
        pass
    try:
        with database.engine.connect() as fresh:
            lockrow.release(fresh, token)
    except Exception:
        pass


def _wait_for(
    attempt: Callable[[], _Held | _Waiting],
    timeout: float,
    notify: WaitCallback,
    report_every: float,
) -> _Held:
    """Call ``attempt`` until it returns the lock (not :class:`_Waiting`), saying who
    holds it once and every ``report_every`` seconds; give up after ``timeout``."""
    started = time.monotonic()
    last_report: float | None = None
    while True:
        outcome = attempt()
        if not isinstance(outcome, _Waiting):
            return outcome
        now = time.monotonic()
        if now - started >= timeout:
            if outcome.holder is None:
                raise LockTimeoutError(f"could not take the migration lock within {timeout:g} s; "
                                       "raise --lock-timeout")
            raise LockTimeoutError(
                f"another run ({outcome.holder}) has held the migration lock for over "
                f"{timeout:g} s; wait for it to finish or raise --lock-timeout"
            )
        if outcome.holder is not None and (last_report is None
                                           or now - last_report >= report_every):
            notify(f"waiting for the migration lock held by {outcome.holder}")
            last_report = now
        time.sleep(POLL_SECONDS)


@contextmanager
def sqlite_file_lock(
    path: Path | None, timeout: float, notify: WaitCallback, report_every: float = 30.0,
    *, command: str = "upgrade",
) -> Iterator[None]:
    """An ``flock`` on ``<path>.lock``; none for an in-memory database (``path`` None).

    The lock file gets the database file's mode and group (0600 before the
    database exists), and is deleted on release.  Because a waiting process
    may have opened the file just before it was deleted, a holder checks
    after locking that the name still leads to the file it locked, and
    starts again otherwise.  A database or directory that this user cannot
    write is refused here, before a writing command does anything.
    """
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + ".lock")
    not_writable = not_writable_error(path)
    if not_writable is not None:
        raise not_writable
    handle: IO[str] | None = None

    def holder() -> str:
        try:
            return lock_path.read_text(encoding="utf-8").strip() or "another process"
        except (OSError, UnicodeDecodeError):
            return "another process"

    def attempt() -> IO[str] | _Waiting:
        nonlocal handle
        if handle is None:
            handle = _open_lock_file(lock_path, path)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _Waiting(holder())
        if not _same_file(handle, lock_path):  # deleted by the holder that released it
            handle.close()
            handle = None
            return _Waiting(holder())
        handle.seek(0)
        handle.truncate()
        handle.write(this_run(command) + "\n")
        handle.flush()
        return handle

    try:
        _wait_for(attempt, timeout, notify, report_every)
        assert handle is not None
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                lock_path.unlink()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        if handle is not None:
            handle.close()


def _open_lock_file(lock_path: Path, database: Path) -> IO[str]:
    """The lock file, opened for writing; created 0600, then given the database's mode."""
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        raise DatabaseConnectionError(
            f"cannot open the migration lock file {lock_path} ({error.strerror or error}); "
            "run as the database's owner, or remove the file if no run is in progress"
        ) from None
    handle = os.fdopen(descriptor, "r+", encoding="utf-8")
    try:
        info = os.fstat(descriptor)
        if info.st_uid == os.geteuid() and database.exists():
            like = database.stat()
            os.fchmod(descriptor, stat.S_IMODE(like.st_mode) & 0o666)
            with contextlib.suppress(PermissionError):
                os.fchown(descriptor, -1, like.st_gid)
    except BaseException:
        handle.close()
        raise
    return handle


def _same_file(handle: IO[str], path: Path) -> bool:
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(handle.fileno())
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)
