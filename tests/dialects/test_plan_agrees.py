"""``--plan`` shows what ``upgrade`` then does: both run from the same plan value.

For a few starting points per dialect, the plan computed beforehand is compared
with what the executed run reports (its strategy, the revisions it records,
the events it sends), and the text of ``upgrade --plan`` with the plan.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dbs import FreshDatabase
from helpers import run_cli, settings_for, write_config
from mistral_db_manage import api
from mistral_db_manage.errors import MigrationFailedError
from mistral_db_manage.runner import events
from mistral_db_manage.runner.execute import FAULT_ENV
from mistral_db_manage.runner.plan import Strategy


def _upgrade_recorded(url: str, target: str = "head") -> tuple[api.UpgradeResult, list[object]]:
    seen: list[object] = []
    result = api.upgrade(settings_for(url), target, events=seen.append)
    return result, seen


def _ran(seen: list[object]) -> list[str]:
    return [e.revision.id for e in seen if isinstance(e, events.RevisionStarted)]


def test_an_empty_database_is_created_as_planned(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    plan = api.plan(settings_for(fresh_db.url))
    assert plan.strategy is Strategy.CREATE and plan.current is None and plan.target == "045"
    assert len(plan.created_tables) == 17
    assert all(step.operations == () for step in plan.pending)
    text = run_cli("--config-file", str(conf), "upgrade", "head", "--plan", cwd=tmp_path)
    assert text.returncode == 3
    assert "created at once (17 tables)" in text.stdout and "no revision is replayed" in text.stdout
    result, seen = _upgrade_recorded(fresh_db.url)
    assert result.strategy is plan.strategy and result.applied == plan.revision_ids
    assert [type(e) for e in seen] == [events.SchemaCreationStarted, events.SchemaCreated]
    assert api.plan(settings_for(fresh_db.url)).strategy is Strategy.NOTHING


@pytest.mark.parametrize("start", ["019", "040", "044"])
def test_a_versioned_database_replays_what_the_plan_lists(
    fresh_db: FreshDatabase, start: str
) -> None:
    api.upgrade(settings_for(fresh_db.url), start)
    plan = api.plan(settings_for(fresh_db.url))
    assert plan.strategy is Strategy.REPLAY and plan.current == start
    result, seen = _upgrade_recorded(fresh_db.url)
    assert result.strategy is Strategy.REPLAY
    assert result.applied == plan.revision_ids == tuple(_ran(seen))
    applied = [e.revision.id for e in seen if isinstance(e, events.RevisionApplied)]
    assert applied == list(plan.revision_ids)


def test_a_relative_target_plans_and_runs_the_same_steps(fresh_db: FreshDatabase) -> None:
    api.upgrade(settings_for(fresh_db.url), "030")
    plan = api.plan(settings_for(fresh_db.url), "+3")
    result, seen = _upgrade_recorded(fresh_db.url, "+3")
    assert plan.revision_ids == result.applied == tuple(_ran(seen)) == ("031", "032", "033")


def test_an_interrupted_revision_resumes_as_planned(
    mysql_db: FreshDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MySQL: a revision stopped after its 2nd operation; the plan says it resumes
    there, marks those operations done, and the run finishes it."""
    api.upgrade(settings_for(mysql_db.url), "036")
    monkeypatch.setenv(FAULT_ENV, "037:2")
    with pytest.raises(MigrationFailedError):
        api.upgrade(settings_for(mysql_db.url), "head")
    monkeypatch.delenv(FAULT_ENV)
    plan = api.plan(settings_for(mysql_db.url))
    assert plan.strategy is Strategy.RESUME and plan.current == "036"
    first = plan.pending[0]
    assert first.revision == "037"
    assert [o.done for o in first.operations[:3]] == [True, True, False]
    assert not any(o.done for step in plan.pending[1:] for o in step.operations)
    result, seen = _upgrade_recorded(mysql_db.url)
    assert result.strategy is Strategy.RESUME
    assert result.applied == plan.revision_ids == tuple(_ran(seen))
    assert api.verify(settings_for(mysql_db.url)).clean


def test_an_offline_script_is_the_plan_of_its_range(sqlite_db: FreshDatabase) -> None:
    import io

    out = io.StringIO()
    plan = api.upgrade_sql(sqlite_db.url, "030:033", output=out)
    assert plan.strategy is Strategy.REPLAY and plan.revision_ids == ("031", "032", "033")
    script = out.getvalue()
    for old, new in (("030", "031"), ("031", "032"), ("032", "033")):
        assert f"UPDATE alembic_version SET version_num='{new}' WHERE " \
               f"alembic_version.version_num = '{old}'" in script
