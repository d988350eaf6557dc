"""SIGTERM, SIGHUP and SIGINT stop a run at a safe point and say where the database stands.

What an operator's service manager does (systemd, Kubernetes, an Ansible timeout): send
SIGTERM to a running ``upgrade``.  The run must stop before its next revision (or, on
MariaDB, before the next operation of a journaled revision), print one line saying where the
database stands, exit 128 + the signal's number, and record its audit row as interrupted;
``status`` and ``verify`` then describe a half-done revision as such, and ``upgrade`` goes on
to the same rows as an uninterrupted run.  A second signal stops the run at once, and a
signal while the run waits for the lock stops the wait.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from dbs import FreshDatabase
from helpers import run_cli, settings_for, start_run, write_config
from mistral_db_manage import api
from mistral_db_manage.runner.audit import read_runs
from mistral_db_manage.runner.database import open_database
from mistral_db_manage.runner.lock import migration_lock
from seeds import mistral_rows, seed_019

pytestmark = pytest.mark.dialects("sqlite", "postgresql", "mysql")

#: enough task executions for 020 and 022 to last a moment
TASKS = 5000


def _at_019_with_rows(db: FreshDatabase) -> None:
    api.upgrade(settings_for(db.url), "019")
    seed_019(db.url, TASKS)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_stops_the_run_at_a_safe_point(
    fresh_db: FreshDatabase, make_db: object, tmp_path: Path, signum: int
) -> None:
    _at_019_with_rows(fresh_db)
    conf = write_config(tmp_path, fresh_db.url)
    run = start_run(conf, "upgrade", "head", cwd=tmp_path)
    run.wait_for_line("-> 020,")
    run.process.send_signal(signum)
    run.finish()
    name = signal.Signals(signum).name

    assert run.returncode == 128 + signum, run.describe()
    error = [line for line in run.stderr.splitlines() if "error:" in line]
    assert len(error) == 1, run.stderr
    assert f"interrupted by {name} at a safe point: " in error[0]
    assert "Traceback" not in run.stderr
    stands = error[0].split("at a safe point: ", 1)[1]
    revision = api.current(settings_for(fresh_db.url)).revision
    assert revision is not None and "019" <= revision < "045"
    if "half-done" not in stands and "inside revision" not in stands:
        assert stands == f"the database is at revision {revision}"

    with open_database(fresh_db.url) as database:
        runs = read_runs(database.connection)
    assert runs[0].outcome == "interrupted"
    assert runs[0].detail == f"interrupted by {name}: {stands}"
    assert api.verify(settings_for(fresh_db.url)).clean  # no drift, even half-way

    again = run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    # the same rows as a run nobody interrupted
    control = make_db(fresh_db.dialect)  # type: ignore[operator]
    _at_019_with_rows(control)
    api.upgrade(settings_for(control.url), "head")
    assert mistral_rows(fresh_db.url) == mistral_rows(control.url)


@pytest.mark.dialects("postgresql", "mysql")
def test_a_second_signal_stops_at_once(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    _at_019_with_rows(fresh_db)
    conf = write_config(tmp_path, fresh_db.url)
    run = start_run(conf, "upgrade", "head", cwd=tmp_path)
    run.wait_for_line("-> 020,")
    run.process.send_signal(signal.SIGTERM)
    run.wait_for_line("stopping at the next safe point")
    run.process.send_signal(signal.SIGTERM)
    run.finish()
    assert run.returncode == 143, run.describe()
    assert "interrupted by SIGTERM" in run.stderr
    assert "Traceback" not in run.stderr
    again = run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert api.verify(settings_for(fresh_db.url)).clean


@pytest.mark.dialects("postgresql", "mysql")
def test_a_signal_while_waiting_for_the_lock(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    with open_database(fresh_db.url) as database, migration_lock(database, lease=3):
        run = start_run(conf, "upgrade", "head", cwd=tmp_path)
        run.wait_for_line("waiting for the migration lock")
        run.process.send_signal(signal.SIGTERM)
        run.finish()
    assert run.returncode == 143, run.describe()
    assert run.stderr.strip().splitlines()[-1] == "mistral-db-manage: interrupted by SIGTERM"
    assert fresh_db.table_names() == ["mistral_db_manage_lock"]  # nothing else done
    assert fresh_db.rows("SELECT count(*) FROM mistral_db_manage_lock") == [(0,)]
