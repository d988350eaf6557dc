"""Drafted revisions on real databases, and a refresh of a few reference files.

Revisions 040 and 045 are deleted from a copy of the chain and drafted back
from the reference (tests/reference/follow); replayed on each dialect, the
drafted chain gives upstream's dump after 040 and after 045 on PostgreSQL and
MariaDB, and our own chain's schema on SQLite (which has no upstream
reference).  The refresh test runs upstream for one revision; it needs an
environment with upstream installed (``MDM_UPSTREAM_VENV``, see MAINTAINING.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dbs import (
    REFERENCE_DIR,
    FreshDatabase,
    ServerAvailability,
    assert_same_schema,
    reference_dump,
)
from follow.revision import draft_revision
from helpers import settings_for
from mistral_db_manage import api
from mistral_db_manage.runner.chain import VERSIONS_DIR

UPSTREAM_VENV_ENV = "MDM_UPSTREAM_VENV"


def drafted_chain(tmp_path: Path) -> Path:
    versions = tmp_path / "versions"
    shutil.copytree(VERSIONS_DIR, versions, ignore=shutil.ignore_patterns("__pycache__"))
    for revision in ("040", "045"):
        next(versions.glob(f"{revision}_*.py")).unlink()
    for revision in ("040", "045"):
        draft = draft_revision(revision, reference_dir=REFERENCE_DIR, versions_dir=versions)
        (versions / draft.file_name).write_text(draft.source(), encoding="utf-8")
    return versions


def test_drafted_revisions_replay_to_upstreams_schema(
    fresh_db: FreshDatabase, make_db: Callable[[str], FreshDatabase], tmp_path: Path
) -> None:
    versions = drafted_chain(tmp_path)
    settings = settings_for(fresh_db.url)
    ours = make_db(fresh_db.dialect) if fresh_db.dialect == "sqlite" else None
    for before, revision in (("039", "040"), ("044", "045")):
        api.upgrade(settings, before, versions_dir=versions)
        result = api.upgrade(settings, "+1", versions_dir=versions)  # the drafted operations
        assert result.applied == (revision,)
        if ours is None:
            expected = reference_dump(fresh_db.dialect, revision)
        else:
            api.upgrade(settings_for(ours.url), revision)
            expected = ours.dump()
        assert_same_schema(expected, fresh_db.dump(), expected_label=f"reference {revision}",
                           actual_label=f"drafted {revision}")


def test_refresh_reproduces_a_revision_dump(
    server_availability: ServerAvailability, tmp_path: Path
) -> None:
    venv = os.environ.get(UPSTREAM_VENV_ENV, "")
    if not venv or not (Path(venv) / "bin" / "mistral-db-manage").exists():
        pytest.skip(f"set {UPSTREAM_VENV_ENV} to an environment with upstream Mistral "
                    "(tests/reference/refresh makes one)")
    for dialect in ("postgresql", "mysql"):
        server_availability.ensure(dialect)
    process = subprocess.run(
        [sys.executable, str(REFERENCE_DIR / "refresh"), "--venv", venv, "--out", str(tmp_path),
         "--revisions", "045", "--parts", "dumps,history"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert process.returncode == 0, process.stderr
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert len(written) == 3  # 045 on each server, history.txt
    for relative in written:
        assert (tmp_path / relative).read_bytes() == (REFERENCE_DIR / relative).read_bytes()
