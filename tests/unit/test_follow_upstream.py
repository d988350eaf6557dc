"""Following upstream without a database: the reference read back, what the chain lacks,
and drafts of the revisions it lacks (tests/reference/follow, see MAINTAINING.md)."""

from __future__ import annotations

import re
import shutil
from itertools import pairwise
from pathlib import Path

import pytest

from dbs import REFERENCE_DIR, UPSTREAM_SCHEMA_DIR
from follow import dumps
from follow.draft import column_type, merge, steps
from follow.lacking import Finding, compare_chain, upstream_revisions
from follow.revision import draft_revision
from follow.servers import canonical_foreign_key_names
from follow.upstream import parse_history
from mistral_db_manage.migrations import ops
from mistral_db_manage.runner.chain import VERSIONS_DIR, Chain
from mistral_db_manage.runner.consistency import chain_problems
from mistral_db_manage.runner.verify import compare_shapes, shapes_from_state
from mistral_db_manage.schema.history import state_at
from mistral_db_manage.schema.state import DIALECTS


def chain_copy(tmp_path: Path, *removed: str) -> Path:
    """Our revision files in a temporary directory, without ``removed``."""
    directory = tmp_path / "versions"
    shutil.copytree(VERSIONS_DIR, directory, ignore=shutil.ignore_patterns("__pycache__"))
    for revision in removed:
        (path,) = directory.glob(f"{revision}_*.py")
        path.unlink()
    return directory


def test_history_lists_every_reference_dump() -> None:
    revisions = upstream_revisions(REFERENCE_DIR)
    ids = [r.id for r in revisions]
    for dialect in dumps.SERVER_DIALECTS:
        numbered = sorted(p.stem for p in (UPSTREAM_SCHEMA_DIR / dialect).glob("[0-9]*.sql"))
        assert numbered == ids
    assert revisions[0].down_revision is None
    assert all(r.down_revision == p.id for p, r in pairwise(revisions))
    assert [r.message for r in revisions] == [r.message for r in Chain.load().revisions]


@pytest.mark.parametrize("dialect", dumps.SERVER_DIALECTS)
def test_every_reference_dump_is_understood(dialect: str) -> None:
    for path in sorted((UPSTREAM_SCHEMA_DIR / dialect).glob("[0-9]*.sql")):
        dump = dumps.parse(dialect, path.read_text(encoding="utf-8"))
        assert dump.unparsed == [], path.name
        assert dump.tables, path.name


def test_parse_history_joins_continued_messages() -> None:
    text = ("002 -> 003 (head), Widen a column from\nthe old size\n"
            "001 -> 002, Second\n<base> -> 001, First\n")
    parsed = parse_history(text)
    assert [(r.id, r.down_revision) for r in parsed] == [
        ("001", None), ("002", "001"), ("003", "002")]
    assert parsed[2].message == "Widen a column from\nthe old size"


def test_foreign_keys_are_numbered_in_text_order() -> None:
    dump = (
        "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n"
        "  CONSTRAINT `t_ibfk_1` FOREIGN KEY (`b`) REFERENCES `u` (`id`),\n"
        "  CONSTRAINT `t_ibfk_2` FOREIGN KEY (`a`) REFERENCES `u` (`id`)\n"
        ") ENGINE=InnoDB;\n"
    )
    assert canonical_foreign_key_names(dump) == (
        "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n"
        "  CONSTRAINT `t_ibfk_1` FOREIGN KEY (`a`) REFERENCES `u` (`id`),\n"
        "  CONSTRAINT `t_ibfk_2` FOREIGN KEY (`b`) REFERENCES `u` (`id`)\n"
        ") ENGINE=InnoDB;\n"
    )


def test_our_chain_lacks_nothing() -> None:
    assert compare_chain(VERSIONS_DIR, REFERENCE_DIR) == []


def test_deleted_revisions_are_named_missing(tmp_path: Path) -> None:
    findings = compare_chain(chain_copy(tmp_path, "040", "045"), REFERENCE_DIR)
    assert [(f.revision, f.kind) for f in findings] == [
        ("040", "missing"),
        *((f"{n:03d}", "unchecked") for n in range(41, 45)),
        ("045", "missing"),
    ]
    assert "create new tables for the dynamic actions" in findings[0].details[0]


