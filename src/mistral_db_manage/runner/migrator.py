"""The migrator: the policy of every run that changes the schema or its record.

One ``upgrade`` goes, in this order:

1. open the database, refuse a Galera node whose DDL would not replicate
   (:mod:`.galera`), and take the migration lock (:mod:`.lock`); the version
   is read only once the lock is held, so a run that waited for another finds
   nothing left to do; audit rows still ``running`` belong to runs that died
   (every audited run holds the lock): they are marked ``interrupted``, with
   where the database stands;
2. read the database (:func:`.preflight.read_snapshot`) and compute the plan
   (:func:`.plan.plan_upgrade`), the same value ``--plan`` prints;
3. preflight: refuse an unversioned Mistral database, and drift in the tables
   the plan changes (unless forced);
4. back up a SQLite file;
5. record the run in the audit trail (:mod:`.audit`) and hand the plan to the
   executor (:mod:`.execute`), which reports progress as events and asks the
   lock at each safe point whether it is still held.

``stamp`` and ``populate`` share the lock and the audit trail through
:meth:`Migrator.locked` and :func:`audited`.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import RevisionError, RunInterrupted
from ..limits import DEFAULT_KEEP_BACKUPS
from . import audit
from .audit import AuditRun
from .backup import backup_sqlite
from .chain import Chain
from .connect import reported_failures
from .database import Database, leave_in_wal_mode, open_database
from .events import EventSink, Notice, ignore
from .execute import Executor
from .failures import first_line
from .galera import refuse_split_ddl
from .lock import DEFAULT_LEASE, DEFAULT_TIMEOUT, LockHold, migration_lock
from .plan import DatabaseSnapshot, Strategy, UpgradePlan, plan_upgrade
from .preflight import (
    read_snapshot,
    recorded_revision,
    refuse_drift,
    refuse_mismatch,
    refuse_unversioned,
    stopped_at,
)
from .probe import estimator_for
from .stopping import SafePoints
from .version import has_version_table, read_version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpgradeOptions:
    """How an upgrade may go about its work."""

    #: upgrade even when the tables it changes have drifted
    force: bool = False
    #: SQLite: copy the database file first
    backup: bool = True
    #: seconds to wait for another run's migration lock
    lock_timeout: float = DEFAULT_TIMEOUT
    #: seconds a holder of the lock that stopped beating keeps it
    lock_lease: float = DEFAULT_LEASE
    #: the command recorded in the audit trail
    command: str = "upgrade"
    #: SQLite: how many backups of the file to keep (the newest)
    keep_backups: int = DEFAULT_KEEP_BACKUPS
    #: SQLite: leave the file in WAL mode (for the services' several processes;
    #: :mod:`.sqlitefile`)
    wal: bool = True


@dataclass(frozen=True)
class UpgradeResult:
    start: str | None
    end: str | None
    applied: tuple[str, ...]
    strategy: Strategy


def resolve_target(chain: Chain, target: str, delta: int | None, start: str | None) -> str | None:
    """``head``, an id, ``+N`` or a delta, from the database's revision ``start``."""
    if delta is not None:
        if delta < 0:
            raise RevisionError(f"--delta {delta}: only upgrades are supported")
        return chain.relative(start, str(delta))
    return chain.resolve(target, current=start)


