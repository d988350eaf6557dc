"""What a run reports while it works: typed events, handed to one callback.

The migrator and the executor never print; they call the ``EventSink`` they
were given with one of these values, and the command line decides what an
operator sees (a progress bar, log lines, warnings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .chain import Revision


@dataclass(frozen=True)
class SchemaCreationStarted:
    """An empty database gets ``revision``'s schema at once (no revision is replayed)."""

    revision: Revision


@dataclass(frozen=True)
class SchemaCreated:
    revision: Revision
    seconds: float


@dataclass(frozen=True)
class RevisionStarted:
    revision: Revision


@dataclass(frozen=True)
class RevisionApplied:
    revision: Revision
    seconds: float


@dataclass(frozen=True)
class Notice:
    """Something the operator should know: a wait for the lock, a backup, a cleanup."""

    message: str


RunEvent = SchemaCreationStarted | SchemaCreated | RevisionStarted | RevisionApplied | Notice
EventSink = Callable[[RunEvent], None]


def ignore(event: RunEvent) -> None:
    """The sink of a caller that wants no events."""
