"""Every command of the upgrade guide, end to end through the console script,
on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dbs import FreshDatabase
from helpers import run_cli, write_config
from mistral_db_manage.runner.chain import VERSIONS_DIR, Chain

REFERENCE_ROWS = json.loads(
    (Path(__file__).parents[1] / "reference" / "upstream-populate.json").read_text("utf-8")
)
FIXTURE_DIST = Path(__file__).parents[1] / "cases" / "populate" / "fixture_dist"




def test_upgrade_current_history_stamp(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = str(write_config(tmp_path, fresh_db.url))

    def mdm(*args: str) -> Any:
        return run_cli("--config-file", conf, *args, cwd=tmp_path)

    empty = mdm("current")
    assert empty.returncode == 0 and "no version yet" in empty.stdout
    assert mdm("upgrade", "010").returncode == 0 and fresh_db.version() == "010"
    assert mdm("current").stdout.strip() == "010"
    assert mdm("upgrade", "+2").returncode == 0 and fresh_db.version() == "012"
    assert mdm("upgrade", "--delta", "3").returncode == 0 and fresh_db.version() == "015"
    history = mdm("history")
    lines = history.stdout.splitlines()
    assert lines[0] == "044 -> 045 (head), Add indexes to scheduled_jobs_v2."
    assert "014 -> 015 (current), add_unique_keys_for_non_locking_model" in lines
    assert lines[-1] == "<base> -> 001, Kilo release"
    upgraded = mdm("upgrade", "head")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == "Upgraded from 015 to 045 (30 revision(s))."
    assert "Running upgrade 015 -> 016" in upgraded.stderr
    assert mdm("current").stdout.strip() == "045 (head)"
    again = mdm("upgrade", "head")
    assert again.stdout.strip() == "Nothing to do: the database is already at 045."
    as_json = json.loads(mdm("current", "--format", "json").stdout)
    assert as_json == {"revision": "045", "head": "045", "is_head": True}
    stamped = mdm("stamp", "045")
    assert stamped.returncode == 0 and fresh_db.version() == "045"


def test_revision_and_check_migration(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    shutil.copytree(VERSIONS_DIR, versions, ignore=shutil.ignore_patterns("__pycache__"))
    conf = str(write_config(tmp_path, fresh_db.url))

    def mdm(*args: str) -> Any:
        return run_cli("--config-file", conf, "--versions-dir", str(versions), *args,
                       cwd=tmp_path)

    assert mdm("check_migration").returncode == 0
    assert mdm("upgrade", "head").returncode == 0
    nothing = mdm("revision", "-m", "nothing changed", "--autogenerate")
    assert nothing.returncode == 0, nothing.stderr
    assert "(revision 046, 0 operation(s))" in nothing.stdout
    created = Chain.load(versions)
    assert created.head == "046" and created.get("046").down_revision == "045"
    assert created.get("046").message == "nothing changed"
    # A difference between the models and the database becomes an operation.
    engine = fresh_db.engine()
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP INDEX scheduled_jobs_v2_key"
                                       + (" ON scheduled_jobs_v2"
                                          if fresh_db.dialect == "mysql" else "")))
    finally:
        engine.dispose()
    assert mdm("upgrade", "head").returncode == 0
    fix = mdm("revision", "-m", "restore an index", "--autogenerate", "--rev-id", "050")
    assert fix.returncode == 0, fix.stderr
    assert "(revision 050, 1 operation(s))" in fix.stdout
    text = next(versions.glob("050_*.py")).read_text("utf-8")
    assert "CreateIndex(name='scheduled_jobs_v2_key', table='scheduled_jobs_v2'" in text
    # The database drifted on purpose (the index was dropped by hand): upgrade
    # refuses to touch the table until told to.
    refused = mdm("upgrade", "head")
    assert refused.returncode == 1 and "scheduled_jobs_v2_key" in refused.stderr
    applied = mdm("upgrade", "head", "--force")
    assert applied.returncode == 0, applied.stderr
    assert fresh_db.version() == "050"
    assert mdm("verify").returncode == 0
    # An index on a table the service writes: the lint of new revisions flags it until
    # the revision accepts it explicitly.
    flagged = mdm("check_migration")
    assert flagged.returncode == 1 and "revision 050: exclusive-lock" in flagged.stderr
    path = next(versions.glob("050_*.py"))
    path.write_text(path.read_text("utf-8") + "\n# check_migration: accept exclusive-lock -- "
                    "a small table, built in a maintenance window\n", "utf-8")
    assert mdm("check_migration").returncode == 0
    blank = mdm("revision", "-m", "blank one")
    assert blank.returncode == 0 and "(revision 051, 0 operation(s))" in blank.stdout
    duplicate = mdm("revision", "-m", "again", "--rev-id", "050")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    assert mdm("heads").stdout.strip() == "051 (head)"
    assert "No branches" in mdm("branches").stdout


def test_check_migration_finds_models_drift(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    shutil.copytree(VERSIONS_DIR, versions, ignore=shutil.ignore_patterns("__pycache__"))
    (versions / "046_extra.py").write_text(
        '"""extra column"""\n'
        "import sqlalchemy as sa\n"
        "from mistral_db_manage.migrations.ops import AddColumn, Col\n"
        'revision = "046"\ndown_revision = "045"\n'
        'operations = [AddColumn("named_locks", Col("extra", sa.Integer()))]\n',
        encoding="utf-8",
    )
    result = run_cli("check_migration", "--versions-dir", str(versions), cwd=tmp_path)
    assert result.returncode == 1
    assert "named_locks.extra" in result.stderr
    assert {"sqlite", "postgresql", "mysql"} <= {
        line.split(": ")[2] for line in result.stderr.splitlines() if line.count(": ") >= 2
    }


def test_populate_end_to_end(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = str(write_config(tmp_path, fresh_db.url))
    env = {"PYTHONPATH": str(FIXTURE_DIST)}

    def mdm(*args: str) -> Any:
        return run_cli("--config-file", conf, *args, cwd=tmp_path, env=env)

    assert mdm("upgrade", "044").returncode == 0
    refused = mdm("populate")
    assert refused.returncode == 1
    assert "upgrade head" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert mdm("upgrade", "head").returncode == 0
    dry = mdm("populate", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.splitlines()[-1].startswith("Would do")
    first = mdm("populate")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == "3 added, 0 updated, 0 unchanged"
    second = mdm("populate")
    assert second.stdout.splitlines()[-1] == "0 added, 0 updated, 3 unchanged"
    engine = fresh_db.engine()
    try:
        with engine.connect() as connection:
            names = connection.execute(sa.text(
                "SELECT name, checksum FROM workflow_definitions_v2 ORDER BY name")).all()
            actions = connection.execute(sa.text(
                "SELECT name, input FROM action_definitions_v2")).all()
    finally:
        engine.dispose()
    assert names == [
        (row["name"], row["checksum"]) for row in REFERENCE_ROWS["workflow_definitions_v2"]
    ]
    assert actions == [("std.wait_ssh", "host, username, password")]
    only_actions = mdm("populate_actions")
    assert only_actions.stdout.splitlines()[-1] == "0 added, 0 updated, 1 unchanged"


def test_quick_version_reader_agrees_with_the_full_path(fresh_db: FreshDatabase) -> None:
    from helpers import settings_for
    from mistral_db_manage import api
    from mistral_db_manage.runner.driver import read_versions

    assert read_versions(fresh_db.url) is None  # no table: the full path answers
    api.upgrade(settings_for(fresh_db.url), "030")
    assert read_versions(fresh_db.url) == ("030",)
    assert api.current(settings_for(fresh_db.url)).revision == "030"
    # URLs it does not understand are left to the full path.
    assert read_versions(fresh_db.url + ("&" if "?" in fresh_db.url else "?") + "x=1") \
        is None
    assert read_versions("oracle://scott@db/x") is None


def test_progress_bar_on_a_terminal(sqlite_db: FreshDatabase, tmp_path: Path) -> None:
    """On a terminal, revisions show as a bar; elsewhere as log lines."""
    import os
    import pty
    import subprocess
    import sys

    conf = write_config(tmp_path, sqlite_db.url)
    assert run_cli("--config-file", str(conf), "upgrade", "001", cwd=tmp_path).returncode == 0
    controller, terminal = pty.openpty()
    env = dict(os.environ, HOME=str(tmp_path))
    process = subprocess.Popen(
        [sys.executable, "-m", "mistral_db_manage", "--config-file", str(conf),
         "upgrade", "head", "--no-backup"],
        stdout=subprocess.DEVNULL, stderr=terminal, cwd=tmp_path, env=env,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=120)
    os.close(controller)
    assert process.returncode == 0
    text = output.decode()
    assert "\r[" in text and "] 0/45 002" in text
    assert "Running upgrade" not in text
