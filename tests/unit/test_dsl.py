"""Parsing and validation of Mistral DSL v2 (catalog.parse, .validate, .checks, .cutting).

Every invalid case checks the whole location prefix of the message,
``FILE:LINE: PATH: ``, and a fragment of the explanation.  In the YAML of a
case, the line the error must point at ends with the marker comment ``#<``;
a case without a marker expects line 1.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import pytest

from mistral_db_manage.catalog.checks import is_expression, split_command
from mistral_db_manage.catalog.parse import parse_actions, parse_workflows, read_definition_file
from mistral_db_manage.catalog.rows import action_input_text
from mistral_db_manage.catalog.yamlmarks import format_path
from mistral_db_manage.errors import DefinitionError
from workbook import parse_workbook

FILENAME = "site/broken.yaml"


def _expected_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.rstrip().endswith("#<"):
            return number
    return 1


def _assert_located(exc: DefinitionError, text: str, path: str, fragment: str) -> None:
    message = str(exc)
    prefix = f"{FILENAME}:{_expected_line(text)}: {path}: "
    assert message.startswith(prefix), f"expected prefix {prefix!r}, got {message!r}"
    assert fragment in message, f"expected {fragment!r} in {message!r}"


def _y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# --------------------------------------------------------------------------- invalid workflows

WORKFLOW_ERRORS: list[tuple[str, str, str, str]] = [
    (
        "missing-version",
        """
        wf:
          tasks:
            t1:
              action: std.noop
        """,
        "(document)",
        "no 'version'",
    ),
    (
        "wrong-version",
        """
        version: '1.0' #<
        wf:
          tasks:
            t1:
              action: std.noop
        """,
        "version",
        "unsupported DSL version '1.0'",
    ),
    ("not-a-mapping", "- version: '2.0'\n", "(document)", "must be a mapping"),
    ("only-version", "version: '2.0'\n", "(document)", "defines no workflow"),
    ("empty-file", "# nothing here\n", "(document)", "no YAML document"),
    (
        "workflow-not-mapping",
        """
        version: '2.0'
        wf: 5 #<
        """,
        "wf",
        "must be a mapping, not an integer (5)",
    ),
    (
        "unknown-workflow-key",
        """
        version: '2.0'
        wf:
          taks: #<
            t1:
              action: std.noop
        """,
        "wf.taks",
        "unknown key 'taks' in a workflow; allowed keys: description, input, name, output,",
    ),
    (
        "bad-type",
        """
        version: '2.0'
        wf:
          type: sequential #<
          tasks:
            t1:
              action: std.noop
        """,
        "wf.type",
        "'direct' or 'reverse', not 'sequential'",
    ),
    (
        "no-tasks",
        """
        version: '2.0'
        wf: #<
          description: nothing to do
        """,
        "wf",
        "has no 'tasks'",
    ),
    (
        "empty-tasks",
        """
        version: '2.0'
        wf:
          tasks: {} #<
        """,
        "wf.tasks",
        "tasks must not be empty",
    ),
    (
        "bad-task-name",
        """
        version: '2.0'
        wf:
          tasks:
            bad-name: #<
              action: std.noop
        """,
        "wf.tasks.bad-name",
        "letters, digits and '_' only",
    ),
    (
        "action-and-workflow",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              workflow: other #<
        """,
        "wf.tasks.t1.workflow",
        "at most one of 'action' and 'workflow'",
    ),
    (
        "unknown-task-key",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              on-sucess: t1 #<
        """,
        "wf.tasks.t1.on-sucess",
        "unknown key 'on-sucess' in a task of a direct workflow; allowed keys: action,",
    ),
    (
        "transition-to-missing-task",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              on-success:
                - t2
                - t9 #<
            t2:
              action: std.noop
        """,
        "wf.tasks.t1.on-success[1]",
        "transition to 't9', which is neither a task of workflow 'wf' (t1, t2) nor an engine",
    ),
    (
        "transition-not-a-name",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              on-error: 42 #<
        """,
        "wf.tasks.t1.on-error",
        "not an integer (42)",
    ),
    (
        "transition-bad-form",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              on-complete: t2 and more #<
            t2:
              action: std.noop
        """,
        "wf.tasks.t1.on-complete",
        "'task param=value'",
    ),
    (
        "condition-not-expression",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              on-success:
                - t2: $.ok #<
            t2:
              action: std.noop
        """,
        "wf.tasks.t1.on-success[0].t2",
        "the condition of a transition must be an expression",
    ),
    (
        "duplicate-transition",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              on-success:
                - t2
                - t2 #<
            t2:
              action: std.noop
        """,
        "wf.tasks.t1.on-success[1]",
        "appears twice",
    ),
    (
        "empty-clause",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              on-success: #<
        """,
        "wf.tasks.t1.on-success",
        "the clause is empty",
    ),
    (
        "advanced-clause-bad-next",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              on-success:
                publish:
                  branch:
                    x: 1
                next:
                  - nowhere #<
        """,
        "wf.tasks.t1.on-success.next[0]",
        "transition to 'nowhere'",
    ),
    (
        "no-start-task",
        """
        version: '2.0'
        wf:
          tasks: #<
            t1:
              action: std.noop
              on-success: t2
            t2:
              action: std.noop
              on-success: t1
        """,
        "wf.tasks",
        "needs a start task",
    ),
    (
        "join-all-without-inbound",
        """
        version: '2.0'
        wf:
          tasks:
            t0:
              action: std.noop
            t1:
              join: all #<
              action: std.noop
        """,
        "wf.tasks.t1.join",
        "needs 1 inbound transition(s) but 0 task(s) lead to 't1'",
    ),
    (
        "join-count-too-high",
        """
        version: '2.0'
        wf:
          tasks:
            t0:
              action: std.noop
              on-success: t1
            t1:
              join: 3 #<
              action: std.noop
        """,
        "wf.tasks.t1.join",
        "join 3 needs 3 inbound",
    ),
    (
        "join-bad-value",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              join: some #<
              action: std.noop
        """,
        "wf.tasks.t1.join",
        "'all', 'one' or an integer >= 0",
    ),
    (
        "retry-missing-delay",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              retry: #<
                count: 3
        """,
        "wf.tasks.t1.retry",
        "retry needs 'count' and 'delay' (missing 'delay')",
    ),
    (
        "retry-count-not-int",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              retry:
                count: many #<
                delay: 10
        """,
        "wf.tasks.t1.retry.count",
        "retry count must be an integer >= 0 or an expression",
    ),
    (
        "retry-unknown-key",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              retry:
                count: 3
                delay: 10
                attempts: 2 #<
        """,
        "wf.tasks.t1.retry.attempts",
        "allowed keys: break-on, continue-on, count, delay",
    ),
    (
        "retry-break-on-not-expression",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              retry:
                count: 3
                delay: 10
                break-on: true #<
        """,
        "wf.tasks.t1.retry.break-on",
        "retry break-on must be an expression",
    ),
    (
        "retry-one-line-incomplete",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              retry: count=3 #<
        """,
        "wf.tasks.t1.retry",
        "missing 'count'",
    ),
    (
        "retry-not-mapping",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              retry: [3, 10] #<
        """,
        "wf.tasks.t1.retry",
        "one-line string such as 'count=3 delay=10'",
    ),
    (
        "wait-before-negative",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              wait-before: -1 #<
        """,
        "wf.tasks.t1.wait-before",
        "wait-before must be an integer >= 0 or an expression, not an integer (-1)",
    ),
    (
        "wait-after-text",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              wait-after: ten seconds #<
        """,
        "wf.tasks.t1.wait-after",
        "not a string ('ten seconds')",
    ),
    (
        "timeout-boolean",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              timeout: true #<
        """,
        "wf.tasks.t1.timeout",
        "not a boolean (true)",
    ),
    (
        "pause-before-text",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              pause-before: yes please #<
        """,
        "wf.tasks.t1.pause-before",
        "must be true, false or an expression",
    ),
    (
        "input-item-list",
        """
        version: '2.0'
        wf:
          input:
            - a
            - [b] #<
          tasks:
            t1:
              action: std.noop
        """,
        "wf.input[1]",
        "a name or a one-entry mapping 'name: default', not a list",
    ),
    (
        "input-duplicate",
        """
        version: '2.0'
        wf:
          input:
            - a
            - a: 1 #<
          tasks:
            t1:
              action: std.noop
        """,
        "wf.input[1]",
        "input 'a' is declared twice",
    ),
    (
        "input-two-key-mapping",
        """
        version: '2.0'
        wf:
          input:
            - a: 1 #<
              b: 2
          tasks:
            t1:
              action: std.noop
        """,
        "wf.input[0]",
        "one-entry mapping",
    ),
    (
        "input-not-list",
        """
        version: '2.0'
        wf:
          input: a, b #<
          tasks:
            t1:
              action: std.noop
        """,
        "wf.input",
        "non-empty list",
    ),
    (
        "task-input-empty",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.echo
              input: {} #<
        """,
        "wf.tasks.t1.input",
        "task input must not be empty",
    ),
    (
        "inline-params-with-expression-input",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.echo output=1
              input: <% $.all %> #<
        """,
        "wf.tasks.t1.input",
        "cannot also carry parameters",
    ),
    (
        "unreadable-action",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: =x y #<
        """,
        "wf.tasks.t1.action",
        "cannot read the action name",
    ),
    (
        "with-items-bad-form",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.echo
              with-items: every item #<
        """,
        "wf.tasks.t1.with-items",
        "'name in <% $.list %>'",
    ),
    (
        "with-items-bad-json",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.echo
              with-items:
                - x in [1,, 2] #<
        """,
        "wf.tasks.t1.with-items[0]",
        "the list after 'in' is not valid JSON",
    ),
    (
        "publish-empty",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.echo
              publish: {} #<
        """,
        "wf.tasks.t1.publish",
        "publish must not be empty",
    ),
    (
        "reverse-requires-missing",
        """
        version: '2.0'
        wf:
          type: reverse
          tasks:
            a:
              action: std.noop
            b:
              action: std.noop
              requires:
                - a
                - c #<
        """,
        "wf.tasks.b.requires[1]",
        "task 'b' requires 'c', which is not a task of workflow 'wf'",
    ),
    (
        "reverse-task-with-transition",
        """
        version: '2.0'
        wf:
          type: reverse
          tasks:
            a:
              action: std.noop
              on-success: a #<
        """,
        "wf.tasks.a.on-success",
        "unknown key 'on-success' in a task of a reverse workflow",
    ),
    (
        "direct-task-with-requires",
        """
        version: '2.0'
        wf:
          tasks:
            a:
              action: std.noop
              requires: [b] #<
        """,
        "wf.tasks.a.requires",
        "unknown key 'requires' in a task of a direct workflow",
    ),
    (
        "task-defaults-unknown-key",
        """
        version: '2.0'
        wf:
          task-defaults:
            join: all #<
          tasks:
            a:
              action: std.noop
        """,
        "wf.task-defaults.join",
        "unknown key 'join' in task-defaults",
    ),
    (
        "task-defaults-missing-target",
        """
        version: '2.0'
        wf:
          task-defaults:
            on-error: cleanup #<
          tasks:
            a:
              action: std.noop
        """,
        "wf.task-defaults.on-error",
        "transition to 'cleanup'",
    ),
    (
        "duplicate-key",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
              action: std.echo #<
        """,
        "wf.tasks.t1.action",
        "duplicate key (first at line 5)",
    ),
    (
        "yaml-bad-indentation",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.noop
             on-success: t1 #<
        """,
        "wf.tasks.t1.on-success",
        "invalid YAML",
    ),
    (
        "yaml-unclosed-quote",
        """
        version: '2.0'
        wf:
          description: "never closed #<
          tasks:
            t1:
              action: std.noop
        """,
        "wf.description",
        "invalid YAML",
    ),
    (
        "date-value",
        """
        version: '2.0'
        wf:
          description: 2020-01-01 #<
          tasks:
            t1:
              action: std.noop
        """,
        "wf.description",
        "is a date or time, which is not allowed; quote it",
    ),
    (
        "custom-tag",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: !include other.yaml #<
        """,
        "wf.tasks.t1.action",
        "tagged '!include'",
    ),
    (
        "not-finite",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.echo
              input:
                x: .nan #<
        """,
        "wf.tasks.t1.input.x",
        "is not finite",
    ),
    (
        "recursive-alias",
        """
        version: '2.0'
        wf:
          vars:
            loop: &a [*a] #<
          tasks:
            t1:
              action: std.noop
        """,
        "wf.vars.loop[0]",
        "alias refers to a node that contains it",
    ),
    (
        "uuid-name",
        """
        version: '2.0'
        0b7c3e4e-5d8e-4b9c-9f0a-3c2d1e0f9a8b: #<
          tasks:
            t1:
              action: std.noop
        """,
        "0b7c3e4e-5d8e-4b9c-9f0a-3c2d1e0f9a8b",
        "must not look like a UUID",
    ),
    (
        "name-mismatch",
        """
        version: '2.0'
        wf:
          name: other #<
          tasks:
            t1:
              action: std.noop
        """,
        "wf.name",
        "'name' is 'other' but the entry is named 'wf'",
    ),
    (
        "task-type-mismatch",
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              type: reverse #<
              action: std.noop
        """,
        "wf.tasks.t1.type",
        "but the workflow is 'direct'",
    ),
    (
        "duplicate-tag",
        """
        version: '2.0'
        wf:
          tags:
            - ops
            - ops #<
          tasks:
            t1:
              action: std.noop
        """,
        "wf.tags[1]",
        "'ops' appears twice in tags",
    ),
    (
        "empty-description",
        """
        version: '2.0'
        wf:
          description: '' #<
          tasks:
            t1:
              action: std.noop
        """,
        "wf.description",
        "non-empty string, not an empty string",
    ),
    (
        "output-empty",
        """
        version: '2.0'
        wf:
          output: {} #<
          tasks:
            t1:
              action: std.noop
        """,
        "wf.output",
        "output must not be empty",
    ),
    (
        "workbook-in-workflow-file",
        """
        version: '2.0'
        name: book
        workflows: #<
          wf:
            tasks:
              t1:
                action: std.noop
        """,
        "workflows",
        "this looks like a workbook",
    ),
    (
        "action-in-workflow-file",
        """
        version: '2.0'
        my.action: #<
          base: std.echo
        """,
        "my.action",
        "looks like an ad-hoc action",
    ),
    (
        "anchor-across-workflows",
        """
        version: '2.0'
        wf1:
          tasks:
            t1: &shared
              action: std.noop
        wf2: #<
          tasks:
            t1: *shared
        """,
        "wf2",
        "cannot cut this workflow's own text out of the file",
    ),
    (
        "flow-style-several",
        """
        {version: '2.0', a: {tasks: {t: {action: std.noop}}}, b: {tasks: {t: {action: x}}}}
        """,
        "(document)",
        "block style",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        pytest.param(_y(text), path, fragment, id=case)
        for case, text, path, fragment in WORKFLOW_ERRORS
    ],
)
def test_invalid_workflow_is_located(text: str, path: str, fragment: str) -> None:
    with pytest.raises(DefinitionError) as info:
        parse_workflows(text, FILENAME)
    _assert_located(info.value, text, path, fragment)


