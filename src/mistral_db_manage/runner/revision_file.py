"""Writing one new revision file safely: its message, its id, where, and how.

``revision -m MESSAGE`` puts an operator's text into Python source.  This
module makes sure that text comes back exactly as given, or is refused:

* a message is one line of printable text, at most :data:`MAX_MESSAGE_LENGTH`
  characters, without surrounding spaces (anything else is refused in one
  line); backslashes and quotes are escaped in the docstring, so ``C:\\Users``
  or ``\"\"\"`` read back as written;
* an id is 1 to 32 letters, digits or ``_`` and not a word that revision
  arguments give a meaning to (``head``, ``heads``, ``base``, ``current``, in
  any case);
* the text is checked before anything is written (it parses, and reading it
  back gives the id, the down revision and the message), then written to a
  temporary file and renamed, so no file that does not parse is ever left
  in the chain;
* the installed package is not a place to write to: the next ``upgrade``
  would apply the new revision, and every other installation would then see
  the database as ahead.  Without ``--versions-dir``, the chain's directory
  must belong to a source checkout (``src/mistral_db_manage`` beside a
  ``pyproject.toml``, as with ``pip install -e``).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ChainError, UsageError
from .chain import read_revision_text
from .files import write_atomically

#: the longest message accepted (the first line of ``history``)
MAX_MESSAGE_LENGTH = 500
#: words that revision arguments resolve to something else (compared in lower case)
RESERVED_IDS = frozenset({"head", "heads", "base", "current"})
_ID = re.compile(r"[A-Za-z0-9_]{1,32}")


def check_message(message: str) -> None:
    """Refuse a message that would not come back exactly from the file."""
    if not message.strip():
        raise UsageError('a revision needs a message: -m "what it does"')
    if message != message.strip():
        raise UsageError("the revision message starts or ends with spaces; remove them")
    if len(message) > MAX_MESSAGE_LENGTH:
        raise UsageError(
            f"the revision message has {len(message)} characters; keep it under "
            f"{MAX_MESSAGE_LENGTH} (it is the revision's title in history)"
        )
    for position, char in enumerate(message):
        if not char.isprintable():
            shown = repr(char)[1:-1] if char.isascii() else f"U+{ord(char):04X}"
            raise UsageError(
                f"the revision message holds the control character {shown} at position "
                f"{position + 1}; a message is one line of printable text"
            )


def check_revision_id(revision_id: str) -> None:
    if not _ID.fullmatch(revision_id):
        shown = revision_id.encode("unicode_escape", "backslashreplace").decode("ascii")
        raise UsageError(f"invalid revision id '{shown}': use up to 32 letters, digits or _")
    if revision_id.lower() in RESERVED_IDS:
        raise UsageError(
            f"invalid revision id {revision_id!r}: {', '.join(sorted(RESERVED_IDS))} "
            "(in any case) name positions in the chain; choose another --rev-id"
        )


def docstring_literal(message: str) -> str:
    """``message`` escaped for the inside of a triple-quoted docstring."""
    return message.replace("\\", "\\\\").replace('"', '\\"')


def source_checkout(directory: Path) -> Path | None:
    """The source checkout ``directory`` (a package's ``migrations/versions``) belongs to."""
    package = directory.resolve().parent.parent
    if package.parent.name != "src":
        return None
    root = package.parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def refuse_installed_package(directory: Path) -> None:
    """Refuse to write into the chain of an installed (not editable) package."""
    if source_checkout(directory) is not None:
        return
    raise UsageError(
        f"refusing to write a revision into the installed package ({directory}): the next "
        "upgrade would apply it and every other installation would see the database as "
        "ahead; run revision from a source checkout (pip install -e .) or give "
        "--versions-dir DIR"
    )


def write_revision_file(path: Path, text: str, revision_id: str,
                        down_revision: str | None, message: str) -> None:
    """Write ``text`` to ``path`` once it is known to read back as intended."""
    read = read_revision_text(text, path)
    if (read.id, read.down_revision, read.message) != (revision_id, down_revision, message):
        raise ChainError(
            f"{path.name}: the rendered revision does not read back as written "
            "(a bug: please report it); nothing was written"
        )
    if path.exists():
        raise ChainError(f"{path} already exists: choose another --rev-id")
    partial = path.with_name(f".{path.name}.partial")
    try:
        # an ordinary source file: readable as the umask allows
        write_atomically(path, partial, lambda p: _write_text(p, text), mode=0o666)
    except OSError as error:
        raise ChainError(
            f"cannot write {path} ({error.strerror or error}); check the directory's "
            "permissions or give --versions-dir DIR"
        ) from None


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
