"""Helpers of the cluster tests: runs of the tool in parallel, seeded data, end states.

* :func:`start_run` / :meth:`Run.finish` -- the console script in a subprocess, several at
  once, each bounded by a timeout;
* :meth:`Run.wait_for_line` -- read the run's log until a line appears (to kill something
  at a chosen moment);
* :func:`seed_019` -- rows in the tables the data revisions (020 to 045) rewrite;
* :func:`mistral_rows` -- every row of every Mistral table, for comparing a database with an
  uninterrupted run's;
* :func:`galera_state` -- what one Galera node holds for a database (version rows, schema dump,
  journal, lock rows, rows), read after the node has applied all the cluster committed.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dbs import ServerConfig, dump_mysql
from galera import GaleraCluster
from mistral_db_manage.runner.connect import create_engine_checked

#: seconds one run of the tool may take before the test fails (a hang is a failure)
RUN_TIMEOUT = 300.0
OWN_TABLES = ("mistral_db_manage_runs", "mistral_db_manage_journal", "mistral_db_manage_lock")


def write_conf(directory: Path, url: str, name: str) -> Path:
    path = directory / name
    path.write_text(f"[database]\nconnection = {url}\n", encoding="utf-8")
    return path


class Run:
    """One ``mistral-db-manage`` process; stderr is read line by line as it comes."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        env = dict(os.environ)
        env.pop("OS_DATABASE__CONNECTION", None)
        env["HOME"] = str(cwd)
        self.began = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mistral_db_manage", *argv], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stderr_lines: list[str] = []
        self._stdout_parts: list[str] = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self._out_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._out_reader.start()
        self.stdout = ""
        self.returncode: int | None = None
        self.seconds = 0.0

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line)
        self._lines.put(None)

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        self._stdout_parts.append(self.process.stdout.read())

    def wait_for_line(self, fragment: str, timeout: float = RUN_TIMEOUT) -> str:
        """Block until a stderr line contains ``fragment``; fail if the run ends first."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line with {fragment!r} within {timeout:g} s")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(
                    f"the run ended before printing {fragment!r}:\n" + "".join(self.stderr_lines))
            self.stderr_lines.append(line)
            if fragment in line:
                return line

    def kill(self) -> None:
        self.process.kill()

    def finish(self, timeout: float = RUN_TIMEOUT) -> Run:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
            raise AssertionError(f"a run took over {timeout:g} s (hung?)") from None
        self._reader.join(timeout=10)
        self._out_reader.join(timeout=10)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()
        out = "".join(self._stdout_parts)
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.stderr_lines.append(line)
        self.stdout = out
        self.returncode = self.process.returncode
        self.seconds = time.monotonic() - self.began
        return self

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def describe(self) -> str:
        return f"exit {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"


def start_run(conf: Path, *args: str, cwd: Path) -> Run:
    return Run(["--config-file", str(conf), *args], cwd)


def run_all(runs: list[Run]) -> list[Run]:
    return [run.finish() for run in runs]


def changed_the_database(run: Run) -> bool:
    return run.stdout.startswith("Upgraded from")


# ------------------------------------------------------------------------------------ data


def seed_019(url: str, tasks: int = 300) -> None:
    """Rows at revision 019 for the data revisions to rewrite (020's task types, 022's
    namespaces, 038's delayed calls, ...); ``tasks`` task executions."""
    specs = ['{"workflow": "wf"}', '{"action": "std.noop"}', "[]", '{"workflow": null}',
             '"a workflow"']
    engine = create_engine_checked(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO workflow_executions_v2 (id, name, created_at) "
                "VALUES ('w1', 'wf', :at), ('w2', 'wf2', :at)"), {"at": datetime(2020, 1, 1)})
            connection.execute(
                sa.text("INSERT INTO task_executions_v2 (id, name, spec, workflow_execution_id) "
                        "VALUES (:id, 't', :spec, :wf)"),
                [{"id": f"t{n:06d}", "spec": specs[n % len(specs)], "wf": f"w{1 + n % 2}"}
                 for n in range(tasks)],
            )
            connection.execute(
                sa.text("INSERT INTO action_executions_v2 (id, workflow_name, task_execution_id)"
                        " VALUES (:id, :name, 't000000')"),
                [{"id": f"a{n:04d}", "name": (None, "", "wf")[n % 3]} for n in range(60)],
            )
            connection.execute(sa.text(
                "INSERT INTO workflow_definitions_v2 (id, name, project_id) "
                "VALUES ('d1', 'wf', 'p')"))
            connection.execute(sa.text(
                "INSERT INTO workbooks_v2 (id, name, project_id) VALUES ('b1', 'wb', 'p')"))
            key = "`key`" if engine.dialect.name == "mysql" else "key"
            connection.execute(
                sa.text("INSERT INTO delayed_calls_v2 (id, target_method_name, execution_time, "
                        f"processing, {key}) VALUES (:id, 'm', :at, :p, :key)"),
                [{"id": i, "at": datetime(2020, 1, 1), "p": False, "key": k}
                 for i, k in (("c-null", None), ("c-empty", ""), ("c-key", "k"))],
            )
    finally:
        engine.dispose()


#: columns filled with the time of the run (044 recreates the metrics with "now")
_TIME_OF_RUN = {("mistral_metrics", "created_at"), ("mistral_metrics", "updated_at")}


def mistral_rows(url: str, *, causal: bool = False) -> dict[str, list[str]]:
    """Every row of every Mistral table, as sorted JSON texts (run-time stamps left out)."""
    engine = create_engine_checked(url)
    try:
        with engine.connect() as connection:
            if causal:
                connection.exec_driver_sql("SET SESSION wsrep_sync_wait = 15")
            names = sorted(set(sa.inspect(connection).get_table_names()) - set(OWN_TABLES))
            found: dict[str, list[str]] = {}
            for name in names:
                result = connection.execute(sa.text(f"SELECT * FROM {name}"))
                columns = list(result.keys())
                found[name] = sorted(
                    json.dumps({c: _plain(v) for c, v in zip(columns, row, strict=True)
                                if (name, c) not in _TIME_OF_RUN}, sort_keys=True)
                    for row in result
                )
            return found
    finally:
        engine.dispose()


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


# ---------------------------------------------------------------------------- node state


@dataclass(frozen=True)
class NodeState:
    versions: list[str]
    dump: str
    journal: int
    locks: int
    rows: dict[str, list[str]]


def galera_state(cluster: GaleraCluster, index: int, database: str) -> NodeState:
    """Node ``index``'s view of ``database`` once it has applied what the cluster committed."""
    node = cluster.node(index)
    node.query("SET SESSION wsrep_sync_wait = 15; SELECT 1")  # later sessions see as much

    def count(table: str) -> int:
        rows = node.query(f"SELECT COUNT(*) FROM information_schema.tables WHERE "
                          f"table_schema = '{database}' AND table_name = '{table}'")
        if rows[0][0] == "0":
            return 0
        return int(node.query(f"SELECT COUNT(*) FROM `{database}`.`{table}`")[0][0])

    versions = [
        row[0] for row in node.query(f"SELECT version_num FROM `{database}`.alembic_version")
    ] if count("alembic_version") else []
    server = ServerConfig("mysql", "127.0.0.1", node.ports.sql, "root")
    return NodeState(
        versions=versions,
        dump=dump_mysql(database, server),
        journal=count("mistral_db_manage_journal"),
        locks=count("mistral_db_manage_lock"),
        rows=mistral_rows(node.url(database)),
    )
