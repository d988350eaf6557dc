"""Throw-away databases on the PostgreSQL and MariaDB servers, and their normalised dumps.

Everything goes through the command-line clients (``psql``, ``mariadb``, ``pg_dump``,
``mariadb-dump``, ``sqlite3``) and the shell functions of ``../normalize.sh``, so a dump
is made exactly the way the reference files are, and this module needs nothing but the
standard library (the refresh runs with any ``python3``).

The servers are found through the same ``MDM_PG_*`` / ``MDM_MY_*`` variables as the tests.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

NORMALIZE_SH = Path(__file__).resolve().parent.parent / "normalize.sh"
POSTGRESQL = "postgresql"
MYSQL = "mysql"
SERVER_DIALECTS = (POSTGRESQL, MYSQL)
#: every database made here starts with this and is dropped afterwards
DB_PREFIX = "mdm_ref_"
CLIENT_TIMEOUT = 600  # seconds for one client or upstream command


class CommandError(RuntimeError):
    """A client or an upstream command exited with a non-zero status."""


def run(
    argv: Sequence[str],
    *,
    stdin: str = "",
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run ``argv``; its stdout, or :class:`CommandError` with the end of its stderr."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    process = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, encoding="utf-8",
        env=full_env, cwd=cwd, timeout=CLIENT_TIMEOUT, check=False,
    )
    if process.returncode != 0:
        tail = "\n".join(process.stderr.strip().splitlines()[-15:])
        raise CommandError(f"{' '.join(argv)} exited with status {process.returncode}\n{tail}")
    return process.stdout


@dataclass(frozen=True)
class Server:
    dialect: str
    host: str
    port: int
    user: str
    password: str = ""

    def url(self, database: str) -> str:
        """A SQLAlchemy URL for upstream's ``[database] connection``."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        if self.dialect == POSTGRESQL:
            return f"postgresql+psycopg2://{auth}@{self.host}:{self.port}/{database}"
        return f"mysql+pymysql://{auth}@{self.host}:{self.port}/{database}?charset=utf8mb4"

    def client_options(self) -> list[str]:
        if self.dialect == POSTGRESQL:
            return ["-h", self.host, "-p", str(self.port), "-U", self.user]
        return [f"--host={self.host}", f"--port={self.port}", "--protocol=TCP",
                f"--user={self.user}"]

    def client_env(self) -> dict[str, str]:
        if self.dialect == POSTGRESQL:
            return {"PGCONNECT_TIMEOUT": "5"}
        return {"MYSQL_PWD": self.password} if self.password else {}

    def sql(self, statement: str, database: str | None = None) -> str:
        """Run one statement with the command-line client; tab-separated output rows."""
        if self.dialect == POSTGRESQL:
            argv = ["psql", *self.client_options(), "-X", "-q", "-A", "-t", "-F", "\t",
                    "-v", "ON_ERROR_STOP=1", "-d", database or "postgres", "-c", statement]
        else:
            argv = ["mariadb", *self.client_options(), "-N", "-B", "-e", statement]
            if database:
                argv.append(database)
        return run(argv, env=self.client_env())

    def version(self) -> str:
        """The server's version line, as VERSIONS.txt records it."""
        answer = self.sql("SELECT version()").strip()
        return answer if self.dialect == POSTGRESQL else f"MariaDB {answer}"

    def dump(self, database: str) -> str:
        """The normalised schema dump of ``database`` (``normalize.sh``'s dump_* function)."""
        function = "dump_postgresql" if self.dialect == POSTGRESQL else "dump_mysql"
        return normalized_dump(function, [*self.client_options(), database], self.client_env())


def servers(environ: Mapping[str, str] | None = None) -> dict[str, Server]:
    """The PostgreSQL and MariaDB servers named by the ``MDM_*`` variables (or the defaults)."""
    env = os.environ if environ is None else environ

    def get(name: str, default: str) -> str:
        return env.get(name) or default

    return {
        POSTGRESQL: Server(POSTGRESQL, get("MDM_PG_HOST", "127.0.0.1"),
                           int(get("MDM_PG_PORT", "5432")), get("MDM_PG_USER", "postgres")),
        MYSQL: Server(MYSQL, get("MDM_MY_HOST", "127.0.0.1"), int(get("MDM_MY_PORT", "3306")),
                      get("MDM_MY_USER", "root"), env.get("MDM_MY_PASSWORD", "")),
    }


@contextmanager
def fresh_database(server: Server) -> Iterator[str]:
    """A new, empty database (utf8mb4_general_ci on MariaDB), dropped on the way out."""
    name = DB_PREFIX + secrets.token_hex(6)
    if server.dialect == POSTGRESQL:
        server.sql(f'CREATE DATABASE "{name}"')
    else:
        server.sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    try:
        yield name
    finally:
        if server.dialect == POSTGRESQL:
            server.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            server.sql(f"DROP DATABASE IF EXISTS `{name}`")


def normalized_dump(function: str, args: Sequence[str], env: Mapping[str, str]) -> str:
    """Run one of normalize.sh's functions with ``args``; fail if any stage of its pipe fails."""
    script = 'set -o pipefail; . "$1"; shift; ' + function + ' "$@"'
    return run(["bash", "-c", script, "bash", str(NORMALIZE_SH), *args],
               env={"LC_ALL": "C", **env})


def dump_sqlite(path: Path) -> str:
    return normalized_dump("dump_sqlite", [str(path)], {})


_FOREIGN_KEY_LINE = re.compile(r"^  CONSTRAINT `[^`]+` (FOREIGN KEY .*?),?$")


def canonical_foreign_key_names(dump: str) -> str:
    """Number each table's foreign keys in the order of their text (MariaDB dump).

    ``create_all`` breaks a foreign-key cycle in Python-set order, so which key
    MariaDB calls ``<table>_ibfk_1`` varies from run to run; sorting the key
    lines by their text (name left out) and numbering them again makes the dump
    stable.  The lines stay where the keys were.
    """
    out: list[str] = []
    table = ""
    run_lines: list[str] = []

    def flush() -> None:
        if not run_lines:
            return
        last_has_comma = run_lines[-1].endswith(",")
        bodies = sorted(_FOREIGN_KEY_LINE.sub(r"\1", line) for line in run_lines)
        for number, body in enumerate(bodies, start=1):
            comma = "," if number < len(bodies) or last_has_comma else ""
            out.append(f"  CONSTRAINT `{table}_ibfk_{number}` {body}{comma}")
        run_lines.clear()

    for line in dump.splitlines():
        match = re.match(r"^CREATE TABLE `([^`]+)` \($", line)
        if match:
            table = match.group(1)
        if _FOREIGN_KEY_LINE.match(line):
            run_lines.append(line)
            continue
        flush()
        out.append(line)
    flush()
    return "\n".join(out) + ("\n" if dump.endswith("\n") else "")


def client_versions() -> list[str]:
    """The dump clients' version lines, as VERSIONS.txt records them."""
    pg_dump = run(["pg_dump", "--version"]).strip()
    mariadb_dump = run(["mariadb-dump", "--version"]).strip()
    sqlite = run(["sqlite3", "--version"]).split()[0]
    return [pg_dump, mariadb_dump, f"sqlite3 {sqlite}"]
