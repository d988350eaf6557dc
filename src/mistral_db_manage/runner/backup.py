"""A consistent copy of a SQLite database file before it is upgraded.

Uses SQLite's online backup API (a consistent snapshot even while another
connection reads), writing ``<file>.<revision>-<UTC time>.bak`` beside the
database.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path


def backup_sqlite(database: Path, revision: str | None) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = database.with_name(f"{database.name}.{revision or 'base'}-{stamp}.bak")
    source = sqlite3.connect(str(database))
    try:
        copy = sqlite3.connect(str(target))
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    return target
