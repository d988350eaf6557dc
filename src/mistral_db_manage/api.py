"""The Python API: one function per command, returning data, never printing.

Each command has the same shape (Alembic's): load the chain, work out the
plan, run it in a context (a connection inside the migration lock, or an
offline script).  The CLI is a thin layer over these functions.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .errors import (
    RevisionError,
    UnknownDatabaseRevisionError,
    UnversionedDatabaseError,
)
from .runner.chain import Chain, Revision
from .runner.plan import Plan

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Connection, Engine

    from .catalog import PopulatePlan
    from .config import Settings
    from .runner.audit import AuditRun, RunRecord

ProgressCallback = Callable[[str, Revision, float], None]
DEFAULT_LOCK_TIMEOUT = 300.0
log = logging.getLogger(__name__)

#: tables whose presence (without a version record) means "a Mistral database"
MISTRAL_MARKER_TABLES = ("workflow_definitions_v2", "executions_v2", "workbooks_v2")


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


def _refuse_drift(
    database: _Database, chain: Chain, start: str | None, steps: list[Revision]
) -> None:
    """Refuse to touch tables that differ from what the chain says they are."""
    from .errors import DriftError
    from .runner.execute import resumable_states
    from .runner.verify import compare_shapes, shapes_from_database, shapes_from_state

    if start is None:
        return
    touched: set[str] = set()
    for step in steps:
        for operation in chain.operations(step.id):
            if operation.applies_to(database.dialect):
                touched.update(operation.tables())
    live = shapes_from_database(database.connection, database.dialect)
    actual = {k: v for k, v in live.items() if k in touched}
    differences: list[str] = []
    for candidate in resumable_states(chain, database.dialect, start, database.connection):
        expected = {k: v for k, v in shapes_from_state(candidate).items() if k in touched}
        differences = compare_shapes(expected, actual)
        if not differences:
            break
    database.connection.rollback()
    if differences:
        raise DriftError(
            f"the tables this upgrade changes differ from revision {start}'s schema: "
            f"{_summary(differences)}; see `mistral-db-manage verify`, fix the drift, "
            "or pass --force"
        )


def _summary(differences: Sequence[str]) -> str:
    """The first difference, and how many more there are (one line for an error)."""
    more = f" (and {len(differences) - 1} more)" if len(differences) > 1 else ""
    return differences[0] + more


def _refuse_mismatch(database: _Database, chain: Chain, target: str | None) -> None:
    from .errors import DriftError
    from .runner.execute import state_at
    from .runner.verify import verify_state

    differences = verify_state(database.connection, state_at(chain, database.dialect, target))
    database.connection.rollback()
    if differences:
        matches = matching_revisions(database.connection, chain, database.dialect)
        suggestion = f"; its schema is revision {matches[-1]}'s" if matches else ""
        raise DriftError(
            f"the schema is not revision {target or 'base'}'s: {_summary(differences)}"
            f"{suggestion}; stamp the right revision, or pass --force"
        )


def _backup_sqlite(
    database: _Database, start: str, notify: Callable[[str], None] | None
) -> None:
    from .runner.backup import backup_sqlite
    from .runner.lock import sqlite_path

    path = sqlite_path(database.engine)
    if path is None:
        return
    copy = backup_sqlite(path, start)
    if notify is not None:
        notify(
            f"backed up {path.name} (at {start}) to {copy}; to restore it, stop Mistral "
            f"and copy it back over {path}"
        )


@dataclass(frozen=True)
class UpgradeResult:
    start: str | None
    end: str | None
    applied: tuple[str, ...]
    #: created on an empty database by the driver alone (see :mod:`.runner.express`)
    express: bool = False


def load_chain(versions_dir: Path | None = None) -> Chain:
    return Chain.load(versions_dir)


@dataclass(frozen=True)
class _Database:
    engine: Engine
    connection: Connection
    dialect: str


@contextmanager
def _open(settings: Settings) -> Iterator[_Database]:
    from .runner.connect import connect_checked
    from .runner.database import normalized_dialect, open_engine

    engine = open_engine(settings.connection)
    try:
        connection = connect_checked(engine)
        try:
            yield _Database(engine, connection, normalized_dialect(engine.dialect.name))
        finally:
            connection.close()
    finally:
        engine.dispose()


@contextmanager
def _locked(
    settings: Settings, lock_timeout: float, on_wait: Callable[[str], None] | None
) -> Iterator[_Database]:
    """The database, inside the migration lock."""
    from .runner.lock import migration_lock

    with _open(settings) as database, migration_lock(
        database.engine, database.dialect, connection=database.connection,
        timeout=lock_timeout, on_wait=on_wait,
    ):
        yield database


@contextmanager
def _audited(database: _Database, command: str) -> Iterator[AuditRun]:
    from .runner.audit import AuditRun

    run = AuditRun(database.connection, command)
    try:
        yield run
    except BaseException as error:
        try:
            run.finish("failed", detail=str(error).splitlines()[0] if str(error) else repr(error))
        except Exception:
            log.debug("could not record the failed run", exc_info=True)
        raise


def _recorded_revision(connection: Connection, chain: Chain) -> str | None:
    from .runner.version import read_version

    revision = read_version(connection)
    connection.rollback()
    if revision is not None and revision not in chain:
        raise UnknownDatabaseRevisionError(
            f"the database is at revision {revision!r}, which this tool does not know "
            f"(its newest is {chain.head}): it was upgraded by a newer tool; use that one"
        )
    return revision


def _revision_or_refuse(database: _Database, chain: Chain) -> str | None:
    """The recorded revision; None only for a database without Mistral tables."""
    revision = _recorded_revision(database.connection, chain)
    if revision is None:
        _refuse_unversioned(database.connection, chain, database.dialect)
    return revision


def _has_tables(connection: Connection) -> bool:
    """Whether the database has any table besides this tool's own."""
    from sqlalchemy import inspect

    from .runner.verify import OWN_TABLES

    names = set(inspect(connection).get_table_names()) - OWN_TABLES
    connection.rollback()
    return bool(names)