def test_a_revision_that_differs_is_named_per_dialect(tmp_path: Path) -> None:
    versions = chain_copy(tmp_path)
    (path,) = versions.glob("045_*.py")
    source = path.read_text(encoding="utf-8")
    path.write_text(source.replace('"scheduled_jobs_v2_key"', '"scheduled_jobs_v2_the_key"'))
    findings = compare_chain(versions, REFERENCE_DIR)
    assert [(f.revision, f.kind, f.dialects) for f in findings] == [
        ("045", "differs", ("postgresql", "mysql"))]
    assert any("scheduled_jobs_v2_key (key) is missing" in d for d in findings[0].details)
    assert any("scheduled_jobs_v2_the_key" in d for d in findings[0].details)


def test_drafts_of_040_and_045_rebuild_our_chain(tmp_path: Path) -> None:
    versions = chain_copy(tmp_path, "040", "045")
    for revision in ("040", "045"):
        draft = draft_revision(revision, reference_dir=REFERENCE_DIR, versions_dir=versions)
        assert draft.residual == ()
        assert any("data changes are invisible" in note for note in draft.notes)
        (versions / draft.file_name).write_text(draft.source(), encoding="utf-8")
    assert compare_chain(versions, REFERENCE_DIR) == []
    assert chain_problems(versions) == []  # single line; head equals the models everywhere
    drafted, ours = Chain.load(versions), Chain.load()
    assert drafted.ids == ours.ids
    assert drafted.get("040").message == ours.get("040").message
    for dialect in DIALECTS:  # SQLite has no upstream reference: our chain is its reference
        for revision in ("040", "045"):
            assert compare_shapes(
                shapes_from_state(state_at(ours, dialect, revision)),
                shapes_from_state(state_at(drafted, dialect, revision)), exact=True,
            ) == [], (dialect, revision)
    text = next(versions.glob("040_*.py")).read_text(encoding="utf-8")
    assert re.search(r'^revision = "040"$', text, re.M)
    assert "down_revision = '039'" in text
    assert "# not generated, write by hand: data changes" in text


def test_a_change_the_operations_cannot_make_is_left_to_a_human() -> None:
    draft = draft_revision("044", reference_dir=REFERENCE_DIR, versions_dir=VERSIONS_DIR)
    assert any("mistral_metrics.id becomes autoincrement" in n for n in draft.notes)
    assert draft.residual  # and the check says the draft falls short


def test_a_change_on_one_server_is_limited_to_it() -> None:
    before = dumps.parse_postgresql("CREATE TABLE public.t (\n    a integer\n);\n")
    after = dumps.parse_postgresql(
        "CREATE TABLE public.t (\n    a integer,\n    b text NOT NULL\n);\n")
    same = dumps.parse_mysql(
        "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL\n) ENGINE=InnoDB;\n")
    operations, _ = merge({"postgresql": steps(before, after), "mysql": steps(same, same)})
    assert len(operations) == 1
    operation = operations[0]
    assert isinstance(operation, ops.AddColumn) and operation.dialects == ("postgresql",)
    assert operation.column.name == "b" and not operation.column.nullable


def test_types_are_unified_or_left_to_a_human() -> None:
    notes: list[str] = []
    medium = column_type({"postgresql": "TEXT", "mysql": "MEDIUMTEXT"}, notes, "t.c")
    assert ops.compiled_type(medium, "mysql") == "MEDIUMTEXT"
    assert ops.compiled_type(medium, "postgresql") == "TEXT"
    assert notes == []
    column_type({"postgresql": "JSONB", "mysql": "JSON"}, notes, "t.d")
    assert len(notes) == 1 and "t.d" in notes[0]


def test_finding_describes_itself() -> None:
    finding = Finding("046", "differs", ("mysql",), ("mysql: t.c: column is missing",))
    assert finding.describe() == "046: differs on mysql\n    mysql: t.c: column is missing"
