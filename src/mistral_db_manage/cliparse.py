"""The command line's argparse table: every command, its options and their types.

Options common to every command (``--config-file``, ``--config-dir``, oslo.log's
usual options, the lock's) are accepted before the command, as upstream's tool
takes them, and also after it: :func:`config_sources` merges the two places in
command-line order, so no ``--config-file`` is ever dropped.  oslo.log's options
are accepted so that deployment scripts that pass them keep working:
``--log-file`` and ``--log-dir`` are used (the log is written there too), the
others are accepted and ignored.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from typing import Any

from . import __version__
from .config import ConfigSource
from .limits import DEFAULT_KEEP_BACKUPS, DEFAULT_MAX_DEFINITION_KB, NODES_PER_KB

__all__ = ["PROG", "build_parser", "config_sources"]

PROG = "mistral-db-manage"

#: where the --config-file/--config-dir given before (after) the command are kept
_BEFORE = "config_sources"
_AFTER = "config_sources_after"


class _SourceAction(argparse.Action):
    """Appends a :class:`~.config.ConfigSource` of ``kind`` to a list, in order."""

    def __init__(self, option_strings: Sequence[str], dest: str, kind: str = "file",
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.kind = kind

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        found = list(getattr(namespace, self.dest, None) or [])
        found.append(ConfigSource("file" if self.kind == "file" else "dir", str(values)))
        setattr(namespace, self.dest, found)


def config_sources(args: argparse.Namespace) -> list[ConfigSource]:
    """Every --config-file and --config-dir, in command-line order."""
    return list(getattr(args, _BEFORE, None) or []) + list(getattr(args, _AFTER, None) or [])


def _lease_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 3 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"{value} is outside 3 to 3600 seconds")
    return seconds


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, not {text!r}")
    return value


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {value}")
        return value

    return parse


def _common_options(parser: argparse.ArgumentParser, *, after_command: bool) -> None:
    """The options of every command; after the command, one given there overrides the
    same one given before (``SUPPRESS``: not given leaves the earlier value)."""
    unset: Any = argparse.SUPPRESS if after_command else None
    sources = _AFTER if after_command else _BEFORE
    parser.add_argument(
        "--config-file", action=_SourceAction, kind="file", dest=sources,
        default=argparse.SUPPRESS, metavar="PATH",
        help="a mistral.conf to read (repeatable; later files win)",
    )
    parser.add_argument(
        "--config-dir", action=_SourceAction, kind="dir", dest=sources,
        default=argparse.SUPPRESS, metavar="DIR",
        help="read every *.conf in DIR in sorted order, where it stands among the "
             "--config-file options (repeatable)",
    )
    parser.add_argument(
        "--debug", "-d", action="store_true", default=argparse.SUPPRESS if after_command
        else False, help="show tracebacks and debug logging",
    )
    parser.add_argument("--nodebug", action="store_false", dest="debug",
                        default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--lock-timeout", type=_seconds, default=unset if after_command else 300.0,
        metavar="SECONDS",
        help="how long a writing command waits for another run's migration lock (default 300)",
    )
    parser.add_argument(
        "--lock-lease", type=_lease_seconds, default=unset if after_command else 30.0,
        metavar="SECONDS",
        help="server databases: how long the migration lock outlives a run that stopped "
             "sending heartbeats (default 30; 3 to 3600)",
    )
    parser.add_argument(
        "--versions-dir", default=unset, metavar="DIR",
        help="use the revision files in DIR instead of the installed chain (for developers)",
    )
    _oslo_log_options(parser, unset)


def _oslo_log_options(parser: argparse.ArgumentParser, unset: Any) -> None:
    """oslo.log's command-line options, as upstream's tool accepts them."""
    parser.add_argument("--log-file", "--logfile", default=unset, metavar="PATH",
                        help="also write the log to PATH (relative to --log-dir if given)")
    parser.add_argument("--log-dir", "--logdir", default=unset, metavar="DIR",
                        help="the directory of a relative --log-file")
    for name in ("--log-config-append", "--log-config", "--log_config", "--log-date-format",
                 "--syslog-log-facility"):
        parser.add_argument(name, default=argparse.SUPPRESS, metavar="VALUE",
                            dest=f"ignored_{name.strip('-').replace('-', '_')}",
                            help=argparse.SUPPRESS)
    for flag in ("use-syslog", "use-journal", "use-json", "use-eventlog", "watch-log-file",
                 "use-stderr"):
        for name in (f"--{flag}", f"--no{flag}"):
            parser.add_argument(name, action="store_true", default=argparse.SUPPRESS,
                                dest=f"ignored_{name.strip('-').replace('-', '_')}",
                                help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Create, upgrade, inspect and populate the Mistral database.",
        epilog="Options may also follow the command; --config-file and --config-dir are read "
               "in command-line order either way.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _common_options(parser, after_command=False)
    parser.add_argument(  # mistral-extra's option, which upstream's tool accepts
        "--openstack_actions_mapping_path", "-m", metavar="MAPPING_PATH",
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--shell_completion", metavar="SHELL", help=argparse.SUPPRESS)
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, after_command=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    up = commands.add_parser("upgrade", parents=[common], help="upgrade the schema")
    up.add_argument("revision", nargs="?", default=None,
                    help="head, a revision id, +N, or <start>:<end> with --sql (required, "
                         "or --delta)")
    up.add_argument("--delta", type=_count(0), metavar="N", help="upgrade N revisions")
    up.add_argument("--sql", action="store_true",
                    help="print the SQL script instead of running it (no connection)")
    up.add_argument("--plan", action="store_true",
                    help="show what would be done (revisions, operations, rows, locks); "
                         "exit 0 at head, 3 when upgrades are pending")
    up.add_argument("--force", action="store_true",
                    help="upgrade even when the tables it changes have drifted")
    up.add_argument("--no-backup", action="store_true",
                    help="SQLite: do not copy the database file before upgrading")
    up.add_argument("--keep-backups", type=_count(1), default=DEFAULT_KEEP_BACKUPS, metavar="N",
                    help="SQLite: keep the newest N backups of the file, delete older ones "
                         f"(default {DEFAULT_KEEP_BACKUPS})")
    up.add_argument("--format", choices=("text", "json"), default="text",
                    help="output format of --plan")
    up.add_argument("--wal", action=argparse.BooleanOptionalAction, default=True,
                    help="SQLite: leave the file in WAL journal mode (the default), so that "
                         "the Mistral services' several processes do not lock each other out; "
                         "--no-wal leaves the file's journal mode as it is")

    cur = commands.add_parser("current", parents=[common], help="show the database's revision")
    cur.add_argument("--verbose", action="store_true", help="also show the revision's message")
    cur.add_argument("--format", choices=("text", "json"), default="text")

    hist = commands.add_parser("history", parents=[common], help="list the revision chain")
    hist.add_argument("--verbose", action="store_true", help="show file paths too")
    hist.add_argument("--applied", action="store_true",
                      help="show the runs that changed this database (who, when, what)")
    hist.add_argument("--format", choices=("text", "json"), default="text")

    status = commands.add_parser(
        "status", parents=[common],
        help="current revision and pending upgrades; exit 0 at head, 3 pending, 4 ahead",
    )
    status.add_argument("--format", choices=("text", "json"), default="text")

    ver = commands.add_parser(
        "verify", parents=[common],
        help="compare the live schema with the chain's; exit 0 clean, 1 drift",
    )
    ver.add_argument("--format", choices=("text", "json"), default="text")

    st = commands.add_parser("stamp", parents=[common],
                             help="record a revision without running migrations")
    st.add_argument("revision", help="the revision to record (required)")
    st.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    st.add_argument("--force", action="store_true",
                    help="stamp even when the schema is not that revision's")

    rev = commands.add_parser("revision", parents=[common], help="create a new revision file")
    rev.add_argument("-m", "--message", required=True, help="the revision's message")
    rev.add_argument("--autogenerate", action="store_true",
                     help="compare the models with a database at head and write the operations")
    rev.add_argument("--rev-id", help="the new revision's id (default: the next number)")

    conf = commands.add_parser(
        "config", parents=[common],
        help="show the connection that would be used, where it is set and the files read "
             "(does not connect)",
    )
    conf.add_argument("--format", choices=("text", "json"), default="text")

    commands.add_parser("check_migration", parents=[common],
                        help="check the chain and that the models match its head")
    commands.add_parser("branches", parents=[common], help="show where the chain branches")
    commands.add_parser("heads", parents=[common], help="show the chain's head(s)")

    pop = commands.add_parser("populate", parents=[common],
                              help="register the standard actions and workflows")
    pop_actions = commands.add_parser("populate_actions", parents=[common],
                                      help="register the standard actions only")
    pop.add_argument("--path", action="append", default=[], metavar="DIR",
                     help="also read workflow definitions from DIR (repeatable)")
    for sub in (pop, pop_actions):
        sub.add_argument("--max-definition-kb", type=_count(1), default=DEFAULT_MAX_DEFINITION_KB,
                         metavar="KB",
                         help="refuse a definition file larger than KB kibibytes (default "
                              f"{DEFAULT_MAX_DEFINITION_KB}), or whose YAML expands to more than "
                              f"{NODES_PER_KB} values per KB")
        sub.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
        sub.add_argument("--prune", action="store_true",
                         help="remove system definitions whose source is gone")
    return parser


