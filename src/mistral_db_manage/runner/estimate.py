"""How long each operation of a plan takes on this database, and what it locks meanwhile.

A pure cost model: no database here.  Its inputs are

* :class:`TableStats`: each table's rows and bytes, read from the database's own
  catalog (:mod:`.probe`; never a ``COUNT(*)``);
* :class:`Rates`: what the server does per second, measured by a bounded,
  read-only probe (:mod:`.probe`): how fast it reads a table it does not hold
  in memory and one it does, and how fast its CPU is against the machine the
  constants below were measured on.

Every operation becomes a few kinds of work (:class:`Work`): a metadata
change, passes over a table (decoding JSON or not), rows rewritten, an index
built, a table copied, a foreign key checked.  Each kind costs its rows and
bytes at the measured rates plus per-dialect constants (:data:`CONSTANTS`,
measured with ``benchmarks/compare_upstream.py`` on the reference machine and
scaled by the probe's CPU factor).

Locks: what a running service notices (:class:`LockEffect`), per table.  On
PostgreSQL and SQLite a revision is one transaction, so a lock taken by its
first operation is held until the revision commits; on MySQL every DDL
statement commits by itself.  On a Galera cluster every schema change runs in
total order isolation: writes wait on every node while it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..migrations import ops
from ..migrations.work import Rewrite, Scan
from ..schema.state import SchemaState


class LockEffect(StrEnum):
    """What the Mistral service notices on a table while an operation holds its lock."""

    NONE = "none"
    WRITES = "writes blocked"
    READS = "reads blocked"  # and writes

    @property
    def rank(self) -> int:
        return (LockEffect.NONE, LockEffect.WRITES, LockEffect.READS).index(self)


class WorkKind(StrEnum):
    META = "metadata"  # catalog only: no row is read
    SCAN = "scan"  # passes over the table
    PARSE = "scan+json"  # passes that decode each row's JSON
    REWRITE = "rewrite"  # new versions of rows
    INDEX = "index build"
    COPY = "table copy"
    FOREIGN_KEY = "foreign key check"


@dataclass(frozen=True)
class Work:
    kind: WorkKind
    table: str | None = None
    #: passes (SCAN/PARSE) or share of the rows (REWRITE)
    amount: float = 1.0
    #: REWRITE: an indexed column changes (MySQL and SQLite update the indexes only then)
    indexed: bool = True


@dataclass(frozen=True)
class TableStats:
    rows: int
    #: bytes of the table's rows (heap and TOAST, clustered index, or pages)
    bytes: int
    #: secondary indexes (each rewritten row or copy updates them)
    indexes: int = 0


@dataclass(frozen=True)
class Rates:
    """What the probe measured on this server."""

    dialect: str
    #: reading a table the server does not hold in memory
    scan_bytes_per_second: float
    #: reading a table held in memory
    cached_bytes_per_second: float
    #: this server's time for a fixed CPU task against the reference's (2.0: half as fast)
    cpu_factor: float
    #: one statement's round trip
    statement_seconds: float
    #: tables larger than this are read from disk on every pass (0: all held)
    cache_bytes: int
    #: queries the probe sent and the time it took
    probe_queries: int = 0
    probe_seconds: float = 0.0


@dataclass(frozen=True)
class Constants:
    """Per-dialect costs on the reference machine (seconds)."""

    run: float  # process start-up, connection, lock, drift check, audit: once per run
    revision: float  # version row, commit
    operation: float  # one DDL statement's bookkeeping (MySQL: and the journal)
    row: float  # CPU per row read in a pass
    json_byte: float  # CPU per byte of JSON decoded
    write_row: float  # per row rewritten
    write_byte: float  # per byte rewritten or copied, the table held in memory
    disk_write_byte: float  # the same when the table is larger than the cache
    index_entry: float  # per row per index maintained while rewriting or copying
    build_row: float  # per row of an index built (sort and load)
    #: PostgreSQL: per byte of each page a rewrite touches first after a checkpoint,
    #: which goes to the WAL whole (full_page_writes); 0 elsewhere
    page_image_byte: float = 0.0


#: measured with benchmarks/compare_upstream.py on the reference machine
#: (AMD EPYC, 2 cores; PostgreSQL 15, MariaDB 10.11 with a 128 MB buffer pool,
#: SQLite 3.40); the probe's cpu_factor scales them to another server.  ``run``
#: is between that machine's and an Intel Xeon's of the same size (0.75 and 0.65 s
#: for PostgreSQL's 040 -> head, nearly all start-up).
CONSTANTS: Mapping[str, Constants] = {
    # write_byte: each rewritten byte goes to the heap and to the WAL (8e-9 = both; with
    # 4e-9 the prediction was 5 % off at N = 200,000 but 31 % low at 1,000,000)
    # page_image_byte: 020's UPDATE of a third of the rows touches 87 % of the pages
    # (4.8 rows a page); it took 2.5 s at N = 200,000 where rows and bytes alone said 2.0
    "postgresql": Constants(run=0.65, revision=0.01, operation=0.0007, row=0.55e-6,
                            json_byte=0.33e-8, write_row=9e-6, write_byte=8e-9,
                            disk_write_byte=8e-9, index_entry=0.9e-6, build_row=0.11e-6,
                            page_image_byte=1.75e-9),
    # MySQL, refitted on the Xeon with each revision's time (benchmark JSON): 020's
    # in-place UPDATE of a third of the rows and 041's table copy were 50 % and 30 %
    # over with write_row 30e-6, disk_write_byte 8e-9 and index entries on every row
    # rewritten; the small revisions' DDL 2x over with operation 0.018
    "mysql": Constants(run=0.5, revision=0.004, operation=0.011, row=4.0e-6,
                       json_byte=2.8e-9, write_row=12e-6, write_byte=5e-9,
                       disk_write_byte=5e-9, index_entry=2.0e-6, build_row=1.0e-6),
    "sqlite": Constants(run=0.7, revision=0.002, operation=0.001, row=1.0e-6,
                        json_byte=3.0e-9, write_row=6e-6, write_byte=6e-9,
                        disk_write_byte=6e-9, index_entry=3.0e-6, build_row=1.0e-6),
}


#: PostgreSQL's page (the only dialect whose rewrites log whole pages)
PAGE_BYTES = 8192


@dataclass(frozen=True)
class OperationEstimate:
    seconds: float
    #: the table it locks and how (None: a new table, nobody uses it)
    table: str | None
    effect: LockEffect
    #: Galera TOI: writes wait on every node while it runs
    cluster_stall: bool = False


@dataclass(frozen=True)
class TableLock:
    """A table a step locks, how, and for about how long."""

    table: str
    effect: LockEffect
    seconds: float
    #: Galera under TOI: the stall is cluster-wide
    cluster_stall: bool = False


class Estimator:
    """Seconds and locks of each operation, given the statistics and the rates."""

    def __init__(self, stats: Mapping[str, TableStats], rates: Rates,
                 *, cluster: str | None = None) -> None:
        self.stats = stats
        self.rates = rates
        self.dialect = rates.dialect
        self.cluster = cluster
        self.constants = CONSTANTS[rates.dialect]

    @property
    def run_seconds(self) -> float:
        return self.constants.run

    @property
    def revision_seconds(self) -> float:
        return self.constants.revision * self.rates.cpu_factor

    def creation_seconds(self, tables: int) -> float:
        """An empty database: every table created at once."""
        return tables * 3 * self.constants.operation * self.rates.cpu_factor

    def rows(self, table: str) -> int | None:
        return self.stats[table].rows if table in self.stats else None

    def basis(self) -> dict[str, float]:
        """How the estimate was measured (shown with it)."""
        r = self.rates
        return {"probe_queries": r.probe_queries, "probe_seconds": round(r.probe_seconds, 3),
                "cpu_factor": round(r.cpu_factor, 2),
                "scan_mb_per_second": round(r.scan_bytes_per_second / 2**20, 1),
                "cache_mb": r.cache_bytes >> 20}

    def table(self, name: str) -> TableStats:
        return self.stats.get(name, TableStats(0, 0))

    def operation(self, operation: ops.Operation, state: SchemaState) -> OperationEstimate:
        works = operation_work(operation, state)
        parts = operation.cpu_parts(self.dialect)
        seconds = self.constants.operation * self.rates.cpu_factor + sum(
            self.work_seconds(w, parts) for w in works)
        existing = [t for t in operation.tables() if t in state.tables]
        table = existing[0] if existing else None
        effect = lock_effect(operation, state) if table else LockEffect.NONE
        if isinstance(operation, ops.AlterColumn) and not operation.changes_anything(state):
            table, effect = None, LockEffect.NONE  # e.g. TEXT -> LONGTEXT on PostgreSQL
        stall = (self.cluster == "galera" and table is not None
                 and not isinstance(operation, ops.Sql))
        return OperationEstimate(seconds, table, effect, stall)

    def work_seconds(self, work: Work, parts: int = 1) -> float:
        """``parts``: statements running at once that share the passes' CPU work."""
        if work.kind is WorkKind.META or work.table is None:
            return 0.0
        c, cpu = self.constants, self.rates.cpu_factor
        stats = self.table(work.table)
        read = self.read_seconds(stats)
        per_byte = c.write_byte if self.held(stats) else c.disk_write_byte
        if work.kind in (WorkKind.SCAN, WorkKind.PARSE):
            json = stats.bytes * c.json_byte if work.kind is WorkKind.PARSE else 0.0
            return work.amount * (read + (stats.rows * c.row + json) * cpu / parts)
        if work.kind is WorkKind.REWRITE:
            rows = stats.rows * work.amount
            row_bytes = stats.bytes / stats.rows if stats.rows else 0.0
            # the share of the pages that hold at least one of the rows (spread evenly)
            rows_per_page = max(PAGE_BYTES / row_bytes, 1.0) if row_bytes else 1.0
            touched = 1.0 - float((1.0 - min(work.amount, 1.0)) ** rows_per_page)
            # InnoDB and SQLite update a row in place (its indexes too only when they hold
            # a changed column); PostgreSQL writes a new version, which every index points to
            indexes = 1 + stats.indexes if work.indexed or self.dialect == "postgresql" else 0
            return rows * (row_bytes * per_byte + (
                c.write_row + indexes * c.index_entry) * cpu
            ) + stats.bytes * touched * c.page_image_byte
        if work.kind is WorkKind.INDEX:
            return read + stats.rows * (c.row + c.build_row) * cpu
        if work.kind is WorkKind.COPY:
            return read + stats.bytes * per_byte + stats.rows * (
                c.row + (1 + stats.indexes) * c.build_row) * cpu
        # FOREIGN_KEY: a pass over the table, one lookup per row
        return read + stats.rows * (c.row + c.index_entry) * cpu

    def held(self, stats: TableStats) -> bool:
        """Whether the server holds the table in memory across passes."""
        return not self.rates.cache_bytes or stats.bytes <= self.rates.cache_bytes // 2

    def read_seconds(self, stats: TableStats) -> float:
        held = self.held(stats)
        rate = self.rates.cached_bytes_per_second if held else self.rates.scan_bytes_per_second
        return stats.bytes / max(rate, 1.0)


