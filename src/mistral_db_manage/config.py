"""Configuration loading: which files are read, and what ``[database] connection`` is.

This module owns everything between the command line's ``--config-file`` /
``--config-dir`` options (plus the environment) and one database URL, resolved
as the Mistral services resolve it (oslo.config 10 and oslo.db 18):

* finding the configuration files the way oslo.config does for project
  ``mistral`` and program ``mistral-db-manage``: the default files and
  directories, then every ``--config-file`` and ``--config-dir`` in command-line
  order (a directory's ``*.conf`` files sorted);
* reading them (:mod:`.ini`, oslo.config's INI dialect);
* resolving ``[database] connection`` (the last file that sets it wins), the
  ``OS_DATABASE__CONNECTION`` environment variable above every file, and
  oslo.config's ``$name`` / ``${name}`` / ``$$`` substitution;
* the names oslo.db 15.0 removed (``[DEFAULT] sql_connection``,
  ``[DATABASE] sql_connection``, ``[sql] connection``) are never used to choose
  a database, since the services ignore them: each one found is a warning that
  names its file and line, and an error when it is the only setting;
* turning every problem into a one-line :class:`~mistral_db_manage.errors.ConfigError`.

Where no URL is configured at all, oslo.db's default for Mistral would be a
``mistral.sqlite`` in the current directory; this tool refuses instead.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import ConfigError
from .ini import ParsedFile, Value, normalize_section, parse_file

__all__ = [
    "CONNECTION_ENV_VAR",
    "PROG",
    "PROJECT",
    "ConfigSource",
    "Settings",
    "default_search_dirs",
    "find_default_config",
    "load_settings",
]

PROJECT = "mistral"
PROG = "mistral-db-manage"
CONNECTION_ENV_VAR = "OS_DATABASE__CONNECTION"

# Section names are compared after oslo.config's normalisation: every section
# name except ``DEFAULT`` is lower-cased, so ``[DATABASE]`` is ``[database]``.
_CANONICAL = ("database", "connection")
#: names oslo.db accepted until 15.0; Mistral 23 (oslo.db 18) ignores them
_REMOVED = (
    ("DEFAULT", "sql_connection"),
    ("database", "sql_connection"),
    ("sql", "connection"),
)

_FIX_HINT = (
    "pass --config-file PATH to a mistral.conf whose [database] section sets "
    "connection = <database URL>, or set the environment variable "
    f"{CONNECTION_ENV_VAR}"
)

# ``$name``, ``${name}`` (names may contain dots: ``${group.option}``) and
# ``$$``; a ``$`` followed by anything else is kept as it is.
_SUBSTITUTION = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[_a-z][._a-z0-9]*)"
    r"|\{(?P<braced>[_a-z][._a-z0-9]*)\})",
    re.IGNORECASE,
)
_MAX_SUBSTITUTION_DEPTH = 10


@dataclass(frozen=True)
class ConfigSource:
    """One ``--config-file`` (``kind="file"``) or ``--config-dir`` (``"dir"``) argument."""

    kind: Literal["file", "dir"]
    path: str | Path


@dataclass(frozen=True)
class Settings:
    """The loaded configuration.

    ``connection`` is the database URL exactly as configured (after oslo.config's
    ``$`` substitution), or ``""`` when none is configured and the caller passed
    ``require_connection=False``.  ``config_files`` lists the files actually
    read, in reading order.  ``source`` says where ``connection`` came from,
    e.g. ``/etc/mistral/mistral.conf [database] connection``.  ``warnings``
    holds one line per thing the operator should know (a removed option name
    found in a file, with its file and line).
    """

    connection: str
    config_files: tuple[Path, ...]
    source: str
    warnings: tuple[str, ...] = ()
    #: the line of the file in ``source`` that sets ``connection`` (None: not from a file)
    line: int | None = field(default=None, compare=False)

    @property
    def location(self) -> str:
        """Where ``connection`` is set, for messages: the file and its line, or the source."""
        if self.line is None:
            return self.source
        path, _space, option = self.source.rpartition(" [")
        return f"{path}, line {self.line} ([{option})"

    @property
    def has_connection(self) -> bool:
        """Whether a non-empty connection URL is configured."""
        return bool(self.connection)


def default_search_dirs(home: str | Path | None = None) -> tuple[Path, ...]:
    """The directories oslo.config searches for project ``mistral``, in order.

    ``~/.mistral/``, ``~/``, ``/etc/mistral/``, ``/etc/``.  ``home`` replaces
    the user's home directory (for tests).
    """
    home_dir = Path(home) if home is not None else Path(os.path.expanduser("~"))
    return (home_dir / f".{PROJECT}", home_dir, Path("/etc") / PROJECT, Path("/etc"))


def find_default_config(
    search_dirs: Sequence[str | Path] | None = None,
) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """Find the default configuration files and directories.

    Returns ``(files, dirs)``: the first ``mistral.conf`` found, then the first
    ``mistral-db-manage.conf`` found; and likewise the first existing
    ``mistral.conf.d`` and ``mistral-db-manage.conf.d``.  Each name is looked
    up in ``search_dirs`` (default: :func:`default_search_dirs`) in order.
    """
    dirs = [Path(d) for d in search_dirs] if search_dirs is not None else default_search_dirs()
    files = _first_existing(dirs, (f"{PROJECT}.conf", f"{PROG}.conf"))
    conf_dirs = _first_existing(dirs, (f"{PROJECT}.conf.d", f"{PROG}.conf.d"))
    return files, conf_dirs


def load_settings(
    config_files: Sequence[str | Path] = (),
    config_dirs: Sequence[str | Path] = (),
    environ: Mapping[str, str] | None = None,
    *,
    sources: Sequence[ConfigSource] | None = None,
    require_connection: bool = True,
    search_dirs: Sequence[str | Path] | None = None,
) -> Settings:
    """Read the configuration and resolve the database URL as the services do.

    ``sources`` are the ``--config-file`` and ``--config-dir`` arguments in
    command-line order; without it, ``config_files`` then ``config_dirs``.
    Later files override earlier ones; a directory's ``*.conf`` files are
    read in sorted order where it stands.  As in oslo.config, when no
    ``--config-file`` is given the default files are read first, and when no
    ``--config-dir`` is given the default directories are (see
    :func:`find_default_config`, whose ``search_dirs`` is passed through).

    ``environ`` (default ``os.environ``) is consulted for
    ``OS_DATABASE__CONNECTION``, which overrides every file.

    Raises :class:`ConfigError` for a missing or unreadable file or directory,
    a malformed file (naming file and line), and, when ``require_connection``
    is true, for a missing or empty connection.
    """
    env = os.environ if environ is None else environ
    if sources is None:
        sources = [ConfigSource("file", f) for f in config_files] + [
            ConfigSource("dir", d) for d in config_dirs
        ]
    paths = _files_to_read(sources, search_dirs)
    parsed = [parse_file(path) for path in paths]
    read = tuple(p.path for p in parsed)
    removed = _removed_names(parsed)
    warnings = tuple(_removed_warning(*found) for found in removed)
    line: int | None = None

    if CONNECTION_ENV_VAR in env:
        raw = env[CONNECTION_ENV_VAR]
        source = f"environment {CONNECTION_ENV_VAR}"
        if not raw.strip() and require_connection:
            raise ConfigError(
                f"the environment variable {CONNECTION_ENV_VAR} is set but empty; "
                "unset it or set it to a database URL such as "
                "postgresql+psycopg2://mistral:PASSWORD@HOST/mistral"
            )
    else:
        found = _find_connection(parsed)
        if found is None:
            if require_connection:
                if removed:
                    raise ConfigError(_only_removed_message(*removed[-1]))
                raise ConfigError(_missing_message(read, sources, search_dirs))
            return Settings(connection="", config_files=read, source="not configured",
                            warnings=warnings)
        parsed_file, value = found
        raw = value.text
        section, option = _CANONICAL
        source = f"{parsed_file.path} [{section}] {option}"
        line = value.lineno
        if not raw.strip() and require_connection:
            raise ConfigError(
                f"{parsed_file.path}, line {value.lineno}: [{section}] {option} is empty; "
                "set it to a database URL such as "
                "postgresql+psycopg2://mistral:PASSWORD@HOST/mistral"
            )

    where = source if line is None else f"{source.rpartition(' [')[0]}, line {line} " \
        f"([{source.rpartition(' [')[2]})"
    connection = _substitute(raw, where, parsed, depth=0)
    if not connection.strip() and require_connection:
        raise ConfigError(
            f"{where} expands to an empty value; set it to a database URL such as "
            "postgresql+psycopg2://mistral:PASSWORD@HOST/mistral"
        )
    return Settings(
        connection=connection, config_files=read, source=source, warnings=warnings, line=line,
    )


# --------------------------------------------------------------------------- files


def _absolute(path: str | Path) -> Path:
    # oslo.config expands "~" and makes every config path absolute.
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def _first_existing(dirs: Iterable[Path], names: Iterable[str]) -> tuple[Path, ...]:
    found: list[Path] = []
    for name in names:
        for directory in dirs:
            candidate = _absolute(directory / name)
            if _exists(candidate):
                found.append(candidate)
                break
    return tuple(found)


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; a default location this user may not look into does not."""
    try:
        path.stat()
    except OSError:
        return False
    return True


