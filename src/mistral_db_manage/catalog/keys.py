"""The vocabulary of Mistral DSL v2: key tables, limits and textual forms.

This module owns the constants that definitions are checked against: the DSL
version, the workflow types and engine commands, the name length limits, the
allowed keys at every level (workflow, task of a direct or reverse workflow,
``task-defaults``, ad-hoc action, ``retry``, transition clause), the policy
keys, and the regular expressions that recognise YAQL and Jinja expressions,
``command param=value`` lines, transitions, ``with-items`` and task names.
It holds data only and imports nothing from the package.
"""

from __future__ import annotations

import re

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
RETRY_KEYS = frozenset({"count", "delay", "break-on", "continue-on"})
CLAUSE_KEYS = frozenset({"publish", "next"})

COUNT_POLICIES = ("wait-before", "wait-after", "timeout", "concurrency")
BOOLEAN_POLICIES = ("pause-before", "fail-on", "keep-result", "safe-rerun")

# Expressions, recognised by their delimiters (as upstream's schema does).
_YAQL = r"<%.*?%>"
_JINJA = r"{{.*}}|{%.*%}"
YAQL_EXPRESSION = re.compile(r"^<%.*?%>\s*$")
JINJA_EXPRESSION = re.compile(r"^{{.*}}|{%.*%}\s*$")
# "command param=value ...": the command, then the parameters.
COMMAND = re.compile(r"^([\w.]+[^=(\s\"]*|" + _YAQL + "|" + _JINJA + ")")
PARAM = re.compile(
    r"([-_\w]+)=(\"[^\"]*\"\s*|'[^']*'\s*|"
    + _YAQL
    + "|"
    + _JINJA
    + r"|\[.*\]\s*|true|false|null|\d+)"
)
WORD = re.compile(r"^\w+$")
NEXT_TASK_FORMS = (
    re.compile(r"^\w+$"),
    re.compile(r"^\w+ \w+=(.*)$"),
    re.compile(r"^\w+\(\w+=(.*)\)$"),
)
WITH_ITEMS = re.compile(r"\s*([\w\-]+)\s*in\s*(\[.+\]|" + _YAQL + "|" + _JINJA + ")")
