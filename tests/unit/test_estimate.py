"""The plan's estimates: present per operation, step and plan, growing with the rows;
the probe bounded in queries; the locks named per step."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from mistral_db_manage.runner.chain import Chain
from mistral_db_manage.runner.estimate import Estimator, LockEffect, Rates, TableStats
from mistral_db_manage.runner.plan import DatabaseSnapshot, Strategy, plan_upgrade
from mistral_db_manage.runner.probe import PROBE_QUERIES, measure_rates, table_statistics

CHAIN = Chain.load()
BIG = ("task_executions_v2", "action_executions_v2", "workflow_executions_v2")
RATES = {
    "postgresql": Rates("postgresql", 1.2e9, 1.2e9, 1.0, 0.001, 0),
    "mysql": Rates("mysql", 2.5e8, 8e8, 1.0, 0.001, 128 << 20),
    "sqlite": Rates("sqlite", 1e9, 1e9, 1.0, 0.0, 0),
}


def _estimator(dialect: str, rows: int, cluster: str | None = None) -> Estimator:
    stats = {t: TableStats(rows, rows * 3000, 5) for t in BIG}
    return Estimator(stats, RATES[dialect], cluster=cluster)


def _plan(dialect: str, rows: int, start: str = "019", cluster: str | None = None):  # type: ignore[no-untyped-def]
    snapshot = DatabaseSnapshot(start, frozenset(BIG), cluster=cluster)
    estimator = _estimator(dialect, rows, cluster)
    return plan_upgrade(CHAIN, dialect, snapshot, CHAIN.head, count_rows=estimator.rows,
                        estimator=estimator)


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
def test_every_step_and_operation_has_an_estimate(dialect: str) -> None:
    plan = _plan(dialect, 200_000)
    assert plan.strategy is Strategy.REPLAY and plan.estimate_seconds is not None
    assert all(step.estimate_seconds is not None and step.estimate_seconds >= 0
               for step in plan.pending)
    assert all(op.estimate_seconds is not None for step in plan.pending
               for op in step.operations)
    steps = sum(step.estimate_seconds or 0 for step in plan.pending)
    assert plan.estimate_seconds >= steps - 0.01
    assert plan.estimate_basis is not None and "probe_queries" in plan.estimate_basis


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
def test_estimates_grow_with_the_rows(dialect: str) -> None:
    totals = [_plan(dialect, rows).estimate_seconds for rows in (0, 20_000, 200_000, 1_000_000)]
    assert totals == sorted(totals) and totals[-1] > totals[1]  # type: ignore[type-var]
    # 020's step grows too; 043 (a column on a small table) does not
    for step_id, grows in (("020", True), ("043", False)):
        seconds = [next(s.estimate_seconds for s in _plan(dialect, rows).pending
                        if s.revision == step_id) for rows in (20_000, 1_000_000)]
        assert (seconds[1] > 2 * seconds[0]) is grows, (step_id, seconds)  # type: ignore[operator]


def test_locks_per_step() -> None:
    steps = {s.revision: s for s in _plan("postgresql", 200_000).pending}
    # PostgreSQL holds 020's ACCESS EXCLUSIVE lock until the revision commits
    (lock,) = steps["020"].locks
    assert lock.table == "task_executions_v2" and lock.effect is LockEffect.READS
    assert lock.seconds == pytest.approx(steps["020"].estimate_seconds, rel=0.05)
    assert [(lk.table, lk.effect) for lk in steps["024"].locks] == [
        ("task_executions_v2", LockEffect.WRITES)]
    mysql = {s.revision: s for s in _plan("mysql", 200_000).pending}
    assert {lk.effect for lk in mysql["024"].locks} == set()  # an online index build
    assert [lk.effect for lk in mysql["041"].locks] == [LockEffect.WRITES]  # a table copy
    assert not any(lk.cluster_stall for s in mysql.values() for lk in s.locks)
    galera = {s.revision: s for s in _plan("mysql", 200_000, cluster="galera").pending}
    assert all(lk.cluster_stall for lk in galera["041"].locks)


def test_041_is_free_on_postgresql_and_a_copy_on_mysql() -> None:
    pg = next(s for s in _plan("postgresql", 1_000_000, "040").pending if s.revision == "041")
    my = next(s for s in _plan("mysql", 1_000_000, "040").pending if s.revision == "041")
    assert pg.estimate_seconds is not None and my.estimate_seconds is not None
    assert pg.estimate_seconds < 0.1 < my.estimate_seconds


def test_the_probe_is_bounded_and_reads_the_catalog() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE task_executions_v2 (id VARCHAR(36) PRIMARY KEY, "
                                "spec TEXT)"))
        connection.execute(text(
            "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 500) "
            "INSERT INTO task_executions_v2 SELECT printf('%036d', i), hex(randomblob(200)) "
            "FROM g"))
        connection.commit()
        stats = table_statistics(connection, "sqlite")
        assert stats["task_executions_v2"].rows == 500
        assert stats["task_executions_v2"].bytes > 500 * 400
        rates = measure_rates(connection, "sqlite", stats, tables=tuple(stats))
    assert 0 < rates.probe_queries <= PROBE_QUERIES
    assert rates.cpu_factor > 0 and rates.cached_bytes_per_second > 0


def test_025_lengthens_varchars_in_place_on_mysql() -> None:
    """VARCHAR(250) -> VARCHAR(255) keeps InnoDB's two-byte length prefix: no copy,
    and the plan must not say there is one (nor count rows for it)."""
    step = next(s for s in _plan("mysql", 200_000).pending if s.revision == "025")
    effects = [op.blocking for op in step.operations]
    assert effects == [
        "brief metadata lock on task_executions_v2 (InnoDB extends the VARCHAR in place)",
        "brief metadata lock on named_locks (InnoDB extends the VARCHAR in place)",
    ]
    copies = [op.blocking for s in _plan("mysql", 200_000).pending for op in s.operations
              if op.blocking and op.blocking.startswith("copies")]
    assert copies and all("task_executions_v2" not in c for c in copies)


def _rewrite_seconds(dialect: str, share: float, *, indexed: bool = True) -> float:
    from mistral_db_manage.runner.estimate import Work, WorkKind

    # 1,700-byte rows: 4.8 to an 8 KiB page, as task_executions_v2 at N = 200,000
    stats = {"t": TableStats(200_000, 200_000 * 1700, 6)}
    estimator = Estimator(stats, RATES[dialect])
    return estimator.work_seconds(Work(WorkKind.REWRITE, "t", share, indexed))


def test_a_postgresql_rewrite_pays_for_every_page_it_logs_whole() -> None:
    """A third of the rows touch most pages, each logged whole after a checkpoint: such a
    rewrite costs more than a third of rewriting every row, on PostgreSQL only."""
    third, every = _rewrite_seconds("postgresql", 0.35), _rewrite_seconds("postgresql", 1.0)
    assert third > 1.1 * 0.35 * every
    assert _rewrite_seconds("mysql", 0.35) == pytest.approx(0.35 * _rewrite_seconds("mysql", 1.0))


@pytest.mark.parametrize("dialect", ["mysql", "sqlite"])
def test_an_in_place_update_of_a_column_no_index_holds_touches_no_index(dialect: str) -> None:
    assert _rewrite_seconds(dialect, 1.0, indexed=False) < _rewrite_seconds(dialect, 1.0)
    # PostgreSQL writes a new version of the row, which every index points to
    assert _rewrite_seconds("postgresql", 1.0, indexed=False) == _rewrite_seconds("postgresql", 1.0)
