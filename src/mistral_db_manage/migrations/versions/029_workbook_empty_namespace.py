"""workbook_empty_namespace

Revision ID: 029
Revises: 028
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import Sql

revision = "029"
down_revision = "028"

operations = [
    Sql(
        "set the empty namespace on workbooks that have none",
        {"*": ["UPDATE workbooks_v2 SET namespace = '' WHERE namespace IS NULL"]},
        table_names=("workbooks_v2",),
    ),
]
