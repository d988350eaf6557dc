"""Validation of workflows, their tasks and ad-hoc actions, and their ``spec`` values.

This module owns the rules that span one workflow or one action, built on the
value checks of :class:`~.checks.Checker`: :func:`validate_workflow` checks a
workflow with its tasks and transition graph and returns its ``spec`` and
tags; :func:`validate_action` checks an ad-hoc action and returns its
:class:`~.rows.ActionDefinition`.

What validation covers
    ``version`` (2.0), workflow ``type`` (direct/reverse), allowed keys at
    every level (the message lists them), task names, at most one of
    ``action``/``workflow``, the forms of ``input``, ``publish``,
    ``with-items``, ``retry``, ``wait-before``/``wait-after``/``timeout``/
    ``concurrency``, boolean-or-expression policies, ``join``, the
    ``on-success``/``on-error``/``on-complete`` clauses and that they name
    tasks of the workflow or engine commands (fail, succeed, pause, noop),
    ``requires`` of reverse workflows, that a direct workflow has a start task
    and that ``join`` tasks have enough inbound transitions.  YAQL and Jinja
    expressions are recognised by their delimiters; their syntax is not
    checked.  Duplicate keys, YAML tags other than the plain JSON-like ones,
    dates and non-finite numbers are rejected (by :mod:`.yamlmarks`, when the
    document is loaded).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from mistral_db_manage.catalog.checks import (
    Checker,
    check_injected,
    describe,
    optional_description,
    optional_tags,
    split_command,
)
from mistral_db_manage.catalog.keys import (
    ACTION_KEYS,
    DEFAULT_WORKFLOW_TYPE,
    DIRECT_TASK_KEYS,
    DSL_VERSION,
    ENGINE_COMMANDS,
    MAX_JOIN_TASK_NAME_LENGTH,
    MAX_TASK_NAME_LENGTH,
    REVERSE_TASK_KEYS,
    TASK_DEFAULTS_KEYS,
    TRANSITION_KEYS,
    WORD,
    WORKFLOW_KEYS,
    WORKFLOW_TYPES,
)
from mistral_db_manage.catalog.rows import ActionDefinition, action_input_text
from mistral_db_manage.catalog.yamlmarks import KeyPath


def _merge_into(target: dict[Any, Any], extra: Mapping[Any, Any]) -> None:
    for key, value in extra.items():
        current = target.get(key)
        if key in target and isinstance(current, dict) and isinstance(value, dict):
            _merge_into(current, value)
        else:
            target[key] = value


def _is_uuid_like(name: str) -> bool:
    try:
        return str(uuid.UUID(name)).replace("-", "") == name.lower().replace("-", "")
    except ValueError:
        return False


def validate_workflow(
    check: Checker, path: KeyPath, name: str, value: Any
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Validate one workflow; returns its ``spec`` and tags."""
    check.name(path, name, "a workflow name")
    if _is_uuid_like(name):
        check.fail(path, "a workflow name must not look like a UUID")
    body = check.mapping(path, value, f"workflow {name!r}")
    if "base" in body and "tasks" not in body:
        check.fail(
            path,
            "this looks like an ad-hoc action (it has 'base'); a workflow file holds workflows",
        )
    check.allowed_keys(path, body, WORKFLOW_KEYS, "a workflow")
    check_injected(check, path, body, name)
    wf_type = body.get("type", DEFAULT_WORKFLOW_TYPE)
    if wf_type not in WORKFLOW_TYPES:
        check.fail((*path, "type"), f"workflow type must be 'direct' or 'reverse', not {wf_type!r}")
    optional_description(check, path, body)
    tags = optional_tags(check, path, body)
    if "input" in body:
        check.input_list((*path, "input"), body["input"])
    for key in ("output", "output-on-error", "vars"):
        if key in body:
            check.nonempty_mapping((*path, key), body[key], key)

    defaults_clauses: dict[str, list[tuple[str, KeyPath]]] = {}
    defaults_requires: list[tuple[str, KeyPath]] = []
    if "task-defaults" in body:
        dpath = (*path, "task-defaults")
        defaults = check.nonempty_mapping(dpath, body["task-defaults"], "task-defaults")
        check.allowed_keys(dpath, defaults, TASK_DEFAULTS_KEYS, "task-defaults")
        check.policies(dpath, defaults)
        for key in TRANSITION_KEYS:
            if key in defaults:
                defaults_clauses[key] = check.clause((*dpath, key), defaults[key])
        if "requires" in defaults:
            defaults_requires = check.requires((*dpath, "requires"), defaults["requires"])

    if "tasks" not in body:
        check.fail(path, f"workflow {name!r} has no 'tasks'")
    tpath = (*path, "tasks")
    tasks = check.nonempty_mapping(tpath, body["tasks"], "tasks")
    own_clauses: dict[str, dict[str, list[tuple[str, KeyPath]]]] = {}
    own_requires: dict[str, list[tuple[str, KeyPath]]] = {}
    for task_name, task_body in tasks.items():
        clauses, requires = _task(check, (*tpath, task_name), task_name, task_body, wf_type)
        own_clauses[task_name] = clauses
        own_requires[task_name] = requires

    if wf_type == "direct":
        _check_direct_graph(check, path, name, tasks, own_clauses, defaults_clauses)
    else:
        for task_name in tasks:
            for required, req_path in own_requires[task_name] + defaults_requires:
                if required != task_name and required not in tasks:
                    check.fail(
                        req_path,
                        f"task {task_name!r} requires {required!r}, which is not a task of "
                        f"workflow {name!r}",
                    )
    return _workflow_spec(name, body, wf_type), tags


