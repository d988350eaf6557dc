"""Throw-away PgBouncer processes in front of the local PostgreSQL, for tests.

One ``pgbouncer`` per pooling mode (``session``, ``transaction``), each on a loopback port of
its own with its own ini, user list, log and pid files in a directory of its own.  The
wildcard database entry ``* = host=... port=...`` passes any database name through to the
PostgreSQL server, so a database created directly on PostgreSQL is reachable through the
pooler at once.  Authentication is ``trust`` (the user must still be listed in the user
list, which holds ``postgres``).

PgBouncer refuses to run as root: as root it is started with ``-u postgres`` and its
directory is handed to that user.

Library use (the ``pgbouncer_session``/``pgbouncer_transaction`` fixtures do this)::

    bouncer = PgBouncer(work_dir, "transaction")
    bouncer.start()
    bouncer.url("mydb")             # postgresql://postgres@127.0.0.1:PORT/mydb (psycopg2
                                    # for mistral-db-manage; SQLAlchemy 2.1 alone would
                                    # take psycopg 3: add +psycopg2 for create_engine)
    bouncer.stop()                  # SIGTERM (fast shutdown), SIGKILL after stop_timeout

Script use (state in ``DIR/pgbouncer.json``)::

    python tests/clusters/pgbouncer.py start|stop|status --dir DIR [--mode session|transaction]

Only standard-library modules are used; readiness is checked with ``psql``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from processes import client_rows, port_is_free, proc_cmdline, tail, untraversable_parent

PGBOUNCER = "pgbouncer"
PSQL = "psql"
MODES = ("session", "transaction")
#: Ports are picked in this range (both ends included), away from 3306/5432/6432 and from
#: the range of tests/clusters/galera.py.
PORT_RANGE = (30000, 32767)
STATE_FILE = "pgbouncer.json"

START_TIMEOUT = 30.0  # seconds, until the pooler answers a query
STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL
QUERY_TIMEOUT = 10.0  # seconds, for one psql invocation
POLL_INTERVAL = 0.1  # seconds between two readiness probes

#: The account PgBouncer runs as when we are root (it refuses to run as root).
SERVICE_USER = "postgres"


class PgBouncerError(RuntimeError):
    """PgBouncer did not start, answer or stop as expected."""


def missing_prerequisites() -> list[str]:
    """What this machine lacks to run PgBouncer (empty when nothing is missing)."""
    missing: list[str] = []
    for program, package in ((PGBOUNCER, "pgbouncer"), (PSQL, "postgresql-client")):
        if shutil.which(program) is None:
            missing.append(f"{program} (Debian package {package})")
    return missing


def service_user() -> pwd.struct_passwd | None:
    """The account PgBouncer runs as when we are root; ``None`` when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise PgBouncerError(f"running as root, but there is no {SERVICE_USER!r} user") from None


def pick_free_port(low: int = PORT_RANGE[0], high: int = PORT_RANGE[1]) -> int:
    """A free port in [low, high], probed from a random start, walking the range once."""
    size = high - low + 1
    start = random.randrange(size)
    for offset in range(size):
        port = low + (start + offset) % size
        if port_is_free(port):
            return port
    raise PgBouncerError(f"no free port in [{low}, {high}]")


