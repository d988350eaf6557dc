"""What the estimate needs from the live database: catalog statistics and measured rates.

:func:`table_statistics` reads each table's rows and bytes from the database's
own catalog (``pg_class``, ``information_schema.tables``; on SQLite the
largest rowid and a few rows' sizes): never a ``COUNT(*)`` over a big table.

:func:`measure_rates` is the probe: at most :data:`PROBE_QUERIES` read-only
queries, each bounded by a statement timeout, about a second in all.  It times
a round trip, a fixed CPU task in the server (against its time on the machine
the constants of :mod:`.estimate` were measured on), and a bounded read of the
largest table from a random place in it (on MySQL, where the buffer pool holds
less than the table, that read comes from disk, like every pass will).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from .estimate import Estimator, Rates, TableStats

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

#: the most queries the probe sends
PROBE_QUERIES = 8
#: bytes the probe reads from the largest table, at most
PROBE_READ_BYTES = 24 << 20
#: the longest any probe query may run (seconds)
PROBE_QUERY_SECONDS = 0.4

#: the fixed CPU task per dialect, and its time on the reference machine (idle: the
#: median of 15 runs)
_CPU_TASK: Mapping[str, tuple[str, float]] = {
    "postgresql": ("SELECT sum(length(md5(g::text))) FROM generate_series(1, 30000) AS g", 0.024),
    "mysql": ("SELECT BENCHMARK(60000, MD5('mistral-db-manage'))", 0.022),
    "sqlite": ("WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g "
               "WHERE i < 60000) SELECT sum(length(hex(i))) FROM g", 0.05),
}
#: how an upgrade's time follows the CPU task's: under contention an upgrade slows less
#: than a pure CPU task (it also waits on I/O); measured on the reference machine, a load
#: that made the task 2.5x slower made 019 -> head 2.0x slower (2.5 ** 0.75 = 2.0)
CPU_EXPONENT = 0.75
#: reading held pages, bytes per second on the reference machine
_CACHED_RATE: Mapping[str, float] = {
    # MySQL: InnoDB's pass over a table the buffer pool can hold, the first one included
    # (measured: 62 MB in 0.34 s right after loading, 59 MB in 0.2 s held)
    "postgresql": 1.2e9, "mysql": 0.3e9, "sqlite": 1.0e9,
}


def table_statistics(connection: Connection, dialect: str) -> dict[str, TableStats]:
    """Rows and bytes of every table, from the catalog."""
    rows: Sequence[Any]
    try:
        if dialect == "postgresql":
            rows = connection.execute(text(
                "SELECT c.relname, GREATEST(c.reltuples, COALESCE(s.n_live_tup, 0), 0), "
                "pg_table_size(c.oid), "
                "(SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid AND NOT i.indisprimary) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
                "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()"
            )).all()
        elif dialect == "mysql":
            rows = connection.execute(text(
                "SELECT t.table_name, COALESCE(t.table_rows, 0), COALESCE(t.data_length, 0), "
                "(SELECT COUNT(DISTINCT s.index_name) FROM information_schema.statistics s "
                " WHERE s.table_schema = t.table_schema AND s.table_name = t.table_name "
                " AND s.index_name <> 'PRIMARY') "
                "FROM information_schema.tables t "
                "WHERE t.table_schema = DATABASE() AND t.table_type = 'BASE TABLE'"
            )).all()
        else:
            rows = _sqlite_statistics(connection)
    finally:
        connection.rollback()
    return {str(name): TableStats(int(count or 0), int(size or 0), int(indexes or 0))
            for name, count, size, indexes in rows}


def _sqlite_statistics(connection: Connection) -> list[tuple[str, int, int, int]]:
    """SQLite keeps no row counts: the largest rowid (an index lookup) and the
    average size of a few rows stand in for them."""
    names = connection.execute(text(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )).scalars().all()
    result = []
    for name in names:
        quoted = '"' + str(name).replace('"', '""') + '"'
        columns = [r[1] for r in connection.execute(text(f"PRAGMA table_info({quoted})"))]
        indexes = connection.execute(text(f"PRAGMA index_list({quoted})")).all()
        try:
            rows = int(connection.execute(text(f"SELECT max(rowid) FROM {quoted}")).scalar() or 0)
        except Exception:  # WITHOUT ROWID: none of Mistral's tables
            rows = 0
        size = 0
        if rows and columns:
            total = " + ".join(
                "coalesce(length(\"" + str(c).replace('"', '""') + "\"), 0)" for c in columns)
            average = connection.execute(text(
                f"SELECT avg({total}) FROM (SELECT * FROM {quoted} LIMIT 64)")).scalar()
            size = int(rows * (float(average or 0) + 8 * len(columns)))
        result.append((str(name), rows, size, len(indexes)))
    return result


class _Probe:
    """Counts and bounds the probe's queries."""

    def __init__(self, connection: Connection, dialect: str) -> None:
        self.connection = connection
        self.dialect = dialect
        self.queries = 0

    def timed(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple[float, Any]:
        if self.queries >= PROBE_QUERIES:
            raise RuntimeError("the probe's query budget is spent")
        self.queries += 1
        if self.dialect == "mysql":
            sql = f"SET STATEMENT max_statement_time = {PROBE_QUERY_SECONDS} FOR {sql}"
        start = time.perf_counter()
        value = self.connection.execute(text(sql), dict(params or {})).scalar()
        return time.perf_counter() - start, value


def measure_rates(
    connection: Connection, dialect: str, stats: Mapping[str, TableStats],
    *, tables: tuple[str, ...] = (),
) -> Rates:
    """The probe: bounded, read-only, about a second.  ``tables``: the ones the plan reads
    (the largest of them is sampled)."""
    started = time.perf_counter()
    probe = _Probe(connection, dialect)
    cpu_factor, statement, scan_rate, cache = 1.0, 0.001, _CACHED_RATE[dialect], 0
    try:
        _begin_read_only(probe)
        statement = min(probe.timed("SELECT 1")[0] for _ in range(2))
        task, reference = _CPU_TASK[dialect]
        # the median of three: a busy server's CPU is what the upgrade gets too, one
        # slow sample (a checkpoint, a page flush) is not
        median = sorted(probe.timed(task)[0] for _ in range(3))[1]
        cpu_factor = min(max((median / reference) ** CPU_EXPONENT, 0.25), 8.0)
        cache = _cache_bytes(probe)
        candidates = [t for t in tables if stats.get(t, TableStats(0, 0)).rows > 0]
        if candidates:
            largest = max(candidates, key=lambda t: stats[t].bytes)
            scan_rate = _read_rate(probe, largest, stats[largest], cache) or scan_rate
    except Exception:  # the estimate falls back to the reference rates
        log.debug("the probe stopped early", exc_info=True)
    finally:
        connection.rollback()
    cached = _CACHED_RATE[dialect] / cpu_factor
    return Rates(dialect, scan_rate if cache else cached, cached, cpu_factor, statement,
                 cache, probe.queries, time.perf_counter() - started)


def _begin_read_only(probe: _Probe) -> None:
    connection = probe.connection
    connection.rollback()
    if probe.dialect == "postgresql":
        connection.execute(text("SET TRANSACTION READ ONLY"))
        connection.execute(text(f"SET LOCAL statement_timeout = "
                                f"{int(PROBE_QUERY_SECONDS * 1000)}"))
    elif probe.dialect == "mysql":
        connection.execute(text("START TRANSACTION READ ONLY"))


def _cache_bytes(probe: _Probe) -> int:
    """MySQL: the InnoDB buffer pool (tables larger than half of it are read from disk
    on every pass); elsewhere 0: the OS page cache holds what was read."""
    if probe.dialect != "mysql":
        return 0
    return int(probe.timed("SELECT @@innodb_buffer_pool_size")[1] or 0)


def _read_rate(probe: _Probe, table: str, stats: TableStats, cache: int) -> float | None:
    """Bytes per second of reading ``table`` from a random place on, bounded in bytes and
    time (MySQL only: elsewhere the OS page cache makes it a CPU rate)."""
    if probe.dialect != "mysql" or not cache or stats.bytes <= cache // 2 or not stats.rows:
        return None
    row_bytes = stats.bytes / stats.rows
    limit = max(100, min(stats.rows // 4, int(PROBE_READ_BYTES / row_bytes)))
    start = "".join(random.choice("0123456789abcdef") for _ in range(2))
    quoted = "`" + table.replace("`", "``") + "`"
    try:
        seconds, count = probe.timed(
            f"SELECT COUNT(LENGTH(p.id)) FROM (SELECT id FROM {quoted} FORCE INDEX (PRIMARY) "
            f"WHERE id >= :start ORDER BY id LIMIT {limit}) AS p", {"start": start})
    except Exception:  # over the time bound: at most this fast
        log.debug("the read probe ran out of time", exc_info=True)
        return PROBE_READ_BYTES / PROBE_QUERY_SECONDS / 2
    # a full pass reads at the rate of this bounded range (measured: 274 MB/s here, 256
    # and 227 MB/s for the full passes over the two large tables)
    return max(int(count or 0), 1) * row_bytes / max(seconds, 1e-4)


def estimator_for(connection: Connection, dialect: str, cluster: str | None) -> Estimator:
    """Catalog statistics and the probe's rates for this database, ready to estimate."""
    try:
        stats = table_statistics(connection, dialect)
    except Exception:  # e.g. no right to read the catalog: sizes unknown, still a plan
        log.debug("the catalog's statistics could not be read", exc_info=True)
        connection.rollback()
        stats = {}
    rates = measure_rates(connection, dialect, stats, tables=tuple(stats))
    return Estimator(stats, rates, cluster=cluster)
