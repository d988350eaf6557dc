"""Rows for the tests of upgrades with data, and every row of a database to compare.

* :func:`seed_019` -- rows at revision 019 in the tables the data revisions (020 to 045)
  rewrite;
* :func:`mistral_rows` -- every row of every Mistral table, for comparing a database with an
  uninterrupted run's.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from mistral_db_manage.runner.connect import create_engine_checked

OWN_TABLES = ("mistral_db_manage_runs", "mistral_db_manage_journal", "mistral_db_manage_lock")


def seed_019(url: str, tasks: int = 300) -> None:
    """Rows at revision 019 for the data revisions to rewrite (020's task types, 022's
    namespaces, 038's delayed calls, ...); ``tasks`` task executions."""
    specs = ['{"workflow": "wf"}', '{"action": "std.noop"}', "[]", '{"workflow": null}',
             '"a workflow"']
    engine = create_engine_checked(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO workflow_executions_v2 (id, name, created_at) "
                "VALUES ('w1', 'wf', :at), ('w2', 'wf2', :at)"), {"at": datetime(2020, 1, 1)})
            connection.execute(
                sa.text("INSERT INTO task_executions_v2 (id, name, spec, workflow_execution_id) "
                        "VALUES (:id, 't', :spec, :wf)"),
                [{"id": f"t{n:06d}", "spec": specs[n % len(specs)], "wf": f"w{1 + n % 2}"}
                 for n in range(tasks)],
            )
            connection.execute(
                sa.text("INSERT INTO action_executions_v2 (id, workflow_name, task_execution_id)"
                        " VALUES (:id, :name, 't000000')"),
                [{"id": f"a{n:04d}", "name": (None, "", "wf")[n % 3]} for n in range(60)],
            )
            connection.execute(sa.text(
                "INSERT INTO workflow_definitions_v2 (id, name, project_id) "
                "VALUES ('d1', 'wf', 'p')"))
            connection.execute(sa.text(
                "INSERT INTO workbooks_v2 (id, name, project_id) VALUES ('b1', 'wb', 'p')"))
            key = "`key`" if engine.dialect.name == "mysql" else "key"
            connection.execute(
                sa.text("INSERT INTO delayed_calls_v2 (id, target_method_name, execution_time, "
                        f"processing, {key}) VALUES (:id, 'm', :at, :p, :key)"),
                [{"id": i, "at": datetime(2020, 1, 1), "p": False, "key": k}
                 for i, k in (("c-null", None), ("c-empty", ""), ("c-key", "k"))],
            )
    finally:
        engine.dispose()


#: columns filled with the time of the run (044 recreates the metrics with "now")
_TIME_OF_RUN = {("mistral_metrics", "created_at"), ("mistral_metrics", "updated_at")}


def mistral_rows(url: str, *, causal: bool = False) -> dict[str, list[str]]:
    """Every row of every Mistral table, as sorted JSON texts (run-time stamps left out)."""
    engine = create_engine_checked(url)
    try:
        with engine.connect() as connection:
            if causal:
                connection.exec_driver_sql("SET SESSION wsrep_sync_wait = 15")
            names = sorted(set(sa.inspect(connection).get_table_names()) - set(OWN_TABLES))
            found: dict[str, list[str]] = {}
            for name in names:
                result = connection.execute(sa.text(f"SELECT * FROM {name}"))
                columns = list(result.keys())
                found[name] = sorted(
                    json.dumps({c: _plain(v) for c, v in zip(columns, row, strict=True)
                                if (name, c) not in _TIME_OF_RUN}, sort_keys=True)
                    for row in result
                )
            return found
    finally:
        engine.dispose()


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


