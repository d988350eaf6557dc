"""create new tables for the dynamic actions and code sources

Revision ID: 040
Revises: 039
"""

from __future__ import annotations

from sqlalchemy import DateTime, Integer, String, Text

from mistral_db_manage.migrations.ops import FK, Col, CreateTable, Ix
from mistral_db_manage.schema.types import Json

revision = "040"
down_revision = "039"

operations = [
    CreateTable(
        "code_sources",
        [
            Col("id", String(36), nullable=False),
            Col("name", String(255), nullable=False),
            Col("project_id", String(80)),
            Col("namespace", String(255)),
            Col("content", Text(), nullable=False),
            Col("version", Integer(), nullable=False),
            Col("tags", Json()),
            Col("scope", String(80)),
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
        ],
        uniques=[("name", "namespace", "project_id")],
        indexes=[
            Ix("code_sources_project_id", ("project_id",)),
            Ix("code_sources_scope", ("scope",)),
        ],
    ),
    CreateTable(
        "dynamic_action_definitions",
        [
            Col("id", String(36), nullable=False),
            Col("name", String(255), nullable=False),
            Col("class_name", String(255), nullable=False),
            Col("scope", String(80)),
            Col("project_id", String(80)),
            Col("code_source_id", String(36), nullable=False),
            Col("code_source_name", String(255), nullable=False),
            Col("namespace", String(255)),
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
        ],
        uniques=[("name", "namespace", "project_id")],
        foreign_keys=[FK(("code_source_id",), "code_sources", ondelete="CASCADE")],
        indexes=[
            Ix("dynamic_action_definitions_project_id", ("project_id",)),
            Ix("dynamic_action_definitions_scope", ("scope",)),
        ],
    ),
]
