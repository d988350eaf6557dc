"""add a column, then fill it

Revision ID: 046
Revises: 045
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AddColumn, Col, Sql
from mistral_db_manage.migrations.work import Rewrite

revision = "046"
down_revision = "045"

operations = [
    AddColumn("delayed_calls_v2", Col("owner", String(64))),
    Sql("give delayed calls an owner",
        {"*": ["UPDATE delayed_calls_v2 SET owner = 'mistral' WHERE owner IS NULL"]},
        table_names=("delayed_calls_v2",), work=(Rewrite("delayed_calls_v2", 0.001),)),
]
