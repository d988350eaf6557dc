"""Configuration loading: which files are read, and what ``[database] connection`` is.

This module owns everything between the command line's ``--config-file`` /
``--config-dir`` options (plus the environment) and one database URL:

* finding the configuration files the way oslo.config does for project
  ``mistral`` and program ``mistral-db-manage`` (explicit files and
  directories, or the default search locations);
* reading them with the INI dialect oslo.config accepts (``key = value`` and
  ``key: value``, ``#``/``;`` full-line comments, indented continuation lines,
  repeated keys where the last one wins, surrounding quotes removed, no ``%``
  interpolation);
* resolving ``[database] connection`` together with the deprecated names that
  oslo.db still honours, the ``OS_DATABASE__CONNECTION`` environment variable,
  and oslo.config's ``$name`` / ``$$`` substitution;
* turning every problem into a one-line :class:`~mistral_db_manage.errors.ConfigError`.

Only ``[database] connection`` matters to this tool; every other section and
option of a real ``mistral.conf`` is parsed (so syntax errors are reported) and
otherwise ignored.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mistral_db_manage.errors import ConfigError

__all__ = [
    "CONNECTION_ENV_VAR",
    "PROG",
    "PROJECT",
    "Settings",
    "default_search_dirs",
    "find_default_config",
    "load_settings",
]

PROJECT = "mistral"
PROG = "mistral-db-manage"
CONNECTION_ENV_VAR = "OS_DATABASE__CONNECTION"

# (section, option) pairs that set the database URL, canonical name first.
# Section names are compared after oslo.config's normalisation: every section
# name except ``DEFAULT`` is lower-cased, so ``[DATABASE]`` is ``[database]``.
_CANONICAL = ("database", "connection")
_DEPRECATED = (
    ("DEFAULT", "sql_connection"),
    ("database", "sql_connection"),
    ("sql", "connection"),
)
_LOOKUP_ORDER = (_CANONICAL, *_DEPRECATED)

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
class Settings:
    """The loaded configuration.

    ``connection`` is the database URL exactly as configured (after oslo.config's
    ``$`` substitution), or ``""`` when none is configured and the caller passed
    ``require_connection=False``.  ``config_files`` lists the files actually
    read, in reading order.  ``source`` says where ``connection`` came from,
    e.g. ``/etc/mistral/mistral.conf [database] connection``.  ``deprecations``
    holds one warning line per deprecated option name that supplied the value.
    """

    connection: str
    config_files: tuple[Path, ...]
    source: str
    deprecations: tuple[str, ...] = ()
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


@dataclass(frozen=True)
class _Value:
    text: str
    lineno: int


# normalised section name -> option name -> every value given, in file order
_Sections = dict[str, dict[str, list[_Value]]]


@dataclass(frozen=True)
class _ParsedFile:
    path: Path
    sections: _Sections


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
    require_connection: bool = True,
    search_dirs: Sequence[str | Path] | None = None,
) -> Settings:
    """Read the configuration and resolve the database URL.

    ``config_files`` are the ``--config-file`` arguments in command-line order
    (later files override earlier ones); ``config_dirs`` the ``--config-dir``
    arguments, whose ``*.conf`` files are read in sorted order after the
    config files.  As in oslo.config, when no ``--config-file`` is given the
    default files are read, and when no ``--config-dir`` is given the default
    directories are read (defaults first); see :func:`find_default_config`,
    whose ``search_dirs`` argument is passed through.

    ``environ`` (default ``os.environ``) is consulted for
    ``OS_DATABASE__CONNECTION``, which overrides every file.

    Raises :class:`ConfigError` for a missing or unreadable file or directory,
    a malformed file (naming file and line), and, when ``require_connection``
    is true, for a missing or empty connection.
    """
    env = os.environ if environ is None else environ
    paths = _files_to_read(config_files, config_dirs, search_dirs)
    parsed = [_parse_file(path) for path in paths]
    read = tuple(p.path for p in parsed)
    deprecations: tuple[str, ...] = ()
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
                raise ConfigError(_missing_message(read, config_dirs, search_dirs))
            return Settings(connection="", config_files=read, source="not configured")
        parsed_file, (section, option), value = found
        raw = value.text
        source = f"{parsed_file.path} [{section}] {option}"
        line = value.lineno
        if (section, option) != _CANONICAL:
            deprecations = (
                f"{parsed_file.path}, line {value.lineno}: option [{section}] {option} "
                "is deprecated; use [database] connection instead",
            )
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
        connection=connection, config_files=read, source=source, deprecations=deprecations,
        line=line,
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
    config_files: Sequence[str | Path],
    config_dirs: Sequence[str | Path],
    search_dirs: Sequence[str | Path] | None,
) -> list[Path]:
    default_files: tuple[Path, ...] = ()
    default_dirs: tuple[Path, ...] = ()
    if not config_files or not config_dirs:
        default_files, default_dirs = find_default_config(search_dirs)

    paths: list[Path] = []
    if not config_files:
        paths.extend(default_files)
    if not config_dirs:
        for directory in default_dirs:
            if directory.is_dir():
                paths.extend(_dir_entries(directory))

    for given in config_files:
        path = _absolute(given)
        if not path.exists():
            raise ConfigError(
                f"config file {path} does not exist; check the --config-file argument "
                f"({os.fspath(given)!s})"
            )
        paths.append(path)
    for given in config_dirs:
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
        paths.extend(_dir_entries(directory))
    return paths


def _read_text(path: Path) -> str:
    if path.is_dir():
        raise ConfigError(
            f"cannot read config file {path}: it is a directory; "
            "use --config-dir for a directory of *.conf files"
        )
    try:
        data = path.read_bytes()
    except PermissionError:
        raise ConfigError(
            f"cannot read config file {path}: permission denied; run as a user that "
            "can read it or fix its permissions"
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot read config file {path}: {reason}") from None
    try:
        # utf-8-sig: tolerate a byte-order mark left by some editors.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        lineno = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"cannot read config file {path}: line {lineno} is not valid UTF-8; "
            "save the file as UTF-8"
        ) from None


def _parse_file(path: Path) -> _ParsedFile:
    return _ParsedFile(path=path, sections=_parse_ini(path, _read_text(path)))


# --------------------------------------------------------------------------- INI


def _normalize_section(name: str) -> str:
    return name if name == "DEFAULT" else name.lower()


def _malformed(path: Path, lineno: int, what: str) -> ConfigError:
    return ConfigError(f"malformed config file {path}, line {lineno}: {what}")


def _parse_ini(path: Path, text: str) -> _Sections:
    """Parse ``text`` with the rules of oslo.config's INI reader."""
    sections: _Sections = {}
    section: str | None = None
    key: str | None = None
    key_lineno = 0
    parts: list[str] = []

    def flush() -> None:
        nonlocal key
        if key is None:
            return
        if section is None:
            raise _malformed(
                path,
                key_lineno,
                f"option '{key}' appears before any [section] header; "
                "put it under a section such as [database]",
            )
        sections[section].setdefault(key, []).append(_Value("\n".join(parts), key_lineno))
        key = None

    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for lineno, raw_line in enumerate(lines, start=1):
        line = raw_line.rstrip()
        if not line:
            flush()  # a blank line ends a multi-line value
            continue
        if line[0] in " \t":
            if key is None:
                raise _malformed(
                    path,
                    lineno,
                    "indented line does not continue an option (leading whitespace "
                    "marks a continuation line); remove the indentation",
                )
            parts.append(line.lstrip())
            continue
        flush()
        if line.startswith("["):
            if not line.endswith("]"):
                raise _malformed(
                    path, lineno, f"section header {line!r} is not closed; end it with ']'"
                )
            if len(line) <= 2:
                raise _malformed(path, lineno, "empty section name '[]'; name the section")
            section = _normalize_section(line[1:-1])
            sections.setdefault(section, {})
        elif line[0] in "#;":
            continue
        else:
            name, value = _split_assignment(path, lineno, line)
            key, key_lineno, parts = name, lineno, [value]
    flush()
    return sections


