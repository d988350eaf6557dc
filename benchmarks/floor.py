"""The physical floor of an upgrade: the passes and index builds its revisions cannot avoid.

From the plan of ``start -> head`` on a dialect (the same operations the tool runs), each
revision needs

* one pass over every table it reads or rewrites (an SQL data step, a table copy, a
  foreign key check): at least the table's pages must be read once;
* every index it builds, built once.

Each item is then timed alone on a scratch copy of the same data: a bare pass
(``count(*)`` over the heap, InnoDB's clustered index, SQLite's table b-tree) and the
same ``CREATE INDEX`` (dropped afterwards).  JSON decoding, rows written, statement and
commit overhead are *not* in the floor: ours / floor says how close to the bare I/O
and sorting the whole upgrade comes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mistral_db_manage import api
from mistral_db_manage.migrations import ops
from mistral_db_manage.runner.estimate import WorkKind, operation_work
from mistral_db_manage.schema.history import state_at


@dataclass(frozen=True)
class FloorItem:
    kind: str  # "pass" or "index"
    table: str
    columns: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "pass":
            return f"pass {self.table}"
        return f"index {self.table}({', '.join(self.columns)})"


def floor_items(dialect: str, start: str) -> list[FloorItem]:
    chain = api.load_chain(None)
    state = state_at(chain, dialect, start)
    at_start = state_at(chain, dialect, start)
    items: list[FloorItem] = []
    for step in chain.between(start, chain.head):
        passes: set[str] = set()
        for operation in chain.operations(step.id):
            if not operation.applies_to(dialect):
                continue
            existing = state.tables.keys()
            for work in operation_work(operation, state):
                if work.table is None or work.table not in existing:
                    continue
                buildable = isinstance(operation, (ops.CreateIndex, ops.AddUnique)) and (
                    work.table in at_start.tables and all(
                        at_start.table(work.table).has_column(c) for c in operation.columns))
                if work.kind is WorkKind.INDEX and buildable:
                    assert isinstance(operation, (ops.CreateIndex, ops.AddUnique))
                    items.append(FloorItem("index", work.table, tuple(operation.columns)))
                elif work.kind is not WorkKind.META and work.table in at_start.tables:
                    passes.add(work.table)
            operation.apply_state(state)
        items.extend(FloorItem("pass", table) for table in sorted(passes))
    return items


def _q(dialect: str, name: str) -> str:
    return f"`{name}`" if dialect == "mysql" else f'"{name}"'


def time_floor(dialect: str, connect: Callable[[], Any], items: list[FloorItem],
               log: Callable[[str], None]) -> tuple[float, list[str]]:
    """Run every item on a scratch copy (``connect()`` opens it); total seconds and parts."""
    total = 0.0
    parts: list[str] = []
    conn = connect()
    try:
        if dialect == "postgresql":
            conn.autocommit = True
            with conn.cursor() as cur:  # a pass reads the heap, not an index-only scan
                for setting in ("enable_indexonlyscan", "enable_indexscan",
                                "enable_bitmapscan"):
                    cur.execute(f"SET {setting} = off")
        for number, item in enumerate(items):
            table = _q(dialect, item.table)
            name = f"mdm_floor_{number}"
            if item.kind == "pass":
                sql = [f"SELECT count(*) FROM {table} FORCE INDEX (PRIMARY)"
                       if dialect == "mysql" else
                       f"SELECT sum(length(id)) FROM {table} NOT INDEXED"
                       if dialect == "sqlite" else f"SELECT count(*) FROM {table}"]
                undo: list[str] = []
            else:
                cols = ", ".join(_q(dialect, c) for c in item.columns)
                sql = [f"CREATE INDEX {name} ON {table} ({cols})"]
                undo = [f"DROP INDEX {name} ON {table}" if dialect == "mysql"
                        else f"DROP INDEX {name}"]
            start = time.perf_counter()
            cur = conn.cursor()
            for statement in sql:
                cur.execute(statement)
                if item.kind == "pass":
                    cur.fetchall()
            if dialect == "sqlite":
                conn.commit()
            seconds = time.perf_counter() - start
            for statement in undo:
                try:
                    cur.execute(statement)
                except Exception:  # InnoDB dropped the foreign key's own index for ours
                    cur.execute(f"ALTER TABLE {table} RENAME INDEX {name} TO "
                                f"{_q(dialect, item.columns[0])}")
            if dialect == "sqlite":
                conn.commit()
            cur.close()
            total += seconds
            parts.append(f"{item.describe()} {seconds:.1f} s")
            log(f"  floor: {item.describe()} {seconds:.2f} s")
    finally:
        conn.close()
    return total, parts
