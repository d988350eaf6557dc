"""Tests for mistral_db_manage.runner.dburl: the URL split as SQLAlchemy splits it, and masking.

The corpus below is parsed twice, by :func:`parse_url` and by SQLAlchemy's
``make_url``, and every part must agree.  SQLAlchemy is imported here only to
compare with; the module under test must not import it (last test).
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy
from sqlalchemy.engine import URL, make_url

from mistral_db_manage.errors import ConfigError
from mistral_db_manage.runner.dburl import (
    DRIVERS,
    SUPPORTED_SCHEMES,
    DatabaseUrl,
    dialect_name,
    from_sqlalchemy,
    mask_raw,
    parse_url,
    sqlite_file,
)

# SQLAlchemy 2.0 neither decodes nor encodes the database part; 2.1 does both.
SA_DECODES_DATABASE = tuple(int(n) for n in sqlalchemy.__version__.split(".")[:2]) >= (2, 1)

# --------------------------------------------------------------------------- the corpus

CORPUS = (
    # SQLite: memory, relative, absolute, URI databases
    "sqlite://",
    "sqlite:///",
    "sqlite:///:memory:",
    "sqlite:///mistral.sqlite",
    "sqlite:////abs/path.db",
    "sqlite:////var/lib/mistral/mistral.sqlite",
    "sqlite+pysqlite:////abs/m.db",
    "sqlite:///relative/dir/m.db",
    "sqlite:///./m.db",
    "sqlite:///../m.db",
    "sqlite:////abs/dir/",
    "sqlite:///my%20db.sqlite",
    "sqlite:///file:m.db?mode=ro&uri=true",
    "sqlite:///file::memory:?cache=shared&uri=true",
    "sqlite:///m.db?uri=false",
    "sqlite:///m.db?uri=1&uri=0",
    "sqlite:///m.db?timeout=30",
    "sqlite:///C:/mistral/m.db",
    "sqlite:///with space.db",
    "sqlite:///caf%C3%A9.db",
    "SQLite:///M.db",
    "SQLITE:////TMP/x.db",
    # PostgreSQL
    "postgresql+psycopg2://user:pw@host:5432/mistral",
    "postgresql://mistral:secret@db.example.com/mistral",
    "postgresql://u@h/db",
    "postgresql://u:@h/db",
    "postgresql://h/db",
    "postgresql://@h/db",
    "postgresql:///mistral",
    "postgresql:///mistral?host=/var/run/postgresql",
    "postgresql+psycopg2://u:pw@/mistral?host=/run/postgresql&port=5433",
    "postgresql://u:p%40ss%3Aw%2Fo%25rd@h/db",
    "postgresql://u:pa+ss@h/db",
    "postgresql://u:pa%2Bss@h/db",
    "postgresql://u:pa ss@h/db",
    "postgresql://u:p:a:s:s@h/db",
    "postgresql://u:pa/ss@h/db",
    "postgresql://u:pa?ss#x@h/db",
    "postgresql://u%40corp:pw@h/db",
    "postgresql://u@x@h/db",
    "postgresql://u:pw@[::1]:5432/db",
    "postgresql://u:pw@[fe80::1%25eth0]/db",
    "postgresql://[2001:db8::5]/db",
    "postgresql://[::1]",
    "postgresql://[a]b]/db",
    "postgresql://u:pw@h:5432/",
    "postgresql://u:pw@h:5432",
    "postgresql://h",
    "postgresql://u:pw@h/db?sslmode=require&application_name=mistral",
    "postgresql://u:pw@h/db?options=-c%20search_path%3Dx",
    "postgresql://h/db?host=a&host=b",
    "postgresql://h/db?a=1&a=2&a=3&b=x",
    "postgresql://h/db?sslmode=",
    "postgresql://h/db?flag",
    "postgresql://h/db?",
    "postgresql://h/my%2Fdb",
    "postgresql://h/db%3Fx",
    "postgresql://u:p@h/db#fragment",
    "postgresql://u:p@h:+5432/db",
    "postgresql://u:p@h: 5432 /db",
    "postgresql://u:p@h:\u0665\u0664\u0663\u0662/db",
    "POSTGRESQL://h/db",
    "PostgreSQL+Psycopg2://u:p@h/db",
    # MySQL / MariaDB
    "mysql+pymysql://u:p@h/db?charset=utf8",
    "mysql+pymysql://mistral:pw@db:3306/mistral?charset=utf8mb4",
    "mysql://u:p@h/db",
    "mysql+pymysql://u:p@localhost/db?unix_socket=/var/run/mysqld/mysqld.sock",
    "mysql+pymysql://u@/db?unix_socket=/tmp/mysql.sock",
    "mariadb+pymysql://u:p@h/db",
    "mariadb://u:p@h:3307/db",
    "mysql+mysqldb://u:p@h/db",
    "mariadb+mysqldb://u:p@h/db",
    "MySQL+PyMySQL://u:p@h/db",
    "mysql+pymysql://u:p@h/db?charset=utf8&read_timeout=5&read_timeout=6",
    "mysql+pymysql://u:p%23w%24rd@h/db",
    "mysql+pymysql://u:p#w$rd@h/db",
    "mysql+pymysql://u:p@h/db?init_command=SET%20x%3D1",
    "mysql+pymysql://u:p@h/db?q=a+b",
    "mysql+pymysql://u:p@127.0.0.1:3306/db",
    "mysql+pymysql://u:p@h:03306/db",
    "mysql+pymysql://u:%E2%82%AC@h/db",
    "mysql+pymysql://u:%ff@h/db",
    "mysql+pymysql://u:p%@h/db",
    "mysql+pymysql://u:p@h/db?password=x",
    "mysql+pymysql://u:p@h/d%20b",
    "mysql+pymysql://u:p@h/db?ssl_ca=/etc/ca.pem&ssl_check_hostname=false",
    "mysql+pymysql://u:p@my-host.example.com/db",
    "mysql+pymysql://u:p@h/db/extra",
    "mysql+pymysql://u:p@h:-1/db",
)

# Expected dialect family and DB-API module, by lowercased drivername.
FAMILY = {
    "sqlite": ("sqlite", "sqlite3"),
    "sqlite+pysqlite": ("sqlite", "sqlite3"),
    "postgresql": ("postgresql", "psycopg2"),
    "postgresql+psycopg2": ("postgresql", "psycopg2"),
    "mysql": ("mysql", "MySQLdb"),
    "mysql+mysqldb": ("mysql", "MySQLdb"),
    "mysql+pymysql": ("mysql", "pymysql"),
    "mariadb": ("mysql", "MySQLdb"),
    "mariadb+mysqldb": ("mysql", "MySQLdb"),
    "mariadb+pymysql": ("mysql", "pymysql"),
}


def test_corpus_is_large_and_distinct() -> None:
    assert len(CORPUS) >= 60
    assert len(set(CORPUS)) == len(CORPUS)


def _needs_sa21(raw: str) -> None:
    database = raw.split("://", 1)[1].split("?", 1)[0]
    if not SA_DECODES_DATABASE and "%" in database.partition("/")[2]:
        pytest.skip("SQLAlchemy 2.0 leaves the database percent-encoded")


# --------------------------------------------------------------------------- (a) differential


@pytest.mark.parametrize("raw", CORPUS)
def test_same_parts_as_sqlalchemy(raw: str) -> None:
    _needs_sa21(raw)
    expected = make_url(raw)
    parsed = parse_url(raw)
    built = parsed.to_sqlalchemy()

    assert isinstance(built, URL)
    assert built == expected
    assert built.render_as_string(hide_password=False) == expected.render_as_string(
        hide_password=False
    )
    assert parsed.drivername == expected.drivername
    assert parsed.username == expected.username
    assert parsed.password == expected.password
    assert parsed.host == expected.host
    assert parsed.port == expected.port
    assert parsed.database == expected.database
    assert dict(parsed.query_mapping) == dict(expected.query)
    assert dict(built.query) == dict(expected.query)
    assert (parsed.dialect, parsed.driver) == FAMILY[expected.drivername.lower()]
    assert parsed.scheme == expected.drivername.lower()
    assert dialect_name(raw) == parsed.dialect


@pytest.mark.parametrize("raw", CORPUS)
def test_masked_is_sqlalchemys_rendering(raw: str) -> None:
    """masked() is render_as_string(), except that it also hides a password= parameter."""
    if not SA_DECODES_DATABASE:
        pytest.skip("masked() renders as SQLAlchemy 2.1 does (2.0 does not encode the database)")
    expected = make_url(raw).render_as_string(hide_password=True)
    masked = parse_url(raw).masked()
    if "password=" in raw:
        assert masked == expected.replace("password=x", "password=***")
    else:
        assert masked == expected
    assert repr(parse_url(raw)) == f"DatabaseUrl({masked!r})"
    assert str(parse_url(raw)) == masked


def test_query_keeps_order_and_repeats() -> None:
    url = parse_url("postgresql://h/db?b=2&a=1&b=3&c=x+y&d=%26")
    assert url.query == (("b", "2"), ("a", "1"), ("b", "3"), ("c", "x y"), ("d", "&"))
    assert url.query_mapping == {"b": ("2", "3"), "a": "1", "c": "x y", "d": "&"}


def test_surrounding_whitespace_is_ignored() -> None:
    raw = "  \tpostgresql://u:p@h/db \n"
    assert parse_url(raw).to_sqlalchemy() == make_url(raw.strip())


def test_parts_of_plain_urls() -> None:
    url = parse_url("postgresql+psycopg2://mistral:p%40ss@db.example.com:5433/mistral")
    assert url == DatabaseUrl(
        drivername="postgresql+psycopg2",
        dialect="postgresql",
        driver="psycopg2",
        username="mistral",
        password="p@ss",
        host="db.example.com",
        port=5433,
        database="mistral",
    )
    socket = parse_url("postgresql:///mistral?host=/var/run/postgresql")
    assert socket.host is None
    assert socket.query_mapping == {"host": "/var/run/postgresql"}
    assert parse_url("mysql+pymysql://u@/db?unix_socket=/tmp/m.sock").host is None


# Random text from the characters that matter, after a scheme that is supported or not.
_FUZZ_PIECES = (*":/@?[]#%+=& \n1a_-.", "%40", "%2", "%zz", "\u00e9", "uri=1", "pwd=", "uri=x")
_FUZZ_PREFIXES = (
    "mysql://",
    "sqlite://",
    "sqlite:///",
    "postgresql://u:p@h/",
    "MariaDB://",
    "oracle://",
    "SQLite:",
    "://",
    "",
)
# The reasons parse_url gives for refusing what make_url accepts (see the module docstring).
_DELIBERATE = (
    "unsupported database URL scheme",
    "not a valid SQLite URL",
    "SQLite parameter uri",
    "an '@' comes after",
    "a line break in the query",
    "after an address in [brackets]",
)


def test_random_text_is_split_like_sqlalchemy() -> None:
    generator = random.Random(20261127)
    accepted = 0
    for _ in range(20000):
        raw = generator.choice(_FUZZ_PREFIXES) + "".join(
            generator.choice(_FUZZ_PIECES) for _ in range(generator.randint(0, 12))
        )
        raw = raw.strip()
        try:
            expected: URL | None = make_url(raw)
        except (sqlalchemy.exc.ArgumentError, ValueError):
            expected = None
        try:
            parsed = parse_url(raw)
        except ConfigError as error:
            message = str(error)
            assert "\n" not in message, raw
            assert expected is None or any(reason in message for reason in _DELIBERATE), raw
            continue
        assert expected is not None, raw
        if SA_DECODES_DATABASE or "%" not in raw:
            assert parsed.to_sqlalchemy() == expected, raw
        accepted += 1
    assert accepted > 2000


# --------------------------------------------------------------------------- SQLite files


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ("sqlite://", None),
        ("sqlite:///", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file::memory:?cache=shared&uri=true", None),
        ("sqlite:///file:m.db?mode=ro&uri=true", None),
        ("sqlite:///m.db?uri=YES", None),
        ("sqlite:///m.db?uri=1&uri=0", None),  # SQLAlchemy takes a repeated value as true
        ("sqlite:///m.db?uri=false", "m.db"),
        ("sqlite:///mistral.sqlite", "mistral.sqlite"),
        ("sqlite:///relative/dir/m.db", "relative/dir/m.db"),
        ("sqlite:////abs/path.db", "/abs/path.db"),
        ("sqlite+pysqlite:////abs/m.db", "/abs/m.db"),
        ("SQLite:///my%20db.sqlite", "my db.sqlite"),
        ("postgresql://h/db", None),
    ],
)
def test_sqlite_path(raw: str, path: str | None) -> None:
    url = parse_url(raw)
    if path is None:
        assert url.sqlite_path is None
        assert sqlite_file(url) is None
        assert sqlite_file(raw) is None
    else:
        assert url.sqlite_path == Path(path)
        absolute = Path(path).resolve()
        assert sqlite_file(url) == absolute
        assert sqlite_file(raw) == absolute


def test_sqlite_file_is_taken_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert sqlite_file("sqlite:///sub/m.db") == tmp_path / "sub" / "m.db"


def test_sqlite_file_resolves_symbolic_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock and the backups go beside the real file, whichever link names it."""
    real = tmp_path / "data" / "mistral.sqlite"
    real.parent.mkdir()
    real.touch()
    (tmp_path / "dir-link").symlink_to(real.parent)
    (tmp_path / "file-link.sqlite").symlink_to(real)
    monkeypatch.chdir(tmp_path)
    for raw in ("sqlite:///dir-link/mistral.sqlite", "sqlite:///file-link.sqlite",
                f"sqlite:///{tmp_path}/dir-link/../data/mistral.sqlite"):
        assert sqlite_file(raw) == real, raw
    assert parse_url("sqlite:///file-link.sqlite").sqlite_path == Path("file-link.sqlite")


