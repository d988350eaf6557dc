"""Every mistake an operator can make ends in one line on stderr, a non-zero exit,
no traceback, and an unchanged database."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from dbs import FreshDatabase
from helpers import CliResult, run_cli, write_config


def assert_one_line_error(result: CliResult, *fragments: str, code: int = 1) -> None:
    assert result.returncode == code, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mistral-db-manage: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_no_configuration_at_all(tmp_path: Path) -> None:
    result = run_cli("upgrade", "head", cwd=tmp_path)
    assert_one_line_error(result, "no database connection", "--config-file")


def test_config_file_missing(tmp_path: Path) -> None:
    result = run_cli("--config-file", str(tmp_path / "nope.conf"), "current", cwd=tmp_path)
    assert_one_line_error(result, "nope.conf")


def test_config_file_malformed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text("[database\nconnection = sqlite://\n", encoding="utf-8")
    result = run_cli("--config-file", str(bad), "upgrade", "head", cwd=tmp_path)
    assert_one_line_error(result, "bad.conf", "line 1")


def test_config_without_connection(tmp_path: Path) -> None:
    conf = tmp_path / "mistral.conf"
    conf.write_text("[DEFAULT]\ndebug = True\n[keystone_authtoken]\nauth_url = x\n",
                    encoding="utf-8")
    result = run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path)
    assert_one_line_error(result, "[database]", "connection")


def test_unknown_url_scheme(tmp_path: Path) -> None:
    conf = write_config(tmp_path, "oracle2://scott@db/mistral")
    result = run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path)
    assert_one_line_error(result, "oracle2")


def test_driver_not_installed_names_the_extra(tmp_path: Path) -> None:
    shim = tmp_path / "shim" / "psycopg2"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('No module named psycopg2')\n",
                                      encoding="utf-8")
    conf = write_config(tmp_path, "postgresql://mistral@127.0.0.1/mistral")
    result = run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path,
                     env={"PYTHONPATH": str(tmp_path / "shim")})
    assert_one_line_error(result, "mistral-db-manage[postgresql]")


def test_server_unreachable(tmp_path: Path) -> None:
    conf = write_config(tmp_path, "postgresql+psycopg2://postgres@127.0.0.1:1/mistral")
    result = run_cli("--config-file", str(conf), "current", cwd=tmp_path)
    assert_one_line_error(result, "127.0.0.1:1")


def test_wrong_credentials(mysql_db: FreshDatabase, tmp_path: Path) -> None:
    url = sa.make_url(mysql_db.url).set(username="nosuchuser", password="wrong")
    conf = write_config(tmp_path, url.render_as_string(hide_password=False))
    result = run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path)
    assert_one_line_error(result, "nosuchuser")
    assert "wrong" not in result.stderr
    assert mysql_db.table_names() == []


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run_cli("--debug", "--config-file", str(tmp_path / "nope.conf"), "current",
                     cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_bare_stamp_is_a_usage_error(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    assert run_cli("--config-file", str(conf), "upgrade", "002", cwd=tmp_path).returncode == 0
    result = run_cli("--config-file", str(conf), "stamp", cwd=tmp_path)
    assert result.returncode == 2
    assert "revision" in result.stderr
    current = run_cli("--config-file", str(conf), "current", cwd=tmp_path)
    assert current.stdout.strip() == "002"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("upgrade", "999"), "unknown revision '999'"),
        (("upgrade", "+46"), "only 45 remain"),
        (("upgrade", "--delta", "50"), "only 45 remain"),
        (("upgrade", "001:005"), "only valid with --sql"),
        (("stamp", "nope"), "unknown revision 'nope'"),
    ],
)
def test_bad_targets_change_nothing(
    fresh_db: FreshDatabase, tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    result = run_cli("--config-file", str(conf), *args, cwd=tmp_path)
    assert_one_line_error(result, fragment)
    assert fresh_db.table_names() == []


def test_database_ahead_of_this_tool(fresh_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    assert run_cli("--config-file", str(conf), "upgrade", "head", cwd=tmp_path).returncode == 0
    engine = fresh_db.engine()
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = '099'"))
        before = fresh_db.table_names()
        for command in (("current",), ("upgrade", "head"), ("status",)):
            result = run_cli("--config-file", str(conf), *command, cwd=tmp_path)
            assert_one_line_error(result, "'099'", "newer tool", code=4)
        assert fresh_db.table_names() == before
        with engine.connect() as connection:
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert version.scalar() == "099"
    finally:
        engine.dispose()
