"""add namespace column to action definitions

Revision ID: 037
Revises: 036
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AddColumn, AddUnique, Col, DropUnique

revision = "037"
down_revision = "036"

operations = [
    AddColumn("action_definitions_v2", Col("namespace", String(255))),
    # Upstream drops the (name, project_id) unique by whichever server name it
    # finds: name (MySQL; SQLite follows) or
    # action_definitions_v2_name_project_id_key (PostgreSQL).
    DropUnique("action_definitions_v2", ("name", "project_id"), dialects=("mysql", "sqlite")),
    DropUnique("action_definitions_v2", ("name", "project_id"), dialects=("postgresql",)),
    AddUnique("action_definitions_v2", ("name", "namespace", "project_id")),
    # Upstream's data step was meant to give existing action definitions the
    # empty namespace, but its condition is always false (it sends
    # `... WHERE false`), so it changes nothing: existing action definitions
    # keep namespace NULL, as upstream.  Nothing is sent here.
]
