"""Deterministic, streaming generator of a realistic Mistral database at revision 019.

Every table is produced as an iterator of tuples (one tuple per row, values already in
the textual form the loaders need), so nothing is held in memory but the current row and
a few small lookup lists.  The same seed and scale always produce the same rows, which is
what lets the benchmark load "the same data" into several databases and compare what two
tools left behind.

Scale ``n`` = number of task executions; ``n // 10`` workflow executions; ``n`` action
executions (each linked to a random task); ``max(20, n // 1000)`` workflow definitions;
a few workbooks and delayed calls.  ``spec`` texts are JSON of 1-2 KB; about a third of the
task specs have a top-level ``workflow`` key.  Small numbers of edge cases exercise the
020 rules (nested ``workflow`` keys, ``{"workflow": null}``, JSON arrays and strings) and
the 022 rule (action executions with NULL or empty ``workflow_name``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

Row = tuple[str | None, ...]

#: column lists, in the order the generators yield values (a subset of the 019 schema)
COLUMNS: dict[str, tuple[str, ...]] = {
    "workflow_definitions_v2": (
        "created_at", "updated_at", "scope", "project_id", "id", "name", "definition",
        "spec", "tags", "is_system",
    ),
    "workbooks_v2": (
        "created_at", "updated_at", "scope", "project_id", "id", "name", "definition",
        "spec", "tags", "is_system",
    ),
    "workflow_executions_v2": (
        "created_at", "updated_at", "scope", "project_id", "id", "name", "description",
        "workflow_name", "workflow_id", "spec", "state", "state_info", "tags",
        "runtime_context", "accepted", "input", "output", "params", "context",
        "task_execution_id",
    ),
    "task_executions_v2": (
        "created_at", "updated_at", "scope", "project_id", "id", "name", "description",
        "workflow_name", "workflow_id", "spec", "state", "state_info", "tags",
        "runtime_context", "action_spec", "processed", "in_context", "published",
        "workflow_execution_id", "unique_key",
    ),
    "action_executions_v2": (
        "created_at", "updated_at", "scope", "project_id", "id", "name", "description",
        "workflow_name", "workflow_id", "spec", "state", "state_info", "tags",
        "runtime_context", "accepted", "input", "output", "task_execution_id",
    ),
    "delayed_calls_v2": (
        "created_at", "updated_at", "id", "factory_method_path", "target_method_name",
        "method_arguments", "serializers", "auth_context", "execution_time", "processing",
        "key",
    ),
}

#: load order (foreign keys: tasks -> workflow executions, actions -> tasks)
TABLE_ORDER: tuple[str, ...] = (
    "workflow_definitions_v2",
    "workbooks_v2",
    "delayed_calls_v2",
    "workflow_executions_v2",
    "task_executions_v2",
    "action_executions_v2",
)

_WORD_TEXT = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi "
    "rho sigma tau upsilon phi chi psi omega deploy server volume network subnet port "
    "router image flavor keypair stack backup restore snapshot migrate resize reboot "
    "notify email slack retry timeout publish context result status output input host "
    "region zone tenant project user admin service endpoint token catalog quota"
)
_WORDS = tuple(_WORD_TEXT.split())

_STATES_WF = ("SUCCESS", "SUCCESS", "SUCCESS", "ERROR", "RUNNING", "CANCELLED", "PAUSED")
_STATES_TASK = ("SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS", "ERROR", "RUNNING", "IDLE")
_STATES_ACTION = ("SUCCESS", "SUCCESS", "SUCCESS", "ERROR", "RUNNING")
_ACTIONS = ("std.echo", "std.http", "std.noop", "std.ssh", "std.javascript", "nova.servers_create",
            "glance.images_list", "heat.stacks_get", "std.mistral_http", "std.email")


def _ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _b(v: bool) -> str:
    return "1" if v else "0"


@dataclass(frozen=True)
class Scale:
    """How many rows of each kind one scale ``n`` means."""

    n: int

    @property
    def tasks(self) -> int:
        return self.n

    @property
    def workflows(self) -> int:
        return max(1, self.n // 10)

    @property
    def actions(self) -> int:
        return self.n

    @property
    def definitions(self) -> int:
        return max(20, self.n // 1000)

    @property
    def workbooks(self) -> int:
        return max(5, self.n // 20000)

    @property
    def delayed_calls(self) -> int:
        return max(10, self.n // 1000)


class Generator:
    """Yields the rows of every table for one (seed, n); see the module docstring."""

    def __init__(self, n: int, seed: int = 20240519) -> None:
        self.scale = Scale(n)
        self.seed = seed
        rng = random.Random(seed)
        self._text = " ".join(rng.choice(_WORDS) for _ in range(20000))
        self._projects = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(6)]
        self._projects[0] = "<default-project>"
        self._t0 = dt.datetime(2023, 1, 1)
        self._defs: list[tuple[str, str, str]] = []  # (id, name, project_id)
        for i in range(self.scale.definitions):
            self._defs.append(
                (self._uuid(rng), f"wf_{i:05d}_{rng.choice(_WORDS)}", rng.choice(self._projects))
            )

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _uuid(rng: random.Random) -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def _words(self, rng: random.Random, length: int) -> str:
        start = rng.randrange(0, len(self._text) - length - 1)
        return self._text[start:start + length]

    def _padded(self, rng: random.Random, obj: dict[str, object], lo: int = 1024,
                hi: int = 2048) -> str:
        """JSON text of ``obj`` padded with a description to a length in [lo, hi]."""
        target = rng.randint(lo, hi)
        base = json.dumps(obj, separators=(",", ":"))
        pad = target - len(base) - len(',"description":""')
        if pad > 0:
            obj["description"] = self._words(rng, pad)
            return json.dumps(obj, separators=(",", ":"))
        return base

    def _time(self, rng: random.Random, i: int, total: int) -> tuple[str, str]:
        start = self._t0 + dt.timedelta(seconds=int(i * 86400 * 365 / max(total, 1)))
        end = start + dt.timedelta(seconds=rng.randint(1, 3600))
        return _ts(start), _ts(end)

    def _small_json(self, rng: random.Random, keys: int) -> str:
        return json.dumps({rng.choice(_WORDS) + str(k): self._words(rng, rng.randint(5, 40))
                           for k in range(keys)})

    def _wf_spec(self, rng: random.Random, name: str) -> str:
        tasks = {f"task_{k}": {"action": rng.choice(_ACTIONS),
                               "on-success": [f"task_{k + 1}"]} for k in range(rng.randint(2, 5))}
        return self._padded(rng, {"version": "2.0", "name": name, "type": "direct",
                                  "input": ["param_a", "param_b"], "tasks": tasks})

    # -- tables --------------------------------------------------------------------------

    def rows(self, table: str) -> Iterator[Row]:
        return getattr(self, "_" + table)()  # type: ignore[no-any-return]

    def _workflow_definitions_v2(self) -> Iterator[Row]:
        rng = random.Random(self.seed + 1)
        total = len(self._defs)
        for i, (did, name, project) in enumerate(self._defs):
            created, updated = self._time(rng, i, total)
            definition = f"---\nversion: '2.0'\n{name}:\n  tasks:\n" + "".join(
                f"    task_{k}:\n      action: {rng.choice(_ACTIONS)}\n" for k in range(4))
            yield (created, updated, "private" if i % 7 else "public", project, did, name,
                   definition, self._wf_spec(rng, name), '["bench"]', _b(i % 11 == 0))

    def _workbooks_v2(self) -> Iterator[Row]:
        rng = random.Random(self.seed + 2)
        total = self.scale.workbooks
        for i in range(total):
            created, updated = self._time(rng, i, total)
            name = f"wb_{i:04d}_{rng.choice(_WORDS)}"
            yield (created, updated, "private", rng.choice(self._projects), self._uuid(rng),
                   name, f"---\nversion: '2.0'\nname: {name}\n",
                   self._padded(rng, {"version": "2.0", "name": name}, 200, 600), None,
                   _b(False))

    def _delayed_calls_v2(self) -> Iterator[Row]:
        rng = random.Random(self.seed + 3)
        total = self.scale.delayed_calls
        for i in range(total):
            created, updated = self._time(rng, i, total)
            key = (None, "", f"key-{i}")[i % 3]  # 038 deletes the NULL ones
            yield (created, updated, self._uuid(rng),
                   "mistral.engine.default_engine.DefaultEngine", "on_action_complete",
                   self._small_json(rng, 2), "{}", self._small_json(rng, 2), updated,
                   _b(i % 2 == 0), key)

    def _derived_id(self, kind: str, i: int) -> str:
        # ids derived from the index, so rows can reference them without a lookup table
        digest = hashlib.md5(f"{self.seed}/{kind}/{i}".encode(), usedforsecurity=False)
        return str(uuid.UUID(bytes=digest.digest(), version=4))

    def _wf_exec_id(self, i: int) -> str:
        return self._derived_id("wf", i)

    def _task_id(self, i: int) -> str:
        return self._derived_id("task", i)

    def _workflow_executions_v2(self) -> Iterator[Row]:
        rng = random.Random(self.seed + 4)
        total = self.scale.workflows
        for i in range(total):
            did, name, project = self._defs[i % len(self._defs)]
            created, updated = self._time(rng, i, total)
            state = rng.choice(_STATES_WF)
            yield (created, updated, "private", project, self._wf_exec_id(i), name, "",
                   name, did, self._wf_spec(rng, name), state,
                   None if state != "ERROR" else self._words(rng, 120), None,
                   json.dumps({"index": i, "task_execution_id": None}), _b(state != "RUNNING"),
                   self._small_json(rng, 2), self._small_json(rng, 2),
                   json.dumps({"env": {}, "namespace": ""}), self._small_json(rng, 3), None)

    def _task_spec(self, rng: random.Random, i: int, name: str) -> str:
        r = rng.random()
        # rare edge cases first (about 0.6 % in all)
        if r < 0.001:
            return json.dumps(["workflow", name])  # array containing "workflow": WORKFLOW
        if r < 0.002:
            return json.dumps([name, "action"])  # array without it: ACTION
        if r < 0.003:
            return json.dumps(f"{name} runs my workflows")  # string containing it: WORKFLOW
        if r < 0.004:
            return json.dumps(f"{name} runs an action")  # string without it: ACTION
        if r < 0.005:
            return json.dumps({"name": name, "workflow": None})  # null value: WORKFLOW
        spec: dict[str, object] = {"version": "2.0", "name": name, "type": "direct"}
        if r < 0.006 + 1 / 3:
            spec["workflow"] = f"sub_{rng.choice(_WORDS)}"
        else:
            spec["action"] = rng.choice(_ACTIONS)
            if r > 0.95:  # nested key only: still ACTION
                spec["input"] = {"workflow": "not-top-level", "x": i}
        spec["publish"] = {"result": "<% task().result %>"}
        spec["on-success"] = [f"task_{rng.randint(0, 9)}"]
        spec["retry"] = {"count": rng.randint(0, 5), "delay": rng.randint(1, 30)}
        return self._padded(rng, spec)

    def _task_executions_v2(self) -> Iterator[Row]:
        rng = random.Random(self.seed + 5)
        total = self.scale.tasks
        wfs = self.scale.workflows
        for i in range(total):
            wf_index = i * wfs // total
            did, wf_name, project = self._defs[wf_index % len(self._defs)]
            created, updated = self._time(rng, i, total)
            name = f"task_{i % 10}"
            state = rng.choice(_STATES_TASK)
            unique_key = None if rng.random() < 0.9 else f"{self._wf_exec_id(wf_index)}-{i}"
            yield (created, updated, "private", project, self._task_id(i), name, "", wf_name,
                   did, self._task_spec(rng, i, name), state,
                   None if state != "ERROR" else self._words(rng, 100), None,
                   json.dumps({"retry_task_policy": {"retry_no": 0}, "triggered_by": []}),
                   None, _b(state in ("SUCCESS", "ERROR")), self._small_json(rng, 3),
                   self._small_json(rng, 1), self._wf_exec_id(wf_index), unique_key)

    def _action_executions_v2(self) -> Iterator[Row]:
        rng = random.Random(self.seed + 6)
        total = self.scale.actions
        tasks = self.scale.tasks
        wfs = self.scale.workflows
        for i in range(total):
            t = rng.randrange(tasks)
            did, wf_name, project = self._defs[(t * wfs // tasks) % len(self._defs)]
            created, updated = self._time(rng, i, total)
            r = rng.random()
            workflow_name: str | None = wf_name
            if r < 0.03:
                workflow_name = None  # 022: stays NULL
            elif r < 0.05:
                workflow_name = ""  # 022: stays NULL too
            action = rng.choice(_ACTIONS)
            spec = self._padded(rng, {"name": action, "base": action,
                                      "input": {"url": "http://example/" + str(i),
                                                "method": "GET"}})
            state = rng.choice(_STATES_ACTION)
            yield (created, updated, "private", project, self._uuid(rng), action, "",
                   workflow_name, did, spec, state,
                   None if state != "ERROR" else self._words(rng, 80), None,
                   json.dumps({"index": 0}), _b(state != "RUNNING"),
                   self._small_json(rng, 2), self._small_json(rng, 1), self._task_id(t))


def tsv_escape(value: str | None) -> str:
    """One field in PostgreSQL COPY text / MySQL LOAD DATA default format."""
    if value is None:
        return "\\N"
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                 .replace("\r", "\\r"))
    return value
