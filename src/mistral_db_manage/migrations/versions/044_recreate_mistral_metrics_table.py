"""recreate mistral metrics table

Revision ID: 044
Revises: 043
"""

from __future__ import annotations

from sqlalchemy import DateTime, Integer, String

from mistral_db_manage.migrations.ops import Col, CreateTable, DropTable, Sql

revision = "044"
down_revision = "043"

operations = [
    # The previous row's value is not kept, as upstream.
    DropTable("mistral_metrics"),
    CreateTable(
        "mistral_metrics",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            # PostgreSQL serial (sequence mistral_metrics_id_seq), MySQL AUTO_INCREMENT
            Col("id", Integer(), nullable=False, autoincrement=True),
            Col("name", String(255), nullable=False),
            Col("value", String(255), nullable=False),
        ],
        uniques=[("name",)],
    ),
    # created_at = updated_at = the current UTC time truncated to the second,
    # read from the server when the row is written (upstream: the client's
    # clock).  The explicit id leaves PostgreSQL's sequence at its start, as
    # upstream.  SQLite gets the text format SQLAlchemy stores DateTime in.
    Sql(
        "record the maintenance status RUNNING",
        {
            "postgresql": [
                "INSERT INTO mistral_metrics (created_at, updated_at, id, name, value) "
                "VALUES (date_trunc('second', timezone('utc', now())), "
                "date_trunc('second', timezone('utc', now())), "
                "1, 'maintenance_status', 'RUNNING')"
            ],
            "mysql": [
                "INSERT INTO mistral_metrics (created_at, updated_at, id, name, value) "
                "VALUES (UTC_TIMESTAMP(), UTC_TIMESTAMP(), 1, 'maintenance_status', 'RUNNING')"
            ],
            "sqlite": [
                "INSERT INTO mistral_metrics (created_at, updated_at, id, name, value) "
                "VALUES (strftime('%Y-%m-%d %H:%M:%S.000000', 'now'), "
                "strftime('%Y-%m-%d %H:%M:%S.000000', 'now'), "
                "1, 'maintenance_status', 'RUNNING')"
            ],
        },
        table_names=("mistral_metrics",),
    ),
]