# --------------------------------------------------------------------------- (b) rejections

SQLALCHEMY_REJECTS = (
    "",
    "not a url",
    "://nothing",
    "mysql+pymysql://u:pw@h:notaport/db",
    "mysql://h:/db",
    "mysql://h:3306x/db",
    "mysql://h:0x10/db",
    "postgresql://h:5432:5433/db",
    "mysql://[::1/db",
    "mysql+pymysql://u:Zq@:/%#Sekr1t@host/db",
    "mysql:/u:pw@h/db",
    "mysql//u:pw@h/db",
    "mysql+pymysql:u:pw@h/db",
    "my-sql://h/db",
    "mysql.pymysql://h/db",
    "-mysql://h/db",
)


@pytest.mark.parametrize("raw", SQLALCHEMY_REJECTS)
def test_rejected_like_sqlalchemy(raw: str) -> None:
    with pytest.raises((sqlalchemy.exc.ArgumentError, ValueError)):
        make_url(raw)
    with pytest.raises(ConfigError) as info:
        parse_url(raw)
    message = str(info.value)
    assert "\n" not in message
    if raw:
        assert "is not a valid database URL" in message
        assert "expected scheme://user:password@host:port/database" in message


def test_rejection_messages() -> None:
    with pytest.raises(ConfigError, match=r"^\[database\] connection is empty; set it"):
        parse_url("  \t ")
    with pytest.raises(ConfigError, match=r"\(the port is not a number\)"):
        parse_url("mysql+pymysql://u:pw@h:abc/db")
    with pytest.raises(ConfigError, match=r"\(the port is not a number\)"):
        parse_url("mysql+pymysql://u:pw@h:/db")
    with pytest.raises(ConfigError, match="does not start with a scheme"):
        parse_url("not a url")


