"""Add has_next_tasks and error_handled to task execution.

Revision ID: 032
Revises: 031
"""

from __future__ import annotations

from sqlalchemy import Boolean

from mistral_db_manage.migrations.ops import AddColumn, Col

revision = "032"
down_revision = "031"

operations = [
    # Existing rows get NULL (the model's False default is Python-side).
    AddColumn("task_executions_v2", Col("has_next_tasks", Boolean())),
    AddColumn("task_executions_v2", Col("error_handled", Boolean())),
]