ACTION_ERRORS: list[tuple[str, str, str, str]] = [
    (
        "no-base",
        """
        version: '2.0'
        my.action: #<
          input: [a]
        """,
        "my.action",
        "has no 'base'",
    ),
    (
        "unknown-key",
        """
        version: '2.0'
        my.action:
          base: std.echo
          bsae-input: {} #<
        """,
        "my.action.bsae-input",
        "allowed keys: base, base-input, description, input, name, output, tags, version",
    ),
    (
        "base-input-not-mapping",
        """
        version: '2.0'
        my.action:
          base: std.echo
          base-input: [1, 2] #<
        """,
        "my.action.base-input",
        "base-input must be a mapping, not a list",
    ),
    (
        "input-item",
        """
        version: '2.0'
        my.action:
          base: std.echo
          input:
            - 5 #<
        """,
        "my.action.input[0]",
        "not an integer (5)",
    ),
    (
        "workflow-in-action-file",
        """
        version: '2.0'
        wf: #<
          tasks:
            t1:
              action: std.noop
        """,
        "wf",
        "looks like a workflow",
    ),
    (
        "version",
        """
        version: 3 #<
        my.action:
          base: std.echo
        """,
        "version",
        "it must be '2.0'",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        pytest.param(_y(text), path, fragment, id=case)
        for case, text, path, fragment in ACTION_ERRORS
    ],
)
def test_invalid_action_is_located(text: str, path: str, fragment: str) -> None:
    with pytest.raises(DefinitionError) as info:
        parse_actions(text, FILENAME)
    _assert_located(info.value, text, path, fragment)