def _split_assignment(path: Path, lineno: int, line: str) -> tuple[str, str]:
    positions = [i for i in (line.find("="), line.find(":")) if i >= 0]
    if not positions:
        # The line itself is not echoed: it may hold a password.
        raise _malformed(
            path,
            lineno,
            "expected 'option = value' or 'option: value' (no '=' or ':' found); "
            "fix the line or comment it out with '#'",
        )
    split = min(positions)
    name, value = line[:split].strip(), line[split + 1 :].strip()
    if not name:
        raise _malformed(path, lineno, "option name missing before the '=' or ':'")
    if value and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]  # surrounding quotes are dropped, as oslo.config does
    return name, value


# --------------------------------------------------------------------------- values


def _find_connection(
    parsed: Sequence[_ParsedFile],
) -> tuple[_ParsedFile, tuple[str, str], _Value] | None:
    # Later files win; within one file the canonical name beats the deprecated
    # ones; within one section the last occurrence of a key wins.
    for parsed_file in reversed(parsed):
        for section, option in _LOOKUP_ORDER:
            values = parsed_file.sections.get(section, {}).get(option)
            if values:
                return parsed_file, (section, option), values[-1]
    return None


def _lookup(parsed: Sequence[_ParsedFile], section: str, option: str) -> str | None:
    for parsed_file in reversed(parsed):
        values = parsed_file.sections.get(section, {}).get(option)
        if values:
            return values[-1].text
    return None


def _substitute(value: str, source: str, parsed: Sequence[_ParsedFile], depth: int) -> str:
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
            candidates = [(_normalize_section(group), option)]
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
    config_dirs: Sequence[str | Path],
    search_dirs: Sequence[str | Path] | None,
) -> str:
    if read:
        files = ", ".join(str(p) for p in read)
        return f"no database connection is configured in {files}; {_FIX_HINT}"
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