def step_locks(dialect: str, estimates: list[OperationEstimate]) -> tuple[TableLock, ...]:
    """The tables one revision locks: the strongest effect on each and how long it lasts.

    PostgreSQL and SQLite hold every lock until the revision commits, so a lock
    lasts from the first operation that takes it to the end of the revision; on
    MySQL each operation holds its lock for itself (its DDL commits by itself)."""
    locks: dict[str, TableLock] = {}
    for number, estimate in enumerate(estimates):
        table = estimate.table
        if table is None or estimate.effect is LockEffect.NONE:
            continue
        old = locks.get(table)
        if dialect == "mysql":
            effect: LockEffect = estimate.effect
            if old is not None and old.effect.rank > effect.rank:
                effect = old.effect
            seconds = estimate.seconds + (old.seconds if old else 0.0)
        elif old is None or estimate.effect.rank > old.effect.rank:
            effect, seconds = estimate.effect, sum(e.seconds for e in estimates[number:])
        else:
            continue
        stall = estimate.cluster_stall or (old.cluster_stall if old else False)
        locks[table] = TableLock(table, effect, seconds, stall)
    return tuple(locks.values())


# -- the work of each operation ------------------------------------------------------------


def operation_work(operation: ops.Operation, state: SchemaState) -> tuple[Work, ...]:
    """The work ``operation`` does on ``state.dialect`` (tables it creates cost nothing)."""
    dialect = state.dialect
    existing = [t for t in operation.tables() if t in state.tables]
    if not existing:
        return (Work(WorkKind.META),)
    table = existing[0]
    if isinstance(operation, ops.Sql):
        return sql_work(operation)
    if dialect == "sqlite" and _sqlite_rebuilds(operation, state):
        return (Work(WorkKind.COPY, table),)
    if isinstance(operation, (ops.CreateIndex, ops.AddUnique)):
        return (Work(WorkKind.INDEX, table),)
    if isinstance(operation, ops.AddForeignKey):
        return (Work(WorkKind.FOREIGN_KEY, table),)
    if isinstance(operation, ops.AlterColumn) and rewrites_table(operation, state):
        return (Work(WorkKind.COPY, table),)
    if isinstance(operation, ops.AddColumn) and dialect == "postgresql" and not (
        operation.column.nullable or operation.column.server_default or operation.fill
    ):
        return (Work(WorkKind.SCAN, table),)  # NOT NULL: every row is checked
    if isinstance(operation, ops.DropColumn) and dialect == "mysql":
        return (Work(WorkKind.COPY, table),)  # instant in 10.4+ unless indexed; be careful
    return (Work(WorkKind.META, table),)


