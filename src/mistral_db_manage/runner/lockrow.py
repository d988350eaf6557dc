"""The migration lock of a server database: one row, held under a lease.

Why a row.  A server's own locks do not hold where Mistral's databases live:
MySQL's ``GET_LOCK`` is local to one node of a Galera cluster (three runs
through three nodes all "hold" it), and a PostgreSQL session advisory lock
belongs to a server connection that PgBouncer's transaction pooling hands to
other clients between transactions.  A row in ``mistral_db_manage_lock``
replicates like any other write and needs no session state.

The protocol (every step one short transaction, committed at once):

* **acquire**: insert the row named ``migration``; its primary key lets one
  insert win (on Galera the others fail certification with a deadlock error,
  which counts as "taken");
* **hold**: a heartbeat (:mod:`.heartbeat`) adds one to ``beat`` every few
  seconds, through its own connection, for as long as the row still carries
  this run's token; the holder writes how long its lease is;
* **release**: delete the row that carries this run's token;
* **take over**: a waiter replaces the row with one compare-and-set ``UPDATE
  ... WHERE token = <seen> AND beat = <seen>`` when the holder is provably
  gone, or when it has seen the same token and beat for the holder's whole
  lease by its own monotonic clock (so clocks of different machines never
  matter).  A holder is provably gone when the row names this very machine
  (same boot and process namespace) and its process no longer exists, or
  exists with another start time.

On Galera a long schema change (TOI) holds back the commit of the holder's
next heartbeat on every node; but the cluster orders the heartbeat when it is
sent, so a takeover sent later fails certification against it: a live holder
is not displaced by a long DDL.  On PostgreSQL and a single MySQL the
heartbeat's row is never locked by the migration itself.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    exc,
    inspect,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Executable

from .galera import cluster_wide_ddl
from .identity import this_run

LOCK_TABLE_NAME = "mistral_db_manage_lock"
#: the one row's name
LOCK_NAME = "migration"

# Errors that mean "another run's write won the race" (the row is someone else's).
_LOST_RACE_MYSQL = frozenset({1062, 1205, 1213})  # duplicate, lock wait timeout, deadlock
_LOST_RACE_PG = frozenset({"23505", "40001", "40P01"})


@cache
def lock_table() -> Table:
    """The table's definition."""
    return Table(
        LOCK_TABLE_NAME,
        MetaData(),
        Column("name", String(32), primary_key=True),
        Column("token", String(64), nullable=False),
        # who holds it, for the messages of waiting runs
        Column("owner", String(255), nullable=False),
        # this machine's boot and process namespace (see this_process)
        Column("host_key", String(64), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("pid_started", BigInteger, nullable=False),
        Column("lease_seconds", Integer, nullable=False),
        Column("beat", BigInteger, nullable=False),
        Column("acquired_at", DateTime, nullable=False),
        Column("beat_at", DateTime, nullable=False),
    )


@dataclass(frozen=True)
class ProcessIdentity:
    """Enough to prove, from the same machine, that a process has ended."""

    #: digest of the boot id and the pid namespace ('' where /proc cannot tell)
    host_key: str
    pid: int
    #: the process's start time in clock ticks since boot (0: unknown)
    started: int


def _start_ticks(pid: int) -> int | None:
    """The start time of process ``pid``, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its end
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[19])  # field 22 of the whole line
    except (IndexError, ValueError):
        return 0


def this_process() -> ProcessIdentity:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return ProcessIdentity("", os.getpid(), 0)
    key = hashlib.sha256(f"{boot}|{namespace}".encode()).hexdigest()[:32]
    return ProcessIdentity(key, os.getpid(), _start_ticks(os.getpid()) or 0)


@dataclass(frozen=True)
class Claimant:
    """A run that wants the lock."""

    token: str
    owner: str
    process: ProcessIdentity
    lease_seconds: int


def claimant(token: str, command: str, lease_seconds: int) -> Claimant:
    return Claimant(token, this_run(command)[:255], this_process(), lease_seconds)


@dataclass(frozen=True)
class Holder:
    """The row as a waiting run reads it."""

    token: str
    owner: str
    process: ProcessIdentity
    lease_seconds: int
    beat: int
    acquired_at: datetime
    beat_at: datetime

    def describe(self) -> str:
        return f"{self.owner}, since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC"

    def process_gone(self) -> bool:
        """True only when provably so: the row names this machine and the process
        is gone or is another one now."""
        here = this_process()
        if not here.host_key or self.process.host_key != here.host_key:
            return False
        started = _start_ticks(self.process.pid)
        return started is None or (self.process.started != 0 and started != self.process.started)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def ensure_table(connection: Connection) -> None:
    """Create the table when missing (concurrent creators: the first one wins)."""
    if not inspect(connection).has_table(LOCK_TABLE_NAME):
        connection.rollback()
        try:
            with cluster_wide_ddl(connection):
                lock_table().create(connection, checkfirst=True)
            connection.commit()
        except exc.DBAPIError:
            connection.rollback()
            if not inspect(connection).has_table(LOCK_TABLE_NAME):
                raise
    connection.rollback()


def lost_race(error: exc.DBAPIError) -> bool:
    """Whether ``error`` means that another run's concurrent write won."""
    original = error.orig
    code = getattr(original, "pgcode", None)
    if code is not None:
        return code in _LOST_RACE_PG
    args: tuple[object, ...] = tuple(getattr(original, "args", ()))
    return bool(args) and args[0] in _LOST_RACE_MYSQL


def _row_values(claim: Claimant) -> dict[str, object]:
    now = _now()
    return {
        "token": claim.token, "owner": claim.owner, "host_key": claim.process.host_key,
        "pid": claim.process.pid, "pid_started": claim.process.started,
        "lease_seconds": claim.lease_seconds, "beat": 0, "acquired_at": now, "beat_at": now,
    }


def try_insert(connection: Connection, claim: Claimant) -> bool:
    """Take the lock when nobody holds it."""
    table = lock_table()
    statement: Executable
    if connection.dialect.name == "postgresql":
        # Imported here, for start-up time: a MySQL or SQLite run never needs it.
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(table).values(
            name=LOCK_NAME, **_row_values(claim)).on_conflict_do_nothing(index_elements=["name"])
    else:
        statement = table.insert().prefix_with("IGNORE").values(
            name=LOCK_NAME, **_row_values(claim))
    return _committed(connection, lambda: connection.execute(statement).rowcount == 1)


def read_holder(connection: Connection) -> Holder | None:
    table = lock_table()
    row = connection.execute(select(table).where(table.c.name == LOCK_NAME)).first()
    connection.rollback()
    if row is None:
        return None
    return Holder(
        row.token, row.owner, ProcessIdentity(row.host_key, row.pid, row.pid_started),
        row.lease_seconds, row.beat, row.acquired_at, row.beat_at,
    )


def take_over(connection: Connection, claim: Claimant, holder: Holder) -> bool:
    """Replace ``holder``'s row if it is still exactly as seen."""
    table = lock_table()
    statement = table.update().where(
        table.c.name == LOCK_NAME, table.c.token == holder.token, table.c.beat == holder.beat
    ).values(**_row_values(claim))
    return _committed(connection, lambda: connection.execute(statement).rowcount == 1)


def beat(connection: Connection, token: str) -> bool:
    """One heartbeat; False when the row no longer carries ``token`` (the lock is lost).
    Any error of the server is raised: it proves nothing either way."""
    table = lock_table()
    statement = table.update().where(
        table.c.name == LOCK_NAME, table.c.token == token
    ).values(beat=table.c.beat + 1, beat_at=_now())
    held = connection.execute(statement).rowcount == 1
    connection.commit()
    return held


def release(connection: Connection, token: str) -> None:
    table = lock_table()
    connection.execute(table.delete().where(table.c.name == LOCK_NAME, table.c.token == token))
    connection.commit()


def _committed(connection: Connection, write: Callable[[], bool]) -> bool:
    """Run ``write`` (returns whether it took effect) and commit; a lost race is False."""
    try:
        done = bool(write())
        connection.commit()
        return done
    except exc.DBAPIError as error:
        connection.rollback()
        if lost_race(error):
            return False
        raise
