"""The Python API: one function per command, returning data, never printing.

Each command has Alembic's shape: load the chain, then hand the work to the
runner (:class:`~.runner.migrator.Migrator` for what changes the database,
:mod:`~.runner.plan` for what would, :mod:`~.runner.execute` for offline
scripts).  The CLI is a thin layer over these functions.

``current`` and ``history`` run on every configuration-management pass and
must start without SQLAlchemy: for that start-up time, this module imports at
its top only what they need, and every other function imports the runner it
uses inside.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .errors import ChainError, ConfigError, NotAtHeadError, UsageError
from .runner.chain import VERSIONS_DIR, Chain, Revision, duplicate_problems, scan_directory
from .runner.driver import read_versions
from .runner.events import EventSink, ignore

if TYPE_CHECKING:
    from .catalog import PopulatePlan
    from .config import Settings
    from .limits import DefinitionLimits
    from .runner.audit import RunRecord
    from .runner.migrator import UpgradeOptions, UpgradeResult
    from .runner.plan import UpgradePlan


@dataclass(frozen=True)
class CurrentState:
    revision: str | None
    head: str | None

    @property
    def is_head(self) -> bool:
        return self.revision is not None and self.revision == self.head


@dataclass(frozen=True)
class HistoryEntry:
    revision: Revision
    is_current: bool
    is_head: bool


@dataclass(frozen=True)
class VerifyResult:
    revision: str | None
    differences: tuple[str, ...]
    #: MySQL: the revision an interrupted run left half-done (what upgrade does about it)
    half_done: str | None = None

    @property
    def clean(self) -> bool:
        return not self.differences


@dataclass(frozen=True)
class RevisionCreated:
    path: Path
    revision: str
    operations: int
    unsupported: tuple[str, ...]


@dataclass(frozen=True)
class PopulateResult:
    plan: PopulatePlan
    applied: bool


def load_chain(versions_dir: Path | None = None) -> Chain:
    return Chain.load(versions_dir)


def _refuse_relative_stamp(revision: str) -> None:
    """A stamp names its revision: ``+N``/``-N`` would count from base, not the database."""
    for part in revision.split(":"):
        if part.startswith(("+", "-")):
            raise UsageError(
                f"stamp records a revision by its name, not a relative one ({part}): give a "
                "revision id, head or base (`mistral-db-manage history` lists them)"
            )


def _read_revision(settings: Settings, chain: Chain, *, explain_unversioned: bool) -> str | None:
    """The recorded revision: read by the bare driver when the answer is plain (one
    known revision), else by the full path, which explains every other case."""
    rows = read_versions(settings.connection)
    if rows is not None and len(rows) == 1 and rows[0] in chain:
        return rows[0]
    from .runner.database import open_database
    from .runner.preflight import read_snapshot, recorded_revision, refuse_unversioned

    with open_database(settings.connection) as database:
        if not explain_unversioned:
            return recorded_revision(database.connection, chain)
        snapshot = read_snapshot(database, chain)
        refuse_unversioned(database, chain, snapshot)
        return snapshot.revision


def current(settings: Settings, *, versions_dir: Path | None = None) -> CurrentState:
    chain = load_chain(versions_dir)
    return CurrentState(_read_revision(settings, chain, explain_unversioned=True), chain.head)


def history(
    settings: Settings | None = None, *, versions_dir: Path | None = None
) -> list[HistoryEntry]:
    """The chain, newest first; marks the database's revision when settings are given."""
    chain = load_chain(versions_dir)
    recorded: str | None = None
    if settings is not None:
        recorded = _read_revision(settings, chain, explain_unversioned=False)
    return [
        HistoryEntry(revision, revision.id == recorded, revision.id == chain.head)
        for revision in reversed(chain.revisions)
    ]


def upgrade(
    settings: Settings,
    target: str = "head",
    *,
    delta: int | None = None,
    options: UpgradeOptions | None = None,
    events: EventSink = ignore,
    versions_dir: Path | None = None,
) -> UpgradeResult:
    """Upgrade the database online to ``target`` (``head``, an id, ``+N``) or by ``delta``."""
    from .runner.migrator import Migrator, UpgradeOptions

    migrator = Migrator(settings.connection, load_chain(versions_dir), events)
    return migrator.upgrade(target, delta, options or UpgradeOptions())


def plan(
    settings: Settings,
    target: str = "head",
    *,
    delta: int | None = None,
    versions_dir: Path | None = None,
) -> UpgradePlan:
    """What ``upgrade`` would do now, changing nothing."""
    from .runner.migrator import Migrator

    return Migrator(settings.connection, load_chain(versions_dir)).plan(target, delta)


