"""Kilo

Revision ID: 002
Revises: 001
"""

from __future__ import annotations

from sqlalchemy import CHAR

from mistral_db_manage.migrations.ops import AddColumn, AddUnique, Col, DropTable
from mistral_db_manage.schema.types import Json

revision = "002"
down_revision = "001"

operations = [
    # The v1 (pre-Kilo) tables go, with any rows they hold.
    DropTable("tasks"),
    DropTable("workflow_executions"),
    DropTable("workbooks"),
    DropTable("triggers"),
    AddColumn("cron_triggers_v2", Col("workflow_params", Json())),
    AddColumn("cron_triggers_v2", Col("workflow_params_hash", CHAR(64))),
    # 001's 4-column unique stays (009 drops it on PostgreSQL, 014 on MySQL).
    AddUnique(
        "cron_triggers_v2",
        ("workflow_input_hash", "workflow_name", "pattern", "project_id", "workflow_params_hash"),
    ),
]
