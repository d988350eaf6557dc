"""The configured database URL, parsed once, without importing SQLAlchemy.

``[database] connection`` is split here into its parts by the rules of
SQLAlchemy 2.1's :func:`sqlalchemy.engine.make_url`, reimplemented so that the
paths which must not pay for importing SQLAlchemy (0.25 s of start-up time) see
the very same user, password, host, port, database and query as the full path
does.  It also holds the one table of what each accepted scheme means
(:data:`DRIVERS`) and the one rule for the file of a SQLite URL
(:func:`sqlite_file`).

The rules, as SQLAlchemy applies them to ``scheme://userinfo@host:port/database?query``:

* the scheme is a run of word characters and ``+`` followed by ``://``;
* the user name runs up to the first ``:`` or ``/``.  When a ``:`` ends it and
  an ``@`` follows somewhere, the password is everything between that ``:``
  and the *first* ``@`` (it may hold ``:``, ``/``, ``?`` or ``#``).  Without a
  password, the user name ends at the *last* ``@`` before the first ``:`` or
  ``/`` (it may hold ``@``);
* the host is either an address in brackets (up to the last ``]`` before the
  first ``/`` or ``?``; the brackets are dropped) or a run without ``/``,
  ``:`` and ``?``.  It is never percent-decoded;
* the port is everything from ``:`` to the next ``/`` or ``?``, read by
  Python's ``int()`` (so `` 5432 ``, ``+5432`` and ``-1`` are numbers and an
  empty port is not);
* the database is everything from ``/`` to the first ``?`` (``sqlite:///``
  gives ``""``, ``sqlite://`` gives None);
* the query runs to the end of the line and is read by
  :func:`urllib.parse.parse_qsl` (``+`` is a space, ``key=`` and a bare
  ``key`` are dropped, a repeated key gives a tuple of its values);
* user name, password and database are percent-decoded, ``+`` left as is.

Surrounding whitespace is ignored, as ``[database] connection`` always was.
Beyond SQLAlchemy, :func:`parse_url` rejects these URLs that ``make_url``
accepts, each of which fails later or silently means something else:

* an ``@`` anywhere after ``user:password@``: an ``@`` of the password not
  written ``%40`` (``u:ab@cd@host``), which SQLAlchemy reads as the end of
  the password, putting the rest of it in the host name (or the database);
* text that SQLAlchemy drops: after the ``]`` of a bracketed host (other than
  ``:port``, ``/database`` or ``?query``), or after a line break in the query;
* a SQLite URL with a user, password, host or port (``sqlite://mistral.db``),
  or with a ``uri`` parameter that is not a yes/no value: SQLAlchemy's SQLite
  dialect refuses both when the engine is created.

No message of this module shows any part of a password: parsed URLs are shown
by :meth:`DatabaseUrl.masked`, and a URL that cannot be parsed is not shown
at all (the caller names where it is configured).  :func:`mask_raw` (from
:mod:`.urlmask`, which holds the masking rules) renders unparseable text for
callers that must show something.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, quote_plus, unquote

from mistral_db_manage.errors import ConfigError

from .urlmask import MASK, is_secret_key, mask_raw, one_line

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "DRIVERS",
    "SUPPORTED_SCHEMES",
    "DatabaseUrl",
    "Driver",
    "dialect_name",
    "from_sqlalchemy",
    "mask_raw",
    "parse_url",
    "sqlite_file",
]

# The schemes named in error messages.
SUPPORTED_SCHEMES = (
    "sqlite",
    "postgresql",
    "postgresql+psycopg2",
    "mysql",
    "mysql+pymysql",
    "mariadb+pymysql",
)


@dataclass(frozen=True)
class Driver:
    """What a scheme means."""

    family: str  # "sqlite", "postgresql" or "mysql" (MariaDB included)
    module: str  # the DB-API module SQLAlchemy imports for it
    label: str  # how messages name the server
    default_port: int | None


_SQLITE = Driver("sqlite", "sqlite3", "SQLite", None)
_PSYCOPG2 = Driver("postgresql", "psycopg2", "PostgreSQL", 5432)
_PYMYSQL = Driver("mysql", "pymysql", "MySQL/MariaDB", 3306)
_MYSQLDB = Driver("mysql", "MySQLdb", "MySQL/MariaDB", 3306)

# Accepted drivernames (lowercased): the supported schemes and their explicit
# spellings.  A bare "mysql" or "mariadb" means MySQLdb, as in SQLAlchemy; a bare
# "postgresql" means psycopg2, as it did for oslo.db (this tool pins that meaning).
DRIVERS: Mapping[str, Driver] = {
    "sqlite": _SQLITE,
    "sqlite+pysqlite": _SQLITE,
    "postgresql": _PSYCOPG2,
    "postgresql+psycopg2": _PSYCOPG2,
    "mysql": _MYSQLDB,
    "mysql+mysqldb": _MYSQLDB,
    "mysql+pymysql": _PYMYSQL,
    "mariadb": _MYSQLDB,
    "mariadb+mysqldb": _MYSQLDB,
    "mariadb+pymysql": _PYMYSQL,
}

_EXAMPLE = "postgresql+psycopg2://mistral:PASSWORD@HOST/mistral"
_EXPECTED = f"expected scheme://user:password@host:port/database, e.g. {_EXAMPLE}"

# SQLAlchemy's yes/no words (util.asbool) for the SQLite "uri" parameter.
_YES = frozenset({"true", "yes", "on", "y", "t", "1"})
_NO = frozenset({"false", "no", "off", "n", "f", "0"})

QueryValue = str | tuple[str, ...]


# --------------------------------------------------------------------------- the parsed URL


@dataclass(frozen=True, repr=False)
class DatabaseUrl:
    """The parts of a database URL, as SQLAlchemy's ``make_url`` splits them.

    ``repr()`` and ``str()`` show :meth:`masked`, never the password.
    """

    #: the scheme as written, e.g. ``"mysql+pymysql"`` or ``"SQLite"``
    drivername: str
    #: ``"sqlite"``, ``"postgresql"`` or ``"mysql"`` (MariaDB included)
    dialect: str
    #: the DB-API module the URL selects: sqlite3, psycopg2, pymysql or MySQLdb
    driver: str
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    #: the query parameters in the order written, repeated keys included
    query: tuple[tuple[str, str], ...] = ()
    #: SQLite: the database file as written (relative to the current directory
    #: unless absolute); None for an in-memory or ``uri=true`` database, and
    #: for the other dialects.  :func:`sqlite_file` gives the file opened.
    sqlite_path: Path | None = None

    @property
    def scheme(self) -> str:
        """The drivername in lower case, the spelling SQLAlchemy's dialect registry knows."""
        return self.drivername.lower()

    @property
    def driver_info(self) -> Driver:
        """What the scheme means: family, DB-API module, label, default port."""
        return DRIVERS[self.scheme]

    @property
    def secrets(self) -> tuple[str, ...]:
        """The password and the values of secret-looking query keys, to keep out of messages."""
        found = [self.password] + [value for key, value in self.query if is_secret_key(key)]
        return tuple(value for value in found if value)

    @property
    def query_mapping(self) -> Mapping[str, QueryValue]:
        """The query as SQLAlchemy's ``URL.query``: key -> value, or a tuple for a repeated key."""
        grouped: dict[str, list[str]] = {}
        for key, value in self.query:
            grouped.setdefault(key, []).append(value)
        return {
            key: values[0] if len(values) == 1 else tuple(values) for key, values in grouped.items()
        }

    def to_sqlalchemy(self) -> URL:
        """The :class:`sqlalchemy.engine.URL` of these parts (imports SQLAlchemy)."""
        from sqlalchemy.engine import URL

        return URL.create(
            self.drivername,
            username=self.username,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.database,
            query=self.query_mapping,
        )

    def masked(self) -> str:
        """The URL as text, with the password and any secret query value shown as ``***``.

        Apart from those, the text is what SQLAlchemy's ``render_as_string()``
        gives: percent-encoded user and database, query keys sorted.
        """
        text = self.drivername + "://"
        if self.username is not None:
            text += quote(self.username, safe=" +")
            if self.password is not None:
                text += ":" + MASK
            text += "@"
        if self.host is not None:
            text += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            text += f":{self.port}"
        if self.database is not None:
            text += "/" + quote(self.database, safe=" +/")
        if self.query:
            mapping = self.query_mapping
            pairs = []
            for key in sorted(mapping):
                value = mapping[key]
                for item in (value,) if isinstance(value, str) else value:
                    shown = MASK if is_secret_key(key) else quote_plus(item)
                    pairs.append(f"{quote_plus(key)}={shown}")
            text += "?" + "&".join(pairs)
        return text

    def __repr__(self) -> str:
        return f"DatabaseUrl({self.masked()!r})"

    __str__ = masked


