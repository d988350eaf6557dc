"""Workbooks (``version``, ``name``, ``workflows``, ``actions``), parsed for the tests only.

``populate`` never reads workbooks, so this parser lives with the tests that
use it (tests/unit/test_dsl.py).  It owns the workbook's own keys and values
and names each workflow and action ``book.entry``; the workflows and actions
inside are checked by the package's own validator
(:mod:`mistral_db_manage.catalog.validate`).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from mistral_db_manage.catalog.checks import Checker, optional_description, optional_tags
from mistral_db_manage.catalog.rows import ActionDefinition, WorkflowDefinition
from mistral_db_manage.catalog.validate import validate_action, validate_workflow
from mistral_db_manage.catalog.yamlmarks import load_document

WORKBOOK_KEYS = frozenset({"version", "name", "description", "tags", "workflows", "actions"})
_WORKBOOK_ENTRY = re.compile(r"^[\w-]+$")


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


def parse_workbook(text: str, filename: str, *, source: str | None = None) -> WorkbookDefinition:
    """Parse and validate a workbook (``version``, ``name``, ``workflows``, ``actions``)."""
    doc = load_document(text, filename)
    check = Checker(doc)
    body = check.mapping((), doc.value, "a workbook")
    check.allowed_keys((), body, WORKBOOK_KEYS, "a workbook")
    if "version" not in body:
        check.fail((), "the workbook has no 'version'; write version: '2.0' at the top")
    check.version(("version",), body["version"])
    if "name" not in body:
        check.fail((), "the workbook has no 'name'")
    book = check.name(("name",), body["name"], "the workbook name")
    description = optional_description(check, (), body)
    tags = optional_tags(check, (), body)
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
                spec, wf_tags = validate_workflow(check, path, full, value)
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
                actions.append(validate_action(check, path, full, value, text, source or filename))
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
