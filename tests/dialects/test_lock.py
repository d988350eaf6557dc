"""The migration lock of server databases: a row under a lease (runner/lockrow.py).

What each test shows, on PostgreSQL and MariaDB:

* a run whose process died on this machine is taken over at once, and its audit row is
  recorded as interrupted, with when it was last heard of and where the database stands;
* a holder on another machine that stopped beating is taken over once its lease has
  passed, not before;
* a live holder is never taken over, however long it holds the lock: the waiting run
  times out naming it;
* a holder whose row was taken stops at its next safe point.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from dbs import FreshDatabase
from helpers import CliResult, run_cli, settings_for, write_config
from mistral_db_manage import api
from mistral_db_manage.errors import LockLostError
from mistral_db_manage.runner import lockrow
from mistral_db_manage.runner.audit import AuditRun, read_runs
from mistral_db_manage.runner.database import open_database
from mistral_db_manage.runner.lock import migration_lock

pytestmark = pytest.mark.dialects("postgresql", "mysql")


def _dead_pid() -> int:
    """The pid of a process that has ended (reaped: nothing runs under it now)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=30)
    return process.pid


def _plant_holder(url: str, process: lockrow.ProcessIdentity, *, lease: int,
                  with_audit_row: bool) -> lockrow.Holder:
    """Write a lock row (and a ``running`` audit row) as a run that then died would leave."""
    token = "planted-run-0001"
    claim = lockrow.Claimant(token, "mistral-db-manage upgrade by ghost@elsewhere pid "
                             f"{process.pid}", process, lease)
    with open_database(url) as database:
        connection = database.connection
        lockrow.ensure_table(connection)
        assert lockrow.try_insert(connection, claim)
        if with_audit_row:
            AuditRun(connection, "upgrade", run_id=token).start("019", "045")
        holder = lockrow.read_holder(connection)
    assert holder is not None and holder.token == token
    return holder


def _timed_upgrade(conf: Path, cwd: Path) -> tuple[CliResult, float]:
    """``upgrade head`` (waiting up to a minute for the lock) and how long it took."""
    began = time.monotonic()
    result = run_cli("--config-file", str(conf), "--lock-timeout", "60", "upgrade", "head",
                     cwd=cwd)
    return result, time.monotonic() - began


def _lock_rows(db: FreshDatabase) -> list[tuple[object, ...]]:
    return db.rows("SELECT token FROM mistral_db_manage_lock")


def test_a_dead_run_on_this_machine_is_taken_over_at_once(
    fresh_db: FreshDatabase, tmp_path: Path
) -> None:
    api.upgrade(settings_for(fresh_db.url), "019")
    here = lockrow.this_process()
    dead = lockrow.ProcessIdentity(here.host_key, _dead_pid(), 12345)
    holder = _plant_holder(fresh_db.url, dead, lease=600, with_audit_row=True)
    conf = write_config(tmp_path, fresh_db.url)

    result, waited = _timed_upgrade(conf, tmp_path)

    assert result.returncode == 0, result.stderr
    assert f"its process {dead.pid} on this machine is gone" in result.stderr
    # not the 600 s lease: the dead process was proof enough
    assert waited < 60
    assert "recorded it as interrupted: the database is at revision 019" in result.stderr
    assert api.current(settings_for(fresh_db.url)).revision == "045"
    assert _lock_rows(fresh_db) == []  # released at the end

    with open_database(fresh_db.url) as database:
        runs = {run.id: run for run in read_runs(database.connection)}
    planted = runs[holder.token]
    assert planted.outcome == "interrupted"
    assert planted.finished_at == holder.beat_at  # last heard of
    assert planted.detail is not None and "revision 019" in planted.detail
    assert [r.outcome for r in runs.values() if r.id != holder.token] == ["succeeded", "succeeded"]
    shown = run_cli("--config-file", str(conf), "history", "--applied", cwd=tmp_path)
    assert shown.returncode == 0
    assert "interrupted" in shown.stdout


def test_a_silent_holder_elsewhere_is_taken_over_after_its_lease(
    fresh_db: FreshDatabase, tmp_path: Path
) -> None:
    elsewhere = lockrow.ProcessIdentity("another-machine", 4242, 777)
    _plant_holder(fresh_db.url, elsewhere, lease=4, with_audit_row=False)
    conf = write_config(tmp_path, fresh_db.url)

    result, waited = _timed_upgrade(conf, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "waiting for the migration lock held by mistral-db-manage upgrade by " \
           "ghost@elsewhere pid 4242" in result.stderr
    assert "took over the migration lock of" in result.stderr
    assert "over its lease of 4 s" in result.stderr
    assert waited >= 4  # never before the holder's own lease
    assert api.current(settings_for(fresh_db.url)).revision == "045"


def test_a_live_holder_is_never_taken_over(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    with open_database(fresh_db.url) as database, migration_lock(
        database, command="upgrade", lease=3
    ) as hold:
        # three leases' worth of waiting: the heartbeat keeps the lock
        result = run_cli("--config-file", str(conf), "--lock-timeout", "9", "upgrade",
                         "head", cwd=tmp_path)
        hold.check()  # still held
        holder = lockrow.read_holder(database.connection)
    assert result.returncode == 1
    assert "took over" not in result.stderr
    assert "has held the migration lock for over 9 s" in result.stderr
    assert holder is not None and holder.token == hold.token
    assert holder.beat >= 3  # a beat every half second for over nine seconds
    assert fresh_db.table_names() == ["mistral_db_manage_lock"]  # nothing else was created


def test_a_holder_whose_lock_was_taken_stops_at_its_next_safe_point(
    fresh_db: FreshDatabase,
) -> None:
    with open_database(fresh_db.url) as database, migration_lock(database, lease=3) as hold:
        hold.check()
        # another run takes the row over (as it would once the lease had passed)
        fresh_db.execute("UPDATE mistral_db_manage_lock SET token = 'someone-else'")
        deadline = time.monotonic() + 10
        with pytest.raises(LockLostError, match="another run took over the migration lock"):
            while time.monotonic() < deadline:
                hold.check()
                time.sleep(0.1)
    # the taker's row is left alone when the displaced run lets go
    assert _lock_rows(fresh_db) == [("someone-else",)]


def test_the_lock_row_replaces_nothing_of_mistral(fresh_db: FreshDatabase) -> None:
    """The lock's table is this tool's: schema comparisons leave it out."""
    api.upgrade(settings_for(fresh_db.url), "head")
    engine = fresh_db.engine()
    try:
        with engine.connect() as connection:
            names = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert "mistral_db_manage_lock" in names
    assert api.verify(settings_for(fresh_db.url)).clean
