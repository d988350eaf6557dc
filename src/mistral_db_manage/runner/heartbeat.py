"""The heartbeat of a held migration lock (see :mod:`.lockrow`).

A daemon thread, with a connection of its own, adds one to the lock row's
``beat`` every sixth of the lease.  The run asks :meth:`Heartbeat.check` at
each safe point (before each revision, each journaled operation, the creation
of the schema): it raises :class:`~..errors.LockLostError` when the row no
longer carries the run's token, or when no heartbeat has been confirmed for
longer than the lease while none is on its way (a heartbeat held back by a
long Galera schema change is on its way: the cluster has ordered it).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from sqlalchemy import exc

from ..errors import LockLostError
from . import lockrow
from .galera import without_causal_wait

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

#: heartbeats per lease
BEATS_PER_LEASE = 6


class Heartbeat:
    def __init__(self, engine: Engine, token: str, lease_seconds: float) -> None:
        self.engine = engine
        self.token = token
        self.lease = lease_seconds
        self.interval = lease_seconds / BEATS_PER_LEASE
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._confirmed = time.monotonic()
        self._sending_since: float | None = None
        self._lost = False
        self._thread = threading.Thread(target=self._run, name="lock-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        # bounded: a heartbeat stuck in the server is left to die with the process
        self._thread.join(timeout=self.interval + 5)

    def check(self) -> None:
        """Raise when this run can no longer prove that it holds the lock."""
        with self._lock:
            lost = self._lost
            silent = time.monotonic() - self._confirmed
            sending = self._sending_since is not None
        if lost:
            raise LockLostError(
                "another run took over the migration lock (this run's heartbeats had stopped "
                "reaching the database); this run stopped at a safe point: run the command "
                "again once the other run has finished"
            )
        if silent > self.lease and not sending:
            raise LockLostError(
                f"no heartbeat of the migration lock reached the database for {silent:.0f} s "
                f"(lease {self.lease:g} s): another run may take it over, so this run stopped "
                "at a safe point; run the command again"
            )

    def _run(self) -> None:
        connection: Connection | None = None
        try:
            while not self._stop.wait(self.interval):
                try:
                    if connection is None:
                        connection = self.engine.connect()
                        without_causal_wait(connection)
                    with self._lock:
                        self._sending_since = time.monotonic()
                    held = lockrow.beat(connection, self.token)
                    with self._lock:
                        self._sending_since = None
                        if held:
                            self._confirmed = time.monotonic()
                        else:
                            self._lost = True
                    if not held:
                        return
                except exc.SQLAlchemyError:
                    log.debug("heartbeat failed; retrying with a new connection", exc_info=True)
                    with self._lock:
                        self._sending_since = None
                    if connection is not None:
                        _close_quietly(connection)
                        connection = None
        finally:
            if connection is not None:
                _close_quietly(connection)


def _close_quietly(connection: Connection) -> None:
    try:
        connection.close()
    except Exception:
        log.debug("closing the heartbeat's connection failed", exc_info=True)
