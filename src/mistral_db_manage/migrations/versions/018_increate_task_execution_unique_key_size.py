"""increate_task_execution_unique_key_size

Revision ID: 018
Revises: 017
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AlterColumn

revision = "018"
down_revision = "017"

operations = [
    AlterColumn("task_executions_v2", "unique_key", type=String(250)),
]
