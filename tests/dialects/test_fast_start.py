"""Fast start: the commands operators run most load nothing they do not need.

``current`` and ``history`` on a database at a known revision must not import
SQLAlchemy, Alembic, Mako or PyYAML; ``upgrade head`` on an empty database
(created at once from the rendered file) needs SQLAlchemy but neither Alembic,
Mako, PyYAML nor a single revision file.  Each is a subprocess that reports
what it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dbs import FreshDatabase
from helpers import write_config

HEAVY = ("sqlalchemy", "alembic", "mako", "yaml")

_PROBE = """
import json, sys
from mistral_db_manage.cli import main
code = main(sys.argv[1:])
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(%r)))
revisions = sorted(n for n in sys.modules if n.startswith("mistral_db_manage.migrations.versions"))
print(json.dumps({"code": code, "heavy": heavy, "revisions": revisions}))
"""


def _imports(conf: Path, *args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE % json.dumps(HEAVY), "--config-file", str(conf), *args],
        capture_output=True, text=True, check=False, cwd=conf.parent,
    )
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_current_history_and_a_new_database_skip_the_heavy_modules(
    fresh_db: FreshDatabase, tmp_path: Path
) -> None:
    conf = write_config(tmp_path, fresh_db.url)
    assert _imports(conf, "upgrade", "head") == {
        "code": 0, "heavy": ["sqlalchemy"], "revisions": []}
    assert fresh_db.rows("SELECT version_num FROM alembic_version") == [("045",)]
    assert _imports(conf, "current") == {"code": 0, "heavy": [], "revisions": []}
    assert _imports(conf, "history") == {"code": 0, "heavy": [], "revisions": []}
    # A database whose answer is not plain (Mistral tables, no version row) takes
    # the full path, which explains it: the probe sees SQLAlchemy there.
    fresh_db.execute("DELETE FROM alembic_version")
    report = _imports(conf, "current")
    assert report["code"] != 0 and "sqlalchemy" in report["heavy"]  # type: ignore[operator]
