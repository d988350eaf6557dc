"""``tests/reference/refresh``: rebuild the upstream reference from a Mistral release.

Installs the release (and mistral-extra) in a virtual environment of its own,
then, for every revision upstream's ``history`` lists, runs upstream's
``mistral-db-manage upgrade NNN`` on a fresh PostgreSQL and a fresh MariaDB
database and keeps the normalised dump; adds the models' ``create_all`` dumps
(PostgreSQL, MariaDB, SQLite), upstream's offline scripts up to 008, the rows
``populate`` writes, ``VERSIONS.txt`` and ``history.txt``.  The online traces
and the SQLite and offline probes are not rebuilt (see MAINTAINING.md).
Everything is computed first and written at the end, in the layout of
``tests/reference`` (``--out`` elsewhere).  Standard library only.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .servers import (
    MYSQL,
    POSTGRESQL,
    SERVER_DIALECTS,
    Server,
    canonical_foreign_key_names,
    client_versions,
    dump_sqlite,
    fresh_database,
    servers,
)
from .upstream import RECORDED_PACKAGES, Upstream, ensure_upstream, parse_history

REFERENCE_DIR = Path(__file__).resolve().parent.parent
SCHEMA = "upstream-schema"
POPULATE_FILE = "upstream-populate.json"
HISTORY_FILE = "history.txt"
#: mistral-extra of the same OpenStack series as each Mistral release we have used
EXTRA_FOR = {"23.0.0": "17.0.0"}
PARTS = ("dumps", "models", "offline", "populate", "versions", "history")
#: upstream's offline scripts: --sql from 001 to 008 and from an empty database to 008
OFFLINE = {"offline-001-008.sql": "001:008", "offline-base-008.sql": "008"}
POPULATED_TABLES = ("action_definitions_v2", "workflow_definitions_v2")
NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}

Files = dict[str, str]


def recorded_versions(reference: Path) -> dict[str, str]:
    """Package versions from ``upstream-schema/VERSIONS.txt`` (``name version`` lines)."""
    path = reference / SCHEMA / "VERSIONS.txt"
    if not path.is_file():
        return {}
    versions = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith(("server:", "client:")):
            versions[parts[0]] = parts[1]
    return versions


def revision_dump(upstream: Upstream, server: Server, revision: str) -> str:
    with fresh_database(server) as database:
        upstream.manage(server.url(database), "upgrade", revision)
        return server.dump(database)


def models_dumps(upstream: Upstream, all_servers: dict[str, Server]) -> Files:
    files: Files = {}
    for dialect in SERVER_DIALECTS:
        server = all_servers[dialect]
        with fresh_database(server) as database:
            upstream.create_all(server.url(database))
            text = server.dump(database)
        if dialect == MYSQL:
            text = canonical_foreign_key_names(text)
        files[f"{SCHEMA}/{dialect}/head-models.sql"] = text
    with tempfile.TemporaryDirectory(prefix="mdm-ref-") as directory:
        path = Path(directory) / "models.sqlite"
        upstream.create_all(f"sqlite:///{path}")
        files[f"{SCHEMA}/sqlite/head-models.sql"] = dump_sqlite(path)
    return files


def populate_rows(upstream: Upstream, server: Server, mistral: str, extra: str) -> str:
    with fresh_database(server) as database:
        url = server.url(database)
        upstream.manage(url, "upgrade", "head")
        upstream.manage(url, "populate")
        rows: dict[str, object] = dict(upstream.rows(url, POPULATED_TABLES))
    files = upstream.preinstalled_workflow_files()
    listed = ", ".join(files[:-1]) + f" and {files[-1]}" if len(files) > 1 else "".join(files)
    count = NUMBERS.get(len(files), str(len(files)))
    rows["_about"] = (
        f"Rows written by upstream Mistral {mistral} `mistral-db-manage populate` on "
        f"PostgreSQL at head, with mistral-extra {extra} installed (its "
        f"mistral.preinstalled_workflows entry point returns the paths of {count} YAML "
        f"files, {listed}, whose text is each row's `definition`). id, created_at and "
        "updated_at are left out. JSON columns (spec, tags) are stored as text exactly as "
        "shown."
    )
    return json.dumps(rows, indent=1)


def versions_file(upstream: Upstream, all_servers: dict[str, Server]) -> str:
    versions = upstream.versions(*RECORDED_PACKAGES)
    lines = [f"{name} {versions[name]}" for name in RECORDED_PACKAGES]
    lines += [f"server: {all_servers[d].version()}" for d in SERVER_DIALECTS]
    lines += [f"client: {line}" for line in client_versions()]
    return "\n".join(lines) + "\n"


def build(
    upstream: Upstream,
    all_servers: dict[str, Server],
    *,
    mistral: str,
    extra: str,
    parts: Sequence[str],
    only: Sequence[str] | None,
    jobs: int,
    log: Callable[[str], None],
) -> Files:
    """Every file of the reference (those of ``parts``), by path relative to the output."""
    files: Files = {}
    history = upstream.history()
    revisions = [r.id for r in parse_history(history)]
    if "history" in parts:
        files[f"{SCHEMA}/{HISTORY_FILE}"] = history
    if "dumps" in parts:
        wanted = [r for r in revisions if only is None or r in only]
        unknown = sorted(set(only or ()) - set(revisions))
        if unknown:
            raise SystemExit(f"refresh: upstream has no revision {', '.join(unknown)}")
        tasks = [(d, r) for d in SERVER_DIALECTS for r in wanted]
        log(f"dumping {len(wanted)} revision(s) on {', '.join(SERVER_DIALECTS)} "
            f"({jobs} at a time)")
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            dumps = pool.map(lambda t: revision_dump(upstream, all_servers[t[0]], t[1]), tasks)
            for (dialect, revision), text in zip(tasks, dumps, strict=True):
                files[f"{SCHEMA}/{dialect}/{revision}.sql"] = text
    if "models" in parts:
        log("dumping the models' create_all")
        files.update(models_dumps(upstream, all_servers))
    if "offline" in parts:
        for dialect in SERVER_DIALECTS:
            url = all_servers[dialect].url("offline_no_connection")
            for name, span in OFFLINE.items():
                files[f"{SCHEMA}/{dialect}/{name}"] = upstream.manage(url, "upgrade", span, "--sql")
    if "populate" in parts:
        log("running populate")
        files[POPULATE_FILE] = populate_rows(upstream, all_servers[POSTGRESQL], mistral, extra)
    if "versions" in parts:
        files[f"{SCHEMA}/VERSIONS.txt"] = versions_file(upstream, all_servers)
    return files


def write_files(out: Path, files: Files) -> list[str]:
    """Write ``files`` under ``out``; the paths whose content changed."""
    changed = []
    for relative, text in sorted(files.items()):
        path = out / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changed.append(relative)
    return changed


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    recorded = recorded_versions(REFERENCE_DIR).get("mistral")
    parser = argparse.ArgumentParser(
        prog="tests/reference/refresh",
        description="Rebuild the upstream reference by running a Mistral release.",
    )
    parser.add_argument("--mistral", default=recorded,
                        help=f"Mistral release to run (default: {recorded}, the reference's)")
    parser.add_argument("--mistral-extra", help="mistral-extra release of the same series "
                        f"(known: {', '.join(f'{m} -> {e}' for m, e in EXTRA_FOR.items())})")
    parser.add_argument("--out", type=Path, default=REFERENCE_DIR,
                        help="directory to write into, in the layout of tests/reference "
                        "(default: tests/reference itself)")
    parser.add_argument("--venv", type=Path, help="upstream's virtual environment, created "
                        "if missing (default: ~/.cache/mistral-db-manage/upstream-VERSION)")
    parser.add_argument("--revisions", help="comma-separated revisions to dump (default: all)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"what to write, comma-separated (default: {','.join(PARTS)})")
    parser.add_argument("--jobs", type=int, default=2, help="upgrades run at once (default 2)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[refresh {time.monotonic() - started:6.1f}s] {message}", flush=True)

    if not args.mistral:
        raise SystemExit("refresh: no --mistral version given and none recorded")
    extra = args.mistral_extra or EXTRA_FOR.get(args.mistral)
    if extra is None:
        raise SystemExit(f"refresh: give --mistral-extra for mistral {args.mistral}")
    parts = [p for p in args.parts.split(",") if p]
    if not set(parts) <= set(PARTS) or not 1 <= args.jobs <= 8:
        raise SystemExit(f"refresh: --parts takes {', '.join(PARTS)}; --jobs 1..8")
    recorded = recorded_versions(REFERENCE_DIR)
    # The reference's own release gets the library versions it was made with.
    pins = recorded if recorded.get("mistral") == args.mistral else {}
    venv = args.venv or Path.home() / ".cache" / "mistral-db-manage" / f"upstream-{args.mistral}"
    upstream = ensure_upstream(venv, args.mistral, extra, pins, log)
    only = args.revisions.split(",") if args.revisions else None
    files = build(upstream, servers(), mistral=args.mistral, extra=extra, parts=parts,
                  only=only, jobs=args.jobs, log=log)
    changed = write_files(args.out, files)
    log(f"wrote {len(files)} file(s) under {args.out}, {len(changed)} changed")
    for relative in changed:
        print(f"  changed: {relative}")
    return 0
