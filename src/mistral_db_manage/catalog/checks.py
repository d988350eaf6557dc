"""Located checks of single DSL values, and the reading of expressions and command lines.

This module owns :class:`Checker`, whose methods check the shape of one value
of a loaded document (a mapping, a name, a list of strings, the DSL version,
an ``input`` list, ``retry`` and the other policies, transitions and their
clauses, ``requires``, ``with-items``) and raise a
:class:`~mistral_db_manage.errors.DefinitionError` located at that value's
line and key path.  It also owns what those checks and the validator share:
:func:`describe` (a value as messages show it), :func:`is_expression`,
:func:`split_command` (``command param=value ...`` lines) and the checks of
the keys any entry may carry (``description``, ``tags``, ``name``,
``version``).  Rules that span a whole workflow or action are in
:mod:`.validate`.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from mistral_db_manage.catalog.keys import (
    BOOLEAN_POLICIES,
    CLAUSE_KEYS,
    COMMAND,
    COUNT_POLICIES,
    JINJA_EXPRESSION,
    MAX_NAME_LENGTH,
    NEXT_TASK_FORMS,
    PARAM,
    RETRY_KEYS,
    WITH_ITEMS,
    YAQL_EXPRESSION,
)
from mistral_db_manage.catalog.yamlmarks import Document, Index, KeyPath


def describe(value: Any) -> str:
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
        YAQL_EXPRESSION.search(value) or JINJA_EXPRESSION.search(value)
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
    command = COMMAND.search(text)
    if command is None:
        return None
    return command.group(), _inline_params(text)


def _inline_params(text: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, raw in PARAM.findall(text):
        value: Any = raw.strip()
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        else:
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        params[key] = value
    return params


class Checker:
    """Validation helpers that raise located :class:`DefinitionError`."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc

    def fail(self, path: KeyPath, message: str) -> NoReturn:
        raise self.doc.error(path, message)

    # -- generic shapes

    def mapping(self, path: KeyPath, value: Any, what: str) -> dict[Any, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"{what} must be a mapping, not {describe(value)}")
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
            self.fail(path, f"{what} must be a non-empty string, not {describe(value)}")
        return value

    def name(self, path: KeyPath, value: Any, what: str) -> str:
        name = self.string(path, value, what)
        if len(name) > MAX_NAME_LENGTH:
            self.fail(path, f"{what} is longer than {MAX_NAME_LENGTH} characters")
        return name

    def string_list(self, path: KeyPath, value: Any, what: str) -> list[str]:
        if not isinstance(value, list) or not value:
            self.fail(path, f"{what} must be a non-empty list of strings, not {describe(value)}")
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
                f"{what} must be an expression (<% ... %> or {{{{ ... }}}}), not {describe(value)}",
            )

    def count_or_expression(self, path: KeyPath, value: Any, what: str) -> None:
        if not (_is_count(value) or is_expression(value)):
            self.fail(
                path,
                f"{what} must be an integer >= 0 or an expression, not {describe(value)}",
            )

    def bool_or_expression(self, path: KeyPath, value: Any, what: str) -> None:
        if not (isinstance(value, bool) or is_expression(value)):
            self.fail(path, f"{what} must be true, false or an expression, not {describe(value)}")

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
                f"not {describe(value)}",
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
                    f"not {describe(item)}",
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
                f"string such as 'count=3 delay=10', not {describe(value)}",
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
        for key in COUNT_POLICIES:
            if key in body:
                self.count_or_expression((*path, key), body[key], key)
        for key in BOOLEAN_POLICIES:
            if key in body:
                self.bool_or_expression((*path, key), body[key], key)

    def next_task(self, path: KeyPath, value: Any) -> str:
        if not isinstance(value, str) or not any(form.match(value) for form in NEXT_TASK_FORMS):
            self.fail(
                path,
                "a transition names a task: 'task', 'task param=value' or "
                f"'task(param=value)', not {describe(value)}",
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
                f"non-empty list of those, not {describe(value)}",
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
            match = WITH_ITEMS.match(entry)
            if match is None:
                self.fail(
                    entry_path,
                    "with-items is 'name in <% $.list %>' or 'name in [1, 2]', "
                    f"not {describe(entry)}",
                )
            array = match.group(2)
            if array.startswith("["):
                try:
                    json.loads(array)
                except ValueError as exc:
                    self.fail(entry_path, f"the list after 'in' is not valid JSON: {exc}")


def optional_description(check: Checker, path: KeyPath, body: Mapping[str, Any]) -> str | None:
    if "description" not in body:
        return None
    return check.string((*path, "description"), body["description"], "description")


def optional_tags(check: Checker, path: KeyPath, body: Mapping[str, Any]) -> tuple[str, ...]:
    if "tags" not in body:
        return ()
    return tuple(check.string_list((*path, "tags"), body["tags"], "tags"))


def check_injected(check: Checker, path: KeyPath, body: Mapping[str, Any], name: str) -> None:
    """``name``/``version`` written inside an entry must agree with what Mistral injects."""
    if "name" in body and body["name"] != name:
        check.fail((*path, "name"), f"'name' is {body['name']!r} but the entry is named {name!r}")
    if "version" in body:
        check.version((*path, "version"), body["version"])
