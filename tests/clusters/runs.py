"""Helpers of the cluster tests: runs of the tool in parallel, seeded data, end states.

* :func:`run_all` -- several runs of the console script (:class:`helpers.Run`) to their end;
* :func:`galera_state` -- what one Galera node holds for a database (version rows, schema dump,
  journal, lock rows, rows), read after the node has applied all the cluster committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dbs import ServerConfig, dump_mysql
from galera import GaleraCluster
from helpers import Run
from seeds import mistral_rows


def write_conf(directory: Path, url: str, name: str) -> Path:
    path = directory / name
    path.write_text(f"[database]\nconnection = {url}\n", encoding="utf-8")
    return path


def run_all(runs: list[Run]) -> list[Run]:
    return [run.finish() for run in runs]


def changed_the_database(run: Run) -> bool:
    return run.stdout.startswith("Upgraded from")


# ---------------------------------------------------------------------------- node state


@dataclass(frozen=True)
class NodeState:
    versions: list[str]
    dump: str
    journal: int
    locks: int
    rows: dict[str, list[str]]


def galera_state(cluster: GaleraCluster, index: int, database: str) -> NodeState:
    """Node ``index``'s view of ``database`` once it has applied what the cluster committed."""
    node = cluster.node(index)
    node.query("SET SESSION wsrep_sync_wait = 15; SELECT 1")  # later sessions see as much

    def count(table: str) -> int:
        rows = node.query(f"SELECT COUNT(*) FROM information_schema.tables WHERE "
                          f"table_schema = '{database}' AND table_name = '{table}'")
        if rows[0][0] == "0":
            return 0
        return int(node.query(f"SELECT COUNT(*) FROM `{database}`.`{table}`")[0][0])

    versions = [
        row[0] for row in node.query(f"SELECT version_num FROM `{database}`.alembic_version")
    ] if count("alembic_version") else []
    server = ServerConfig("mysql", "127.0.0.1", node.ports.sql, "root")
    return NodeState(
        versions=versions,
        dump=dump_mysql(database, server),
        journal=count("mistral_db_manage_journal"),
        locks=count("mistral_db_manage_lock"),
        rows=mistral_rows(node.url(database)),
    )
