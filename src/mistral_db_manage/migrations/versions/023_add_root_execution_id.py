"""Add the root execution ID to the workflow execution model

Revision ID: 023
Revises: 022
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AddColumn, Col

revision = "023"
down_revision = "022"

operations = [
    # String(80) without a foreign key, as upstream's revision (its model says
    # String(36) with a foreign key).
    AddColumn("workflow_executions_v2", Col("root_execution_id", String(80))),
]
