"""The lint of new revisions: what in a revision after 045 costs an operator a window.

``check_migration`` flags, in every revision after :data:`FROZEN_HEAD` (the chain
upstream Mistral 23.0.0 ships, which is what it is), each operation that

* ``whole-table``: rewrites or scans every row of an existing table;
* ``exclusive-lock``: holds a lock that blocks the service's reads or writes of an
  existing table for longer than a catalog change (a pass, a copy, an index build);
* ``drops-data``: drops a column or a table, whose data is then gone;
* ``mysql-no-rollback``: on MySQL, runs after a schema change of the same revision and
  can fail on the data (an SQL data step, a unique or foreign key, NOT NULL, a type
  change): MySQL commits each schema change, so such a failure leaves the revision
  half-applied and nothing rolls it back.

Each flag names the dialects it concerns and, with an :class:`~.estimate.Estimator`
of a configured database, the predicted seconds there.  A revision accepts a flag
with a marker line in its file, which says why::

    # check_migration: accept whole-table -- the table holds a few hundred rows

An unaccepted flag is a problem: ``check_migration`` exits 1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..migrations import ops
from ..schema.history import state_at
from ..schema.state import DIALECTS, SchemaState
from .chain import Chain
from .estimate import Estimator, LockEffect, WorkKind, lock_effect, operation_work

#: the last revision of upstream's chain: the lint looks at the revisions after it
FROZEN_HEAD = "045"
FLAGS = ("whole-table", "exclusive-lock", "drops-data", "mysql-no-rollback")
_MARKER = re.compile(r"^\s*#\s*check_migration:\s*accept\s+([a-z-]+)\s*(?:--\s*(\S.*))?$", re.M)
_LONG = (WorkKind.SCAN, WorkKind.PARSE, WorkKind.REWRITE, WorkKind.INDEX, WorkKind.COPY,
         WorkKind.FOREIGN_KEY)


@dataclass(frozen=True)
class Flag:
    revision: str
    flag: str
    operation: str
    dialects: tuple[str, ...]
    #: predicted seconds on the configured database (None: none configured)
    seconds: float | None = None
    accepted: bool = False

    def describe(self) -> str:
        where = ", ".join(self.dialects)
        time = f"; predicted {self.seconds:.1f} s on the configured database" \
            if self.seconds is not None else ""
        return (f"revision {self.revision}: {self.flag}: {self.operation} ({where}{time}); "
                f"make it cheaper, or accept it with a line "
                f"'# check_migration: accept {self.flag} -- <why>' in the revision file")


def accepted_flags(text: str) -> frozenset[str]:
    """The flags a revision file accepts (marker lines with a reason)."""
    return frozenset(m.group(1) for m in _MARKER.finditer(text) if m.group(2))


def lint_chain(chain: Chain, estimators: Mapping[str, Estimator] | None = None,
               *, after: str = FROZEN_HEAD) -> list[Flag]:
    """Every flag of the revisions after ``after`` (none when the chain ends there)."""
    ids = [r.id for r in chain.revisions]
    if after not in ids or ids[-1] == after:
        return []
    found: dict[tuple[str, str, str], set[str]] = {}
    seconds: dict[tuple[str, str, str], float] = {}
    for dialect in DIALECTS:
        state = state_at(chain, dialect, after)
        estimator = (estimators or {}).get(dialect)
        for step in chain.between(after, chain.head):
            changed_schema = False
            for operation in chain.operations(step.id):
                if not operation.applies_to(dialect):
                    continue
                for flag in _operation_flags(operation, state, dialect, changed_schema):
                    key = (step.id, flag, operation.describe())
                    found.setdefault(key, set()).add(dialect)
                    if estimator is not None:
                        seconds[key] = estimator.operation(operation, state).seconds
                changed_schema = changed_schema or not isinstance(operation, ops.Sql)
                operation.apply_state(state)
    texts = {r.id: r.path.read_text(encoding="utf-8") for r in chain.revisions
             if r.id in {key[0] for key in found}}
    return [
        Flag(revision, flag, description,
             tuple(d for d in DIALECTS if d in dialects), seconds.get((revision, flag,
                                                                        description)),
             flag in accepted_flags(texts[revision]))
        for (revision, flag, description), dialects in found.items()
    ]


def _operation_flags(operation: ops.Operation, state: SchemaState, dialect: str,
                     changed_schema: bool) -> list[str]:
    existing = [t for t in operation.tables() if t in state.tables]
    if not existing:
        return []  # a table this revision creates: nobody has data in it yet
    flags: list[str] = []
    kinds = {w.kind for w in operation_work(operation, state) if w.table is not None}
    if kinds & {WorkKind.SCAN, WorkKind.PARSE, WorkKind.REWRITE, WorkKind.COPY}:
        flags.append("whole-table")
    if kinds & set(_LONG) and lock_effect(operation, state) is not LockEffect.NONE \
            and not isinstance(operation, ops.Sql):
        flags.append("exclusive-lock")
    if isinstance(operation, (ops.DropColumn, ops.DropTable)):
        flags.append("drops-data")
    if dialect == "mysql" and changed_schema and _can_fail_on_data(operation, state):
        flags.append("mysql-no-rollback")
    return flags


def _can_fail_on_data(operation: ops.Operation, state: SchemaState) -> bool:
    if isinstance(operation, ops.Sql):
        return operation.rewrites_data
    if isinstance(operation, (ops.AddUnique, ops.AddForeignKey)):
        return True
    if isinstance(operation, ops.AlterColumn):
        return operation.nullable is False or operation.type is not None
    return False
