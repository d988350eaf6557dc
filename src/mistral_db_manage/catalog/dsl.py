"""Mistral DSL v2: parse and validate definitions, and compute their row values.

This module owns the *definitions language*: it reads workflow files (one or
several workflows), ad-hoc action files and workbooks written in Mistral DSL v2
(``version: '2.0'``), checks them, and turns each workflow or action into a
frozen dataclass holding exactly the column values upstream Mistral stores.

Errors
    Every problem is a :class:`~mistral_db_manage.errors.DefinitionError` whose
    message reads ``FILE:LINE: PATH: what is wrong``.  ``PATH`` is the dotted
    path of the offending key (``create_vm.tasks.boot.on-success[1]``;
    ``(document)`` for the file as a whole).  Lines and paths come from
    :mod:`.yamlmarks`, which loads YAML keeping the line of every key.

Row values (facts of upstream Mistral 23.0.0, see tests/reference/upstream-populate.json)
    * ``spec`` of a workflow: the workflow's own mapping in file order, then
      ``name`` and ``version`` (``"2.0"``); each task gets ``type`` (the
      workflow's type, ``direct`` when absent), ``name`` and ``version`` after
      its own keys.  A key that is already there keeps its place and takes the
      injected value.  Inline parameters of a task's ``action``/``workflow``
      string (``nova.servers_create name=<% $.n %>``) are merged into the
      task's ``input`` mapping when it has one, as upstream does.
    * ``spec`` of an action: its mapping, then ``name`` and ``version``; inline
      parameters of ``base`` are merged into ``base-input`` when present.
    * JSON columns are ``json.dumps`` with default separators; ``tags`` is
      ``"[]"`` when absent.
    * ``definition`` of a workflow: the whole file text when the file holds one
      workflow.  When it holds several, each workflow's text is *the file with
      the blocks of the other workflows removed*.  A top-level entry's block
      runs from its key line -- extended upwards over the comment lines that
      start in column 0 directly above it -- to the line before the next
      block; the last block runs to the end of the file.  Everything before
      the first block (``---``, header comments) is kept, and so is the
      ``version`` entry.  The cut text is parsed again and must give the same
      workflow (an anchor defined in another workflow's block makes it fail,
      with a message).  Flow-style (``{...}``) files cannot be cut.
    * ``definition`` of an action: the whole file text, for every action of
      the file (upstream stores the file it was given).
    * ``checksum``: md5 hex digest of the UTF-8 ``definition``.
    * ``input`` of an action: its input entries joined by ``", "``; a plain
      name as is, a ``name: default`` entry as ``name=<json.dumps(default)>``
      (``a, b="x", c=1, d=null``); NULL when there is no input.

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
    dates and non-finite numbers are rejected.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from yaml.nodes import MappingNode

from mistral_db_manage.catalog.yamlmarks import (
    Document,
    Index,
    KeyPath,
    load_document,
)
from mistral_db_manage.errors import DefinitionError

DSL_VERSION = "2.0"
WORKFLOW_TYPES = ("direct", "reverse")
DEFAULT_WORKFLOW_TYPE = "direct"
ENGINE_COMMANDS = ("fail", "succeed", "pause", "noop")
MAX_NAME_LENGTH = 255
MAX_TASK_NAME_LENGTH = 255
#: A join task's name is part of a 255-character lock name with a 47-character prefix.
MAX_JOIN_TASK_NAME_LENGTH = 208

_META_KEYS = frozenset({"name", "version", "description", "tags"})
WORKFLOW_KEYS = _META_KEYS | {
    "type",
    "task-defaults",
    "input",
    "output",
    "output-on-error",
    "vars",
    "tasks",
}
TASK_KEYS = _META_KEYS | {
    "type",
    "action",
    "workflow",
    "input",
    "with-items",
    "publish",
    "publish-on-error",
    "retry",
    "wait-before",
    "wait-after",
    "timeout",
    "pause-before",
    "concurrency",
    "fail-on",
    "target",
    "keep-result",
    "safe-rerun",
}
TRANSITION_KEYS = ("on-success", "on-error", "on-complete")
DIRECT_TASK_KEYS = TASK_KEYS | {"join", *TRANSITION_KEYS}
REVERSE_TASK_KEYS = TASK_KEYS | {"requires"}
TASK_DEFAULTS_KEYS = frozenset(
    {
        "retry",
        "wait-before",
        "wait-after",
        "timeout",
        "pause-before",
        "concurrency",
        "safe-rerun",
        "requires",
        *TRANSITION_KEYS,
    }
)
ACTION_KEYS = _META_KEYS | {"base", "base-input", "input", "output"}
WORKBOOK_KEYS = frozenset({"version", "name", "description", "tags", "workflows", "actions"})
RETRY_KEYS = frozenset({"count", "delay", "break-on", "continue-on"})
CLAUSE_KEYS = frozenset({"publish", "next"})

_COUNT_POLICIES = ("wait-before", "wait-after", "timeout", "concurrency")
_BOOLEAN_POLICIES = ("pause-before", "fail-on", "keep-result", "safe-rerun")

# Expressions, recognised by their delimiters (as upstream's schema does).
_YAQL = r"<%.*?%>"
_JINJA = r"{{.*}}|{%.*%}"
_YAQL_EXPRESSION = re.compile(r"^<%.*?%>\s*$")
_JINJA_EXPRESSION = re.compile(r"^{{.*}}|{%.*%}\s*$")
# "command param=value ...": the command, then the parameters.
_COMMAND = re.compile(r"^([\w.]+[^=(\s\"]*|" + _YAQL + "|" + _JINJA + ")")
_PARAM = re.compile(
    r"([-_\w]+)=(\"[^\"]*\"\s*|'[^']*'\s*|"
    + _YAQL
    + "|"
    + _JINJA
    + r"|\[.*\]\s*|true|false|null|\d+)"
)
_WORD = re.compile(r"^\w+$")
_NEXT_TASK_FORMS = (
    re.compile(r"^\w+$"),
    re.compile(r"^\w+ \w+=(.*)$"),
    re.compile(r"^\w+\(\w+=(.*)\)$"),
)
_WITH_ITEMS = re.compile(r"\s*([\w\-]+)\s*in\s*(\[.+\]|" + _YAQL + "|" + _JINJA + ")")
_WORKBOOK_ENTRY = re.compile(r"^[\w-]+$")


# --------------------------------------------------------------------------- results


class _DefinitionColumns:
    """Column values and messages shared by workflow and action definitions."""

    spec: dict[str, Any]
    tags: tuple[str, ...]
    filename: str
    line: int

    @property
    def spec_json(self) -> str:
        return json.dumps(self.spec)

    @property
    def tags_json(self) -> str:
        return json.dumps(list(self.tags))

    @property
    def location(self) -> str:
        return f"{self.filename}:{self.line}"


@dataclass(frozen=True)
class WorkflowDefinition(_DefinitionColumns):
    """One workflow, with the values of its ``workflow_definitions_v2`` row."""

    name: str
    #: This workflow's own text (the ``definition`` column).
    definition_text: str
    #: The ``spec`` column as a Python value (see :attr:`spec_json`).
    spec: dict[str, Any] = field(hash=False)
    tags: tuple[str, ...]
    #: The file (or resource) it was read from, as shown in messages.
    filename: str
    #: Line of the workflow's key in that file.
    line: int
    #: Who provided the file (an entry point, a directory, a bundled resource).
    source: str


    @property
    def checksum(self) -> str:
        return md5_hex(self.definition_text)


@dataclass(frozen=True)
class ActionDefinition(_DefinitionColumns):
    """One ad-hoc action, with the values of its ``action_definitions_v2`` row."""

    name: str
    definition_text: str
    spec: dict[str, Any] = field(hash=False)
    tags: tuple[str, ...]
    description: str | None
    #: The ``input`` column: ``"a, b=\"x\""`` or ``None``.
    input_text: str | None
    filename: str
    line: int
    source: str




CatalogDefinition = WorkflowDefinition | ActionDefinition


@dataclass(frozen=True)
class WorkbookDefinition:
    """A workbook: its own values plus its workflows and actions (named ``book.entry``)."""

    name: str
    definition_text: str
    spec: dict[str, Any] = field(hash=False)
    tags: tuple[str, ...]
    description: str | None
    workflows: tuple[WorkflowDefinition, ...]
    actions: tuple[ActionDefinition, ...]
    filename: str
    source: str


def md5_hex(text: str) -> str:
    """The ``checksum`` column: md5 of the UTF-8 text, in hex."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def action_input_text(entries: Sequence[Any] | None) -> str | None:
    """The ``input`` column of an action from its ``input`` list (``None`` if empty)."""
    parts: list[str] = []
    for entry in entries or ():
        if isinstance(entry, dict):
            parts.extend(f"{key}={json.dumps(value)}" for key, value in entry.items())
        else:
            parts.append(str(entry))
    return ", ".join(parts) if parts else None


