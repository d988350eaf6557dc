"""A throw-away three-node MariaDB Galera cluster on loopback, for tests.

Each node is a ``mariadbd`` process of its own with the galera-4 provider, a datadir made by
``mariadb-install-db`` under a base directory, and four ports of its own on 127.0.0.1: SQL,
group communication (gcomm), incremental state transfer (IST) and snapshot state transfer
(SST, rsync).  Node 1 bootstraps the cluster (``--wsrep-new-cluster``); nodes 2 and 3 join it
by SST.  A node killed with SIGKILL comes back with :meth:`GaleraCluster.start_node`, which
first recovers its last committed position (``--wsrep-recover``) so that it can rejoin by IST.

Library use (the ``galera_cluster`` fixture of ``tests/clusters/conftest.py`` does this)::

    cluster = GaleraCluster(base_dir)
    cluster.start()                 # about 10-30 s, bounded by start_timeout
    cluster.url(1)                  # mysql+pymysql://root@127.0.0.1:PORT/test?charset=utf8
    cluster.kill_node(2)            # SIGKILL
    cluster.wait_cluster_size(2, nodes=(1, 3))
    cluster.start_node(2)           # rejoins (IST, or SST when IST is impossible)
    cluster.stop()                  # SIGTERM, then SIGKILL after stop_timeout

Script use (state is kept in ``DIR/cluster.json``, so ``stop`` works from another process)::

    python tests/clusters/galera.py start --dir DIR
    python tests/clusters/galera.py status --dir DIR
    python tests/clusters/galera.py stop --dir DIR

Only standard-library modules are used: queries go through the ``mariadb`` command-line
client over each node's Unix socket, so the script runs with any Python 3.11.
Processes are only ever signalled by the PIDs this module started, after checking that the
PID still runs ``mariadbd`` with this node's defaults file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from processes import client_rows, port_is_free, proc_cmdline, tail, untraversable_parent

PROVIDER = Path("/usr/lib/galera/libgalera_smm.so")
MARIADBD = "mariadbd"
INSTALL_DB = "mariadb-install-db"
CLIENT = "mariadb"
NODE_COUNT = 3
#: Ports are picked in this range (both ends included), away from 3306, 5432 and 4444-4568.
PORT_RANGE = (21000, 29999)
PORTS_PER_NODE = 4
STATE_FILE = "cluster.json"
DEFAULT_DATABASE = "test"

START_TIMEOUT = 90.0  # seconds, for the whole cluster to reach size 3, all Synced
NODE_TIMEOUT = 60.0  # seconds, for one restarted node to be Synced again
STOP_TIMEOUT = 30.0  # seconds between SIGTERM and SIGKILL
#: Same, when start() gives up: a node still joining may ignore SIGTERM, and a half-built
#: cluster's data is worth nothing.
ABORT_STOP_TIMEOUT = 5.0
INSTALL_TIMEOUT = 60.0  # seconds, for one mariadb-install-db
RECOVER_TIMEOUT = 60.0  # seconds, for one mariadbd --wsrep-recover
QUERY_TIMEOUT = 10.0  # seconds, for one client invocation
POLL_INTERVAL = 0.25  # seconds between two status polls

#: When run as root, the nodes run as this system user instead (see :func:`service_user`).
SERVICE_USER = "mysql"

#: Galera failure detection, shortened so that a killed node leaves the cluster within
#: about 3 s instead of the default 15 s, in the usual order keepalive_period <=
#: inactive_check_period <= suspect_timeout <= inactive_timeout (Galera starts with them).
EVS_OPTIONS = (
    "evs.keepalive_period=PT0.5S",
    "evs.inactive_check_period=PT0.5S",
    "evs.suspect_timeout=PT2S",
    "evs.inactive_timeout=PT3S",
    "evs.install_timeout=PT3S",
)

_RECOVERED = re.compile(r"WSREP: Recovered position:\s*([0-9a-f-]{36}:-?\d+)")


class GaleraError(RuntimeError):
    """The cluster, or one of its nodes, did not start, answer or stop as expected."""


# --------------------------------------------------------------------------- prerequisites


def missing_prerequisites() -> list[str]:
    """What this machine lacks to run a cluster (empty when nothing is missing)."""
    missing: list[str] = []
    for program, package in (
        (MARIADBD, "mariadb-server"),
        (INSTALL_DB, "mariadb-server"),
        (CLIENT, "mariadb-client"),
        ("rsync", "rsync"),
        ("wsrep_sst_rsync", "mariadb-server"),
    ):
        if shutil.which(program) is None:
            missing.append(f"{program} (Debian package {package})")
    if not PROVIDER.is_file():
        missing.append(f"{PROVIDER} (Debian package galera-4)")
    if shutil.which("ss") is None and shutil.which("lsof") is None:
        missing.append("ss or lsof, needed by wsrep_sst_rsync (Debian package iproute2)")
    return missing


# --------------------------------------------------------------------------- user


def service_user() -> pwd.struct_passwd | None:
    """The account the nodes run as when we are root; ``None`` when we are not root.

    mariadbd would run as root with ``user=root``, but the rsync SST would not: the
    rsync daemon that wsrep_sst_rsync starts on the joiner drops to ``nobody`` when
    started by root, and then cannot write into the datadir.  So as root every node runs
    as ``mysql`` (created by the mariadb-server package), owning its directory.
    """
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise GaleraError(f"running as root, but there is no {SERVICE_USER!r} user") from None


def _make_dir(path: Path) -> None:
    """Create *path* (and parents); hand it to the service user when we are root."""
    path.mkdir(parents=True, exist_ok=True)
    account = service_user()
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


# --------------------------------------------------------------------------- ports


def pick_free_ports(count: int, low: int = PORT_RANGE[0], high: int = PORT_RANGE[1]) -> list[int]:
    """*count* distinct free ports in [low, high], probed from a random starting point.

    The probe walks the range at most once, so it ends even when the range is full.
    """
    size = high - low + 1
    if count > size:
        raise ValueError(f"cannot pick {count} ports in [{low}, {high}]")
    start = random.randrange(size)
    ports: list[int] = []
    for offset in range(size):
        port = low + (start + offset) % size
        if port_is_free(port):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise GaleraError(f"only {len(ports)} free ports in [{low}, {high}], {count} needed")


# --------------------------------------------------------------------------- processes


def _owns(pid: int, marker: str) -> bool:
    """True when *pid* is alive and its command line contains *marker*."""
    cmdline = proc_cmdline(pid)
    return cmdline is not None and any(marker in arg for arg in cmdline)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _session_members(sid: int) -> list[int]:
    """Live processes of session *sid* (see ``start_new_session`` in :meth:`GaleraNode.launch`)."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        # Fields after the command name: state ppid pgrp session ...
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 3 and fields[0] not in ("Z", "X") and int(fields[3]) == sid:
            members.append(int(entry.name))
    return members


