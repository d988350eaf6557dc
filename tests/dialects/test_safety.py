"""An upgrade that cannot hurt the data: lock, crash recovery, verify, plan,
adopt, audit, backup (issue 6), end to end through the console script."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from dbs import FreshDatabase, assert_same_schema, reference_dump
from helpers import run_cli, settings_for, write_config
from mistral_db_manage import api
from mistral_db_manage.runner.chain import Chain
from mistral_db_manage.runner.execute import FAULT_ENV
from mistral_db_manage.runner.verify import verify_state
from mistral_db_manage.schema.history import state_at

CHAIN = Chain.load()


def check_head(db: FreshDatabase) -> None:
    if db.dialect != "sqlite":
        assert_same_schema(reference_dump(db.dialect, "045"), db.dump())
    engine = db.engine()
    try:
        with engine.connect() as connection:
            assert verify_state(connection, state_at(CHAIN, db.dialect, "045")) == []
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert version.scalars().all() == ["045"]
    finally:
        engine.dispose()


def cli(conf: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = dict(os.environ, HOME=str(conf.parent), **(env or {}))
    full_env.pop("OS_DATABASE__CONNECTION", None)
    return subprocess.Popen(
        [sys.executable, "-m", "mistral_db_manage", "--config-file", str(conf), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env,
        cwd=conf.parent,
    )


@pytest.mark.slow
def test_eight_concurrent_upgrades(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    started = time.perf_counter()
    processes = [cli(conf, "upgrade", "head") for _ in range(8)]
    outputs = [p.communicate(timeout=600) for p in processes]
    elapsed = time.perf_counter() - started
    codes = [p.returncode for p in processes]
    assert codes == [0] * 8, outputs
    upgraded = [out for out, _err in outputs if out.startswith("Upgraded from an empty")]
    nothing = [out for out, _err in outputs if out.startswith("Nothing to do")]
    assert (len(upgraded), len(nothing)) == (1, 7), outputs
    runs = api.applied_runs(settings_for(fresh_db.url))
    assert [(r.command, r.from_revision, r.to_revision, r.outcome) for r in runs] == [
        ("upgrade", None, "045", "succeeded")
    ]
    check_head(fresh_db)
    print(f"8 concurrent upgrades on {fresh_db.dialect}: {elapsed:.1f} s")


FAULTS = ["002:4", "005:2", "013:5", "014:3", "019:2", "020:2", "022:4", "034:1",
          "037:2", "042:1", "044:2"]


@pytest.mark.slow
def test_fault_injection_then_resume(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    settings = settings_for(fresh_db.url)
    # An empty database gets 001 created directly; inject into that too.
    failed = run_cli("--config-file", str(conf), "upgrade", "001",
                     env={FAULT_ENV: "create:3"}, cwd=tmp_path)
    assert failed.returncode == 1 and "fault injected" in failed.stderr
    assert run_cli("--config-file", str(conf), "upgrade", "001", cwd=tmp_path).returncode == 0
    for fault in FAULTS:
        revision = fault.split(":")[0]
        failed = run_cli("--config-file", str(conf), "upgrade", revision,
                         env={FAULT_ENV: fault}, cwd=tmp_path)
        assert failed.returncode == 1, (fault, failed)
        assert "fault injected" in failed.stderr
        before = api.current(settings).revision
        assert before is None or before < revision  # the failed revision is not recorded
        resumed = run_cli("--config-file", str(conf), "upgrade", revision, cwd=tmp_path)
        assert resumed.returncode == 0, (fault, resumed.stderr)
        assert api.current(settings).revision == revision
    api.upgrade(settings, "head")
    check_head(fresh_db)
    runs = api.applied_runs(settings)
    assert sum(r.outcome == "failed" for r in runs) == len(FAULTS) + 1


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.4, 0.9, 1.6])
def test_sigkill_then_rerun(fresh_db: FreshDatabase, tmp_path: Path, delay: float) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    process = cli(conf, "upgrade", "head")
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    rerun = run_cli("--config-file", str(conf), "upgrade", "head", "--no-backup", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    check_head(fresh_db)


def test_verify_and_drift(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    settings = settings_for(fresh_db.url)
    api.upgrade(settings, "030")
    clean = run_cli("--config-file", str(conf), "verify", cwd=tmp_path)
    assert clean.returncode == 0 and "exactly revision 030" in clean.stdout
    fresh_db.execute("ALTER TABLE task_executions_v2 ADD COLUMN hack INTEGER")
    drift = run_cli("--config-file", str(conf), "verify", "--format", "json", cwd=tmp_path)
    assert drift.returncode == 1
    report = json.loads(drift.stdout)
    assert report["differences"] == ["task_executions_v2.hack: column is not expected"]
    refused = run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path)
    assert refused.returncode == 1
    assert "task_executions_v2.hack" in refused.stderr and "--force" in refused.stderr
    assert api.current(settings).revision == "030"
    forced = run_cli("--config-file", str(conf), "upgrade", "head", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert api.current(settings).revision == "045"


def test_status_and_plan(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    settings = settings_for(fresh_db.url)
    api.upgrade(settings, "019")
    engine = fresh_db.engine()
    try:
        with engine.begin() as connection:
            for n in range(3):
                connection.execute(sa.text(
                    "INSERT INTO task_executions_v2 (id, spec) VALUES (:id, '{}')"), {"id": n})
    finally:
        engine.dispose()
    status = run_cli("--config-file", str(conf), "status", "--format", "json", cwd=tmp_path)
    assert status.returncode == 3, status.stderr
    plan = json.loads(status.stdout)
    assert plan["current"] == "019" and plan["target"] == "045"
    pending = {r["revision"]: r for r in plan["pending"]}
    assert list(pending) == [f"{n:03d}" for n in range(20, 46)]
    data_ops = [o for o in pending["020"]["operations"] if o["rewrites_data"]]
    assert data_ops and data_ops[-1]["rows"] == 3
    text = run_cli("--config-file", str(conf), "upgrade", "head", "--plan", cwd=tmp_path)
    assert text.returncode == 3 and "[rewrites data]" in text.stdout
    assert api.current(settings).revision == "019"
    api.upgrade(settings, "head")
    done = run_cli("--config-file", str(conf), "status", cwd=tmp_path)
    assert done.returncode == 0 and "Nothing to do." in done.stdout


def test_adopt_unversioned_database(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    settings = settings_for(fresh_db.url)
    api.upgrade(settings, "030")
    engine = fresh_db.engine()
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))
            connection.execute(sa.text("DROP TABLE mistral_db_manage_runs"))
    finally:
        engine.dispose()
    for command in (("upgrade", "head"), ("current",)):
        result = run_cli("--config-file", str(conf), *command, cwd=tmp_path)
        assert result.returncode == 1, result
        # the command to run next carries the user's own options
        assert f"`mistral-db-manage --config-file {conf} stamp 030`" in result.stderr, \
            result.stderr
    wrong = run_cli("--config-file", str(conf), "stamp", "045", cwd=tmp_path)
    assert wrong.returncode == 1 and "revision 030's" in wrong.stderr
    right = run_cli("--config-file", str(conf), "stamp", "030", cwd=tmp_path)
    assert right.returncode == 0, right.stderr
    assert api.upgrade(settings, "head").applied[0] == "031"


def test_history_applied(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    assert run_cli("--config-file", str(conf), "upgrade", "010", cwd=tmp_path).returncode == 0
    assert run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path).returncode == 0
    result = run_cli("--config-file", str(conf), "history", "--applied", "--format", "json",
                     cwd=tmp_path)
    runs = json.loads(result.stdout)
    assert [(r["from_revision"], r["to_revision"], r["outcome"]) for r in runs] == [
        ("010", "045", "succeeded"), (None, "010", "succeeded")
    ]
    assert all(r["user_name"] and r["host"] and r["seconds"] is not None for r in runs)


@pytest.mark.dialects("sqlite")
def test_sqlite_backup(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    database = Path(fresh_db.name)
    assert run_cli("--config-file", str(conf), "upgrade", "010", cwd=tmp_path).returncode == 0
    skipped = run_cli("--config-file", str(conf), "upgrade", "030", "--no-backup",
                      cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stderr
    assert list(database.parent.glob(database.name + ".*.bak")) == []
    result = run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path)
    assert result.returncode == 0
    backups = list(database.parent.glob(database.name + ".*.bak"))
    assert len(backups) == 1 and backups[0].name.startswith(database.name + ".030-")
    assert str(backups[0]) in result.stderr and "copy it back" in result.stderr
    copy = sa.create_engine(f"sqlite:///{backups[0]}")
    with copy.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() \
            == "030"
    copy.dispose()


def test_waiting_runner_names_the_holder_and_times_out(fresh_db: FreshDatabase,
                                                       tmp_path: Path) -> None:
    from mistral_db_manage.runner.database import open_database
    from mistral_db_manage.runner.lock import migration_lock

    conf = write_config(tmp_path, fresh_db.url)
    with open_database(fresh_db.url) as database, migration_lock(database, timeout=5):
        result = run_cli("--config-file", str(conf), "--lock-timeout", "1", "upgrade",
                         "head", cwd=tmp_path)
    assert result.returncode == 1
    assert "waiting for the migration lock held by" in result.stderr
    assert "mistral-db-manage: error: another run" in result.stderr
    assert "--lock-timeout" in result.stderr
    assert api.current(settings_for(fresh_db.url)).revision is None
    # Once released, the same command goes through.
    assert run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path).returncode == 0
