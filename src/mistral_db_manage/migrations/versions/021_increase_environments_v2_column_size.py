"""Increase environments_v2 column size from JsonDictType to JsonLongDictType

Revision ID: 021
Revises: 020
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import AlterColumn
from mistral_db_manage.schema.types import JsonLong

revision = "021"
down_revision = "020"

operations = [
    # TEXT -> LONGTEXT on MySQL/MariaDB; nothing changes on PostgreSQL and SQLite.
    AlterColumn("environments_v2", "variables", type=JsonLong()),
]
