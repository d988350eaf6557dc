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
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import api
from .cliparse import PROG, build_parser, config_sources
from .config import Settings, load_settings
from .display import Progress, notify
from .errors import ConfigError, MistralDbManageError, UsageError
from .limits import DefinitionLimits
from .runner.dburl import parse_url
from .runner.stopping import stop_at_once
from .terminal import OutputClosed, PipeGuard, PrintableFormatter, printable, silence_stdout

if TYPE_CHECKING:
    from .runner.plan import UpgradePlan

#: exit status of ``status``/``upgrade --plan`` when upgrades are pending
EXIT_PENDING = 3
log = logging.getLogger("mistral_db_manage")


def _out(text: object = "") -> None:
    """Print one line on stdout, control characters escaped (:func:`.terminal.printable`)."""
    print(printable(text))


def _settings(args: argparse.Namespace, *, require_connection: bool = True) -> Settings:
    settings = load_settings(
        sources=config_sources(args), require_connection=require_connection
    )
    args.connection_url = settings.connection  # to hide its secrets in unexpected errors
    if settings.has_connection:
        try:
            parse_url(settings.connection)
        except ConfigError as error:  # name where the URL is, since it is not shown
            raise ConfigError(f"{settings.location}: {error}") from None
    if not getattr(args, "warnings_shown", False):
        for warning in settings.warnings:
            log.warning("%s", warning)
        args.warnings_shown = True
    return settings


def _masked(connection: str) -> str:
    from .runner.urlmask import mask_raw

    try:
        return parse_url(connection).masked()
    except ConfigError:
        return mask_raw(connection)


def cmd_config(args: argparse.Namespace) -> int:
    """The connection that would be used, where it is set, the files read: no connection."""
    settings = load_settings(sources=config_sources(args))
    args.connection_url = settings.connection
    shown = {
        "connection": _masked(settings.connection),
        "source": settings.location,
        "files": [str(path) for path in settings.config_files],
        "warnings": list(settings.warnings),
    }
    if args.format == "json":
        _print_json(shown)
        return 0
    _out(f"connection: {shown['connection']}")
    _out(f"source:     {shown['source']}")
    _out("files read, in order (a later one wins):")
    for path in shown["files"] or ["(none)"]:
        _out(f"  {path}")
    for warning in shown["warnings"]:
        _out(f"warning: {warning}")
    return 0


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, default=str))  # ensure_ascii: control characters escaped


def cmd_upgrade(args: argparse.Namespace) -> int:
    if args.revision is None:  # --plan only looks: it may default to head
        if args.delta is None and not args.plan:
            raise UsageError(
                "You must provide a revision or relative delta: `mistral-db-manage upgrade "
                "head` upgrades to the newest revision (nothing was changed)"
            )
        args.revision = "head"
    if args.sql:
        if args.plan:
            raise UsageError("--plan and --sql do not go together: choose one")
        settings = _settings(args)
        api.upgrade_sql(settings.connection, args.revision, delta=args.delta,
                        output=PipeGuard(sys.stdout).as_stream(),
                        versions_dir=_versions_dir(args), wal=args.wal)
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
                               lock_lease=args.lock_lease, wal=args.wal),
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
                     "differences": list(result.differences), "half_done": result.half_done})
    elif result.clean and result.half_done:
        _out(f"The schema is revision {result.revision}'s with {result.half_done}.")
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
    if state.revision is None:
        _out("Stamped the database at base: the version record is removed.")
    else:
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
    "config": cmd_config,
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


def _setup_logging(args: argparse.Namespace) -> None:
    debug = bool(args.debug)
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    shape = "%(levelname)s %(message)s" if debug else "%(message)s"
    handler.setFormatter(PrintableFormatter(shape))
    handlers = [handler]
    log_file = getattr(args, "log_file", None)
    if log_file:  # oslo.log's --log-file (relative to --log-dir)
        path = os.path.join(getattr(args, "log_dir", None) or "", log_file)
        try:
            to_file = logging.FileHandler(path, encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot open --log-file {path}: {error.strerror}") from None
        to_file.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(message)s"))
        handlers.append(to_file)
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, handlers=handlers,
                        force=True)
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


def _with_user_options(message: str, args: argparse.Namespace) -> str:
    """A hint's ``mistral-db-manage ...`` command, with the user's own config options."""
    options = [f"--config-{source.kind} {shlex.quote(str(source.path))}"
               for source in config_sources(args)]
    if getattr(args, "versions_dir", None):
        options.append(f"--versions-dir {shlex.quote(str(args.versions_dir))}")
    if not options:
        return message
    return message.replace(f"`{PROG} ", f"`{PROG} {' '.join(options)} ")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _setup_logging(args)
    except UsageError as error:
        print(f"{PROG}: error: {printable(error)}", file=sys.stderr)
        return error.exit_code
    stop_at_once()
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
        print(f"{PROG}: error: {printable(_with_user_options(str(error), args))}",
              file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as stop:
        name = getattr(stop, "signal_name", "SIGINT")
        print(f"{PROG}: interrupted by {name}", file=sys.stderr)
        return 128 + getattr(stop, "signum", 2)


def console_main() -> None:
    sys.exit(main())