@pytest.mark.parametrize(
    "raw",
    [
        "oracle://u:pw@h/db",
        "postgresql+psycopg://u:pw@h/db",
        "mssql://h/db",
        "sqlite+aiosqlite:///m.db",
        "mysql+aiomysql://u:pw@h/db",
        "postgres://u:pw@h/db",
        "\u00e9://h/db",
    ],
)
def test_unsupported_schemes(raw: str) -> None:
    make_url(raw)  # SQLAlchemy parses them...
    with pytest.raises(ConfigError) as info:  # ...this tool does not support them
        parse_url(raw)
    message = str(info.value)
    scheme = raw.split("://", 1)[0]
    assert message.startswith(f"unsupported database URL scheme {scheme!r} in [database]")
    assert message.endswith(f"supported schemes: {', '.join(SUPPORTED_SCHEMES)}")
    assert make_url(raw).render_as_string(hide_password=True) in message
    assert ":pw@" not in message
    if scheme == "postgres":
        assert "write 'postgresql'" in message


# URLs that SQLAlchemy's make_url accepts but parse_url rejects on purpose: they
# cannot work, and SQLAlchemy reads them other than their writer meant.
MISREAD = (
    # an unencoded '@' in the password: the rest of it lands in host, database or query
    "mysql+pymysql://u:ab@cdSECRET@host/db",
    "postgresql://u:ab@cd/ef@host/db",
    "postgresql://u:ab@cd?ef@host/db",
    "postgresql://u:ab@cd#ef@host/db",
    # text SQLAlchemy silently drops
    "mysql://u:pw@[::1]x/db",
    "mysql://u:pw@[::1]3306/db",
    "postgresql://u:pw@h/db?sslmode=require\nport=5",
)
# SQLite URLs that make_url accepts and SQLAlchemy's SQLite dialect refuses.
SQLITE_REFUSED = (
    "sqlite://mistral.db",
    "sqlite://u:pw@/m.db",
    "sqlite://u@/m.db",
    "sqlite://:5/m.db",
    "sqlite:///m.db?uri=maybe",
)


