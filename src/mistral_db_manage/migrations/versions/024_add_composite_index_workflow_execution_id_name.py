"""Add database indices

Revision ID: 024
Revises: 023
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import CreateIndex

revision = "024"
down_revision = "023"

operations = [
    CreateIndex(
        "task_executions_v2_workflow_execution_id_name",
        "task_executions_v2",
        ("workflow_execution_id", "name"),
    ),
]
