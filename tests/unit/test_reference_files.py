"""The vendored upstream reference (tests/reference/upstream-schema) is complete and well formed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dbs import MYSQL, POSTGRESQL, UPSTREAM_SCHEMA_DIR, reference_dump, reference_path

REVISIONS = [f"{n:03d}" for n in range(1, 46)]
SERVER_DIALECTS = (POSTGRESQL, MYSQL)

_PG_TABLE = re.compile(r"^CREATE TABLE public\.(\w+) \($")
_MY_TABLE = re.compile(r"^CREATE TABLE `(\w+)` \($")


def _statements(text: str) -> list[str]:
    """Split a normalised dump into statements (each ends with ';' at the end of a line)."""
    statements: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if not line.strip() and not current:
            continue
        current.append(line)
        if line.endswith(";"):
            statements.append("\n".join(current))
            current = []
    assert not current, f"unterminated statement: {current[:3]}"
    return statements


def tables_of(dialect: str, text: str) -> set[str]:
    """Table names of a normalised dump; asserts that every statement has a known shape."""
    pattern = _PG_TABLE if dialect == POSTGRESQL else _MY_TABLE
    tables: set[str] = set()
    for stmt in _statements(text):
        first = stmt.splitlines()[0]
        if dialect == MYSQL:
            assert first.startswith("CREATE TABLE `"), stmt
            assert stmt.splitlines()[-1].startswith(") ENGINE=InnoDB "), stmt
        else:
            assert first.startswith(("CREATE ", "ALTER ")), stmt
        match = pattern.match(first)
        if match:
            assert match.group(1) not in tables, f"table {match.group(1)} created twice"
            tables.add(match.group(1))
    return tables


@pytest.mark.parametrize("dialect", SERVER_DIALECTS)
def test_exactly_45_revision_dumps(dialect: str) -> None:
    numbered = sorted(
        p.name
        for p in (UPSTREAM_SCHEMA_DIR / dialect).iterdir()
        if re.fullmatch(r"\d+\.sql", p.name)
    )
    assert numbered == [f"{rev}.sql" for rev in REVISIONS]


@pytest.mark.parametrize("dialect", SERVER_DIALECTS)
@pytest.mark.parametrize("revision", REVISIONS)
def test_revision_dump_parses(dialect: str, revision: str) -> None:
    text = reference_dump(dialect, revision)
    assert text.endswith(";\n"), "a normalised dump ends with one newline after a statement"
    assert "\n\n\n" not in text, "squeeze_blank leaves no run of blank lines"
    tables = tables_of(dialect, text)
    assert "alembic_version" in tables
    assert len(tables) >= 5


@pytest.mark.parametrize("revision", REVISIONS)
def test_both_servers_have_the_same_tables(revision: str) -> None:
    assert tables_of(POSTGRESQL, reference_dump(POSTGRESQL, revision)) == tables_of(
        MYSQL, reference_dump(MYSQL, revision)
    )


@pytest.mark.parametrize("dialect", SERVER_DIALECTS)
def test_online_trace_steps_through_every_revision(dialect: str) -> None:
    trace = reference_path(dialect, "online-trace-001-045").read_text(encoding="utf-8")
    stamps = re.findall(
        r"INSERT INTO alembic_version \(version_num\) VALUES \('(\d{3})'\)"
        r"|UPDATE alembic_version SET version_num='(\d{3})'",
        trace,
    )
    assert [insert or update for insert, update in stamps] == REVISIONS


@pytest.mark.parametrize("dialect", [POSTGRESQL, MYSQL, "sqlite"])
def test_head_models_dump_present(dialect: str) -> None:
    path: Path = reference_path(dialect, "head-models")
    assert path.is_file()
    assert "CREATE TABLE" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("dialect", SERVER_DIALECTS)
def test_offline_scripts_present(dialect: str) -> None:
    base = reference_dump(dialect, "offline-base-008")
    assert base.count("CREATE TABLE alembic_version") == 1
    assert "version_num='008' WHERE alembic_version.version_num = '007'" in base