# --------------------------------------------------------------------------- splitting


class _Unparseable(Exception):
    """The text is not a URL by SQLAlchemy's rules (or by ours); the argument says why."""


@dataclass(frozen=True)
class _Pieces:
    """The raw text of each part, before decoding."""

    scheme: str
    username: str | None
    password: str | None
    host: str | None
    port: str | None
    database: str | None
    query: str | None
    ignored: str  # trailing text SQLAlchemy's pattern leaves unmatched


def _is_scheme_char(char: str) -> bool:
    # a regular-expression word character (str.isalnum() or "_"), or "+"
    return char.isalnum() or char in "_+"


def _marked_run(text: str, pos: int, mark: str, stops: str) -> tuple[str | None, int]:
    """The run after *mark* at *pos* up to the first of *stops*, and where it ends;
    (None, *pos*) when *mark* is not at *pos*."""
    if not text.startswith(mark, pos):
        return None, pos
    end = _run_end(text, pos + 1, stops)
    return text[pos + 1 : end], end


def _run_end(text: str, start: int, stops: str) -> int:
    """The index of the first character at or after ``start`` that is in ``stops``."""
    end = start
    while end < len(text) and text[end] not in stops:
        end += 1
    return end


def _split(text: str) -> _Pieces:
    """Cut ``text`` where SQLAlchemy's ``make_url`` cuts it; the pieces are still encoded."""
    pos = 0
    while pos < len(text) and _is_scheme_char(text[pos]):
        pos += 1
    if pos == 0 or not text.startswith("://", pos):
        raise _Unparseable("it does not start with a scheme such as mysql+pymysql://")
    scheme = text[:pos]
    pos += 3

    # user name and password
    username = password = None
    name_end = _run_end(text, pos, ":/")
    first_at = text.find("@", name_end + 1) if text.startswith(":", name_end) else -1
    if first_at >= 0:
        username, password = text[pos:name_end], text[name_end + 1 : first_at]
        pos = first_at + 1
    else:
        last_at = text.rfind("@", pos, name_end)
        if last_at >= 0:
            username = text[pos:last_at]
            pos = last_at + 1

    # host: [address] or a plain name
    host = None
    if text.startswith("[", pos):
        close = text.rfind("]", pos + 2, _run_end(text, pos, "/?"))
        if close >= 0:
            host = text[pos + 1 : close]
            pos = close + 1
    if host is None:
        host_end = _run_end(text, pos, "/:?")
        if host_end > pos:
            host = text[pos:host_end]
            pos = host_end

    port, pos = _marked_run(text, pos, ":", "/?")
    database, pos = _marked_run(text, pos, "/", "?")
    query, pos = _marked_run(text, pos, "?", "\n")
    return _Pieces(scheme, username, password, host, port, database, query, text[pos:])


