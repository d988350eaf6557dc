"""The real Mistral service runs on a database this tool built, on every dialect.

For each of SQLite, PostgreSQL and MariaDB: ``upgrade head`` and ``populate`` (with a
workflow directory of ours) by this tool, then upstream's unmodified ``mistral-server
--server all`` on RabbitMQ, and through its REST API: workflows with ``std.noop`` and
``std.echo`` tasks, a join, with-items, retry with on-error, published variables, a
sub-workflow, an ad-hoc action, a populated workflow, an expected failure, and a cron
trigger.  Every execution reaches its expected state and the service's log shows no
database error.  On SQLite the file is left in WAL mode (``upgrade``'s default), so the
service's several processes do not lock each other out.

Mistral's own DB-layer unit tests (``mistral/tests/unit/db/``) run on a SQLite file
this tool built and on one Mistral's models created, side by side.

Needs RabbitMQ and upstream's release (installed into a cache directory when missing):
skipped without them, unless ``MDM_REQUIRE_SERVERS`` names ``rabbitmq`` and ``mistral``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest

from dbs import FreshDatabase, required_servers
from helpers import run_cli
from mistral_service import (
    call,
    free_port,
    rabbitmq_problem,
    running_service,
    service_config,
    upstream_environment,
    wait_for_state,
)

pytestmark = [pytest.mark.slow, pytest.mark.service]

WORKFLOWS = """version: '2.0'

mdm_sub:
  input: [name]
  output:
    greeting: <% $.greeting %>
  tasks:
    greet:
      action: std.echo output="hello <% $.name %>"
      publish:
        greeting: <% task().result %>

mdm_main:
  output:
    left: <% $.left %>
    right: <% $.right %>
    doubled: <% $.doubled %>
    sub: <% $.sub %>
    recovered: <% $.recovered %>
  tasks:
    start:
      action: std.noop
      on-success: [left, right, items]
    left:
      action: std.echo output="left"
      publish:
        left: <% task().result %>
      on-success: [joined]
    right:
      action: mdm_adhoc_echo text="right"
      publish:
        right: <% task().result %>
      on-success: [joined]
    items:
      with-items: x in <% [1, 2, 3] %>
      action: std.echo output=<% $.x * 2 %>
      publish:
        doubled: <% task().result %>
      on-success: [joined]
    joined:
      join: all
      workflow: mdm_sub name=<% $.left %>
      publish:
        sub: <% task().result.greeting %>
      on-success: [flaky]
    flaky:
      action: std.fail
      retry:
        count: 2
        delay: 1
      on-error: [recovered]
    recovered:
      action: std.echo output="recovered"
      publish:
        recovered: <% task().result %>

mdm_fails:
  tasks:
    broken:
      action: std.fail

mdm_tick:
  tasks:
    tick:
      action: std.noop
"""

ADHOC_ACTION = """version: '2.0'

mdm_adhoc_echo:
  base: std.echo
  base-input:
    output: "adhoc <% $.text %>"
  input: [text]
"""

POPULATED_WORKFLOW = """version: '2.0'