def _refuse_unversioned(connection: Connection, chain: Chain, dialect: str) -> None:
    """Never upgrade blindly a database that has Mistral tables but no version record."""
    from sqlalchemy import inspect

    tables = set(inspect(connection).get_table_names())
    connection.rollback()
    found = [name for name in MISTRAL_MARKER_TABLES if name in tables]
    if not found:
        return
    if _interrupted_creation(connection, tables):
        raise UnversionedDatabaseError(
            "an earlier upgrade stopped while creating the schema of an empty database "
            "(this tool's journal says so): run `mistral-db-manage upgrade` again; it "
            "removes the empty tables that run left and starts over"
        )
    matches = matching_revisions(connection, chain, dialect)
    if matches:
        hint = (
            f"its schema is exactly revision {matches[-1]}'s: run "
            f"`mistral-db-manage stamp {matches[-1]}` and then upgrade"
        )
    else:
        hint = (
            "its schema matches no revision of the chain: compare it with `history`, "
            "stamp the closest revision with `stamp --force` and review `verify`"
        )
    raise UnversionedDatabaseError(
        f"the database has Mistral tables ({', '.join(found)}) but no version record; {hint}"
    )


def _read_revision(settings: Settings, chain: Chain, *, refuse_unversioned: bool) -> str | None:
    """The recorded revision: read by the bare driver when the answer is plain (one
    known revision), else by the full path, which explains every other case."""
    from .runner.quick import read_version_quickly

    rows = read_version_quickly(settings.connection)
    if rows is not None and len(rows) == 1 and rows[0] in chain:
        return rows[0]
    with _open(settings) as database:
        if refuse_unversioned:
            return _revision_or_refuse(database, chain)
        return _recorded_revision(database.connection, chain)


def _interrupted_creation(connection: Connection, tables: set[str]) -> bool:
    """MySQL: whether the journal records a direct creation that did not finish."""
    from .runner import journal

    if journal.JOURNAL_TABLE_NAME not in tables:
        return False
    interrupted = journal.progress(connection, journal.DIRECT_CREATION) != (0, 0)
    connection.rollback()
    return interrupted


def current(settings: Settings, *, versions_dir: Path | None = None) -> CurrentState:
    chain = load_chain(versions_dir)
    return CurrentState(_read_revision(settings, chain, refuse_unversioned=True), chain.head)


