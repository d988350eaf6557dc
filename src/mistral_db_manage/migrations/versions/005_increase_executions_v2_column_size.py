"""Increase executions_v2 column size from JsonDictType to JsonLongDictType

Revision ID: 005
Revises: 004
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import AlterColumn
from mistral_db_manage.schema.types import JsonLong

revision = "005"
down_revision = "004"

# TEXT -> LONGTEXT on MySQL/MariaDB; TEXT stays TEXT on PostgreSQL and SQLite.
operations = [
    AlterColumn("executions_v2", "runtime_context", type=JsonLong()),
    AlterColumn("executions_v2", "input", type=JsonLong()),
    AlterColumn("executions_v2", "params", type=JsonLong()),
    AlterColumn("executions_v2", "context", type=JsonLong()),
    AlterColumn("executions_v2", "action_spec", type=JsonLong()),
    AlterColumn("executions_v2", "published", type=JsonLong()),
]
