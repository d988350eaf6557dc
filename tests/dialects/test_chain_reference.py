"""The revision chain against upstream's facts.

On PostgreSQL and MariaDB, the normalised dump after every revision must be
byte-identical to upstream's dump after the same revision; on every dialect the
live schema must equal the chain's own description (the state), names included.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dbs import FreshDatabase, assert_same_schema, reference_dump
from helpers import settings_for
from mistral_db_manage import api
from mistral_db_manage.runner.chain import Chain
from mistral_db_manage.runner.verify import verify_state
from mistral_db_manage.schema.history import state_at

CHAIN = Chain.load()


def test_chain_is_upstreams_chain() -> None:
    assert CHAIN.ids == tuple(f"{n:03d}" for n in range(1, 46))
    assert CHAIN.get("001").down_revision is None
    assert CHAIN.get("030").message == (
        "Increase delayed_calls_v2.auth_context column size from JsonDictType to\n"
        "JsonMediumDictType"
    )
    assert CHAIN.get("006").message == (
        "add a Boolean column 'processed' to the table  delayed_calls_v2"
    )


@pytest.mark.slow
@pytest.mark.dialects("postgresql", "mysql")
def test_every_revision_matches_upstream_dump(fresh_db: FreshDatabase) -> None:
    settings = settings_for(fresh_db.url)
    engine = fresh_db.engine()
    try:
        for revision in CHAIN.ids:
            result = api.upgrade(settings, "+1")
            assert result.applied == (revision,)
            assert_same_schema(
                reference_dump(fresh_db.dialect, revision),
                fresh_db.dump(),
                expected_label=f"upstream {fresh_db.dialect} {revision}",
                actual_label=f"ours after upgrade {revision}",
            )
            with engine.connect() as connection:
                assert verify_state(connection, state_at(CHAIN, fresh_db.dialect, revision)) == []
    finally:
        engine.dispose()


@pytest.mark.dialects("postgresql", "mysql")
def test_upgrade_head_in_one_call_matches_upstream(fresh_db: FreshDatabase) -> None:
    result = api.upgrade(settings_for(fresh_db.url), "head")
    assert result.start is None and result.end == "045" and len(result.applied) == 45
    assert_same_schema(reference_dump(fresh_db.dialect, "045"), fresh_db.dump())


@pytest.mark.slow
@pytest.mark.dialects("sqlite")
def test_sqlite_walks_every_revision_and_matches_the_state(fresh_db: FreshDatabase) -> None:
    settings = settings_for(fresh_db.url)
    engine = fresh_db.engine()
    try:
        for revision in CHAIN.ids:
            assert api.upgrade(settings, "+1").applied == (revision,)
            with engine.connect() as connection:
                assert verify_state(connection, state_at(CHAIN, "sqlite", revision)) == []
    finally:
        engine.dispose()


def test_head_state_equals_the_models_on_every_dialect() -> None:
    """The chain's description of 045 and the models are the same schema."""
    from mistral_db_manage.migrations.model_operations import state_from_metadata
    from mistral_db_manage.runner.verify import compare_shapes, shapes_from_state
    from mistral_db_manage.schema.models import metadata
    from mistral_db_manage.schema.state import DIALECTS

    for dialect in DIALECTS:
        chain_state = state_at(CHAIN, dialect, "045")
        model_state = state_from_metadata(metadata, dialect)
        differences = compare_shapes(
            shapes_from_state(chain_state), shapes_from_state(model_state), exact=True
        )
        # PostgreSQL keeps upstream's duplicate 7-column cron unique (003 + 014);
        # the models describe the design, which has it once.
        expected = (
            ["cron_triggers_v2: unique constraint "
             "cron_triggers_v2_workflow_input_hash_workflow_name_pattern_key2 "
             "(workflow_input_hash, workflow_name, pattern, project_id, workflow_params_hash, "
             "remaining_executions, first_execution_time) is missing"]
            if dialect == "postgresql" else []
        )
        assert differences == expected, dialect


def test_direct_creation_equals_the_replayed_chain(fresh_db: FreshDatabase, make_db) -> None:  # type: ignore[no-untyped-def]
    """An empty database gets head's schema at once; it must be the replayed chain's."""
    direct = fresh_db
    replayed = make_db(fresh_db.dialect)
    api.upgrade(settings_for(direct.url), "head")
    api.upgrade(settings_for(replayed.url), "001")  # created directly: one revision
    result = api.upgrade(settings_for(replayed.url), "head")  # replays 002..045
    assert result.applied == CHAIN.ids[1:]
    rows = []
    for db in (direct, replayed):
        engine = db.engine()
        try:
            with engine.connect() as connection:
                assert verify_state(connection, state_at(CHAIN, db.dialect, "045")) == []
                rows.append(connection.execute(
                    sa.text("SELECT id, name, value FROM mistral_metrics")).all())
        finally:
            engine.dispose()
    assert rows[0] == rows[1] == [(1, "maintenance_status", "RUNNING")]
    if fresh_db.dialect != "sqlite":
        assert_same_schema(replayed.dump(), direct.dump(), expected_label="replayed",
                           actual_label="created directly")