def history(
    settings: Settings | None = None, *, versions_dir: Path | None = None
) -> list[HistoryEntry]:
    """The chain, newest first; marks the database's revision when settings are given."""
    chain = load_chain(versions_dir)
    recorded: str | None = None
    if settings is not None:
        recorded = _read_revision(settings, chain, refuse_unversioned=False)
    return [
        HistoryEntry(revision, revision.id == recorded, revision.id == chain.head)
        for revision in reversed(chain.revisions)
    ]


def upgrade(
    settings: Settings,
    target: str = "head",
    *,
    delta: int | None = None,
    progress: ProgressCallback | None = None,
    versions_dir: Path | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_wait: Callable[[str], None] | None = None,
    command: str = "upgrade",
    force: bool = False,
    backup: bool = True,
    express: bool = True,
) -> UpgradeResult:
    """Upgrade the database online to ``target`` (``head``, an id, ``+N``) or by ``delta``.

    Runs inside the migration lock; the version is read once the lock is held,
    so a runner that waited for another finds nothing left to do.  An empty
    database brought to head goes the express way (:mod:`.runner.express`)
    unless ``express`` is False.
    """
    chain = load_chain(versions_dir)
    if express and delta is None and target in ("head", "heads", chain.head):
        from .runner.express import try_create

        if try_create(settings.connection, chain, chain.head, command=command,
                      progress=progress):
            return UpgradeResult(None, chain.head, chain.ids, express=True)
    from .runner.execute import Executor
    from .runner.version import has_version_table

    with _locked(settings, lock_timeout, on_wait) as database:
        connection = database.connection
        start = _recorded_revision(connection, chain)
        if start is None:
            dropped = Executor(chain, database.dialect,
                               connection=connection).discard_interrupted_creation()
            if dropped and on_wait is not None:
                on_wait(f"removed {len(dropped)} empty table(s) an interrupted run left behind")
            _refuse_unversioned(connection, chain, database.dialect)
        end = _resolve_target(chain, target, delta, start)
        steps = chain.between(start, end)
        if steps:
            if not force:
                _refuse_drift(database, chain, start, steps)
            create_version = not has_version_table(connection)
            connection.rollback()
            if backup and database.dialect == "sqlite" and start is not None:
                _backup_sqlite(database, start, on_wait)
            empty = start is None and not _has_tables(connection)
            with _audited(database, command) as run:
                run.start(start, end)
                executor = Executor(chain, database.dialect, connection=connection,
                                    progress=progress)
                if empty and end is not None:
                    executor.create_directly(end, create_version=create_version)
                else:
                    executor.upgrade(start, end, create_version=create_version)
                run.finish("succeeded")
        return UpgradeResult(start, end, tuple(step.id for step in steps))


def _resolve_target(chain: Chain, target: str, delta: int | None, start: str | None) -> str | None:
    if delta is not None:
        if delta < 0:
            raise RevisionError(f"--delta {delta}: only upgrades are supported")
        return chain.relative(start, str(delta))
    return chain.resolve(target, current=start)


def upgrade_sql(
    connection_url: str,
    target: str = "head",
    *,
    delta: int | None = None,
    output: IO[str] | None = None,
    versions_dir: Path | None = None,
) -> None:
    """Write the SQL script of an upgrade (``[start:]end``) without connecting."""
    from .runner.connect import dialect_name
    from .runner.execute import Executor

    chain = load_chain(versions_dir)
    dialect = dialect_name(connection_url)
    start, end = _offline_range(chain, target, delta)
    Executor(chain, dialect, output=output or sys.stdout).upgrade(
        start, end, create_version=start is None
    )


def _offline_range(chain: Chain, target: str, delta: int | None) -> tuple[str | None, str | None]:
    start_text: str | None = None
    end_text = target
    if ":" in target:
        start_text, end_text = target.split(":", 1)
        if not start_text or not end_text:
            raise RevisionError(f"invalid range {target!r}: expected <start>:<end>")
    start = chain.resolve(start_text) if start_text is not None else None
    if delta is not None or end_text.startswith("+"):
        if start_text is None:
            raise RevisionError(
                "offline mode cannot know the database's revision: give the range as "
                "<start>:<end> (for example `upgrade 030:+2 --sql`) instead of a relative target"
            )
        steps = str(delta) if delta is not None else end_text[1:]
        return start, chain.relative(start, steps)
    end = chain.resolve(end_text, current=start)
    chain.between(start, end)
    return start, end