def _dir_entries(directory: Path) -> list[Path]:
    # glob.glob, like oslo.config: hidden files (".x.conf") are not matched.
    return [Path(p) for p in sorted(glob.glob(os.path.join(glob.escape(str(directory)), "*.conf")))]


def _files_to_read(
    sources: Sequence[ConfigSource],
    search_dirs: Sequence[str | Path] | None,
) -> list[Path]:
    """The files to read, in order: the defaults oslo.config reads when no file (no
    directory) is given, then each source where it stands on the command line."""
    has_file = any(s.kind == "file" for s in sources)
    has_dir = any(s.kind == "dir" for s in sources)
    default_files: tuple[Path, ...] = ()
    default_dirs: tuple[Path, ...] = ()
    if not has_file or not has_dir:
        default_files, default_dirs = find_default_config(search_dirs)

    paths: list[Path] = []
    if not has_file:
        paths.extend(default_files)
    if not has_dir:
        for directory in default_dirs:
            if directory.is_dir():
                paths.extend(_dir_entries(directory))
    for source in sources:
        if source.kind == "file":
            paths.append(_checked_file(source.path))
        else:
            paths.extend(_dir_entries(_checked_dir(source.path)))
    return paths


def _checked_file(given: str | Path) -> Path:
    path = _absolute(given)
    if not path.exists():
        raise ConfigError(
            f"config file {path} does not exist; check the --config-file argument "
            f"({os.fspath(given)!s})"
        )
    return path


