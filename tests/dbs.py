"""Throw-away databases for the tests, and schema dumps comparable with the reference.

Everything here goes through the real servers and the real command-line clients
(``psql``/``pg_dump``, ``mariadb``/``mariadb-dump``, ``sqlite3``), so that what the
tests compare is exactly what a DBA would see.  The dumps are produced by the
shell functions of ``tests/reference/normalize.sh``, the same ones that made the
vendored reference files, so a dump is byte-for-byte comparable with
``tests/reference/upstream-schema/<dialect>/<revision>.sql``.

Connection settings come from the environment (see :func:`pg_server` and
:func:`mysql_server`).  A *host* starting with ``/`` is a Unix socket: the
socket directory for PostgreSQL, the socket file for MariaDB.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import secrets
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

TESTS_DIR = Path(__file__).resolve().parent
REFERENCE_DIR = TESTS_DIR / "reference"
UPSTREAM_SCHEMA_DIR = REFERENCE_DIR / "upstream-schema"
NORMALIZE_SH = REFERENCE_DIR / "normalize.sh"

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
MYSQL = "mysql"
DIALECTS: tuple[str, ...] = (SQLITE, POSTGRESQL, MYSQL)
SERVER_DIALECTS: tuple[str, ...] = (POSTGRESQL, MYSQL)
#: What tests/clusters starts for itself: a three-node MariaDB Galera cluster, PgBouncer.
CLUSTERS: tuple[str, ...] = ("galera", "pgbouncer")
#: What tests/service needs: the machine's RabbitMQ, and upstream Mistral (installed by it).
SERVICE: tuple[str, ...] = ("rabbitmq", "mistral")

#: Maintenance database used to create and drop the per-test PostgreSQL databases.
PG_ADMIN_DATABASE = "postgres"
#: Prefix of every database these helpers create on a server.
DB_PREFIX = "mdm_"

_CLIENT_TIMEOUT = 600  # seconds, for one client invocation
_CONNECT_TIMEOUT = 5  # seconds, for server connections


class ClientError(RuntimeError):
    """A command-line client (psql, mariadb, sqlite3, a dump tool) failed."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        message = f"{' '.join(self.argv)} exited with status {returncode}"
        if stderr.strip():
            message += f"\n--- stderr ---\n{stderr.rstrip()}"
        if stdout.strip():
            tail = "\n".join(stdout.rstrip().splitlines()[-20:])
            message += f"\n--- stdout (last lines) ---\n{tail}"
        super().__init__(message)


# --------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class ServerConfig:
    """Where a database server listens and how to log in."""

    dialect: str
    host: str
    port: int
    user: str
    password: str = ""

    @property
    def is_socket(self) -> bool:
        return self.host.startswith("/")

    def describe(self) -> str:
        where = self.host if self.is_socket else f"{self.host}:{self.port}"
        return f"{self.dialect} server at {where} (user {self.user!r})"


def _env(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, "")
    return value if value != "" else default