def sql_work(operation: ops.Sql) -> tuple[Work, ...]:
    if operation.work is not None:
        return tuple(
            Work(WorkKind.PARSE if w.parses_json else WorkKind.SCAN, w.table, w.passes)
            if isinstance(w, Scan) else Work(WorkKind.REWRITE, w.table, w.share, w.indexed)
            for w in operation.work
            if isinstance(w, (Scan, Rewrite))
        )
    if operation.rewrites_data and operation.table_names:
        table = operation.table_names[0]
        return (Work(WorkKind.SCAN, table), Work(WorkKind.REWRITE, table))
    return (Work(WorkKind.META),)


def _sqlite_rebuilds(operation: ops.Operation, state: SchemaState) -> bool:
    if isinstance(operation, ops.AlterColumn):
        return operation.changes_anything(state)
    if isinstance(operation, ops.AddColumn):
        needs_fill = not operation.column.nullable and operation.column.server_default is None
        return needs_fill and operation.fill is not None
    return isinstance(operation, (ops.DropColumn, ops.AddUnique, ops.DropUnique,
                                  ops.AddForeignKey, ops.DropForeignKey, ops.SetDefault))


def rewrites_table(operation: ops.AlterColumn, state: SchemaState) -> bool:
    """Whether changing the column's type copies (MySQL) or rewrites (PostgreSQL) the table."""
    if operation.type is None or not operation.changes_anything(state):
        return False
    old = ops.compiled_type(state.table(operation.table).column(operation.column).type,
                            state.dialect)
    new = ops.compiled_type(operation.type, state.dialect)
    if old == new:
        return False  # only the nullability changes
    if state.dialect == "postgresql":
        # VARCHAR(n) -> VARCHAR(m >= n) or TEXT: binary-compatible, no rewrite
        return not (old.startswith("VARCHAR") and (new == "TEXT" or (
            new.startswith("VARCHAR") and _length(new) >= _length(old))))
    if state.dialect == "mysql" and old.startswith("VARCHAR") and new.startswith("VARCHAR"):
        # InnoDB extends a VARCHAR in place while its length prefix keeps its size
        # (utf8mb4: up to 63 characters one byte, from 64 on two)
        return not (_length(new) >= _length(old) and (_length(old) >= 64) == (_length(new) >= 64))
    return True