def _checked_dir(given: str | Path) -> Path:
    directory = _absolute(given)
    if not directory.exists():
        raise ConfigError(
            f"config directory {directory} does not exist; check the --config-dir "
            f"argument ({os.fspath(given)!s})"
        )
    if not directory.is_dir():
        raise ConfigError(
            f"config directory {directory} is not a directory; pass a file with "
            "--config-file instead of --config-dir"
        )
    if not os.access(directory, os.R_OK | os.X_OK):
        raise ConfigError(
            f"cannot read config directory {directory}: permission denied; run as a "
            "user that can list it or fix its permissions"
        )
    return directory


# --------------------------------------------------------------------------- values


def _find_connection(parsed: Sequence[ParsedFile]) -> tuple[ParsedFile, Value] | None:
    """The file that sets ``[database] connection`` last, and its value there."""
    for parsed_file in reversed(parsed):
        value = parsed_file.last(*_CANONICAL)
        if value is not None:
            return parsed_file, value
    return None


def _removed_names(
    parsed: Sequence[ParsedFile],
) -> list[tuple[Path, tuple[str, str], Value]]:
    """Every removed name set in a file (its last value there), in reading order."""
    return [
        (parsed_file.path, name, value)
        for parsed_file in parsed
        for name in _REMOVED
        if (value := parsed_file.last(*name)) is not None
    ]


