"""add namespace column to workbooks

Revision ID: 028
Revises: 027
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AddColumn, AddUnique, Col, DropUnique

revision = "028"
down_revision = "027"

operations = [
    AddColumn("workbooks_v2", Col("namespace", String(255))),
    # Dropped by its MySQL name (name) upstream; SQLite follows MySQL.
    # PostgreSQL keeps workbooks_v2_name_project_id_key until 036.
    DropUnique("workbooks_v2", ("name", "project_id"), dialects=("mysql", "sqlite")),
    AddUnique("workbooks_v2", ("name", "namespace", "project_id")),
]
