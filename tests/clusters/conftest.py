"""Fixtures for the tests of ``tests/clusters``: a Galera cluster and PgBouncer.

* ``galera_cluster`` (session) -- a :class:`galera.GaleraCluster` of three MariaDB nodes on
  loopback, all Synced, with root (empty password) over TCP and a database ``test``;
  ``galera_cluster.url(n)`` is node *n*'s SQLAlchemy URL.  A test that kills nodes calls
  ``galera_cluster.heal()`` when it is done, so the next test finds three Synced nodes.
* ``pgbouncer_session``, ``pgbouncer_transaction`` (session) -- a :class:`pgbouncer.PgBouncer`
  in that pool mode in front of the PostgreSQL server of ``MDM_PG_HOST``/``MDM_PG_PORT``;
  ``.url(dbname)`` passes any database through.

Each is started the first time a test asks for it and stopped, by PID, at the end of the
session; its directory (under the system temporary directory, so that the ``mysql`` and
``postgres`` users can reach it when the tests run as root) is then deleted, unless
``MDM_KEEP_CLUSTER_DIRS`` is set.

When one cannot start (``galera-4``, ``rsync`` or ``pgbouncer`` not installed, no free
port, ...), its tests skip with the reason, unless ``MDM_REQUIRE_SERVERS`` names it
(``galera``, ``pgbouncer``): then they fail.

Every test collected under this directory gets the ``cluster`` marker (``-m cluster`` selects
them, ``-m "not cluster"`` leaves them out).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from dbs import POSTGRESQL, REQUIRE_ENV, pg_server, required_servers
from galera import GaleraCluster, GaleraError
from pgbouncer import PgBouncer, PgBouncerError

HERE = Path(__file__).resolve().parent
KEEP_DIRS_ENV = "MDM_KEEP_CLUSTER_DIRS"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.cluster)


def _unavailable(name: str, reason: str) -> NoReturn:
    __tracebackhide__ = True
    if name in required_servers():
        pytest.fail(f"{reason}\n{REQUIRE_ENV} names {name!r}, so this is an error", pytrace=False)
    pytest.skip(f"{reason} (set {REQUIRE_ENV}={name} to make this an error)")


def _work_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def _discard(directory: Path) -> None:
    if not os.environ.get(KEEP_DIRS_ENV):
        shutil.rmtree(directory, ignore_errors=True)


#: Start attempts for the Galera cluster: a second one, on new ports, only when a port
#: picked as free was taken meanwhile (another process on this machine got there first).
GALERA_ATTEMPTS = 2


def _start_galera() -> tuple[GaleraCluster, Path]:
    __tracebackhide__ = True
    for attempt in range(1, GALERA_ATTEMPTS + 1):
        base = _work_dir("mdm-galera-")
        try:
            cluster = GaleraCluster(base)
            cluster.start()  # stops whatever it started if it fails
            return cluster, base
        except (GaleraError, OSError) as exc:
            _discard(base)
            if attempt < GALERA_ATTEMPTS and "Address already in use" in str(exc):
                continue
            _unavailable("galera", str(exc))
        except BaseException:  # e.g. Ctrl-C: start() has stopped its processes
            _discard(base)
            raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def galera_cluster() -> Iterator[GaleraCluster]:
    cluster, base = _start_galera()
    try:
        yield cluster
    finally:
        cluster.stop()
        _discard(base)


def _pgbouncer(mode: str) -> Iterator[PgBouncer]:
    base = _work_dir(f"mdm-pgbouncer-{mode}-")
    server = pg_server()
    if server.dialect != POSTGRESQL or server.is_socket:
        _discard(base)
        _unavailable("pgbouncer", f"PgBouncer needs a TCP PostgreSQL server, not {server}")
    try:
        bouncer = PgBouncer(
            base, mode, server_host=server.host, server_port=server.port, users=(server.user,)
        )
        bouncer.start()  # stops the process if it does not answer
    except (PgBouncerError, OSError) as exc:
        _discard(base)
        _unavailable("pgbouncer", f"PgBouncer ({mode}): {exc}")
    except BaseException:  # e.g. Ctrl-C: start() has stopped its process
        _discard(base)
        raise
    try:
        yield bouncer
    finally:
        bouncer.stop()
        _discard(base)


@pytest.fixture(scope="session")
def pgbouncer_session() -> Iterator[PgBouncer]:
    yield from _pgbouncer("session")


@pytest.fixture(scope="session")
def pgbouncer_transaction() -> Iterator[PgBouncer]:
    yield from _pgbouncer("transaction")
