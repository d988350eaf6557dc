"""Row values computed from the definition files equal what upstream Mistral writes.

The reference is tests/reference/upstream-populate.json (upstream 23.0.0 with
mistral-extra 17.0.0).  Also covers the sources: bundled actions, the
``mistral.preinstalled_workflows`` entry points (through a fixture
distribution put on ``sys.path``) and ``--path`` directories.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mistral_db_manage.catalog.parse import parse_workflows
from mistral_db_manage.catalog.rows import ActionDefinition, WorkflowDefinition
from mistral_db_manage.catalog.sources import (
    bundled_action_files,
    collect_definitions,
    directory_workflow_files,
    entry_point_workflow_files,
)
from mistral_db_manage.catalog.sync import action_row_values, workflow_row_values
from mistral_db_manage.errors import DefinitionError

TESTS = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((TESTS / "reference" / "upstream-populate.json").read_text())
CASES = TESTS / "cases" / "populate"
WORKFLOW_FILES = CASES / "workflows"
FIXTURE_DIST = CASES / "fixture_dist"
BROKEN_DIST = CASES / "broken_dist"


def _reference(table: str, name: str) -> dict[str, Any]:
    [row] = [row for row in REFERENCE[table] if row["name"] == name]
    return dict(row)


@pytest.fixture
def extra_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put the fixture distribution on ``sys.path``, i.e. "install" it.

    It advertises create_instance and delete_instance.
    """
    monkeypatch.syspath_prepend(str(FIXTURE_DIST))


def _make_dist(root: Path, name: str, module_source: str) -> Path:
    """A one-module distribution whose entry point is ``<module>:provide``."""
    module = name.replace("-", "_")
    (root / f"{module}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[mistral.preinstalled_workflows]\nthings = {module}:provide\n"
    )
    return root


# --------------------------------------------------------------------------- rows


@pytest.mark.parametrize("name", ["create_instance", "delete_instance"])
def test_workflow_rows_equal_upstream(name: str) -> None:
    path = WORKFLOW_FILES / f"{name}.yaml"
    [definition] = parse_workflows(path.read_text(encoding="utf-8"), str(path))
    expected = _reference("workflow_definitions_v2", name)
    assert workflow_row_values(definition) == expected
    # Field by field, for a readable failure if the above ever breaks.
    assert definition.definition_text == expected["definition"]
    assert definition.spec_json == expected["spec"]
    assert definition.checksum == expected["checksum"]
    assert definition.tags_json == expected["tags"]


def test_bundled_action_rows_equal_upstream() -> None:
    [file] = bundled_action_files()
    assert Path(file.filename).name == "std_wait_ssh.yaml"
    expected = _reference("action_definitions_v2", "std.wait_ssh")
    assert file.text == expected["definition"]
    definitions = collect_definitions([], include_workflows=False)
    [action] = definitions
    assert isinstance(action, ActionDefinition)
    assert action_row_values(action) == expected
    assert action.input_text == "host, username, password"


def test_every_reference_column_is_written() -> None:
    """The reference rows hold exactly the columns populate writes (less id/timestamps)."""
    for row in REFERENCE["workflow_definitions_v2"]:
        assert set(row) == set(workflow_row_values(_any_workflow()))
    for row in REFERENCE["action_definitions_v2"]:
        [action] = collect_definitions([], include_workflows=False)
        assert isinstance(action, ActionDefinition)
        assert set(row) == set(action_row_values(action))


def _any_workflow() -> WorkflowDefinition:
    path = WORKFLOW_FILES / "delete_instance.yaml"
    [definition] = parse_workflows(path.read_text(encoding="utf-8"), str(path))
    return definition


# --------------------------------------------------------------------------- entry points


@pytest.mark.usefixtures("extra_installed")
def test_entry_point_workflows_are_collected() -> None:
    files = entry_point_workflow_files()
    assert [Path(f.filename).name for f in files] == [
        "create_instance.yaml",
        "delete_instance.yaml",
    ]
    assert all("distribution mistral-extra-fixture 17.0.0" in f.source for f in files)
    assert all("'extra_fixture'" in f.source for f in files)

    definitions = collect_definitions([], include_workflows=True)
    assert [(type(d).__name__, d.name) for d in definitions] == [
        ("ActionDefinition", "std.wait_ssh"),
        ("WorkflowDefinition", "create_instance"),
        ("WorkflowDefinition", "delete_instance"),
    ]
    for definition in definitions:
        if isinstance(definition, WorkflowDefinition):
            expected = _reference("workflow_definitions_v2", definition.name)
            assert workflow_row_values(definition) == expected