def stamp(
    settings: Settings,
    revision: str,
    *,
    versions_dir: Path | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_wait: Callable[[str], None] | None = None,
    force: bool = False,
) -> CurrentState:
    """Record ``revision`` as the database's revision without running anything.

    Refuses (unless ``force``) when the live schema is not that revision's.
    """
    from .runner.execute import Executor
    from .runner.version import has_version_table, read_version

    chain = load_chain(versions_dir)
    target = chain.resolve(revision)
    with _locked(settings, lock_timeout, on_wait) as database:
        connection = database.connection
        old = read_version(connection)
        create_version = not has_version_table(connection)
        connection.rollback()
        if not force:
            _refuse_mismatch(database, chain, target)
        with _audited(database, "stamp") as run:
            run.start(old, target)
            Executor(chain, database.dialect, connection=connection).stamp(
                old, target, create_version=create_version
            )
            run.finish("succeeded")
        return CurrentState(target, chain.head)


def stamp_sql(
    connection_url: str,
    revision: str,
    *,
    output: IO[str] | None = None,
    versions_dir: Path | None = None,
) -> None:
    from .runner.connect import dialect_name
    from .runner.execute import Executor

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


def heads(versions_dir: Path | None = None) -> list[str]:
    from .runner.chain import scan_directory

    revisions = scan_directory(versions_dir or _default_versions())
    parents = {r.down_revision for r in revisions}
    return sorted(r.id for r in revisions if r.id not in parents)


def branches(versions_dir: Path | None = None) -> list[tuple[str | None, list[str]]]:
    """Revisions revised by more than one revision, with their children."""
    from .runner.chain import scan_directory

    revisions = scan_directory(versions_dir or _default_versions())
    children: dict[str | None, list[str]] = {}
    for revision in revisions:
        children.setdefault(revision.down_revision, []).append(revision.id)
    return [(parent, sorted(kids)) for parent, kids in children.items() if len(kids) > 1]


def _default_versions() -> Path:
    from .runner.chain import VERSIONS_DIR

    return VERSIONS_DIR


@dataclass(frozen=True)
class RevisionCreated:
    path: Path
    revision: str
    operations: int
    unsupported: tuple[str, ...]


def revision(
    message: str,
    *,
    autogenerate: bool = False,
    rev_id: str | None = None,
    settings: Settings | None = None,
    versions_dir: Path | None = None,
) -> RevisionCreated:
    """Append a new revision file to the chain (blank, or the models' differences)."""
    from .errors import ConfigError, NotAtHeadError
    from .migrations.ops import Operation
    from .runner.autogen import (
        compare_models_with_database,
        operations_from_diffs,
        write_revision,
    )
    from .runner.chain import read_revision_file

    directory = versions_dir or _default_versions()
    chain = load_chain(directory)
    operations: list[Operation] = []
    unsupported: list[str] = []
    if autogenerate:
        if settings is None or not settings.has_connection:
            raise ConfigError(
                "revision --autogenerate compares the models with a database at head: "
                "configure [database] connection"
            )
        with _open(settings) as database:
            connection, dialect = database.connection, database.dialect
            recorded = _recorded_revision(connection, chain)
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


def check_migration(*, versions_dir: Path | None = None) -> list[str]:
    """Every problem of the chain, and every difference between its head and the models."""
    from .runner.chain import find_problems, scan_directory
    from .runner.execute import state_at
    from .runner.verify import compare_shapes, shapes_from_state
    from .schema.head import redundant_uniques, state_from_metadata
    from .schema.models import metadata
    from .schema.state import DIALECTS

    revisions = scan_directory(versions_dir or _default_versions())
    problems = find_problems(revisions)
    if problems:
        return problems
    chain = Chain(revisions)
    for dialect in DIALECTS:
        try:
            chain_state = state_at(chain, dialect, chain.head)
        except (KeyError, ValueError) as error:
            problems.append(f"{dialect}: the chain cannot be replayed: {error}")
            continue
        model_state = state_from_metadata(metadata, dialect)
        redundant = redundant_uniques(chain_state, model_state)
        for table in chain_state.tables.values():
            table.uniques = [u for u in table.uniques if u.name not in redundant]
        differences = compare_shapes(
            shapes_from_state(model_state), shapes_from_state(chain_state)
        )
        problems.extend(
            f"{dialect}: the models and the chain's head ({chain.head}) differ: {difference}"
            for difference in differences
        )
    return problems


