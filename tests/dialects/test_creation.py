"""The creation of an empty database at once (strategy ``create``), from the rendered
file and rendered on the spot, against each other and the replayed chain."""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa

from dbs import FreshDatabase, assert_same_schema
from helpers import run_cli, settings_for, write_config
from mistral_db_manage import api
from mistral_db_manage.runner.chain import Chain
from mistral_db_manage.runner.execute import FAULT_ENV
from mistral_db_manage.runner.plan import Strategy
from mistral_db_manage.runner.verify import verify_state
from mistral_db_manage.schema.history import state_at

CHAIN = Chain.load()


def _contents(db: FreshDatabase) -> tuple[list[str], list[object], list[object]]:
    engine = db.engine()
    try:
        with engine.connect() as connection:
            assert verify_state(connection, state_at(CHAIN, db.dialect, "045")) == []
            return (
                connection.execute(sa.text("SELECT version_num FROM alembic_version"))
                .scalars().all(),
                list(connection.execute(
                    sa.text("SELECT id, name, value FROM mistral_metrics")).all()),
                list(connection.execute(sa.text(
                    "SELECT command, from_revision, to_revision, outcome, finished_at IS NULL "
                    "FROM mistral_db_manage_runs")).all()),
            )
    finally:
        engine.dispose()


def _edited_chain(tmp_path: Path) -> Path:
    """The same revisions, one with a comment added: the rendered file no longer applies."""
    versions = tmp_path / "versions"
    shutil.copytree(CHAIN.revisions[0].path.parent, versions,
                    ignore=shutil.ignore_patterns("__pycache__"))
    last = versions / CHAIN.revisions[-1].path.name
    last.write_text(last.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    return versions


def test_creation_from_the_file_equals_creation_rendered_now(
    fresh_db: FreshDatabase, make_db, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    rendered = make_db(fresh_db.dialect)
    from_file = api.upgrade(settings_for(fresh_db.url), "head")
    from_chain = api.upgrade(settings_for(rendered.url), "head",
                             versions_dir=_edited_chain(tmp_path))
    assert from_file == from_chain
    assert from_file.strategy is Strategy.CREATE and from_file.applied == CHAIN.ids
    assert _contents(fresh_db) == _contents(rendered) == (
        ["045"], [(1, "maintenance_status", "RUNNING")],
        [("upgrade", None, "045", "succeeded", False)],
    )
    # this tool's own tables too: the journal exists (and is empty) only on MySQL
    assert set(fresh_db.table_names()) == set(rendered.table_names())
    if fresh_db.dialect != "sqlite":
        assert_same_schema(rendered.dump(), fresh_db.dump(), expected_label="rendered now",
                           actual_label="from the file")
    run = api.applied_runs(settings_for(fresh_db.url))[0]
    assert run.started_at <= run.finished_at  # type: ignore[operator]
    assert run.seconds is not None and run.seconds >= 0
    # the version is read back by both readers
    assert api.current(settings_for(fresh_db.url)).revision == "045"


def test_a_database_with_any_table_is_replayed(fresh_db: FreshDatabase) -> None:
    fresh_db.execute("CREATE TABLE operator_notes (id INTEGER PRIMARY KEY)")
    result = api.upgrade(settings_for(fresh_db.url), "head")
    assert result.strategy is Strategy.REPLAY and result.end == "045"
    assert "operator_notes" in set(fresh_db.table_names())


def test_other_targets_are_created_too(fresh_db: FreshDatabase) -> None:
    result = api.upgrade(settings_for(fresh_db.url), "044")
    assert result.strategy is Strategy.CREATE and result.end == "044"
    result = api.upgrade(settings_for(fresh_db.url), "head")
    assert result.strategy is Strategy.REPLAY and result.applied == ("045",)


def test_a_failed_creation_leaves_a_clean_start(
    fresh_db: FreshDatabase, tmp_path: Path
) -> None:
    """A failure half-way (injected after the 5th statement) is rolled back, or on
    MySQL cleaned up by the next run."""
    conf = write_config(tmp_path, fresh_db.url)
    failed = run_cli("--config-file", str(conf), "upgrade", "head",
                     env={FAULT_ENV: "create:5"}, cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1].startswith("mistral-db-manage: error: fault")
    left = set(fresh_db.table_names()) - {"mistral_db_manage_runs", "mistral_db_manage_journal",
                                           "mistral_db_manage_lock"}
    if fresh_db.dialect == "mysql":
        # DDL commits: what was created stays, and the journal tells the next run
        assert 0 < len(left - {"alembic_version"}) < 17
        assert fresh_db.rows("SELECT * FROM alembic_version") == []
        assert fresh_db.rows("SELECT revision, operations_done, operations_started "
                             "FROM mistral_db_manage_journal") == [("<create>", 0, 1)]
        # what is left is named for what it is, and how to go on
        status = run_cli("--config-file", str(conf), "current", cwd=tmp_path)
        assert status.returncode != 0
        assert "stopped while creating the schema" in status.stderr
        assert "upgrade` again" in status.stderr
    else:
        assert left == set()
    runs = api.applied_runs(settings_for(fresh_db.url))
    assert [(r.to_revision, r.outcome) for r in runs] == [("045", "failed")]
    again = run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    # MySQL: the leftovers are named once they are gone, not before
    assert ("empty table(s) an interrupted run left behind" in again.stderr) == (
        fresh_db.dialect == "mysql")
    assert _contents(fresh_db)[:2] == (["045"], [(1, "maintenance_status", "RUNNING")])
