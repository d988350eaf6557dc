"""How the CLI shows a run while it goes: progress on stderr, notices as log lines.

Every text shown goes through :func:`.terminal.printable` (the log handler's
formatter escapes what reaches it): a revision's message is a file's text.
"""

from __future__ import annotations

import logging
import sys

from .runner import events
from .runner.events import RunEvent
from .terminal import printable

log = logging.getLogger("mistral_db_manage")


class Progress:
    """Run events on stderr: a bar on a terminal, log lines otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.tty = sys.stderr.isatty()

    def __call__(self, event: RunEvent) -> None:
        match event:
            case events.Notice(message):
                log.warning("%s", message)
            case events.SchemaCreationStarted(revision):
                log.info("Creating the schema of revision %s at once (the database is empty)",
                         revision.id)
                self.done = self.total - 1
            case events.RevisionStarted(revision):
                first_line = title(revision.message)
                if self.tty:
                    width = 30
                    filled = width * self.done // max(self.total, 1)
                    bar = "#" * filled + "-" * (width - filled)
                    line = printable(f"[{bar}] {self.done}/{self.total} {revision.id} "
                                     f"{first_line[:40]:40}")
                    sys.stderr.write("\r" + line)
                    sys.stderr.flush()
                else:
                    log.info("Running upgrade %s -> %s, %s", revision.down_revision or "<base>",
                             revision.id, first_line)
            case events.RevisionApplied(revision, seconds) | events.SchemaCreated(
                revision, seconds
            ):
                self.done += 1
                if self.tty and self.done == self.total:
                    sys.stderr.write("\r" + " " * 90 + "\r")
                    sys.stderr.flush()
                elif not self.tty and seconds >= SHOWN_SECONDS:
                    log.info("  %s took %.2f s", revision.id, seconds)


#: a revision that took this long or longer has its time logged (without a terminal)
SHOWN_SECONDS = 0.1


def title(message: str) -> str:
    """The first line of a revision's message (empty for none)."""
    return (message.splitlines() or [""])[0]


def notify(event: RunEvent) -> None:
    """Events of the commands without a progress display: only notices are shown."""
    if isinstance(event, events.Notice):
        log.warning("%s", event.message)
