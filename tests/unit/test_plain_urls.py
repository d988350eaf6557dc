"""Which URLs the bare driver of a fast ``current`` opens (runner/driver.py), and with what.

The URL is split by :mod:`mistral_db_manage.runner.dburl`, the one parser; the
bare driver only decides which of the parsed URLs it may open itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mistral_db_manage.runner.dburl import parse_url
from mistral_db_manage.runner.driver import PlainUrl, parse_plain_url


def test_plain_urls() -> None:
    raw = "postgresql://u:p%40ss@db.example:6543/mistral"
    assert parse_plain_url(raw) == PlainUrl(parse_url(raw), host="db.example", port=6543)
    raw = "postgresql+psycopg2://u@/mistral?host=/run/postgresql"
    assert parse_plain_url(raw) == PlainUrl(parse_url(raw), host="/run/postgresql", port=5432)
    raw = "postgresql://u@/mistral?host=/run/postgresql&port=5433"
    assert parse_plain_url(raw) == PlainUrl(parse_url(raw), host="/run/postgresql", port=5433)
    raw = "mysql+pymysql://root@/mistral?charset=utf8&unix_socket=/run/mysqld/mysqld.sock"
    assert parse_plain_url(raw) == PlainUrl(parse_url(raw), host="localhost", port=3306)
    raw = "mariadb+pymysql://root:pw@db:3307/mistral"
    assert parse_plain_url(raw) == PlainUrl(parse_url(raw), host="db", port=3307)
    raw = "sqlite:////var/lib/mistral.db"
    assert parse_plain_url(raw) == PlainUrl(
        parse_url(raw), path=Path("/var/lib/mistral.db").resolve()
    )
    plain = parse_plain_url("postgresql://u:p%40ss@db.example:6543/mistral")
    assert plain is not None
    assert (plain.url.username, plain.url.password, plain.url.database) == ("u", "p@ss", "mistral")


@pytest.mark.parametrize(
    "raw",
    [
        "postgresql+psycopg://u@h/db",  # another driver
        "postgresql://u@h/db?sslmode=require",  # a parameter the bare driver does not take
        "postgresql://u@h/db?host=a&host=b",  # several hosts: SQLAlchemy tries each
        "mysql://root@h/db",  # MySQLdb
        "mysql+pymysql://root@h/db?ssl_ca=/x",
        "mysql+pymysql://root@h",  # no database
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///db?mode=ro",  # no parameters for SQLite
        "sqlite:///file:m.db?uri=true",
        "sqlite+pysqlite:////abs/m.db",
        "postgresql://u@h:notaport/db",
        "postgresql://u@h/db?port=x",
        "postgresql://u@h/",  # no database
        "postgresql:///mistral",  # no host: libpq's defaults are the full path's
        "mysql+pymysql://root@/mistral",
        "mysql+pymysql://u:ab@cd@h/db",  # refused by the parser: the full path explains
        "sqlite://mistral.db",
        "oracle://scott@db/x",
        "",
    ],
)
def test_anything_else_is_the_full_paths(raw: str) -> None:
    assert parse_plain_url(raw) is None


def test_sqlite_file_is_the_resolved_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "data" / "mistral.sqlite"
    real.parent.mkdir()
    (tmp_path / "link").symlink_to(real.parent)
    monkeypatch.chdir(tmp_path)
    plain = parse_plain_url("sqlite:///link/mistral.sqlite")
    assert plain is not None and plain.path == real
    decoded = parse_plain_url("sqlite:///my%20db.sqlite")
    assert decoded is not None and decoded.path == tmp_path / "my db.sqlite"
