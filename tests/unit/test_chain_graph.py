"""The chain as a graph: loading, resolving targets, and every way it can break."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import run_cli
from mistral_db_manage import api
from mistral_db_manage.errors import ChainError, RevisionError
from mistral_db_manage.runner.chain import Chain, find_problems, scan_directory


def write_revision(directory: Path, rev: str, down: str | None, message: str = "msg") -> Path:
    path = directory / f"{rev}_r.py"
    path.write_text(
        f'"""{message}\n\nRevision ID: {rev}\n"""\n'
        f"revision = {rev!r}\ndown_revision = {down!r}\noperations = []\n",
        encoding="utf-8",
    )
    return path


def line(directory: Path, count: int) -> Path:
    previous = None
    for number in range(1, count + 1):
        rev = f"{number:03d}"
        write_revision(directory, rev, previous)
        previous = rev
    return directory


def test_straight_line_loads_in_order(tmp_path: Path) -> None:
    chain = Chain.load(line(tmp_path, 4))
    assert chain.ids == ("001", "002", "003", "004")
    assert chain.head == "004"
    assert find_problems(scan_directory(tmp_path)) == []


def test_resolve_targets(tmp_path: Path) -> None:
    chain = Chain.load(line(tmp_path, 4))
    assert chain.resolve("head") == "004"
    assert chain.resolve("+2", current="001") == "003"
    assert chain.resolve("+1") == "001"
    with pytest.raises(RevisionError, match="only 1 remain"):
        chain.resolve("+2", current="003")
    with pytest.raises(RevisionError, match="unknown revision '999'"):
        chain.resolve("999")
    with pytest.raises(RevisionError, match="does not downgrade"):
        chain.between("003", "001")


def test_duplicate_ids(tmp_path: Path) -> None:
    line(tmp_path, 3)
    (tmp_path / "003_copy.py").write_text((tmp_path / "003_r.py").read_text(), encoding="utf-8")
    problems = find_problems(scan_directory(tmp_path))
    assert any("duplicate revision id '003'" in p for p in problems)
    with pytest.raises(ChainError, match="duplicate revision id"):
        Chain.load(tmp_path)


def test_gap(tmp_path: Path) -> None:
    line(tmp_path, 2)
    write_revision(tmp_path, "004", "003")
    problems = find_problems(scan_directory(tmp_path))
    assert any("revises '003', which does not exist" in p for p in problems)


def test_branch_and_two_heads(tmp_path: Path) -> None:
    line(tmp_path, 3)
    write_revision(tmp_path, "004", "002")
    problems = find_problems(scan_directory(tmp_path))
    assert any("branches at revision '002': 003, 004" in p for p in problems)
    assert any("2 heads (003, 004)" in p for p in problems)
    assert api.branches(tmp_path) == [("002", ["003", "004"])]
    assert api.heads(tmp_path) == ["003", "004"]


def test_not_a_revision_file(tmp_path: Path) -> None:
    line(tmp_path, 1)
    (tmp_path / "002_bad.py").write_text("revision = 2\n", encoding="utf-8")
    with pytest.raises(ChainError, match=r"002_bad\.py: not a valid revision file"):
        Chain.load(tmp_path)


def test_check_migration_cli_reports_branch(tmp_path: Path) -> None:
    line(tmp_path, 3)
    write_revision(tmp_path, "004", "002")
    result = run_cli("check_migration", "--versions-dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "branches at revision '002'" in result.stderr
    assert "Traceback" not in result.stderr


def test_branches_and_heads_cli(tmp_path: Path) -> None:
    line(tmp_path, 3)
    write_revision(tmp_path, "004", "002")
    branches = run_cli("branches", "--versions-dir", str(tmp_path), cwd=tmp_path)
    assert branches.returncode == 0
    assert "002 -> 003, 004 (branchpoint)" in branches.stdout
    heads = run_cli("heads", "--versions-dir", str(tmp_path), cwd=tmp_path)
    assert heads.stdout.splitlines() == ["003 (head)", "004 (head)"]
