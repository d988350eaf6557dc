"""namespace support for workbooks table postgresql

Revision ID: 036
Revises: 035
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import DropUnique

revision = "036"
down_revision = "035"

operations = [
    # Upstream drops workbooks_v2_name_project_id_key, a name only PostgreSQL
    # has; MySQL and SQLite dropped this unique in 028.
    DropUnique("workbooks_v2", ("name", "project_id"), dialects=("postgresql",)),
]
