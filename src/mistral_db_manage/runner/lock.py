"""The migration lock: one writer at a time, released when its holder dies.

* PostgreSQL: a session-level advisory lock on a dedicated connection;
* MySQL/MariaDB: ``GET_LOCK`` on a dedicated connection (the name includes
  the database, since MySQL's named locks are server-wide);
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
import getpass
import os
import socket
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import DatabaseConnectionError, LockTimeoutError
from .connect import connect_checked
from .identity import os_user

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .database import Database

#: advisory lock key: the bytes of "mistrald" as a (positive) 64-bit integer
PG_LOCK_KEY = 0x6D69737472616C64
POLL_SECONDS = 0.2
DEFAULT_TIMEOUT = 300.0

WaitCallback = Callable[[str], None]


def whoami() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"mistral-db-manage {user}@{socket.gethostname()} pid {os.getpid()}"


@contextmanager
def migration_lock(
    database: Database,
    *,
    connection: Connection | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    on_wait: WaitCallback | None = None,
    report_every: float = 30.0,
) -> Iterator[None]:
    """Hold the migration lock for the block.

    On PostgreSQL and MySQL the lock belongs to a session: give the run's own
    ``connection`` (the lock then survives its commits and rollbacks and dies
    with it), or let the lock open a dedicated one.
    """
    notify = on_wait or (lambda message: None)
    if database.dialect == "sqlite":
        with sqlite_file_lock(database.sqlite_file, timeout, notify, report_every):
            yield
        return
    own = connection is None
    session = connect_checked(database.engine) if connection is None else connection

    def first_row(sql: str, params: Mapping[str, Any]) -> Any:
        return session.exec_driver_sql(sql, dict(params)).first()

    try:
        lock = server_lock(database.dialect, first_row)
        _wait_for(lock.try_acquire, lock.holder, timeout, notify, report_every)
        session.commit()
        try:
            yield
        finally:
            lock.release_quietly(session)
    finally:
        if own:
            session.close()


def _wait_for(
    try_acquire: Callable[[], bool],
    holder: Callable[[], str],
    timeout: float,
    notify: WaitCallback,
    report_every: float,
) -> None:
    started = time.monotonic()
    last_report: float | None = None
    while not try_acquire():
        now = time.monotonic()
        if now - started >= timeout:
            raise LockTimeoutError(
                f"another run ({holder()}) has held the migration lock for over {timeout:g} s; "
                "wait for it to finish or raise --lock-timeout"
            )
        if last_report is None or now - last_report >= report_every:
            notify(f"waiting for the migration lock held by {holder()}")
            last_report = now
        time.sleep(POLL_SECONDS)


#: Runs one statement (parameters in the ``%(name)s`` style of psycopg2 and
#: PyMySQL) on the session that holds the lock and returns its first row.
FirstRow = Callable[[str, Mapping[str, Any]], Any]


class ServerLock:
    """The lock of a PostgreSQL or MySQL session, whatever drives the session
    (given as a function that runs one statement on it)."""

    def __init__(self, first_row: FirstRow) -> None:
        self.first_row = first_row

    def scalar(self, sql: str, **params: Any) -> Any:
        row = self.first_row(sql, params)
        return None if row is None else row[0]

    def try_acquire(self) -> bool:
        raise NotImplementedError

    def holder(self) -> str:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def release_quietly(self, session: Any) -> None:
        """End what ``session`` left open, release the lock and commit, ignoring
        failures: the lock dies with the session anyway, which is closed next."""
        try:
            session.rollback()
            self.release()
            session.commit()
        except Exception:
            pass


def server_lock(dialect: str, first_row: FirstRow) -> ServerLock:
    """The lock for ``dialect`` on the session behind ``first_row``, announced."""
    return _PostgresLock(first_row) if dialect == "postgresql" else _MysqlLock(first_row)


class _PostgresLock(ServerLock):
    def __init__(self, first_row: FirstRow) -> None:
        super().__init__(first_row)
        # shown by pg_stat_activity, hence by a waiting runner's message
        self.scalar("SELECT set_config('application_name', %(name)s, false)", name=whoami()[:63])

    def try_acquire(self) -> bool:
        return bool(self.scalar("SELECT pg_try_advisory_lock(%(key)s)", key=PG_LOCK_KEY))

    def holder(self) -> str:
        row = self.first_row(
            "SELECT a.application_name, a.usename, a.client_addr, a.pid "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND ((l.classid::bigint << 32) | l.objid::bigint) = %(key)s",
            {"key": PG_LOCK_KEY},
        )
        if row is None:
            return "another session"
        app, user, address, pid = row
        return f"{app or 'a session'} (user {user}, backend pid {pid}, from {address or 'local'})"

    def release(self) -> None:
        self.scalar("SELECT pg_advisory_unlock(%(key)s)", key=PG_LOCK_KEY)


class _MysqlLock(ServerLock):
    def __init__(self, first_row: FirstRow) -> None:
        super().__init__(first_row)
        database = self.scalar("SELECT DATABASE()") or ""
        self.name = f"mistral_db_manage.{database}"[:64]

    def try_acquire(self) -> bool:
        return bool(self.scalar("SELECT GET_LOCK(%(name)s, 0)", name=self.name) == 1)

    def holder(self) -> str:
        connection_id = self.scalar("SELECT IS_USED_LOCK(%(name)s)", name=self.name)
        if connection_id is None:
            return "another session"
        row = self.first_row(
            "SELECT user, host FROM information_schema.processlist WHERE id = %(id)s",
            {"id": connection_id},
        )
        where = f"{row[0]}@{row[1]}" if row else "unknown"
        return f"MySQL connection {connection_id} ({where})"

    def release(self) -> None:
        self.scalar("SELECT RELEASE_LOCK(%(name)s)", name=self.name)


@contextmanager
def sqlite_file_lock(
    path: Path | None, timeout: float, notify: WaitCallback, report_every: float = 30.0
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
    _check_writable(path)
    handle: IO[str] | None = None

    def try_acquire() -> bool:
        nonlocal handle
        if handle is None:
            handle = _open_lock_file(lock_path, path)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if not _same_file(handle, lock_path):  # deleted by the holder that released it
            handle.close()
            handle = None
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(whoami() + "\n")
        handle.flush()
        return True

    def holder() -> str:
        try:
            return lock_path.read_text(encoding="utf-8").strip() or "another process"
        except (OSError, UnicodeDecodeError):
            return "another process"

    try:
        _wait_for(try_acquire, holder, timeout, notify, report_every)
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


def _check_writable(path: Path) -> None:
    directory = path.parent
    if not os.access(directory, os.W_OK | os.X_OK):
        raise DatabaseConnectionError(
            f"the directory {directory} of the SQLite database is not writable for "
            f"{os_user()}; SQLite writes its journal and this tool its lock file there: "
            "run as the database's owner or make the directory writable; nothing was changed"
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise DatabaseConnectionError(
            f"the SQLite database {path} is read-only for {os_user()}; run as its owner "
            "or make it writable; nothing was changed"
        )


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
