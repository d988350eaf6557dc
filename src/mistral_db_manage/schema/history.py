"""Schema history: the schema the revision chain describes after any revision.

Walking the chain from an empty database and applying each operation's
state change (never its SQL) gives the schema at every revision.  ``verify``,
the drift check, adopt matching, the plan, autogenerate and the creation of
an empty database all start from here.

This module knows revisions and operations only by the few methods it calls
(:class:`RevisionSource`, :class:`StateChange`), so the schema package does
not import the migrations package that builds on it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from typing import Protocol

from .state import SchemaState


class StateChange(Protocol):
    """What an operation of the chain offers to schema history."""

    def applies_to(self, dialect: str) -> bool: ...

    def apply_state(self, state: SchemaState) -> None: ...

    def after(self, state: SchemaState) -> SchemaState: ...

    @property
    def undoes_revision_on_refusal(self) -> bool: ...


class _Step(Protocol):
    @property
    def id(self) -> str: ...


class RevisionSource(Protocol):
    """What a chain of revisions offers to schema history."""

    @property
    def head(self) -> str | None: ...

    def between(self, start: str | None, end: str | None) -> Sequence[_Step]: ...

    def operations(self, revision_id: str) -> Sequence[StateChange]: ...


def replay(
    chain: RevisionSource, dialect: str, end: str | None = None
) -> Iterator[tuple[str, SchemaState]]:
    """Walk the chain from an empty database: after each revision up to ``end``
    (default: head), yield its id and the schema (one state object, updated in
    place; copy it to keep it)."""
    state = SchemaState(dialect)
    for step in chain.between(None, chain.head if end is None else end):
        for operation in chain.operations(step.id):
            if operation.applies_to(dialect):
                operation.apply_state(state)
        yield step.id, state


def state_at(chain: RevisionSource, dialect: str, revision: str | None) -> SchemaState:
    """The schema the chain describes at ``revision`` (None = empty database)."""
    if revision is None:
        return SchemaState(dialect)
    last = deque(replay(chain, dialect, revision), maxlen=1)
    return last[0][1]


def partial_states(
    chain: RevisionSource, dialect: str, start: str | None, next_revision: str,
    done: int, started: int,
) -> list[SchemaState]:
    """The schemas a database at ``start`` may have when ``next_revision`` was
    interrupted after ``done`` of its operations (one more if ``started`` says
    the next one began): ``start``'s schema with those operations applied, or
    ``start``'s own when the one that began undoes its revision on a refusal."""
    state = state_at(chain, dialect, start)
    applicable = [op for op in chain.operations(next_revision) if op.applies_to(dialect)]
    for operation in applicable[:done]:
        operation.apply_state(state)
    states = [state]
    if started > done:
        states.append(applicable[done].after(state))
        if applicable[done].undoes_revision_on_refusal:
            states.append(state_at(chain, dialect, start))
    return states
