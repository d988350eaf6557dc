#!/usr/bin/env python3
"""Benchmark ``mistral-db-manage upgrade head`` against upstream Mistral 23.0.0.

For each scale N and dialect it generates a realistic database at revision 019
(``datagen.py``), gives each tool its own copy of the same data, times ``upgrade head``
as a subprocess (wall time; peak RSS of that process from ``wait4``), checks that both
tools left identical rows, and prints a Markdown table.  It also times ``upgrade head``
on an empty database and ``current`` on a database at head.

Upstream runs from its own virtual environment (default ``benchmarks/.upstream-venv``),
created on first use.  Scratch databases are named ``mdm_bench_*`` and dropped at the end;
no other database is touched.  See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import chart
import datagen
import floor

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OURS_PYTHON = REPO / ".venv" / "bin" / "python"
DEFAULT_UPSTREAM_VENV = HERE / ".upstream-venv"
UPSTREAM_PINS = ("mistral==23.0.0", "psycopg2-binary==2.9.13", "PyMySQL==1.2.4",
                 "SQLAlchemy==2.1.9", "alembic==1.20.1")
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
PREFIX = "mdm_bench_"
QUICK_N = 2000

#: columns compared after both upgrades (ordered by id)
CHECK_COLUMNS: dict[str, tuple[str, ...]] = {
    "task_executions_v2": ("id", "type", "workflow_namespace"),
    "action_executions_v2": ("id", "workflow_namespace"),
    "workflow_executions_v2": ("id", "workflow_namespace"),
    "workflow_definitions_v2": ("id", "namespace"),
    "workbooks_v2": ("id", "namespace"),
    "delayed_calls_v2": ("id", "key"),
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- measured runs ---------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    rss: float
    rc: int
    log_path: Path


def run_measured(argv: Sequence[str], log_path: Path, timeout: float | None = None) -> Run:
    """Run ``argv``; wall time and the peak RSS of that very process (``wait4``)."""
    with open(log_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        deadline = None if timeout is None else start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if deadline and time.perf_counter() > deadline:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(wall, usage.ru_maxrss / 1024.0, proc.returncode, log_path)


class Tool:
    def __init__(self, name: str, argv0: Sequence[str]) -> None:
        self.name = name
        self.argv0 = list(argv0)

    def argv(self, conf: Path, *args: str) -> list[str]:
        return [*self.argv0, "--config-file", str(conf), *args]


def ensure_upstream(venv: Path) -> Path:
    exe = venv / "bin" / "mistral-db-manage"
    if exe.exists():
        return exe
    log(f"creating upstream venv {venv} (pip install {' '.join(UPSTREAM_PINS)}) ...")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = str(venv / "bin" / "pip")
    subprocess.run([pip, "install", "-q", "--upgrade", "pip", "setuptools", "wheel"], check=True)
    subprocess.run([pip, "install", "-q", *UPSTREAM_PINS], check=True)
    return exe


# -- databases ---------------------------------------------------------------------------


def pg_connect(db: str = "postgres") -> Any:
    import psycopg2

    conn = psycopg2.connect(dbname=db, **PG)
    return conn


def my_connect(db: str | None = None, **kw: Any) -> Any:
    import pymysql

    return pymysql.connect(database=db, charset="utf8mb4", **MY, **kw)


def _checked(name: str) -> str:
    if not name.startswith(PREFIX) or not name.replace("_", "").isalnum():
        raise ValueError(f"refusing to touch database {name!r}")
    return name


@dataclass
class Database:
    """One scratch database (or SQLite file) and the config file that points at it."""

    dialect: str
    name: str
    workdir: Path
    path: Path | None = None  # sqlite

    @property
    def url(self) -> str:
        if self.dialect == "postgresql":
            return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{self.name}"
        if self.dialect == "mysql":
            return f"mysql+pymysql://root@127.0.0.1:3306/{self.name}?charset=utf8mb4"
        assert self.path is not None
        return f"sqlite:///{self.path}"

    @property
    def conf(self) -> Path:
        conf = self.workdir / f"{self.name}.conf"
        if not conf.exists():
            conf.write_text(f"[database]\nconnection = {self.url}\n")
        return conf

    def create(self) -> None:
        self.drop()
        if self.dialect == "postgresql":
            conn = pg_connect()
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {_checked(self.name)}")
            conn.close()
        elif self.dialect == "mysql":
            conn = my_connect()
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {_checked(self.name)}")
            conn.close()
        else:
            self.path = self.workdir / f"{self.name}.sqlite"

    def clone(self, name: str) -> Database:
        """PostgreSQL: CREATE DATABASE ... TEMPLATE; SQLite: file copy."""
        other = Database(self.dialect, name, self.workdir)
        other.drop()
        if self.dialect == "postgresql":
            conn = pg_connect()
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {_checked(name)} TEMPLATE {_checked(self.name)}"
                            " STRATEGY FILE_COPY")
            conn.close()
        elif self.dialect == "sqlite":
            assert self.path is not None
            other.path = self.workdir / f"{name}.sqlite"
            shutil.copyfile(self.path, other.path)
        else:
            raise NotImplementedError("mysql copies are loaded, not cloned")
        return other

    def drop(self) -> None:
        if self.dialect == "postgresql":
            conn = pg_connect()
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {_checked(self.name)} WITH (FORCE)")
            conn.close()
        elif self.dialect == "mysql":
            conn = my_connect()
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {_checked(self.name)}")
            conn.close()
        else:
            for suffix in ("", "-journal", "-wal", "-shm"):
                p = self.workdir / f"{self.name}.sqlite{suffix}"
                p.unlink(missing_ok=True)
            for p in self.workdir.glob(f"{self.name}.sqlite*"):  # backups made by a tool
                p.unlink(missing_ok=True)

    def size_mb(self) -> float:
        if self.dialect == "postgresql":
            conn = pg_connect()
            with conn.cursor() as cur:
                cur.execute("SELECT pg_database_size(%s)", (self.name,))
                size = cur.fetchone()[0]
            conn.close()
        elif self.dialect == "mysql":
            conn = my_connect()
            with conn.cursor() as cur:
                cur.execute("SELECT COALESCE(SUM(data_length + index_length), 0) FROM "
                            "information_schema.tables WHERE table_schema = %s", (self.name,))
                size = cur.fetchone()[0]
            conn.close()
        else:
            assert self.path is not None
            size = self.path.stat().st_size
        return float(size) / 2**20

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        if self.dialect == "postgresql":
            conn = pg_connect(self.name)
        elif self.dialect == "mysql":
            conn = my_connect(self.name, local_infile=True)
        else:
            assert self.path is not None
            conn = sqlite3.connect(self.path)
        try:
            yield conn
        finally:
            conn.close()


def drop_leftovers() -> None:
    """Drop ``mdm_bench_*`` databases left by an interrupted run (only ours, by prefix)."""
    with contextlib.suppress(Exception):
        conn = pg_connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE datname LIKE 'mdm\\_bench\\_%'")
            for (name,) in cur.fetchall():
                cur.execute(f"DROP DATABASE IF EXISTS {_checked(name)} WITH (FORCE)")
        conn.close()
    with contextlib.suppress(Exception):
        conn = my_connect()
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE 'mdm\\_bench\\_%'")
            for (name,) in cur.fetchall():
                cur.execute(f"DROP DATABASE IF EXISTS {_checked(name)}")
        conn.close()


# -- loading -----------------------------------------------------------------------------


def write_tsv(gen: datagen.Generator, directory: Path) -> dict[str, Path]:
    """Stream every table to a TSV file (COPY text / LOAD DATA format)."""
    files: dict[str, Path] = {}
    for table in datagen.TABLE_ORDER:
        path = directory / f"{table}.tsv"
        with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
            esc = datagen.tsv_escape
            for row in gen.rows(table):
                f.write("\t".join(map(esc, row)))
                f.write("\n")
        files[table] = path
    return files


def load(db: Database, gen: datagen.Generator, tsv: dict[str, Path] | None) -> None:
    with db.connect() as conn:
        if db.dialect == "postgresql":
            assert tsv is not None
            with conn.cursor() as cur:
                for table in datagen.TABLE_ORDER:
                    cols = ", ".join(datagen.COLUMNS[table])
                    with open(tsv[table], encoding="utf-8") as f:
                        cur.copy_expert(f"COPY {table} ({cols}) FROM STDIN", f, size=1 << 20)
            conn.commit()
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("VACUUM ANALYZE")
        elif db.dialect == "mysql":
            assert tsv is not None
            with conn.cursor() as cur:
                cur.execute("SET SESSION foreign_key_checks = 0")
                cur.execute("SET SESSION unique_checks = 0")
                for table in datagen.TABLE_ORDER:
                    cols = ", ".join(f"`{c}`" for c in datagen.COLUMNS[table])
                    cur.execute(
                        f"LOAD DATA LOCAL INFILE %s INTO TABLE {table} CHARACTER SET utf8mb4 "
                        "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
                        f"LINES TERMINATED BY '\\n' ({cols})", (str(tsv[table]),))
                    conn.commit()
                cur.execute("SET SESSION foreign_key_checks = 1")
                for table in datagen.TABLE_ORDER:
                    cur.execute(f"ANALYZE TABLE {table}")
                    cur.fetchall()
        else:
            conn.execute("PRAGMA journal_mode = DELETE")
            conn.execute("PRAGMA synchronous = OFF")
            for table in datagen.TABLE_ORDER:
                names = datagen.COLUMNS[table]
                quoted = ", ".join(f'"{c}"' for c in names)
                marks = ", ".join("?" * len(names))
                conn.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})",
                                 gen.rows(table))
            conn.commit()


# -- row check ---------------------------------------------------------------------------


def _stream(db: Database, table: str, cols: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    with db.connect() as conn:
        if db.dialect == "postgresql":
            sql = f"SELECT {', '.join(cols)} FROM {table} ORDER BY id COLLATE \"C\""
            with conn.cursor(name=f"cmp_{table}") as cur:
                cur.itersize = 20000
                cur.execute(sql)
                yield from cur
        elif db.dialect == "mysql":
            import pymysql.cursors

            quoted = ", ".join(f"`{c}`" for c in cols)
            with conn.cursor(pymysql.cursors.SSCursor) as cur:
                cur.execute(f"SELECT {quoted} FROM {table} ORDER BY BINARY id")
                yield from cur
        else:
            quoted = ", ".join(f'"{c}"' for c in cols)
            yield from conn.execute(f"SELECT {quoted} FROM {table} ORDER BY id")


def compare_rows(a: Database, b: Database) -> str:
    """Constant-memory, row-by-row comparison of CHECK_COLUMNS; 'identical' or the first diffs."""
    problems: list[str] = []
    for table, cols in CHECK_COLUMNS.items():
        count = 0
        diffs = 0
        sentinel = object()
        ita, itb = _stream(a, table, cols), _stream(b, table, cols)
        while True:
            ra = next(ita, sentinel)
            rb = next(itb, sentinel)
            if ra is sentinel and rb is sentinel:
                break
            count += 1
            if ra is sentinel or rb is sentinel or tuple(ra) != tuple(rb):  # type: ignore[arg-type]
                diffs += 1
                if diffs <= 2:
                    problems.append(f"{table}: ours {ra!r} vs upstream {rb!r}"
                                    if ra is not sentinel and rb is not sentinel else
                                    f"{table}: row counts differ")
                if ra is sentinel or rb is sentinel:
                    break
        for it in (ita, itb):
            it.close()  # type: ignore[attr-defined]
        if diffs:
            problems.append(f"{table}: {diffs} of {count} rows differ")
    return "identical" if not problems else "DIFFERENT: " + "; ".join(problems)


# -- the benchmark ------------------------------------------------------------------------


@dataclass
class Row:
    dialect: str
    scenario: str
    tool: str
    wall: float | None = None
    rss: float | None = None
    ratio: str = ""
    rows: str = ""
    note: str = ""
    breakdown: str = ""
    #: ours: the plan's estimate_seconds, taken just before the run
    predicted: float | None = None
    #: ours: the floor of the scenario on the same data, and its parts
    floor: float | None = None
    floor_parts: str = ""
    n: int = 0
    start: str = ""
    #: ours: each pending revision's estimate, and its measured seconds (as logged)
    predicted_steps: dict[str, float] = field(default_factory=dict)
    measured_steps: dict[str, float] = field(default_factory=dict)

    @property
    def error(self) -> float | None:
        if self.predicted is None or not self.wall:
            return None
        return (self.predicted - self.wall) / self.wall


_TOOK = re.compile(r"^\s*(\S+) took ([0-9.]+) s\s*$")


def measured_revisions(run: Run) -> dict[str, float]:
    """Ours logs 'NNN took X s' for every revision that took 0.1 s or more."""
    times: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in run.log_path.read_text(errors="replace").splitlines():
            m = _TOOK.match(line.split("] ")[-1] if "] " in line else line)
            if m:
                times[m.group(1)] = float(m.group(2))
    return times


def revision_times(run: Run) -> str:
    """The revisions of 1 s or more, and everything else."""
    times = measured_revisions(run)
    parts = [f"{rev} {seconds:.1f} s" for rev, seconds in times.items() if seconds >= 1.0]
    big = sum(seconds for seconds in times.values() if seconds >= 1.0)
    parts.append(f"everything else {max(run.wall - big, 0.0):.1f} s")
    return ", ".join(parts)


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    ours: Tool | None
    upstream: Tool | None
    rows: list[Row] = field(default_factory=list)
    seq: int = 0
    upstream_rate: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    floors: dict[tuple[str, str, int], tuple[float, str]] = field(default_factory=dict)
    bases: dict[tuple[str, int], Database] = field(default_factory=dict)

    def checkpoint(self) -> None:
        """Write the rows so far to ``--out``, so an interrupted run still leaves a table."""
        if self.args.out:
            self.args.out.write_text(render(self.rows, ["(partial: the run is not finished)"]))
        if self.args.json:
            self.args.json.write_text(json.dumps(rows_json(self.rows), indent=1))

    def logfile(self, what: str) -> Path:
        self.seq += 1
        return self.workdir / f"{self.seq:03d}-{what}.log"

    def run_tool(self, tool: Tool, db: Database, *args: str,
                 timeout: float | None = None) -> Run:
        run = run_measured(tool.argv(db.conf, *args),
                           self.logfile(f"{tool.name}-{db.name}-{'-'.join(args)}"), timeout)
        if run.rc != 0:
            tail = run.log_path.read_text(errors="replace").strip().splitlines()[-5:]
            log(f"  {tool.name} {' '.join(args)} on {db.name} FAILED rc={run.rc}: "
                + " | ".join(tail))
        return run

    # schema at 019 -------------------------------------------------------------------

    def schema_tool(self, dialect: str) -> Tool:
        choice = self.args.schema_tool
        if dialect == "sqlite" or (choice == "ours") or self.upstream is None:
            assert self.ours is not None, "need our tool to build the 019 schema"
            return self.ours
        return self.upstream

    def make_019(self, db: Database) -> None:
        db.create()
        tool = self.schema_tool(db.dialect)
        run = self.run_tool(tool, db, "upgrade", "019")
        if run.rc != 0:
            raise RuntimeError(f"cannot build the 019 schema with {tool.name}: {run.log_path}")

    # scenarios -----------------------------------------------------------------------

    def predict(self, db: Database) -> tuple[float | None, dict[str, float]]:
        """Ours: the plan's estimate_seconds for ``upgrade head`` on ``db``, and each step's."""
        assert self.ours is not None
        argv = self.ours.argv(db.conf, "upgrade", "head", "--plan", "--format", "json")
        out = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        try:
            plan = json.loads(out.stdout)
        except ValueError:
            log(f"  no estimate: {out.stderr.strip()[-300:]}")
            return None, {}
        value = plan.get("estimate_seconds")
        steps = {str(step["revision"]): float(step["estimate_seconds"])
                 for step in plan.get("pending", []) if step.get("estimate_seconds") is not None}
        return (float(value) if value is not None else None), steps

    def measure_floor(self, db: Database, start: str) -> tuple[float, str]:
        items = floor.floor_items(db.dialect, start)
        log(f"{db.dialect}: floor of {start}->head on {db.name}: "
            + ", ".join(i.describe() for i in items))

        def connect() -> Any:
            if db.dialect == "postgresql":
                return pg_connect(db.name)
            if db.dialect == "mysql":
                return my_connect(db.name, autocommit=True)
            assert db.path is not None
            return sqlite3.connect(db.path)

        total, parts = floor.time_floor(db.dialect, connect, items, log)
        return total, ", ".join(parts)

    def to_start(self, db: Database, start: str) -> None:
        """Bring a database with data at 019 to ``start`` with ours (not timed)."""
        if start == "019":
            return
        assert self.ours is not None
        run = self.run_tool(self.ours, db, "upgrade", start)
        if run.rc != 0:
            raise RuntimeError(f"cannot bring {db.name} to {start}: {run.log_path}")

    def data_upgrade(self, dialect: str, n: int, tsv: dict[str, Path],
                     gen: datagen.Generator, refs: dict[int, Database],
                     start: str = "019") -> None:
        short = {"postgresql": "pg", "mysql": "my", "sqlite": "sq"}[dialect]
        short += "" if start == "019" else start
        tools = [t for t in (self.ours, self.upstream) if t is not None]
        if dialect == "sqlite":
            tools = [t for t in tools if t.name == "ours"]
        skip_note = ""
        wanted = self.args.upstream_scenarios
        if self.upstream is not None and dialect != "sqlite" and wanted and start not in wanted:
            tools = [t for t in tools if t.name != "upstream"]
            skip_note = "not run in this run (--upstream-scenarios)"
        if (self.upstream is not None and dialect != "sqlite"
                and (dialect, start) in self.upstream_rate):
            n0, t0 = self.upstream_rate[(dialect, start)]
            projected = t0 * n / n0
            if projected > self.args.upstream_budget:
                tools = [t for t in tools if t.name != "upstream"]
                skip_note = (f"skipped: > {self.args.upstream_budget / 60:.0f} min projected "
                             f"({projected / 60:.0f} min from {t0:.0f} s at N={n0:,})")
        dbs: dict[str, Database] = {}
        t_gen = time.perf_counter()
        if dialect == "mysql":
            timing_pool = None
            if self.args.mariadb_load_pool:
                # loading the copies (and bringing them to the start) is not timed: a larger
                # pool for it, the timing size again before anything is timed
                timing_pool = set_buffer_pool(self.args.mariadb_load_pool << 20)
            try:
                for tool in tools:
                    db = Database(dialect, f"{PREFIX}{short}_{n}_{tool.name}", self.workdir)
                    self.make_019(db)
                    load(db, gen, tsv)
                    self.to_start(db, start)
                    dbs[tool.name] = db
            finally:
                if timing_pool is not None:
                    set_buffer_pool(timing_pool)
        else:
            # one loaded database at 019 per dialect and N, cloned for every scenario
            base = self.bases.get((dialect, n))
            if base is None:
                base = Database(dialect, f"{PREFIX}{short[:2]}_{n}_base", self.workdir)
                self.make_019(base)
                load(base, gen, tsv)
                self.bases[(dialect, n)] = base
            src = base.clone(f"{PREFIX}{short}_{n}_src")
            self.to_start(src, start)
            if self.ours is not None and not self.args.skip_floor:
                copy = src.clone(f"{PREFIX}{short}_{n}_floor")
                self.floors[(dialect, start, n)] = self.measure_floor(copy, start)
                copy.drop()
            for tool in tools:
                dbs[tool.name] = src.clone(f"{PREFIX}{short}_{n}_{tool.name}")
            src.drop()
        size = next(iter(dbs.values())).size_mb() if dbs else 0.0
        log(f"{dialect} N={n:,}: data at 019 ready in {time.perf_counter() - t_gen:.0f} s "
            f"({size:,.0f} MB per copy)")
        results: dict[str, Run] = {}
        predicted = None
        predicted_steps: dict[str, float] = {}
        if "ours" in dbs:
            if dialect == "mysql" and not self.args.skip_floor:
                # InnoDB copies are loaded, not cloned: the floor runs on ours' copy
                # first (its index builds are undone; the drift check stands guard)
                self.floors[(dialect, start, n)] = self.measure_floor(dbs["ours"], start)
            predicted, predicted_steps = self.predict(dbs["ours"])
            log(f"{dialect} N={n:,}: ours predicts {predicted} s")
        for tool in tools:
            quiet = settle(dialect)
            log(f"{dialect} N={n:,}: {tool.name} upgrade head ... (disk settled in {quiet:.1f} s)")
            run = self.run_tool(tool, dbs[tool.name], "upgrade", "head",
                                timeout=self.args.timeout)
            results[tool.name] = run
            log(f"  {tool.name}: {run.wall:.1f} s, {run.rss:.0f} MB, rc={run.rc}")
            if tool.name == "upstream" and run.rc == 0:
                self.upstream_rate[(dialect, start)] = (n, run.wall)
        check = ""
        if "ours" in results and "upstream" in results:
            if results["ours"].rc == 0 and results["upstream"].rc == 0:
                log(f"{dialect} N={n:,}: comparing rows ...")
                check = compare_rows(dbs["ours"], dbs["upstream"])
            else:
                check = "n/a (a tool failed)"
        elif ("ours" in results and dialect == "sqlite" and n in refs and start == "019"
              and results["ours"].rc == 0):
            ref = refs[n]
            log(f"sqlite N={n:,}: comparing rows with {ref.name} ...")
            check = compare_rows(dbs["ours"], ref) + f" (vs {ref.dialect} {ref.name[-8:]})"
        scenario = f"{start}→head, N={n:,}"
        ratio = ""
        if "ours" in results and "upstream" in results:
            o, u = results["ours"], results["upstream"]
            if o.rc == 0 and u.rc == 0:
                ratio = f"{u.wall / o.wall:.1f}x time, {u.rss / o.rss:.1f}x RSS"
        floor_total, floor_parts = self.floors.get((dialect, start, n), (None, ""))
        for name, run in results.items():
            ours = name == "ours"
            self.rows.append(Row(dialect, scenario, name, run.wall, run.rss,
                                 ratio if ours else "",
                                 check if ours or not check else "",
                                 "" if run.rc == 0 else f"FAILED rc={run.rc}",
                                 revision_times(run) if ours else "",
                                 predicted if ours else None,
                                 floor_total if ours else None,
                                 floor_parts if ours else "", n, start,
                                 predicted_steps if ours else {},
                                 measured_revisions(run) if ours else {}))
        if skip_note:
            self.rows.append(Row(dialect, scenario, "upstream", note=skip_note, n=n,
                                 start=start))
        # keep one result at head as the reference for the SQLite row check
        keep = None
        if dialect != "sqlite" and n not in refs and start == "019":
            for name in ("upstream", "ours"):
                if name in results and results[name].rc == 0:
                    keep = dbs[name]
                    refs[n] = keep
                    break
        for db in dbs.values():
            if db is not keep:
                db.drop()

    def empty_and_current(self, dialect: str) -> None:
        short = {"postgresql": "pg", "mysql": "my", "sqlite": "sq"}[dialect]
        tools = [t for t in (self.ours, self.upstream) if t is not None]
        if dialect == "sqlite":
            tools = [t for t in tools if t.name == "ours"]
        med: dict[str, dict[str, Run]] = {"empty": {}, "current": {}}
        for tool in tools:
            db = Database(dialect, f"{PREFIX}{short}_empty_{tool.name}", self.workdir)
            runs: list[Run] = []
            for _ in range(self.args.repeat):
                db.create()
                runs.append(self.run_tool(tool, db, "upgrade", "head"))
            med["empty"][tool.name] = _median(runs)
            runs = [self.run_tool(tool, db, "current") for _ in range(self.args.repeat + 2)]
            med["current"][tool.name] = _median(runs)
            db.drop()
            log(f"{dialect}: {tool.name} empty upgrade {med['empty'][tool.name].wall:.2f} s, "
                f"current {med['current'][tool.name].wall:.2f} s")
        for what, label in (("empty", "upgrade head, empty database"),
                            ("current", "current (at head)")):
            results = med[what]
            ratio = ""
            if "ours" in results and "upstream" in results:
                o, u = results["ours"], results["upstream"]
                if o.rc == 0 and u.rc == 0:
                    ratio = f"{u.wall / o.wall:.1f}x time, {u.rss / o.rss:.1f}x RSS"
            for name, run in results.items():
                self.rows.append(Row(dialect, label, name, run.wall, run.rss,
                                     ratio if name == "ours" else "", "",
                                     "" if run.rc == 0 else f"FAILED rc={run.rc}"))
        if dialect == "sqlite" and self.upstream is not None:
            self.rows.append(Row(dialect, "all", "upstream",
                                 note="not run: upstream's chain fails on SQLite at 002"))


def _median(runs: list[Run]) -> Run:
    ok = [r for r in runs if r.rc == 0] or runs
    wall = statistics.median(r.wall for r in ok)
    return Run(wall, max(r.rss for r in ok), ok[0].rc, ok[0].log_path)


# -- report ------------------------------------------------------------------------------


def _first_line(path: Path, key: str) -> str:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip() if ":" in line else line
    return "?"


def _versions(python: Path, packages: Sequence[str]) -> str:
    code = ("import importlib.metadata as m, sys\n"
            f"for p in {list(packages)!r}:\n"
            "    try: print(p, m.version(p))\n"
            "    except Exception: print(p, '-')\n")
    try:
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                             timeout=60).stdout
    except OSError:
        return "?"
    return ", ".join(out.splitlines())


def machine_description(dialects: Sequence[str], upstream_venv: Path | None) -> list[str]:
    mem_kb = _first_line(Path("/proc/meminfo"), "MemTotal").split()[0]
    os_name = "?"
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    lines = [
        f"- CPU: {_first_line(Path('/proc/cpuinfo'), 'model name')}, {os.cpu_count()} cores; "
        f"RAM {int(mem_kb) / 2**20:.1f} GiB; {os_name}, kernel {platform.release()}",
        f"- Python {platform.python_version()}; ours: "
        + _versions(OURS_PYTHON, ("mistral-db-manage", "SQLAlchemy", "alembic",
                                  "psycopg2-binary", "PyMySQL")),
    ]
    if upstream_venv is not None:
        lines.append("- upstream: " + _versions(
            upstream_venv / "bin" / "python",
            ("mistral", "SQLAlchemy", "alembic", "oslo.db", "psycopg2-binary", "PyMySQL")))
    if "postgresql" in dialects:
        with contextlib.suppress(Exception):
            conn = pg_connect()
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                ver = cur.fetchone()[0]
                cur.execute("SHOW shared_buffers")
                sb = cur.fetchone()[0]
                cur.execute("SHOW synchronous_commit")
                sc = cur.fetchone()[0]
            conn.close()
            lines.append(f"- PostgreSQL {ver} (shared_buffers {sb}, synchronous_commit {sc})")
    if "mysql" in dialects:
        with contextlib.suppress(Exception):
            conn = my_connect()
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION(), @@innodb_buffer_pool_size, "
                            "@@innodb_flush_log_at_trx_commit")
                ver, bp, fl = cur.fetchone()
            conn.close()
            lines.append(f"- MariaDB {ver} (innodb_buffer_pool_size {int(bp) >> 20} MB, "
                         f"innodb_flush_log_at_trx_commit {fl})")
    if "sqlite" in dialects:
        lines.append(f"- SQLite {sqlite3.sqlite_version} (file on local disk)")
    return lines


def set_buffer_pool(size: int) -> int:
    """Resize MariaDB's buffer pool (online) and wait for it; returns the old size."""
    conn = my_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@innodb_buffer_pool_size")
            old = int(cur.fetchone()[0])
            cur.execute("SET GLOBAL innodb_buffer_pool_size = %s", (size,))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                time.sleep(1)
                cur.execute("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status'")
                row = cur.fetchone()
                status = str(row[1]) if row else ""
                if not status or "ompleted" in status:
                    break
            cur.execute("SELECT @@innodb_buffer_pool_size")
            log(f"MariaDB innodb_buffer_pool_size {old >> 20} MB -> "
                f"{int(cur.fetchone()[0]) >> 20} MB")
    finally:
        conn.close()
    return old


