"""The command line: an argparse table mapped onto :mod:`.api` calls.

This module only parses arguments, prints results and chooses exit codes.
It imports SQLAlchemy's side of the runner (the migrator, the plan) inside the
commands that use it, for start-up time: ``current`` and ``history`` run
without it.
Every :class:`~.errors.MistralDbManageError` becomes one line on stderr and
its exit code; ``--debug`` shows the traceback instead.  argparse's own usage
errors exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import api
from .config import Settings, load_settings
from .display import Progress, notify
from .errors import ConfigError, MistralDbManageError, UsageError
from .limits import (
    DEFAULT_KEEP_BACKUPS,
    DEFAULT_MAX_DEFINITION_KB,
    NODES_PER_KB,
    DefinitionLimits,
)
from .runner.dburl import parse_url
from .terminal import OutputClosed, PipeGuard, PrintableFormatter, printable, silence_stdout

if TYPE_CHECKING:
    from .runner.plan import UpgradePlan

PROG = "mistral-db-manage"
#: exit status of ``status``/``upgrade --plan`` when upgrades are pending
EXIT_PENDING = 3
log = logging.getLogger("mistral_db_manage")


def _lease_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 3 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"{value} is outside 3 to 3600 seconds")
    return seconds
def _out(text: object = "") -> None:
    """Print one line on stdout, control characters escaped (:func:`.terminal.printable`)."""
    print(printable(text))


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


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default_list: object = argparse.SUPPRESS if suppress else []
    default_flag = argparse.SUPPRESS if suppress else False
    parser.add_argument(
        "--config-file", action="append", default=default_list, metavar="PATH",
        help="a mistral.conf to read (repeatable; later files win)",
    )
    parser.add_argument(
        "--config-dir", action="append", default=default_list, metavar="DIR",
        help="read every *.conf in DIR in sorted order (repeatable)",
    )
    parser.add_argument(
        "--debug", action="store_true", default=default_flag,
        help="show tracebacks and debug logging",
    )
    parser.add_argument(
        "--lock-timeout", type=_seconds, default=argparse.SUPPRESS if suppress else 300.0,
        metavar="SECONDS",
        help="how long a writing command waits for another run's migration lock (default 300)",
    )
    parser.add_argument(
        "--lock-lease", type=_lease_seconds, default=argparse.SUPPRESS if suppress else 30.0,
        metavar="SECONDS",
        help="server databases: how long the migration lock outlives a run that stopped "
             "sending heartbeats (default 30; 3 to 3600)",
    )
    parser.add_argument(
        "--versions-dir", default=argparse.SUPPRESS if suppress else None, metavar="DIR",
        help="use the revision files in DIR instead of the installed chain (for developers)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Create, upgrade, inspect and populate the Mistral database."
    )
    _common_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    up = commands.add_parser("upgrade", parents=[common], help="upgrade the schema")
    up.add_argument("revision", nargs="?", default="head",
                    help="head (default), a revision id, +N, or <start>:<end> with --sql")
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


def _settings(args: argparse.Namespace, *, require_connection: bool = True) -> Settings:
    settings = load_settings(
        args.config_file, args.config_dir, require_connection=require_connection
    )
    args.connection_url = settings.connection  # to hide its secrets in unexpected errors
    if settings.has_connection:
        try:
            parse_url(settings.connection)
        except ConfigError as error:  # name where the URL is, since it is not shown
            raise ConfigError(f"{settings.location}: {error}") from None
    for warning in settings.deprecations:
        log.warning("%s", warning)
    return settings


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, default=str))  # ensure_ascii: control characters escaped


def cmd_upgrade(args: argparse.Namespace) -> int:
    if args.sql:
        if args.plan:
            raise UsageError("--plan and --sql do not go together: choose one")
        settings = _settings(args)
        api.upgrade_sql(settings.connection, args.revision, delta=args.delta,
                        output=PipeGuard(sys.stdout).as_stream(),
                        versions_dir=_versions_dir(args))
        return 0
    if ":" in args.revision:
        raise MistralDbManageError(
            f"a range ({args.revision}) is only valid with --sql; online, give the target only"
        )
    settings = _settings(args)
    if args.plan:
        return _show_plan(api.plan(settings, args.revision, delta=args.delta,
                                   versions_dir=_versions_dir(args)), args.format)
    from .runner.migrator import UpgradeOptions
    from .runner.plan import Strategy

    chain = api.load_chain(_versions_dir(args))
    result = api.upgrade(
        settings, args.revision, delta=args.delta, events=Progress(len(chain.revisions)),
        versions_dir=_versions_dir(args),
        options=UpgradeOptions(force=args.force, backup=not args.no_backup,
                               lock_timeout=args.lock_timeout, keep_backups=args.keep_backups,
                               lock_lease=args.lock_lease),
    )
    if result.strategy is Strategy.NOTHING:
        _out(f"Nothing to do: the database is already at {result.end or 'base'}.")
    else:
        _out(f"Upgraded from {result.start or 'an empty database'} to {result.end} "
              f"({len(result.applied)} revision(s)).")
    return 0


def _show_plan(plan: UpgradePlan, output_format: str) -> int:
    from .planview import plan_json, plan_lines

    if output_format == "json":
        _print_json(plan_json(plan))
    else:
        plan_lines(plan, _out)
    return EXIT_PENDING if plan.pending else 0


def cmd_status(args: argparse.Namespace) -> int:
    return _show_plan(api.plan(_settings(args), "head", versions_dir=_versions_dir(args)),
                      args.format)


def cmd_verify(args: argparse.Namespace) -> int:
    result = api.verify(_settings(args), versions_dir=_versions_dir(args))
    if args.format == "json":
        _print_json({"revision": result.revision, "clean": result.clean,
                     "differences": list(result.differences)})
    elif result.clean:
        _out(f"The schema is exactly revision {result.revision or 'base'}'s.")
    else:
        _out(f"The schema differs from revision {result.revision or 'base'}'s:")
        for difference in result.differences:
            _out(f"  - {difference}")
    return 0 if result.clean else 1


def cmd_current(args: argparse.Namespace) -> int:
    state = api.current(_settings(args), versions_dir=_versions_dir(args))
    if args.format == "json":
        _print_json({"revision": state.revision, "head": state.head, "is_head": state.is_head})
        return 0
    if state.revision is None:
        _out("The database has no version yet (empty or not created by this tool): "
              "run `mistral-db-manage upgrade head`.")
        return 0
    _out(f"{state.revision}{' (head)' if state.is_head else ''}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    if args.applied:
        runs = api.applied_runs(_settings(args))
        if args.format == "json":
            _print_json([dataclasses.asdict(run) for run in runs])
            return 0
        if not runs:
            _out("No recorded runs.")
        for run in runs:
            span = f"{run.from_revision or '<base>'} -> {run.to_revision or '<base>'}"
            seconds = f"{run.seconds:.1f} s" if run.seconds is not None else "?"
            detail = f": {run.detail}" if run.detail else ""
            _out(f"{run.started_at:%Y-%m-%d %H:%M:%S} {run.user_name}@{run.host} "
                  f"{run.command} {span} {run.outcome} ({seconds}){detail}")
        return 0
    settings = _settings(args, require_connection=False)
    entries = api.history(settings if settings.has_connection else None,
                          versions_dir=_versions_dir(args))
    if args.format == "json":
        _print_json([
            {"revision": e.revision.id, "down_revision": e.revision.down_revision,
             "message": e.revision.message, "is_head": e.is_head, "is_current": e.is_current}
            for e in entries
        ])
        return 0
    for entry in entries:
        revision = entry.revision
        marks = []
        if entry.is_head:
            marks.append("head")
        if entry.is_current:
            marks.append("current")
        mark = f" ({', '.join(marks)})" if marks else ""
        message = revision.message.replace("\n", " ")
        _out(f"{revision.down_revision or '<base>'} -> {revision.id}{mark}, {message}")
        if args.verbose:
            _out(f"    {revision.path}")
    return 0


def cmd_stamp(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.sql:
        api.stamp_sql(settings.connection, args.revision, output=PipeGuard(sys.stdout).as_stream(),
                      versions_dir=_versions_dir(args))
        return 0
    state = api.stamp(settings, args.revision, versions_dir=_versions_dir(args),
                      lock_timeout=args.lock_timeout, events=notify, force=args.force)
    _out(f"Stamped the database at {state.revision}.")
    return 0


def cmd_heads(args: argparse.Namespace) -> int:
    for head in api.heads(_versions_dir(args)):
        _out(f"{head} (head)")
    return 0


def cmd_branches(args: argparse.Namespace) -> int:
    found = api.branches(_versions_dir(args))
    if not found:
        _out("No branches: the chain is a single line.")
    for parent, children in found:
        _out(f"{parent or '<base>'} -> {', '.join(children)} (branchpoint)")
    return 0


def cmd_revision(args: argparse.Namespace) -> int:
    settings = _settings(args, require_connection=args.autogenerate)
    created = api.revision(
        args.message,
        autogenerate=args.autogenerate,
        rev_id=args.rev_id,
        settings=settings,
        versions_dir=_versions_dir(args),
    )
    _out(f"Generated {created.path} (revision {created.revision}, "
          f"{created.operations} operation(s)).")
    for diff in created.unsupported:
        log.warning("not generated, write it by hand: %s", diff)
    return 0


def cmd_check_migration(args: argparse.Namespace) -> int:
    settings = _settings(args, require_connection=False)
    problems = api.check_migration(versions_dir=_versions_dir(args),
                                   settings=settings if settings.has_connection else None)
    if problems:
        for problem in problems:
            print(f"{PROG}: error: {printable(problem)}", file=sys.stderr)
        return 1
    _out("The chain is a single line and its head matches the models.")
    return 0


def cmd_populate(args: argparse.Namespace) -> int:
    actions_only = args.command == "populate_actions"
    result = api.populate(
        _settings(args),
        paths=[Path(p) for p in getattr(args, "path", ())],
        dry_run=args.dry_run,
        prune=args.prune,
        actions_only=actions_only,
        limits=DefinitionLimits(args.max_definition_kb),
        versions_dir=_versions_dir(args),
        lock_timeout=args.lock_timeout,
        events=notify,
    )
    for line in result.plan.lines(verbose=args.dry_run):
        _out(line)
    prefix = "Would do (dry run): " if args.dry_run else ""
    _out(prefix + result.plan.summary())
    return 0


def _versions_dir(args: argparse.Namespace) -> Path | None:
    return Path(args.versions_dir) if args.versions_dir else None


COMMANDS = {
    "populate": cmd_populate,
    "populate_actions": cmd_populate,
    "status": cmd_status,
    "verify": cmd_verify,
    "revision": cmd_revision,
    "check_migration": cmd_check_migration,
    "upgrade": cmd_upgrade,
    "current": cmd_current,
    "history": cmd_history,
    "stamp": cmd_stamp,
    "heads": cmd_heads,
    "branches": cmd_branches,
}


def _setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    shape = "%(levelname)s %(message)s" if debug else "%(message)s"
    handler.setFormatter(PrintableFormatter(shape))
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, handlers=[handler])
    if not debug:
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _unexpected(error: Exception, args: argparse.Namespace) -> MistralDbManageError | None:
    """One line for a failure no command explained: a database error, or the system's."""
    from .runner.failures import describe_database_error

    described = describe_database_error(error, getattr(args, "connection_url", ""))
    if described is None and isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        described = MistralDbManageError(f"{error.strerror}{where}")
    return described


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.debug)
    handler = COMMANDS[args.command]
    try:
        try:
            return handler(args)
        except (OutputClosed, BrokenPipeError):
            silence_stdout()  # the reader (| head) has all it wanted
            return 0
        except MistralDbManageError:
            raise
        except Exception as error:
            described = _unexpected(error, args)
            if described is None or args.debug:
                raise
            raise described from error
    except MistralDbManageError as error:
        if args.debug:
            raise
        print(f"{PROG}: error: {printable(error)}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def console_main() -> None:
    sys.exit(main())
