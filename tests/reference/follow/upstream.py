"""Upstream Mistral in a virtual environment of its own, and the few ways we run it.

Upstream is never imported here: it is installed from PyPI into its own
environment and run as a separate process, either through its own console
script (``mistral-db-manage --config-file F ...``) or through a short script of
ours, given on the command line, that its Python runs (create the models'
tables, read the populated rows, report package versions).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .servers import CommandError, run

#: The packages VERSIONS.txt names, in its order (mistral first).
RECORDED_PACKAGES = ("mistral", "alembic", "SQLAlchemy", "psycopg2-binary", "PyMySQL", "oslo.db")
DRIVERS = ("psycopg2-binary", "PyMySQL")

# -- scripts upstream's Python runs (arguments in sys.argv) ------------------------------

CREATE_ALL = """
import sys
import sqlalchemy as sa
from mistral.db.sqlalchemy import model_base
from mistral.db.v2.sqlalchemy import models  # noqa: F401  (registers the tables)
engine = sa.create_engine(sys.argv[1])
model_base.MistralSecureModelBase.metadata.create_all(engine)
engine.dispose()
"""

POPULATED_ROWS = """
import json, sys
import sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
left_out = {"id", "created_at", "updated_at"}
result = {}
with engine.connect() as connection:
    for table in sys.argv[2:]:
        columns = [c["name"] for c in sa.inspect(connection).get_columns(table)
                   if c["name"] not in left_out]
        query = sa.text("SELECT %s FROM %s ORDER BY name" % (", ".join(columns), table))
        result[table] = [dict(zip(columns, row)) for row in connection.execute(query)]
engine.dispose()
print(json.dumps(result))
"""

PREINSTALLED_FILES = """
import json, os
from importlib.metadata import entry_points
names = []
for entry in entry_points(group="mistral.preinstalled_workflows"):
    names += [os.path.basename(path) for path in entry.load()()]
print(json.dumps(sorted(names)))
"""

PACKAGE_VERSIONS = """
import json, sys
from importlib.metadata import version
print(json.dumps({name: version(name) for name in sys.argv[1:]}))
"""


@dataclass(frozen=True)
class Upstream:
    """An environment with upstream Mistral (and mistral-extra) installed."""

    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run_python(self, script: str, *args: str) -> str:
        return run([str(self.python), "-c", script, *args])

    def manage(self, url: str, *args: str) -> str:
        """Upstream's ``mistral-db-manage --config-file F ARGS`` on ``url``; its stdout."""
        with tempfile.TemporaryDirectory(prefix="mdm-upstream-") as directory:
            config = Path(directory) / "mistral.conf"
            config.write_text(f"[database]\nconnection = {url}\n", encoding="utf-8")
            console = self.venv / "bin" / "mistral-db-manage"
            return run([str(console), "--config-file", str(config), *args], cwd=Path(directory))

    def versions(self, *names: str) -> dict[str, str]:
        answer: dict[str, str] = json.loads(self.run_python(PACKAGE_VERSIONS, *names))
        return answer

    def create_all(self, url: str) -> None:
        self.run_python(CREATE_ALL, url)

    def rows(self, url: str, tables: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
        answer: dict[str, list[dict[str, Any]]] = json.loads(
            self.run_python(POPULATED_ROWS, url, *tables)
        )
        return answer

    def preinstalled_workflow_files(self) -> list[str]:
        names: list[str] = json.loads(self.run_python(PREINSTALLED_FILES))
        return names

    def history(self) -> str:
        """Upstream's ``history`` (no database needed: an in-memory SQLite URL)."""
        return self.manage("sqlite://", "history")


def installed_version(venv: Path, package: str) -> str | None:
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    try:
        return Upstream(venv).versions(package)[package]
    except (CommandError, KeyError, json.JSONDecodeError):
        return None


def ensure_upstream(
    venv: Path, mistral: str, extra: str, pins: dict[str, str], log: Callable[[str], None] = print
) -> Upstream:
    """Reuse ``venv`` if it holds these releases, else create it and install them.

    ``pins`` fixes the versions of other packages (alembic, SQLAlchemy, ...) so that a
    refresh of the reference's own release installs what the reference was made with.
    """
    if (installed_version(venv, "mistral") == mistral
            and installed_version(venv, "mistral-extra") == extra):
        log(f"reusing upstream environment {venv} (mistral {mistral}, mistral-extra {extra})")
        return Upstream(venv)
    log(f"installing mistral {mistral} and mistral-extra {extra} into {venv} "
        "(a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    requirements = [f"mistral=={mistral}", f"mistral-extra=={extra}"]
    requirements += [f"{name}=={pins[name]}" if name in pins else name for name in DRIVERS]
    requirements += [f"{name}=={version}" for name, version in pins.items()
                     if name not in DRIVERS and name != "mistral"]
    run([str(venv / "bin" / "pip"), "install", "-q", *requirements])
    return Upstream(venv)


_HISTORY_LINE = re.compile(r"^(\S+) -> (\S+?)(?: \((?:head|current|head, current)\))?, (.*)$")


@dataclass(frozen=True)
class UpstreamRevision:
    id: str
    down_revision: str | None
    message: str


def parse_history(text: str) -> list[UpstreamRevision]:
    """Upstream's ``history`` output, base first; a message may continue on further lines."""
    entries: list[list[str]] = []
    for line in text.splitlines():
        match = _HISTORY_LINE.match(line)
        if match:
            entries.append([match.group(1), match.group(2), match.group(3)])
        elif entries and line.strip():
            entries[-1][2] += "\n" + line
    revisions = [
        UpstreamRevision(rev, None if down == "<base>" else down, message)
        for down, rev, message in entries
    ]
    revisions.reverse()
    return revisions
