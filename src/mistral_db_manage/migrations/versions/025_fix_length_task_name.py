"""Fix length task name

Revision ID: 025
Revises: 024
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AlterColumn

revision = "025"
down_revision = "024"

operations = [
    AlterColumn("task_executions_v2", "unique_key", type=String(255)),
    AlterColumn("named_locks", "name", type=String(255)),
]
