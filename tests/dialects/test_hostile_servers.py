"""The catalogue of hostile input (issue 13), the cases that need a server.

A definition larger than MariaDB's ``max_allowed_packet`` (16 MiB by default)
made ``populate`` end in a traceback showing the SQL and its parameters: now
it is refused by the size limit, and when the limit is raised the server's
refusal is one line that says what to do, with the database unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from dbs import FreshDatabase
from hostile import assert_one_line_error, mdm, write_config

#: a workflow of about 17 MB: one long description
PADDING = 17 * 1024 * 1024


def _definitions_count(database: FreshDatabase) -> int:
    engine = database.engine()
    try:
        with engine.connect() as connection:
            return int(connection.execute(
                sa.text("SELECT COUNT(*) FROM workflow_definitions_v2")).scalar() or 0)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_17_mb_definition_on_mariadb(mysql_db: FreshDatabase, tmp_path: Path) -> None:
    conf = write_config(tmp_path, mysql_db.url)
    assert mdm("--config-file", str(conf), "upgrade", "head", cwd=tmp_path).returncode == 0
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    (definitions / "huge.yaml").write_text(
        f"version: '2.0'\nhuge:\n  description: {'x' * PADDING}\n  tasks:\n    t:\n"
        "      action: std.noop\n", encoding="utf-8")
    before = _definitions_count(mysql_db)
    refused = mdm("--config-file", str(conf), "populate", "--path", str(definitions),
                  cwd=tmp_path)
    assert_one_line_error(refused, "huge.yaml", "more than the limit of 1024 KiB")
    raised = mdm("--config-file", str(conf), "populate", "--path", str(definitions),
                 "--max-definition-kb", "40000", cwd=tmp_path)
    line = assert_one_line_error(raised, "max_allowed_packet")
    assert "INSERT" not in line and "xxxxxxxx" not in line
    assert _definitions_count(mysql_db) == before