def _check_not_misread(pieces: _Pieces) -> None:
    """Reject URLs that SQLAlchemy reads, but not as their writer meant."""
    after = (pieces.host, pieces.port, pieces.database, pieces.query, pieces.ignored)
    if pieces.password is not None and any("@" in part for part in after if part):
        raise _Unparseable(
            "an '@' comes after the user:password@ part: write each '@' of the password "
            "(or of the database name or a parameter) as %40"
        )
    if pieces.ignored.startswith("\n"):
        raise _Unparseable("a line break in the query string")
    if pieces.ignored:
        raise _Unparseable(
            "after an address in [brackets] comes :port, /database or ?query, nothing else"
        )


def _port_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _Unparseable("the port is not a number") from None


def _query_pairs(text: str | None) -> tuple[tuple[str, str], ...]:
    if text is None:
        return ()
    return tuple(parse_qsl(text))


# --------------------------------------------------------------------------- the public API


def parse_url(raw: str) -> DatabaseUrl:
    """Parse ``[database] connection`` into its parts.

    The parts are those of ``sqlalchemy.engine.make_url(raw.strip())``.
    Raises :class:`ConfigError`, in one line that shows no part of the
    password, when ``raw`` is blank, is not a URL, names a scheme outside
    :data:`SUPPORTED_SCHEMES` (and their explicit spellings such as
    ``mysql+mysqldb``, ``sqlite+pysqlite``, any letter case), or is one of the
    misread URLs listed in this module's documentation.
    """
    text = raw.strip()
    if not text:
        raise ConfigError(
            f"[database] connection is empty; set it to a database URL such as {_EXAMPLE}"
        )
    try:
        pieces = _split(text)
        _check_not_misread(pieces)
        port = None if pieces.port is None else _port_number(pieces.port)
    except _Unparseable as problem:
        # Not echoed, even masked: what cannot be parsed cannot be masked reliably.
        raise ConfigError(
            f"[database] connection is not a valid database URL ({problem}); {_EXPECTED}"
        ) from None

    return _checked(
        DatabaseUrl(
            drivername=pieces.scheme,
            dialect="",
            driver="",
            username=None if pieces.username is None else unquote(pieces.username),
            password=None if pieces.password is None else unquote(pieces.password),
            host=pieces.host,
            port=port,
            database=None if pieces.database is None else unquote(pieces.database),
            query=_query_pairs(pieces.query),
        )
    )