WORKBOOK_ERRORS: list[tuple[str, str, str, str]] = [
    (
        "no-name",
        """
        version: '2.0'
        workflows:
          wf:
            tasks:
              t1:
                action: std.noop
        """,
        "(document)",
        "the workbook has no 'name'",
    ),
    (
        "unknown-section",
        """
        version: '2.0'
        name: book
        triggers: {} #<
        """,
        "triggers",
        "allowed keys: actions, description, name, tags, version, workflows",
    ),
    (
        "bad-workflow",
        """
        version: '2.0'
        name: book
        workflows:
          wf:
            tasks:
              t1:
                action: std.noop
                on-success: t2 #<
        """,
        "workflows.wf.tasks.t1.on-success",
        "transition to 't2'",
    ),
    (
        "dotted-entry",
        """
        version: '2.0'
        name: book
        actions:
          my.action: #<
            base: std.echo
        """,
        "actions.my.action",
        "letters, digits, '_' and '-' only",
    ),
    (
        "empty-sections",
        """
        version: '2.0'
        name: book
        """,
        "(document)",
        "neither 'workflows' nor 'actions'",
    ),
    (
        "section-version",
        """
        version: '2.0'
        name: book
        workflows:
          version: '1.0' #<
          wf:
            tasks:
              t1:
                action: std.noop
        """,
        "workflows.version",
        "unsupported DSL version",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        pytest.param(_y(text), path, fragment, id=case)
        for case, text, path, fragment in WORKBOOK_ERRORS
    ],
)
def test_invalid_workbook_is_located(text: str, path: str, fragment: str) -> None:
    with pytest.raises(DefinitionError) as info:
        parse_workbook(text, FILENAME)
    _assert_located(info.value, text, path, fragment)


