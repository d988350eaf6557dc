"""create maintenance table

Revision ID: 042
Revises: 041
"""

from __future__ import annotations

from sqlalchemy import Integer, String

from mistral_db_manage.migrations.ops import Col, CreateTable, Sql

revision = "042"
down_revision = "041"

operations = [
    # Upstream's own SQL on PostgreSQL and MySQL.  The effect describes the
    # table it makes: the servers name the primary key and the unique
    # (PostgreSQL mistral_metrics_pkey and mistral_metrics_name_key, MySQL name)
    # exactly as for an unnamed constraint.  SQLite gets the same table written
    # with table constraints and an explicit NOT NULL: upstream's text would
    # leave its id nullable (SQLite's primary keys allow NULL) and a column
    # UNIQUE that SQLAlchemy does not reflect, so the table would not match
    # the state.
    Sql(
        "create table mistral_metrics",
        {
            "sqlite": [
                "CREATE TABLE IF NOT EXISTS mistral_metrics "
                "(name VARCHAR(255), value VARCHAR(255), id INT NOT NULL DEFAULT 1, "
                "PRIMARY KEY (id), UNIQUE (name))"
            ],
            "*": [
                "CREATE TABLE IF NOT EXISTS mistral_metrics "
                "(name VARCHAR(255) UNIQUE, value VARCHAR(255), id INT PRIMARY KEY DEFAULT 1)"
            ],
        },
        table_names=("mistral_metrics",),
        effect=CreateTable(
            "mistral_metrics",
            [
                Col("name", String(255)),
                Col("value", String(255)),
                Col("id", Integer(), nullable=False, server_default="1"),
            ],
            uniques=[("name",)],
        ),
        data=False,
    ),
    Sql(
        "record the maintenance status RUNNING",
        {
            "*": [
                "INSERT INTO mistral_metrics (id, name, value) "
                "VALUES (1, 'maintenance_status', 'RUNNING')"
            ]
        },
        table_names=("mistral_metrics",),
    ),
]
