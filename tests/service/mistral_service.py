"""Upstream's Mistral service, run for a test on a database this tool built.

* :func:`upstream_environment`: Mistral 23.0.0 and mistral-extra 17.0.0 in a virtual
  environment of their own, outside the repository (``MDM_UPSTREAM_VENV``, else
  ``~/.cache/mistral-db-manage/upstream-23.0.0``, shared with ``tests/reference/refresh``);
  created when missing, reused when it holds these releases.  ``oslotest`` is added for
  Mistral's own DB-layer unit tests.
* :class:`MistralService`: the unmodified ``mistral-server --server all`` on the machine's
  RabbitMQ, with an exchange and topics of its own, auth disabled, its API on a free
  loopback port; stopped by its process id (its process group) whatever happens.
* :func:`call`: the REST API, through the standard library only.

Every wait is bounded in time and in count.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from follow.refresh import REFERENCE_DIR, recorded_versions
from follow.upstream import ensure_upstream

MISTRAL = "23.0.0"
MISTRAL_EXTRA = "17.0.0"
VENV_ENV = "MDM_UPSTREAM_VENV"
RABBIT = ("127.0.0.1", 5672)
#: lines of the service's log that mean a database error
DATABASE_ERRORS = ("OperationalError", "ProgrammingError", "IntegrityError", "DBError",
                   "DBDeadlock", "DBConnectionError", "database is locked", "DataError",
                   "InternalError", "sqlalchemy.exc")
#: libpq's complaint when two processes use one connection: upstream's launcher can
#: hand a connection opened before it forks to a child (seen once in 3 CI runs, in
#: oslo.db's pre-ping); a protocol error of the service's own making, not of the schema
FORK_SHARED_CONNECTION = "error with status PGRES_TUPLES_OK and no message from the libpq"


def upstream_environment(log: Any = print) -> Path:
    venv = Path(os.environ.get(VENV_ENV) or
                Path.home() / ".cache" / "mistral-db-manage" / f"upstream-{MISTRAL}")
    ensure_upstream(venv, MISTRAL, MISTRAL_EXTRA, recorded_versions(REFERENCE_DIR), log)
    python = venv / "bin" / "python"
    has_oslotest = subprocess.run([str(python), "-c", "import oslotest"],
                                  capture_output=True, timeout=120).returncode == 0
    if not has_oslotest:
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "oslotest"], check=True,
                       timeout=600)
    return venv


def rabbitmq_problem() -> str | None:
    try:
        with socket.create_connection(RABBIT, timeout=3):
            return None
    except OSError as error:
        return f"RabbitMQ at {RABBIT[0]}:{RABBIT[1]} does not answer ({error})"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_config(directory: Path, url: str, port: int) -> Path:
    tag = f"mdmtest_{secrets.token_hex(4)}"
    path = directory / "mistral.conf"
    path.write_text(f"""[DEFAULT]
transport_url = rabbit://guest:guest@127.0.0.1:5672/
control_exchange = {tag}

[api]
host = 127.0.0.1
port = {port}
api_workers = 1

[pecan]
auth_enable = False

[database]
connection = {url}

[engine]
topic = {tag}_engine

[executor]
topic = {tag}_executor

[event_engine]
topic = {tag}_event_engine

[notifier]
topic = {tag}_notifier

