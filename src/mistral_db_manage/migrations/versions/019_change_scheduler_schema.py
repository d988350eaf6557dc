"""Change scheduler schema.

Revision ID: 019
Revises: 018
"""

from __future__ import annotations

from sqlalchemy import String

from mistral_db_manage.migrations.ops import AddColumn, Col, CreateIndex, DropColumn, DropUnique

revision = "019"
down_revision = "018"

operations = [
    # Upstream drops 015's (unique_key, processing) unique by the name MySQL
    # gives it (unique_key) before dropping the column: without that, MySQL
    # would keep a unique on processing alone.  SQLite follows MySQL (its
    # rebuild would drop the unique with the column anyway).  On PostgreSQL
    # DROP COLUMN drops the constraint.  Upstream's other guarded drop, of a
    # unique named delayed_calls_v2_processing_execution_time, never fires
    # (that object is a plain index, which stays).
    DropUnique("delayed_calls_v2", ("unique_key", "processing"), dialects=("mysql", "sqlite")),
    DropColumn("delayed_calls_v2", "unique_key"),
    AddColumn("delayed_calls_v2", Col("key", String(250))),
    CreateIndex("delayed_calls_v2_execution_time", "delayed_calls_v2", ("execution_time",)),
]
