"""add_resource_members_v2_table

Revision ID: 010
Revises: 009
"""

from __future__ import annotations

from sqlalchemy import DateTime, String

from mistral_db_manage.migrations.ops import Col, CreateTable

revision = "010"
down_revision = "009"

operations = [
    CreateTable(
        "resource_members_v2",
        [
            Col("id", String(36), nullable=False),
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            # NOT NULL until 014
            Col("project_id", String(80), nullable=False),
            Col("member_id", String(80), nullable=False),
            Col("resource_id", String(80), nullable=False),
            Col("resource_type", String(50), nullable=False),
            Col("status", String(20), nullable=False),
        ],
        uniques=[("resource_id", "resource_type", "member_id")],
    ),
]
