"""``status --format json`` and ``upgrade --plan`` carry the predicted seconds and the locks."""

from __future__ import annotations

import json
from pathlib import Path

from dbs import FreshDatabase
from helpers import run_cli, settings_for, write_config
from mistral_db_manage import api
from mistral_db_manage.runner.probe import PROBE_QUERIES


def test_status_json_carries_the_estimates(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    api.upgrade(settings_for(fresh_db.url), "040")
    conf = write_config(tmp_path, fresh_db.url)
    result = run_cli("--config-file", str(conf), "status", "--format", "json", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    plan = json.loads(result.stdout)
    assert plan["estimate_seconds"] > 0
    assert 0 < plan["estimate_basis"]["probe_queries"] <= PROBE_QUERIES
    steps = {step["revision"]: step for step in plan["pending"]}
    assert list(steps) == ["041", "042", "043", "044", "045"]
    assert all(step["estimate_seconds"] >= 0 for step in steps.values())
    assert sum(s["estimate_seconds"] for s in steps.values()) <= plan["estimate_seconds"]
    effects = {lock["effect"] for step in steps.values() for lock in step["locks"]}
    assert effects <= {"reads blocked", "writes blocked", "none"} and effects
    text = run_cli("--config-file", str(conf), "upgrade", "head", "--plan", cwd=tmp_path)
    assert "Predicted time:" in text.stdout and "locks workflow_executions_v2" in text.stdout


def test_nothing_pending_needs_no_probe(fresh_db: FreshDatabase) -> None:
    api.upgrade(settings_for(fresh_db.url), "head")
    plan = api.plan(settings_for(fresh_db.url))
    assert plan.pending == () and plan.estimate_seconds is None
