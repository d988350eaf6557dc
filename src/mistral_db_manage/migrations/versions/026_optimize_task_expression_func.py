"""Optimize task expression function

Revision ID: 026
Revises: 025
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import CreateIndex

revision = "026"
down_revision = "025"

operations = [
    # On MySQL these replace the keys InnoDB made for 013's foreign keys.
    CreateIndex(
        "action_executions_v2_task_execution_id", "action_executions_v2", ("task_execution_id",)
    ),
    CreateIndex(
        "workflow_executions_v2_task_execution_id",
        "workflow_executions_v2",
        ("task_execution_id",),
    ),
]
