"""What an SQL operation does to its tables, declared by the revision that writes it.

The schema operations of :mod:`.ops` say by their kind how much work they are
(an index build reads its table once and sorts its rows; an instant ADD COLUMN
touches no row).  An :class:`~.ops.Sql` operation is opaque text, so its
revision declares its work with these values: the passes it makes over a table
and the share of the rows it rewrites.  The estimate (:mod:`..runner.estimate`)
turns them into seconds, and ``check_migration``'s lint reads them to flag
whole-table passes in new revisions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scan:
    """``passes`` full reads of ``table``; ``parses_json``: each row's JSON text is decoded."""

    table: str
    passes: int = 1
    parses_json: bool = False


@dataclass(frozen=True)
class Rewrite:
    """Writes a new version of ``share`` (0..1) of the rows of ``table`` (an upper
    estimate when the share depends on the data).  ``indexed``: it changes a column
    that an index holds; InnoDB and SQLite then update the indexes too (otherwise
    they update the row in place), PostgreSQL does either way unless the new version
    fits on the same page."""

    table: str
    share: float = 1.0
    indexed: bool = False


SqlWork = Scan | Rewrite
