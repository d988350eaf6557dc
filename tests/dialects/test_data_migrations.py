"""Revisions that change data give the rows upstream gives, on every dialect.

The expected rows come from upstream's row-by-row semantics written out in
Python (REVISIONS.md: 020 is Python's ``"workflow" in json.loads(spec)``, 022
tests ``workflow_name`` for truthiness, ...), applied to rows inserted before
the revision runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from dbs import FreshDatabase
from helpers import settings_for
from mistral_db_manage import api
from mistral_db_manage.errors import MigrationFailedError

SPECS: dict[str, Any] = {
    "t-obj-workflow": {"workflow": "wf1", "name": "t"},
    "t-obj-workflow-null": {"workflow": None},
    "t-obj-nested": {"action": "std.noop", "input": {"workflow": "x"}},
    "t-obj-empty": {},
    "t-arr-hit": ["a", "workflow"],
    "t-arr-near": ["workflows", {"workflow": 1}, ["workflow"]],
    "t-str-hit": "my workflows",
    "t-str-case": "WORKFLOW",
    "t-str-miss": "work flow",
    "t-escaped-key": None,  # raw text below
    "t-str-space": None,
    "t-value-only": {"a": "workflow", "workflow_name": "x"},
    "t-nul-escape": None,  # raw text below: jsonb would refuse it, json.loads does not
    "t-huge-number": None,
    "t-lone-surrogate": None,
    "t-str-nul": None,
    "t-arr-escaped": None,
    "t-obj-escaped-miss": None,
}
RAW_SPECS = {
    "t-escaped-key": '{"work\\u0066low": true}',
    "t-str-space": ' \n "a workflow"',
    "t-nul-escape": '{"note": "a\\u0000b", "workflow": "wf"}',
    "t-huge-number": '{"workflow": 1e400, "n": 123456789012345678901234567890}',
    "t-lone-surrogate": '["x\\ud800", "workflow"]',
    "t-str-nul": '"a\\u0000 workflow"',
    "t-arr-escaped": '["\\u0077orkflow"]',
    "t-obj-escaped-miss": '{"\\u0061": "workflow"}',
}


def spec_text(task_id: str) -> str:
    return RAW_SPECS.get(task_id) or json.dumps(SPECS[task_id])


def upstream_type(text: str) -> str:
    """Upstream 020: ``'WORKFLOW' if "workflow" in json.loads(spec) else 'ACTION'``."""
    return "WORKFLOW" if "workflow" in json.loads(text) else "ACTION"


WORKFLOW_NAMES = {"a-none": None, "a-empty": "", "a-spaces": "  ", "a-name": "wf"}


def seed_at_019(engine: sa.Engine) -> None:
    now = datetime(2020, 1, 1, 12, 0, 0)
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO workflow_executions_v2 (id, name, created_at) "
                    "VALUES ('w1', 'wf', :now)"), {"now": now})
        for task_id in SPECS:
            connection.execute(
                sa.text("INSERT INTO task_executions_v2 (id, name, spec, workflow_execution_id) "
                        "VALUES (:id, 't', :spec, 'w1')"),
                {"id": task_id, "spec": spec_text(task_id)},
            )
        for action_id, name in WORKFLOW_NAMES.items():
            connection.execute(
                sa.text("INSERT INTO action_executions_v2 (id, workflow_name, task_execution_id) "
                        "VALUES (:id, :name, 't-obj-empty')"),
                {"id": action_id, "name": name},
            )
        connection.execute(sa.text(
            "INSERT INTO workflow_definitions_v2 (id, name, project_id) VALUES ('d1', 'wf', 'p')"
        ))
        connection.execute(sa.text(
            "INSERT INTO workbooks_v2 (id, name, project_id) VALUES ('b1', 'wb', 'p')"
        ))
        connection.execute(sa.text(
            "INSERT INTO action_definitions_v2 (id, name, project_id) VALUES ('x1', 'a', 'p')"
        ))
        for call_id, key in (("c-null", None), ("c-empty", ""), ("c-key", "k")):
            connection.execute(
                sa.text("INSERT INTO delayed_calls_v2 (id, target_method_name, execution_time, "
                        "processing, " + ("`key`" if engine.dialect.name == "mysql" else "key")
                        + ") VALUES (:id, 'm', :now, :p, :key)"),
                {"id": call_id, "now": now, "p": False, "key": key},
            )


def rows(engine: sa.Engine, sql: str) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as connection:
        return {r[0]: tuple(r[1:]) for r in connection.execute(sa.text(sql))}


def test_data_revisions_give_upstreams_rows(fresh_db: FreshDatabase) -> None:
    settings = settings_for(fresh_db.url)
    api.upgrade(settings, "019")
    engine = fresh_db.engine()
    try:
        seed_at_019(engine)
        api.upgrade(settings, "head")
        types = rows(engine, "SELECT id, type, workflow_namespace FROM task_executions_v2")
        assert types == {t: (upstream_type(spec_text(t)), "") for t in SPECS}
        actions = rows(engine, "SELECT id, workflow_namespace FROM action_executions_v2")
        assert actions == {
            a: ("" if name else None,) for a, name in WORKFLOW_NAMES.items()
        }
        assert rows(engine, "SELECT id, workflow_namespace FROM workflow_executions_v2") == {
            "w1": ("",)
        }
        assert rows(engine, "SELECT id, namespace FROM workflow_definitions_v2") == {"d1": ("",)}
        # 029 fills workbook namespaces; 037's fill is a no-op upstream (kept as is).
        assert rows(engine, "SELECT id, namespace FROM workbooks_v2") == {"b1": ("",)}
        assert rows(engine, "SELECT id, namespace FROM action_definitions_v2") == {"x1": (None,)}
        # 038 deletes delayed calls whose key is NULL, not those with ''.
        assert set(rows(engine, "SELECT id, processing FROM delayed_calls_v2")) == {
            "c-empty", "c-key"
        }
        metrics = rows(engine, "SELECT name, id, value, created_at, updated_at "
                               "FROM mistral_metrics")
        assert list(metrics) == ["maintenance_status"]
        metric_id, value, created, updated = metrics["maintenance_status"]
        assert (metric_id, value) == (1, "RUNNING")
        assert created == updated
        if isinstance(created, str):  # SQLite returns raw text to a text() query
            assert created.endswith(".000000")  # SQLAlchemy's own storage format
            created = datetime.fromisoformat(created)
        now = datetime.now(UTC).replace(tzinfo=None)
        assert abs(now - created) < timedelta(minutes=5)
        assert created.microsecond == 0
    finally:
        engine.dispose()


def test_006_gives_existing_delayed_calls_processing_false(fresh_db: FreshDatabase) -> None:
    settings = settings_for(fresh_db.url)
    api.upgrade(settings, "005")
    engine = fresh_db.engine()
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO delayed_calls_v2 (id, target_method_name, execution_time) "
                "VALUES ('c1', 'm', '2020-01-01 00:00:00')"
            ))
        api.upgrade(settings, "006")
        with engine.connect() as connection:
            value = connection.execute(
                sa.text("SELECT processing FROM delayed_calls_v2 WHERE id = 'c1'")
            ).scalar()
        assert value in (False, 0)
    finally:
        engine.dispose()


@pytest.mark.parametrize("bad_spec", [None, "not json", "42", "null", "true", ""])
def test_020_refuses_specs_upstream_cannot_read(fresh_db: FreshDatabase,
                                                bad_spec: str | None) -> None:
    settings = settings_for(fresh_db.url)
    api.upgrade(settings, "019")
    engine = fresh_db.engine()
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO task_executions_v2 (id, spec) VALUES ('bad', :spec)"),
                {"spec": bad_spec},
            )
        with pytest.raises(MigrationFailedError, match="task_executions_v2"):
            api.upgrade(settings, "head")
        assert api.current(settings).revision == "019"
        with engine.connect() as connection:
            columns = {c["name"] for c in sa.inspect(connection).get_columns("task_executions_v2")}
        assert "type" not in columns
    finally:
        engine.dispose()
