"""What the Galera and PgBouncer harnesses share: directories their service user
must reach, free loopback ports, our own
processes read from /proc, the end of a log file for error messages, and a
database client run for its tab-separated rows."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on *host*:*port* and it can be bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) != 0


def proc_cmdline(pid: int) -> list[str] | None:
    """The command line of a live (non-zombie) process, or ``None``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    state = stat.rpartition(")")[2].split()
    if not state or state[0] in ("Z", "X"):
        return None
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def tail(path: Path, lines: int = 30) -> str:
    """The last *lines* lines of a log file (or a note that it is missing)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no {path})"
    return "\n".join(text.rstrip().splitlines()[-lines:])


def client_rows(
    argv: Sequence[str],
    *,
    timeout: float,
    what: str,
    error: type[Exception],
    env: Mapping[str, str] | None = None,
) -> list[list[str]]:
    """Run a database client that prints tab-separated rows; a timeout or a
    failure raises *error* naming *what*."""
    try:
        proc = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=None if env is None else dict(env),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise error(f"{what} took over {timeout}s") from None
    if proc.returncode != 0:
        raise error(f"{what} failed: {proc.stderr.strip()}")
    return [line.split("\t") for line in proc.stdout.splitlines()]


def untraversable_parent(path: Path, account: pwd.struct_passwd) -> Path | None:
    """The first directory above *path* that *account* cannot enter, if any."""
    groups = {account.pw_gid, *os.getgrouplist(account.pw_name, account.pw_gid)}
    for parent in reversed(path.parents):
        info = parent.stat()
        if info.st_uid == account.pw_uid:
            allowed = info.st_mode & 0o100
        elif info.st_gid in groups:
            allowed = info.st_mode & 0o010
        else:
            allowed = info.st_mode & 0o001
        if not allowed:
            return parent
    return None