[cron_trigger]
execution_interval = 1
""", encoding="utf-8")
    return path


#: log lines repeated by the hundred at every start, left out of a failure's excerpt
LOG_NOISE = ("neutronclient.v2_0.client", "Processing OpenStack action mapping")
#: how long one launch may take to answer (it answers in about 3 s here)
LAUNCH_SECONDS = 60
#: launches tried before the test fails
LAUNCHES = 3


class MistralService:
    """One ``mistral-server --server all``.

    The launcher forks its services from a process that already runs threads
    (oslo.service's threading backend, start method ``fork``).  About one
    launch in eight on this machine under load (1 of 9 in a loop on one
    database, and once in a CI run) logs "API server started" and never
    answers, while the other services run.  A launch whose API does not answer
    in :data:`LAUNCH_SECONDS` is therefore stopped, reported with its
    processes and log, and tried again, :data:`LAUNCHES` times in all; a
    database that keeps the API from starting fails every launch.
    """

    def __init__(self, venv: Path, config: Path, port: int, log_path: Path) -> None:
        self.venv = venv
        self.config = config
        self.base = f"http://127.0.0.1:{port}/v2"
        self.log_path = log_path
        self.failed_launches: list[str] = []
        self._launch()

    def _launch(self) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(self.venv / "bin" / "mistral-server"), "--server", "all", "--config-file",
             str(self.config)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=self.config.parent,
        )

    def _answers_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        for _attempt in range(int(seconds * 2) + 1):
            if self.process.poll() is not None:
                raise AssertionError(f"mistral-server exited with {self.process.returncode}:\n"
                                     + self.log_tail())
            try:
                call(self.base, "GET", "/workflows")
                return True
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        return False

    def wait_ready(self, seconds: float = LAUNCH_SECONDS, launches: int = LAUNCHES) -> None:
        for launch in range(1, launches + 1):
            if self._answers_within(seconds):
                return
            self.failed_launches.append(
                f"launch {launch}: the API did not answer in {seconds:.0f} s; "
                f"processes:\n{self.processes()}\nlog:\n{self.log_tail()}")
            self.stop()
            if launch < launches:
                print(f"[service] launch {launch} of mistral-server: the API did not answer "
                      f"in {seconds:.0f} s; launching again", flush=True)
                self._launch()
        raise AssertionError("the Mistral API did not answer:\n"
                             + "\n".join(self.failed_launches))

    def processes(self) -> str:
        """The server's process group: state, kernel wait channel, age, command."""
        listing = subprocess.run(
            ["ps", "-o", "pid,stat,wchan:24,etime,args", "-g", str(self.process.pid)],
            capture_output=True, text=True, timeout=30)
        return "\n".join(line[:160] for line in listing.stdout.splitlines())

    def stop(self) -> None:
        """SIGTERM to the server's process group (its id is the server's), then SIGKILL."""
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
        with suppress(ProcessLookupError):  # workers the master left behind
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        kept = [line for line in self.log_text().splitlines()
                if not any(noise in line for noise in LOG_NOISE)]
        return "\n".join(line[:300] for line in kept[-lines:])

    def database_errors(self) -> list[str]:
        """Lines that report a database error, less the records (every line of the same
        time and process) of a connection the launcher shared across its fork."""
        lines = self.log_text().splitlines()
        shared = {_record(line) for line in lines if FORK_SHARED_CONNECTION in line}
        return [line for line in lines
                if any(word in line for word in DATABASE_ERRORS)
                and _record(line) not in shared]


def _record(line: str) -> str:
    """A log line's time and process id (``2026-12-06 08:43:21.749 28662``): the lines
    of one record, its traceback included, share them."""
    return " ".join(line.split(" ", 3)[:3])


@contextmanager
def running_service(venv: Path, config: Path, port: int, log_path: Path
                    ) -> Iterator[MistralService]:
    service = MistralService(venv, config, port, log_path)
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


def call(base: str, method: str, path: str, body: object = None,
         content_type: str = "application/json") -> Any:
    data: bytes | None = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{method} {path}: HTTP {error.code}: "
                             f"{error.read().decode(errors='replace')[:500]}") from None
    return json.loads(text) if text else None


def wait_for_state(base: str, execution_id: str, states: tuple[str, ...],
                   seconds: float = 90) -> dict[str, Any]:
    """The execution once it is in one of ``states`` (or any final state: then it fails)."""
    deadline = time.monotonic() + seconds
    execution: dict[str, Any] = {}
    for _attempt in range(int(seconds * 2)):
        execution = call(base, "GET", f"/executions/{execution_id}")
        if execution["state"] in states or execution["state"] in ("SUCCESS", "ERROR",
                                                                   "CANCELLED"):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return execution
