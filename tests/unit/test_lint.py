"""The lint of revisions after 045: one sample revision per flag (tests/cases/lint)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mistral_db_manage import api
from mistral_db_manage.runner.chain import Chain, scan_directory
from mistral_db_manage.runner.estimate import Estimator, Rates, TableStats
from mistral_db_manage.runner.lint import Flag, accepted_flags, lint_chain

CASES = Path(__file__).resolve().parents[1] / "cases" / "lint"
VERSIONS = Path(api.__file__).resolve().parent / "migrations" / "versions"


def _chain_with(tmp_path: Path, case: str, marker: str = "") -> tuple[Chain, Path]:
    versions = tmp_path / "versions"
    shutil.copytree(VERSIONS, versions, ignore=shutil.ignore_patterns("__pycache__"))
    text = (CASES / case).read_text(encoding="utf-8")
    (versions / case).write_text(text + (f"\n{marker}\n" if marker else ""), encoding="utf-8")
    return Chain(scan_directory(versions)), versions


def _flags(flags: list[Flag]) -> dict[str, tuple[str, ...]]:
    return {f.flag: f.dialects for f in flags}


def test_upstreams_chain_has_no_flags() -> None:
    assert lint_chain(Chain.load()) == []


def test_a_whole_table_rewrite(tmp_path: Path) -> None:
    chain, _ = _chain_with(tmp_path, "046_rewrite_every_task.py")
    flags = lint_chain(chain)
    assert _flags(flags) == {"whole-table": ("sqlite", "postgresql", "mysql")}
    assert "UPDATE" not in flags[0].describe() and "046" in flags[0].describe()
    assert flags[0].seconds is None and not flags[0].accepted


def test_an_index_build_locks_writes_where_it_is_not_online(tmp_path: Path) -> None:
    chain, _ = _chain_with(tmp_path, "046_index_tasks.py")
    assert _flags(lint_chain(chain)) == {"exclusive-lock": ("sqlite", "postgresql")}


def test_a_dropped_column(tmp_path: Path) -> None:
    chain, _ = _chain_with(tmp_path, "046_drop_next_tasks.py")
    flags = _flags(lint_chain(chain))
    assert flags["drops-data"] == ("sqlite", "postgresql", "mysql")
    assert flags["whole-table"] == ("sqlite", "mysql")  # a table copy there


def test_data_after_a_schema_change_on_mysql(tmp_path: Path) -> None:
    chain, _ = _chain_with(tmp_path, "046_column_then_data.py")
    flags = _flags(lint_chain(chain))
    assert flags["mysql-no-rollback"] == ("mysql",)
    assert "whole-table" in flags  # the UPDATE still reads every delayed call


def test_the_predicted_seconds_with_a_database(tmp_path: Path) -> None:
    chain, _ = _chain_with(tmp_path, "046_rewrite_every_task.py")
    rates = Rates("postgresql", 1e8, 1e9, 1.0, 0.001, 0)
    small = Estimator({"task_executions_v2": TableStats(1_000, 2_000_000, 6)}, rates)
    large = Estimator({"task_executions_v2": TableStats(1_000_000, 2_000_000_000, 6)}, rates)
    seconds = [lint_chain(chain, {"postgresql": e})[0].seconds for e in (small, large)]
    assert seconds[0] is not None and seconds[1] is not None and 0 < seconds[0] < seconds[1]
    assert "predicted" in lint_chain(chain, {"postgresql": large})[0].describe()


def test_accepting_needs_a_reason() -> None:
    assert accepted_flags("# check_migration: accept whole-table -- tiny table\n") == {
        "whole-table"}
    assert accepted_flags("# check_migration: accept whole-table\n") == frozenset()


@pytest.mark.parametrize("accept", [False, True])
def test_check_migration_fails_until_the_revision_accepts(tmp_path: Path, accept: bool) -> None:
    marker = "# check_migration: accept whole-table -- a test table" if accept else ""
    _, versions = _chain_with(tmp_path, "046_rewrite_every_task.py", marker)
    problems = api.check_migration(versions_dir=versions)
    if accept:
        assert problems == []
    else:
        assert len(problems) == 1 and "whole-table" in problems[0]