@pytest.mark.parametrize("raw", MISREAD + SQLITE_REFUSED)
def test_misread_urls_are_rejected(raw: str) -> None:
    make_url(raw)  # SQLAlchemy accepts the text
    if raw in SQLITE_REFUSED:
        with pytest.raises((sqlalchemy.exc.ArgumentError, ValueError)):
            sqlalchemy.create_engine(raw)  # ...but not as a SQLite database
    with pytest.raises(ConfigError) as info:
        parse_url(raw)
    message = str(info.value)
    assert "\n" not in message
    for secret in ("SECRET", "ef", ":pw"):
        assert secret not in message


def test_misread_messages() -> None:
    with pytest.raises(ConfigError, match=r"write each '@' of the password .* as %40"):
        parse_url("mysql+pymysql://u:ab@cd@host/db")
    with pytest.raises(ConfigError, match=r"for the file mistral\.db write sqlite:///mistral\.db"):
        parse_url("sqlite://mistral.db")
    with pytest.raises(ConfigError, match="names no user, password, host or port"):
        parse_url("sqlite://u:pw@/m.db")
    with pytest.raises(ConfigError, match="uri must be true or false, not 'maybe'"):
        parse_url("sqlite:///m.db?uri=maybe")


# --------------------------------------------------------------------------- (c) masking