def _kill_session_leftovers(sid: int) -> None:
    """SIGKILL what is left of the session of a ``mariadbd`` we started (SST helpers).

    Called only once that ``mariadbd`` (the session leader, pid == sid) has ended.
    """
    for pid in _session_members(sid):
        _signal(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True)
class NodePorts:
    sql: int
    gcomm: int
    ist: int
    sst: int


class GaleraNode:
    """One ``mariadbd`` of the cluster: its files, ports and (when running) its process."""

    def __init__(self, cluster: GaleraCluster, index: int, ports: NodePorts) -> None:
        self.cluster = cluster
        self.index = index
        self.ports = ports
        self.dir = cluster.base_dir / f"node{index}"
        self.datadir = self.dir / "data"
        self.socket = self.dir / "mariadbd.sock"
        self.pid_file = self.dir / "mariadbd.pid"
        self.cnf = self.dir / "my.cnf"
        self.error_log = self.dir / "error.log"
        self.stdout_log = self.dir / "stdout.log"
        self.tmpdir = self.dir / "tmp"
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"node{self.index}"

    def url(self, database: str = DEFAULT_DATABASE) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.ports.sql}/{database}?charset=utf8"

    # ------------------------------------------------------------------ files

    def config_text(self) -> str:
        cluster = self.cluster
        gcomm_peers = ",".join(f"127.0.0.1:{node.ports.gcomm}" for node in cluster.nodes)
        provider_options = ";".join(
            (
                "base_host=127.0.0.1",
                f"base_port={self.ports.gcomm}",
                f"gmcast.listen_addr=tcp://127.0.0.1:{self.ports.gcomm}",
                f"ist.recv_addr=127.0.0.1:{self.ports.ist}",
                "gcache.size=16M",
                *EVS_OPTIONS,
            )
        )
        lines = [
            "# Written by tests/clusters/galera.py; regenerated on every start.",
            "[mysqld]",
            f"datadir={self.datadir}",
            f"socket={self.socket}",
            f"pid-file={self.pid_file}",
            f"log-error={self.error_log}",
            f"tmpdir={self.tmpdir}",
            f"port={self.ports.sql}",
            "bind-address=127.0.0.1",
            "skip-name-resolve",
            "performance_schema=OFF",
            "innodb_buffer_pool_size=32M",
            "innodb_log_file_size=8M",
            "innodb_flush_log_at_trx_commit=2",
            "max_connections=200",
            "binlog_format=ROW",
            "default_storage_engine=InnoDB",
            "innodb_autoinc_lock_mode=2",
            "wsrep_on=ON",
            f"wsrep_provider={PROVIDER}",
            f'wsrep_provider_options="{provider_options}"',
            f"wsrep_cluster_name={cluster.cluster_name}",
            f"wsrep_cluster_address=gcomm://{gcomm_peers}",
            f"wsrep_node_name={self.name}",
            f"wsrep_node_address=127.0.0.1:{self.ports.gcomm}",
            f"wsrep_node_incoming_address=127.0.0.1:{self.ports.sql}",
            "wsrep_sst_method=rsync",
            f"wsrep_sst_receive_address=127.0.0.1:{self.ports.sst}",
        ]
        account = service_user()
        if account is not None:
            lines.append(f"user={account.pw_name}")
        return "\n".join(lines) + "\n"

    def write_config(self) -> None:
        _make_dir(self.dir)
        _make_dir(self.tmpdir)
        self.cnf.write_text(self.config_text(), encoding="utf-8")

    def install(self) -> subprocess.Popen[bytes]:
        """Start ``mariadb-install-db`` for this node (the caller waits for it)."""
        self.write_config()
        argv = [
            INSTALL_DB,
            "--no-defaults",
            f"--datadir={self.datadir}",
            # A tmpdir of its own: three installs sharing /tmp at the same time sometimes
            # fail ("Unknown table 'mysql.tmp_user_sys'") or even crash.
            f"--tmpdir={self.tmpdir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--innodb-log-file-size=8M",
            "--innodb-buffer-pool-size=32M",
        ]
        account = service_user()
        if account is not None:
            argv.append(f"--user={account.pw_name}")  # it chowns the datadir to that user
        log = (self.dir / "install.log").open("wb")
        try:
            return subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        finally:
            log.close()

    # ------------------------------------------------------------------ process

    def is_running(self) -> bool:
        if self.pid is None:
            return False
        if self._process is not None:
            # Our own child: until reaped, its PID cannot be reused, so poll() is the whole
            # truth.  (Its /proc cmdline can even read empty right after the exec.)
            return self._process.poll() is None
        # A PID from the state file: check that it still runs mariadbd with our config.
        return _owns(self.pid, str(self.cnf))

    def recover_position(self) -> str | None:
        """``uuid:seqno`` of the last committed transaction, from ``--wsrep-recover``.

        ``None`` when the datadir tells nothing (then the node asks for a full SST).
        """
        log = self.dir / "recover.log"
        log.unlink(missing_ok=True)
        argv = [MARIADBD, f"--defaults-file={self.cnf}", "--wsrep-recover", f"--log-error={log}"]
        try:
            subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=RECOVER_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise GaleraError(f"{self.name}: --wsrep-recover took over {exc.timeout}s") from None
        try:
            text = log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        found = _RECOVERED.findall(text)
        if not found or found[-1].endswith(":-1"):
            return None
        return str(found[-1])

    def launch(self, *, bootstrap: bool = False, start_position: str | None = None) -> None:
        """Start ``mariadbd`` in a session of its own; do not wait for it."""
        if self.is_running():
            raise GaleraError(f"{self.name} is already running (pid {self.pid})")
        self.write_config()
        argv = [MARIADBD, f"--defaults-file={self.cnf}"]
        if bootstrap:
            argv.append("--wsrep-new-cluster")
        if start_position is not None:
            argv.append(f"--wsrep-start-position={start_position}")
        out: IO[bytes] = self.stdout_log.open("ab")
        try:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a session of its own: SST helpers included
                close_fds=True,
            )
        finally:
            out.close()
        self.pid = self._process.pid

    def send(self, signum: int) -> None:
        """Send *signum* to this node's ``mariadbd``, if it is still the one we started."""
        if self.pid is not None and self.is_running():
            _signal(self.pid, signum)

    def wait_exit(self, timeout: float) -> bool:
        """Wait (bounded) for the process to end; True when it has ended."""
        if self.pid is None:
            return True
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.05) + 2):
            if not self.is_running():
                break
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        else:
            return False
        _kill_session_leftovers(self.pid)
        return True

    def forget_process(self) -> None:
        self.pid = None
        self._process = None

    # ------------------------------------------------------------------ queries

    def query(self, sql: str, *, timeout: float = QUERY_TIMEOUT) -> list[list[str]]:
        """Run *sql* as root over the node's socket; rows of tab-separated text."""
        argv = [
            CLIENT,
            "--no-defaults",
            f"--socket={self.socket}",
            "--user=root",
            "--batch",
            "--skip-column-names",
            "--connect-timeout=2",
            "-e",
            sql,
        ]
        return client_rows(argv, timeout=timeout, what=f"{self.name}: {sql!r}", error=GaleraError)

    def wsrep_status(self) -> dict[str, str]:
        """``SHOW GLOBAL STATUS LIKE 'wsrep%'`` as a dict (raises if the node does not answer)."""
        rows = self.query("SHOW GLOBAL STATUS LIKE 'wsrep%'")
        return {row[0]: row[1] if len(row) > 1 else "" for row in rows}

    def describe_status(self) -> str:
        if not self.is_running():
            return f"{self.name}: not running"
        try:
            status = self.wsrep_status()
        except GaleraError as exc:
            return f"{self.name}: pid {self.pid}, not answering ({exc})"
        return (
            f"{self.name}: pid {self.pid}, sql port {self.ports.sql}, "
            f"state {status.get('wsrep_local_state_comment', '?')}, "
            f"cluster size {status.get('wsrep_cluster_size', '?')}, "
            f"cluster status {status.get('wsrep_cluster_status', '?')}"
        )

    def failure_report(self) -> str:
        return f"--- {self.name} {self.error_log} (last lines) ---\n{tail(self.error_log)}"


