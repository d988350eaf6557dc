"""Reading one configuration file with the rules of oslo.config's INI reader.

``key = value`` and ``key: value``; ``#`` and ``;`` full-line comments; indented
continuation lines (joined with a newline); a blank line ends a value; repeated
keys are all kept (the last one wins when read); surrounding quotes are removed;
no ``%`` interpolation; section names other than ``DEFAULT`` are lower-cased; a
UTF-8 byte-order mark is refused, as oslo.config refuses it; CRLF line ends are
accepted.  Every problem is a
one-line :class:`~mistral_db_manage.errors.ConfigError` naming the file and line,
never the line's text (it may hold a password).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

__all__ = ["ParsedFile", "Sections", "Value", "normalize_section", "parse_file"]


@dataclass(frozen=True)
class Value:
    """One value given to an option, and the line that gives it."""

    text: str
    lineno: int


#: normalised section name -> option name -> every value given, in file order
Sections = dict[str, dict[str, list[Value]]]


@dataclass(frozen=True)
class ParsedFile:
    path: Path
    sections: Sections

    def last(self, section: str, option: str) -> Value | None:
        """The value that counts for ``[section] option`` in this file (None: not set)."""
        values = self.sections.get(section, {}).get(option)
        return values[-1] if values else None


def parse_file(path: Path) -> ParsedFile:
    """Read and parse ``path`` (a :class:`ConfigError` when it cannot be)."""
    return ParsedFile(path=path, sections=_parse_ini(path, _read_text(path)))


def normalize_section(name: str) -> str:
    return name if name == "DEFAULT" else name.lower()


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
    if data.startswith(b"\xef\xbb\xbf"):
        # oslo.config reads the mark as text before the first section: the services
        # would fail to start on this file, so it is not used to choose their database.
        raise ConfigError(
            f"cannot read config file {path}: it starts with a byte-order mark (BOM), which "
            "the Mistral services (oslo.config) refuse; save the file as UTF-8 without BOM"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"cannot read config file {path}: line {lineno} is not valid UTF-8; "
            "save the file as UTF-8"
        ) from None


def _malformed(path: Path, lineno: int, what: str) -> ConfigError:
    return ConfigError(f"malformed config file {path}, line {lineno}: {what}")


def _parse_ini(path: Path, text: str) -> Sections:
    """Parse ``text`` with the rules of oslo.config's INI reader."""
    sections: Sections = {}
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
        sections[section].setdefault(key, []).append(Value("\n".join(parts), key_lineno))
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
            section = normalize_section(line[1:-1])
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
