"""add a Boolean column 'processed' to the table  delayed_calls_v2

Revision ID: 006
Revises: 005
"""

from __future__ import annotations

from sqlalchemy import Boolean

from mistral_db_manage.migrations.ops import AddColumn, Col

revision = "006"
down_revision = "005"

operations = [
    # The column is NOT NULL without a server default (the model's False is a
    # Python-side default).  Upstream therefore fails on PostgreSQL and SQLite
    # when delayed_calls_v2 has rows, while MariaDB fills them with 0.
    # Deliberate improvement: ``fill`` gives existing rows false on every
    # dialect (PostgreSQL: a temporary DEFAULT false dropped right after;
    # SQLite: the rebuild copies false, a keyword since SQLite 3.23; MySQL:
    # the plain ADD COLUMN, which fills 0).  The resulting schema is exactly
    # upstream's: NOT NULL, no default.
    AddColumn("delayed_calls_v2", Col("processing", Boolean(), nullable=False), fill="false"),
]
