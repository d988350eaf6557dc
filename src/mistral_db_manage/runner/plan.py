"""The plan of an upgrade: one value that ``upgrade``, ``--plan``, ``status`` and ``--sql`` share.

:func:`plan_upgrade` looks at what the database is (a :class:`DatabaseSnapshot`)
and what the chain says, and decides once how the run reaches its target:

* ``nothing``: the database is already there;
* ``create``: the database is empty, so the target's schema is created at once
  (:mod:`.creation`) and every revision up to the target is recorded as applied;
* ``replay``: each pending revision runs in order;
* ``resume``: MySQL/MariaDB only, an earlier run stopped inside a revision (the
  journal says how far it got): that revision finishes, then the rest replay.

The executor runs exactly this value (:meth:`.execute.Executor.run`), and the
command line prints it for ``--plan`` and ``status``, so the preview and the run
cannot disagree.  For each operation the plan names the tables it touches, what a
running Mistral service notices meanwhile, and (when asked) the rows it rewrites.

Given an :class:`~.estimate.Estimator` (catalog statistics and the rates a
probe measured), every operation, step and the whole plan carry their
predicted seconds, and every step the tables it locks, how, and for how long.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from ..migrations import ops
from ..schema.history import replay, state_at
from ..schema.state import SchemaState
from .chain import Chain
from .creation import creation_script
from .estimate import Estimator, OperationEstimate, TableLock, rewrites_table, step_locks

#: counts the rows of a table (None when it cannot say)
RowCounter = Callable[[str], "int | None"]


#: words of a blocking effect that mean "takes time in proportion to the rows"
_LONG_WORDS = ("copies", "rewrites", "builds an index", "checks every row")
#: rows from which a table copy or rebuild counts as a long cluster-wide stall
LONG_STALL_ROWS = 100_000


class Strategy(StrEnum):
    NOTHING = "nothing"
    CREATE = "create"
    REPLAY = "replay"
    RESUME = "resume"


@dataclass(frozen=True)
class DatabaseSnapshot:
    """What the plan needs to know about the live database."""

    revision: str | None
    #: tables besides this tool's own bookkeeping tables
    tables: frozenset[str] = frozenset()
    #: MySQL: an earlier creation of the schema on this empty database stopped half-way
    interrupted_creation: bool = False
    #: MySQL: (operations done, operations started) of the revision after ``revision``
    progress: tuple[int, int] = (0, 0)
    #: ``galera`` on a node of a MariaDB Galera cluster, else None
    cluster: str | None = None


@dataclass(frozen=True)
class PlannedOperation:
    description: str
    rewrites_data: bool
    #: the tables it changes or reads
    tables: tuple[str, ...]
    #: rows of the table the operation rewrites or scans (None: not counted)
    rows: int | None
    #: what the Mistral service notices while it runs; None when nothing
    blocking: str | None
    #: already applied by an interrupted run; skipped when the run resumes
    done: bool = False
    #: predicted seconds on this database (None: not estimated)
    estimate_seconds: float | None = None
    #: what the service notices on ``tables[0]``: reads blocked, writes blocked, none
    lock: str | None = None


@dataclass(frozen=True)
class PlannedRevision:
    revision: str
    message: str
    #: what runs for this revision (empty when the schema is created at once)
    operations: tuple[PlannedOperation, ...]
    #: predicted seconds on this database (None: not estimated)
    estimate_seconds: float | None = None
    #: the tables it locks, how, and for about how long
    locks: tuple[TableLock, ...] = ()

    @property
    def rewrites_data(self) -> bool:
        return any(o.rewrites_data for o in self.operations)


@dataclass(frozen=True)
class UpgradePlan:
    current: str | None
    target: str | None
    head: str | None
    dialect: str
    strategy: Strategy
    #: the revisions the database is at once the run ends, in order
    pending: tuple[PlannedRevision, ...]
    #: ``create``: the tables created at once
    created_tables: tuple[str, ...] = ()
    #: ``create`` after an interrupted creation: the empty tables it left, dropped first
    leftovers: tuple[str, ...] = ()
    #: ``galera``: every schema change runs in total order (TOI) on the whole cluster
    cluster: str | None = None
    #: predicted seconds of the whole run on this database (None: not estimated)
    estimate_seconds: float | None = None
    #: how the estimate was measured: the probe's queries and seconds, the rates
    estimate_basis: dict[str, float] | None = None

    @property
    def long_cluster_stalls(self) -> tuple[PlannedOperation, ...]:
        """Galera: the schema changes that copy, rebuild or scan a table with rows, during
        which writes wait on every node."""
        if self.cluster != "galera":
            return ()
        return tuple(
            operation for step in self.pending for operation in step.operations
            if not operation.done and operation.blocking
            and (operation.rows or 0) >= LONG_STALL_ROWS
            and any(word in operation.blocking for word in _LONG_WORDS)
        )

    @property
    def status(self) -> str:
        return "pending" if self.pending else "up-to-date"

    @property
    def revision_ids(self) -> tuple[str, ...]:
        return tuple(step.revision for step in self.pending)


def plan_upgrade(
    chain: Chain,
    dialect: str,
    snapshot: DatabaseSnapshot,
    target: str | None,
    *,
    count_rows: RowCounter | None = None,
    estimator: Estimator | None = None,
) -> UpgradePlan:
    """How an online upgrade of the database in ``snapshot`` reaches ``target``;
    with an ``estimator``, how long each step takes and what it locks."""
    plan = _plan_upgrade(chain, dialect, snapshot, target, count_rows, estimator)
    if estimator is None:
        return plan
    steps = sum(step.estimate_seconds or 0.0 for step in plan.pending)
    if plan.strategy is Strategy.CREATE:
        steps = estimator.creation_seconds(len(plan.created_tables))
    total = estimator.run_seconds + steps if plan.pending else 0.0
    return replace(plan, estimate_seconds=round(total, 2), estimate_basis=estimator.basis())


def _plan_upgrade(
    chain: Chain, dialect: str, snapshot: DatabaseSnapshot, target: str | None,
    count_rows: RowCounter | None, estimator: Estimator | None,
) -> UpgradePlan:
    start = snapshot.revision
    cluster = snapshot.cluster
    steps = chain.between(start, target)
    if not steps:
        return UpgradePlan(start, target, chain.head, dialect, Strategy.NOTHING, (),
                           cluster=cluster)
    leftovers: tuple[str, ...] = ()
    if start is None and snapshot.interrupted_creation:
        leftovers = tuple(sorted(snapshot.tables & _all_tables(chain, dialect)))
    if start is None and not snapshot.tables - set(leftovers):
        assert target is not None
        return UpgradePlan(
            start, target, chain.head, dialect, Strategy.CREATE,
            tuple(PlannedRevision(s.id, s.message, ()) for s in steps),
            created_tables=creation_script(chain, dialect, target).tables,
            leftovers=leftovers, cluster=cluster,
        )
    resume = start is not None and snapshot.progress[1] > 0
    pending = _replayed(chain, dialect, start, target, count_rows,
                        done=snapshot.progress[0] if resume else 0, cluster=cluster,
                        estimator=estimator)
    strategy = Strategy.RESUME if resume else Strategy.REPLAY
    return UpgradePlan(start, target, chain.head, dialect, strategy, pending,
                       leftovers=leftovers, cluster=cluster)


def plan_offline(chain: Chain, dialect: str, start: str | None, target: str | None) -> UpgradePlan:
    """An SQL script replays every revision from ``start`` (it cannot look at the database)."""
    pending = _replayed(chain, dialect, start, target, None, done=0)
    strategy = Strategy.REPLAY if pending else Strategy.NOTHING
    return UpgradePlan(start, target, chain.head, dialect, strategy, pending)


def _all_tables(chain: Chain, dialect: str) -> set[str]:
    """Every table any revision creates (an interrupted creation's target is not recorded)."""
    names: set[str] = set()
    for _revision, state in replay(chain, dialect):
        names.update(state.tables)
    return names


def _replayed(
    chain: Chain, dialect: str, start: str | None, target: str | None,
    count_rows: RowCounter | None, *, done: int, cluster: str | None = None,
    estimator: Estimator | None = None,
) -> tuple[PlannedRevision, ...]:
    state = state_at(chain, dialect, start)
    existing = set(state.tables)
    pending: list[PlannedRevision] = []
    for index, step in enumerate(chain.between(start, target)):
        planned: list[PlannedOperation] = []
        estimates: list[OperationEstimate] = []
        applicable = [o for o in chain.operations(step.id) if o.applies_to(dialect)]
        for number, operation in enumerate(applicable, start=1):
            effect = blocking_effect(operation, state)
            if cluster == "galera" and effect and not isinstance(operation, ops.Sql):
                effect = f"{effect} (on every node: TOI)"
            counted = [t for t in operation.tables() if t in existing and t in state.tables]
            rows = None
            if count_rows is not None and counted and (
                operation.rewrites_data or (effect and ("rewrites" in effect or "copies" in effect))
            ):
                rows = count_rows(counted[0])
            skipped = index == 0 and number <= done
            estimate = None
            if estimator is not None and not skipped:
                estimate = estimator.operation(operation, state)
                estimates.append(estimate)
            planned.append(PlannedOperation(
                operation.describe(), operation.rewrites_data, operation.tables(), rows, effect,
                done=skipped,
                estimate_seconds=round(estimate.seconds, 3) if estimate else None,
                lock=str(estimate.effect) if estimate and estimate.table else None,
            ))
            operation.apply_state(state)
        if estimator is None:
            pending.append(PlannedRevision(step.id, step.message, tuple(planned)))
            continue
        seconds = estimator.revision_seconds + sum(e.seconds for e in estimates)
        pending.append(PlannedRevision(step.id, step.message, tuple(planned),
                                       round(seconds, 3), step_locks(dialect, estimates)))
    return tuple(pending)


def blocking_effect(operation: ops.Operation, state: SchemaState) -> str | None:
    """How the operation affects a running service on ``state.dialect``."""
    dialect = state.dialect
    tables = [t for t in operation.tables() if t in state.tables]
    if not tables:
        return None  # a new table: nobody uses it yet
    table = tables[0]
    if dialect == "sqlite":
        return f"locks the whole database file while {table} changes"
    if isinstance(operation, ops.Sql):
        if operation.rewrites_data:
            return f"locks the rows of {table} it changes until the revision commits"
        return f"exclusive lock on {table}"
    if isinstance(operation, ops.AlterColumn):
        if not operation.changes_anything(state):
            return None
        old = state.table(table).column(operation.column)
        if dialect == "mysql" and operation.type is not None:
            if not rewrites_table(operation, state):
                return f"brief metadata lock on {table} (InnoDB extends the VARCHAR in place)"
            return f"copies {table}: writes to it wait until the copy ends"
        if dialect == "postgresql" and operation.type is not None:
            old_type = ops.compiled_type(old.type, dialect)
            if old_type.startswith("VARCHAR") and not rewrites_table(operation, state):
                return f"brief exclusive lock on {table} (no rewrite for a longer VARCHAR or TEXT)"
            return f"rewrites {table}: reads and writes wait until it ends"
        return f"brief exclusive lock on {table}"
    if isinstance(operation, (ops.CreateIndex, ops.AddUnique)):
        if dialect == "postgresql":
            return f"builds an index: writes to {table} wait until it ends"
        return f"builds an index online; brief metadata lock on {table}"
    if isinstance(operation, ops.AddForeignKey):
        return f"checks every row of {table}: writes wait until it ends"
    if isinstance(operation, ops.DropTable):
        return f"drops {table}: a service still using it fails"
    if isinstance(operation, ops.AddColumn) and dialect == "mysql":
        return f"brief metadata lock on {table} (instant ADD COLUMN)"
    return f"brief exclusive lock on {table}"