def upgrade_sql(
    connection_url: str,
    target: str = "head",
    *,
    delta: int | None = None,
    output: IO[str] | None = None,
    versions_dir: Path | None = None,
    wal: bool = True,
) -> UpgradePlan:
    """Write the SQL script of an upgrade (``[start:]end``) without connecting.

    ``wal``: a SQLite script ends by switching the file to WAL mode, as an online
    upgrade leaves it (:mod:`.runner.sqlitefile`)."""
    from .runner.dburl import dialect_name
    from .runner.execute import Executor
    from .runner.offline import offline_range
    from .runner.plan import plan_offline

    chain = load_chain(versions_dir)
    dialect = dialect_name(connection_url)
    start, end = offline_range(chain, target, delta)
    script = plan_offline(chain, dialect, start, end)
    stream = output or sys.stdout
    Executor(chain, dialect, output=stream).run(script, create_version=start is None)
    if wal and dialect == "sqlite":
        stream.write("PRAGMA journal_mode=WAL;\n")
    return script


def stamp(
    settings: Settings,
    revision: str,
    *,
    versions_dir: Path | None = None,
    lock_timeout: float | None = None,
    events: EventSink = ignore,
    force: bool = False,
) -> CurrentState:
    """Record ``revision`` as the database's revision without running anything."""
    from .runner.lock import DEFAULT_TIMEOUT
    from .runner.migrator import Migrator

    _refuse_relative_stamp(revision)
    chain = load_chain(versions_dir)
    target = Migrator(settings.connection, chain, events).stamp(
        revision, force=force, lock_timeout=DEFAULT_TIMEOUT if lock_timeout is None
        else lock_timeout,
    )
    return CurrentState(target, chain.head)


def stamp_sql(
    connection_url: str,
    revision: str,
    *,
    output: IO[str] | None = None,
    versions_dir: Path | None = None,
) -> None:
    from .runner.dburl import dialect_name
    from .runner.execute import Executor

    _refuse_relative_stamp(revision)
    chain = load_chain(versions_dir)
    dialect = dialect_name(connection_url)
    start_text: str | None = None
    end_text = revision
    if ":" in revision:
        start_text, end_text = revision.split(":", 1)
    start = chain.resolve(start_text) if start_text else None
    end = chain.resolve(end_text)
    Executor(chain, dialect, output=output or sys.stdout).stamp(
        start, end, create_version=start is None
    )


def _scan_without_duplicates(versions_dir: Path | None) -> list[Revision]:
    """The revision files, which may branch but not repeat an id."""
    revisions = scan_directory(versions_dir or VERSIONS_DIR)
    duplicates = duplicate_problems(revisions)
    if duplicates:
        raise ChainError(f"the revision chain is broken: {duplicates[0]}")
    return revisions


def heads(versions_dir: Path | None = None) -> list[str]:
    revisions = _scan_without_duplicates(versions_dir)
    parents = {r.down_revision for r in revisions}
    return sorted(r.id for r in revisions if r.id not in parents)


def branches(versions_dir: Path | None = None) -> list[tuple[str | None, list[str]]]:
    """Revisions revised by more than one revision, with their children."""
    revisions = _scan_without_duplicates(versions_dir)
    children: dict[str | None, list[str]] = {}
    for revision in revisions:
        children.setdefault(revision.down_revision, []).append(revision.id)
    return [(parent, sorted(kids)) for parent, kids in children.items() if len(kids) > 1]


def revision(
    message: str,
    *,
    autogenerate: bool = False,
    rev_id: str | None = None,
    settings: Settings | None = None,
    versions_dir: Path | None = None,
) -> RevisionCreated:
    """Append a new revision file to the chain (blank, or the models' differences)."""
    from .migrations.ops import Operation
    from .runner.autogen import compare_models_with_database, operations_from_diffs, write_revision
    from .runner.chain import read_revision_file
    from .runner.database import open_database
    from .runner.preflight import recorded_revision
    from .runner.revision_file import check_message, check_revision_id, refuse_installed_package

    check_message(message)
    if rev_id is not None:
        check_revision_id(rev_id)
    if versions_dir is None:
        refuse_installed_package(VERSIONS_DIR)
    directory = versions_dir or VERSIONS_DIR
    chain = load_chain(directory)
    operations: list[Operation] = []
    unsupported: list[str] = []
    if autogenerate:
        if settings is None or not settings.has_connection:
            raise ConfigError(
                "revision --autogenerate compares the models with a database at head: "
                "configure [database] connection"
            )
        with open_database(settings.connection) as database:
            connection, dialect = database.connection, database.dialect
            recorded = recorded_revision(connection, chain)
            if recorded != chain.head:
                raise NotAtHeadError(
                    f"the database is at {recorded or 'no revision'}, not at head "
                    f"({chain.head}): run `mistral-db-manage upgrade head` first"
                )
            diffs = compare_models_with_database(connection, chain, dialect)
            connection.rollback()
        operations, unsupported = operations_from_diffs(diffs)
    path = write_revision(
        chain, directory, message, operations, rev_id=rev_id, notes=unsupported
    )
    created = read_revision_file(path)
    return RevisionCreated(path, created.id, len(operations), tuple(unsupported))


