"""Stopping a run on a signal: SIGINT (Ctrl-C), SIGTERM (systemd, Kubernetes, Ansible's
timeouts) and SIGHUP (a closed terminal) are all handled alike.

Outside a run that changes the database, the signal stops the command at once
(:func:`stop_at_once`), as Ctrl-C always did.  While a run changes the database
(:class:`SafePoints`), the first signal asks it to stop at the next safe point:
before the next revision, or, on MySQL, before the next operation of a journaled
revision; the run then says where the database stands and records itself as
``interrupted``.  A second signal stops it at once: that is safe too (PostgreSQL
and SQLite roll the revision back; on MySQL the journal lets the next run finish
it), only less tidy.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType

from ..errors import RunInterrupted, SignalInterrupt

log = logging.getLogger(__name__)

#: the signals a run handles
HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _name(signum: int) -> str:
    return signal.Signals(signum).name


def _raise_now(signum: int, frame: FrameType | None) -> None:
    # a KeyboardInterrupt, so that no ``except Exception`` on the way swallows it
    raise SignalInterrupt(_name(signum), signum)


def stop_at_once() -> None:
    """Install handlers that stop the command at once with a one-line message (the
    command line's default; SIGINT keeps Python's own KeyboardInterrupt)."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _raise_now)


class SafePoints:
    """While the block runs: the first signal is remembered and :meth:`check` raises
    at the next safe point; a second one raises at once."""

    def __init__(self) -> None:
        self.requested: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> SafePoints:
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:
            raise SignalInterrupt(_name(signum), signum)
        self.requested = signum
        log.warning("%s received: stopping at the next safe point (send it again to stop "
                    "at once)", _name(signum))

    def check(self) -> None:
        """Raise :class:`~..errors.RunInterrupted` if a signal asked the run to stop."""
        if self.requested is not None:
            raise RunInterrupted(_name(self.requested), self.requested, safe_point=True)