def plan(
    settings: Settings,
    target: str = "head",
    *,
    delta: int | None = None,
    versions_dir: Path | None = None,
) -> Plan:
    """What ``upgrade`` would do, changing nothing."""
    from .runner.plan import build_plan

    chain = load_chain(versions_dir)
    with _open(settings) as database:
        start = _revision_or_refuse(database, chain)
        end = _resolve_target(chain, target, delta, start)
        return build_plan(chain, database.dialect, start, end, database.connection)


@dataclass(frozen=True)
class VerifyResult:
    revision: str | None
    differences: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.differences


def verify(settings: Settings, *, versions_dir: Path | None = None) -> VerifyResult:
    """Compare the live schema with the chain's schema at the recorded revision."""
    from .runner.execute import state_at
    from .runner.verify import verify_state

    chain = load_chain(versions_dir)
    with _open(settings) as database:
        revision = _revision_or_refuse(database, chain)
        differences = verify_state(
            database.connection, state_at(chain, database.dialect, revision)
        )
        database.connection.rollback()
        return VerifyResult(revision, tuple(differences))


def matching_revisions(
    connection: Connection, chain: Chain, dialect: str
) -> list[str]:
    """Revisions whose schema is exactly the live schema (newest last)."""
    from .runner.execute import replay
    from .runner.verify import compare_shapes, shapes_from_database, shapes_from_state

    live = shapes_from_database(connection, dialect)
    connection.rollback()
    return [
        revision
        for revision, state in replay(chain, dialect)
        if not compare_shapes(shapes_from_state(state), live)
    ]


def applied_runs(settings: Settings, limit: int | None = None) -> list[RunRecord]:
    """The audit trail: runs that changed this database, newest first."""
    from .runner.audit import read_runs

    with _open(settings) as database:
        runs = read_runs(database.connection, limit)
        database.connection.rollback()
        return runs


@dataclass(frozen=True)
class PopulateResult:
    plan: PopulatePlan
    applied: bool


def populate(
    settings: Settings,
    *,
    paths: Sequence[Path] = (),
    dry_run: bool = False,
    prune: bool = False,
    actions_only: bool = False,
    versions_dir: Path | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_wait: Callable[[str], None] | None = None,
) -> PopulateResult:
    """Register the standard actions (and workflows) in one transaction.

    Definitions are read and validated before the database is touched; the
    database must be at head.
    """
    from .catalog import apply_plan, collect_definitions, plan_populate
    from .errors import NotAtHeadError

    definitions = collect_definitions(list(paths), include_workflows=not actions_only)
    chain = load_chain(versions_dir)
    with _locked(settings, lock_timeout, on_wait) as database:
        connection = database.connection
        revision = _recorded_revision(connection, chain)
        if revision != chain.head:
            command = "populate_actions" if actions_only else "populate"
            raise NotAtHeadError(
                f"{command} needs the database at head ({chain.head}) but it is at "
                f"{revision or 'no revision (empty)'}: run `mistral-db-manage upgrade head` first"
            )
        if dry_run:
            plan_ = plan_populate(connection, definitions, prune=prune, actions_only=actions_only)
            connection.rollback()
            return PopulateResult(plan_, applied=False)
        with _audited(database, "populate_actions" if actions_only else "populate") as run:
            run.start(revision, revision)
            with connection.begin():
                plan_ = plan_populate(
                    connection, definitions, prune=prune, actions_only=actions_only
                )
                apply_plan(connection, plan_)
            run.finish("succeeded", detail=plan_.summary())
        return PopulateResult(plan_, applied=True)
