"""Databases that have lived: restored from a dump, partly created, built by upstream's
models, handed a script written for another revision, stamped by hand."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from dbs import (
    ClientError,
    FreshDatabase,
    _my_env,
    _my_options,
    mysql_server,
    reference_path,
    run_sql_script,
)
from helpers import CliResult, run_cli, write_config


def tables(db: FreshDatabase) -> list[str]:
    """The tables besides this tool's bookkeeping (a refused run may have made its lock's)."""
    engine = db.engine()
    try:
        return sorted(name for name in sa.inspect(engine).get_table_names()
                      if not name.startswith("mistral_db_manage_"))
    finally:
        engine.dispose()




def one_error_line(result: CliResult, *fragments: str, code: int = 1) -> str:
    assert result.returncode == code, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --------------------------------------------------------------------------- mariadb-dump


@pytest.mark.dialects("mysql")
def test_a_restored_dump_keeps_innodb_key_indexes_and_is_the_same_schema(
    fresh_db: FreshDatabase, make_db, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    restored: FreshDatabase = make_db("mysql")
    original_conf = write_config(tmp_path, fresh_db.url, "original.conf")
    conf = write_config(tmp_path, restored.url, "restored.conf")
    assert run_cli("--config-file", str(original_conf), "upgrade", "020",
                   cwd=tmp_path).returncode == 0
    server = mysql_server()
    dump = subprocess.run(["mariadb-dump", *_my_options(server), fresh_db.name],
                          capture_output=True, text=True, check=True, timeout=120,
                          env={**_my_env(server), "PATH": "/usr/bin:/bin"})
    run_sql_script(restored, dump.stdout)
    for target in ("026", "head"):
        result = run_cli("--config-file", str(conf), "upgrade", target, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    verify = run_cli("--config-file", str(conf), "verify", cwd=tmp_path)
    assert verify.returncode == 0 and "exactly revision 045" in verify.stdout, verify
    # the index InnoDB would have dropped is still there: the case is real
    engine = restored.engine()
    try:
        names = {i["name"] for i in sa.inspect(engine).get_indexes("action_executions_v2")}
    finally:
        engine.dispose()
    assert "task_execution_id" in names


# --------------------------------------------------------------------------- partly created


def test_one_mistral_table_makes_the_database_not_empty(
    fresh_db: FreshDatabase, tmp_path: Path
) -> None:
    engine = fresh_db.engine()
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "CREATE TABLE action_definitions_v2 (id VARCHAR(36) NOT NULL PRIMARY KEY)"))
    finally:
        engine.dispose()
    conf = write_config(tmp_path, fresh_db.url)
    before = tables(fresh_db)
    result = run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path)
    one_error_line(result, "action_definitions_v2", "no version record", "not empty",
                   "closest is")
    assert tables(fresh_db) == before == ["action_definitions_v2"]


# --------------------------------------------------------------------------- upstream's models


def test_a_database_built_by_upstream_models_names_the_closest_revision(
    fresh_db: FreshDatabase, tmp_path: Path
) -> None:
    text = reference_path(fresh_db.dialect, "head-models").read_text(encoding="utf-8")
    if fresh_db.dialect == "mysql":
        text = "SET foreign_key_checks = 0;\n" + text
    run_sql_script(fresh_db, text)
    before = tables(fresh_db)
    conf = write_config(tmp_path, fresh_db.url)
    result = run_cli("--config-file", str(conf), "--config-dir", str(tmp_path / "none.d"),
                     "upgrade", "head", cwd=tmp_path)
    assert "does not exist" in result.stderr  # a missing --config-dir is an error first
    (tmp_path / "none.d").mkdir()
    result = run_cli("--config-file", str(conf), "--config-dir", str(tmp_path / "none.d"),
                     "upgrade", "head", cwd=tmp_path)
    line = one_error_line(result, "no version record")
    stamp = f"`mistral-db-manage --config-file {conf} --config-dir {tmp_path / 'none.d'} stamp "
    assert stamp in line, line
    assert "exactly revision" in line or ("the closest is" in line and "way(s): " in line)
    assert tables(fresh_db) == before and fresh_db.version() is None


# --------------------------------------------------------------------------- offline scripts


def test_a_script_applied_at_another_revision_stops_before_changing_anything(
    fresh_db: FreshDatabase, tmp_path: Path
) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    assert run_cli("--config-file", str(conf), "upgrade", "019", cwd=tmp_path).returncode == 0
    script = run_cli("--config-file", str(conf), "upgrade", "030:head", "--sql", cwd=tmp_path)
    assert script.returncode == 0
    with pytest.raises(ClientError) as failure:
        run_sql_script(fresh_db, script.stdout)
    assert "the database is not at revision 030, where revision 031" in failure.value.stderr
    assert fresh_db.version() == "019"
    verify = run_cli("--config-file", str(conf), "verify", cwd=tmp_path)
    assert verify.returncode == 0 and "exactly revision 019" in verify.stdout
    # the script written for 019 goes through, checks and all
    right = run_cli("--config-file", str(conf), "upgrade", "019:head", "--sql", cwd=tmp_path)
    run_sql_script(fresh_db, right.stdout)
    assert fresh_db.version() == "045"


# --------------------------------------------------------------------------- stamp


@pytest.mark.dialects("sqlite")
@pytest.mark.parametrize("target", ["+1", "-1", "030:+1"])
def test_stamp_refuses_a_relative_target(
    fresh_db: FreshDatabase, tmp_path: Path, target: str
) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    assert run_cli("--config-file", str(conf), "upgrade", "030", cwd=tmp_path).returncode == 0
    args = ("stamp", target, "--force") if ":" not in target else ("stamp", target, "--sql")
    result = run_cli("--config-file", str(conf), *args, cwd=tmp_path)
    one_error_line(result, "relative", "history", code=2)
    assert fresh_db.version() == "030"


@pytest.mark.dialects("sqlite")
def test_stamp_base_says_base(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    assert run_cli("--config-file", str(conf), "upgrade", "030", cwd=tmp_path).returncode == 0
    result = run_cli("--config-file", str(conf), "stamp", "base", "--force", cwd=tmp_path)
    assert result.returncode == 0 and "None" not in result.stdout
    assert "at base" in result.stdout and fresh_db.version() is None


# --------------------------------------------------------------------------- SQLite's journal


def _journal(path: str | Path) -> str:
    with closing(sqlite3.connect(path)) as connection:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])


@pytest.mark.dialects("sqlite")
def test_sqlite_is_left_in_wal_mode_with_a_good_backup(
    fresh_db: FreshDatabase, tmp_path: Path
) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    assert run_cli("--config-file", str(conf), "upgrade", "030", "--no-wal",
                   cwd=tmp_path).returncode == 0
    assert _journal(fresh_db.name) == "delete"  # --no-wal keeps the file's mode
    assert run_cli("--config-file", str(conf), "upgrade", "031", cwd=tmp_path).returncode == 0
    assert _journal(fresh_db.name) == "wal"  # the default
    result = run_cli("--config-file", str(conf), "upgrade", "head", "--no-wal", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _journal(fresh_db.name) == "wal"  # a property of the file: it stays
    backups = sorted(Path(fresh_db.name).parent.glob(Path(fresh_db.name).name + ".*031*"))
    assert backups, list(Path(fresh_db.name).parent.iterdir())
    with closing(sqlite3.connect(backups[-1])) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == ("031",)
    assert not Path(fresh_db.name + "-wal").exists()  # checkpointed when the run closed it
    assert run_cli("--config-file", str(conf), "verify", cwd=tmp_path).returncode == 0


@pytest.mark.dialects("sqlite")
def test_an_upgrade_with_nothing_to_do_switches_an_old_file_to_wal(
    fresh_db: FreshDatabase, tmp_path: Path
) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    assert run_cli("--config-file", str(conf), "upgrade", "head", "--no-wal",
                   cwd=tmp_path).returncode == 0
    assert _journal(fresh_db.name) == "delete"
    result = run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path)
    assert result.returncode == 0 and "Nothing to do" in result.stdout, result
    assert _journal(fresh_db.name) == "wal"


@pytest.mark.dialects("sqlite")
def test_an_offline_sqlite_script_leaves_the_file_in_wal_mode(
    fresh_db: FreshDatabase, tmp_path: Path
) -> None:
    sqlite3_cli = shutil.which("sqlite3")
    if sqlite3_cli is None:
        pytest.skip("the sqlite3 command-line shell is not installed")
    conf = write_config(tmp_path, fresh_db.url)
    for options, mode in (("--no-wal",), "delete"), ((), "wal"):
        Path(fresh_db.name).unlink(missing_ok=True)
        script = run_cli("--config-file", str(conf), "upgrade", "head", "--sql", *options,
                         cwd=tmp_path)
        assert script.returncode == 0, script.stderr
        applied = subprocess.run([sqlite3_cli, "-bail", fresh_db.name], input=script.stdout,
                                 capture_output=True, text=True, timeout=120, check=False)
        assert applied.returncode == 0, applied.stderr
        assert fresh_db.version() == "045" and _journal(fresh_db.name) == mode
