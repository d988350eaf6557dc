"""The catalogue of careless and hostile input (issue 13), part 2: definitions, revisions,
the chain.

Each case runs the console script's code and checks the one-line error, the
exit code and that nothing changed (the database file and the versions
directory, byte for byte).  The time and memory of the YAML cases are
measured by ``benchmarks/hostile_yaml.py``, not asserted here: the timeout is
only a safety net.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostile import (
    assert_no_control_characters,
    assert_one_line_error,
    assert_usage_error,
    mdm,
    open_directory,
    sqlite_execute,
    tree_state,
    write_config,
)
from mistral_db_manage.runner.chain import VERSIONS_DIR, Chain

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from hostile_yaml import HOSTILE_YAML

#: the safety net for the YAML cases (each ends in about a second)
YAML_TIMEOUT = 60


@pytest.fixture(scope="module")
def head_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("head")
    conf = write_config(directory, f"sqlite:///{directory / 'template.sqlite'}")
    run = mdm("--config-file", str(conf), "upgrade", "head", cwd=directory)
    assert run.returncode == 0, run
    return directory / "template.sqlite"


@pytest.fixture
def at_head(head_database: Path) -> Iterator[tuple[Path, Path]]:
    with open_directory() as directory:
        shutil.copy(head_database, directory / "mistral.sqlite")
        yield directory, write_config(directory, f"sqlite:///{directory / 'mistral.sqlite'}")


@pytest.fixture
def versions(tmp_path: Path) -> Path:
    copy = tmp_path / "versions"
    shutil.copytree(VERSIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


# --------------------------------------------------------------------------- definitions


@pytest.mark.parametrize("case", sorted(HOSTILE_YAML))
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "apply"])
def test_hostile_yaml_is_refused_quickly(at_head: tuple[Path, Path], case: str,
                                         dry_run: bool) -> None:
    directory, conf = at_head
    definitions = directory / "definitions"
    definitions.mkdir()
    text, fragment = HOSTILE_YAML[case]
    (definitions / f"{case}.yaml").write_text(text, encoding="utf-8")
    before = tree_state(directory)
    run = mdm("--config-file", str(conf), "populate", "--path", str(definitions),
              *(["--dry-run"] if dry_run else []), cwd=directory, timeout=YAML_TIMEOUT)
    assert_one_line_error(run, f"{definitions / case}.yaml:", fragment)
    assert tree_state(directory) == before


def test_the_size_limit_can_be_raised(at_head: tuple[Path, Path]) -> None:
    directory, conf = at_head
    definitions = directory / "definitions"
    definitions.mkdir()
    padding = "x" * (1200 * 1024)
    (definitions / "big.yaml").write_text(
        f"version: '2.0'\nbig:\n  description: {padding}\n  tasks:\n    t:\n"
        "      action: std.noop\n", encoding="utf-8")
    refused = mdm("--config-file", str(conf), "populate", "--path", str(definitions),
                  "--dry-run", cwd=directory, timeout=YAML_TIMEOUT)
    assert_one_line_error(refused, "big.yaml", "more than the limit of 1024 KiB",
                          "--max-definition-kb")
    accepted = mdm("--config-file", str(conf), "populate", "--path", str(definitions),
                   "--dry-run", "--max-definition-kb", "2048", cwd=directory,
                   timeout=YAML_TIMEOUT)
    assert accepted.returncode == 0, accepted
    assert "add workflow big" in accepted.stdout


def test_names_from_definitions_are_printed_escaped(at_head: tuple[Path, Path]) -> None:
    directory, conf = at_head
    definitions = directory / "definitions"
    definitions.mkdir()
    (definitions / "evil.yaml").write_text(
        "version: '2.0'\n\"evil\\e[2J\\u202e\":\n  tasks:\n    t:\n      action: std.noop\n",
        encoding="utf-8")
    run = mdm("--config-file", str(conf), "populate", "--path", str(definitions), "--dry-run",
              cwd=directory)
    assert run.returncode == 0, run
    assert_no_control_characters(run.stdout + run.stderr)
    assert "evil\\x1b[2J\\u202e" in run.stdout


# --------------------------------------------------------------------------- revision -m

KEPT_MESSAGES = [
    "fix C:\\Users\\mistral path",
    'a """ b \\x00 c\\',
    "it's \"quoted\" \\",
    "trailing backslash \\",
    "''' and \"\"\" and \\N{BULLET}",
    "unicode: é ü 中文",
]


@pytest.mark.parametrize("message", KEPT_MESSAGES)
def test_a_message_is_kept_exactly(tmp_path: Path, versions: Path, message: str) -> None:
    run = mdm("revision", "--versions-dir", str(versions), "-m", message, cwd=tmp_path)
    assert run.returncode == 0, run
    chain = Chain.load(versions)
    assert chain.head == "046" and chain.get("046").message == message
    history = mdm("history", "--versions-dir", str(versions), cwd=tmp_path)
    assert history.returncode == 0, history
    assert history.stdout.splitlines()[0] == f"045 -> 046 (head), {message}"
    current = mdm("current", "--versions-dir", str(versions), cwd=tmp_path,
                  env={"OS_DATABASE__CONNECTION": f"sqlite:///{tmp_path / 'm.sqlite'}"})
    assert current.returncode == 0, current


