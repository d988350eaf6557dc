"""The rendered creation file holds what the runner would render now, and is used
only for the chain it was rendered from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mistral_db_manage.runner import creation
from mistral_db_manage.runner.chain import Chain
from mistral_db_manage.schema.history import state_at
from mistral_db_manage.schema.state import DIALECTS

CHAIN = Chain.load()


def test_rendered_file_is_current() -> None:
    stored = json.loads(creation.resource_path().read_text(encoding="utf-8"))
    assert stored == creation.rendered_file(CHAIN), (
        "runner/resources/creation.json is stale: run "
        "`python -m mistral_db_manage.runner.creation` and commit the file"
    )


def test_script_of_every_dialect() -> None:
    assert CHAIN.head is not None
    for dialect in DIALECTS:
        script = creation.creation_script(CHAIN, dialect, CHAIN.head)
        assert script.revision == CHAIN.head
        # every table of the head schema is created, once
        created = [s.split("(")[0].split()[-1].strip("`\"")
                   for s in map(str.strip, script.schema) if s.startswith("CREATE TABLE")]
        tables = state_at(CHAIN, dialect, CHAIN.head).tables
        assert sorted(created) == sorted(tables) and len(tables) == 17
        # the only rows an empty database gets: 044's metrics row
        inserts = [s for statements in script.seeds for s in statements
                   if s.lstrip().upper().startswith("INSERT")]
        assert len(inserts) == 1 and "mistral_metrics" in inserts[0]


def test_a_changed_chain_is_rendered_again(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    versions = tmp_path / "versions"
    shutil.copytree(CHAIN.revisions[0].path.parent, versions,
                    ignore=shutil.ignore_patterns("__pycache__"))
    # the same revisions, one edited: the digest no longer matches
    last = versions / CHAIN.revisions[-1].path.name
    last.write_text(last.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    edited = Chain.load(versions)
    assert edited.head == CHAIN.head
    assert creation.chain_digest(edited) != creation.chain_digest(CHAIN)
    rendered: list[str] = []
    real = creation.render_script

    def spy(chain: Chain, dialect: str, end: str) -> creation.CreationScript:
        rendered.append(end)
        return real(chain, dialect, end)

    monkeypatch.setattr(creation, "render_script", spy)
    assert edited.head is not None
    assert creation.creation_script(CHAIN, "postgresql", CHAIN.head) is not None
    assert rendered == []  # the file serves the chain it was rendered from
    assert creation.creation_script(edited, "postgresql", edited.head) == real(
        edited, "postgresql", edited.head)
    assert creation.creation_script(CHAIN, "postgresql", "044").revision == "044"
    assert rendered == [edited.head, "044"]  # the edited chain and other targets: rendered
