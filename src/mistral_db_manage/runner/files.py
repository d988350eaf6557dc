"""Files this tool writes beside a database or into a versions directory: never half
written under their final name, never more readable than they should be."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path


def write_atomically(target: Path, partial: Path, fill: Callable[[Path], None], *,
                     mode: int = 0o600) -> None:
    """Create ``partial`` (with ``mode`` less the umask, failing if it exists), let ``fill``
    write it, then rename it to ``target``.  On an ``OSError`` the partial file is removed
    and the error raised: ``target`` is then untouched."""
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        fill(partial)
        os.replace(partial, target)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
