"""Reading the version record without SQLAlchemy, for a fast ``current``.

For the plain URLs :mod:`.driver` opens, the driver reads ``alembic_version``
directly.  Anything else (another driver, other URL parameters, a missing
file or table, an error of any kind) returns None, and the caller takes the
full path, which gives the proper answer or the proper one-line error.
Read-only: it never writes.
"""

from __future__ import annotations

from .driver import connect, parse_plain_url

QUERY = "SELECT version_num FROM alembic_version"


def read_version_quickly(connection_url: str) -> tuple[str, ...] | None:
    """The rows of ``alembic_version``, or None when the full path must answer."""
    try:
        url = parse_plain_url(connection_url)
        if url is None or (url.path is not None and not url.path.is_file()):
            return None
        connection = connect(url, readonly=True)
        try:
            cursor = connection.cursor()
            cursor.execute(QUERY)
            return tuple(str(row[0]) for row in cursor.fetchall())
        finally:
            connection.close()
    except Exception:
        return None
