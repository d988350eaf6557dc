"""Running the console script as a careless operator or an attacker would, and checking
what it left: one line on stderr, the exit code, no secret anywhere, nothing changed.

Used by ``tests/unit/test_hostile_catalogue.py`` (SQLite, no server) and
``tests/dialects/test_hostile_servers.py``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

PROG = "mistral-db-manage"
#: a safety net only: every case here ends in a second or two
TIMEOUT_SECONDS = 120
#: the unprivileged user the permission cases run as, when the tests run as root
NOBODY = 65534


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def mdm(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    unprivileged: bool = False,
    timeout: float = TIMEOUT_SECONDS,
) -> Run:
    """Run ``python -m mistral_db_manage ARGS`` (the console script's code) in ``cwd``.

    ``unprivileged``: when the tests run as root, run as uid/gid 65534 (root
    ignores file modes, so a read-only file would not be read-only to it).
    """
    full_env = {k: v for k, v in os.environ.items() if k != "OS_DATABASE__CONNECTION"}
    full_env["HOME"] = str(cwd)
    full_env.update(env or {})
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot drop privileges")
        prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    process = subprocess.run(
        [*prefix, sys.executable, "-m", "mistral_db_manage", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout, check=False,
    )
    return Run(tuple(args), process.returncode, process.stdout, process.stderr)


def assert_one_line_error(run: Run, *fragments: str, code: int = 1) -> str:
    """The run failed with ``code`` and exactly one ``error:`` line holding ``fragments``."""
    assert run.returncode == code, run
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"{PROG}: error: ") or f"{PROG}" in lines[0], run.stderr
    assert "Traceback" not in run.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def assert_usage_error(run: Run, *fragments: str) -> None:
    """argparse's usage errors and ours: exit 2, an ``error:`` line, no traceback."""
    assert run.returncode == 2, run
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, run.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])


def assert_no_secret(run: Run, secrets: Sequence[str]) -> None:
    for secret in secrets:
        assert secret not in run.output, (secret, run)


def assert_no_control_characters(text: str) -> None:
    """Only line ends: no escape sequence, no carriage return, no other control character."""
    bad = [char for char in text if not (char.isprintable() or char == "\n")]
    assert bad == [], (bad, text)


def sqlite_execute(database: Path, statement: str) -> None:
    """Run one statement on a SQLite file and close it, as a careful operator's edit:
    a connection left open would keep the ``-wal`` and ``-shm`` files of a WAL file."""
    import sqlite3

    connection = sqlite3.connect(database)
    try:
        with connection:
            connection.execute(statement)
    finally:
        connection.close()


def tree_state(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` (names and contents): what "nothing changed" compares."""
    state = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
            state[str(path.relative_to(directory))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def write_config(directory: Path, url: str) -> Path:
    path = directory / "mistral.conf"
    path.write_text(f"[DEFAULT]\ndebug = False\n\n[database]\nconnection = {url}\n",
                    encoding="utf-8")
    path.chmod(0o644)
    return path


@contextmanager
def open_directory() -> Iterator[Path]:
    """A directory every user may enter (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="mdm-hostile-"))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