def from_sqlalchemy(url: URL) -> DatabaseUrl:
    """The parts of a SQLAlchemy URL (an engine's), checked as :func:`parse_url` checks them.

    No text is parsed: the parts are taken as they are.
    """
    query = tuple(
        (key, item)
        for key, value in url.query.items()
        for item in ((value,) if isinstance(value, str) else value)
    )
    return _checked(
        DatabaseUrl(
            url.drivername, "", "", url.username, url.password, url.host, url.port,
            url.database, query,
        )
    )


def _checked(url: DatabaseUrl) -> DatabaseUrl:
    """``url`` with what its scheme means filled in; :class:`ConfigError` if unsupported."""
    info = DRIVERS.get(url.scheme)
    if info is None:
        hint = ""
        if url.scheme.split("+", 1)[0] == "postgres":
            hint = " ('postgres' is not a SQLAlchemy scheme: write 'postgresql')"
        raise ConfigError(
            f"unsupported database URL scheme {url.drivername!r} in [database] connection "
            f"{one_line(url.masked())}{hint}; supported schemes: {', '.join(SUPPORTED_SCHEMES)}"
        )
    url = replace(url, dialect=info.family, driver=info.module)
    return _with_sqlite_path(url) if info.family == "sqlite" else url


def _with_sqlite_path(url: DatabaseUrl) -> DatabaseUrl:
    shown = one_line(url.masked())
    if url.username is not None or url.host is not None or url.port is not None:
        host = one_line(url.host or "")
        named = f"sqlite:///{host}" if url.host is not None and not url.database else ""
        advice = (
            f"for the file {host} write {named}"
            if named
            else ("write sqlite:///relative/path.db or sqlite:////absolute/path.db")
        )
        raise ConfigError(
            f"[database] connection {shown} is not a valid SQLite URL (a SQLite URL names no "
            f"user, password, host or port); {advice}"
        )
    is_uri = False
    uri = url.query_mapping.get("uri")
    if isinstance(uri, tuple):
        is_uri = True  # SQLAlchemy takes any repeated value as true
    elif uri is not None:
        word = uri.strip().lower()
        if word not in _YES | _NO:
            raise ConfigError(
                f"[database] connection {shown}: the SQLite parameter uri must be true or "
                f"false, not {uri!r}"
            )
        is_uri = word in _YES
    database = url.database
    if is_uri or not database or database == ":memory:":
        return url
    return replace(url, sqlite_path=Path(database))


def dialect_name(raw: str) -> str:
    """``"sqlite"``, ``"postgresql"`` or ``"mysql"`` (MariaDB included) for a URL.

    Raises :class:`ConfigError` as :func:`parse_url` does.  Imports nothing.
    """
    return parse_url(raw).dialect


def sqlite_file(url: DatabaseUrl | str) -> Path | None:
    """The absolute path of the file a SQLite URL opens, symbolic links resolved.

    Relative paths are taken from the current directory, as SQLAlchemy's
    driver does.  Links are resolved so that what is put beside the database
    (the migration lock, backups) sits beside the real file, whichever link
    a run was given.  None for an in-memory database, a ``uri=true``
    database, and a URL of another dialect.  A string is parsed first
    (:class:`ConfigError` if it cannot be).
    """
    parsed = parse_url(url) if isinstance(url, str) else url
    if parsed.sqlite_path is None:
        return None
    return parsed.sqlite_path.resolve()
