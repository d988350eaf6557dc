"""Revisions that change data give the rows upstream gives, on every dialect.

The expected rows come from upstream's row-by-row semantics written out in
Python (REVISIONS.md: 020 is Python's ``"workflow" in json.loads(spec)``, 022
tests ``workflow_name`` for truthiness, ...), applied to rows inserted before
the revision runs.
"""

from __future__ import annotations

import importlib
import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from dbs import FreshDatabase
from helpers import settings_for
from mistral_db_manage import api
from mistral_db_manage.errors import DriftError, MigrationFailedError
from mistral_db_manage.runner import journal

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


def _insert_specs(engine: sa.Engine, specs: dict[str, str]) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO task_executions_v2 (id, spec) VALUES (:i, :s)"),
                           [{"i": i, "s": spec} for i, spec in specs.items()])


def _task_types(engine: sa.Engine) -> dict[str, Any]:
    return {i: r[0] for i, r in rows(engine, "SELECT id, type FROM task_executions_v2").items()}


def _journal_rows(connection: sa.Connection) -> list[tuple[Any, ...]]:
    if not sa.inspect(connection).has_table("mistral_db_manage_journal"):
        return []
    return [tuple(r) for r in connection.execute(sa.text(
        "SELECT revision, operations_done, operations_started FROM mistral_db_manage_journal"))]


@pytest.mark.dialects("mysql")
def test_020_refusal_in_one_pass_leaves_nothing_to_resume_and_goes_on_once_fixed(
        fresh_db: FreshDatabase) -> None:
    """MySQL classifies and refuses in one pass (RefusingFill); a refusal drops the
    column it had added and forgets the journal, even where the server's own
    sql_mode would truncate the too-long marker instead of failing."""
    settings = settings_for(fresh_db.url)
    api.upgrade(settings, "019")
    engine = fresh_db.engine()
    admin = sa.create_engine(fresh_db.url.rsplit("/", 1)[0] + "/", isolation_level="AUTOCOMMIT")
    try:
        _insert_specs(engine, {"t1": json.dumps({"workflow": "w"}), "bad": "42"})
        with admin.connect() as connection:
            mode = connection.execute(sa.text("SELECT @@GLOBAL.sql_mode")).scalar()
            connection.execute(sa.text("SET GLOBAL sql_mode = ''"))
        try:
            with pytest.raises(MigrationFailedError) as refused:
                api.upgrade(settings, "head")
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text("SET GLOBAL sql_mode = :m"), {"m": mode})
        message = str(refused.value)
        assert "changed nothing" in message and "task_executions_v2 row bad" in message
        assert "\n" not in message
        assert api.current(settings).revision == "019"
        checked = api.verify(settings)
        assert checked.clean and checked.half_done is None, checked
        with engine.connect() as connection:
            columns = {c["name"] for c in sa.inspect(connection).get_columns("task_executions_v2")}
            assert "type" not in columns
            assert _journal_rows(connection) == []
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE task_executions_v2 SET spec = '\"a workflow\"' "
                                       "WHERE id = 'bad'"))
        api.upgrade(settings, "head")
        assert _task_types(engine) == {"t1": "WORKFLOW", "bad": "WORKFLOW"}
    finally:
        engine.dispose()
        admin.dispose()


@pytest.mark.dialects("mysql")
def test_020_adds_its_column_again_when_a_refusal_dropped_it_before_the_journal_forgot(
        fresh_db: FreshDatabase) -> None:
    """A run killed between a refusal's DROP COLUMN and its journal update leaves
    the journal saying the column was added: the fill adds it again first."""
    settings = settings_for(fresh_db.url)
    api.upgrade(settings, "019")
    engine = fresh_db.engine()
    try:
        _insert_specs(engine, {"a": "{}", "w": json.dumps(["workflow"])})
        with engine.connect() as connection:
            journal.ensure_journal(connection)
            journal.record_progress(connection, "020", 3, 4)
        api.upgrade(settings, "head")
        with engine.connect() as connection:
            column = next(c for c in sa.inspect(connection).get_columns("task_executions_v2")
                          if c["name"] == "type")
            assert _journal_rows(connection) == []
        assert _task_types(engine) == {"a": "ACTION", "w": "WORKFLOW"}
        assert column["default"] is None and column["nullable"] is True
        assert api.verify(settings).clean
    finally:
        engine.dispose()


