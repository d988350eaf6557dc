"""Add named lock table

Revision ID: 017
Revises: 016
"""

from __future__ import annotations

from sqlalchemy import DateTime, String

from mistral_db_manage.migrations.ops import Col, CreateTable

revision = "017"
down_revision = "016"

operations = [
    CreateTable(
        "named_locks",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("id", String(36), nullable=False),
            Col("name", String(250)),
        ],
        uniques=[("name",)],
    ),
]
