"""Update type of 'description' field for
   table 'workflow_executions_v2' to text

Revision ID: 041
Revises: 040
"""

from __future__ import annotations

from sqlalchemy import Text

from mistral_db_manage.migrations.ops import AlterColumn

revision = "041"
down_revision = "040"

operations = [
    AlterColumn("workflow_executions_v2", "description", type=Text()),
]
