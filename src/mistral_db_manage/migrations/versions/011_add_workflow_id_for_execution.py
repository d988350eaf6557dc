"""add workflow id for execution

Revision ID: 011
Revises: 010
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AddColumn, Col

revision = "011"
down_revision = "010"

operations = [
    AddColumn("executions_v2", Col("workflow_id", String(80))),
]
