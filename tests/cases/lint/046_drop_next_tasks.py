"""drop a column of the task executions

Revision ID: 046
Revises: 045
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import DropColumn

revision = "046"
down_revision = "045"

operations = [DropColumn("task_executions_v2", "next_tasks")]