# --------------------------------------------------------------------------- public API


def read_definition_file(path: Path) -> str:
    """The text of a definition file as Python reads it (UTF-8, universal newlines)."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError(f"{path}:1: (document): the file is not UTF-8 text ({exc})") from None
    except OSError as exc:
        raise DefinitionError(f"{path}: cannot read the file: {exc.strerror or exc}") from None


def parse_workflows(
    text: str, filename: str, *, source: str | None = None
) -> list[WorkflowDefinition]:
    """Parse and validate a workflow file; one :class:`WorkflowDefinition` per workflow."""
    doc = load_document(text, filename)
    check = _Checker(doc)
    top = check.top_level(doc.value, "workflow")
    if "workflows" in top and "name" in top:
        check.fail(
            ("workflows",),
            "this looks like a workbook (it has 'name' and 'workflows'); "
            "a workflow file holds 'version' and one entry per workflow",
        )
    names = [key for key in top if key != "version"]
    specs: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {}
    for name in names:
        specs[name] = _workflow(check, (name,), name, top[name])
    texts = _cut_workflows(doc, names) if len(names) > 1 else {names[0]: text}
    return [
        WorkflowDefinition(
            name=name,
            definition_text=texts[name],
            spec=specs[name][0],
            tags=specs[name][1],
            filename=filename,
            line=doc.line_of((name,)),
            source=source or filename,
        )
        for name in names
    ]


def parse_actions(text: str, filename: str, *, source: str | None = None) -> list[ActionDefinition]:
    """Parse and validate an ad-hoc action file; one :class:`ActionDefinition` per action."""
    doc = load_document(text, filename)
    check = _Checker(doc)
    top = check.top_level(doc.value, "action")
    return [
        _action(check, (name,), name, top[name], text, source or filename)
        for name in top
        if name != "version"
    ]


def parse_workbook(text: str, filename: str, *, source: str | None = None) -> WorkbookDefinition:
    """Parse and validate a workbook (``version``, ``name``, ``workflows``, ``actions``)."""
    doc = load_document(text, filename)
    check = _Checker(doc)
    body = check.mapping((), doc.value, "a workbook")
    check.allowed_keys((), body, WORKBOOK_KEYS, "a workbook")
    if "version" not in body:
        check.fail((), "the workbook has no 'version'; write version: '2.0' at the top")
    check.version(("version",), body["version"])
    if "name" not in body:
        check.fail((), "the workbook has no 'name'")
    book = check.name(("name",), body["name"], "the workbook name")
    description = _optional_description(check, (), body)
    tags = _optional_tags(check, (), body)
    if "workflows" not in body and "actions" not in body:
        check.fail((), "the workbook has neither 'workflows' nor 'actions'")
    workflows: list[WorkflowDefinition] = []
    actions: list[ActionDefinition] = []
    for section in ("workflows", "actions"):
        if section not in body:
            continue
        entries = check.nonempty_mapping((section,), body[section], f"'{section}'")
        if "version" in entries:
            check.version((section, "version"), entries["version"])
        if not [key for key in entries if key != "version"]:
            check.fail((section,), f"'{section}' has no entries")
        for key, value in entries.items():
            if key == "version":
                continue
            path = (section, key)
            if not isinstance(key, str) or not _WORKBOOK_ENTRY.match(key):
                check.fail(path, "a workbook entry name is letters, digits, '_' and '-' only")
            full = f"{book}.{key}"
            if section == "workflows":
                spec, wf_tags = _workflow(check, path, full, value)
                workflows.append(
                    WorkflowDefinition(
                        name=full,
                        definition_text=text,
                        spec=spec,
                        tags=wf_tags,
                        filename=filename,
                        line=doc.line_of(path),
                        source=source or filename,
                    )
                )
            else:
                actions.append(_action(check, path, full, value, text, source or filename))
    return WorkbookDefinition(
        name=book,
        definition_text=text,
        spec=copy.deepcopy(body),
        tags=tags,
        description=description,
        workflows=tuple(workflows),
        actions=tuple(actions),
        filename=filename,
        source=source or filename,
    )


# --------------------------------------------------------------------------- checks


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})" if value else "an empty string"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    return type(value).__name__


def is_expression(value: Any) -> bool:
    """Whether *value* is a YAQL (``<% %>``) or Jinja (``{{ }}``/``{% %}``) expression."""
    return isinstance(value, str) and bool(
        _YAQL_EXPRESSION.search(value) or _JINJA_EXPRESSION.search(value)
    )


def _is_count(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, float) and value.is_integer() and value >= 0


def split_command(text: str) -> tuple[str, dict[str, Any]] | None:
    """``"std.echo output=1"`` -> ``("std.echo", {"output": 1})``; ``None`` if unreadable.

    Parameter values are taken out of their quotes, or read as JSON when they
    are not quoted (``1``, ``true``, ``[1, 2]``); expressions stay strings.
    """
    if " " not in text:
        return text, {}
    command = _COMMAND.search(text)
    if command is None:
        return None
    return command.group(), _inline_params(text)


def _inline_params(text: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, raw in _PARAM.findall(text):
        value: Any = raw.strip()
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        else:
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        params[key] = value
    return params


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


class _Checker:
    """Validation helpers that raise located :class:`DefinitionError`."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc

    def fail(self, path: KeyPath, message: str) -> NoReturn:
        raise self.doc.error(path, message)

    # -- generic shapes

    def mapping(self, path: KeyPath, value: Any, what: str) -> dict[Any, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"{what} must be a mapping, not {_describe(value)}")
        return value

    def nonempty_mapping(self, path: KeyPath, value: Any, what: str) -> dict[Any, Any]:
        result = self.mapping(path, value, what)
        if not result:
            self.fail(path, f"{what} must not be empty")
        return result

    def allowed_keys(
        self, path: KeyPath, mapping: Mapping[Any, Any], allowed: Iterable[str], what: str
    ) -> None:
        allowed_set = frozenset(allowed)
        for key in mapping:
            if key not in allowed_set:
                self.fail(
                    (*path, key),
                    f"unknown key {key!r} in {what}; allowed keys: "
                    + ", ".join(sorted(allowed_set)),
                )

    def string(self, path: KeyPath, value: Any, what: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(path, f"{what} must be a non-empty string, not {_describe(value)}")
        return value

    def name(self, path: KeyPath, value: Any, what: str) -> str:
        name = self.string(path, value, what)
        if len(name) > MAX_NAME_LENGTH:
            self.fail(path, f"{what} is longer than {MAX_NAME_LENGTH} characters")
        return name

    def string_list(self, path: KeyPath, value: Any, what: str) -> list[str]:
        if not isinstance(value, list) or not value:
            self.fail(path, f"{what} must be a non-empty list of strings, not {_describe(value)}")
        seen: set[str] = set()
        for index, item in enumerate(value):
            item_path = (*path, Index(index))
            self.string(item_path, item, f"each entry of {what}")
            if item in seen:
                self.fail(item_path, f"{item!r} appears twice in {what}")
            seen.add(item)
        return value

    def version(self, path: KeyPath, value: Any) -> None:
        ok = False
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            try:
                ok = float(value) == 2.0
            except ValueError:
                ok = False
        if not ok:
            self.fail(path, f"unsupported DSL version {value!r}; it must be '2.0'")

    def expression(self, path: KeyPath, value: Any, what: str) -> None:
        if not is_expression(value):
            self.fail(
                path,
                f"{what} must be an expression (<% ... %> or {{{{ ... }}}}), "
                f"not {_describe(value)}",
            )

    def count_or_expression(self, path: KeyPath, value: Any, what: str) -> None:
        if not (_is_count(value) or is_expression(value)):
            self.fail(
                path,
                f"{what} must be an integer >= 0 or an expression, not {_describe(value)}",
            )

    def bool_or_expression(self, path: KeyPath, value: Any, what: str) -> None:
        if not (isinstance(value, bool) or is_expression(value)):
            self.fail(path, f"{what} must be true, false or an expression, not {_describe(value)}")

    # -- DSL pieces

    def top_level(self, value: Any, kind: str) -> dict[str, Any]:
        top = self.mapping(
            (), value, f"a {kind} file (a mapping of 'version' and one entry per {kind})"
        )
        if "version" not in top:
            self.fail((), "the file has no 'version'; write version: '2.0' at the top")
        self.version(("version",), top["version"])
        names = [key for key in top if key != "version"]
        if not names:
            self.fail((), f"the file defines no {kind} (only 'version')")
        for key in names:
            self.name((key,), key, f"a {kind} name")
        return top

    def input_list(self, path: KeyPath, value: Any) -> None:
        if not isinstance(value, list) or not value:
            self.fail(
                path,
                "input must be a non-empty list of names or 'name: default' entries, "
                f"not {_describe(value)}",
            )
        seen: set[str] = set()
        for index, item in enumerate(value):
            item_path = (*path, Index(index))
            if isinstance(item, dict) and len(item) == 1:
                name = next(iter(item))
            elif isinstance(item, str):
                name = item
            else:
                self.fail(
                    item_path,
                    "each input is a name or a one-entry mapping 'name: default', "
                    f"not {_describe(item)}",
                )
            if not isinstance(name, str) or not name:
                self.fail(item_path, f"an input name must be a non-empty string, not {name!r}")
            if name in seen:
                self.fail(item_path, f"input {name!r} is declared twice")
            seen.add(name)

    def retry(self, path: KeyPath, value: Any) -> None:
        if isinstance(value, str) and value.strip():
            data: dict[Any, Any] = _inline_params(value) if " " in value else {}
        elif isinstance(value, dict):
            data = value
        else:
            self.fail(
                path,
                "retry must be a mapping (count, delay, break-on, continue-on) or a one-line "
                f"string such as 'count=3 delay=10', not {_describe(value)}",
            )
        self.allowed_keys(path, data, RETRY_KEYS, "retry")
        for required in ("count", "delay"):
            if required not in data:
                self.fail(path, f"retry needs 'count' and 'delay' (missing {required!r})")
        where = path if isinstance(value, str) else None
        for key in ("count", "delay"):
            self.count_or_expression(where or (*path, key), data[key], f"retry {key}")
        for key in ("break-on", "continue-on"):
            if key in data:
                self.expression(where or (*path, key), data[key], f"retry {key}")

    def policies(self, path: KeyPath, body: Mapping[str, Any]) -> None:
        if "retry" in body:
            self.retry((*path, "retry"), body["retry"])
        for key in _COUNT_POLICIES:
            if key in body:
                self.count_or_expression((*path, key), body[key], key)
        for key in _BOOLEAN_POLICIES:
            if key in body:
                self.bool_or_expression((*path, key), body[key], key)

    def next_task(self, path: KeyPath, value: Any) -> str:
        if not isinstance(value, str) or not any(form.match(value) for form in _NEXT_TASK_FORMS):
            self.fail(
                path,
                "a transition names a task: 'task', 'task param=value' or "
                f"'task(param=value)', not {_describe(value)}",
            )
        match = re.match(r"\w+", value)
        assert match is not None
        return match.group()

    def conditional_next(self, path: KeyPath, value: dict[Any, Any]) -> str:
        if len(value) != 1:
            self.fail(
                path, "a conditional transition is a one-entry mapping 'task: <% condition %>'"
            )
        target, condition = next(iter(value.items()))
        name = self.next_task((*path, target), target)
        self.expression((*path, target), condition, "the condition of a transition")
        return name

    def transition_list(self, path: KeyPath, value: Any) -> list[tuple[str, KeyPath]]:
        if isinstance(value, str):
            return [(self.next_task(path, value), path)]
        if isinstance(value, dict):
            return [(self.conditional_next(path, value), path)]
        if not isinstance(value, list) or not value:
            self.fail(
                path,
                "transitions are a task name, a 'task: <% condition %>' mapping or a "
                f"non-empty list of those, not {_describe(value)}",
            )
        result: list[tuple[str, KeyPath]] = []
        seen: set[str] = set()
        for index, item in enumerate(value):
            item_path = (*path, Index(index))
            if isinstance(item, dict):
                name = self.conditional_next(item_path, item)
            else:
                name = self.next_task(item_path, item)
            fingerprint = json.dumps(item, sort_keys=True)
            if fingerprint in seen:
                self.fail(item_path, "this transition appears twice")
            seen.add(fingerprint)
            result.append((name, item_path))
        return result

    def clause(self, path: KeyPath, value: Any) -> list[tuple[str, KeyPath]]:
        """An on-success/on-error/on-complete clause; returns the task names it targets."""
        if value is None:
            self.fail(path, "the clause is empty")
        if isinstance(value, dict) and value and set(value) <= CLAUSE_KEYS:
            if "publish" in value:
                publish = self.nonempty_mapping((*path, "publish"), value["publish"], "publish")
                for scope, variables in publish.items():
                    if scope in ("branch", "global", "atomic"):
                        self.nonempty_mapping((*path, "publish", scope), variables, f"{scope}")
            if "next" in value:
                return self.transition_list((*path, "next"), value["next"])
            return []
        return self.transition_list(path, value)

    def requires(self, path: KeyPath, value: Any) -> list[tuple[str, KeyPath]]:
        if isinstance(value, str) and value:
            return [(value, path)]
        names = self.string_list(path, value, "requires")
        return [(name, (*path, Index(index))) for index, name in enumerate(names)]

    def with_items(self, path: KeyPath, value: Any) -> None:
        if isinstance(value, str):
            entries = [(value, path)]
        else:
            items = self.string_list(path, value, "with-items")
            entries = [(item, (*path, Index(index))) for index, item in enumerate(items)]
        for entry, entry_path in entries:
            if not entry:
                self.fail(entry_path, "with-items must not be empty")
            match = _WITH_ITEMS.match(entry)
            if match is None:
                self.fail(
                    entry_path,
                    "with-items is 'name in <% $.list %>' or 'name in [1, 2]', "
                    f"not {_describe(entry)}",
                )
            array = match.group(2)
            if array.startswith("["):
                try:
                    json.loads(array)
                except ValueError as exc:
                    self.fail(entry_path, f"the list after 'in' is not valid JSON: {exc}")


def _optional_description(check: _Checker, path: KeyPath, body: Mapping[str, Any]) -> str | None:
    if "description" not in body:
        return None
    return check.string((*path, "description"), body["description"], "description")


def _optional_tags(check: _Checker, path: KeyPath, body: Mapping[str, Any]) -> tuple[str, ...]:
    if "tags" not in body:
        return ()
    return tuple(check.string_list((*path, "tags"), body["tags"], "tags"))


def _check_injected(check: _Checker, path: KeyPath, body: Mapping[str, Any], name: str) -> None:
    """``name``/``version`` written inside an entry must agree with what Mistral injects."""
    if "name" in body and body["name"] != name:
        check.fail((*path, "name"), f"'name' is {body['name']!r} but the entry is named {name!r}")
    if "version" in body:
        check.version((*path, "version"), body["version"])


# --------------------------------------------------------------------------- workflows


def _workflow(
    check: _Checker, path: KeyPath, name: str, value: Any
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
    _check_injected(check, path, body, name)
    wf_type = body.get("type", DEFAULT_WORKFLOW_TYPE)
    if wf_type not in WORKFLOW_TYPES:
        check.fail((*path, "type"), f"workflow type must be 'direct' or 'reverse', not {wf_type!r}")
    _optional_description(check, path, body)
    tags = _optional_tags(check, path, body)
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
    check: _Checker, path: KeyPath, name: Any, value: Any, wf_type: str
) -> tuple[dict[str, list[tuple[str, KeyPath]]], list[tuple[str, KeyPath]]]:
    if not isinstance(name, str) or not _WORD.match(name):
        check.fail(path, "a task name is letters, digits and '_' only")
    if len(name) > MAX_TASK_NAME_LENGTH:
        check.fail(path, f"a task name is at most {MAX_TASK_NAME_LENGTH} characters")
    body = check.nonempty_mapping(path, value, f"task {name!r}")
    allowed = DIRECT_TASK_KEYS if wf_type == "direct" else REVERSE_TASK_KEYS
    check.allowed_keys(path, body, allowed, f"a task of a {wf_type} workflow")
    _check_injected(check, path, body, name)
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
    _optional_description(check, path, body)
    _optional_tags(check, path, body)

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
                    f"join must be 'all', 'one' or an integer >= 0, not {_describe(join)}",
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
    check: _Checker,
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


def _action(
    check: _Checker, path: KeyPath, name: str, value: Any, text: str, source: str
) -> ActionDefinition:
    check.name(path, name, "an action name")
    body = check.mapping(path, value, f"action {name!r}")
    if "tasks" in body and "base" not in body:
        check.fail(
            path, "this looks like a workflow (it has 'tasks'); an action file holds actions"
        )
    check.allowed_keys(path, body, ACTION_KEYS, "an ad-hoc action")
    _check_injected(check, path, body, name)
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
    description = _optional_description(check, path, body)
    tags = _optional_tags(check, path, body)

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


# --------------------------------------------------------------------------- cutting


def _cut_workflows(doc: Document, names: Sequence[str]) -> dict[str, str]:
    """Each workflow's own text out of a file holding several (rule in the module doc)."""
    root = doc.root
    assert isinstance(root, MappingNode)
    if root.flow_style:
        raise doc.error(
            (),
            "a file with several workflows must be written in block style (not '{...}') "
            "so that each workflow's text can be cut out; or use one file per workflow",
        )
    lines = doc.text.splitlines(keepends=True)
    key_lines = [key.start_mark.line for key, _ in root.value]
    if any(b <= a for a, b in itertools.pairwise(key_lines)):
        raise doc.error((), "top-level keys must each start on a line of their own, in order")
    starts: list[int] = []
    previous = -1
    for key_line in key_lines:
        start = key_line
        while start - 1 > previous and lines[start - 1].startswith("#"):
            start -= 1
        starts.append(start)
        previous = key_line
    ends = [*starts[1:], len(lines)]
    header = "".join(lines[: starts[0]])
    keys = list(doc.value)
    if len(keys) != len(starts):
        raise doc.error((), "a file with several workflows cannot use top-level merge keys ('<<')")
    blocks = {key: "".join(lines[s:e]) for key, s, e in zip(keys, starts, ends, strict=True)}
    result: dict[str, str] = {}
    for name in names:
        text = header + "".join(
            block for key, block in blocks.items() if key == name or key not in names
        )
        _verify_cut(doc, name, text)
        result[name] = text
    return result


def _verify_cut(doc: Document, name: str, text: str) -> None:
    problem = None
    try:
        cut = load_document(text, doc.filename)
    except DefinitionError as exc:
        problem = str(exc)
    else:
        expected = {
            key: value for key, value in doc.value.items() if key == name or key == "version"
        }
        if cut.value != expected:
            problem = "the cut text does not give the same workflow"
    if problem is not None:
        raise doc.error(
            (name,),
            "cannot cut this workflow's own text out of the file (does it use a YAML anchor "
            f"defined in another workflow?): {problem}; put it in a file of its own",
        )
