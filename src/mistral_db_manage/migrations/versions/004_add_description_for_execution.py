"""add description for execution

Revision ID: 004
Revises: 003
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AddColumn, Col

revision = "004"
down_revision = "003"

operations = [
    AddColumn("executions_v2", Col("description", String(255))),
]
