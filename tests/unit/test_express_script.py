"""The express path's rendered statements are what the full path would send."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mistral_db_manage.runner import express
from mistral_db_manage.runner.chain import Chain
from mistral_db_manage.runner.driver import PlainUrl, parse_plain_url
from mistral_db_manage.runner.execute import state_at

CHAIN = Chain.load()


def test_rendered_file_is_current() -> None:
    stored = json.loads(express.resource_path().read_text(encoding="utf-8"))
    assert stored == express.render_scripts(CHAIN), (
        "runner/resources/express.json is stale: run "
        "`python -m mistral_db_manage.runner.express` and commit the file"
    )


def test_script_loads_for_every_dialect() -> None:
    for dialect in express.DIALECTS:
        script = express.load_script(dialect)
        assert script is not None
        assert script.revision == CHAIN.head
        assert script.chain_digest == express.chain_digest(CHAIN)
        # every table of the head schema is created, once
        created = [s.split("(")[0].split()[-1].strip("`\"") for s in map(str.strip, script.schema)
                   if s.startswith("CREATE TABLE")]
        tables = state_at(CHAIN, dialect, CHAIN.head).tables
        assert sorted(created) == sorted(tables) and len(tables) == 17
        # the only rows an empty database gets: 044's metrics row
        inserts = [s for statements in script.seeds for s in statements
                   if s.lstrip().upper().startswith("INSERT")]
        assert len(inserts) == 1 and "mistral_metrics" in inserts[0]


def test_a_changed_chain_is_not_created_from_the_file(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    shutil.copytree(CHAIN.revisions[0].path.parent, versions,
                    ignore=shutil.ignore_patterns("__pycache__"))
    # the same revisions, one edited: the digest no longer matches
    last = versions / CHAIN.revisions[-1].path.name
    last.write_text(last.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    edited = Chain.load(versions)
    assert edited.head == CHAIN.head
    assert express.chain_digest(edited) != express.chain_digest(CHAIN)
    database = tmp_path / "mistral.sqlite"
    assert not express.try_create(f"sqlite:///{database}", edited, edited.head,
                                  command="upgrade")
    assert not database.exists()  # refused before connecting


def test_only_head_is_created_express(tmp_path: Path) -> None:
    database = tmp_path / "mistral.sqlite"
    assert not express.try_create(f"sqlite:///{database}", CHAIN, "044", command="upgrade")
    assert not database.exists()


def test_plain_urls() -> None:
    assert parse_plain_url("postgresql://u:p%40ss@db.example:6543/mistral") == PlainUrl(
        "postgresql", host="db.example", port=6543, user="u", password="p@ss",
        database="mistral")
    assert parse_plain_url("postgresql+psycopg2://u@/mistral?host=/run/postgresql") == PlainUrl(
        "postgresql", host="/run/postgresql", port=5432, user="u", database="mistral")
    assert parse_plain_url(
        "mysql+pymysql://root@/mistral?charset=utf8&unix_socket=/run/mysqld/mysqld.sock"
    ) == PlainUrl("mysql", host="localhost", port=3306, user="root", database="mistral",
                  charset="utf8", unix_socket="/run/mysqld/mysqld.sock")
    assert parse_plain_url("sqlite:////var/lib/mistral.db") == PlainUrl(
        "sqlite", path=Path("/var/lib/mistral.db"))
    # anything else is the full path's
    for url in ("postgresql+psycopg://u@h/db", "postgresql://u@h/db?sslmode=require",
                "mysql://root@h/db", "mysql+pymysql://root@h/db?ssl_ca=/x",
                "sqlite://", "sqlite:///:memory:", "sqlite:///db?mode=ro",
                "postgresql://u@h:notaport/db", "postgresql://u@h/"):
        assert parse_plain_url(url) is None, url
