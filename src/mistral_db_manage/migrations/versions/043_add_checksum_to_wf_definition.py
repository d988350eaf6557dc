"""add_checksum_to_wf_definition

Revision ID: 043
Revises: 042
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AddColumn, Col

revision = "043"
down_revision = "042"

operations = [
    # Upstream adds it only if missing; in this chain it is always missing here.
    AddColumn("workflow_definitions_v2", Col("checksum", String(32))),
]
