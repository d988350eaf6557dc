"""populate / populate_actions against real databases (SQLite, PostgreSQL, MariaDB).

Each test gets an empty database (``fresh_db``), creates the head tables from
``mistral_db_manage.schema.models.metadata`` and drives
:func:`plan_populate`/:func:`apply_plan` the way the API layer does: both on
one connection inside one ``begin()``.
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from dbs import FreshDatabase
from mistral_db_manage.catalog.rows import CatalogDefinition
from mistral_db_manage.catalog.sources import collect_definitions
from mistral_db_manage.catalog.sync import (
    ItemAction,
    PlanItem,
    PopulatePlan,
    apply_plan,
    plan_populate,
)
from mistral_db_manage.errors import DefinitionError, MistralDbManageError
from mistral_db_manage.schema.models import (
    action_definitions_v2,
    cron_triggers_v2,
    event_triggers_v2,
    metadata,
    workflow_definitions_v2,
)

TESTS = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((TESTS / "reference" / "upstream-populate.json").read_text())
FIXTURE_DIST = TESTS / "cases" / "populate" / "fixture_dist"
TABLES = (action_definitions_v2, workflow_definitions_v2, cron_triggers_v2, event_triggers_v2)
Snapshot = dict[str, list[dict[str, Any]]]


@pytest.fixture
def engine(fresh_db: FreshDatabase) -> Iterator[sa.Engine]:
    engine = fresh_db.engine()
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def run(
    engine: sa.Engine,
    definitions: Sequence[CatalogDefinition],
    *,
    prune: bool = False,
    actions_only: bool = False,
    dry_run: bool = False,
) -> PopulatePlan:
    with engine.begin() as connection:
        plan = plan_populate(connection, definitions, prune=prune, actions_only=actions_only)
        if not dry_run:
            apply_plan(connection, plan)
    return plan


def snapshot(engine: sa.Engine) -> Snapshot:
    """Every row of the catalogue and trigger tables, JSON columns as their stored text."""
    result: Snapshot = {}
    with engine.connect() as connection:
        for table in TABLES:
            columns = [
                sa.type_coerce(c, sa.Text()).label(c.name)
                if isinstance(c.type, TypeDecorator)
                else c
                for c in table.c
            ]
            query = sa.select(*columns).order_by(table.c.name, table.c.id)
            result[table.name] = [dict(row._mapping) for row in connection.execute(query)]
    return result


def without_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    drop = {"id", "created_at", "updated_at"}
    return [{k: v for k, v in row.items() if k not in drop} for row in rows]


def site_dir(root: Path, workflows: dict[str, str]) -> Path:
    """A --path directory with one file per workflow (name -> action of its one task)."""
    root.mkdir(exist_ok=True)
    for old in root.glob("*.yaml"):
        old.unlink()
    for name, action in workflows.items():
        (root / f"{name}.yaml").write_text(
            f"---\nversion: '2.0'\n\n{name}:\n  tasks:\n    only:\n      action: {action}\n"
        )
    return root


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in rows}


# --------------------------------------------------------------------------- upstream rows


def test_rows_equal_upstream(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURE_DIST))
    definitions = collect_definitions([], include_workflows=True)
    before = utc_now()
    plan = run(engine, definitions)
    after = utc_now()
    assert plan.summary() == "3 added, 0 updated, 0 unchanged"

    rows = snapshot(engine)
    for table in ("action_definitions_v2", "workflow_definitions_v2"):
        expected = sorted(REFERENCE[table], key=lambda row: row["name"])
        assert without_ids(rows[table]) == expected
        for row in rows[table]:
            assert str(uuid.UUID(row["id"])) == row["id"]
            assert row["updated_at"] is None
            created = row["created_at"]
            assert created.microsecond == 0
            assert before.replace(microsecond=0) <= created <= after


def test_second_run_changes_nothing(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURE_DIST))
    definitions = collect_definitions([], include_workflows=True)
    run(engine, definitions)
    first = snapshot(engine)

    plan = run(engine, collect_definitions([], include_workflows=True))
    assert plan.summary() == "0 added, 0 updated, 3 unchanged"
    assert not plan.has_changes
    assert plan.lines() == []
    assert snapshot(engine) == first


# --------------------------------------------------------------------------- updates


def test_update_keeps_id_and_sets_updated_at(engine: sa.Engine, tmp_path: Path) -> None:
    site = site_dir(tmp_path / "site", {"wf_a": "std.noop", "wf_b": "std.noop"})
    run(engine, collect_definitions([site], include_workflows=True))
    old = by_name(snapshot(engine)["workflow_definitions_v2"])

    site_dir(site, {"wf_a": "std.echo output=1", "wf_b": "std.noop"})
    plan = run(engine, collect_definitions([site], include_workflows=True))
    assert plan.summary() == "0 added, 1 updated, 2 unchanged"
    [update] = [item for item in plan.items if item.action is ItemAction.UPDATE]
    assert (update.kind, update.name, update.row_id) == ("workflow", "wf_a", old["wf_a"]["id"])
    assert update.changed == ("definition", "spec", "checksum")
    assert update.describe().startswith("update workflow wf_a (definition, spec, checksum changed")

    new = by_name(snapshot(engine)["workflow_definitions_v2"])
    assert new["wf_a"]["id"] == old["wf_a"]["id"]
    assert new["wf_a"]["created_at"] == old["wf_a"]["created_at"]
    assert new["wf_a"]["updated_at"] is not None
    assert new["wf_a"]["updated_at"] >= new["wf_a"]["created_at"]
    assert new["wf_a"]["checksum"] != old["wf_a"]["checksum"]
    assert "std.echo output=1" in new["wf_a"]["definition"]
    assert new["wf_b"] == old["wf_b"]


def test_null_namespace_action_is_adopted(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(action_definitions_v2).values(
                id="old-wait-ssh",
                name="std.wait_ssh",
                project_id="<default-project>",
                scope="public",
                namespace=None,
                definition="old",
                spec={"base": "std.ssh"},
                is_system=False,
            )
        )
    plan = run(engine, collect_definitions([], include_workflows=False), actions_only=True)
    assert [(i.action, i.row_id) for i in plan.items] == [(ItemAction.UPDATE, "old-wait-ssh")]
    [row] = snapshot(engine)["action_definitions_v2"]
    assert row["id"] == "old-wait-ssh"
    assert without_ids([row]) == REFERENCE["action_definitions_v2"]


# --------------------------------------------------------------------------- removals


def _add_triggers(engine: sa.Engine, cron_target: str, event_target: str) -> None:
    rows = by_name(snapshot(engine)["workflow_definitions_v2"])
    with engine.begin() as connection:
        connection.execute(
            sa.insert(cron_triggers_v2).values(
                id=str(uuid.uuid4()),
                name="nightly",
                pattern="0 2 * * *",
                next_execution_time=dt.datetime(2030, 1, 1, 2, 0),
                workflow_name=cron_target,
                workflow_id=rows[cron_target]["id"],
                project_id="<default-project>",
                scope="private",
            )
        )
        connection.execute(
            sa.insert(event_triggers_v2).values(
                id=str(uuid.uuid4()),
                name="on_boot",
                workflow_id=rows[event_target]["id"],
                exchange="nova",
                topic="notifications",
                event="compute.instance.create.end",
                project_id="<default-project>",
                scope="private",
            )
        )


def test_referenced_workflow_is_never_removed(engine: sa.Engine, tmp_path: Path) -> None:
    site = site_dir(
        tmp_path / "site",
        {"wf_plain": "std.noop", "wf_cron": "std.noop", "wf_event": "std.noop"},
    )
    run(engine, collect_definitions([site], include_workflows=True))
    _add_triggers(engine, cron_target="wf_cron", event_target="wf_event")
    before = snapshot(engine)

    site_dir(site, {"wf_new": "std.noop"})
    plan = run(engine, collect_definitions([site], include_workflows=True), prune=True)
    assert plan.summary() == (
        "1 added, 0 updated, 1 unchanged, 1 removed, 2 kept (referenced by a trigger)"
    )
    items = {item.name: item for item in plan.items}
    assert items["wf_plain"].action is ItemAction.REMOVE
    assert items["wf_cron"].action is ItemAction.KEPT_REFERENCED
    assert "cron trigger 'nightly'" in items["wf_cron"].reason
    assert items["wf_event"].action is ItemAction.KEPT_REFERENCED
    assert "event trigger 'on_boot'" in items["wf_event"].describe()

    after = snapshot(engine)
    assert sorted(by_name(after["workflow_definitions_v2"])) == ["wf_cron", "wf_event", "wf_new"]
    kept = by_name(before["workflow_definitions_v2"])
    for name in ("wf_cron", "wf_event"):
        assert by_name(after["workflow_definitions_v2"])[name] == kept[name]
    assert after["cron_triggers_v2"] == before["cron_triggers_v2"]
    assert after["event_triggers_v2"] == before["event_triggers_v2"]


def test_missing_source_keeps_rows_unless_prune(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.syspath_prepend(str(FIXTURE_DIST))
        run(engine, collect_definitions([], include_workflows=True))
    populated = snapshot(engine)

    # The advertising distribution is gone: its workflows are kept and reported.
    definitions = collect_definitions([], include_workflows=True)
    assert [d.name for d in definitions] == ["std.wait_ssh"]
    plan = run(engine, definitions)
    assert plan.summary() == (
        "0 added, 0 updated, 1 unchanged, 2 kept (no source defines them; --prune removes them)"
    )
    assert {i.name for i in plan.items if i.action is ItemAction.KEPT_SOURCE_MISSING} == {
        "create_instance",
        "delete_instance",
    }
    assert snapshot(engine) == populated

    plan = run(engine, definitions, prune=True)
    assert plan.summary() == "0 added, 0 updated, 1 unchanged, 2 removed"
    assert snapshot(engine)["workflow_definitions_v2"] == []


def test_user_rows_are_left_alone(engine: sa.Engine, tmp_path: Path) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(action_definitions_v2).values(
                id="user-action",
                name="my.action",
                project_id="<default-project>",
                scope="private",
                namespace="",
                definition="x",
                is_system=False,
            )
        )
        connection.execute(
            sa.insert(workflow_definitions_v2).values(
                id="user-wf",
                name="my_wf",
                project_id="<default-project>",
                scope="private",
                namespace="",
                definition="x",
                is_system=False,
            )
        )
        connection.execute(
            sa.insert(workflow_definitions_v2).values(
                id="other-namespace",
                name="sys_elsewhere",
                project_id="<default-project>",
                scope="public",
                namespace="team",
                definition="x",
                is_system=True,
            )
        )
    before = snapshot(engine)
    plan = run(engine, collect_definitions([], include_workflows=True), prune=True)
    assert plan.summary() == "1 added, 0 updated, 0 unchanged"
    after = snapshot(engine)
    assert (
        by_name(after["action_definitions_v2"])["my.action"]
        == by_name(before["action_definitions_v2"])["my.action"]
    )
    assert after["workflow_definitions_v2"] == before["workflow_definitions_v2"]


def test_user_workflow_with_the_same_name_is_not_overwritten(
    engine: sa.Engine, tmp_path: Path
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(workflow_definitions_v2).values(
                id="user-wf",
                name="wf_a",
                project_id="<default-project>",
                scope="private",
                namespace="",
                definition="mine",
                is_system=False,
            )
        )
    before = snapshot(engine)
    site = site_dir(tmp_path / "site", {"wf_a": "std.noop"})
    with pytest.raises(DefinitionError, match=r"wf_a\.yaml:4: wf_a: .*user workflow.*user-wf"):
        run(engine, collect_definitions([site], include_workflows=True))
    assert snapshot(engine) == before


# --------------------------------------------------------------------------- safety


def test_dry_run_changes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    site = site_dir(tmp_path / "site", {"wf_a": "std.noop"})
    empty = snapshot(engine)
    plan = run(engine, collect_definitions([site], include_workflows=True), dry_run=True)
    assert plan.summary() == "2 added, 0 updated, 0 unchanged"
    assert plan.lines() == [
        f"add action std.wait_ssh (from {plan.items[0].source})",
        f"add workflow wf_a (from directory {site})",
    ]
    assert snapshot(engine) == empty

    run(engine, collect_definitions([site], include_workflows=True))
    populated = snapshot(engine)
    site_dir(site, {"wf_b": "std.noop"})
    plan = run(
        engine, collect_definitions([site], include_workflows=True), prune=True, dry_run=True
    )
    assert plan.summary() == "1 added, 0 updated, 1 unchanged, 1 removed"
    assert snapshot(engine) == populated


def test_invalid_definition_changes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    site = site_dir(tmp_path / "site", {"wf_a": "std.noop"})
    run(engine, collect_definitions([site], include_workflows=True))
    populated = snapshot(engine)

    (site / "wf_b.yaml").write_text(
        textwrap.dedent(
            """\
            version: '2.0'
            wf_b:
              tasks:
                t1:
                  action: std.noop
                  on-success: t2
            """
        )
    )
    site_dir_files = sorted(p.name for p in site.iterdir())
    assert site_dir_files == ["wf_a.yaml", "wf_b.yaml"]
    with pytest.raises(DefinitionError) as info:
        run(engine, collect_definitions([site], include_workflows=True), prune=True)
    assert str(info.value).startswith(f"{site / 'wf_b.yaml'}:6: wf_b.tasks.t1.on-success: ")
    assert snapshot(engine) == populated


def test_failed_apply_writes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    site = site_dir(tmp_path / "site", {"wf_a": "std.noop"})
    empty = snapshot(engine)
    with engine.begin() as connection:
        plan = plan_populate(
            connection,
            collect_definitions([site], include_workflows=True),
            prune=False,
            actions_only=False,
        )
    assert plan.count(ItemAction.ADD) == 2
    stale = PlanItem(
        "workflow", "vanished", ItemAction.UPDATE, row_id="no-such-id", values={"name": "x"}
    )
    broken = PopulatePlan(items=(*plan.items, stale))
    with (
        pytest.raises(MistralDbManageError, match="changed or disappeared"),
        engine.begin() as connection,
    ):
        apply_plan(connection, broken)
    assert snapshot(engine) == empty


def test_populate_actions_touches_actions_only(engine: sa.Engine, tmp_path: Path) -> None:
    site = site_dir(tmp_path / "site", {"wf_a": "std.noop"})
    run(engine, collect_definitions([site], include_workflows=True))
    populated = snapshot(engine)

    with engine.begin() as connection:
        connection.execute(sa.delete(action_definitions_v2))
    plan = run(engine, collect_definitions([site], include_workflows=False), actions_only=True)
    assert plan.actions_only
    assert [(i.kind, i.name, i.action) for i in plan.items] == [
        ("action", "std.wait_ssh", ItemAction.ADD)
    ]
    after = snapshot(engine)
    assert after["workflow_definitions_v2"] == populated["workflow_definitions_v2"]
    assert without_ids(after["action_definitions_v2"]) == REFERENCE["action_definitions_v2"]

    # Even with prune and no workflow source, populate_actions never removes workflows.
    plan = run(
        engine, collect_definitions([], include_workflows=False), actions_only=True, prune=True
    )
    assert plan.summary() == "0 added, 0 updated, 1 unchanged"
    assert snapshot(engine)["workflow_definitions_v2"] == populated["workflow_definitions_v2"]