def settle(dialect: str) -> float:
    """Let the disk go quiet before a timed run; returns the seconds it took.

    Cloning and loading leave gigabytes of dirty pages (the OS's, PostgreSQL's,
    InnoDB's) that the kernel and the servers write out in the background: a run
    started right away shares the disk with that flushing, and whichever tool runs
    first pays for it.  Before each timed upgrade, both tools alike: PostgreSQL
    CHECKPOINT, InnoDB's dirty pages flushed (its flush target set to 0 until the
    count is near 0, at most 120 s, then restored), and the OS's sync()."""
    start = time.perf_counter()
    if dialect == "postgresql":
        conn = pg_connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CHECKPOINT")
        conn.close()
    elif dialect == "mysql":
        conn = my_connect(autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@innodb_max_dirty_pages_pct, "
                            "@@innodb_max_dirty_pages_pct_lwm")
                pct, lwm = cur.fetchone()
                cur.execute("SET GLOBAL innodb_max_dirty_pages_pct_lwm = 0")
                cur.execute("SET GLOBAL innodb_max_dirty_pages_pct = 0")
                try:
                    deadline = time.monotonic() + 120
                    while time.monotonic() < deadline:
                        cur.execute("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")
                        row = cur.fetchone()
                        if row is None or int(row[1]) <= 16:
                            break
                        time.sleep(0.25)
                finally:
                    cur.execute("SET GLOBAL innodb_max_dirty_pages_pct = %s", (pct,))
                    cur.execute("SET GLOBAL innodb_max_dirty_pages_pct_lwm = %s", (lwm,))
        finally:
            conn.close()
    os.sync()
    return time.perf_counter() - start


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "—" if value is None else format(value, fmt)