def test_error_case_files_are_located(tmp_path: Path) -> None:
    """The same location rules through a real file, read as populate reads it."""
    path = tmp_path / "bad.yaml"
    path.write_text("version: '2.0'\nwf:\n  tasks:\n    t1:\n      acton: std.noop\n")
    with pytest.raises(DefinitionError, match=rf"^{path}:5: wf\.tasks\.t1\.acton: unknown key"):
        parse_workflows(read_definition_file(path), str(path))


def test_non_utf8_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("version: '2.0'\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(
        DefinitionError, match=r"latin1\.yaml:1: \(document\): the file is not UTF-8"
    ):
        read_definition_file(path)


# --------------------------------------------------------------------------- valid definitions

RICH_WORKFLOW = _y(
    """
    ---
    version: '2.0'

    rich:
      type: direct
      description: Uses most of the language.
      tags: [ops, nightly]
      input:
        - host
        - retries: 3
        - opts: null
      vars:
        base: /tmp
      output:
        result: <% $.result %>
      output-on-error:
        error: <% task().result %>
      task-defaults:
        retry:
          count: 2
          delay: 1
        on-error: alert
      tasks:
        prepare:
          action: std.echo output=<% $.host %>
          publish:
            result: <% task().result %>
          on-success:
            - run_each: <% $.result != null %>
            - fail(msg="no result"): <% $.result = null %>
        run_each:
          workflow: sub_wf
          with-items: item in <% $.items %>
          concurrency: 2
          wait-before: <% $.delay %>
          wait-after: 1
          timeout: 60
          pause-before: false
          keep-result: true
          safe-rerun: <% true %>
          on-complete:
            publish:
              branch:
                done: true
            next: finish
        finish:
          join: all
          action: std.noop
          retry: count=5 delay=<% $.backoff %>
          on-success: succeed
        alert:
          action: std.echo
          input:
            text: failed
          target: executor-1
          fail-on: <% $.strict %>
          on-complete: fail
    """
)