@pytest.mark.dialects("mysql")
def test_020_fill_drops_a_default_left_by_a_run_stopped_while_adding_the_column_again(
        fresh_db: FreshDatabase) -> None:
    """The fill's own re-add is two statements; stopped between them (the drift check
    refuses that shape, the operator forces), the fill drops the default first."""
    from mistral_db_manage.runner.migrator import UpgradeOptions

    settings = settings_for(fresh_db.url)
    api.upgrade(settings, "019")
    engine = fresh_db.engine()
    try:
        _insert_specs(engine, {"a": "{}", "w": json.dumps({"workflow": None})})
        with engine.connect() as connection:
            connection.execute(sa.text("ALTER TABLE task_executions_v2 "
                                       "ADD COLUMN type VARCHAR(10) DEFAULT 'ACTION'"))
            journal.ensure_journal(connection)
            journal.record_progress(connection, "020", 3, 4)
        with pytest.raises(DriftError):
            api.upgrade(settings, "head")
        api.upgrade(settings, "head", options=UpgradeOptions(force=True))
        assert _task_types(engine) == {"a": "ACTION", "w": "WORKFLOW"}
        assert api.verify(settings).clean
    finally:
        engine.dispose()


# -- generated data ---------------------------------------------------------------------
#
# A seeded generator writes JSON texts the way any JSON writer may: random blanks
# between tokens, any character of a string possibly written as a \u escape (letters
# of "workflow" included), characters that must be escaped (\u0000, quotes, lone
# surrogates), duplicate keys, huge numbers, nesting.  Each text is classified by
# upstream's Python expression and by the revision.

_KEYS = ["workflow", "Workflow", "workflows", "workflow_name", "workflow ", "wf", "action",
         "input", "name", "work flow", "ワークフロー", "workflow\x00", "\x00", "\ud800"]
_WORDS = ["workflow", "my workflow", "WORKFLOW", "workflo", "workflows", "std.noop", "",
          "a\x00workflow", "x\ud800", "\"workflow\"", "\\workflow", "ワ workflow"]
_NUMBERS = ["0", "-0", "1e400", "123456789012345678901234567890", "3.25", "-7E-2"]


class _SpecWriter:
    """``clean``: no \\u0000 and no lone surrogate, which PostgreSQL's jsonb refuses."""

    def __init__(self, rng: random.Random, *, clean: bool = False) -> None:
        self.rng = rng
        self.clean = clean

    def blank(self) -> str:
        return self.rng.choice(["", "", "", " ", "\n", "\t ", "\r\n  "])

    def string(self, text: str) -> str:
        if self.clean:
            text = "".join(c for c in text if c != "\x00" and not 0xD800 <= ord(c) <= 0xDFFF)
        out = []
        for c in text:
            must = c in '"\\' or ord(c) < 0x20 or 0xD800 <= ord(c) <= 0xDFFF
            if must or self.rng.random() < 0.08:
                if ord(c) > 0xFFFF:
                    high, low = divmod(ord(c) - 0x10000, 0x400)
                    out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04X}")
                else:
                    out.append(f"\\u{ord(c):04x}" if self.rng.random() < 0.5
                               else f"\\u{ord(c):04X}")
            else:
                out.append(c)
        return '"' + "".join(out) + '"'

    def value(self, depth: int) -> str:
        kind = self.rng.choice(["object", "array", "string", "scalar", "scalar"]
                               if depth < 3 else ["string", "scalar"])
        if kind == "object":
            return self.object(depth + 1)
        if kind == "array":
            return self.array(depth + 1)
        if kind == "string":
            return self.string(self.rng.choice(_WORDS))
        return self.rng.choice([*_NUMBERS, "true", "false", "null"])

    def object(self, depth: int) -> str:
        keys = self.rng.choices(_KEYS, k=self.rng.randint(0, 4))  # duplicates allowed
        members = [self.blank() + self.string(k) + self.blank() + ":" + self.blank()
                   + self.value(depth) for k in keys]
        return "{" + ",".join(members) + self.blank() + "}"

    def array(self, depth: int) -> str:
        items = [self.blank() + self.rng.choice([self.string(self.rng.choice(_WORDS)),
                                                 self.value(depth)])
                 for _ in range(self.rng.randint(0, 4))]
        return "[" + ",".join(items) + self.blank() + "]"

    def spec(self) -> str:
        top = self.rng.choice(["object", "object", "object", "array", "string"])
        body = (self.object(1) if top == "object" else self.array(1) if top == "array"
                else self.string(self.rng.choice(_WORDS)))
        return self.blank() + body + self.blank()