def render(rows: list[Row], header: list[str]) -> str:
    out = ["# mistral-db-manage vs upstream Mistral 23.0.0", "", *header, "",
           "| dialect | scenario | tool | wall s | predicted s (error) | floor s | ours / floor "
           "| peak RSS MB | ratio (upstream/ours) | rows identical |",
           "|---|---|---|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        tool = r.tool + (f" ({r.note})" if r.note else "")
        predicted = ""
        if r.predicted is not None:
            error = r.error
            predicted = f"{r.predicted:.2f}" + (f" ({error:+.0%})" if error is not None else "")
        floor_ratio = (f"{r.wall / r.floor:.2f}x" if r.floor and r.wall else "")
        out.append(f"| {r.dialect} | {r.scenario} | {tool} | {_num(r.wall)} | {predicted} "
                   f"| {_num(r.floor) if r.floor is not None else ''} | {floor_ratio} "
                   f"| {_num(r.rss, '.0f')} | {r.ratio} | {r.rows} |")
    times = [f"- {r.dialect}, {r.scenario}: {r.breakdown}" for r in rows if r.breakdown]
    if times:
        out += ["", "Where ours spends its time (revisions of 1 s or more, as logged by ours; "
                "the rest is start-up, the other revisions and commits):", "", *times]
    floors = [f"- {r.dialect}, {r.scenario}: {r.floor_parts}" for r in rows if r.floor_parts]
    if floors:
        out += ["", "The floors (each pass and index build the pending revisions cannot avoid, "
                "timed alone on a copy of the same data):", "", *floors]
    return "\n".join(out)


def rows_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [{"dialect": r.dialect, "start": r.start, "n": r.n, "tool": r.tool,
             "wall": r.wall, "predicted": r.predicted, "floor": r.floor, "rss": r.rss,
             "rows": r.rows, "note": r.note, "predicted_steps": r.predicted_steps,
             "measured_steps": r.measured_steps} for r in rows if r.n]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--sizes", default="20000,200000,1000000",
                   help="comma-separated scales N (task executions)")
    p.add_argument("--dialects", default="postgresql,mysql,sqlite")
    p.add_argument("--quick", action="store_true", help=f"N={QUICK_N} only: a smoke run")
    p.add_argument("--skip-upstream", action="store_true")
    p.add_argument("--skip-ours", action="store_true")
    p.add_argument("--skip-empty", action="store_true",
                   help="do not time upgrade on an empty database and current")
    p.add_argument("--skip-data", action="store_true", help="only the empty/current timings")
    p.add_argument("--upstream-venv", type=Path, default=DEFAULT_UPSTREAM_VENV)
    p.add_argument("--schema-tool", choices=("upstream", "ours"), default="upstream",
                   help="which tool builds the 019 schema on PostgreSQL/MariaDB "
                        "(SQLite: always ours)")
    p.add_argument("--upstream-budget", type=float, default=900.0, metavar="SECONDS",
                   help="skip upstream at a size whose projected time (linear from the "
                        "previous size) exceeds this (default 900)")
    p.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS",
                   help="kill an upgrade that runs longer than this")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs for the empty upgrade (current: +2); the median is shown")
    p.add_argument("--scenarios", default="019,040,043",
                   help="comma-separated start revisions of the data scenarios (each -> head)")
    p.add_argument("--upstream-scenarios", type=lambda v: [x for x in v.split(",") if x],
                   default=None, help="run upstream only for these start revisions")
    p.add_argument("--skip-floor", action="store_true",
                   help="do not measure the floor of each scenario")
    p.add_argument("--mariadb-load-pool", type=int, metavar="MB",
                   help="MariaDB: a buffer pool of MB while the copies are loaded (not timed); "
                        "the timing size is set again before any timed run")
    p.add_argument("--chart", type=Path, help="also draw the results as an SVG chart here")
    p.add_argument("--json", type=Path, help="also write the data rows as JSON here")
    p.add_argument("--seed", type=int, default=20240519)
    p.add_argument("--workdir", type=Path, default=None,
                   help="where TSV files, SQLite files and logs go (default: a temp dir)")
    p.add_argument("--keep-workdir", action="store_true")
    p.add_argument("--out", type=Path, help="also write the Markdown report here")
    p.add_argument("--mariadb-buffer-pool", type=int, metavar="MB",
                   help="run with MariaDB's innodb_buffer_pool_size set to MB (a global, "
                        "dynamic setting; restored afterwards); both tools run under it")
    args = p.parse_args(argv)

    sizes = [QUICK_N] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    dialects = [d.strip() for d in args.dialects.split(",") if d.strip()]
    for d in dialects:
        if d not in ("postgresql", "mysql", "sqlite"):
            p.error(f"unknown dialect {d}")
    ours = None if args.skip_ours else Tool("ours", [str(OURS_PYTHON), "-m", "mistral_db_manage"])
    upstream = None
    if not args.skip_upstream:
        upstream = Tool("upstream", [str(ensure_upstream(args.upstream_venv))])
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mdm_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"workdir {workdir}")
    bench = Bench(args, workdir, ours, upstream)
    servers = any(d != "sqlite" for d in dialects)
    if servers:  # a SQLite-only run leaves the servers alone
        drop_leftovers()
    restore_pool = None
    if args.mariadb_buffer_pool and "mysql" in dialects:
        restore_pool = set_buffer_pool(args.mariadb_buffer_pool << 20)
    header = machine_description(dialects, args.upstream_venv if upstream else None)
    refs: dict[int, Database] = {}
    # the SQLite row check compares with a server result, so servers go first
    order = sorted(dialects, key=lambda d: d == "sqlite")
    try:
        if not args.skip_data:
            for n in sizes:
                gen = datagen.Generator(n, args.seed)
                tsv: dict[str, Path] = {}
                if any(d != "sqlite" for d in dialects):
                    t0 = time.perf_counter()
                    tsv_dir = workdir / f"tsv-{n}"
                    tsv_dir.mkdir(exist_ok=True)
                    done = tsv_dir / ".complete"  # a kept workdir's files serve again
                    if done.exists():
                        tsv = {t: tsv_dir / f"{t}.tsv" for t in datagen.TABLE_ORDER}
                    else:
                        tsv = write_tsv(gen, tsv_dir)
                        done.touch()
                    log(f"N={n:,}: generated {sum(f.stat().st_size for f in tsv.values()) >> 20}"
                        f" MB of TSV in {time.perf_counter() - t0:.0f} s")
                for dialect in order:
                    for start in [x.strip() for x in args.scenarios.split(",") if x.strip()]:
                        if dialect == "sqlite" and start != "019":
                            continue  # upstream cannot run on SQLite: nothing to compare
                        bench.data_upgrade(dialect, n, tsv, gen, refs, start)
                        bench.checkpoint()
                for ref in [*refs.values(), *bench.bases.values()]:
                    ref.drop()
                refs.clear()
                bench.bases.clear()
                if tsv:
                    shutil.rmtree(workdir / f"tsv-{n}", ignore_errors=True)
        if not args.skip_empty:
            for dialect in order:
                bench.empty_and_current(dialect)
                bench.checkpoint()
    finally:
        for ref in refs.values():
            with contextlib.suppress(Exception):
                ref.drop()
        if servers:
            drop_leftovers()
        if restore_pool is not None:
            set_buffer_pool(restore_pool)
    report = render(bench.rows, header)
    report += ("\n\nwall s = `upgrade`/`current` subprocess wall time, database server work "
               "included; peak RSS = ru_maxrss of that process (the client; the server's "
               "memory is not counted).  Empty upgrade and current: median of "
               f"{args.repeat} and {args.repeat + 2} runs, RSS the maximum.  Ours on SQLite "
               "includes its default pre-upgrade backup copy of the file.  Before every timed "
               "upgrade (both tools) the disk is settled: PostgreSQL CHECKPOINT, InnoDB's dirty "
               "pages flushed, the OS's sync(); the run does not share the disk with the "
               "flushing of the copies made before it.\n")
    print(report)
    if args.out:
        args.out.write_text(report)
    if args.json:
        args.json.write_text(json.dumps(rows_json(bench.rows), indent=1))
    if args.chart:
        args.chart.write_text(chart.svg(rows_json(bench.rows)))
    if not args.keep_workdir and args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        log(f"logs kept in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
