"""Mistral DSL v2 entry points: read and parse workflow files and ad-hoc action files.

This module owns the public way in: :func:`read_definition_file` reads a
file's text, :func:`parse_workflows` turns a workflow file (one or several
workflows) into :class:`~.rows.WorkflowDefinition` values and
:func:`parse_actions` turns an ad-hoc action file into
:class:`~.rows.ActionDefinition` values.  It ties the other modules together:
:mod:`.yamlmarks` loads the YAML, :mod:`.validate` (on :mod:`.checks` and
:mod:`.keys`) checks each entry and computes its ``spec``, :mod:`.cutting`
gives each workflow of a multi-workflow file its own text, and :mod:`.rows`
holds the results.

Errors
    Every problem is a :class:`~mistral_db_manage.errors.DefinitionError` whose
    message reads ``FILE:LINE: PATH: what is wrong``.  ``PATH`` is the dotted
    path of the offending key (``create_vm.tasks.boot.on-success[1]``;
    ``(document)`` for the file as a whole).  Lines and paths come from
    :mod:`.yamlmarks`, which loads YAML keeping the line of every key.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from mistral_db_manage.catalog.checks import Checker
from mistral_db_manage.catalog.cutting import cut_workflows
from mistral_db_manage.catalog.rows import ActionDefinition, WorkflowDefinition
from mistral_db_manage.catalog.validate import validate_action, validate_workflow
from mistral_db_manage.catalog.yamlmarks import load_document, too_large
from mistral_db_manage.errors import DefinitionError
from mistral_db_manage.limits import DefinitionLimits


def read_definition_file(path: Path, limits: DefinitionLimits | None = None) -> str:
    """The text of a definition file as Python reads it (UTF-8, universal newlines).

    Refuses what is not a regular file (a FIFO would block the read) and a
    file over the size limit, before reading more than the limit.
    """
    limits = limits or DefinitionLimits()
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise DefinitionError(f"{path}: not a regular file; give a YAML file")
            if info.st_size > limits.max_bytes:
                raise too_large(str(path), info.st_size, limits)
            data = handle.read(limits.max_bytes + 1)
    except OSError as exc:
        raise DefinitionError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    if len(data) > limits.max_bytes:  # it grew while being read
        raise too_large(str(path), len(data), limits)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError(f"{path}:1: (document): the file is not UTF-8 text ({exc})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_workflows(
    text: str, filename: str, *, source: str | None = None, limits: DefinitionLimits | None = None
) -> list[WorkflowDefinition]:
    """Parse and validate a workflow file; one :class:`WorkflowDefinition` per workflow."""
    doc = load_document(text, filename, limits)
    check = Checker(doc)
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
        specs[name] = validate_workflow(check, (name,), name, top[name])
    texts = cut_workflows(doc, names) if len(names) > 1 else {names[0]: text}
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


def parse_actions(
    text: str, filename: str, *, source: str | None = None, limits: DefinitionLimits | None = None
) -> list[ActionDefinition]:
    """Parse and validate an ad-hoc action file; one :class:`ActionDefinition` per action."""
    doc = load_document(text, filename, limits)
    check = Checker(doc)
    top = check.top_level(doc.value, "action")
    return [
        validate_action(check, (name,), name, top[name], text, source or filename)
        for name in top
        if name != "version"
    ]
