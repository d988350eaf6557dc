"""The head models expressed as operations.

``head_operations(metadata)`` turns SQLAlchemy tables into the same
operations a revision is written in (create each table, then the foreign
keys that close a cycle), so the models can be given a
:class:`~..schema.state.SchemaState` (``state_from_metadata``) and compared with the
state the chain reaches at head, with the same naming rules on both sides.
"""

from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint, Index, MetaData, UniqueConstraint

from ..schema.state import SchemaState
from .ops import FK, AddForeignKey, Col, CreateTable, Ix, Operation


def head_operations(metadata: MetaData) -> list[Operation]:
    operations: list[Operation] = []
    deferred: list[Operation] = []
    for table in metadata.sorted_tables:
        columns = [
            Col(
                c.name,
                c.type,
                nullable=bool(c.nullable),
                autoincrement=c.autoincrement is True,
                server_default=None,
            )
            for c in table.columns
        ]
        uniques = [
            tuple(c.name for c in constraint.columns)
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint)
        ]
        inline: list[FK] = []
        for constraint in sorted(
            (c for c in table.constraints if isinstance(c, ForeignKeyConstraint)),
            key=lambda c: [col.name for col in c.columns],
        ):
            fk = FK(
                tuple(c.name for c in constraint.columns),
                constraint.referred_table.name,
                tuple(e.column.name for e in constraint.elements),
                constraint.ondelete,
            )
            if constraint.use_alter:
                deferred.append(AddForeignKey(table.name, fk))
            else:
                inline.append(fk)
        indexes = [
            Ix(str(index.name), tuple(c.name for c in index.columns))
            for index in sorted(table.indexes, key=_index_name)
        ]
        operations.append(
            CreateTable(
                table.name,
                columns,
                primary_key=tuple(c.name for c in table.primary_key.columns),
                uniques=uniques,
                foreign_keys=inline,
                indexes=indexes,
            )
        )
    return operations + deferred


def _index_name(index: Index) -> str:
    return str(index.name)


def state_from_metadata(metadata: MetaData, dialect: str) -> SchemaState:
    state = SchemaState(dialect)
    for operation in head_operations(metadata):
        operation.apply_state(state)
    return state


def redundant_uniques(chain_state: SchemaState, model_state: SchemaState) -> set[str]:
    """Names of the chain's second copies of a unique constraint (same table and
    columns as another) that the models do not have.

    Upstream's revisions 003 and 014 leave PostgreSQL with two identical
    seven-column uniques on ``cron_triggers_v2``; the models describe the
    design, which has one.  Comparisons between models and chain ignore the
    extra copy and nothing else.
    """
    names: set[str] = set()
    for table in chain_state.tables.values():
        modelled = {
            u.name for u in model_state.tables[table.name].uniques
        } if table.name in model_state.tables else set()
        groups: dict[tuple[str, ...], list[str | None]] = {}
        for unique in table.uniques:
            groups.setdefault(unique.columns, []).append(unique.name)
        for group in groups.values():
            if len(group) < 2:
                continue
            keep = next((n for n in group if n in modelled), group[0])
            names.update(n for n in group if n is not None and n != keep)
    return names
