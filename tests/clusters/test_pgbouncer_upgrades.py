"""Eight concurrent ``upgrade head`` through PgBouncer, in session and transaction pooling.

In transaction pooling a client's consecutive transactions may run on different server
connections, so no session state (an advisory lock, a ``SET``) follows the client: the
tool's lock row needs none.  Every run must exit 0 (none hangs), exactly one must change
the database, and the end state must be the reference schema with one version row, no
lock row left, and (from 019 with rows) the rows of a run made directly on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dbs import (
    POSTGRESQL,
    FreshDatabase,
    ServerAvailability,
    create_server_database,
    drop_database,
    dump_postgresql,
    pg_server,
    reference_dump,
)
from helpers import start_run
from pgbouncer import PgBouncer
from runs import changed_the_database, run_all, write_conf
from seeds import mistral_rows, seed_019

RUNS = 8
MODES = ["session", "transaction"]


@pytest.fixture
def pg_databases(server_availability: ServerAvailability) -> Iterator[list[FreshDatabase]]:
    """Databases created directly on PostgreSQL (``.append(make())``), dropped after."""
    server_availability.ensure(POSTGRESQL)
    made: list[FreshDatabase] = []
    try:
        yield made
    finally:
        for db in made:
            drop_database(db)


def _new(made: list[FreshDatabase]) -> FreshDatabase:
    db = create_server_database(pg_server())
    made.append(db)
    return db


def _eight_at_once(bouncer: PgBouncer, db: FreshDatabase, directory: Path) -> None:
    conf = write_conf(directory, bouncer.url(db.name), "bouncer.conf")
    runs = run_all([start_run(conf, "upgrade", "head", cwd=directory) for _ in range(RUNS)])
    for run in runs:
        assert run.returncode == 0, run.describe()
    changers = [run for run in runs if changed_the_database(run)]
    assert len(changers) == 1, [run.describe() for run in runs]
    assert dump_postgresql(db.name) == reference_dump("postgresql", "045")
    assert db.rows("SELECT version_num FROM alembic_version") == [("045",)]
    assert db.rows("SELECT count(*) FROM mistral_db_manage_lock") == [(0,)]


@pytest.mark.parametrize("mode", MODES)
def test_eight_concurrent_upgrades_of_a_fresh_database(
    mode: str, request: pytest.FixtureRequest, pg_databases: list[FreshDatabase],
    tmp_path: Path,
) -> None:
    bouncer: PgBouncer = request.getfixturevalue(f"pgbouncer_{mode}")
    _eight_at_once(bouncer, _new(pg_databases), tmp_path)


@pytest.mark.parametrize("mode", MODES)
def test_eight_concurrent_upgrades_from_019_with_rows(
    mode: str, request: pytest.FixtureRequest, pg_databases: list[FreshDatabase],
    tmp_path: Path,
) -> None:
    bouncer: PgBouncer = request.getfixturevalue(f"pgbouncer_{mode}")
    control = _new(pg_databases)
    direct = write_conf(tmp_path, control.url, "direct.conf")
    assert start_run(direct, "upgrade", "019", cwd=tmp_path).finish().returncode == 0
    seed_019(control.url)
    assert start_run(direct, "upgrade", "head", cwd=tmp_path).finish().returncode == 0

    db = _new(pg_databases)
    setup = write_conf(tmp_path, db.url, "setup.conf")
    assert start_run(setup, "upgrade", "019", cwd=tmp_path).finish().returncode == 0
    seed_019(db.url)
    _eight_at_once(bouncer, db, tmp_path)
    assert mistral_rows(db.url) == mistral_rows(control.url)
