"""The exceptions of mistral-db-manage: one root, a few named failures.

The CLI catches :class:`MistralDbManageError`, prints ``str(error)`` as one
line on stderr and exits with ``error.exit_code``.  Every message says what is
wrong and, where possible, how to fix it.
"""

from __future__ import annotations


class MistralDbManageError(Exception):
    """Root of every error this tool reports to a user."""

    exit_code = 1


class ConfigError(MistralDbManageError):
    """The configuration is missing, unreadable, malformed or incomplete."""


class DriverMissingError(MistralDbManageError):
    """The database driver for the configured URL is not installed."""


class DatabaseConnectionError(MistralDbManageError):
    """The server is unreachable, refused the credentials or the database is missing."""


class RevisionError(MistralDbManageError):
    """A revision argument does not name a revision of the chain, or the target is impossible."""


class ChainError(MistralDbManageError):
    """The revision chain itself is broken (branches, gaps, duplicate ids, several heads)."""


class UnknownDatabaseRevisionError(MistralDbManageError):
    """The database records a revision this tool does not know (it is ahead of this tool)."""

    exit_code = 4


class NotAtHeadError(MistralDbManageError):
    """An operation needs the database at head (populate) and it is not."""


class UnversionedDatabaseError(MistralDbManageError):
    """The database has Mistral tables but no version record."""


class DriftError(MistralDbManageError):
    """The live schema differs from what the chain says it is."""


class LockTimeoutError(MistralDbManageError):
    """Another run held the migration lock for longer than --lock-timeout."""


class DatabaseError(MistralDbManageError):
    """The server failed a statement or the connection was lost in the middle of a run."""


class LockLostError(MistralDbManageError):
    """This run's migration lock expired or was taken over: it stopped at a safe point."""


class ClusterError(MistralDbManageError):
    """The cluster is set up so that a schema change would not reach every node."""


class MigrationFailedError(MistralDbManageError):
    """A revision failed while being applied."""


class RevisionRefusedError(MigrationFailedError):
    """A revision refused rows it cannot convert and undid what it had done: the
    database is as the revision found it."""


class DefinitionError(MistralDbManageError):
    """A workflow or action definition is invalid (names the file, line and key path)."""


class UsageError(MistralDbManageError):
    """The command line is wrong (options that do not go together, a bad value)."""

    exit_code = 2


class RunInterrupted(MistralDbManageError):
    """A signal stopped the run (at a safe point, or at once after a second signal);
    the message says where the database stands.  Exits 128 + the signal's number."""

    def __init__(self, signal_name: str, signum: int, *, safe_point: bool = False,
                 where: str = "") -> None:
        self.signal_name = signal_name
        self.signum = signum
        self.safe_point = safe_point
        self.where = where
        self.exit_code = 128 + signum
        how = " at a safe point" if safe_point else ""
        super().__init__(f"interrupted by {signal_name}{how}" + (f": {where}" if where else ""))

    def at(self, where: str) -> RunInterrupted:
        """The same interruption, saying where the database stands."""
        return RunInterrupted(self.signal_name, self.signum, safe_point=self.safe_point,
                              where=where)


class SignalInterrupt(KeyboardInterrupt):
    """A second signal (or SIGTERM/SIGHUP outside a run): stop at once, like Ctrl-C."""

    def __init__(self, signal_name: str, signum: int) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.signum = signum
