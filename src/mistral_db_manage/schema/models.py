"""The Mistral schema at head (revision 045): the tables as the chain leaves them.

These are the models ``revision --autogenerate`` and ``check_migration``
compare with, and the tables ``populate`` writes.  They describe exactly what
the migrations produce, not upstream's ``models.py``, which disagrees with
upstream's own migrations in places (REVISIONS.md lists them): here
``executions_v2`` still exists, ``workflow_executions_v2.description`` is
TEXT, ``root_execution_id`` is VARCHAR(80) without a foreign key,
``code_sources`` and ``dynamic_action_definitions`` keep their NOT NULL
columns, ``scheduled_jobs_v2.func_name`` is nullable, and the two
``*_task_execution_id`` indexes and ``delayed_calls_v2_processing_execution_time``
exist.  Column order is the migrated order.

Constraints are unnamed where upstream's revisions created them unnamed;
the server names them (see :mod:`.naming`).  Two server artefacts are not
modelled because they are not part of the design: PostgreSQL's duplicate
seven-column unique on ``cron_triggers_v2`` (``..._pattern_key2``, created by
upstream's revisions 003 and 014) and InnoDB's implicit foreign-key indexes.
"""

from __future__ import annotations

from sqlalchemy import (
    CHAR,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .types import Json, JsonLong, JsonMedium, MediumText

metadata = MetaData()


def _timestamps() -> list[Column[object]]:
    return [Column("created_at", DateTime), Column("updated_at", DateTime)]


def _scoped() -> list[Column[object]]:
    return [
        *_timestamps(),
        Column("scope", String(80)),
        Column("project_id", String(80)),
        Column("id", String(36), primary_key=True),
    ]


action_definitions_v2 = Table(
    "action_definitions_v2",
    metadata,
    *_scoped(),
    Column("name", String(255)),
    Column("definition", MediumText()),
    Column("spec", JsonMedium()),
    Column("tags", Json()),
    Column("description", Text),
    Column("input", Text),
    Column("action_class", String(200)),
    Column("attributes", Json()),
    Column("is_system", Boolean),
    Column("namespace", String(255)),
    Column("workbook_name", String(255)),
    UniqueConstraint("name", "namespace", "project_id"),
    Index("action_definitions_v2_action_class", "action_class"),
    Index("action_definitions_v2_is_system", "is_system"),
    Index("action_definitions_v2_project_id", "project_id"),
    Index("action_definitions_v2_scope", "scope"),
)

action_executions_v2 = Table(
    "action_executions_v2",
    metadata,
    *_scoped(),
    Column("name", String(255)),
    Column("description", String(255)),
    Column("workflow_name", String(255)),
    Column("workflow_id", String(80)),
    Column("spec", JsonMedium()),
    Column("state", String(20)),
    Column("state_info", Text),
    Column("tags", Json()),
    Column("runtime_context", JsonLong()),
    Column("accepted", Boolean),
    Column("input", JsonLong()),
    Column("output", JsonLong()),
    Column(
        "task_execution_id",
        String(36),
        ForeignKey("task_executions_v2.id", ondelete="CASCADE"),
    ),
    Column("workflow_namespace", String(255)),
    Column("last_heartbeat", DateTime),
    Column("is_sync", Boolean),
    Index("action_executions_v2_project_id", "project_id"),
    Index("action_executions_v2_scope", "scope"),
    Index("action_executions_v2_state", "state"),
    Index("action_executions_v2_task_execution_id", "task_execution_id"),
    Index("action_executions_v2_updated_at", "updated_at"),
)

code_sources = Table(
    "code_sources",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("project_id", String(80)),
    Column("namespace", String(255)),
    Column("content", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("tags", Json()),
    Column("scope", String(80)),
    *_timestamps(),
    UniqueConstraint("name", "namespace", "project_id"),
    Index("code_sources_project_id", "project_id"),
    Index("code_sources_scope", "scope"),
)

cron_triggers_v2 = Table(
    "cron_triggers_v2",
    metadata,
    *_scoped(),
    Column("name", String(200)),
    Column("pattern", String(100)),
    Column("next_execution_time", DateTime, nullable=False),
    Column("workflow_name", String(255)),
    Column("remaining_executions", Integer),
    Column("workflow_id", String(36), ForeignKey("workflow_definitions_v2.id")),
    Column("workflow_input", Json()),
    Column("workflow_input_hash", CHAR(64)),
    Column("trust_id", String(80)),
    Column("workflow_params", Json()),
    Column("workflow_params_hash", CHAR(64)),
    Column("first_execution_time", DateTime),
    UniqueConstraint("name", "project_id"),
    UniqueConstraint(
        "workflow_input_hash",
        "workflow_name",
        "pattern",
        "project_id",
        "workflow_params_hash",
        "remaining_executions",
        "first_execution_time",
    ),
    Index("cron_triggers_v2_next_execution_time", "next_execution_time"),
    Index("cron_triggers_v2_project_id", "project_id"),
    Index("cron_triggers_v2_scope", "scope"),
    Index("cron_triggers_v2_workflow_name", "workflow_name"),
)

delayed_calls_v2 = Table(
    "delayed_calls_v2",
    metadata,
    *_timestamps(),
    Column("id", String(36), primary_key=True),
    Column("factory_method_path", String(200)),
    Column("target_method_name", String(80), nullable=False),
    Column("method_arguments", Json()),
    Column("serializers", Json()),
    Column("auth_context", JsonMedium()),
    Column("execution_time", DateTime, nullable=False),
    Column("processing", Boolean, nullable=False),
    Column("key", String(250)),
    Index("delayed_calls_v2_execution_time", "execution_time"),
    Index("delayed_calls_v2_processing_execution_time", "processing", "execution_time"),
)

dynamic_action_definitions = Table(
    "dynamic_action_definitions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("class_name", String(255), nullable=False),
    Column("scope", String(80)),
    Column("project_id", String(80)),
    Column(
        "code_source_id",
        String(36),
        ForeignKey("code_sources.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("code_source_name", String(255), nullable=False),
    Column("namespace", String(255)),
    *_timestamps(),
    UniqueConstraint("name", "namespace", "project_id"),
    Index("dynamic_action_definitions_project_id", "project_id"),
    Index("dynamic_action_definitions_scope", "scope"),
)

environments_v2 = Table(
    "environments_v2",
    metadata,
    *_scoped(),
    Column("name", String(200)),
    Column("description", Text),
    Column("variables", JsonLong()),
    UniqueConstraint("name", "project_id"),
    Index("environments_v2_name", "name"),
    Index("environments_v2_project_id", "project_id"),
    Index("environments_v2_scope", "scope"),
)

event_triggers_v2 = Table(
    "event_triggers_v2",
    metadata,
    *_timestamps(),
    Column("project_id", String(80)),
    Column("scope", String(80)),
    Column("id", String(36), primary_key=True),
    Column("name", String(200)),
    Column("workflow_id", String(36), ForeignKey("workflow_definitions_v2.id")),
    Column("exchange", String(80), nullable=False),
    Column("topic", String(80), nullable=False),
    Column("event", String(80), nullable=False),
    Column("workflow_params", Json()),
    Column("workflow_input", Json()),
    Column("trust_id", String(80)),
    UniqueConstraint("exchange", "topic", "event", "workflow_id", "project_id"),
    Index("event_triggers_v2_project_id_workflow_id", "project_id", "workflow_id"),
)

executions_v2 = Table(
    "executions_v2",
    metadata,
    *_timestamps(),
    Column("scope", String(80)),
    Column("project_id", String(80)),
    Column("type", String(50)),
    Column("id", String(36), primary_key=True),
    Column("name", String(80)),
    Column("workflow_name", String(80)),
    Column("spec", Json()),
    Column("state", String(20)),
    Column("state_info", Text),
    Column("tags", Json()),
    Column("accepted", Boolean),
    Column("input", JsonLong()),
    Column("output", JsonLong()),
    Column("params", JsonLong()),
    Column("context", JsonLong()),
    Column("action_spec", JsonLong()),
    Column("processed", Boolean),
    Column("in_context", JsonLong()),
    Column("published", JsonLong()),
    Column("runtime_context", JsonLong()),
    Column("task_execution_id", String(36), ForeignKey("executions_v2.id")),
    Column("workflow_execution_id", String(36), ForeignKey("executions_v2.id")),
    Column("description", String(255)),
    Column("workflow_id", String(80)),
    Index("executions_v2_project_id", "project_id"),
    Index("executions_v2_scope", "scope"),
    Index("executions_v2_state", "state"),
    Index("executions_v2_task_execution_id", "task_execution_id"),
    Index("executions_v2_type", "type"),
    Index("executions_v2_updated_at", "updated_at"),
    Index("executions_v2_workflow_execution_id", "workflow_execution_id"),
)

mistral_metrics = Table(
    "mistral_metrics",
    metadata,
    *_timestamps(),
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("value", String(255), nullable=False),
    UniqueConstraint("name"),
)

named_locks = Table(
    "named_locks",
    metadata,
    *_timestamps(),
    Column("id", String(36), primary_key=True),
    Column("name", String(255)),
    UniqueConstraint("name"),
)

resource_members_v2 = Table(
    "resource_members_v2",
    metadata,
    Column("id", String(36), primary_key=True),
    *_timestamps(),
    Column("project_id", String(80)),
    Column("member_id", String(80), nullable=False),
    Column("resource_id", String(80), nullable=False),
    Column("resource_type", String(50), nullable=False),
    Column("status", String(20), nullable=False),
    UniqueConstraint("resource_id", "resource_type", "member_id"),
)

scheduled_jobs_v2 = Table(
    "scheduled_jobs_v2",
    metadata,
    *_timestamps(),
    Column("id", String(36), primary_key=True),
    Column("run_after", Integer),
    Column("target_factory_func_name", String(200)),
    Column("func_name", String(80)),
    Column("func_args", Json()),
    Column("func_arg_serializers", Json()),
    Column("auth_ctx", Json()),
    Column("execute_at", DateTime, nullable=False),
    Column("captured_at", DateTime),
    Column("key", String(250)),
    Index("scheduled_jobs_v2_execute_at_captured_at", "execute_at", "captured_at"),
    Index("scheduled_jobs_v2_key", "key"),
)

task_executions_v2 = Table(
    "task_executions_v2",
    metadata,
    *_scoped(),
    Column("name", String(255)),
    Column("description", String(255)),
    Column("workflow_name", String(255)),
    Column("workflow_id", String(80)),
    Column("spec", JsonMedium()),
    Column("state", String(20)),
    Column("state_info", Text),
    Column("tags", Json()),
    Column("runtime_context", JsonLong()),
    Column("action_spec", JsonLong()),
    Column("processed", Boolean),
    Column("in_context", JsonLong()),
    Column("published", JsonLong()),
    Column(
        "workflow_execution_id",
        String(36),
        ForeignKey("workflow_executions_v2.id", ondelete="CASCADE"),
    ),
    Column("unique_key", String(255)),
    Column("type", String(10)),
    Column("workflow_namespace", String(255)),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("has_next_tasks", Boolean),
    Column("error_handled", Boolean),
    Column("next_tasks", Json()),
    UniqueConstraint("unique_key"),
    Index("task_executions_v2_project_id", "project_id"),
    Index("task_executions_v2_scope", "scope"),
    Index("task_executions_v2_state", "state"),
    Index("task_executions_v2_updated_at", "updated_at"),
    Index("task_executions_v2_workflow_execution_id", "workflow_execution_id"),
    Index("task_executions_v2_workflow_execution_id_name", "workflow_execution_id", "name"),
)

workbooks_v2 = Table(
    "workbooks_v2",
    metadata,
    *_scoped(),
    Column("name", String(255)),
    Column("definition", MediumText()),
    Column("spec", JsonMedium()),
    Column("tags", Json()),
    Column("is_system", Boolean),
    Column("namespace", String(255)),
    UniqueConstraint("name", "namespace", "project_id"),
    Index("workbooks_v2_project_id", "project_id"),
    Index("workbooks_v2_scope", "scope"),
)

workflow_definitions_v2 = Table(
    "workflow_definitions_v2",
    metadata,
    *_scoped(),
    Column("name", String(255)),
    Column("definition", MediumText()),
    Column("spec", JsonMedium()),
    Column("tags", Json()),
    Column("is_system", Boolean),
    Column("namespace", String(255)),
    Column("workbook_name", String(255)),
    Column("checksum", String(32)),
    UniqueConstraint("name", "namespace", "project_id"),
    Index("workflow_definitions_v2_is_system", "is_system"),
    Index("workflow_definitions_v2_project_id", "project_id"),
    Index("workflow_definitions_v2_scope", "scope"),
)

workflow_executions_v2 = Table(
    "workflow_executions_v2",
    metadata,
    *_scoped(),
    Column("name", String(255)),
    Column("description", Text),
    Column("workflow_name", String(255)),
    Column("workflow_id", String(80)),
    Column("spec", JsonMedium()),
    Column("state", String(20)),
    Column("state_info", Text),
    Column("tags", Json()),
    Column("runtime_context", JsonLong()),
    Column("accepted", Boolean),
    Column("input", JsonLong()),
    Column("output", JsonLong()),
    Column("params", JsonLong()),
    Column("context", JsonLong()),
    Column(
        "task_execution_id",
        String(36),
        ForeignKey("task_executions_v2.id", ondelete="CASCADE", use_alter=True),
    ),
    Column("workflow_namespace", String(255)),
    Column("root_execution_id", String(80)),
    Index("workflow_executions_v2_project_id", "project_id"),
    Index("workflow_executions_v2_scope", "scope"),
    Index("workflow_executions_v2_state", "state"),
    Index("workflow_executions_v2_task_execution_id", "task_execution_id"),
    Index("workflow_executions_v2_updated_at", "updated_at"),
)
