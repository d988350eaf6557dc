"""Upgrades on a three-node MariaDB Galera cluster, as configuration management runs them.

* rounds of three concurrent ``upgrade head``, each through another node, on a fresh
  database and on a database at 019 with rows: every run exits 0, exactly one changes the
  database, and every node ends at 045 with the reference schema, one version row, no
  journal or lock row left, and the rows of an uninterrupted run;
* a node killed (SIGKILL) during a revision, or the tool killed, then ``upgrade head``
  through another node: always the same end state; the killed tool's audit row says
  ``interrupted``;
* a live holder of the lock is not displaced while a long schema change (TOI) stalls the
  cluster, however short its lease;
* ``wsrep_OSU_method=RSU`` is refused and nothing changes; ``--plan`` warns about TOI.

``MDM_GALERA_ROUNDS`` sets the number of rounds of each kind (default 20).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbs import new_database_name, reference_dump
from galera import GaleraCluster
from helpers import Run, start_run
from mistral_db_manage.runner import lockrow
from mistral_db_manage.runner.database import open_database
from mistral_db_manage.runner.lock import migration_lock
from runs import (
    changed_the_database,
    galera_state,
    run_all,
    write_conf,
)
from seeds import mistral_rows, seed_019

ROUNDS = int(os.environ.get("MDM_GALERA_ROUNDS", "20"))
#: the lease of the holder in the long-DDL test (the shortest allowed)
LEASE = 3.0
NODES = (1, 2, 3)


class Databases:
    """New databases on the cluster, dropped at the end."""

    def __init__(self, cluster: GaleraCluster) -> None:
        self.cluster = cluster
        self.names: list[str] = []

    def create(self) -> str:
        name = new_database_name()
        self.cluster.node(1).query(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        self.names.append(name)
        for index in NODES:  # TOI returns on node 1 before the others are done
            found = self.cluster.node(index).query(
                "SET SESSION wsrep_sync_wait = 15; SELECT schema_name FROM "
                f"information_schema.schemata WHERE schema_name = '{name}'")
            assert found == [[name]], f"node {index} does not have {name}"
        return name

    def drop_all(self) -> None:
        self.cluster.heal()
        for name in self.names:
            self.cluster.node(1).query(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def databases(galera_cluster: GaleraCluster) -> Iterator[Databases]:
    made = Databases(galera_cluster)
    try:
        yield made
    finally:
        made.drop_all()


def _confs(cluster: GaleraCluster, database: str, directory: Path) -> dict[int, Path]:
    return {i: write_conf(directory, cluster.url(i, database), f"node{i}.conf") for i in NODES}


_uninterrupted: dict[int, dict[str, list[str]]] = {}


def uninterrupted_rows(cluster: GaleraCluster, databases: Databases, directory: Path,
                       tasks: int) -> dict[str, list[str]]:
    """The rows one plain run gives from :func:`seed_019` (computed once per size)."""
    if tasks not in _uninterrupted:
        name = databases.create()
        conf = write_conf(directory, cluster.url(1, name), "control.conf")
        assert start_run(conf, "upgrade", "019", cwd=directory).finish().returncode == 0
        seed_019(cluster.url(1, name), tasks)
        done = start_run(conf, "upgrade", "head", cwd=directory).finish()
        assert done.returncode == 0, done.describe()
        _uninterrupted[tasks] = mistral_rows(cluster.url(1, name), causal=True)
    return _uninterrupted[tasks]


def assert_cluster_at_head(cluster: GaleraCluster, database: str,
                           rows: dict[str, list[str]] | None = None,
                           nodes: tuple[int, ...] = NODES) -> None:
    expected = reference_dump("mysql", "045")
    for index in nodes:
        state = galera_state(cluster, index, database)
        assert state.versions == ["045"], f"node {index}: version rows {state.versions}"
        assert state.dump == expected, f"node {index}: schema differs from the reference"
        assert (state.journal, state.locks) == (0, 0), f"node {index}: journal/lock left"
        if rows is not None:
            assert state.rows == rows, f"node {index}: rows differ from an uninterrupted run"


def _three_at_once(cluster: GaleraCluster, database: str, directory: Path) -> list[Run]:
    confs = _confs(cluster, database, directory)
    runs = run_all([start_run(confs[i], "upgrade", "head", cwd=directory) for i in NODES])
    for index, run in zip(NODES, runs, strict=True):
        assert run.returncode == 0, f"through node {index}: {run.describe()}"
    changers = [run for run in runs if changed_the_database(run)]
    assert len(changers) == 1, [run.describe() for run in runs]
    for run in runs:
        if run is not changers[0]:
            assert run.stdout.startswith("Nothing to do: the database is already at 045")
            assert "removed" not in run.stderr  # nobody cleaned up a live run
    return runs


@pytest.mark.parametrize("round_number", range(1, ROUNDS + 1))
def test_three_concurrent_upgrades_of_a_fresh_database(
    galera_cluster: GaleraCluster, databases: Databases, tmp_path: Path, round_number: int
) -> None:
    database = databases.create()
    _three_at_once(galera_cluster, database, tmp_path)
    assert_cluster_at_head(galera_cluster, database)


@pytest.mark.parametrize("round_number", range(1, ROUNDS + 1))
def test_three_concurrent_upgrades_from_019_with_rows(
    galera_cluster: GaleraCluster, databases: Databases, tmp_path: Path, round_number: int
) -> None:
    expected_rows = uninterrupted_rows(galera_cluster, databases, tmp_path, 300)
    database = databases.create()
    conf = write_conf(tmp_path, galera_cluster.url(1, database), "setup.conf")
    assert start_run(conf, "upgrade", "019", cwd=tmp_path).finish().returncode == 0
    seed_019(galera_cluster.url(1, database), 300)
    _three_at_once(galera_cluster, database, tmp_path)
    assert_cluster_at_head(galera_cluster, database, expected_rows)


#: task executions for the kill tests: enough for 020 and 022 to take a moment
KILL_TASKS = 20000


def _database_at_019(cluster: GaleraCluster, databases: Databases, directory: Path) -> str:
    database = databases.create()
    conf = write_conf(directory, cluster.url(1, database), "setup.conf")
    assert start_run(conf, "upgrade", "019", cwd=directory).finish().returncode == 0
    seed_019(cluster.url(1, database), KILL_TASKS)
    return database


def _upgrade_reaching(
    cluster: GaleraCluster, databases: Databases, directory: Path, revision: str
) -> tuple[dict[str, list[str]], str, dict[int, Path], Run]:
    """An ``upgrade head`` through node 1 from 019 with rows, once it starts ``revision``;
    the rows an uninterrupted run gives, the database and the nodes' configurations."""
    expected_rows = uninterrupted_rows(cluster, databases, directory, KILL_TASKS)
    database = _database_at_019(cluster, databases, directory)
    confs = _confs(cluster, database, directory)
    run = start_run(confs[1], "upgrade", "head", cwd=directory)
    run.wait_for_line(f"-> {revision},")
    return expected_rows, database, confs, run


