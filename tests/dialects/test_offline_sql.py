"""Offline mode: the scripts ``--sql`` prints, applied by the real command-line
clients (psql, mariadb, sqlite3), give exactly what online mode gives."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from test_data_migrations import seed_at_019

from dbs import FreshDatabase, assert_same_schema, reference_dump, run_sql_script
from helpers import run_cli, settings_for, write_config
from mistral_db_manage import api
from mistral_db_manage.errors import RevisionError
from mistral_db_manage.runner.chain import Chain
from mistral_db_manage.runner.verify import shapes_from_database, verify_state
from mistral_db_manage.schema.history import state_at

CHAIN = Chain.load()
SERVER_DIALECTS = ("postgresql", "mysql")


def script(url: str, target: str) -> str:
    buffer = io.StringIO()
    api.upgrade_sql(url, target, output=buffer)
    return buffer.getvalue()




def check_schema(db: FreshDatabase, revision: str) -> None:
    if db.dialect in SERVER_DIALECTS:
        assert_same_schema(reference_dump(db.dialect, revision), db.dump(),
                           expected_label=f"upstream {revision}", actual_label="offline script")
    engine = db.engine()
    try:
        with engine.connect() as connection:
            assert verify_state(connection, state_at(CHAIN, db.dialect, revision)) == []
    finally:
        engine.dispose()


def test_head_script_equals_online_upgrade(fresh_db: FreshDatabase, make_db) -> None:  # type: ignore[no-untyped-def]
    text = script(fresh_db.url, "head")
    for line in text.splitlines():
        assert line.endswith(";"), line
    run_sql_script(fresh_db, text)
    assert fresh_db.version() == "045"
    online = make_db(fresh_db.dialect)
    api.upgrade(settings_for(online.url), "head")
    if fresh_db.dialect in SERVER_DIALECTS:
        assert_same_schema(online.dump(), fresh_db.dump(), expected_label="online",
                           actual_label="offline")
    else:
        # SQLite keeps each table's CREATE text as written (a rebuilt table's name is
        # quoted), so compare what the schema is rather than how it was spelt.
        shapes = []
        for db in (online, fresh_db):
            engine = db.engine()
            try:
                with engine.connect() as connection:
                    shapes.append(shapes_from_database(connection, "sqlite"))
            finally:
                engine.dispose()
        assert shapes[0] == shapes[1]
    check_schema(fresh_db, "045")


@pytest.mark.slow
def test_every_single_step_script(fresh_db: FreshDatabase) -> None:
    run_sql_script(fresh_db, script(fresh_db.url, "001"))
    check_schema(fresh_db, "001")
    for previous, revision in zip(CHAIN.ids, CHAIN.ids[1:], strict=False):
        run_sql_script(fresh_db, script(fresh_db.url, f"{previous}:{revision}"))
        assert fresh_db.version() == revision
        check_schema(fresh_db, revision)


@pytest.mark.parametrize(("start", "end"), [("001", "020"), ("008", "030"), ("019", "045")])
def test_long_ranges(fresh_db: FreshDatabase, start: str, end: str) -> None:
    api.upgrade(settings_for(fresh_db.url), start)
    run_sql_script(fresh_db, script(fresh_db.url, f"{start}:{end}"))
    assert fresh_db.version() == end
    check_schema(fresh_db, end)


def test_data_changes_offline_equal_online(fresh_db: FreshDatabase, make_db) -> None:  # type: ignore[no-untyped-def]
    online = make_db(fresh_db.dialect)
    for db in (fresh_db, online):
        api.upgrade(settings_for(db.url), "019")
        engine = db.engine()
        try:
            seed_at_019(engine)
        finally:
            engine.dispose()
    api.upgrade(settings_for(online.url), "head")
    run_sql_script(fresh_db, script(fresh_db.url, "019:head"))
    queries = [
        "SELECT id, type, workflow_namespace FROM task_executions_v2 ORDER BY id",
        "SELECT id, workflow_namespace FROM action_executions_v2 ORDER BY id",
        "SELECT id, workflow_namespace FROM workflow_executions_v2 ORDER BY id",
        "SELECT id, namespace FROM workflow_definitions_v2 ORDER BY id",
        "SELECT id, namespace FROM workbooks_v2 ORDER BY id",
        "SELECT id, namespace FROM action_definitions_v2 ORDER BY id",
        "SELECT id FROM delayed_calls_v2 ORDER BY id",
        "SELECT id, name, value FROM mistral_metrics ORDER BY id",
    ]
    results = []
    for db in (online, fresh_db):
        engine = db.engine()
        try:
            with engine.connect() as connection:
                results.append([connection.execute(sa.text(q)).all() for q in queries])
        finally:
            engine.dispose()
    assert results[0] == results[1]


def test_relative_targets_need_a_start() -> None:
    url = "postgresql+psycopg2://nobody@127.0.0.1:1/none"
    for target, delta in (("+2", None), ("head", 2)):
        with pytest.raises(RevisionError, match="<start>:<end>"):
            api.upgrade_sql(url, target, delta=delta, output=io.StringIO())
    text = script(url, "030:+2")
    assert "version_num='032'" in text and "version_num='033'" not in text


def test_cli_prints_only_sql_and_never_connects(tmp_path) -> None:  # type: ignore[no-untyped-def]
    conf = write_config(tmp_path, "mysql+pymysql://nobody:secret@127.0.0.1:1/none")
    result = run_cli("--config-file", str(conf), "upgrade", "head", "--sql", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CREATE TABLE alembic_version")
    assert all(line.endswith(";") for line in result.stdout.splitlines())
    assert "BEGIN;" not in result.stdout  # MySQL DDL is not transactional
    stamp = run_cli("--config-file", str(conf), "stamp", "045", "--sql", cwd=tmp_path)
    assert stamp.returncode == 0
    assert "INSERT INTO alembic_version (version_num) VALUES ('045');" in stamp.stdout
