"""Add started_at and finished_at to task execution

Revision ID: 031
Revises: 030
"""

from __future__ import annotations

from sqlalchemy import DateTime

from mistral_db_manage.migrations.ops import AddColumn, Col

revision = "031"
down_revision = "030"

operations = [
    AddColumn("task_executions_v2", Col("started_at", DateTime())),
    AddColumn("task_executions_v2", Col("finished_at", DateTime())),
]