# (password as the operator types it, the pieces of it that must never be shown)
PASSWORDS = (
    ("Zq@:/%#Sekr1t", ("Zq", "Sekr1t")),
    ("ab@cdSECRET", ("cdSECRET",)),
    ("pa$$W0RDx", ("pa$$", "W0RDx")),
    ("Qx?Yz#Wv9", ("Qx", "Yz", "Wv9")),
    ("Hk:Jm/Np", ("Hk", "Jm", "Np")),
    ("Rt%Uv%41Wx", ("Rt", "Uv", "Wx")),
    ("Gh@Ij:Kl/Mn?Op#Qr%St$Uv", ("Gh", "Ij", "Kl", "Mn", "Op", "Qr", "St", "Uv")),
    ("Ee+Ff Gg", ("Ee", "Ff", "Gg")),
    ("Bb@@Cc", ("Bb", "Cc")),
    ("Xy//Zw@", ("Xy", "Zw")),
    ("@Lead1ng", ("Lead1ng",)),
    ("Trail1ng@", ("Trail1ng",)),
    ("Pq&Rs=Tu", ("Pq", "Rs", "Tu")),
    ("Vw:1234", ("Vw", "1234")),
    ("Sx%Kv", ("Sx", "Kv")),
)

# {pw}: the password as typed; {pwq}: percent-encoded.  Each template must be free of
# the secret pieces above.
TEMPLATES = (
    "mysql+pymysql://mistral:{pw}@dbhost/mistral",
    "mysql+pymysql://mistral:{pw}@dbhost/mistral?charset=utf8",
    "postgresql+psycopg2://mistral:{pw}@dbhost:5432/mistral",
    "postgresql://mistral:{pw}@/mistral?host=/run/postgresql",
    "mysql+pymysql://mistral:{pw}@dbhost:notaport/mistral",
    "mysql+pymysql://mistral:{pw}@dbhost:/mistral",
    "mysql+pymysql://mistral:{pw}@[::1]:3306/mistral",
    "mysql+pymysql://:{pw}@dbhost/mistral",
    "mysql+pymysql://mistral:{pw}@dbhost",
    "mysql+pymysql://mistral:{pw}@dbhost:3306",
    "mysql+pymysql:/mistral:{pw}@dbhost/mistral",
    "mysql+pymysql//mistral:{pw}@dbhost/mistral",
    "mysql+pymysql:mistral:{pw}@dbhost/mistral",
    "mistral:{pw}@dbhost/mistral",
    "oracle://mistral:{pw}@dbhost/mistral",
    "postgres://mistral:{pw}@dbhost/mistral",
    "sqlite://mistral:{pw}@/m.db",
    "mysql+pymysql://mistral:{pwq}@dbhost/mistral",
    "mysql+pymysql://mistral@dbhost/mistral?password={pwq}",
    "mysql+pymysql://mistral:{pwq}@dbhost/mistral?charset=utf8&passwd={pwq}",
    "postgresql://dbhost/mistral?user=mistral&password={pwq}&sslmode=require",
    "postgresql://dbhost/mistral?sslpassword={pwq}",
    "sqlite:///m.db?password={pwq}",
    "oracle://dbhost/mistral?password={pwq}",
    "mysql+pymysql://mistral:{pwq}@dbhost:notaport/mistral?password={pwq}",
    "mysql+pymysql:/mistral@dbhost/mistral?password={pwq}",
)
# Templates that only make sense for passwords without an "@" (else the password's
# own "@" makes a valid URL of a different host/database, which nothing can detect).
TEMPLATES_WITHOUT_AT = (
    "mysql+pymysql://mistral:{pw}/mistral",
    "mysql+pymysql://mistral:{pw}",
    "mysql+pymysql://mistral@dbhost/mistral?password={pw}",
)


