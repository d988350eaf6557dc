"""index the tasks by state, then drop it again

Revision ID: 046
Revises: 045
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import CreateIndex, DropIndex

revision = "046"
down_revision = "045"

operations = [
    CreateIndex("task_executions_v2_state", "task_executions_v2", ("state",)),
    DropIndex("task_executions_v2_state", "task_executions_v2"),
]
