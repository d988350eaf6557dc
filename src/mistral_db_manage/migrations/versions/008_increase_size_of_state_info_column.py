"""Increase size of state_info column from String to Text

Revision ID: 008
Revises: 007
"""

from __future__ import annotations

from sqlalchemy import Text

from mistral_db_manage.migrations.ops import AlterColumn

revision = "008"
down_revision = "007"

operations = [
    AlterColumn("executions_v2", "state_info", type=Text()),
]
