"""Kilo release

Revision ID: 001
Revises: None
"""

from __future__ import annotations

from sqlalchemy import CHAR, Boolean, DateTime, Integer, String, Text

from mistral_db_manage.migrations.ops import FK, Col, CreateTable
from mistral_db_manage.schema.types import Json, JsonLong

revision = "001"
down_revision = None

operations = [
    CreateTable(
        "workbooks_v2",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("scope", String(80)),
            Col("project_id", String(80)),
            Col("id", String(36), nullable=False),
            Col("name", String(80)),
            Col("definition", Text()),
            Col("spec", Json()),
            Col("tags", Json()),
        ],
        uniques=[("name", "project_id")],
    ),
    CreateTable(
        "tasks",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("id", String(36), nullable=False),
            Col("name", String(80)),
            Col("requires", Json()),
            Col("workbook_name", String(80)),
            Col("execution_id", String(36)),
            Col("description", String(200)),
            Col("task_spec", Json()),
            Col("action_spec", Json()),
            Col("state", String(20)),
            Col("tags", Json()),
            Col("in_context", Json()),
            Col("parameters", Json()),
            Col("output", Json()),
            Col("task_runtime_context", Json()),
        ],
    ),
    CreateTable(
        "action_definitions_v2",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("scope", String(80)),
            Col("project_id", String(80)),
            Col("id", String(36), nullable=False),
            Col("name", String(80)),
            Col("definition", Text()),
            Col("spec", Json()),
            Col("tags", Json()),
            Col("description", Text()),
            Col("input", Text()),
            Col("action_class", String(200)),
            Col("attributes", Json()),
            Col("is_system", Boolean()),
        ],
        uniques=[("name", "project_id")],
    ),
    CreateTable(
        "workflow_definitions_v2",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("scope", String(80)),
            Col("project_id", String(80)),
            Col("id", String(36), nullable=False),
            Col("name", String(80)),
            Col("definition", Text()),
            Col("spec", Json()),
            Col("tags", Json()),
        ],
        uniques=[("name", "project_id")],
    ),
    # The single execution table of Kilo; 013 replaces it with three tables
    # but never drops it.
    CreateTable(
        "executions_v2",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("scope", String(80)),
            Col("project_id", String(80)),
            Col("type", String(50)),
            Col("id", String(36), nullable=False),
            Col("name", String(80)),
            Col("workflow_name", String(80)),
            Col("spec", Json()),
            Col("state", String(20)),
            Col("state_info", String(1024)),
            Col("tags", Json()),
            Col("accepted", Boolean()),
            Col("input", Json()),
            Col("output", JsonLong()),
            Col("params", Json()),
            Col("context", Json()),
            Col("action_spec", Json()),
            Col("processed", Boolean()),
            Col("in_context", JsonLong()),
            Col("published", Json()),
            Col("runtime_context", Json()),
            Col("task_execution_id", String(36)),
            Col("workflow_execution_id", String(36)),
        ],
        foreign_keys=[
            FK(("task_execution_id",), "executions_v2"),
            FK(("workflow_execution_id",), "executions_v2"),
        ],
    ),
    CreateTable(
        "workbooks",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("id", String(36), nullable=False),
            Col("name", String(80), nullable=False),
            Col("definition", Text()),
            Col("description", String(200)),
            Col("tags", Json()),
            Col("scope", String(80)),
            Col("project_id", String(80)),
            Col("trust_id", String(80)),
        ],
        primary_key=("id", "name"),
        uniques=[("name",)],
    ),
    CreateTable(
        "environments_v2",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("scope", String(80)),
            Col("project_id", String(80)),
            Col("id", String(36), nullable=False),
            Col("name", String(200)),
            Col("description", Text()),
            Col("variables", Json()),
        ],
        uniques=[("name", "project_id")],
    ),
    CreateTable(
        "triggers",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("id", String(36), nullable=False),
            Col("name", String(80), nullable=False),
            Col("pattern", String(20), nullable=False),
            Col("next_execution_time", DateTime(), nullable=False),
            Col("workbook_name", String(80), nullable=False),
        ],
        uniques=[("name",)],
    ),
    CreateTable(
        "delayed_calls_v2",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("id", String(36), nullable=False),
            Col("factory_method_path", String(200)),
            Col("target_method_name", String(80), nullable=False),
            Col("method_arguments", Json()),
            Col("serializers", Json()),
            Col("auth_context", Json()),
            Col("execution_time", DateTime(), nullable=False),
        ],
    ),
    CreateTable(
        "workflow_executions",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("id", String(36), nullable=False),
            Col("workbook_name", String(80)),
            Col("task", String(80)),
            Col("state", String(20)),
            Col("context", Json()),
        ],
    ),
    CreateTable(
        "cron_triggers_v2",
        [
            Col("created_at", DateTime()),
            Col("updated_at", DateTime()),
            Col("scope", String(80)),
            Col("project_id", String(80)),
            Col("id", String(36), nullable=False),
            Col("name", String(200)),
            Col("pattern", String(100)),
            Col("next_execution_time", DateTime(), nullable=False),
            Col("workflow_name", String(80)),
            Col("remaining_executions", Integer()),
            Col("workflow_id", String(36)),
            Col("workflow_input", Json()),
            Col("workflow_input_hash", CHAR(64)),
            Col("trust_id", String(80)),
        ],
        uniques=[
            ("name", "project_id"),
            ("workflow_input_hash", "workflow_name", "pattern", "project_id"),
        ],
        foreign_keys=[FK(("workflow_id",), "workflow_definitions_v2")],
    ),
]
