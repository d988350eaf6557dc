"""Move system flag to base definition

Revision ID: 007
Revises: 006
"""

from __future__ import annotations

from sqlalchemy import Boolean

from mistral_db_manage.migrations.ops import AddColumn, Col

revision = "007"
down_revision = "006"

operations = [
    AddColumn("workbooks_v2", Col("is_system", Boolean())),
    AddColumn("workflow_definitions_v2", Col("is_system", Boolean())),
]