mdm_populated:
  tasks:
    hello:
      action: std.echo output="populated"
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>
"""

EXPECTED_MAIN_OUTPUT = {"left": "left", "right": "adhoc right", "doubled": [2, 4, 6],
                        "sub": "hello left", "recovered": "recovered"}


def _needed(name: str, problem: str | None) -> None:
    if problem is None:
        return
    if name in required_servers():
        pytest.fail(f"{problem} (MDM_REQUIRE_SERVERS names {name})", pytrace=False)
    pytest.skip(problem)


@pytest.fixture(scope="session")
def upstream_venv() -> Path:
    _needed("rabbitmq", rabbitmq_problem())
    try:
        return upstream_environment(log=lambda message: print(f"[upstream] {message}"))
    except (OSError, subprocess.SubprocessError) as error:
        _needed("mistral", f"cannot install upstream Mistral: {error}")
        raise


def _start(base: str, workflow: str, workflow_input: dict[str, object] | None = None) -> str:
    body: dict[str, object] = {"workflow_name": workflow}
    if workflow_input:
        body["input"] = json.dumps(workflow_input)
    return str(call(base, "POST", "/executions", body)["id"])


def test_the_mistral_service_runs_on_what_this_tool_built(
    fresh_db: FreshDatabase, upstream_venv: Path, tmp_path: Path
) -> None:
    began = time.monotonic()
    port = free_port()
    config = service_config(tmp_path, fresh_db.url, port)
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    (definitions / "populated.yaml").write_text(POPULATED_WORKFLOW, encoding="utf-8")
    for command in (("upgrade", "head"), ("populate", "--path", str(definitions))):
        result = run_cli("--config-file", str(config), *command, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    if fresh_db.dialect == "sqlite":  # the mode the services' several processes need
        with closing(sqlite3.connect(fresh_db.name)) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    with running_service(upstream_venv, config, port, tmp_path / "service.log") as service:
        base = service.base
        call(base, "POST", "/actions", ADHOC_ACTION, "text/plain")
        call(base, "POST", "/workflows", WORKFLOWS, "text/plain")
        # The cron trigger first: it fires at the next minute, while the rest runs.
        call(base, "POST", "/cron_triggers", {
            "name": "mdm_every_minute", "workflow_name": "mdm_tick", "pattern": "* * * * *",
            "remaining_executions": 1,
        })
        assert call(base, "GET", "/actions/std.wait_ssh")["name"] == "std.wait_ssh"
        started = {
            "mdm_main": _start(base, "mdm_main"),
            "mdm_fails": _start(base, "mdm_fails"),
            "mdm_populated": _start(base, "mdm_populated"),
        }
        expected = {"mdm_main": "SUCCESS", "mdm_fails": "ERROR", "mdm_populated": "SUCCESS"}
        finished = {name: wait_for_state(base, execution, (expected[name],))
                    for name, execution in started.items()}
        assert {name: e["state"] for name, e in finished.items()} == expected, finished
        assert json.loads(finished["mdm_main"]["output"]) == EXPECTED_MAIN_OUTPUT
        assert json.loads(finished["mdm_populated"]["output"]) == {"said": "populated"}
        tasks = call(base, "GET", f"/executions/{started['mdm_main']}/tasks")["tasks"]
        states = {task["name"]: task["state"] for task in tasks}
        assert states["flaky"] == "ERROR" and states["recovered"] == "SUCCESS", states
        sub = [e for e in call(base, "GET", "/executions?workflow_name=mdm_sub")["executions"]]
        assert [e["state"] for e in sub] == ["SUCCESS"]

        ticked: list[dict[str, object]] = []
        for _attempt in range(200):  # the next minute and a few seconds, at most 100 s
            ticked = call(base, "GET", "/executions?workflow_name=mdm_tick")["executions"]
            if ticked and all(e["state"] == "SUCCESS" for e in ticked):
                break
            time.sleep(0.5)
        assert [e["state"] for e in ticked] == ["SUCCESS"], ticked
        errors = service.database_errors()
    assert errors == [], "\n".join(errors[:20])
    print(f"[service] {fresh_db.dialect}: {time.monotonic() - began:.0f} s")


def _db_tests(venv: Path, url: str, cwd: Path) -> dict[str, object]:
    runner = Path(__file__).with_name("run_mistral_db_tests.py")
    process = subprocess.run(  # in cwd: Mistral's test configuration writes mistral.log
        [str(venv / "bin" / "python"), str(runner)], capture_output=True, text=True,
        timeout=600, env={"OS_DATABASE__CONNECTION": url, "PATH": "/usr/bin:/bin"}, cwd=cwd,
    )
    assert process.returncode == 0, process.stderr[-2000:]
    value = json.loads(process.stdout.strip().splitlines()[-1])
    assert isinstance(value, dict)
    return value


@pytest.mark.dialects("sqlite")
def test_mistral_db_unit_tests_on_what_this_tool_built(
    fresh_db: FreshDatabase, upstream_venv: Path, tmp_path: Path
) -> None:
    config = service_config(tmp_path, fresh_db.url, 1)
    assert run_cli("--config-file", str(config), "upgrade", "head",
                   cwd=tmp_path).returncode == 0
    ours = _db_tests(upstream_venv, fresh_db.url, tmp_path)
    theirs = _db_tests(upstream_venv, f"sqlite:///{tmp_path / 'created_by_mistral.sqlite'}",
                       tmp_path)
    print(f"[mistral db tests] ours: {ours}; Mistral's own schema (rollback journal): {theirs}")
    assert ours["run"] == theirs["run"] and int(str(ours["run"])) > 100
    assert ours["failures"] == 0 and ours["errors"] == 0, ours