@pytest.mark.parametrize("revision", ["020", "024"])
def test_node_killed_during_a_revision_then_upgrade_through_another_node(
    galera_cluster: GaleraCluster, databases: Databases, tmp_path: Path, revision: str
) -> None:
    expected_rows, database, confs, run = _upgrade_reaching(
        galera_cluster, databases, tmp_path, revision)
    galera_cluster.kill_node(1)
    killed = run.finish()
    assert killed.returncode != 0, killed.describe()
    assert "Traceback" not in killed.stderr, killed.stderr

    galera_cluster.wait_cluster_size(2, nodes=(2, 3), timeout=30)
    again = start_run(confs[2], "upgrade", "head", cwd=tmp_path).finish()
    assert again.returncode == 0, again.describe()
    assert_cluster_at_head(galera_cluster, database, expected_rows, nodes=(2, 3))
    galera_cluster.heal()
    assert_cluster_at_head(galera_cluster, database, expected_rows)


@pytest.mark.parametrize("revision", ["022", "024"])
def test_tool_killed_during_a_revision_then_upgrade_through_another_node(
    galera_cluster: GaleraCluster, databases: Databases, tmp_path: Path, revision: str
) -> None:
    expected_rows, database, confs, run = _upgrade_reaching(
        galera_cluster, databases, tmp_path, revision)
    run.kill()
    run.finish()

    again = start_run(confs[3], "upgrade", "head", cwd=tmp_path).finish()
    assert again.returncode == 0, again.describe()
    # the killed run's process is gone from this machine: no lease to wait for
    assert f"its process {run.process.pid} on this machine is gone" in again.stderr, \
        again.stderr + "\nKILLED:\n" + run.stderr
    assert "recorded it as interrupted" in again.stderr
    assert_cluster_at_head(galera_cluster, database, expected_rows)
    history = start_run(confs[2], "history", "--applied", cwd=tmp_path).finish()
    assert history.returncode == 0
    assert "interrupted" in history.stdout