# --------------------------------------------------------------------------- cluster


class GaleraCluster:
    """Three Galera nodes under *base_dir* (created if needed)."""

    def __init__(
        self,
        base_dir: str | os.PathLike[str],
        *,
        ports: Sequence[int] | None = None,
        cluster_name: str | None = None,
        start_timeout: float = START_TIMEOUT,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.cluster_name = cluster_name or f"mdm-{secrets.token_hex(4)}"
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        needed = NODE_COUNT * PORTS_PER_NODE
        chosen = list(ports) if ports is not None else pick_free_ports(needed)
        if len(chosen) != needed or len(set(chosen)) != needed:
            raise ValueError(f"need {needed} distinct ports, got {chosen}")
        self.nodes: list[GaleraNode] = []
        for i in range(NODE_COUNT):
            sql, gcomm, ist, sst = chosen[i * PORTS_PER_NODE : (i + 1) * PORTS_PER_NODE]
            self.nodes.append(GaleraNode(self, i + 1, NodePorts(sql, gcomm, ist, sst)))

    # ------------------------------------------------------------------ access

    def node(self, index: int) -> GaleraNode:
        """Node *index*, counted from 1."""
        if not 1 <= index <= len(self.nodes):
            raise IndexError(f"no node {index}; nodes are 1..{len(self.nodes)}")
        return self.nodes[index - 1]

    def url(self, index: int, database: str = DEFAULT_DATABASE) -> str:
        return self.node(index).url(database)

    def urls(self, database: str = DEFAULT_DATABASE) -> list[str]:
        return [node.url(database) for node in self.nodes]

    def __enter__(self) -> GaleraCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ start

    def start(self) -> None:
        """Initialise the datadirs, bootstrap node 1, join nodes 2 and 3, wait until Synced.

        On any failure every process started so far is stopped before the error propagates.
        """
        missing = missing_prerequisites()
        if missing:
            raise GaleraError("cannot start a Galera cluster, missing: " + "; ".join(missing))
        deadline = time.monotonic() + self.start_timeout
        _make_dir(self.base_dir)
        account = service_user()
        if account is not None:
            blocked = untraversable_parent(self.base_dir, account)
            if blocked is not None:
                raise GaleraError(
                    f"user {account.pw_name!r} cannot enter {blocked}: "
                    f"choose a base directory it can reach (e.g. under /tmp)"
                )
        try:
            self._install_all(deadline)
            first = self.nodes[0]
            first.launch(bootstrap=True)
            self.save_state()
            self.wait_synced([first], size=1, deadline=deadline)
            self._create_accounts(first)
            for node in self.nodes[1:]:
                node.launch()
            self.save_state()
            self.wait_synced(self.nodes, size=NODE_COUNT, deadline=deadline)
            self._check_tcp_login(deadline)
        except BaseException:
            self._stop_nodes(self.nodes, timeout=ABORT_STOP_TIMEOUT)
            self.save_state()
            raise

    def _install_all(self, deadline: float) -> None:
        for node in self.nodes:
            if node.datadir.exists():
                raise GaleraError(f"{node.datadir} already exists: use a new base directory")
        running = [(node, node.install()) for node in self.nodes]
        failures: list[str] = []
        try:
            for node, proc in running:
                remaining = max(1.0, min(INSTALL_TIMEOUT, deadline - time.monotonic()))
                try:
                    returncode = proc.wait(timeout=remaining)
                except subprocess.TimeoutExpired:
                    failures.append(f"{node.name}: {INSTALL_DB} took over {remaining:.0f}s")
                    continue
                if returncode != 0:
                    failures.append(
                        f"{node.name}: {INSTALL_DB} exited with {returncode}:\n"
                        + tail(node.dir / "install.log")
                    )
        finally:
            for _node, proc in running:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
        if failures:
            raise GaleraError("\n".join(failures))

    def _create_accounts(self, node: GaleraNode) -> None:
        # mariadb-install-db made root@localhost (socket only, with skip-name-resolve):
        # add the same empty-password root for TCP connections from 127.0.0.1.  Done on
        # node 1 before the others join, so their SST copies it.
        node.query(
            "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';"
            "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
            f"CREATE DATABASE IF NOT EXISTS `{DEFAULT_DATABASE}`;"
        )

    def _check_tcp_login(self, deadline: float) -> None:
        for node in self.nodes:
            argv = [
                CLIENT,
                "--no-defaults",
                "--protocol=TCP",
                "--host=127.0.0.1",
                f"--port={node.ports.sql}",
                "--user=root",
                "--connect-timeout=5",
                "--batch",
                "--skip-column-names",
                "-e",
                "SELECT 1",
                DEFAULT_DATABASE,
            ]
            timeout = max(1.0, deadline - time.monotonic())
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, check=False
            )
            if proc.returncode != 0 or proc.stdout.strip() != "1":
                raise GaleraError(
                    f"{node.name}: root cannot log in over TCP on port {node.ports.sql}: "
                    f"{proc.stderr.strip()}"
                )

    # ------------------------------------------------------------------ waits

    def wait_synced(
        self,
        nodes: Iterable[GaleraNode],
        *,
        size: int,
        deadline: float | None = None,
        timeout: float = NODE_TIMEOUT,
    ) -> None:
        """Wait until every one of *nodes* is Synced in a primary cluster of *size* nodes."""
        waited = list(nodes)
        end = deadline if deadline is not None else time.monotonic() + timeout
        max_polls = int(max(0.0, end - time.monotonic()) / POLL_INTERVAL) + 2
        last: dict[str, str] = {}
        for _ in range(max_polls):
            pending = False
            for node in waited:
                if not node.is_running():
                    raise GaleraError(
                        f"{node.name} exited while waiting for it to be Synced\n"
                        + node.failure_report()
                    )
                try:
                    status = node.wsrep_status()
                except GaleraError as exc:
                    last[node.name] = f"not answering ({exc})"
                    pending = True
                    continue
                state = status.get("wsrep_local_state_comment", "?")
                cluster_size = status.get("wsrep_cluster_size", "?")
                primary = status.get("wsrep_cluster_status", "?")
                last[node.name] = f"{state}, size {cluster_size}, {primary}"
                if state != "Synced" or cluster_size != str(size) or primary != "Primary":
                    pending = True
            if not pending:
                return
            if time.monotonic() >= end:
                break
            time.sleep(POLL_INTERVAL)
        states = "; ".join(f"{name}: {text}" for name, text in last.items())
        reports = "\n".join(node.failure_report() for node in waited)
        raise GaleraError(
            f"nodes not Synced with cluster size {size} in time ({states})\n{reports}"
        )

    def wait_cluster_size(
        self, size: int, *, nodes: Sequence[int] | None = None, timeout: float = NODE_TIMEOUT
    ) -> None:
        """Wait until the running nodes (or nodes *nodes*) see a Synced cluster of *size*."""
        chosen = (
            [self.node(i) for i in nodes]
            if nodes is not None
            else [node for node in self.nodes if node.is_running()]
        )
        self.wait_synced(chosen, size=size, timeout=timeout)

    # ------------------------------------------------------------------ node control

    def kill_node(self, index: int, *, timeout: float = 10.0) -> None:
        """SIGKILL node *index* and wait (bounded) until its process is gone."""
        node = self.node(index)
        if not node.is_running():
            raise GaleraError(f"{node.name} is not running")
        node.send(signal.SIGKILL)
        if not node.wait_exit(timeout):
            raise GaleraError(f"{node.name} (pid {node.pid}) survived SIGKILL for {timeout}s")
        node.forget_process()
        self.save_state()

    def stop_node(self, index: int) -> None:
        """Stop node *index* cleanly (SIGTERM, then SIGKILL after stop_timeout)."""
        self._stop_nodes([self.node(index)])
        self.save_state()

    def start_node(self, index: int, *, timeout: float = NODE_TIMEOUT) -> None:
        """Start a stopped or killed node again and wait until it is Synced in the cluster.

        The node's last committed position is recovered first, so the donor can send the
        missing write sets (IST) instead of a full copy (SST).
        """
        node = self.node(index)
        position = node.recover_position()
        node.launch(start_position=position)
        self.save_state()
        running = [n for n in self.nodes if n.is_running()]
        try:
            self.wait_synced(running, size=len(running), timeout=timeout)
        except BaseException:
            self._stop_nodes([node], timeout=ABORT_STOP_TIMEOUT)
            self.save_state()
            raise

    def restart_node(self, index: int, *, timeout: float = NODE_TIMEOUT) -> None:
        """SIGKILL node *index*, then start it again (see :meth:`start_node`)."""
        self.kill_node(index)
        self.start_node(index, timeout=timeout)

    def heal(self, *, timeout: float = NODE_TIMEOUT) -> None:
        """Start every node that is not running, then wait until all are Synced, size 3.

        For fixtures and tests that killed nodes: whatever happened, the cluster is whole
        again afterwards (or this raises).
        """
        for node in self.nodes:
            if not node.is_running():
                node.forget_process()
                node.launch(start_position=node.recover_position())
        self.save_state()
        self.wait_synced(self.nodes, size=NODE_COUNT, timeout=timeout)

    def joined_by(self, index: int) -> str:
        """``"IST"``, ``"SST"`` or ``"unknown"``: how node *index* last joined (from its log).

        wsrep_sst_rsync on the joiner ends with "rsync IST completed on joiner" when only
        the missing write sets came (IST), "rsync SST completed on joiner" after a full copy
        (which an IST of the writes made during the copy may follow, hence not "IST received").
        """
        text = tail(self.node(index).error_log, 1000)
        ist = text.rfind("rsync IST completed on joiner")
        sst = text.rfind("rsync SST completed on joiner")
        if ist < 0 and sst < 0:
            return "unknown"
        return "IST" if ist > sst else "SST"

    # ------------------------------------------------------------------ stop

    def stop(self) -> None:
        """Stop every node this cluster started: SIGTERM, then SIGKILL after stop_timeout."""
        self._stop_nodes(self.nodes)
        if self.base_dir.is_dir():
            self.save_state()

    def _stop_nodes(self, nodes: Sequence[GaleraNode], *, timeout: float | None = None) -> None:
        running = [node for node in nodes if node.is_running()]
        for node in running:
            node.send(signal.SIGTERM)
        deadline = time.monotonic() + (self.stop_timeout if timeout is None else timeout)
        for node in running:
            if not node.wait_exit(max(0.0, deadline - time.monotonic())):
                node.send(signal.SIGKILL)
                node.wait_exit(10.0)
        for node in nodes:
            if node.pid is not None and not node.is_running():
                _kill_session_leftovers(node.pid)
                node.forget_process()

    def remove_data(self) -> None:
        """Delete the datadirs of a stopped cluster (logs and configs stay)."""
        if any(node.is_running() for node in self.nodes):
            raise GaleraError("stop the cluster before removing its data")
        for node in self.nodes:
            shutil.rmtree(node.datadir, ignore_errors=True)

    # ------------------------------------------------------------------ state file

    def save_state(self) -> None:
        state = {
            "cluster_name": self.cluster_name,
            "nodes": [
                {
                    "index": node.index,
                    "pid": node.pid if node.is_running() else None,
                    "ports": {
                        "sql": node.ports.sql,
                        "gcomm": node.ports.gcomm,
                        "ist": node.ports.ist,
                        "sst": node.ports.sst,
                    },
                    "url": node.url(),
                }
                for node in self.nodes
            ],
        }
        _make_dir(self.base_dir)
        path = self.base_dir / STATE_FILE
        path.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, base_dir: str | os.PathLike[str]) -> GaleraCluster:
        """The cluster described by ``base_dir/cluster.json`` (PIDs included)."""
        path = Path(base_dir) / STATE_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GaleraError(f"no cluster state file {path}") from None
        ports: list[int] = []
        for entry in state["nodes"]:
            p = entry["ports"]
            ports.extend(int(p[key]) for key in ("sql", "gcomm", "ist", "sst"))
        cluster = cls(base_dir, ports=ports, cluster_name=str(state["cluster_name"]))
        for node, entry in zip(cluster.nodes, state["nodes"], strict=True):
            pid = entry.get("pid")
            if isinstance(pid, int) and _owns(pid, str(node.cnf)):
                node.pid = pid
        return cluster


