"""fix_past_scripts_discrepancies

Revision ID: 014
Revises: 013
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import AddUnique, AlterColumn, DropUnique

revision = "014"
down_revision = "013"

CRON_UNIQUE_4 = ("workflow_input_hash", "workflow_name", "pattern", "project_id")
CRON_UNIQUE_5 = (*CRON_UNIQUE_4, "workflow_params_hash")
CRON_UNIQUE_7 = (*CRON_UNIQUE_5, "remaining_executions", "first_execution_time")

operations = [
    # Upstream drops the cron uniques of 001, 002 and 003 by the names MySQL
    # gives them (workflow_input_hash, _2, _3): a MySQL-only step.  SQLite
    # follows MySQL, so both end with the single 7-column unique added below.
    # PostgreSQL lost the first two in 009 and keeps 003's, so it ends with
    # two identical 7-column uniques (..._pattern_key2 and ..._pattern__key),
    # as upstream.
    DropUnique("cron_triggers_v2", CRON_UNIQUE_4, dialects=("mysql", "sqlite")),
    DropUnique("cron_triggers_v2", CRON_UNIQUE_5, dialects=("mysql", "sqlite")),
    DropUnique("cron_triggers_v2", CRON_UNIQUE_7, dialects=("mysql", "sqlite")),
    AddUnique("cron_triggers_v2", CRON_UNIQUE_7),
    AlterColumn("event_triggers_v2", "workflow_id", nullable=True),
    AlterColumn("resource_members_v2", "project_id", nullable=True),
]
