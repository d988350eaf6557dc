"""Create scheduled jobs table.

Revision ID: 034
Revises: 033
"""

from __future__ import annotations

from sqlalchemy import DateTime, Integer, String

from mistral_db_manage.migrations.ops import Col, CreateTable, Sql
from mistral_db_manage.schema.types import Json

revision = "034"
down_revision = "033"

operations = [
    # The chain never has this table before 034, but a running Mistral service
    # may have created it from its models.  Upstream drops it then (its rows
    # are lost) and creates it again; so does this revision.
    Sql(
        "drop scheduled_jobs_v2 if the Mistral service created it",
        {"*": ["DROP TABLE IF EXISTS scheduled_jobs_v2"]},
        data=False,
    ),
    CreateTable(
        "scheduled_jobs_v2",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("id", String(36), nullable=False),
            Col("run_after", Integer()),
            Col("target_factory_func_name", String(200)),
            # nullable here, NOT NULL in the model, as upstream
            Col("func_name", String(80)),
            Col("func_args", Json()),
            Col("func_arg_serializers", Json()),
            Col("auth_ctx", Json()),
            Col("execute_at", DateTime(), nullable=False),
            Col("captured_at", DateTime()),
            Col("key", String(250)),
        ],
    ),
]
