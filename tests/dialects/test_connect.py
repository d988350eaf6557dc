"""Tests for mistral_db_manage.runner.connect: URL checks, engines, and connect-time errors.

The server tests use PostgreSQL at 127.0.0.1:5432 and MariaDB at 127.0.0.1:3306.
They skip when a server is not reachable, unless ``MDM_REQUIRE_SERVERS``
contains the server's name (``postgresql``, ``mysql``): then they fail.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

from mistral_db_manage.errors import (
    ConfigError,
    DatabaseConnectionError,
    DriverMissingError,
    MistralDbManageError,
)
from mistral_db_manage.runner.connect import (
    CONNECT_TIMEOUT_SECONDS,
    SUPPORTED_SCHEMES,
    connect_checked,
    create_engine_checked,
    describe_connect_error,
    dialect_name,
    make_url_checked,
)
from mistral_db_manage.runner.dburl import parse_url

SECRET = "s3cr3t-pw"

POSTGRESQL_CANDIDATES = (
    "postgresql+psycopg2://root@127.0.0.1:5432/test",
    "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
)
MYSQL_CANDIDATES = ("mysql+pymysql://root@127.0.0.1:3306/test",)


# --------------------------------------------------------------------------- helpers


def server_url(name: str, candidates: tuple[str, ...]) -> str:
    """A working URL for server ``name``; skip, or fail when MDM_REQUIRE_SERVERS names it."""
    problems: list[str] = []
    for url in candidates:
        engine = create_engine_checked(url)
        try:
            with connect_checked(engine) as conn:
                conn.exec_driver_sql("SELECT 1")
            return url
        except MistralDbManageError as exc:
            problems.append(str(exc))
        finally:
            engine.dispose()
    reason = f"{name} server not available: {' | '.join(problems)}"
    if name in os.environ.get("MDM_REQUIRE_SERVERS", ""):
        pytest.fail(f"{reason} (required by MDM_REQUIRE_SERVERS)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def pg_url() -> str:
    return server_url("postgresql", POSTGRESQL_CANDIDATES)


@pytest.fixture(scope="module")
def mysql_url() -> str:
    return server_url("mysql", MYSQL_CANDIDATES)


def connect_error(url: str) -> str:
    """Connect to ``url`` and return the DatabaseConnectionError message."""
    engine = create_engine_checked(url)
    try:
        with pytest.raises(DatabaseConnectionError) as info:
            connect_checked(engine).close()
    finally:
        engine.dispose()
    message = str(info.value)
    assert "\n" not in message
    assert SECRET not in message
    return message


@pytest.fixture
def disposing() -> Iterator[list[Engine]]:
    engines: list[Engine] = []
    yield engines
    for engine in engines:
        engine.dispose()


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize("scheme", [s for s in SUPPORTED_SCHEMES if s != "sqlite"])
def test_supported_schemes_parse(scheme: str) -> None:
    url = make_url_checked(f"{scheme}://u:{SECRET}@h/db")
    assert url.drivername == scheme
    assert url.password == SECRET


def test_sqlite_scheme_parses() -> None:
    url = make_url_checked("sqlite:///db")
    assert (url.drivername, url.database) == ("sqlite", "db")


def test_sqlite_url_with_credentials_is_refused() -> None:
    # SQLAlchemy's make_url reads it, but its SQLite dialect refuses it when the
    # engine is created: the URL parser says so at once, in one line.
    for call in (make_url_checked, create_engine_checked):
        with pytest.raises(ConfigError) as info:
            call(f"sqlite://u:{SECRET}@h/db")
        message = str(info.value)
        assert "is not a valid SQLite URL (a SQLite URL names no user, password, host" in message
        assert SECRET not in message


def test_unencoded_at_in_password_is_refused() -> None:
    # SQLAlchemy would end the password at the first "@" and try to reach a host
    # named after the rest of it ("cd@h"), showing that piece of the password.
    raw = "mysql+pymysql://u:ab@cdS3cret@h/db"
    for call in (make_url_checked, create_engine_checked, dialect_name):
        with pytest.raises(ConfigError) as info:
            call(raw)
        message = str(info.value)
        assert "write each '@' of the password" in message and "as %40" in message
        assert "S3cret" not in message and "\n" not in message


@pytest.mark.parametrize(
    "raw", ["not a url", f"mysql+pymysql://u:{SECRET}@h:notaport/db", "://nothing"]
)
def test_malformed_url(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_url_checked(raw)
    message = str(info.value)
    assert "not a valid database URL" in message
    assert "postgresql+psycopg2://" in message  # an example of the expected shape
    assert SECRET not in message
    assert "\n" not in message


def test_malformed_port_is_explained() -> None:
    with pytest.raises(ConfigError, match="the port is not a number"):
        make_url_checked(f"mysql+pymysql://u:{SECRET}@h:abc/db")


def test_empty_url() -> None:
    with pytest.raises(ConfigError, match=r"\[database\] connection is empty"):
        make_url_checked("   ")


@pytest.mark.parametrize(
    "raw", [f"oracle://u:{SECRET}@h/db", f"postgresql+psycopg://u:{SECRET}@h/db", "mssql://h/db"]
)
def test_unknown_scheme_lists_supported(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_url_checked(raw)
    message = str(info.value)
    assert f"unsupported database URL scheme {raw.split('://')[0]!r}" in message
    assert ", ".join(SUPPORTED_SCHEMES) in message
    assert SECRET not in message


def test_postgres_scheme_hint() -> None:
    with pytest.raises(ConfigError, match="write 'postgresql'"):
        make_url_checked(f"postgres://u:{SECRET}@h/db")


@pytest.mark.parametrize(
    ("raw", "family"),
    [
        ("sqlite:///mistral.sqlite", "sqlite"),
        ("sqlite://", "sqlite"),
        ("sqlite+pysqlite:////abs/m.db", "sqlite"),
        ("postgresql://u@h/db", "postgresql"),
        ("postgresql+psycopg2://u@h/db", "postgresql"),
        ("mysql://u@h/db", "mysql"),
        ("mysql+pymysql://u@h/db?charset=utf8", "mysql"),
        ("mariadb+pymysql://u@h/db", "mysql"),
        ("mariadb://u@h/db", "mysql"),
    ],
)
def test_dialect_name(raw: str, family: str) -> None:
    assert dialect_name(raw) == family


def test_dialect_name_needs_no_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("psycopg2", "pymysql", "MySQLdb"):
        monkeypatch.setitem(sys.modules, module, None)  # makes "import module" fail
    assert dialect_name("postgresql+psycopg2://u@h/db") == "postgresql"
    assert dialect_name("mysql+pymysql://u@h/db") == "mysql"
    assert dialect_name("mysql://u@h/db") == "mysql"


def test_dialect_name_rejects_unknown_scheme() -> None:
    with pytest.raises(ConfigError, match="unsupported database URL scheme"):
        dialect_name("oracle://h/db")


# --------------------------------------------------------------------------- engines


def test_engine_keeps_url_and_adds_timeout(disposing: list[Engine]) -> None:
    raw = f"mysql+pymysql://mistral:{SECRET}@db.example.com/mistral?charset=utf8"
    engine = create_engine_checked(raw)
    disposing.append(engine)
    assert engine.url == make_url(raw)  # the operator's URL is not altered
    assert isinstance(engine.pool, NullPool)
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    assert kwargs["charset"] == "utf8"
    assert "connect_timeout" not in engine.url.query


def test_engine_timeout_in_connect_args(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    real = sqlalchemy.create_engine

    def spy(url: str | URL, **kwargs: Any) -> Engine:
        seen.update(kwargs)
        return real(url, **kwargs)

    monkeypatch.setattr(sqlalchemy, "create_engine", spy)
    create_engine_checked("postgresql+psycopg2://u@h/db").dispose()
    assert seen["connect_args"] == {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    assert seen["poolclass"] is NullPool

    seen.clear()
    create_engine_checked(
        "postgresql+psycopg2://u@h/db", connect_args={"connect_timeout": 3, "x": 1}
    ).dispose()
    assert seen["connect_args"] == {"connect_timeout": 3, "x": 1}

    seen.clear()
    create_engine_checked("mysql+pymysql://u@h/db?connect_timeout=2").dispose()
    assert "connect_args" not in seen

    seen.clear()
    create_engine_checked("sqlite://").dispose()
    assert "connect_args" not in seen


def test_driver_missing_psycopg2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    for scheme in ("postgresql", "postgresql+psycopg2"):
        with pytest.raises(DriverMissingError) as info:
            create_engine_checked(f"{scheme}://u:{SECRET}@h/db")
        message = str(info.value)
        assert f"URL scheme {scheme}://" in message
        assert "psycopg2" in message
        assert "-m pip install psycopg2-binary (what the extra 'mistral-db-manage[postgresql]'" \
            in message
        assert SECRET not in message
        assert "\n" not in message


def test_driver_missing_pymysql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymysql", None)
    for scheme in ("mysql+pymysql", "mariadb+pymysql"):
        with pytest.raises(DriverMissingError) as info:
            create_engine_checked(f"{scheme}://u:{SECRET}@h/db")
        message = str(info.value)
        assert "PyMySQL" in message
        assert "-m pip install PyMySQL (what the extra 'mistral-db-manage[mysql]'" in message
        assert SECRET not in message


def test_driver_missing_mysqldb_suggests_pymysql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "MySQLdb", None)
    with pytest.raises(DriverMissingError) as info:
        create_engine_checked(f"mysql://u:{SECRET}@h/db")
    message = str(info.value)
    assert "MySQLdb" in message
    assert "mysql+pymysql://" in message
    assert "-m pip install PyMySQL (what the extra 'mistral-db-manage[mysql]'" in message
    assert SECRET not in message


def test_sqlite_relative_path_is_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, disposing: list[Engine]
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = create_engine_checked("sqlite:///mistral.sqlite")
    disposing.append(engine)
    with connect_checked(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    assert (tmp_path / "mistral.sqlite").is_file()


def test_sqlite_missing_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatabaseConnectionError) as info:
        create_engine_checked("sqlite:///no/such/dir/mistral.sqlite")
    message = str(info.value)
    assert f"the directory {tmp_path / 'no/such/dir'}" in message
    assert "does not exist" in message
    assert "relative path" in message
    assert str(tmp_path) in message

    with pytest.raises(DatabaseConnectionError, match="does not exist; create it") as info:
        create_engine_checked(f"sqlite:///{tmp_path}/absent/m.db")
    assert "relative path" not in str(info.value)


def test_sqlite_memory_and_uri_are_not_checked(disposing: list[Engine]) -> None:
    for raw in ("sqlite://", "sqlite:///:memory:"):
        engine = create_engine_checked(raw)
        disposing.append(engine)
        with connect_checked(engine) as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1


def test_sqlite_path_is_a_directory(tmp_path: Path, disposing: list[Engine]) -> None:
    (tmp_path / "adir").mkdir()
    engine = create_engine_checked(f"sqlite:///{tmp_path}/adir")
    disposing.append(engine)
    with pytest.raises(DatabaseConnectionError) as info:
        connect_checked(engine)
    message = str(info.value)
    assert f"cannot open the SQLite database {tmp_path / 'adir'}" in message
    assert "not a directory" in message


def test_unknown_query_parameter(disposing: list[Engine]) -> None:
    engine = create_engine_checked(f"mysql+pymysql://u:{SECRET}@127.0.0.1:1/m?bogus_option=1")
    disposing.append(engine)
    with pytest.raises(ConfigError) as info:
        connect_checked(engine)
    message = str(info.value)
    assert "bogus_option" in message
    assert "remove or correct the ?parameter" in message
    assert SECRET not in message


def test_unknown_query_parameter_hides_a_password_parameter(disposing: list[Engine]) -> None:
    engine = create_engine_checked(f"mysql+pymysql://u@127.0.0.1:1/m?bogus=1&password={SECRET}")
    disposing.append(engine)
    with pytest.raises(ConfigError) as info:
        connect_checked(engine)
    message = str(info.value)
    assert "password=***" in message and "bogus" in message
    assert SECRET not in message


def test_uppercase_scheme_makes_an_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, disposing: list[Engine]
) -> None:
    # SQLAlchemy's dialect registry knows lower-case names only.
    monkeypatch.chdir(tmp_path)
    engine = create_engine_checked("SQLite:///m.db")
    disposing.append(engine)
    with connect_checked(engine) as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    assert (tmp_path / "m.db").is_file()
    engine = create_engine_checked("PostgreSQL://u@h/db")
    disposing.append(engine)
    assert engine.dialect.driver == "psycopg2"
    assert make_url_checked("MySQL+PyMySQL://u@h/db").drivername == "MySQL+PyMySQL"  # as written


def test_sqlite_messages_name_the_real_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatabaseConnectionError, match=r"the directory .* does not exist") as info:
        create_engine_checked("sqlite:///link/absent/m.db")
    assert f"the directory {tmp_path / 'real' / 'absent'} of the SQLite database" in str(info.value)
    (tmp_path / "real" / "adir").mkdir()
    error = describe_connect_error(parse_url("sqlite:///link/adir"), Exception("unable to open"))
    assert f"cannot open the SQLite database {tmp_path / 'real' / 'adir'} (" in str(error)


# --------------------------------------------------------------------------- error mapping


class FakeMySQLError(Exception):
    pass


@pytest.mark.parametrize(
    ("url", "error", "expected"),
    [
        (
            "postgresql+psycopg2://u@db.example.com/m",
            Exception("timeout expired\n"),
            "timed out connecting to the PostgreSQL server at db.example.com:5432",
        ),
        (
            "mysql+pymysql://u@db.example.com:3307/m",
            FakeMySQLError(2003, "Can't connect to MySQL server on 'db.example.com' (timed out)"),
            "timed out connecting to the MySQL/MariaDB server at db.example.com:3307",
        ),
        (
            "postgresql+psycopg2://u@db.example.com/m",
            Exception(
                'connection to server at "x", port 5432 failed: FATAL:  password '
                'authentication failed for user "u"\n'
            ),
            "rejected user 'u' (password authentication failed for user \"u\")",
        ),
        (
            "postgresql+psycopg2://u@h/m",
            Exception(
                'connection to server at "h", port 5432 failed: FATAL:  no pg_hba.conf '
                "entry for host ...\n"
            ),
            "rejected user 'u'",
        ),
        (
            "mysql+pymysql://u@h/m",
            FakeMySQLError(1044, "Access denied for user 'u'@'%' to database 'm'"),
            "user 'u' may not use database 'm'",
        ),
        (
            "postgresql+psycopg2://u@h/m",
            Exception("could not connect to server: No such file or directory\n"),
            "cannot reach the PostgreSQL server at h:5432",
        ),
        (
            "postgresql+psycopg2:///m",
            Exception("could not connect to server: No such file or directory\n"),
            "cannot reach the PostgreSQL server at the default local socket",
        ),
        (
            "mysql+pymysql://u@h/m",
            FakeMySQLError(9999, "something unusual"),
            "cannot connect to the MySQL/MariaDB server at h:3306 as user 'u', database 'm': "
            "something unusual",
        ),
    ],
)
def test_describe_connect_error(url: str, error: Exception, expected: str) -> None:
    message = str(describe_connect_error(make_url(url), error))
    assert expected in message
    assert "\n" not in message


def test_describe_connect_error_scrubs_password() -> None:
    url = make_url(f"mysql+pymysql://u:{SECRET}@h/m")
    message = str(describe_connect_error(url, FakeMySQLError(9999, f"weird {SECRET} echo")))
    assert SECRET not in message
    assert "***" in message


# --------------------------------------------------------------------------- no server needed


@pytest.mark.parametrize(
    "raw",
    [
        f"postgresql+psycopg2://u:{SECRET}@nosuchhost.invalid/mistral",
        f"mysql+pymysql://u:{SECRET}@nosuchhost.invalid/mistral",
    ],
)
def test_unknown_host(raw: str) -> None:
    message = connect_error(raw)
    assert "cannot resolve the host name 'nosuchhost.invalid'" in message
    assert "check the host in [database] connection" in message


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        (f"postgresql+psycopg2://u:{SECRET}@127.0.0.1:1/mistral", "PostgreSQL"),
        (f"mysql+pymysql://u:{SECRET}@127.0.0.1:1/mistral", "MySQL/MariaDB"),
    ],
)
def test_unreachable_port(raw: str, label: str) -> None:
    message = connect_error(raw)
    assert f"cannot reach the {label} server at 127.0.0.1:1" in message
    assert "connection refused" in message.lower()
    assert "check that the server is running" in message


# --------------------------------------------------------------------------- PostgreSQL


def test_postgresql_good_connection(pg_url: str, disposing: list[Engine]) -> None:
    engine = create_engine_checked(pg_url)
    disposing.append(engine)
    with connect_checked(engine) as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    assert dialect_name(pg_url) == "postgresql"


def test_postgresql_unknown_database(pg_url: str) -> None:
    url = make_url(pg_url).set(database="mdm_no_such_database", password=SECRET)
    message = connect_error(url.render_as_string(hide_password=False))
    assert "database 'mdm_no_such_database' does not exist" in message
    assert "on the PostgreSQL server at 127.0.0.1:5432" in message
    assert "CREATE DATABASE mdm_no_such_database" in message


def test_postgresql_unknown_role(pg_url: str) -> None:
    # The server trusts local users, so a wrong password is not rejected; an
    # unknown role is.
    url = make_url(pg_url).set(username="mdm_nosuchuser", password=SECRET)
    message = connect_error(url.render_as_string(hide_password=False))
    assert "the PostgreSQL server at 127.0.0.1:5432 rejected user 'mdm_nosuchuser'" in message
    assert "check the user name and password" in message


# --------------------------------------------------------------------------- MariaDB


def test_mysql_good_connection(mysql_url: str, disposing: list[Engine]) -> None:
    engine = create_engine_checked(mysql_url)
    disposing.append(engine)
    with connect_checked(engine) as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    assert dialect_name(mysql_url) == "mysql"


def test_mysql_wrong_credentials(mysql_url: str) -> None:
    url = make_url(mysql_url).set(username="nosuchuser", password=SECRET)
    message = connect_error(url.render_as_string(hide_password=False))
    assert "the MySQL/MariaDB server at 127.0.0.1:3306 rejected user 'nosuchuser'" in message
    assert "Access denied" in message
    assert "check the user name and password in [database] connection" in message


def test_mysql_unknown_database(mysql_url: str) -> None:
    url = make_url(mysql_url).set(database="mdm_no_such_database")
    message = connect_error(url.render_as_string(hide_password=False))
    assert "database 'mdm_no_such_database' does not exist" in message
    assert "on the MySQL/MariaDB server at 127.0.0.1:3306" in message


def test_mariadb_scheme_connects(mysql_url: str, disposing: list[Engine]) -> None:
    url = make_url(mysql_url).set(drivername="mariadb+pymysql")
    engine = create_engine_checked(url.render_as_string(hide_password=False))
    disposing.append(engine)
    with connect_checked(engine) as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1


def test_bare_postgresql_scheme_means_psycopg2(disposing: list[Engine]) -> None:
    # SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql://; upstream
    # configurations (oslo.db) mean psycopg2, which the [postgresql] extra installs.
    engine = create_engine_checked("postgresql://mistral@db.example.com/mistral")
    disposing.append(engine)
    assert engine.dialect.driver == "psycopg2"
    assert engine.url.host == "db.example.com"
    assert engine.url.database == "mistral"


def test_bare_postgresql_scheme_good_connection(pg_url: str, disposing: list[Engine]) -> None:
    url = make_url(pg_url).set(drivername="postgresql")
    engine = create_engine_checked(url.render_as_string(hide_password=False))
    disposing.append(engine)
    with connect_checked(engine) as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