def _task(
    check: Checker, path: KeyPath, name: Any, value: Any, wf_type: str
) -> tuple[dict[str, list[tuple[str, KeyPath]]], list[tuple[str, KeyPath]]]:
    if not isinstance(name, str) or not WORD.match(name):
        check.fail(path, "a task name is letters, digits and '_' only")
    if len(name) > MAX_TASK_NAME_LENGTH:
        check.fail(path, f"a task name is at most {MAX_TASK_NAME_LENGTH} characters")
    body = check.nonempty_mapping(path, value, f"task {name!r}")
    allowed = DIRECT_TASK_KEYS if wf_type == "direct" else REVERSE_TASK_KEYS
    check.allowed_keys(path, body, allowed, f"a task of a {wf_type} workflow")
    check_injected(check, path, body, name)
    if "type" in body and body["type"] != wf_type:
        check.fail((*path, "type"), f"'type' is {body['type']!r} but the workflow is {wf_type!r}")
    if "action" in body and "workflow" in body:
        check.fail((*path, "workflow"), "a task has at most one of 'action' and 'workflow'")
    for key in ("action", "workflow"):
        if key not in body:
            continue
        command = check.string((*path, key), body[key], key)
        split = split_command(command)
        if split is None:
            check.fail((*path, key), f"cannot read the {key} name in {command!r}")
        if split[1] and isinstance(body.get("input"), str):
            check.fail(
                (*path, "input"),
                f"input is an expression, so the {key} line cannot also carry parameters",
            )
    if "input" in body:
        task_input = body["input"]
        if isinstance(task_input, str):
            check.string((*path, "input"), task_input, "input")
        else:
            check.nonempty_mapping((*path, "input"), task_input, "task input")
    if "with-items" in body:
        check.with_items((*path, "with-items"), body["with-items"])
    for key in ("publish", "publish-on-error"):
        if key in body:
            check.nonempty_mapping((*path, key), body[key], key)
    check.policies(path, body)
    if "target" in body:
        check.string((*path, "target"), body["target"], "target")
    optional_description(check, path, body)
    optional_tags(check, path, body)

    clauses: dict[str, list[tuple[str, KeyPath]]] = {}
    requires: list[tuple[str, KeyPath]] = []
    if wf_type == "direct":
        if "join" in body:
            join = body["join"]
            if join not in ("all", "one") and not (
                isinstance(join, int) and not isinstance(join, bool) and join >= 0
            ):
                check.fail(
                    (*path, "join"),
                    f"join must be 'all', 'one' or an integer >= 0, not {describe(join)}",
                )
            if join and len(name) > MAX_JOIN_TASK_NAME_LENGTH:
                check.fail(
                    path, f"a join task name is at most {MAX_JOIN_TASK_NAME_LENGTH} characters"
                )
        for key in TRANSITION_KEYS:
            if key in body:
                clauses[key] = check.clause((*path, key), body[key])
    elif "requires" in body:
        requires = check.requires((*path, "requires"), body["requires"])
    return clauses, requires