def test_rich_workflow_parses_and_spec_keeps_file_order() -> None:
    [wf] = parse_workflows(RICH_WORKFLOW, "rich.yaml", source="directory site")
    assert wf.name == "rich"
    assert wf.definition_text == RICH_WORKFLOW
    assert wf.tags == ("ops", "nightly")
    assert wf.tags_json == '["ops", "nightly"]'
    assert wf.source == "directory site"
    assert wf.location == "rich.yaml:4"
    assert wf.checksum == hashlib.md5(RICH_WORKFLOW.encode()).hexdigest()
    assert list(wf.spec) == [
        "type",
        "description",
        "tags",
        "input",
        "vars",
        "output",
        "output-on-error",
        "task-defaults",
        "tasks",
        "name",
        "version",
    ]
    assert list(wf.spec["tasks"]["finish"]) == [
        "join",
        "action",
        "retry",
        "on-success",
        "type",
        "name",
        "version",
    ]
    assert wf.spec["tasks"]["run_each"]["version"] == "2.0"
    assert json.loads(wf.spec_json) == wf.spec


def test_reverse_workflow() -> None:
    text = _y(
        """
        version: "2.0"
        rev:
          type: reverse
          task-defaults:
            requires: [setup]
          tasks:
            setup:
              action: std.noop
            a:
              action: std.noop
            b:
              action: std.noop
              requires: a
        """
    )
    [wf] = parse_workflows(text, "rev.yaml")
    assert wf.spec["tasks"]["b"] == {
        "action": "std.noop",
        "requires": "a",
        "type": "reverse",
        "name": "b",
        "version": "2.0",
    }