# --------------------------------------------------------------------------- script


def _command_start(base_dir: Path) -> int:
    if (base_dir / STATE_FILE).exists():
        existing = GaleraCluster.load(base_dir)
        if any(node.is_running() for node in existing.nodes):
            print(f"a cluster is already running in {base_dir}", file=sys.stderr)
            return 1
        raise GaleraError(f"{base_dir} holds a stopped cluster: use a new directory")
    began = time.monotonic()
    cluster = GaleraCluster(base_dir)
    cluster.start()
    print(f"cluster {cluster.cluster_name} Synced in {time.monotonic() - began:.1f}s")
    for node in cluster.nodes:
        print(f"{node.name} pid {node.pid} {node.url()}")
    return 0


def _command_stop(base_dir: Path) -> int:
    cluster = GaleraCluster.load(base_dir)
    cluster.stop()
    print(f"cluster in {base_dir} stopped")
    return 0


def _command_status(base_dir: Path) -> int:
    cluster = GaleraCluster.load(base_dir)
    for node in cluster.nodes:
        print(node.describe_status())
    return 0 if all(node.is_running() for node in cluster.nodes) else 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Three-node MariaDB Galera cluster on loopback")
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument("--dir", required=True, type=Path, help="base directory of the cluster")
    args = parser.parse_args(argv)
    base_dir: Path = args.dir
    commands = {"start": _command_start, "stop": _command_stop, "status": _command_status}
    try:
        return commands[args.command](base_dir)
    except GaleraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
