"""cron_trigger_constraints

Revision ID: 003
Revises: 002
"""

from __future__ import annotations

from sqlalchemy import DateTime

from mistral_db_manage.migrations.ops import AddColumn, AddUnique, Col

revision = "003"
down_revision = "002"

operations = [
    AddColumn("cron_triggers_v2", Col("first_execution_time", DateTime())),
    # The earlier cron uniques are kept; on PostgreSQL this one survives to
    # the head next to the identical one 014 adds.
    AddUnique(
        "cron_triggers_v2",
        (
            "workflow_input_hash",
            "workflow_name",
            "pattern",
            "project_id",
            "workflow_params_hash",
            "remaining_executions",
            "first_execution_time",
        ),
    ),
]
