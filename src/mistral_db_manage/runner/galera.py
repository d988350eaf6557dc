"""MariaDB Galera: what every session of this tool does on a cluster node.

A Galera node applies the writes of the other nodes asynchronously: a plain
read right after another node committed may still see the older rows or the
older schema.  Every connection this tool opens to a MySQL-family server
therefore asks whether the server is a Galera node (``@@global.wsrep_on``)
and, when it is, turns on causal reads (``wsrep_sync_wait``): each statement
first waits until the node has applied everything the cluster committed
before it.  The migration lock's heartbeat is the one exception
(:func:`without_causal_wait`): it must be ordered by the cluster at once, even
while a schema change stalls the node (see :mod:`.lockrow`).

Schema changes replicate only under total order isolation (TOI, the
default); with ``wsrep_OSU_method=RSU`` a DDL statement runs on one node
only while the version record replicates, and the cluster then disagrees
about the schema.  :func:`refuse_split_ddl` refuses that; this tool's own
bookkeeping tables are always created under TOI (:func:`cluster_wide_ddl`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ClusterError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: every statement (reads, SHOW, UPDATE/DELETE, INSERT/REPLACE) waits for the cluster
CAUSAL_ALL = 15
#: the key of the node's description in a connection's ``info`` dictionary
INFO_KEY = "mistral_db_manage.galera"


@dataclass(frozen=True)
class GaleraNode:
    """What this tool needs to know about the node it is connected to."""

    #: ``TOI`` (schema changes replicate) or ``RSU`` (they stay on this node)
    osu_method: str
    #: the node's name in the cluster, for messages
    name: str
    #: members of the cluster as this node sees them
    cluster_size: int


def inspect_node(dbapi_connection: Any) -> GaleraNode | None:
    """The Galera node behind a DB-API connection, or None when it is not one
    (a plain MariaDB, or a MySQL that has no such variables)."""
    cursor = dbapi_connection.cursor()
    try:
        try:
            cursor.execute(
                "SELECT @@global.wsrep_on, @@session.wsrep_OSU_method, @@global.wsrep_node_name"
            )
        except Exception:
            return None  # MySQL without Galera: unknown system variables
        row = cursor.fetchone()
        if row is None or not int(row[0] or 0):
            return None
        cursor.execute("SHOW STATUS LIKE 'wsrep_cluster_size'")
        size = cursor.fetchone()
        return GaleraNode(str(row[1]).upper(), str(row[2] or ""), int(size[1]) if size else 0)
    finally:
        cursor.close()


def make_causal(dbapi_connection: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"SET SESSION wsrep_sync_wait = {CAUSAL_ALL}")
    finally:
        cursor.close()


def prepare_session(dbapi_connection: Any) -> GaleraNode | None:
    """On a Galera node, causal reads for the session; the node's description."""
    node = inspect_node(dbapi_connection)
    if node is not None:
        make_causal(dbapi_connection)
    return node


def node_of(connection: Connection) -> GaleraNode | None:
    """The node recorded when ``connection`` was opened (None: not Galera)."""
    node = connection.info.get(INFO_KEY)
    return node if isinstance(node, GaleraNode) else None


def without_causal_wait(connection: Connection) -> None:
    """For the lock's heartbeat: statements go out at once, never waiting for the node."""
    if node_of(connection) is not None:
        connection.exec_driver_sql("SET SESSION wsrep_sync_wait = 0")


def refuse_split_ddl(node: GaleraNode | None, *, force: bool) -> None:
    """Refuse to change the schema through a node whose DDL would not replicate."""
    if node is None or node.osu_method == "TOI" or force:
        return
    raise ClusterError(
        f"Galera node {node.name or '(unnamed)'} runs schema changes with "
        f"wsrep_OSU_method={node.osu_method}: they would apply on this node only while the "
        "version record replicates, splitting the cluster; set wsrep_OSU_method=TOI "
        "(or pass --force if you will apply the same changes on every node yourself)"
    )


@contextmanager
def cluster_wide_ddl(connection: Connection) -> Iterator[None]:
    """Run the block's DDL under TOI, whatever the session's method (this tool's own
    tables must exist on every node, or replicated rows would break the others)."""
    node = node_of(connection)
    if node is None or node.osu_method == "TOI":
        yield
        return
    restore = node.osu_method if node.osu_method.isalpha() else "RSU"
    connection.exec_driver_sql("SET SESSION wsrep_OSU_method = 'TOI'")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"SET SESSION wsrep_OSU_method = '{restore}'")
