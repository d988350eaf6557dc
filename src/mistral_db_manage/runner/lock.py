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

import fcntl
import getpass
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LockTimeoutError
from .connect import connect_checked

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
    """An ``flock`` on ``<path>.lock``; none for an in-memory database (``path`` None)."""
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + ".lock")
    handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the block
    try:

        def try_acquire() -> bool:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            handle.seek(0)
            handle.truncate()
            handle.write(whoami() + "\n")
            handle.flush()
            return True

        def holder() -> str:
            try:
                return lock_path.read_text(encoding="utf-8").strip() or "another process"
            except OSError:
                return "another process"

        _wait_for(try_acquire, holder, timeout, notify, report_every)
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
