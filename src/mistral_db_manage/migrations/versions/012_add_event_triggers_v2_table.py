"""add event triggers table

Revision ID: 012
Revises: 011
"""

from __future__ import annotations

from sqlalchemy import DateTime, String

from mistral_db_manage.migrations.ops import FK, Col, CreateTable, Ix
from mistral_db_manage.schema.types import Json

revision = "012"
down_revision = "011"

operations = [
    CreateTable(
        "event_triggers_v2",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("project_id", String(80)),
            Col("scope", String(80)),
            Col("id", String(36), nullable=False),
            Col("name", String(200)),
            # NOT NULL until 014
            Col("workflow_id", String(36), nullable=False),
            Col("exchange", String(80), nullable=False),
            Col("topic", String(80), nullable=False),
            Col("event", String(80), nullable=False),
            Col("workflow_params", Json()),
            Col("workflow_input", Json()),
            Col("trust_id", String(80)),
        ],
        uniques=[("exchange", "topic", "event", "workflow_id", "project_id")],
        foreign_keys=[FK(("workflow_id",), "workflow_definitions_v2")],
        indexes=[Ix("event_triggers_v2_project_id_workflow_id", ("project_id", "workflow_id"))],
    ),
]
