"""A draft revision file for an upstream revision we lack, checked against the reference.

:func:`draft_revision` takes the upstream revision's id, down revision and
message from ``history.txt``, its operations from the dumps before and after
it (:mod:`.draft`), and then applies them to the schema our chain describes at
the down revision: whatever still differs from upstream's dump after the
revision, on either server, is written into the file as a note, next to the
notes :mod:`.draft` made and the reminder that data changes are invisible in a
schema dump.  Given upstream's environment, the lines of upstream's revision
file that look like data changes are named (by line number, nothing copied).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mistral_db_manage.migrations.ops import Operation
from mistral_db_manage.runner.autogen import render_revision, slug
from mistral_db_manage.runner.chain import Chain, scan_directory
from mistral_db_manage.runner.verify import compare_shapes, shapes_from_state
from mistral_db_manage.schema.history import state_at
from mistral_db_manage.schema.state import DIALECTS, SchemaState

from . import dumps
from .draft import SERVERS, merge, steps
from .lacking import straight_prefix, upstream_revisions

UPSTREAM_VERSIONS = "mistral/db/sqlalchemy/migration/alembic_migrations/versions"
_DATA_CALL = re.compile(r"\bexecute\(|\bbulk_insert\(|\.(update|insert|delete)\(\)")


@dataclass(frozen=True)
class Draft:
    revision: str
    down_revision: str | None
    message: str
    operations: tuple[Operation, ...]
    notes: tuple[str, ...]
    #: differences left between the draft's schema and upstream's (empty: none)
    residual: tuple[str, ...]

    @property
    def file_name(self) -> str:
        return f"{self.revision}_{slug(self.message)}.py"

    def source(self) -> str:
        return render_revision(self.revision, self.down_revision, self.message,
                               self.operations, notes=self.notes)


def upstream_data_lines(upstream_venv: Path, revision: str) -> list[str]:
    """``file:line`` of upstream's revision file where it seems to change rows."""
    found: list[str] = []
    for site in sorted(upstream_venv.glob("lib/python3*/site-packages")):
        for path in sorted((site / UPSTREAM_VERSIONS).glob(f"{revision}_*.py")):
            lines = path.read_text(encoding="utf-8").splitlines()
            found += [f"{path.name}:{number}" for number, line in enumerate(lines, start=1)
                      if _DATA_CALL.search(line)]
    return found


def _base_state(versions_dir: Path, down_revision: str | None, dialect: str) -> SchemaState | None:
    """Our chain's schema at ``down_revision``, if the chain reaches it."""
    line = straight_prefix(scan_directory(versions_dir))
    if down_revision is not None and down_revision not in {r.id for r in line}:
        return None
    return state_at(Chain(line), dialect, down_revision)


def check(operations: list[Operation], versions_dir: Path, reference_dir: Path,
          down_revision: str | None, revision: str) -> list[str]:
    """What still differs from upstream after ``operations``, per dialect."""
    residual: list[str] = []
    for dialect in DIALECTS:
        state = _base_state(versions_dir, down_revision, dialect)
        if state is None:
            return [f"not checked: the chain here does not reach {down_revision}; "
                    "draft the revisions before it first"]
        try:
            for operation in operations:
                if operation.applies_to(dialect):
                    operation.apply_state(state)
        except (KeyError, ValueError) as error:
            residual.append(f"{dialect}: the operations do not apply: {error}")
            continue
        if dialect in SERVERS:
            expected = dumps.shapes(dumps.read(reference_dir, dialect, revision))
            residual += [f"{dialect}: {line}"
                         for line in compare_shapes(expected, shapes_from_state(state), exact=True)]
    return residual


def draft_revision(
    revision: str,
    *,
    reference_dir: Path,
    versions_dir: Path,
    upstream_venv: Path | None = None,
) -> Draft:
    by_id = {r.id: r for r in upstream_revisions(reference_dir)}
    if revision not in by_id:
        raise SystemExit(f"draft: upstream has no revision {revision} "
                         "(see upstream-schema/history.txt)")
    upstream = by_id[revision]
    down = upstream.down_revision
    by_dialect = {
        d: steps(dumps.read(reference_dir, d, down), dumps.read(reference_dir, d, revision))
        for d in SERVERS
    }
    operations, notes = merge(by_dialect)
    residual = check(operations, versions_dir, reference_dir, down, revision)
    notes += [f"the draft does not reach upstream's schema: {line}" for line in residual]
    where = "; upstream's file changes rows at " if upstream_venv else ""
    data_lines = upstream_data_lines(upstream_venv, revision) if upstream_venv else []
    notes.append(
        "data changes are invisible in schema dumps: read upstream's revision "
        f"{revision} and add Sql(...) operations for any rows it changes"
        + (where + ", ".join(data_lines) if data_lines else "")
    )
    return Draft(revision, down, upstream.message, tuple(operations), tuple(notes),
                 tuple(residual))