def test_020_and_022_match_upstream_on_generated_rows(fresh_db: FreshDatabase) -> None:
    seed = 20261126
    rng = random.Random(seed)
    writer = _SpecWriter(rng)
    specs = {f"t{i:04d}": writer.spec() for i in range(400)}
    names = {f"a{i:04d}": rng.choice([None, "", " ", "  ", "\t", "wf", " x", "0"])
             for i in range(60)}
    expected_types = {t: upstream_type(text) for t, text in specs.items()}
    # The generator must reach both answers, and the escaped spellings.
    assert 40 < sum(v == "WORKFLOW" for v in expected_types.values()) < 360
    assert any("\\u0077" in s for s in specs.values())  # an escaped "w"

    settings = settings_for(fresh_db.url)
    api.upgrade(settings, "019")
    engine = fresh_db.engine()
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO workflow_executions_v2 (id, name) VALUES ('w1', 'wf')"))
            connection.execute(
                sa.text("INSERT INTO task_executions_v2 (id, name, spec, workflow_execution_id) "
                        "VALUES (:id, 't', :spec, 'w1')"),
                [{"id": t, "spec": text} for t, text in specs.items()],
            )
            connection.execute(
                sa.text("INSERT INTO action_executions_v2 (id, workflow_name) "
                        "VALUES (:id, :name)"),
                [{"id": a, "name": name} for a, name in names.items()],
            )
        api.upgrade(settings, "022")
        types = rows(engine, "SELECT id, type FROM task_executions_v2")
        wrong = {t: (specs[t], types[t][0]) for t in specs
                 if types[t] != (expected_types[t],)}
        assert not wrong, f"seed {seed}: (spec, type given) where upstream differs: {wrong}"
        actions = rows(engine, "SELECT id, workflow_namespace FROM action_executions_v2")
        assert actions == {a: ("" if name else None,) for a, name in names.items()}
    finally:
        engine.dispose()


def _generated_specs(seed: int, count: int, *, clean: bool) -> dict[str, str]:
    writer = _SpecWriter(random.Random(seed), clean=clean)
    return {f"t{i:04d}": writer.spec() for i in range(count)}


