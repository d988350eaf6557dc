"""split_execution_table_increase_names

Revision ID: 013
Revises: 012
"""

from __future__ import annotations

from sqlalchemy import Boolean, DateTime, String, Text

from mistral_db_manage.migrations.ops import FK, AddForeignKey, AlterColumn, Col, CreateTable, Ix
from mistral_db_manage.schema.types import Json, JsonLong, JsonMedium, MediumText

revision = "013"
down_revision = "012"


def _execution_columns() -> list[Col]:
    """The columns the three new execution tables start with."""
    return [
        Col("created_at", DateTime()),
        Col("updated_at", DateTime()),
        Col("scope", String(80)),
        Col("project_id", String(80)),
        Col("id", String(36), nullable=False),
        Col("name", String(255)),
        Col("description", String(255)),
        Col("workflow_name", String(255)),
        Col("workflow_id", String(80)),
        Col("spec", JsonMedium()),
        Col("state", String(20)),
        Col("state_info", Text()),
        Col("tags", Json()),
        Col("runtime_context", JsonLong()),
    ]


def _indexes(table: str, *columns: str) -> list[Ix]:
    return [Ix(f"{table}_{column}", (column,)) for column in columns]


operations = [
    CreateTable(
        "action_executions_v2",
        [
            *_execution_columns(),
            Col("accepted", Boolean()),
            Col("input", JsonLong()),
            Col("output", JsonLong()),
            Col("task_execution_id", String(36)),
        ],
        indexes=_indexes("action_executions_v2", "project_id", "scope", "state", "updated_at"),
    ),
    CreateTable(
        "workflow_executions_v2",
        [
            *_execution_columns(),
            Col("accepted", Boolean()),
            Col("input", JsonLong()),
            Col("output", JsonLong()),
            Col("params", JsonLong()),
            Col("context", JsonLong()),
            Col("task_execution_id", String(36)),
        ],
        indexes=_indexes("workflow_executions_v2", "project_id", "scope", "state", "updated_at"),
    ),
    CreateTable(
        "task_executions_v2",
        [
            *_execution_columns(),
            Col("action_spec", JsonLong()),
            Col("processed", Boolean()),
            Col("in_context", JsonLong()),
            Col("published", JsonLong()),
            Col("workflow_execution_id", String(36)),
        ],
        foreign_keys=[
            FK(("workflow_execution_id",), "workflow_executions_v2", ondelete="CASCADE"),
        ],
        indexes=_indexes(
            "task_executions_v2",
            "project_id",
            "scope",
            "state",
            "updated_at",
            "workflow_execution_id",
        ),
    ),
    AddForeignKey(
        "action_executions_v2",
        FK(("task_execution_id",), "task_executions_v2", ondelete="CASCADE"),
    ),
    AddForeignKey(
        "workflow_executions_v2",
        FK(("task_execution_id",), "task_executions_v2", ondelete="CASCADE"),
    ),
    # Longer names and MEDIUMTEXT definitions/specs (on PostgreSQL and SQLite
    # only the VARCHAR length really changes).
    AlterColumn("workbooks_v2", "name", type=String(255)),
    AlterColumn("workbooks_v2", "definition", type=MediumText()),
    AlterColumn("workbooks_v2", "spec", type=JsonMedium()),
    AlterColumn("workflow_definitions_v2", "name", type=String(255)),
    AlterColumn("workflow_definitions_v2", "definition", type=MediumText()),
    AlterColumn("workflow_definitions_v2", "spec", type=JsonMedium()),
    AlterColumn("action_definitions_v2", "name", type=String(255)),
    AlterColumn("action_definitions_v2", "definition", type=MediumText()),
    AlterColumn("action_definitions_v2", "spec", type=JsonMedium()),
    AlterColumn("cron_triggers_v2", "workflow_name", type=String(255)),
    # No data is copied from executions_v2, which stays as it is.
]