@pytest.mark.usefixtures("extra_installed")
def test_actions_only_ignores_entry_points_and_paths(tmp_path: Path) -> None:
    definitions = collect_definitions([tmp_path / "not-read"], include_workflows=False)
    assert [d.name for d in definitions] == ["std.wait_ssh"]


def test_without_the_distribution_no_workflow_is_collected() -> None:
    assert entry_point_workflow_files() == []


def test_broken_entry_point_names_its_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BROKEN_DIST))
    with pytest.raises(DefinitionError) as info:
        collect_definitions([], include_workflows=True)
    message = str(info.value)
    assert "entry point 'broken'" in message
    assert "distribution mistral-broken-fixture 1.0" in message
    assert "cannot be loaded: ModuleNotFoundError" in message


@pytest.mark.parametrize(
    ("name", "source", "fragment"),
    [
        ("mdm-raises", "def provide():\n    raise RuntimeError('boom')\n", "failed when called"),
        ("mdm-string", "def provide():\n    return '/etc/x.yaml'\n", "returned str"),
        ("mdm-item", "def provide():\n    return [3]\n", "returned 3 in its list"),
        ("mdm-missing", "def provide():\n    return ['/no/such/file.yaml']\n", "is not a file"),
        ("mdm-notcallable", "provide = 5\n", "is not callable"),
    ],
)
def test_bad_entry_point_results(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, source: str, fragment: str
) -> None:
    monkeypatch.syspath_prepend(str(_make_dist(tmp_path, name, source)))
    with pytest.raises(DefinitionError) as info:
        entry_point_workflow_files()
    assert f"distribution {name} 1.0" in str(info.value)
    assert fragment in str(info.value)


def test_invalid_workflow_from_entry_point_is_located(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: '2.0'\nwf:\n  tasks:\n    t1:\n      action: x\n      join: many\n")
    source = f"def provide():\n    return [{str(bad)!r}]\n"
    monkeypatch.syspath_prepend(str(_make_dist(tmp_path, "mdm-bad", source)))
    with pytest.raises(DefinitionError, match=rf"^{bad}:6: wf\.tasks\.t1\.join: join must be"):
        collect_definitions([], include_workflows=True)


# --------------------------------------------------------------------------- --path


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_directories_are_read_in_sorted_order(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    for name in ("b.yml", "a.yaml", "c.yaml"):
        _write(site / name, f"version: '2.0'\nwf_{name[0]}:\n  tasks:\n    t:\n      action: x\n")
    (site / "README.txt").write_text("not a definition")
    (site / "nested.yaml").mkdir()
    files = directory_workflow_files([site])
    assert [Path(f.filename).name for f in files] == ["a.yaml", "b.yml", "c.yaml"]
    assert {f.source for f in files} == {f"directory {site}"}
    names = [d.name for d in collect_definitions([site], include_workflows=True)]
    assert names == ["std.wait_ssh", "wf_a", "wf_b", "wf_c"]


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="no such directory"):
        collect_definitions([tmp_path / "absent"], include_workflows=True)
    file = tmp_path / "file.yaml"
    file.write_text("")
    with pytest.raises(DefinitionError, match="not a directory"):
        collect_definitions([file], include_workflows=True)


@pytest.mark.usefixtures("extra_installed")
def test_same_workflow_from_two_sources_is_an_error(tmp_path: Path) -> None:
    _write(
        tmp_path / "mine.yaml",
        """
        version: '2.0'
        create_instance:
          tasks:
            t:
              action: std.noop
        """,
    )
    with pytest.raises(DefinitionError) as info:
        collect_definitions([tmp_path], include_workflows=True)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'mine.yaml'}:2: create_instance: ")
    assert "defined twice" in message
    assert f"from directory {tmp_path}" in message
    assert "mistral-extra-fixture" in message


def test_invalid_file_in_directory_is_located(tmp_path: Path) -> None:
    _write(tmp_path / "ok.yaml", "version: '2.0'\nok:\n  tasks:\n    t:\n      action: x\n")
    _write(
        tmp_path / "zz.yaml",
        """
        version: '2.0'
        broken:
          tasks:
            t:
              action: x
              wait-after: soon
        """,
    )
    with pytest.raises(DefinitionError) as info:
        collect_definitions([tmp_path], include_workflows=True)
    assert str(info.value).startswith(f"{tmp_path / 'zz.yaml'}:6: broken.tasks.t.wait-after: ")