def check_migration(*, versions_dir: Path | None = None,
                    settings: Settings | None = None) -> list[str]:
    """Every problem of the chain, every difference between its head and the models, and
    every unaccepted lint flag of the revisions after 045 (with the predicted seconds on
    the database of ``settings`` when one is configured)."""
    from .runner.chain import scan_directory
    from .runner.consistency import chain_problems
    from .runner.lint import FROZEN_HEAD

    estimators = {}
    directory = versions_dir or VERSIONS_DIR
    newer = any(r.down_revision == FROZEN_HEAD for r in scan_directory(directory))
    if settings is not None and settings.has_connection and newer:
        from .runner.database import open_database
        from .runner.probe import estimator_for

        try:
            with open_database(settings.connection) as database:
                estimators[database.dialect] = estimator_for(database.connection,
                                                             database.dialect, None)
        except Exception as error:  # the lint runs without the predicted seconds
            logging.getLogger(__name__).warning(
                "no predicted time: the configured database cannot be read (%s)",
                type(error).__name__)
    return chain_problems(directory, estimators)


def verify(settings: Settings, *, versions_dir: Path | None = None) -> VerifyResult:
    """Compare the live schema with the chain's schema at the recorded revision."""
    from .runner.database import open_database
    from .runner.preflight import half_done, possible_states, read_snapshot, refuse_unversioned
    from .runner.verify import verify_state
    from .schema.history import state_at

    chain = load_chain(versions_dir)
    with open_database(settings.connection) as database:
        snapshot = read_snapshot(database, chain)
        refuse_unversioned(database, chain, snapshot)
        revision = snapshot.revision
        differences = verify_state(
            database.connection, state_at(chain, database.dialect, revision))
        interrupted = half_done(chain, snapshot)
        if interrupted and differences and revision is not None:
            # the schema may be part-way into the next revision, as the journal says
            for candidate in possible_states(chain, database.dialect, revision, snapshot):
                if not verify_state(database.connection, candidate):
                    differences = []
                    break
        database.connection.rollback()
        return VerifyResult(revision, tuple(differences), interrupted)


def applied_runs(settings: Settings, limit: int | None = None) -> list[RunRecord]:
    """The audit trail: runs that changed this database, newest first."""
    from .runner.audit import read_runs
    from .runner.database import open_database

    with open_database(settings.connection) as database:
        runs = read_runs(database.connection, limit)
        database.connection.rollback()
        return runs


def populate(
    settings: Settings,
    *,
    paths: Sequence[Path] = (),
    dry_run: bool = False,
    prune: bool = False,
    actions_only: bool = False,
    versions_dir: Path | None = None,
    lock_timeout: float | None = None,
    events: EventSink = ignore,
    limits: DefinitionLimits | None = None,
) -> PopulateResult:
    """Register the standard actions (and workflows) in one transaction.

    Definitions are read and validated before the database is touched, each
    file within ``limits``; each file of ``paths`` that is skipped is
    reported as a :class:`~.runner.events.Notice`.  The database must be at
    head.  ``paths`` are read by ``populate`` only: ``actions_only`` with
    paths is a :class:`~.errors.UsageError`.
    """
    from .catalog import apply_plan, collect_definitions, plan_populate
    from .runner.events import Notice
    from .runner.lock import DEFAULT_TIMEOUT
    from .runner.migrator import Migrator
    from .runner.preflight import recorded_revision

    if actions_only and paths:
        raise UsageError("populate_actions registers the bundled actions only and reads no "
                         "--path; use populate for workflow directories")
    definitions = collect_definitions(
        list(paths), include_workflows=not actions_only, limits=limits,
        on_skip=lambda message: events(Notice(message)),
    )
    chain = load_chain(versions_dir)
    command = "populate_actions" if actions_only else "populate"
    migrator = Migrator(settings.connection, chain, events)
    with migrator.locked(DEFAULT_TIMEOUT if lock_timeout is None else lock_timeout,
                         command=command) as database:
        connection = database.connection
        revision = recorded_revision(connection, chain)
        if revision != chain.head:
            raise NotAtHeadError(
                f"{command} needs the database at head ({chain.head}) but it is at "
                f"{revision or 'no revision (empty)'}: run `mistral-db-manage upgrade head` first"
            )
        if dry_run:
            plan_ = plan_populate(connection, definitions, prune=prune, actions_only=actions_only)
            connection.rollback()
            return PopulateResult(plan_, applied=False)
        with migrator.audited(database, command) as run:
            run.start(revision, revision)
            with connection.begin():
                plan_ = plan_populate(
                    connection, definitions, prune=prune, actions_only=actions_only
                )
                apply_plan(connection, plan_)
            run.finish("succeeded", detail=plan_.summary())
        return PopulateResult(plan_, applied=True)