def test_workflow_type_defaults_to_direct_for_tasks_only() -> None:
    text = "version: 2.0\nwf:\n  tasks:\n    t1:\n      action: std.noop\n"
    [wf] = parse_workflows(text, "wf.yaml")
    assert "type" not in wf.spec
    assert wf.spec["version"] == "2.0"
    assert wf.spec_json == (
        '{"tasks": {"t1": {"action": "std.noop", "type": "direct", "name": "t1", '
        '"version": "2.0"}}, "name": "wf", "version": "2.0"}'
    )


def test_injected_keys_keep_their_place_when_already_written() -> None:
    text = _y(
        """
        version: '2.0'
        wf:
          name: wf
          version: '2.0'
          tasks:
            t1:
              name: t1
              action: std.noop
        """
    )
    [wf] = parse_workflows(text, "wf.yaml")
    assert list(wf.spec) == ["name", "version", "tasks"]
    assert list(wf.spec["tasks"]["t1"]) == ["name", "action", "type", "version"]


def test_inline_parameters_merge_into_task_input() -> None:
    text = _y(
        """
        version: '2.0'
        wf:
          tasks:
            t1:
              action: std.http url="http://x" retries=3 verify=false body=<% $.b %>
              input:
                url: old
                headers: {a: 1}
            t2:
              action: std.echo output=1
        """
    )
    [wf] = parse_workflows(text, "wf.yaml")
    assert wf.spec["tasks"]["t1"]["input"] == {
        "url": "http://x",
        "headers": {"a": 1},
        "retries": 3,
        "verify": False,
        "body": "<% $.b %>",
    }
    # No input mapping: nothing is added to the spec (the parameters stay inline).
    assert "input" not in wf.spec["tasks"]["t2"]


def test_engine_commands_and_defaults_count_for_start_tasks() -> None:
    text = _y(
        """
        version: '2.0'
        wf:
          task-defaults:
            on-complete: [last]
          tasks:
            first:
              action: std.noop
              on-error: [pause, noop]
            last:
              action: std.noop
              on-success: succeed
        """
    )
    [wf] = parse_workflows(text, "wf.yaml")
    assert wf.name == "wf"


def test_merge_keys_inside_a_workflow() -> None:
    text = _y(
        """
        version: '2.0'
        wf:
          vars:
            defaults: &d {a: 1, b: 2}
            custom:
              <<: *d
              b: 3
          tasks:
            t1:
              action: std.noop
        """
    )
    [wf] = parse_workflows(text, "wf.yaml")
    assert wf.spec["vars"]["custom"] == {"a": 1, "b": 3}


MULTI = _y(
    """
    ---
    # Standard workflows of the site (header: kept in every workflow's text).
    version: '2.0'

    # first: documents wf1 (column 0, directly above it: goes with wf1)
    wf1:
      tasks:
        t1:
          action: std.noop
        # indented comment: stays inside wf1

    wf2:
      type: reverse
      tasks:
        a:
          action: std.noop

    # third
    wf3:
      tasks:
        t1:
          action: std.echo output=3
    """
)


