"""Add last_heartbeat to action execution

Revision ID: 027
Revises: 026
"""

from __future__ import annotations

from sqlalchemy import Boolean, DateTime

from mistral_db_manage.migrations.ops import AddColumn, Col

revision = "027"
down_revision = "026"

operations = [
    # No server defaults: existing rows get NULL in both columns, as upstream.
    AddColumn("action_executions_v2", Col("last_heartbeat", DateTime())),
    AddColumn("action_executions_v2", Col("is_sync", Boolean())),
]