class Migrator:
    """Runs the commands that change one database, inside the migration lock."""

    def __init__(self, connection_url: str, chain: Chain, events: EventSink = ignore) -> None:
        self.connection_url = connection_url
        self.chain = chain
        self.events = events
        #: the migration lock, while held
        self.hold: LockHold | None = None
        #: signals asking the run to stop, while it holds the lock
        self._stops: SafePoints | None = None

    @contextmanager
    def opened(self) -> Iterator[Database]:
        with open_database(self.connection_url) as database:
            yield database

    @contextmanager
    def locked(
        self, lock_timeout: float = DEFAULT_TIMEOUT, *, command: str = "upgrade",
        lease: float = DEFAULT_LEASE, database: Database | None = None,
    ) -> Iterator[Database]:
        """The database (``database``, or opened here), inside the migration lock."""
        with self._opened(database) as opened, migration_lock(
            opened, token=audit.new_run_id(), command=command, timeout=lock_timeout,
            lease=lease, on_wait=lambda message: self.events(Notice(message)),
        ) as hold:
            self.hold = hold
            try:
                if hold.displaced is not None:
                    self.events(Notice(
                        f"took over the migration lock of {hold.displaced.owner}: "
                        f"{hold.displaced_because}"))
                self._close_dead_runs(opened)
                with SafePoints() as self._stops:
                    yield opened
            finally:
                self.hold = None
                self._stops = None

    @contextmanager
    def _opened(self, database: Database | None) -> Iterator[Database]:
        if database is not None:
            yield database
        else:
            with self.opened() as opened:
                yield opened

    @contextmanager
    def audited(self, database: Database, command: str) -> Iterator[AuditRun]:
        """The audit row of a run inside the lock (its id is the lock's token): ``failed``
        with the error's first line if the block raises, ``interrupted`` with where the
        database stands if a signal stopped it (then raised as
        :class:`~..errors.RunInterrupted`, saying so)."""
        run = AuditRun(database.connection, command, self.hold.token if self.hold else None)
        try:
            yield run
        except (RunInterrupted, KeyboardInterrupt) as stop:
            where = self._where_now()
            name = getattr(stop, "signal_name", "SIGINT")
            self._finish_quietly(run, database, "interrupted", f"interrupted by {name}: {where}")
            if isinstance(stop, RunInterrupted):
                raise stop.at(where) from None
            signum = getattr(stop, "signum", int(signal.SIGINT))
            raise RunInterrupted(name, signum, where=where) from None
        except BaseException as error:
            self._finish_quietly(run, database, "failed", first_line(error))
            raise

    def _finish_quietly(self, run: AuditRun, database: Database, outcome: str,
                        detail: str) -> None:
        """Complete the audit row; through a new connection if the run's is broken (a
        signal may have cut a statement short); failing that, the next run marks it."""
        try:
            run.finish(outcome, detail=detail)
            return
        except Exception:
            log.debug("could not record the run on its connection", exc_info=True)
        try:
            with database.engine.connect() as fresh:
                run.connection = fresh
                run.finish(outcome, detail=detail)
        except Exception:
            log.debug("could not record the run", exc_info=True)

    def _where_now(self) -> str:
        """Where the database stands, read through a new connection."""
        try:
            with self.opened() as database:
                return self._where_it_stopped(database)
        except Exception as error:
            return f"the database could not be read ({type(error).__name__})"

    def _close_dead_runs(self, database: Database) -> None:
        """Mark ``interrupted`` the audit rows of runs that died (we hold the lock: no
        other audited run is alive), saying where the database stands."""
        connection = database.connection
        if not audit.has_running(connection):
            return
        where = self._where_it_stopped(database)
        displaced = self.hold.displaced if self.hold else None
        closed = audit.close_interrupted(
            connection, where,
            last_seen={displaced.token: displaced.beat_at} if displaced else {},
        )
        for record in closed:
            self.events(Notice(
                f"an earlier run ({record.command} by {record.user_name}@{record.host}, "
                f"started {record.started_at:%Y-%m-%d %H:%M:%S} UTC) died; "
                f"recorded it as interrupted: {where}"))

    def _where_it_stopped(self, database: Database) -> str:
        try:
            snapshot = read_snapshot(database, self.chain)
        except Exception as error:  # the run goes on and reports it properly
            log.debug("could not read where the database stands", exc_info=True)
            return f"the database could not be read ({type(error).__name__})"
        return stopped_at(self.chain, snapshot)

    def plan(self, target: str = "head", delta: int | None = None) -> UpgradePlan:
        """What ``upgrade`` would do now, changing nothing (rows counted)."""
        with self.opened() as database:
            plan, _snapshot = self._plan(database, target, delta, count_rows=True)
            return plan

    def upgrade(
        self, target: str = "head", delta: int | None = None,
        options: UpgradeOptions = UpgradeOptions(),
    ) -> UpgradeResult:
        with self.opened() as opened, reported_failures(opened.url, "upgrading"):
            refuse_split_ddl(opened.galera, force=options.force)
            # A target that cannot be reached is refused before the lock (whose table the
            # first run creates).  What the database is must be read under the lock only:
            # outside it, another run's creation may look like an unversioned database.
            resolve_target(self.chain, target, delta,
                           recorded_revision(opened.connection, self.chain))
            with self.locked(options.lock_timeout, command=options.command,
                             lease=options.lock_lease, database=opened) as database:
                return self._upgrade_locked(database, target, delta, options)

    def _upgrade_locked(
        self, database: Database, target: str, delta: int | None, options: UpgradeOptions
    ) -> UpgradeResult:
        plan, snapshot = self._plan(database, target, delta, count_rows=False)
        if plan.strategy is not Strategy.NOTHING:
            if not options.force:
                refuse_drift(database, self.chain, plan, snapshot)
            if options.backup and plan.current is not None:
                self._backup(database, plan.current, options.keep_backups)
            self._execute(database, plan, options.command)
        if options.wal:
            why_not = leave_in_wal_mode(database)
            if why_not is not None:
                self.events(Notice(
                    f"the SQLite file stays in its rollback-journal mode ({why_not}); the "
                    "upgrade itself is done. Run `upgrade head` again while no service holds "
                    "the file to switch it to WAL, or pass --no-wal"))
        return UpgradeResult(plan.current, plan.target, plan.revision_ids, plan.strategy)

    def _plan(
        self, database: Database, target: str, delta: int | None, *, count_rows: bool
    ) -> tuple[UpgradePlan, DatabaseSnapshot]:
        """Read the database, refuse an unversioned one, and plan the way to ``target``."""
        snapshot = read_snapshot(database, self.chain)
        refuse_unversioned(database, self.chain, snapshot, upgrading=True)
        end = resolve_target(self.chain, target, delta, snapshot.revision)
        plan = plan_upgrade(self.chain, database.dialect, snapshot, end)
        if count_rows and plan.strategy is not Strategy.NOTHING:
            # rows from the catalog, seconds from a bounded probe (.probe)
            estimator = estimator_for(database.connection, database.dialect, snapshot.cluster)
            plan = plan_upgrade(self.chain, database.dialect, snapshot, end,
                                count_rows=estimator.rows, estimator=estimator)
        return plan, snapshot

    def _execute(self, database: Database, plan: UpgradePlan, command: str) -> None:
        connection = database.connection
        create_version = not has_version_table(connection)
        connection.rollback()
        with self.audited(database, command) as run:
            run.start(plan.current, plan.target)
            Executor(self.chain, database.dialect, connection=connection, events=self.events,
                     guard=self._guard).run(plan, create_version=create_version)
            run.finish("succeeded")

    def _guard(self) -> None:
        """At each safe point: stop if a signal asked to, or if the lock was lost."""
        if self._stops is not None:
            self._stops.check()
        if self.hold is not None:
            self.hold.check()

    def _backup(self, database: Database, start: str, keep: int) -> None:
        path = database.sqlite_file
        if path is None:
            return
        copy = backup_sqlite(path, start, keep=keep)
        self.events(Notice(
            f"backed up {path.name} (at {start}) to {copy}; to restore it, stop Mistral "
            f"and copy it back over {path}"
        ))

    def stamp(self, revision: str, *, force: bool = False,
              lock_timeout: float = DEFAULT_TIMEOUT) -> str | None:
        """Record ``revision`` without running anything; refuses (unless ``force``)
        when the live schema is not that revision's."""
        target = self.chain.resolve(revision)
        with self.locked(lock_timeout, command="stamp") as database, reported_failures(
            database.url, "stamping"
        ):
            connection = database.connection
            old = read_version(connection)  # known to the chain or not: it is replaced
            create_version = not has_version_table(connection)
            connection.rollback()
            if not force:
                refuse_mismatch(database, self.chain, target)
            with self.audited(database, "stamp") as run:
                run.start(old, target)
                Executor(self.chain, database.dialect, connection=connection).stamp(
                    old, target, create_version=create_version
                )
                run.finish("succeeded")
        return target

