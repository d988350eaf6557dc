"""namespace_support

Revision ID: 022
Revises: 021
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AddColumn, AddUnique, Col, DropUnique, Sql

revision = "022"
down_revision = "021"

operations = [
    AddColumn("workflow_definitions_v2", Col("namespace", String(255))),
    # Upstream drops 001's (name, project_id) unique by the name MySQL gives it
    # (name).  SQLite follows MySQL.  PostgreSQL keeps its
    # workflow_definitions_v2_name_project_id_key until 035.
    DropUnique(
        "workflow_definitions_v2", ("name", "project_id"), dialects=("mysql", "sqlite")
    ),
    AddUnique("workflow_definitions_v2", ("name", "namespace", "project_id")),
    AddColumn("workflow_executions_v2", Col("workflow_namespace", String(255))),
    AddColumn("task_executions_v2", Col("workflow_namespace", String(255))),
    AddColumn("action_executions_v2", Col("workflow_namespace", String(255))),
    # Upstream's data step, set-based: every workflow definition, workflow
    # execution and task execution gets the empty namespace; an action
    # execution gets it only when its workflow_name is truthy in Python (not
    # NULL, not '').  length() rather than <> '': with MySQL's PAD SPACE
    # collations '  ' = '' is true, but '  ' is a truthy string.
    Sql(
        "set the empty namespace on existing definitions and executions",
        {
            "*": [
                "UPDATE workflow_definitions_v2 SET namespace = ''",
                "UPDATE workflow_executions_v2 SET workflow_namespace = ''",
                "UPDATE task_executions_v2 SET workflow_namespace = ''",
                "UPDATE action_executions_v2 SET workflow_namespace = '' "
                "WHERE workflow_name IS NOT NULL AND length(workflow_name) > 0",
            ]
        },
        table_names=(
            "workflow_definitions_v2",
            "workflow_executions_v2",
            "task_executions_v2",
            "action_executions_v2",
        ),
    ),
]