def _cases() -> list[tuple[str, str, tuple[str, ...]]]:
    cases: list[tuple[str, str, tuple[str, ...]]] = []
    for password, secrets in PASSWORDS:
        templates = TEMPLATES + (TEMPLATES_WITHOUT_AT if "@" not in password else ())
        for template in templates:
            if "?password={pw}" in template and ("&" in password or "#" in password):
                continue  # an unencoded "&" or "#" in a query value ends it
            raw = template.format(pw=password, pwq=quote(password, safe=""))
            cases.append((raw, password, secrets))
    return cases


CASES = _cases()


def test_templates_hold_no_secret() -> None:
    for template in TEMPLATES + TEMPLATES_WITHOUT_AT:
        for _password, secrets in PASSWORDS:
            assert not any(secret in template for secret in secrets), template


@pytest.mark.parametrize(("raw", "password", "secrets"), CASES)
def test_no_part_of_a_password_is_shown(raw: str, password: str, secrets: tuple[str, ...]) -> None:
    shown = [mask_raw(raw)]
    try:
        url = parse_url(raw)
    except ConfigError as error:
        assert "\n" not in str(error)
        shown.append(str(error))
    else:
        shown += [url.masked(), repr(url), str(url)]
    for text in shown:
        for secret in secrets:
            assert secret not in text, (raw, text)


