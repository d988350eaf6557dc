"""add_unique_keys_for_non_locking_model

Revision ID: 015
Revises: 014
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AddColumn, AddUnique, Col

revision = "015"
down_revision = "014"

operations = [
    AddColumn("delayed_calls_v2", Col("unique_key", String(80))),
    AddUnique("delayed_calls_v2", ("unique_key", "processing")),
    AddColumn("task_executions_v2", Col("unique_key", String(80))),
    AddUnique("task_executions_v2", ("unique_key",)),
]
