"""The package's layout rules, checked on the source text.

* each bookkeeping table (and the migration lock) has one owner: no other
  module names the table or the lock's SQL;
* no import cycle between the package's parts (schema, migrations, runner,
  catalog, and the top-level modules);
* no module is much over 500 lines, except the frozen revision files.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import mistral_db_manage

PACKAGE = Path(mistral_db_manage.__file__).resolve().parent
SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "versions" not in p.parts)

#: owner module -> what only it may name
OWNED = {
    "runner/version.py": ("alembic_version", "version_table(", "VERSION_TABLE_NAME"),
    "runner/journal.py": ("mistral_db_manage_journal", "journal_table(", "JOURNAL_TABLE_NAME"),
    "runner/audit.py": ("mistral_db_manage_runs", "runs_table(", "RUNS_TABLE_NAME"),
    "runner/lockrow.py": ("mistral_db_manage_lock", "lock_table(", "LOCK_TABLE_NAME"),
    "runner/lock.py": ("flock", "Heartbeat("),
}
#: the one place that lists this tool's tables by their constants, to leave them out
TABLE_LIST = "runner/database.py"


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_each_bookkeeping_table_has_one_owner() -> None:
    offenders = []
    for path in SOURCES:
        name = _relative(path)
        text = path.read_text(encoding="utf-8")
        for owner, words in OWNED.items():
            if name == owner:
                continue
            for word in words:
                allowed = name == TABLE_LIST and word.endswith("_TABLE_NAME")
                if re.search(r"\b" + re.escape(word), text) and not allowed:
                    offenders.append(f"{name} names {word!r}, which {owner} owns")
    assert offenders == []


def test_the_revision_files_name_no_bookkeeping_table() -> None:
    versions = PACKAGE / "migrations" / "versions"
    words = [w for owned in OWNED.values() for w in owned]
    named = [
        (p.name, w) for p in sorted(versions.glob("*.py"))
        for w in words if re.search(r"\b" + re.escape(w), p.read_text(encoding="utf-8"))
    ]
    assert named == []


def _part(module: str) -> str:
    """schema, migrations, runner, catalog; a top-level module is a part of its own."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else module


def _imports(path: Path) -> set[str]:
    """The modules of this package ``path`` imports (TYPE_CHECKING imports included)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("mistral_db_manage"):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("mistral_db_manage"))
    return found


def test_no_import_cycle_between_parts() -> None:
    edges: dict[str, set[str]] = {}
    for path in SOURCES:
        source = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for target in _imports(path):
            inner = target.split(".", 1)[1] if "." in target else ""
            if not inner:
                continue
            first = inner.split(".")[0]
            if not (PACKAGE / first).is_dir() and not (PACKAGE / f"{first}.py").is_file():
                continue
            a, b = _part(source), first
            if a != b and not a.startswith("__"):
                edges.setdefault(a, set()).add(b)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(f"{a} -> {b}" for a, bs in edges.items() for b in bs if reaches(b, a, {b}))
    assert cycles == []


def test_modules_stay_small() -> None:
    large = {
        _relative(p): n for p in SOURCES
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 520
    }
    assert large == {}


def _function_imports(tree: ast.Module) -> list[ast.stmt]:
    found: list[ast.stmt] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.extend(n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return found


def test_local_imports_say_why() -> None:
    """A function-local import is there for start-up time, and the module says so."""
    unexplained = []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        if _function_imports(ast.parse(text)) and not re.search(r"start-up time", text):
            unexplained.append(_relative(path))
    assert unexplained == []
