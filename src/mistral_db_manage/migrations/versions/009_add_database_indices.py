"""Add database indices

Revision ID: 009
Revises: 008
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import CreateIndex, DropUnique

revision = "009"
down_revision = "008"

CRON_UNIQUE_4 = ("workflow_input_hash", "workflow_name", "pattern", "project_id")
CRON_UNIQUE_5 = (*CRON_UNIQUE_4, "workflow_params_hash")


def _index(table: str, *columns: str) -> CreateIndex:
    return CreateIndex(f"{table}_{'_'.join(columns)}", table, columns)


operations = [
    _index("action_definitions_v2", "action_class"),
    _index("action_definitions_v2", "is_system"),
    _index("action_definitions_v2", "project_id"),
    _index("action_definitions_v2", "scope"),
    _index("cron_triggers_v2", "next_execution_time"),
    _index("cron_triggers_v2", "project_id"),
    _index("cron_triggers_v2", "scope"),
    _index("cron_triggers_v2", "workflow_name"),
    # Upstream drops 001's and 002's cron uniques by the names PostgreSQL gives
    # them (..._pattern__key, ..._pattern_key1), so only PostgreSQL loses them
    # here; MySQL (and SQLite, which follows it) drop them in 014.
    DropUnique("cron_triggers_v2", CRON_UNIQUE_4, dialects=("postgresql",)),
    DropUnique("cron_triggers_v2", CRON_UNIQUE_5, dialects=("postgresql",)),
    _index("delayed_calls_v2", "processing", "execution_time"),
    _index("environments_v2", "name"),
    _index("environments_v2", "project_id"),
    _index("environments_v2", "scope"),
    _index("executions_v2", "project_id"),
    _index("executions_v2", "scope"),
    _index("executions_v2", "state"),
    _index("executions_v2", "task_execution_id"),
    _index("executions_v2", "type"),
    _index("executions_v2", "updated_at"),
    _index("executions_v2", "workflow_execution_id"),
    _index("workbooks_v2", "project_id"),
    _index("workbooks_v2", "scope"),
    _index("workflow_definitions_v2", "is_system"),
    _index("workflow_definitions_v2", "project_id"),
    _index("workflow_definitions_v2", "scope"),
]
