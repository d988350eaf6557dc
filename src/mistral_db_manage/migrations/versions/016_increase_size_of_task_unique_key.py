"""Increase size of task_executions_v2.unique_key

Revision ID: 016
Revises: 015
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AlterColumn

revision = "016"
down_revision = "015"

operations = [
    AlterColumn("task_executions_v2", "unique_key", type=String(200)),
]