def test_several_workflows_are_cut_by_blocks() -> None:
    wf1, wf2, wf3 = parse_workflows(MULTI, "multi.yaml")
    header = (
        "---\n"
        "# Standard workflows of the site (header: kept in every workflow's text).\n"
        "version: '2.0'\n\n"
    )
    assert wf1.definition_text == header + (
        "# first: documents wf1 (column 0, directly above it: goes with wf1)\n"
        "wf1:\n  tasks:\n    t1:\n      action: std.noop\n"
        "    # indented comment: stays inside wf1\n\n"
    )
    assert wf2.definition_text == header + (
        "wf2:\n  type: reverse\n  tasks:\n    a:\n      action: std.noop\n\n"
    )
    assert wf3.definition_text == header + (
        "# third\nwf3:\n  tasks:\n    t1:\n      action: std.echo output=3\n"
    )
    assert [wf.line for wf in (wf1, wf2, wf3)] == [6, 12, 19]
    for wf in (wf1, wf2, wf3):
        # Each cut text is a valid workflow file giving the same workflow.
        [again] = parse_workflows(wf.definition_text, "cut.yaml")
        assert again.spec == wf.spec
        assert again.definition_text == wf.definition_text
        assert wf.checksum == hashlib.md5(wf.definition_text.encode()).hexdigest()
    assert len({wf1.checksum, wf2.checksum, wf3.checksum}) == 3


def test_version_after_the_workflows_is_kept() -> None:
    text = (
        "a:\n  tasks:\n    t:\n      action: x\n"
        "b:\n  tasks:\n    t:\n      action: y\n"
        "version: '2.0'\n"
    )
    a, b = parse_workflows(text, "late.yaml")
    assert a.definition_text == "a:\n  tasks:\n    t:\n      action: x\nversion: '2.0'\n"
    assert b.definition_text == "b:\n  tasks:\n    t:\n      action: y\nversion: '2.0'\n"


def test_action_file_values() -> None:
    text = _y(
        """
        version: '2.0'
        my.greet:
          description: Says hello.
          tags: [demo]
          base: std.echo output="hi" extra=1
          base-input:
            output: overridden
          input:
            - a
            - b: x
            - c: 1
            - d: null
            - e: {k: [1, 2]}
          output: <% $ %>
        my.plain:
          base: std.noop
        """
    )
    greet, plain = parse_actions(text, "actions.yaml", source="bundled")
    assert greet.definition_text == text and plain.definition_text == text
    assert greet.input_text == 'a, b="x", c=1, d=null, e={"k": [1, 2]}'
    assert greet.description == "Says hello."
    assert greet.tags_json == '["demo"]'
    assert greet.spec["base-input"] == {"output": "hi", "extra": 1}
    assert list(greet.spec)[-2:] == ["name", "version"]
    assert greet.location == "actions.yaml:2"
    assert plain.input_text is None
    assert plain.description is None
    assert plain.tags_json == "[]"
    assert plain.spec == {"base": "std.noop", "name": "my.plain", "version": "2.0"}


def test_workbook_parses_with_prefixed_names() -> None:
    text = _y(
        """
        version: '2.0'
        name: book
        description: A book.
        tags: [t]
        workflows:
          version: '2.0'
          main:
            tasks:
              t1:
                action: book.say
        actions:
          say:
            base: std.echo
            input: [text]
        """
    )
    book = parse_workbook(text, "book.yaml")
    assert book.name == "book"
    assert book.description == "A book."
    assert book.tags == ("t",)
    assert [wf.name for wf in book.workflows] == ["book.main"]
    assert [action.name for action in book.actions] == ["book.say"]
    assert book.actions[0].input_text == "text"
    assert book.workflows[0].spec["name"] == "book.main"


# --------------------------------------------------------------------------- helpers


def test_split_command() -> None:
    assert split_command("std.noop") == ("std.noop", {})
    assert split_command('nova.servers_find id=<% $.vm_id %> status="ACTIVE"') == (
        "nova.servers_find",
        {"id": "<% $.vm_id %>", "status": "ACTIVE"},
    )
    assert split_command("std.echo output='a b' n=10 l=[1, 2] t=true z=null") == (
        "std.echo",
        {"output": "a b", "n": 10, "l": [1, 2], "t": True, "z": None},
    )
    assert split_command("=oops x") is None


def test_is_expression() -> None:
    assert is_expression("<% $.x %>")
    assert is_expression("{{ _.x }}")
    assert is_expression("<% $.a %> <% $.b %> ")
    assert not is_expression("$.x")
    assert not is_expression(3)


def test_action_input_text() -> None:
    assert action_input_text(None) is None
    assert action_input_text([]) is None
    assert (
        action_input_text(["host", {"port": 22}, {"user": "root"}]) == 'host, port=22, user="root"'
    )


def test_format_path() -> None:
    assert format_path(()) == "(document)"
    assert format_path(("wf", "tasks", "t1")) == "wf.tasks.t1"