class PgBouncer:
    """One ``pgbouncer`` process in pooling mode *mode*, with its files in *work_dir*."""

    def __init__(
        self,
        work_dir: str | os.PathLike[str],
        mode: str,
        *,
        port: int | None = None,
        server_host: str = "127.0.0.1",
        server_port: int = 5432,
        users: Sequence[str] = ("postgres",),
        start_timeout: float = START_TIMEOUT,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"pool mode {mode!r}: expected one of {MODES}")
        if not users:
            raise ValueError("at least one user is needed")
        self.dir = Path(work_dir).resolve()
        self.mode = mode
        self.port = port if port is not None else pick_free_port()
        self.server_host = server_host
        self.server_port = server_port
        self.users = tuple(users)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.ini = self.dir / "pgbouncer.ini"
        self.auth_file = self.dir / "userlist.txt"
        self.log_file = self.dir / "pgbouncer.log"
        self.pid_file = self.dir / "pgbouncer.pid"
        self.stdout_log = self.dir / "stdout.log"
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ access

    @property
    def user(self) -> str:
        return self.users[0]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def __enter__(self) -> PgBouncer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ files

    def config_text(self) -> str:
        return "\n".join(
            (
                "; Written by tests/clusters/pgbouncer.py.",
                "[databases]",
                f"* = host={self.server_host} port={self.server_port}",
                "",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {self.port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {self.auth_file}",
                f"pool_mode = {self.mode}",
                f"logfile = {self.log_file}",
                f"pidfile = {self.pid_file}",
                f"admin_users = {self.user}",
                "max_client_conn = 500",
                "default_pool_size = 50",
                "ignore_startup_parameters = extra_float_digits",
                "server_login_retry = 1",
                "",
            )
        )

    def write_files(self) -> None:
        account = service_user()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ini.write_text(self.config_text(), encoding="utf-8")
        self.auth_file.write_text(
            "".join(f'"{user}" ""\n' for user in self.users), encoding="utf-8"
        )
        if account is not None:
            for path in (self.dir, self.ini, self.auth_file):
                os.chown(path, account.pw_uid, account.pw_gid)
            blocked = untraversable_parent(self.dir, account)
            if blocked is not None:
                raise PgBouncerError(
                    f"user {account.pw_name!r} cannot enter {blocked}: "
                    "choose a directory it can reach (e.g. under /tmp)"
                )

    # ------------------------------------------------------------------ process

    def is_running(self) -> bool:
        if self.pid is None:
            return False
        if self._process is not None:
            # Our own child: until reaped, its PID cannot be reused, so poll() is the whole
            # truth.  (Its /proc cmdline can even read empty right after the exec.)
            return self._process.poll() is None
        # A PID from a state file: check that it still runs pgbouncer with our ini.
        cmdline = proc_cmdline(self.pid)
        return cmdline is not None and str(self.ini) in cmdline

    def start(self) -> None:
        """Start pgbouncer and wait (bounded) until a query passes through it."""
        missing = missing_prerequisites()
        if missing:
            raise PgBouncerError("cannot start PgBouncer, missing: " + "; ".join(missing))
        if self.is_running():
            raise PgBouncerError(f"pgbouncer ({self.mode}) already runs as pid {self.pid}")
        self.write_files()
        argv = [PGBOUNCER]
        account = service_user()
        if account is not None:
            argv.append(f"--user={account.pw_name}")
        argv.append(str(self.ini))
        out = self.stdout_log.open("ab")
        try:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            out.close()
        self.pid = self._process.pid
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        problem = "no answer yet"
        for _ in range(int(self.start_timeout / POLL_INTERVAL) + 2):
            if not self.is_running():
                raise PgBouncerError(
                    f"pgbouncer ({self.mode}) exited during start-up\n{self.failure_report()}"
                )
            # Only connect (never bind) to the port: a bind here could make pgbouncer's fail.
            try:
                if self.query("SELECT 1", timeout=5.0) == [["1"]]:
                    return
                problem = "SELECT 1 returned something else"
            except PgBouncerError as exc:
                problem = str(exc)
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_INTERVAL)
        raise PgBouncerError(
            f"pgbouncer ({self.mode}) on port {self.port} not ready within "
            f"{self.start_timeout}s: {problem}\n{self.failure_report()}"
        )

    def query(
        self, sql: str, database: str = "postgres", *, timeout: float = QUERY_TIMEOUT
    ) -> list[list[str]]:
        """Run *sql* through the pooler with psql; rows as lists of text."""
        argv = [
            PSQL,
            "-X",
            "-q",
            "-A",
            "-t",
            "-F",
            "\t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            database,
            "-c",
            sql,
        ]
        env = {**os.environ, "PGCONNECT_TIMEOUT": "3"}
        return client_rows(argv, timeout=timeout, what=f"{sql!r} through port {self.port}",
                           error=PgBouncerError, env=env)

    def setting(self, name: str) -> str:
        """The value of setting *name*, from the admin console (``SHOW CONFIG``)."""
        for row in self.query("SHOW CONFIG", database="pgbouncer"):
            if row and row[0] == name:
                return row[1] if len(row) > 1 else ""
        raise PgBouncerError(f"pgbouncer has no setting {name!r}")

    def stop(self) -> None:
        """SIGTERM (pgbouncer's fast shutdown), then SIGKILL after stop_timeout."""
        if self.pid is None:
            return
        pid = self.pid
        for signum, timeout in ((signal.SIGTERM, self.stop_timeout), (signal.SIGKILL, 10.0)):
            if not self.is_running():
                break
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
            deadline = time.monotonic() + timeout
            for _ in range(int(timeout / 0.05) + 2):
                if not self.is_running() or time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
        if self.is_running():
            raise PgBouncerError(f"pgbouncer ({self.mode}) pid {pid} survived SIGKILL")
        self.pid = None
        self._process = None

    def failure_report(self) -> str:
        return (
            f"--- {self.log_file} (last lines) ---\n{tail(self.log_file)}\n"
            f"--- {self.stdout_log} (last lines) ---\n{tail(self.stdout_log)}"
        )

    # ------------------------------------------------------------------ state file

    def save_state(self) -> None:
        state = {"mode": self.mode, "port": self.port, "pid": self.pid, "url": self.url()}
        (self.dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, work_dir: str | os.PathLike[str]) -> PgBouncer:
        path = Path(work_dir) / STATE_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PgBouncerError(f"no state file {path}") from None
        bouncer = cls(work_dir, str(state["mode"]), port=int(state["port"]))
        pid = state.get("pid")
        if isinstance(pid, int):
            bouncer.pid = pid  # is_running() checks that it is still our pgbouncer
        return bouncer


# --------------------------------------------------------------------------- script


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="PgBouncer in front of the local PostgreSQL")
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument("--dir", required=True, type=Path, help="directory of its files")
    parser.add_argument("--mode", choices=MODES, default="session", help="pool mode (start)")
    args = parser.parse_args(argv)
    work_dir: Path = args.dir
    try:
        if args.command == "start":
            if (work_dir / STATE_FILE).exists() and PgBouncer.load(work_dir).is_running():
                print(f"pgbouncer already runs in {work_dir}", file=sys.stderr)
                return 1
            bouncer = PgBouncer(work_dir, args.mode)
            bouncer.start()
            bouncer.save_state()
            print(f"pgbouncer ({bouncer.mode}) pid {bouncer.pid} {bouncer.url()}")
            return 0
        bouncer = PgBouncer.load(work_dir)
        if args.command == "stop":
            bouncer.stop()
            bouncer.save_state()
            print(f"pgbouncer in {work_dir} stopped")
            return 0
        if bouncer.is_running():
            print(f"pgbouncer ({bouncer.mode}) pid {bouncer.pid} {bouncer.url()}")
            return 0
        print(f"pgbouncer ({bouncer.mode}) not running")
        return 3
    except PgBouncerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
