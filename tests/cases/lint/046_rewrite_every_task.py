"""rewrite every task execution

Revision ID: 046
Revises: 045
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import Sql

revision = "046"
down_revision = "045"

operations = [
    Sql("set every task's state to itself",
        {"*": ["UPDATE task_executions_v2 SET state = state"]},
        table_names=("task_executions_v2",)),
]