def _length(compiled: str) -> int:
    digits = compiled.partition("(")[2].partition(")")[0]
    return int(digits) if digits.isdigit() else 1 << 30


def lock_effect(operation: ops.Operation, state: SchemaState) -> LockEffect:
    """What the running service notices on the operation's (existing) table."""
    dialect = state.dialect
    if dialect == "sqlite":
        return LockEffect.WRITES  # the database file: writers wait, readers at commit
    if isinstance(operation, ops.Sql):
        # row locks until commit; a plain check locks nothing
        return LockEffect.WRITES if operation.rewrites_data else LockEffect.NONE
    if dialect == "postgresql":
        if isinstance(operation, (ops.CreateIndex, ops.AddUnique, ops.AddForeignKey)):
            return LockEffect.WRITES  # SHARE (ROW EXCLUSIVE) lock
        return LockEffect.READS  # ACCESS EXCLUSIVE: brief, or the whole rewrite
    # MySQL: online index builds; a copy blocks writes; an instant change takes a
    # brief exclusive metadata lock
    if isinstance(operation, (ops.CreateIndex, ops.AddUnique)):
        return LockEffect.NONE
    if isinstance(operation, ops.AlterColumn) and rewrites_table(operation, state):
        return LockEffect.WRITES
    if isinstance(operation, (ops.AddForeignKey, ops.DropColumn)):
        return LockEffect.WRITES
    return LockEffect.READS
