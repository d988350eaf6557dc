"""Smoke tests of the cluster harness: Galera replication, node loss and rejoin, PgBouncer.

They prove what later tests of concurrent upgrades rely on: the node URLs work with
SQLAlchemy and PyMySQL, a write on one node is visible on the others, a node killed with
SIGKILL leaves the cluster and comes back Synced (by IST), and both PgBouncer pool modes
pass a new database through to PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from dbs import (
    POSTGRESQL,
    FreshDatabase,
    ServerAvailability,
    create_server_database,
    drop_database,
    new_database_name,
    pg_server,
)
from galera import GaleraCluster
from mistral_db_manage.runner.connect import create_engine_checked
from pgbouncer import PgBouncer


def _engine(url: str) -> sa.Engine:
    # The tool's own way to open a URL (NullPool, connect timeout; a bare postgresql://
    # means psycopg2, as for the tool, where SQLAlchemy 2.1 alone would pick psycopg 3).
    return create_engine_checked(url)


def _status(url: str, name: str) -> str:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SHOW GLOBAL STATUS LIKE :name"), {"name": name}).one()
            return str(row[1])
    finally:
        engine.dispose()


def _read_synced(url: str, query: str) -> list[tuple[object, ...]]:
    """Rows of *query* on one node, after it has applied everything committed before.

    ``wsrep_sync_wait=1`` makes the node wait for the cluster's writes before the read.
    """
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SET SESSION wsrep_sync_wait = 1"))
            return [tuple(row) for row in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


@pytest.fixture
def galera_db(galera_cluster: GaleraCluster) -> Iterator[str]:
    """A new database on the cluster (created on node 1), dropped after the test."""
    name = new_database_name()
    engine = _engine(galera_cluster.url(1, ""))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}`"))
        yield name
    finally:
        galera_cluster.heal()  # a failed test may have left a node down
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        engine.dispose()


def test_galera_cluster_is_whole(galera_cluster: GaleraCluster) -> None:
    for index in (1, 2, 3):
        url = galera_cluster.url(index)
        assert url.startswith("mysql+pymysql://root@127.0.0.1:")
        assert _status(url, "wsrep_cluster_size") == "3"
        assert _status(url, "wsrep_local_state_comment") == "Synced"
    # the same cluster, not three clusters of one
    uuids = {_status(galera_cluster.url(i), "wsrep_cluster_state_uuid") for i in (1, 2, 3)}
    assert len(uuids) == 1


def test_galera_write_on_node1_is_read_on_nodes_2_and_3(
    galera_cluster: GaleraCluster, galera_db: str
) -> None:
    engine = _engine(galera_cluster.url(1, galera_db))
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("CREATE TABLE probe (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))")
            )
            conn.execute(sa.text("INSERT INTO probe (v) VALUES ('from node 1')"))
    finally:
        engine.dispose()
    for index in (2, 3):
        rows = _read_synced(galera_cluster.url(index, galera_db), "SELECT v FROM probe")
        assert rows == [("from node 1",)], f"node {index}"


def test_galera_node_killed_leaves_and_rejoins(
    galera_cluster: GaleraCluster, galera_db: str
) -> None:
    url1 = galera_cluster.url(1, galera_db)
    engine = _engine(url1)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE probe (id INT PRIMARY KEY, v VARCHAR(20))"))
            conn.execute(sa.text("INSERT INTO probe VALUES (1, 'before')"))

        began = time.monotonic()
        galera_cluster.kill_node(2)
        assert not galera_cluster.node(2).is_running()
        galera_cluster.wait_cluster_size(2, nodes=(1, 3), timeout=30)
        left_after = time.monotonic() - began
        assert _status(url1, "wsrep_cluster_size") == "2"
        assert _status(galera_cluster.url(3), "wsrep_cluster_size") == "2"

        # written while node 2 is down: it must get this on rejoining
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO probe VALUES (2, 'while away')"))
    finally:
        engine.dispose()

    began = time.monotonic()
    galera_cluster.start_node(2)
    rejoined_after = time.monotonic() - began
    for index in (1, 2, 3):
        assert _status(galera_cluster.url(index), "wsrep_cluster_size") == "3"
        assert _status(galera_cluster.url(index), "wsrep_local_state_comment") == "Synced"
    rows = _read_synced(galera_cluster.url(2, galera_db), "SELECT id, v FROM probe ORDER BY id")
    assert rows == [(1, "before"), (2, "while away")]
    assert galera_cluster.joined_by(2) == "IST"
    print(f"node 2 left the cluster after {left_after:.1f}s, rejoined in {rejoined_after:.1f}s")


@pytest.fixture
def pg_fresh(server_availability: ServerAvailability) -> Iterator[FreshDatabase]:
    """A new database created directly on PostgreSQL (not through PgBouncer), dropped after."""
    server_availability.ensure(POSTGRESQL)
    db = create_server_database(pg_server())
    try:
        yield db
    finally:
        drop_database(db)  # DROP DATABASE ... WITH (FORCE) ends PgBouncer's server links too


@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_pgbouncer_passes_a_new_database_through(
    mode: str, request: pytest.FixtureRequest, pg_fresh: FreshDatabase
) -> None:
    bouncer: PgBouncer = request.getfixturevalue(f"pgbouncer_{mode}")
    assert bouncer.setting("pool_mode") == mode
    url = bouncer.url(pg_fresh.name)
    assert url == f"postgresql://postgres@127.0.0.1:{bouncer.port}/{pg_fresh.name}"
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE probe (id INTEGER PRIMARY KEY, v TEXT)"))
            conn.execute(sa.text("INSERT INTO probe VALUES (1, :v)"), {"v": f"via {mode}"})
        with engine.connect() as conn:
            rows = [tuple(row) for row in conn.execute(sa.text("SELECT id, v FROM probe"))]
            assert rows == [(1, f"via {mode}")]
            backend = conn.execute(sa.text("SELECT current_database()")).scalar_one()
            assert backend == pg_fresh.name
    finally:
        engine.dispose()
    # and the row really is on PostgreSQL, read without the pooler
    assert pg_fresh.rows("SELECT v FROM probe") == [(f"via {mode}",)]
