"""How the command line shows an upgrade plan (``status``, ``upgrade --plan``): text or JSON.

The plan is a value (:class:`~.runner.plan.UpgradePlan`); this module only turns it
into lines: the pending steps, their operations, the rows they touch, what the
running service notices, and the predicted seconds on this database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .display import title

if TYPE_CHECKING:
    from .runner.plan import PlannedRevision, UpgradePlan


def plan_json(plan: UpgradePlan) -> dict[str, Any]:
    """The plan as JSON: every field, with ``estimate_seconds`` at the top and per step."""
    return dataclasses.asdict(plan) | {
        "status": plan.status,
        "long_cluster_stalls": [o.description for o in plan.long_cluster_stalls],
    }


def seconds_text(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def plan_lines(plan: UpgradePlan, out: Callable[[str], None]) -> None:
    """The plan as text, one line at a time through ``out``."""
    from .runner.plan import Strategy  # start-up time: the plan's module loads SQLAlchemy

    out(f"Current revision: {plan.current or 'none (empty database)'}")
    out(f"Target revision:  {plan.target or 'base'} (head is {plan.head})")
    if plan.estimate_seconds is not None and plan.pending:
        basis = plan.estimate_basis or {}
        out(f"Predicted time:   {seconds_text(plan.estimate_seconds)} on this database "
            f"(catalog statistics; rates from a {int(basis.get('probe_queries', 0))}-query "
            f"probe of {basis.get('probe_seconds', 0.0):.2f} s)")
    if plan.cluster == "galera" and plan.pending:
        out("Galera cluster: every schema change runs in total order isolation (TOI): "
            "writes stall on every node of the cluster while it runs.")
        for operation in plan.long_cluster_stalls:
            out(f"  Long stall: {operation.description} ({operation.rows} row(s))")
        if not plan.long_cluster_stalls:
            out("  None of them copies or rebuilds a table of 100000 rows or more.")
    if plan.leftovers:
        out(f"First: drops the {len(plan.leftovers)} empty table(s) an interrupted "
            f"creation left ({', '.join(plan.leftovers)})")
    if plan.strategy is Strategy.RESUME:
        first = plan.pending[0]
        applied = sum(1 for operation in first.operations if operation.done)
        out(f"Revision {first.revision} is half-done: an interrupted run applied {applied} of "
            f"its {len(first.operations)} operations; upgrade finishes it.")
    if plan.strategy is Strategy.NOTHING:
        out("Nothing to do.")
    elif plan.strategy is Strategy.CREATE:
        out(f"The database is empty: the schema of revision {plan.target} is created at "
            f"once ({len(plan.created_tables)} tables) and recorded as {plan.target}; "
            f"no revision is replayed.")
        out(f"Revisions covered: {plan.pending[0].revision}..{plan.pending[-1].revision} "
            f"({len(plan.pending)})")
    for revision in plan.pending if plan.strategy is not Strategy.CREATE else ():
        _revision_lines(revision, out)


def _revision_lines(revision: PlannedRevision, out: Callable[[str], None]) -> None:
    flag = "  [rewrites data]" if revision.rewrites_data else ""
    time = (f"  ~{seconds_text(revision.estimate_seconds)}"
            if revision.estimate_seconds is not None else "")
    out(f"{revision.revision}: {title(revision.message)}{flag}{time}")
    for lock in revision.locks:
        stall = " (cluster-wide: TOI)" if lock.cluster_stall else ""
        out(f"    locks {lock.table}: {lock.effect} for ~{seconds_text(lock.seconds)}{stall}")
    for operation in revision.operations:
        done = " (done by the interrupted run, skipped)" if operation.done else ""
        rows = f", {operation.rows} row(s)" if operation.rows is not None else ""
        blocking = f" -- {operation.blocking}" if operation.blocking else ""
        data = " (data)" if operation.rewrites_data else ""
        out(f"    - {operation.description}{data}{rows}{blocking}{done}")