def _env_port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = _env(environ, name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a port number") from None


def pg_server(environ: Mapping[str, str] | None = None) -> ServerConfig:
    """PostgreSQL settings: ``MDM_PG_HOST``/``MDM_PG_PORT``/``MDM_PG_USER``."""
    env = os.environ if environ is None else environ
    return ServerConfig(
        dialect=POSTGRESQL,
        host=_env(env, "MDM_PG_HOST", "127.0.0.1"),
        port=_env_port(env, "MDM_PG_PORT", 5432),
        user=_env(env, "MDM_PG_USER", "postgres"),
    )


def mysql_server(environ: Mapping[str, str] | None = None) -> ServerConfig:
    """MariaDB settings: ``MDM_MY_HOST``/``MDM_MY_PORT``/``MDM_MY_USER``/``MDM_MY_PASSWORD``."""
    env = os.environ if environ is None else environ
    return ServerConfig(
        dialect=MYSQL,
        host=_env(env, "MDM_MY_HOST", "127.0.0.1"),
        port=_env_port(env, "MDM_MY_PORT", 3306),
        user=_env(env, "MDM_MY_USER", "root"),
        password=env.get("MDM_MY_PASSWORD", ""),
    )


def server_config(dialect: str) -> ServerConfig:
    if dialect == POSTGRESQL:
        return pg_server()
    if dialect == MYSQL:
        return mysql_server()
    raise ValueError(f"no server for dialect {dialect!r}; expected one of {SERVER_DIALECTS}")


def sqlalchemy_url(server: ServerConfig, database: str | None) -> str:
    """A URL string for :func:`sqlalchemy.create_engine` (password included)."""
    query: dict[str, str] = {}
    if server.dialect == POSTGRESQL:
        drivername = "postgresql+psycopg2"
        if server.is_socket:
            query["host"] = server.host
            query["port"] = str(server.port)
    elif server.dialect == MYSQL:
        drivername = "mysql+pymysql"
        query["charset"] = "utf8mb4"
        if server.is_socket:
            query["unix_socket"] = server.host
    else:
        raise ValueError(f"not a server dialect: {server.dialect!r}")
    url = URL.create(
        drivername,
        username=server.user,
        password=server.password or None,
        host=None if server.is_socket else server.host,
        port=None if server.is_socket else server.port,
        database=database,
        query=query,
    )
    return url.render_as_string(hide_password=False)


def _admin_engine(server: ServerConfig) -> sa.Engine:
    database = PG_ADMIN_DATABASE if server.dialect == POSTGRESQL else None
    return sa.create_engine(
        sqlalchemy_url(server, database),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": _CONNECT_TIMEOUT},
    )


def probe_server(server: ServerConfig) -> str | None:
    """``None`` if the server answers, else a one-line reason why not."""
    try:
        engine = _admin_engine(server)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1")).scalar_one()
        finally:
            engine.dispose()
    except Exception as exc:  # any driver error means "unreachable"
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        return f"{server.describe()} is not reachable: {type(exc).__name__}: {first_line}"
    return None


# --------------------------------------------------------------------------- policy

REQUIRE_ENV = "MDM_REQUIRE_SERVERS"


def required_servers(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The servers named in ``MDM_REQUIRE_SERVERS`` (comma-separated).

    Server dialects (``postgresql``, ``mysql``), the clusters the tests of
    ``tests/clusters`` start themselves (``galera``, ``pgbouncer``), and what the
    real-service test of ``tests/service`` needs (``rabbitmq``, ``mistral``).
    """
    env = os.environ if environ is None else environ
    raw = env.get(REQUIRE_ENV, "")
    names = {part.strip() for part in raw.split(",") if part.strip()}
    known = (*SERVER_DIALECTS, *CLUSTERS, *SERVICE)
    unknown = names - set(known)
    if unknown:
        raise pytest.UsageError(
            f"{REQUIRE_ENV}={raw!r}: unknown server(s) {sorted(unknown)}; "
            f"expected a comma-separated subset of {list(known)}"
        )
    return frozenset(names)


class ServerAvailability:
    """Probes each server at most once and remembers the answer.

    :meth:`ensure` skips the calling test when a server is unreachable, or fails it
    when that server is in *required* (``MDM_REQUIRE_SERVERS``).
    """

    def __init__(
        self,
        required: frozenset[str],
        config: Callable[[str], ServerConfig] | None = None,
    ) -> None:
        self.required = required
        self._config = config or server_config
        self._problems: dict[str, str | None] = {}

    def problem(self, dialect: str) -> str | None:
        """``None`` if *dialect*'s server answers (SQLite always does), else why not."""
        if dialect == SQLITE:
            return None
        if dialect not in self._problems:
            self._problems[dialect] = probe_server(self._config(dialect))
        return self._problems[dialect]

    def ensure(self, dialect: str) -> None:
        __tracebackhide__ = True
        problem = self.problem(dialect)
        if problem is None:
            return
        if dialect in self.required:
            pytest.fail(
                f"{problem}\n{REQUIRE_ENV} names {dialect!r}, so this is an error: "
                "start the server or fix the MDM_* connection variables",
                pytrace=False,
            )
        pytest.skip(f"{problem} (set {REQUIRE_ENV}={dialect} to make this an error)")


# --------------------------------------------------------------------------- clients


def _run(
    argv: Sequence[str],
    *,
    stdin: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> str:
    env = dict(os.environ)
    if extra_env:
        env.update(extra_env)
    proc = subprocess.run(
        list(argv),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=_CLIENT_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise ClientError(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def _pg_options(server: ServerConfig) -> list[str]:
    return ["-h", server.host, "-p", str(server.port), "-U", server.user]


def _pg_env() -> dict[str, str]:
    return {"PGCONNECT_TIMEOUT": str(_CONNECT_TIMEOUT)}


def _my_options(server: ServerConfig) -> list[str]:
    if server.is_socket:
        return [f"--socket={server.host}", f"--user={server.user}"]
    # --protocol=TCP: with host "localhost" the client would otherwise use the socket.
    return [
        f"--host={server.host}",
        f"--port={server.port}",
        "--protocol=TCP",
        f"--user={server.user}",
    ]


def _my_env(server: ServerConfig) -> dict[str, str]:
    # The password goes through the environment rather than argv (no warning, not in ps).
    return {"MYSQL_PWD": server.password} if server.password else {}


def _normalized_dump(function: str, args: Sequence[str], extra_env: Mapping[str, str]) -> str:
    """Run one of normalize.sh's ``dump_*`` functions; fail if any stage of its pipe fails."""
    script = 'set -o pipefail; . "$1"; shift; ' + function + ' "$@"'
    return _run(
        ["bash", "-c", script, "bash", str(NORMALIZE_SH), *args],
        extra_env={"LC_ALL": "C", **extra_env},
    )


#: mistral-db-manage's own bookkeeping tables: not part of Mistral's schema, so
#: comparisons with upstream's dumps leave them out (pg_dump --exclude-table,
#: mariadb-dump --ignore-table).
OWN_TABLES = ("mistral_db_manage_runs", "mistral_db_manage_journal", "mistral_db_manage_lock")


def dump_postgresql(dbname: str, server: ServerConfig | None = None) -> str:
    """Normalised ``pg_dump --schema-only`` of *dbname*, as normalize.sh makes it."""
    srv = server or pg_server()
    excluded = [f"--exclude-table={table}*" for table in OWN_TABLES]
    return _normalized_dump(
        "dump_postgresql", [*_pg_options(srv), *excluded, dbname], _pg_env()
    )


def dump_mysql(dbname: str, server: ServerConfig | None = None) -> str:
    """Normalised ``mariadb-dump --no-data`` of *dbname*, as normalize.sh makes it."""
    srv = server or mysql_server()
    ignored = [f"--ignore-table={dbname}.{table}" for table in OWN_TABLES]
    return _normalized_dump("dump_mysql", [*_my_options(srv), *ignored, dbname], _my_env(srv))


def dump_sqlite(path: str | os.PathLike[str]) -> str:
    """Normalised ``sqlite3 FILE .schema``, as normalize.sh makes it."""
    file = Path(path)
    if not file.is_file():
        # sqlite3 would silently dump an empty schema for a mistyped path.
        raise FileNotFoundError(f"no SQLite database file at {file}")
    return _normalized_dump("dump_sqlite", [str(file)], {})


# --------------------------------------------------------------------------- databases


@dataclass(frozen=True)
class FreshDatabase:
    """A new, empty database created for one test.

    ``url`` is for :func:`sqlalchemy.create_engine`; ``name`` is the database name on
    a server, or the path of the file for SQLite.
    """

    dialect: str
    url: str
    name: str
    server: ServerConfig | None = None

    def dump(self) -> str:
        """The normalised schema dump, comparable with the reference files."""
        if self.dialect == SQLITE:
            return dump_sqlite(self.name)
        if self.dialect == POSTGRESQL:
            return dump_postgresql(self.name, self.server)
        if self.dialect == MYSQL:
            return dump_mysql(self.name, self.server)
        raise ValueError(f"unknown dialect {self.dialect!r}")

    def engine(self, **kwargs: object) -> sa.Engine:
        """A new engine on this database (the caller disposes of it)."""
        return sa.create_engine(self.url, **kwargs)

    def table_names(self) -> list[str]:
        engine = self.engine()
        try:
            with engine.connect() as connection:
                return sorted(sa.inspect(connection).get_table_names())
        finally:
            engine.dispose()

    def execute(self, statement: str) -> None:
        """Run one statement in a transaction of its own."""
        engine = self.engine()
        try:
            with engine.begin() as connection:
                connection.execute(sa.text(statement))
        finally:
            engine.dispose()

    def version(self) -> str | None:
        """The revision in ``alembic_version``; None when the table is missing or empty."""
        engine = self.engine()
        try:
            with engine.connect() as connection:
                if not sa.inspect(connection).has_table("alembic_version"):
                    return None
                value = connection.execute(
                    sa.text("SELECT version_num FROM alembic_version")).scalar()
                return None if value is None else str(value)
        finally:
            engine.dispose()

    def rows(self, query: str) -> list[tuple[object, ...]]:
        engine = self.engine()
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(sa.text(query))]
        finally:
            engine.dispose()


def new_database_name() -> str:
    return f"{DB_PREFIX}{secrets.token_hex(8)}"


def _check_name(name: str) -> None:
    # Names are interpolated into DDL: accept only what new_database_name() makes.
    if not (name.startswith(DB_PREFIX) and name[len(DB_PREFIX) :].isalnum()):
        raise ValueError(f"refusing to handle database {name!r}: not made by new_database_name()")


def create_sqlite_database(directory: Path) -> FreshDatabase:
    path = (directory / f"{new_database_name()}.sqlite").resolve()
    path.touch(exist_ok=False)  # a zero-byte file is a valid, empty SQLite database
    url = URL.create("sqlite", database=str(path)).render_as_string(hide_password=False)
    return FreshDatabase(dialect=SQLITE, url=url, name=str(path))


def create_server_database(server: ServerConfig) -> FreshDatabase:
    name = new_database_name()
    if server.dialect == POSTGRESQL:
        ddl = f'CREATE DATABASE "{name}"'
    elif server.dialect == MYSQL:
        ddl = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
    else:
        raise ValueError(f"not a server dialect: {server.dialect!r}")
    engine = _admin_engine(server)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(ddl))
    finally:
        engine.dispose()
    return FreshDatabase(
        dialect=server.dialect, url=sqlalchemy_url(server, name), name=name, server=server
    )


def drop_database(db: FreshDatabase) -> None:
    """Drop a database made by :func:`create_server_database` (or delete the SQLite file)."""
    if db.dialect == SQLITE:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(db.name + suffix).unlink(missing_ok=True)
        return
    assert db.server is not None
    _check_name(db.name)
    engine = _admin_engine(db.server)
    try:
        with engine.connect() as conn:
            if db.dialect == POSTGRESQL:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)'))
            else:
                # Connections a test left open would hold metadata locks and block the
                # DROP: end them first (MariaDB has no DROP DATABASE ... FORCE).
                ids = conn.execute(
                    sa.text(
                        "SELECT id FROM information_schema.processlist "
                        "WHERE db = :db AND id <> CONNECTION_ID()"
                    ),
                    {"db": db.name},
                ).scalars()
                for conn_id in list(ids):
                    with contextlib.suppress(sa.exc.DBAPIError):  # it may have ended meanwhile
                        conn.execute(sa.text(f"KILL {int(conn_id)}"))
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{db.name}`"))
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- scripts


def run_sql_script(db: FreshDatabase, script_text: str) -> str:
    """Apply an SQL script with the dialect's command-line client, stopping at the first error.

    ``psql -v ON_ERROR_STOP=1 -X -q -d DB -f -``, ``mariadb DB`` or ``sqlite3 -bail FILE``,
    with the script on standard input.  Returns the client's standard output; raises
    :class:`ClientError` (carrying the client's stderr) on a non-zero exit status.
    """
    if db.dialect == POSTGRESQL:
        srv = db.server or pg_server()
        argv = ["psql", *_pg_options(srv), "-v", "ON_ERROR_STOP=1", "-X", "-q"]
        return _run([*argv, "-d", db.name, "-f", "-"], stdin=script_text, extra_env=_pg_env())
    if db.dialect == MYSQL:
        srv = db.server or mysql_server()
        return _run(
            ["mariadb", *_my_options(srv), db.name], stdin=script_text, extra_env=_my_env(srv)
        )
    if db.dialect == SQLITE:
        return _run(["sqlite3", "-bail", db.name], stdin=script_text)
    raise ValueError(f"unknown dialect {db.dialect!r}")


# --------------------------------------------------------------------------- reference


def reference_path(dialect: str, revision: str | int) -> Path:
    """``tests/reference/upstream-schema/<dialect>/<revision>.sql``.

    *revision* is a revision number (``8`` or ``"008"``) or a file stem such as
    ``"head-models"`` or ``"offline-base-008"``.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; expected one of {DIALECTS}")
    stem = f"{revision:03d}" if isinstance(revision, int) else revision
    if stem.isdigit():
        stem = f"{int(stem):03d}"
    return UPSTREAM_SCHEMA_DIR / dialect / f"{stem}.sql"


def reference_dump(dialect: str, revision: str | int) -> str:
    """The upstream reference dump for *dialect* after ``upgrade <revision>``."""
    path = reference_path(dialect, revision)
    if not path.is_file():
        raise FileNotFoundError(f"no reference dump {path}")
    return path.read_text(encoding="utf-8")


def schema_diff(
    expected: str, actual: str, *, expected_label: str = "expected", actual_label: str = "actual"
) -> str:
    """Unified diff between two dumps; empty when they are identical."""
    if expected == actual:
        return ""
    diff = "".join(
        difflib.unified_diff(
            _diff_lines(expected),
            _diff_lines(actual),
            fromfile=expected_label,
            tofile=actual_label,
        )
    )
    return diff or "(the texts differ only in line endings)\n"


def _diff_lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def assert_same_schema(
    expected: str,
    actual: str,
    *,
    expected_label: str = "expected",
    actual_label: str = "actual",
) -> None:
    """Fail with a unified diff (``-`` expected, ``+`` actual) unless the dumps are equal."""
    __tracebackhide__ = True
    diff = schema_diff(expected, actual, expected_label=expected_label, actual_label=actual_label)
    if diff:
        raise AssertionError(f"schema dumps differ:\n{diff}")
