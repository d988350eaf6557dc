"""Namespace support postgresql

Revision ID: 035
Revises: 034
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import DropUnique

revision = "035"
down_revision = "034"

operations = [
    # Upstream drops workflow_definitions_v2_name_project_id_key, a name only
    # PostgreSQL has; MySQL and SQLite dropped this unique in 022.
    DropUnique("workflow_definitions_v2", ("name", "project_id"), dialects=("postgresql",)),
]
