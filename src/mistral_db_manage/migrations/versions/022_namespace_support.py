"""namespace_support

Revision ID: 022
Revises: 021
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import (
    AddUnique,
    Col,
    DropUnique,
    Sql,
    add_column_with_value,
)
from mistral_db_manage.migrations.work import Rewrite, Scan

revision = "022"
down_revision = "021"

# Upstream's data step sets the empty namespace on every workflow definition,
# workflow execution and task execution, and on an action execution only when
# its workflow_name is truthy in Python (not NULL, not '').  Here the columns
# are added with that value for the existing rows (constant time on
# PostgreSQL and MariaDB, see add_column_with_value), and the action
# executions whose workflow_name is NULL or '' are put back to NULL.
# length() rather than = '': with MySQL's PAD SPACE collations '  ' = '' is
# true, but '  ' is a truthy string.
operations = [
    *add_column_with_value("workflow_definitions_v2", Col("namespace", String(255)), "''"),
    # Upstream drops 001's (name, project_id) unique by the name MySQL gives it
    # (name).  SQLite follows MySQL.  PostgreSQL keeps its
    # workflow_definitions_v2_name_project_id_key until 035.
    DropUnique(
        "workflow_definitions_v2", ("name", "project_id"), dialects=("mysql", "sqlite")
    ),
    AddUnique("workflow_definitions_v2", ("name", "namespace", "project_id")),
    *add_column_with_value(
        "workflow_executions_v2", Col("workflow_namespace", String(255)), "''"
    ),
    *add_column_with_value("task_executions_v2", Col("workflow_namespace", String(255)), "''"),
    *add_column_with_value(
        "action_executions_v2", Col("workflow_namespace", String(255)), "''"
    ),
    Sql(
        "leave the namespace of action executions without a workflow name NULL",
        {
            "*": [
                "UPDATE action_executions_v2 SET workflow_namespace = NULL "
                "WHERE workflow_name IS NULL OR length(workflow_name) = 0",
            ]
        },
        table_names=("action_executions_v2",),
        # actions run outside a workflow are few (an estimate)
        work=(Scan("action_executions_v2"), Rewrite("action_executions_v2", 0.01)),
    ),
]