def _check_direct_graph(
    check: Checker,
    path: KeyPath,
    name: str,
    tasks: Mapping[str, Any],
    own: Mapping[str, Mapping[str, list[tuple[str, KeyPath]]]],
    defaults: Mapping[str, list[tuple[str, KeyPath]]],
) -> None:
    outbound: dict[str, list[str]] = {}
    for task_name in tasks:
        targets: list[tuple[str, KeyPath]] = []
        for key in TRANSITION_KEYS:
            mine = own[task_name].get(key)
            if mine:
                targets.extend(mine)
            else:
                targets.extend(t for t in defaults.get(key, []) if t[0] != task_name)
        for target, target_path in targets:
            if target not in tasks and target not in ENGINE_COMMANDS:
                check.fail(
                    target_path,
                    f"transition to {target!r}, which is neither a task of workflow {name!r} "
                    f"({', '.join(tasks)}) nor an engine command ({', '.join(ENGINE_COMMANDS)})",
                )
        outbound[task_name] = [target for target, _ in targets]
    inbound = {t: [s for s in tasks if t in outbound[s]] for t in tasks}
    if all(inbound[t] for t in tasks):
        check.fail(
            (*path, "tasks"),
            "a direct workflow needs a start task (one that no transition leads to); "
            "every task here is the target of a transition",
        )
    for task_name, body in tasks.items():
        join = body.get("join")
        if not join:
            continue
        needed = 1 if join in ("all", "one") else int(join)
        if len(inbound[task_name]) < needed:
            check.fail(
                (*path, "tasks", task_name, "join"),
                f"join {join!r} needs {needed} inbound transition(s) but "
                f"{len(inbound[task_name])} task(s) lead to {task_name!r}",
            )


def _workflow_spec(name: str, body: Mapping[str, Any], wf_type: str) -> dict[str, Any]:
    spec: dict[str, Any] = copy.deepcopy(dict(body))
    for task_name, task in spec["tasks"].items():
        task["type"] = wf_type
        task["name"] = task_name
        task["version"] = DSL_VERSION
        command = task.get("action") or task.get("workflow")
        if isinstance(command, str) and isinstance(task.get("input"), dict):
            split = split_command(command)
            if split is not None and split[1]:
                _merge_into(task["input"], split[1])
    spec["name"] = name
    spec["version"] = DSL_VERSION
    return spec


# --------------------------------------------------------------------------- actions


def validate_action(
    check: Checker, path: KeyPath, name: str, value: Any, text: str, source: str
) -> ActionDefinition:
    check.name(path, name, "an action name")
    body = check.mapping(path, value, f"action {name!r}")
    if "tasks" in body and "base" not in body:
        check.fail(
            path, "this looks like a workflow (it has 'tasks'); an action file holds actions"
        )
    check.allowed_keys(path, body, ACTION_KEYS, "an ad-hoc action")
    check_injected(check, path, body, name)
    if "base" not in body:
        check.fail(path, f"action {name!r} has no 'base' (the action it is built on)")
    base = check.string((*path, "base"), body["base"], "base")
    split = split_command(base)
    if split is None:
        check.fail((*path, "base"), f"cannot read the base action name in {base!r}")
    if "base-input" in body:
        check.nonempty_mapping((*path, "base-input"), body["base-input"], "base-input")
    if "input" in body:
        check.input_list((*path, "input"), body["input"])
    description = optional_description(check, path, body)
    tags = optional_tags(check, path, body)

    spec: dict[str, Any] = copy.deepcopy(dict(body))
    if split[1] and isinstance(spec.get("base-input"), dict):
        _merge_into(spec["base-input"], split[1])
    spec["name"] = name
    spec["version"] = DSL_VERSION
    return ActionDefinition(
        name=name,
        definition_text=text,
        spec=spec,
        tags=tags,
        description=description,
        input_text=action_input_text(body.get("input")),
        filename=check.doc.filename,
        line=check.doc.line_of(path),
        source=source,
    )
