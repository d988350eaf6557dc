"""What the command line writes to a terminal, made safe.

Every value the tool prints may come from a database row, a revision file, a
definition file or the environment, and any of them can hold control
characters: a line break that forges an extra line of ``history --applied``,
or an escape sequence that rewrites the operator's terminal.  This module
owns the one rule for printed text (:func:`printable`: every character that
is not printable is shown as its Python escape, ``\\n``, ``\\x1b``, ``\\u202e``)
and the logging formatter that applies it to stderr.

It also owns what a closed standard output means: ``mistral-db-manage
history | head -1`` closes the pipe early, which is the reader's choice and
not an error.  :class:`OutputClosed` is raised for it by :class:`PipeGuard`
(the stream handed to the code that writes SQL scripts) and turned into a
quiet exit by the CLI, with :func:`silence_stdout` so that the interpreter's
final flush does not complain either.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import IO, cast

from .errors import MistralDbManageError

__all__ = ["OutputClosed", "PipeGuard", "PrintableFormatter", "printable", "silence_stdout"]


def _escape(char: str) -> str:
    if char in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: object) -> str:
    """``str(text)`` with every character that is not printable escaped.

    Spaces, letters of any script and punctuation are kept; line breaks,
    tabs, escape sequences, other control and format characters (bidi
    overrides included) and lone surrogates are shown as escapes, so one
    value is always one line and never moves the cursor.
    """
    value = str(text)
    if value.isprintable():
        return value
    return "".join(char if char.isprintable() else _escape(char) for char in value)


class PrintableFormatter(logging.Formatter):
    """A formatter whose output holds no control character (tracebacks aside)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))


class OutputClosed(MistralDbManageError):
    """Standard output was closed by its reader (``| head``): stop writing, quietly."""

    exit_code = 0


class PipeGuard:
    """A text stream that turns a closed pipe into :class:`OutputClosed`.

    Code that writes a script catches ``Exception`` to name the revision that
    failed; a closed pipe is not such a failure, and as a
    :class:`~.errors.MistralDbManageError` it passes through unchanged.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise OutputClosed("standard output was closed") from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise OutputClosed("standard output was closed") from None

    def as_stream(self) -> IO[str]:
        """This guard where a text stream is expected (only write and flush are used)."""
        return cast(IO[str], self)


def silence_stdout() -> None:
    """Point standard output at /dev/null, so that nothing more fails on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
