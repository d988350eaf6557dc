"""Add 'workbook_name' column to 'action_definitions_v2'
   and 'workflow_definitions_v2'.

Revision ID: 039
Revises: 038
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AddColumn, Col

revision = "039"
down_revision = "038"

operations = [
    AddColumn("action_definitions_v2", Col("workbook_name", String(255))),
    AddColumn("workflow_definitions_v2", Col("workbook_name", String(255))),
]