def _removed_warning(path: Path, name: tuple[str, str], value: Value) -> str:
    return (
        f"{path}, line {value.lineno}: [{name[0]}] {name[1]} is ignored, as the Mistral "
        "services ignore it (oslo.db 15.0 removed the name); remove it, the database is "
        "[database] connection"
    )


def _only_removed_message(path: Path, name: tuple[str, str], value: Value) -> str:
    return (
        f"{path}, line {value.lineno}: the database is set only by [{name[0]}] {name[1]}, "
        "a name oslo.db 15.0 removed: the Mistral services ignore it and would not use "
        "this database; rename it to connection in the [database] section"
    )


def _lookup(parsed: Sequence[ParsedFile], section: str, option: str) -> str | None:
    for parsed_file in reversed(parsed):
        value = parsed_file.last(section, option)
        if value is not None:
            return value.text
    return None


def _substitute(value: str, source: str, parsed: Sequence[ParsedFile], depth: int) -> str:
    """Apply oslo.config's template substitution to ``value``.

    ``$$`` and ``\\$`` give a literal ``$``; ``$name`` and ``${name}`` take the
    value of option ``name`` (looked up in ``[database]``, then ``[DEFAULT]``),
    ``${group.name}`` the value of ``name`` in ``[group]``.
    """
    if "$" not in value:
        return value
    if depth > _MAX_SUBSTITUTION_DEPTH:
        raise ConfigError(
            f"{source}: '$' substitution nests more than {_MAX_SUBSTITUTION_DEPTH} levels "
            "deep (is a value referring to itself?); write a literal '$' as '$$'"
        )
    value = value.replace("\\$", "$$")

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("named") or match.group("braced")
        if "." in name:
            group, option = name.split(".", 1)
            candidates = [(normalize_section(group), option)]
        else:
            candidates = [("database", name), ("DEFAULT", name)]
        for section, option in candidates:
            found = _lookup(parsed, section, option)
            if found is not None:
                return _substitute(found, source, parsed, depth + 1)
        # The name is not shown: it may well be the rest of a password.
        raise ConfigError(
            f"{source} holds a '$' followed by a name that is not an option of the "
            "configuration; oslo.config replaces $name with the value of option 'name', "
            "so write a literal '$' (for example in a password) as '$$'"
        )

    return _SUBSTITUTION.sub(replace, value)


def _missing_message(
    read: Sequence[Path],
    sources: Sequence[ConfigSource],
    search_dirs: Sequence[str | Path] | None,
) -> str:
    if read:
        files = ", ".join(str(p) for p in read)
        return f"no database connection is configured in {files}; {_FIX_HINT}"
    config_dirs = [s.path for s in sources if s.kind == "dir"]
    reasons: list[str] = []
    if config_dirs:
        dirs = ", ".join(str(_absolute(d)) for d in config_dirs)
        reasons.append(f"--config-dir {dirs} holds no *.conf files")
    else:
        searched = [Path(d) for d in search_dirs] if search_dirs is not None else None
        locations = ", ".join(f"{_absolute(d)}/" for d in searched or default_search_dirs())
        reasons.append(
            f"no config file was given and no {PROJECT}.conf, {PROG}.conf or "
            f"{PROJECT}.conf.d/ was found in {locations}"
        )
    return f"no database connection is configured: {'; '.join(reasons)}; {_FIX_HINT}"
