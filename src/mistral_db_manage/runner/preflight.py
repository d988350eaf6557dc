"""What is checked before anything changes, and the reading of the database it starts from.

Every refusal of an upgrade or a stamp lives here, each with a message that
says how to go on (Django's ``check_consistent_history`` idea):

* a recorded revision this tool does not know (the database is ahead);
* Mistral tables without a version record (adopt: name the revision whose
  schema it has, or an interrupted creation to run again);
* drift: the tables an upgrade changes differ from what the chain says;
* a stamp whose revision's schema is not the live one.

:func:`read_snapshot` reads what the plan needs (:class:`~.plan.DatabaseSnapshot`)
through the owners of the bookkeeping tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from ..errors import DriftError, UnknownDatabaseRevisionError, UnversionedDatabaseError
from ..schema.history import partial_states, replay, state_at
from ..schema.state import SchemaState
from . import journal
from .chain import Chain
from .database import Database
from .execute import TRANSACTIONAL_DDL
from .plan import DatabaseSnapshot, UpgradePlan
from .verify import compare_shapes, shapes_from_database, shapes_from_state, verify_state
from .version import read_version

#: how many differences an adopt refusal lists before "and N more"
SHOWN_DIFFERENCES = 8


def recorded_revision(connection: Connection, chain: Chain) -> str | None:
    """The recorded revision; an error when the chain does not know it."""
    revision = read_version(connection)
    connection.rollback()
    if revision is not None and revision not in chain:
        raise UnknownDatabaseRevisionError(
            f"the database is at revision {revision!r}, which this tool does not know "
            f"(its newest is {chain.head}): it was upgraded by a newer tool; use that one"
        )
    return revision


def read_snapshot(database: Database, chain: Chain) -> DatabaseSnapshot:
    """What the database is, for the plan: revision, tables, interrupted work."""
    connection = database.connection
    revision = recorded_revision(connection, chain)
    tables = database.tables()
    interrupted = False
    progress = (0, 0)
    if not TRANSACTIONAL_DDL[database.dialect]:
        if revision is None:
            interrupted = journal.recorded_progress(connection, journal.DIRECT_CREATION) != (0, 0)
        elif revision != chain.head:
            following = chain.between(revision, chain.head)[0].id
            progress = journal.recorded_progress(connection, following)
    cluster = "galera" if database.galera is not None else None
    return DatabaseSnapshot(revision, tables, interrupted, progress, cluster)


def _half_done_revision(chain: Chain, snapshot: DatabaseSnapshot) -> tuple[str, int] | None:
    """MySQL: (the revision an interrupted run left half-done, its operations done)."""
    done, started = snapshot.progress
    revision = snapshot.revision
    if not started or revision is None or revision == chain.head:
        return None
    return chain.between(revision, chain.head)[0].id, done


def half_done(chain: Chain, snapshot: DatabaseSnapshot) -> str | None:
    """MySQL: the revision an interrupted run left half-done, as a phrase; else None."""
    found = _half_done_revision(chain, snapshot)
    if found is None:
        return None
    following, done = found
    return (f"revision {following} is half-done ({done} of its operations applied by an "
            "interrupted run); `mistral-db-manage upgrade` finishes it")


def stopped_at(chain: Chain, snapshot: DatabaseSnapshot) -> str:
    """Where a run that died left the database, and what ``upgrade`` does about it."""
    if snapshot.interrupted_creation:
        return ("it stopped while creating the schema of an empty database; upgrade "
                "removes the empty tables it left and creates the schema again")
    found = _half_done_revision(chain, snapshot)
    if found is not None:
        following, done = found
        return (f"it stopped inside revision {following} with {done} of its operations "
                f"done (the database is at {snapshot.revision}); upgrade finishes that revision")
    return f"the database is at revision {snapshot.revision or 'none (empty)'}"


def refuse_unversioned(
    database: Database, chain: Chain, snapshot: DatabaseSnapshot, *, upgrading: bool = False
) -> None:
    """Never upgrade blindly a database that has Mistral tables but no version record.

    An interrupted creation is the exception when ``upgrading``: the plan then
    drops what it left and creates the schema again.
    """
    if snapshot.revision is not None or (upgrading and snapshot.interrupted_creation):
        return
    found = chain_tables(chain, database.dialect, snapshot.tables)
    if not found:
        return
    if snapshot.interrupted_creation:
        raise UnversionedDatabaseError(
            "an earlier upgrade stopped while creating the schema of an empty database "
            "(this tool's journal says so): run `mistral-db-manage upgrade` again; it "
            "removes the empty tables that run left and starts over"
        )
    comparisons = compare_with_revisions(database.connection, chain, database.dialect)
    matches = [revision for revision, differences in comparisons if not differences]
    if matches:
        hint = (
            f"its schema is exactly revision {matches[-1]}'s: run "
            f"`mistral-db-manage stamp {matches[-1]}` and then upgrade"
        )
    else:
        closest, differences = min(reversed(comparisons), key=lambda item: len(item[1]))
        shown = "; ".join(differences[:SHOWN_DIFFERENCES])
        more = len(differences) - SHOWN_DIFFERENCES
        hint = (
            f"its schema matches no revision; the closest is {closest}, which differs in "
            f"{len(differences)} way(s): {shown}{f' (and {more} more)' if more > 0 else ''}; "
            f"if that is acceptable, run `mistral-db-manage stamp {closest} --force`, then "
            "`mistral-db-manage verify` and upgrade"
        )
    listed = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
    raise UnversionedDatabaseError(
        f"the database has Mistral tables ({listed}) but no version record: it is not "
        f"empty, so nothing is created in it; {hint}"
    )


def chain_tables(chain: Chain, dialect: str, tables: frozenset[str]) -> list[str]:
    """The tables among ``tables`` that some revision of the chain has (sorted)."""
    if not tables:
        return []  # an empty database: no need to replay the chain (start-up time)
    names: set[str] = set()
    for _revision, state in replay(chain, dialect):
        names.update(state.tables)
    return sorted(tables & names)


def refuse_drift(database: Database, chain: Chain, plan: UpgradePlan,
                 snapshot: DatabaseSnapshot) -> None:
    """Refuse to touch tables that differ from what the chain says they are."""
    start = plan.current
    if start is None:
        return
    touched: set[str] = set()
    for step in plan.pending:
        for operation in step.operations:
            touched.update(operation.tables)
    live = shapes_from_database(database.connection, database.dialect)
    actual = {k: v for k, v in live.items() if k in touched}
    differences: list[str] = []
    for candidate in possible_states(chain, database.dialect, start, snapshot):
        expected = {k: v for k, v in shapes_from_state(candidate).items() if k in touched}
        differences = compare_shapes(expected, actual)
        if not differences:
            break
    database.connection.rollback()
    if differences:
        raise DriftError(
            f"the tables this upgrade changes differ from revision {start}'s schema: "
            f"{summary(differences)}; see `mistral-db-manage verify`, fix the drift, "
            "or pass --force"
        )


def possible_states(
    chain: Chain, dialect: str, start: str, snapshot: DatabaseSnapshot
) -> list[SchemaState]:
    """The schemas the live database may have at ``start``: the revision's own, or,
    on MySQL after an interrupted run, part-way into the next revision."""
    done, started = snapshot.progress
    if not started or start == chain.head:
        return [state_at(chain, dialect, start)]
    following = chain.between(start, chain.head)[0].id
    return partial_states(chain, dialect, start, following, done, started)


def refuse_mismatch(database: Database, chain: Chain, target: str | None) -> None:
    """Refuse to stamp ``target`` on a schema that is not that revision's."""
    differences = verify_state(database.connection, state_at(chain, database.dialect, target))
    database.connection.rollback()
    if differences:
        matches = matching_revisions(database.connection, chain, database.dialect)
        suggestion = f"; its schema is revision {matches[-1]}'s" if matches else ""
        raise DriftError(
            f"the schema is not revision {target or 'base'}'s: {summary(differences)}"
            f"{suggestion}; stamp the right revision, or pass --force"
        )


def matching_revisions(connection: Connection, chain: Chain, dialect: str) -> list[str]:
    """Revisions whose schema is exactly the live schema (newest last)."""
    return [revision for revision, differences in compare_with_revisions(
        connection, chain, dialect) if not differences]


def compare_with_revisions(
    connection: Connection, chain: Chain, dialect: str
) -> list[tuple[str, list[str]]]:
    """Every revision (oldest first) with the differences of the live schema from its own."""
    live = shapes_from_database(connection, dialect)
    connection.rollback()
    return [
        (revision, compare_shapes(shapes_from_state(state), live))
        for revision, state in replay(chain, dialect)
    ]


def summary(differences: Sequence[str]) -> str:
    """The first difference, and how many more there are (one line for an error)."""
    more = f" (and {len(differences) - 1} more)" if len(differences) > 1 else ""
    return differences[0] + more
