"""How each server names the objects a revision creates without a name.

Upstream's revisions create most unique and foreign-key constraints unnamed;
the server then picks the name.  Later revisions drop some of them by that
name, and ``verify`` compares names, so the chain must know the rules:

* PostgreSQL: ``<table>_<col>_<col>..._key`` (unique), ``<table>_<col>_fkey``
  (foreign key), ``<table>_pkey``, ``<table>_<col>_seq``; the whole name is cut
  to 63 bytes by shortening the longer of the table part and the column part,
  and a clash gets a number appended to the label (``key1``, ``key2``, ...).
* MySQL/MariaDB: a unique key is named after its first column (``_2``, ``_3``
  on a clash within the table); a foreign key is ``<table>_ibfk_<n>``; InnoDB
  adds an index named after the first column of a foreign key that no other
  index can serve.
* SQLite: unnamed constraints have no name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

PG_MAX_IDENTIFIER = 63


def pg_object_name(name1: str, name2: str | None, label: str | None) -> str:
    """PostgreSQL's rule for a generated name, cut to 63 bytes."""
    overhead = 0
    if name2:
        overhead += 1
    if label:
        overhead += len(label) + 1
    available = PG_MAX_IDENTIFIER - overhead
    len1, len2 = len(name1), len(name2 or "")
    while len1 + len2 > available:
        if len1 > len2:
            len1 -= 1
        else:
            len2 -= 1
    parts = [name1[:len1]]
    if name2:
        parts.append(name2[:len2])
    if label:
        parts.append(label)
    return "_".join(parts)


def pg_choose_name(
    table: str, columns: Sequence[str] | None, label: str, taken: Callable[[str], bool]
) -> str:
    """The first free name among ``<table>_<cols>_<label>``, ``..._<label>1``, ..."""
    name2 = "_".join(columns) if columns else None
    attempt = 0
    while True:
        suffix = label if attempt == 0 else f"{label}{attempt}"
        candidate = pg_object_name(table, name2, suffix)
        if not taken(candidate):
            return candidate
        attempt += 1


def mysql_unique_name(columns: Sequence[str], taken: Callable[[str], bool]) -> str:
    """MySQL/MariaDB: the first column's name, then ``<col>_2``, ``<col>_3``..."""
    base = columns[0]
    if not taken(base):
        return base
    number = 2
    while taken(f"{base}_{number}"):
        number += 1
    return f"{base}_{number}"


def mysql_foreign_key_name(table: str, existing: Sequence[str]) -> str:
    """MySQL/MariaDB: ``<table>_ibfk_<n>`` with n one past the highest in use."""
    prefix = f"{table}_ibfk_"
    numbers = [int(name[len(prefix):]) for name in existing if name.startswith(prefix)
               and name[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"