def test_live_holder_keeps_the_lock_through_a_long_schema_change(
    galera_cluster: GaleraCluster, databases: Databases, tmp_path: Path
) -> None:
    """A TOI schema change that outlasts several leases holds back the holder's
    heartbeats on every node; the waiting run must still not take the lock over."""
    big = databases.create()
    node1 = galera_cluster.node(1)
    # wide enough rows that the rebuild outlasts the lease on an idle machine too
    # (with 40-byte rows it took 2.6 s there, under the 3 s lease)
    node1.query(f"CREATE TABLE `{big}`.filler (id INT AUTO_INCREMENT PRIMARY KEY, "
                "v VARCHAR(160))")
    for _chunk in range(4):
        node1.query(f"USE `{big}`; INSERT INTO filler (v) SELECT REPEAT('x', 160) "
                    "FROM seq_1_to_400000", timeout=120)
    target = databases.create()
    conf2 = write_conf(tmp_path, galera_cluster.url(2, target), "node2.conf")

    holder_url = galera_cluster.url(1, target)
    events: dict[str, float] = {}
    errors: list[BaseException] = []
    held = threading.Event()
    waiter_watching = threading.Event()

    def hold_through_ddl() -> None:
        try:
            with open_database(holder_url) as database, migration_lock(
                database, command="upgrade", lease=LEASE
            ) as hold:
                held.set()
                waiter_watching.wait(120)
                time.sleep(LEASE / 2)  # the waiter has seen a beat or two
                began = time.monotonic()
                database.connection.exec_driver_sql(f"ALTER TABLE `{big}`.filler FORCE")
                events["ddl"] = time.monotonic() - began
                hold.check()  # the lock is still ours
                row = lockrow.read_holder(database.connection)
                events["still_ours"] = float(row is not None and row.token == hold.token)
        except BaseException as error:  # reported below
            errors.append(error)
            held.set()

    thread = threading.Thread(target=hold_through_ddl)
    thread.start()
    assert held.wait(60)
    waiter = start_run(conf2, "--debug", "--lock-timeout", "120", "upgrade", "head",
                       cwd=tmp_path)
    waiter.wait_for_line("waiting for the migration lock")
    waiter_watching.set()
    thread.join(timeout=300)
    assert not thread.is_alive()
    waiter.finish()
    assert errors == [], errors
    # the point of the test: the change lasted longer than the lease (plus a beat)
    assert events["ddl"] > LEASE + 1, f"the schema change took only {events['ddl']:.1f} s"
    assert events["still_ours"] == 1.0
    assert waiter.returncode == 0, waiter.describe()
    assert "took over" not in waiter.stderr
    assert changed_the_database(waiter)
    attempts = waiter.stderr.count("trying to take over")
    print(f"schema change {events['ddl']:.1f} s with a {LEASE:g} s lease; the waiter tried "
          f"{attempts} takeover(s), none went through")
    assert_cluster_at_head(galera_cluster, target)


def test_rsu_is_refused_and_nothing_changes(
    galera_cluster: GaleraCluster, databases: Databases, tmp_path: Path
) -> None:
    database = databases.create()
    conf = write_conf(tmp_path, galera_cluster.url(2, database), "node2.conf")
    node2 = galera_cluster.node(2)
    node2.query("SET GLOBAL wsrep_OSU_method = 'RSU'")
    try:
        result = start_run(conf, "upgrade", "head", cwd=tmp_path).finish()
    finally:
        node2.query("SET GLOBAL wsrep_OSU_method = 'TOI'")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "wsrep_OSU_method=RSU" in lines[0], result.stderr
    for index in NODES:
        state = galera_state(galera_cluster, index, database)
        tables = galera_cluster.node(index).query(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema='{database}'")
        assert tables == [] and state.versions == [], f"node {index} changed"


def test_plan_through_a_node_names_toi(
    galera_cluster: GaleraCluster, databases: Databases, tmp_path: Path
) -> None:
    database = databases.create()
    conf = write_conf(tmp_path, galera_cluster.url(3, database), "node3.conf")
    assert start_run(conf, "upgrade", "019", cwd=tmp_path).finish().returncode == 0
    seed_019(galera_cluster.url(3, database), 300)
    plan = start_run(conf, "upgrade", "head", "--plan", cwd=tmp_path).finish()
    assert plan.returncode == 3, plan.describe()  # revisions pending
    assert "Galera cluster: every schema change runs in total order isolation (TOI): " \
           "writes stall on every node" in plan.stdout
    assert "None of them copies or rebuilds a table of 100000 rows" in plan.stdout
    assert "copies workflow_executions_v2: writes to it wait until the copy ends (on every " \
           "node: TOI)" in plan.stdout  # 041: description becomes TEXT
    # 025 lengthens VARCHAR(250) to VARCHAR(255): InnoDB does that in place, no copy
    assert "brief metadata lock on task_executions_v2 (InnoDB extends the VARCHAR in place) " \
           "(on every node: TOI)" in plan.stdout
    assert "copies task_executions_v2" not in plan.stdout
