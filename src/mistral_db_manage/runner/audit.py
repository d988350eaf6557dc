"""The audit trail: one row per run that changes the database.

``mistral_db_manage_runs`` records who (user, host), when, what (command,
from and to revision), how long and the outcome of every ``upgrade``,
``stamp`` and ``populate``.  The row is written when the run starts
(outcome ``running``) and completed when it ends, each in a short
transaction of its own, so a crashed run stays visible as ``running``.
A run that died (killed, its machine or database node lost) leaves its row
``running``; the next run that takes the migration lock marks it
``interrupted`` (:func:`close_interrupted`), with when it was last heard of
and where it left the database.  ``history --applied`` shows the table.  It
is this tool's, not Mistral's, and schema comparisons leave it out.
"""

from __future__ import annotations

import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import Column, DateTime, Float, MetaData, String, Table, Text, inspect, select
from sqlalchemy.engine import Connection

from .galera import cluster_wide_ddl
from .identity import os_user

RUNS_TABLE_NAME = "mistral_db_manage_runs"


@cache
def runs_table() -> Table:
    """The table's definition."""
    return Table(
        RUNS_TABLE_NAME,
        MetaData(),
        Column("id", String(36), primary_key=True),
        Column("started_at", DateTime, nullable=False),
        Column("finished_at", DateTime),
        Column("user_name", String(255), nullable=False),
        Column("host", String(255), nullable=False),
        Column("command", String(255), nullable=False),
        Column("from_revision", String(32)),
        Column("to_revision", String(32)),
        Column("outcome", String(20), nullable=False),
        Column("seconds", Float),
        Column("detail", Text),
    )


@dataclass(frozen=True)
class RunRecord:
    id: str
    started_at: datetime
    finished_at: datetime | None
    user_name: str
    host: str
    command: str
    from_revision: str | None
    to_revision: str | None
    outcome: str
    seconds: float | None
    detail: str | None


def now() -> datetime:
    """The time recorded in the table: UTC, naive, whole seconds."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def new_run_id() -> str:
    """Time-ordered, so ordering by id is ordering by start, even within a second."""
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"


def user_name() -> str:
    """The operating-system user (from the uid, not from the environment)."""
    return os_user()[:255]


def host_name() -> str:
    return socket.gethostname()[:255]


class AuditRun:
    """Context for one audited run: ``start`` then ``finish``."""

    def __init__(self, connection: Connection, command: str, run_id: str | None = None) -> None:
        self.connection = connection
        self.command = command
        #: the id the row will have (the migration lock's token, when given)
        self.planned_id = run_id
        self.run_id: str | None = None
        self._began = time.perf_counter()

    def start(self, from_revision: str | None, to_revision: str | None) -> None:
        connection = self.connection
        table = runs_table()
        if not inspect(connection).has_table(RUNS_TABLE_NAME):
            connection.rollback()
            with cluster_wide_ddl(connection):
                table.create(connection, checkfirst=True)
        self.run_id = self.planned_id or new_run_id()
        connection.execute(
            table.insert().values(
                id=self.run_id, started_at=now(), user_name=user_name(), host=host_name(),
                command=self.command[:255], from_revision=from_revision,
                to_revision=to_revision, outcome="running",
            )
        )
        connection.commit()

    def finish(self, outcome: str, *, to_revision: str | None = None,
               detail: str | None = None) -> None:
        if self.run_id is None:
            return
        connection = self.connection
        if connection.in_transaction():
            connection.rollback()
        values: dict[str, object] = {
            "finished_at": now(),
            "outcome": outcome,
            "seconds": round(time.perf_counter() - self._began, 3),
            "detail": detail,
        }
        if to_revision is not None:
            values["to_revision"] = to_revision
        table = runs_table()
        connection.execute(table.update().where(table.c.id == self.run_id).values(**values))
        connection.commit()


def has_running(connection: Connection) -> bool:
    """Whether some row still says ``running``."""
    if not inspect(connection).has_table(RUNS_TABLE_NAME):
        connection.rollback()
        return False
    table = runs_table()
    found = connection.execute(
        select(table.c.id).where(table.c.outcome == "running").limit(1)).first()
    connection.rollback()
    return found is not None


def close_interrupted(
    connection: Connection, where: str, *, last_seen: dict[str, datetime]
) -> list[RunRecord]:
    """Mark every ``running`` row ``interrupted`` (the caller holds the migration lock,
    so none of them is alive): finished when last heard of (``last_seen`` by run id;
    else now), with ``where`` as the detail.  Returns the rows as they were."""
    table = runs_table()
    rows = [RunRecord(**row._mapping) for row in connection.execute(
        select(table).where(table.c.outcome == "running").order_by(table.c.id))]
    for record in rows:
        finished = last_seen.get(record.id) or now()
        seconds = max((finished - record.started_at).total_seconds(), 0.0)
        connection.execute(
            table.update().where(table.c.id == record.id, table.c.outcome == "running")
            .values(outcome="interrupted", finished_at=finished, seconds=seconds,
                    detail=f"interrupted: {where}"[:2000])
        )
    connection.commit()
    return rows


def read_runs(connection: Connection, limit: int | None = None) -> list[RunRecord]:
    if not inspect(connection).has_table(RUNS_TABLE_NAME):
        return []
    table = runs_table()
    query = select(table).order_by(table.c.id.desc())
    if limit:
        query = query.limit(limit)
    return [RunRecord(**row._mapping) for row in connection.execute(query)]
