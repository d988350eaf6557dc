"""Increase delayed_calls_v2.auth_context column size from JsonDictType to
JsonMediumDictType

Revision ID: 030
Revises: 029
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import AlterColumn
from mistral_db_manage.schema.types import JsonMedium

revision = "030"
down_revision = "029"

operations = [
    # TEXT -> MEDIUMTEXT on MySQL/MariaDB; nothing changes on PostgreSQL and SQLite.
    AlterColumn("delayed_calls_v2", "auth_context", type=JsonMedium()),
]