@pytest.mark.dialects("postgresql")
def test_020_parallel_form_on_postgresql_matches_upstream_and_fails_where_jsonb_would(
        fresh_db: FreshDatabase) -> None:
    """PostgreSQL's 020 first classifies with a query that can run in parallel
    workers (jsonb's ``?`` for arrays) and falls back to the one-statement form on
    any failure.  The other tests hold rows that make it fail; here its
    predicate, run alone, gives upstream's answer on rows jsonb can hold, and
    fails (so that the fallback decides) on one it cannot; then the revision
    itself, taking the parallel form, gives upstream's types."""
    module = importlib.import_module(
        "mistral_db_manage.migrations.versions.020_add_type_to_task_execution")
    predicate = module._pg_is_workflow("spec", parallel=True)
    specs = _generated_specs(20261206, 400, clean=True)
    expected = {t for t, text in specs.items() if upstream_type(text) == "WORKFLOW"}
    assert 40 < len(expected) < 360
    assert any(text.lstrip().startswith("[") for t, text in specs.items() if t in expected)
    settings = settings_for(fresh_db.url)
    api.upgrade(settings, "019")
    engine = fresh_db.engine()
    try:
        _insert_specs(engine, specs)
        query = sa.text(f"SELECT id FROM task_executions_v2 WHERE {predicate}")
        with engine.connect() as connection:
            assert set(connection.execute(query).scalars()) == expected
        # json.loads reads both (the number as inf); jsonb holds neither
        for task_id, spec in (("t-nul", '["a\\u0000b", "workflow"]'),
                              ("t-huge", '[1e1000000, "workflow"]')):
            _insert_specs(engine, {task_id: spec})
            assert upstream_type(spec) == "WORKFLOW"
            with engine.connect() as connection, pytest.raises(sa.exc.DBAPIError):
                connection.execute(query).all()
            with engine.begin() as connection:
                connection.execute(sa.text("DELETE FROM task_executions_v2 WHERE id = :i"),
                                   {"i": task_id})
        # enough pages that PostgreSQL fetches the rows by address, not by another scan
        pad = json.dumps({"action": "std.noop", "input": "x" * 400})
        _insert_specs(engine, {f"u{i:04d}": pad for i in range(3000)})
        scans_before = _sequential_scans(engine, "task_executions_v2")
        api.upgrade(settings, "020")
        # the parallel form reads the table once and then fetches rows by address; a
        # failed attempt and the one-statement form would read it twice
        assert _sequential_scans(engine, "task_executions_v2", more_than=scans_before) == (
            scans_before + 1)
        types = _task_types(engine)
        assert {t for t, kind in types.items() if kind == "WORKFLOW"} == expected
        assert set(types.values()) == {"WORKFLOW", "ACTION"}
    finally:
        engine.dispose()


def _sequential_scans(engine: sa.Engine, table: str, more_than: int = -1) -> int:
    """PostgreSQL's count of sequential scans of ``table``; waits (5 s at most) for it to
    exceed ``more_than``: a session that ended reports its counts as it goes."""
    deadline = time.monotonic() + 5
    while True:
        with engine.connect() as connection:
            count = int(connection.execute(sa.text(
                "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = :t"), {"t": table}
            ).scalar_one())
        if count > more_than or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


@pytest.mark.dialects("postgresql")
def test_020_on_postgresql_without_the_right_to_create_temporary_tables(
        fresh_db: FreshDatabase) -> None:
    """The parallel form needs a temporary table; a role denied TEMP gets the
    one-statement form instead, with the same result."""
    role = f"mdm_notemp_{fresh_db.name[-12:]}"
    admin = fresh_db.engine(isolation_level="AUTOCOMMIT")
    database = sa.engine.make_url(fresh_db.url).database
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
            connection.execute(sa.text(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC'))
            connection.execute(sa.text(f'GRANT CREATE ON SCHEMA public TO "{role}"'))
        url = sa.engine.make_url(fresh_db.url).set(username=role)
        settings = settings_for(url.render_as_string(hide_password=False))
        api.upgrade(settings, "019")
        specs = {"t-obj": '{"workflow": "w"}', "t-arr": '["a", "workflow"]',
                 "t-str": '"a workflow"', "t-act": '{"action": "std.noop"}'}
        engine = sa.create_engine(url)
        try:
            with engine.connect() as connection, pytest.raises(sa.exc.ProgrammingError):
                connection.execute(sa.text("CREATE TEMPORARY TABLE t (i int)"))
            _insert_specs(engine, specs)
            api.upgrade(settings, "020")
            assert _task_types(engine) == {t: upstream_type(s) for t, s in specs.items()}
        finally:
            engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER'))
            connection.execute(sa.text(f'DROP OWNED BY "{role}"'))
            connection.execute(sa.text(f'DROP ROLE "{role}"'))
        admin.dispose()
