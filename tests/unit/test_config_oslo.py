"""Differential test: the database URL this tool resolves is the one the Mistral services do.

Every case of :mod:`config_corpus` is resolved twice, in a directory of its own (``$HOME``
pointing into it): by oslo.config with oslo.db's options, called as upstream's
``mistral-db-manage`` calls it (``CONF(project='mistral')`` with program
``mistral-db-manage``, oslo.db's default URL ``sqlite:///mistral.sqlite``, oslo.log's
command-line options, one sub-command parser), and by this tool's command line
(:func:`~mistral_db_manage.cliparse.build_parser`, then
:func:`~mistral_db_manage.config.load_settings` and the URL check every command does).
The outcome is the URL, or ``error``.  Every case where the two differ is in
:data:`ALLOWED`, with the reason; a case listed there that agrees fails too, so the list
stays exact.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
from oslo_config import cfg
from oslo_db import options as oslo_db_options

from config_corpus import COMMAND, Case, all_cases
from mistral_db_manage.cliparse import build_parser, config_sources
from mistral_db_manage.config import load_settings
from mistral_db_manage.errors import MistralDbManageError
from mistral_db_manage.runner.dburl import parse_url

CASES = all_cases()

_NO_URL = "upstream falls back to oslo.db's sqlite:///mistral.sqlite in the current directory " \
          "when nothing sets [database] connection; this tool refuses (documented)"
_REMOVED_ONLY = "only a name oslo.db 15.0 removed sets the URL: the services ignore it and " \
                "fall back to sqlite:///mistral.sqlite; this tool refuses, naming file and line"
_AFTER = "upstream refuses options after the command; this tool reads them, in command-line order"
_UNREGISTERED = "oslo.config substitutes only registered options (Mistral registers hundreds, " \
                "this harness only oslo.db's); this tool substitutes any option the files set"
_UNSET_DEFAULT = "oslo.config substitutes an unset registered option's default; this tool " \
                 "knows no option defaults and refuses, saying how to write a literal '$'"
_MISREAD = "the services would hand SQLAlchemy a URL it cannot use; this tool refuses it " \
           "with the file and line"
_EMPTY = "an empty URL: the services cannot connect with it; this tool refuses it up front"

#: case name -> why this tool deliberately differs from the services
ALLOWED: dict[str, str] = {
    **{f"{tool}-only-removed-name": _REMOVED_ONLY
       for tool in ("kolla", "osa", "puppet", "devstack", "helm")},
    **{f"{tool}-options-after-command": _AFTER
       for tool in ("kolla", "osa", "puppet", "devstack", "helm")},
    "after-command-dir": _AFTER,
    "after-command-only": _AFTER,
    "ini-only-DEFAULT-sql_connection": _REMOVED_ONLY,
    "ini-only-database-sql_connection": _REMOVED_ONLY,
    "ini-only-DATABASE-sql_connection": _REMOVED_ONLY,
    "ini-only-sql-connection": _REMOVED_ONLY,
    "removed-in-dir-only": _REMOVED_ONLY,
    "ini-empty-file": _NO_URL,
    "ini-comments-only": _NO_URL,
    "ini-slave-connection-only": _NO_URL,
    "ini-connection-in-default": _NO_URL,
    "ini-option-upper-only": _NO_URL,
    "ini-section-spaces": _NO_URL,
    "nothing-at-all": _NO_URL,
    "dir-only-empty": _NO_URL,
    "ini-unbalanced-quote": _MISREAD,
    "ini-empty-value": _EMPTY,
    "ini-empty-value-quoted": _EMPTY,
    "ini-whitespace-value": _EMPTY,
    "env-empty": _EMPTY,
    "dir-is-file": "oslo.config globs *.conf inside a --config-dir that is a file, finds none "
                   "and goes on without it; this tool refuses the mistaken argument",
    "substitution-across-files": "$name in [database] takes oslo.db's registered [database] "
                                 "option (its default when unset) before [DEFAULT]; this tool "
                                 "knows no defaults and takes the [DEFAULT] value the file sets",
    "ini-dollar-unregistered-default": _UNREGISTERED,
    "ini-dollar-registered-unset": _UNSET_DEFAULT,
}


# --------------------------------------------------------------------------- the two sides


def _materialise(case: Case, root: Path) -> None:
    (root / "home").mkdir(parents=True, exist_ok=True)
    for name, content in case.files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _upstream_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    upgrade = subparsers.add_parser("upgrade")
    upgrade.add_argument("--delta", type=int)
    upgrade.add_argument("--sql", action="store_true")
    upgrade.add_argument("revision", nargs="?")


def _oslo_log_cli_options() -> list[cfg.Opt]:
    """The command-line options oslo.log registers (names as upstream's --help lists them)."""
    return [
        cfg.BoolOpt("debug", short="d", default=False),
        cfg.StrOpt("log-config-append", deprecated_name="log-config"),
        cfg.StrOpt("log-date-format"),
        cfg.StrOpt("log-file", deprecated_name="logfile"),
        cfg.StrOpt("log-dir", deprecated_name="logdir"),
        cfg.BoolOpt("use-syslog", default=False),
        cfg.BoolOpt("use-journal", default=False),
        cfg.BoolOpt("use-json", default=False),
        cfg.StrOpt("syslog-log-facility", default="LOG_USER"),
    ]


def oslo_outcome(case: Case) -> str:
    """What the services would use: oslo.config as upstream's tool calls it."""
    conf = cfg.ConfigOpts()
    oslo_db_options.set_defaults(conf, connection="sqlite:///mistral.sqlite")
    conf.register_cli_opts(_oslo_log_cli_options())
    conf.register_cli_opt(cfg.SubCommandOpt("command", handler=_upstream_commands))
    try:
        conf(args=[*case.argv, *COMMAND, *case.after], project="mistral",
             prog="mistral-db-manage")
        return f"url:{conf.database.connection}"
    except (SystemExit, Exception):
        return "error"
    finally:
        conf.reset()


def our_outcome(case: Case) -> str:
    """What this tool uses: its parser, its configuration, the URL check every command does."""
    try:
        args = build_parser().parse_args([*case.argv, *COMMAND, *case.after])
        settings = load_settings(sources=config_sources(args))
        parse_url(settings.connection)
        return f"url:{settings.connection}"
    except (SystemExit, MistralDbManageError):
        return "error"


@pytest.fixture
def in_case_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in list(os.environ):
        if name.upper().startswith("OS_"):
            monkeypatch.delenv(name)
    return tmp_path


# --------------------------------------------------------------------------- the test


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_same_database_as_the_services(
    case: Case, in_case_root: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _materialise(case, in_case_root)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    theirs = oslo_outcome(case)
    ours = our_outcome(case)
    capsys.readouterr()  # argparse's usage lines
    if case.name in ALLOWED:
        assert ours != theirs, f"{case.name} agrees now: remove it from ALLOWED"
    else:
        assert ours == theirs


def test_every_allowed_difference_names_a_case_and_a_reason() -> None:
    names = {case.name for case in CASES}
    assert sorted(set(ALLOWED) - names) == []
    assert [name for name, reason in ALLOWED.items() if not reason.strip()] == []


def test_the_corpus_covers_what_the_issue_names() -> None:
    assert len(CASES) >= 184
    names = " ".join(case.name for case in CASES)
    for word in ("kolla", "osa", "puppet", "devstack", "helm", "continuation", "comment",
                 "duplicate-key", "duplicate-section", "DATABASE", "dollar", "percent",
                 "encoded", "bom", "crlf", "conf-d", "env", "default-", "order-dir-file",
                 "order-file-dir"):
        assert word in names, word