REFUSED_MESSAGES = [
    ("\udcff", "control character U+DCFF"),
    ("a\x00b", None),  # the NUL cannot even be passed: the OS refuses it (ValueError)
    ("line\nbreak", "control character \\n"),
    ("tab\there", "control character \\t"),
    ("\x1b[31mred", "control character \\x1b"),
    (" padded ", "starts or ends with spaces"),
    ("   ", "needs a message"),
    ("x" * 501, "keep it under 500"),
]


@pytest.mark.parametrize(("message", "fragment"), REFUSED_MESSAGES)
def test_a_message_that_would_change_is_refused(
    tmp_path: Path, versions: Path, message: str, fragment: str | None
) -> None:
    before = tree_state(versions)
    if fragment is None:
        with pytest.raises(ValueError):
            mdm("revision", "--versions-dir", str(versions), "-m", message, cwd=tmp_path)
        return
    run = mdm("revision", "--versions-dir", str(versions), "-m", message, cwd=tmp_path)
    assert_usage_error(run, fragment)
    assert_no_control_characters(run.stderr)
    assert tree_state(versions) == before


@pytest.mark.parametrize("rev_id", ["head", "HEAD", "base", "Base", "current", "heads",
                                    "a-b", "head-1", "+1", "\x1b[31m", "x" * 33])
def test_reserved_and_malformed_ids_are_refused(tmp_path: Path, versions: Path,
                                                rev_id: str) -> None:
    before = tree_state(versions)
    run = mdm("revision", "--versions-dir", str(versions), "-m", "x", "--rev-id", rev_id,
              cwd=tmp_path)
    assert_usage_error(run, "invalid revision id")
    assert_no_control_characters(run.stderr)
    assert tree_state(versions) == before


def test_revision_refuses_to_write_into_an_installed_package(tmp_path: Path) -> None:
    import mistral_db_manage

    site = tmp_path / "lib" / "site-packages"
    package = site / "mistral_db_manage"
    shutil.copytree(Path(mistral_db_manage.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = tree_state(package)
    env = {"PYTHONPATH": str(site)}
    run = mdm("revision", "-m", "oops", cwd=tmp_path, env=env)
    assert_usage_error(run, "installed package", "--versions-dir")
    assert tree_state(package) == before
    elsewhere = tmp_path / "versions"
    shutil.copytree(package / "migrations" / "versions", elsewhere)
    allowed = mdm("revision", "-m", "fine", "--versions-dir", str(elsewhere), cwd=tmp_path,
                  env=env)
    assert allowed.returncode == 0, allowed
    assert tree_state(package) == before


# --------------------------------------------------------------------------- the chain

BROKEN_HEADS = {
    "operations = 5": ("operations = 5\n", "`operations` must be a list of operations"),
    "operations of strings": ('operations = ["DROP TABLE x"]\n', "operation 1 is a str"),
    "import error": ("import no_such_module_anywhere\n", "cannot be loaded (ModuleNotFound"),
    "raises": ("raise SystemError('boom')\n", "cannot be loaded (SystemError: boom)"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_HEADS))
@pytest.mark.parametrize("command", [("check_migration",), ("upgrade", "head"),
                                     ("upgrade", "044:head", "--sql")])
def test_a_broken_revision_is_named(at_head: tuple[Path, Path], versions: Path, case: str,
                                    command: tuple[str, ...]) -> None:
    directory, conf = at_head
    head = next(versions.glob("045_*.py"))
    addition, fragment = BROKEN_HEADS[case]
    head.write_text(head.read_text(encoding="utf-8") + addition, encoding="utf-8")
    sqlite_execute(directory / "mistral.sqlite", "UPDATE alembic_version SET version_num = '044'")
    before = tree_state(directory)
    run = mdm("--config-file", str(conf), "--versions-dir", str(versions), *command,
              cwd=directory)
    assert_one_line_error(run, head.name, fragment)
    assert tree_state(directory) == before


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('"""x\n\nrevision = "046"\ndown_revision = "045"\n', "not a valid revision file"),
        ("revision = '046'\n", "no 'down_revision'"),
        ("revision = 46\ndown_revision = '045'\n", "must be a string"),
        ("\xff\xfe", "not a valid revision file"),
    ],
)
@pytest.mark.parametrize("command", [("current",), ("history",), ("heads",)])
def test_an_unreadable_revision_file_is_named(
    at_head: tuple[Path, Path], versions: Path, text: str, fragment: str,
    command: tuple[str, ...],
) -> None:
    directory, conf = at_head
    bad = versions / "046_bad.py"
    bad.write_bytes(text.encode("latin-1"))
    before = tree_state(directory)
    run = mdm("--config-file", str(conf), "--versions-dir", str(versions), *command,
              cwd=directory)
    assert_one_line_error(run, "046_bad.py", fragment)
    assert tree_state(directory) == before


def test_inconsistent_version_directories_are_errors(tmp_path: Path, versions: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in ("heads", "history", "branches", "check_migration"):
        run = mdm(command, "--versions-dir", str(empty), cwd=tmp_path)
        assert_one_line_error(run, "holds no revision files")
    head = next(versions.glob("045_*.py"))
    shutil.copy(head, versions / "045_copy.py")
    for command in ("heads", "branches", "history"):
        run = mdm(command, "--versions-dir", str(versions), cwd=tmp_path)
        assert_one_line_error(run, "duplicate revision id '045'")
