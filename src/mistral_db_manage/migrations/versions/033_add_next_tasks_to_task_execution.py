"""Add next_tasks to task execution.

Revision ID: 033
Revises: 032
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import AddColumn, Col
from mistral_db_manage.schema.types import Json

revision = "033"
down_revision = "032"

operations = [
    AddColumn("task_executions_v2", Col("next_tasks", Json())),
]