@pytest.mark.parametrize("password", [password for password, _ in PASSWORDS])
def test_encoded_passwords_round_trip(password: str) -> None:
    raw = f"mysql+pymysql://mistral:{quote(password, safe='')}@dbhost/mistral"
    url = parse_url(raw)
    assert url.password == password
    assert url.to_sqlalchemy() == make_url(raw)
    assert url.masked() == "mysql+pymysql://mistral:***@dbhost/mistral"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("mysql+pymysql://u:Zq@:/%#Sekr1t@host/db", "mysql+pymysql://u:***@host/db"),
        ("mysql+pymysql://u:ab@cdSECRET@host/db", "mysql+pymysql://u:***@host/db"),
        ("mysql+pymysql://u:pw@h:notaport/db", "mysql+pymysql://u:***@h:***"),
        ("mysql+pymysql://mistral:secret/mistral", "mysql+pymysql://mistral:***"),
        ("mysql+pymysql://mistral:Zq@:/%#Sekr1t", "mysql+pymysql://mistral:***@:***"),
        ("mysql+pymysql:/u:pw@h/db", "mysql+pymysql:/u:***@h/db"),
        ("u:pw@h/db", "u:***@h/db"),
        (
            "mysql://h/db?charset=utf8&password=pw&PassWd=pw",
            "mysql://h/db?charset=utf8&password=***&PassWd=***",
        ),
        ("mysql://h/db?p%61ssword=pw", "mysql://h/db?p%61ssword=***"),
        ("mysql://a/b:c@h/db", "mysql://***@h/db"),
        ("mysql://u@h:3306/db", "mysql://u@h:3306/db"),
        ("not a url", "not a url"),
        ("", ""),
    ],
)
def test_mask_raw(raw: str, shown: str) -> None:
    assert mask_raw(raw) == shown


def test_password_parameters_are_masked() -> None:
    url = parse_url("postgresql://u@h/db?sslmode=require&password=pw1&sslpassword=pw2&a=pw3")
    assert url.masked() == "postgresql://u@h/db?a=pw3&password=***&sslmode=require&sslpassword=***"
    assert url.query_mapping["password"] == "pw1"  # the value itself is kept


def test_messages_are_one_line() -> None:
    for raw in ("oracle://ho\nst/db", "sqlite://ho\nst", "mysql://h/d\nb?x=1\ny"):
        with pytest.raises(ConfigError) as info:
            parse_url(raw)
        assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- the scheme table


def test_the_scheme_table() -> None:
    assert {scheme: (d.family, d.module) for scheme, d in DRIVERS.items()} == FAMILY
    assert set(SUPPORTED_SCHEMES) <= set(DRIVERS)
    labels = {(d.family, d.label, d.default_port) for d in DRIVERS.values()}
    assert labels == {
        ("sqlite", "SQLite", None),
        ("postgresql", "PostgreSQL", 5432),
        ("mysql", "MySQL/MariaDB", 3306),
    }
    assert parse_url("MariaDB+PyMySQL://u@h/db").driver_info is DRIVERS["mariadb+pymysql"]


@pytest.mark.parametrize("raw", CORPUS)
def test_from_sqlalchemy_gives_the_same_parts(raw: str) -> None:
    _needs_sa21(raw)
    parsed = parse_url(raw)
    again = from_sqlalchemy(make_url(raw))
    assert again.to_sqlalchemy() == parsed.to_sqlalchemy()
    assert dict(again.query_mapping) == dict(parsed.query_mapping)
    assert (again.dialect, again.driver, again.sqlite_path) == (
        parsed.dialect, parsed.driver, parsed.sqlite_path)


def test_from_sqlalchemy_checks_as_parse_url_does() -> None:
    for raw in ("oracle://u:pw@h/db", "sqlite://mistral.db", "sqlite:///m.db?uri=maybe"):
        with pytest.raises(ConfigError) as info:
            from_sqlalchemy(make_url(raw))
        assert ":pw" not in str(info.value)


def test_secrets() -> None:
    url = parse_url("postgresql://u:p%40ss@h/db?sslpassword=two&sslmode=require&Token=3")
    assert url.secrets == ("p@ss", "two", "3")
    assert parse_url("postgresql://u@h/db?password=").secrets == ()


# --------------------------------------------------------------------------- (d) no SQLAlchemy


def test_importing_and_parsing_do_not_import_sqlalchemy() -> None:
    code = (
        "import sys\n"
        "from mistral_db_manage.runner import dburl\n"
        "url = dburl.parse_url('postgresql://u:p@h/db?host=/run')\n"
        "url.masked(); dburl.sqlite_file('sqlite:///m.db'); dburl.dialect_name('mysql://h/db')\n"
        "url.driver_info; url.secrets\n"
        "dburl.mask_raw('mysql://u:p@h:x/db')\n"
        "try:\n"
        "    dburl.parse_url('oracle://h/db')\n"
        "except dburl.ConfigError:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
