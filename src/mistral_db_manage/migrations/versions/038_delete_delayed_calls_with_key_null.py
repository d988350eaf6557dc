"""Delete delayed calls with key=NULL.

Revision ID: 038
Revises: 037
"""

from __future__ import annotations

from mistral_db_manage.migrations.ops import Sql

revision = "038"
down_revision = "037"

operations = [
    # Rows with key = '' are kept, as upstream.
    Sql(
        "delete delayed calls whose key is NULL",
        {
            "mysql": ["DELETE FROM delayed_calls_v2 WHERE `key` IS NULL"],
            "*": ['DELETE FROM delayed_calls_v2 WHERE "key" IS NULL'],
        },
        table_names=("delayed_calls_v2",),
    ),
]
