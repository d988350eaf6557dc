"""Add indexes to scheduled_jobs_v2.

Revision ID: 045
Revises: 044
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import CreateIndex

revision = "045"
down_revision = "044"

operations = [
    CreateIndex(
        "scheduled_jobs_v2_execute_at_captured_at",
        "scheduled_jobs_v2",
        ("execute_at", "captured_at"),
    ),
    CreateIndex("scheduled_jobs_v2_key", "scheduled_jobs_v2", ("key",)),
]
