"""The revision chain: the files on disk and the graph they form.

Revision files are read with :mod:`ast`, not imported, so ``current`` and
``history`` know the chain without importing SQLAlchemy types or the
operations of 45 revisions.  :meth:`Chain.operations` imports one revision
when it is about to be applied or its schema state is needed.

The graph must be a single line from one base to one head; ``Chain.load``
refuses anything else with a message that says how to fix it, and
``find_problems`` lists every problem for ``check_migration``.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import ChainError, RevisionError

if TYPE_CHECKING:
    from ..migrations.ops import Operation

VERSIONS_DIR = Path(__file__).resolve().parent.parent / "migrations" / "versions"


@dataclass(frozen=True)
class Revision:
    id: str
    down_revision: str | None
    message: str
    path: Path


def _literal(module: ast.Module, name: str) -> Any:
    for node in module.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id == name and value is not None:
                return ast.literal_eval(value)
    raise KeyError(name)


def read_revision_file(path: Path) -> Revision:
    """Read a revision's id, down revision and message without importing it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as error:
        raise ChainError(f"{path}: not a valid revision file ({_one_line(error)})") from None
    return read_revision_text(text, path)


def _one_line(error: BaseException) -> str:
    lines = str(error).splitlines() or [type(error).__name__]
    return lines[0].encode("unicode_escape", "backslashreplace").decode("ascii")


def read_revision_text(text: str, path: Path) -> Revision:
    """The id, down revision and message of the revision source ``text`` (from ``path``)."""
    try:
        module = ast.parse(text, filename=str(path))
        revision_id = _literal(module, "revision")
        down_revision = _literal(module, "down_revision")
    except KeyError as error:
        raise ChainError(f"{path}: not a valid revision file (no {error} = ...)") from None
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as error:
        raise ChainError(
            f"{path}: not a valid revision file ({_one_line(error)}); fix or remove it"
        ) from None
    if not isinstance(revision_id, str) or not (
        down_revision is None or isinstance(down_revision, str)
    ):
        raise ChainError(
            f"{path}: `revision` must be a string and `down_revision` a string or None"
        )
    docstring = ast.get_docstring(module, clean=False) or ""
    message = docstring.strip().split("\n\n", 1)[0].strip()
    return Revision(revision_id, down_revision, message, path)


def find_problems(revisions: Sequence[Revision]) -> list[str]:
    """Every reason why ``revisions`` is not a single straight chain."""
    problems: list[str] = []
    by_id: dict[str, Revision] = {}
    for revision in revisions:
        if revision.id in by_id:
            problems.append(
                f"duplicate revision id {revision.id!r} in {by_id[revision.id].path.name} "
                f"and {revision.path.name}: give one of them a new id"
            )
        else:
            by_id[revision.id] = revision
    children: dict[str | None, list[Revision]] = {}
    for revision in by_id.values():
        children.setdefault(revision.down_revision, []).append(revision)
        if revision.down_revision is not None and revision.down_revision not in by_id:
            problems.append(
                f"revision {revision.id!r} ({revision.path.name}) revises "
                f"{revision.down_revision!r}, which does not exist: the chain has a gap"
            )
    for parent, kids in sorted(children.items(), key=lambda item: str(item[0])):
        if len(kids) > 1:
            names = ", ".join(sorted(k.id for k in kids))
            where = "the base" if parent is None else f"revision {parent!r}"
            problems.append(
                f"the chain branches at {where}: {names} all revise it; "
                "re-point all but one to the newest revision"
            )
    heads = sorted(r.id for r in by_id.values() if r.id not in children)
    if len(heads) > 1:
        problems.append(f"the chain has {len(heads)} heads ({', '.join(heads)}); it must have one")
    if by_id and not heads:
        problems.append("the chain has no head: its revisions form a cycle")
    return problems


class Chain:
    """An ordered, validated line of revisions from base to head."""

    def __init__(self, revisions: Sequence[Revision]) -> None:
        problems = find_problems(revisions)
        if problems:
            raise ChainError(f"the revision chain is broken: {problems[0]}")
        by_parent = {r.down_revision: r for r in revisions}
        ordered: list[Revision] = []
        current = by_parent.get(None)
        while current is not None:
            ordered.append(current)
            current = by_parent.get(current.id)
        if len(ordered) != len(revisions):
            raise ChainError("the revision chain is broken: some revisions are not reachable")
        self.revisions: tuple[Revision, ...] = tuple(ordered)
        self._position = {r.id: i for i, r in enumerate(ordered)}
        self._modules: dict[str, ModuleType] = {}

    @classmethod
    def load(cls, directory: Path | None = None) -> Chain:
        return cls(scan_directory(directory or VERSIONS_DIR))

    @property
    def head(self) -> str | None:
        return self.revisions[-1].id if self.revisions else None

    def __contains__(self, revision_id: object) -> bool:
        return revision_id in self._position

    def get(self, revision_id: str) -> Revision:
        try:
            return self.revisions[self._position[revision_id]]
        except KeyError:
            raise RevisionError(
                f"unknown revision {revision_id!r}: run `mistral-db-manage history` "
                "to list the revisions this tool knows"
            ) from None

    def position(self, revision_id: str | None) -> int:
        """0 for an empty database, n for the n-th revision."""
        if revision_id is None:
            return 0
        self.get(revision_id)
        return self._position[revision_id] + 1

    def resolve(self, target: str, *, current: str | None = None) -> str | None:
        """Turn ``head``, ``base``, an id or ``+N`` (relative to ``current``) into an id."""
        if target in ("head", "heads"):
            return self.head
        if target == "base":
            return None
        if target.startswith("+"):
            return self.relative(current, target[1:])
        return self.get(target).id

    def relative(self, start: str | None, steps_text: str) -> str | None:
        try:
            steps = int(steps_text)
        except ValueError:
            raise RevisionError(f"invalid relative target +{steps_text}: expected +N") from None
        if steps < 0:
            raise RevisionError(f"invalid relative target {steps}: only upgrades are supported")
        index = self.position(start) + steps
        if index > len(self.revisions):
            where = start or "an empty database"
            remaining = len(self.revisions) - self.position(start)
            raise RevisionError(
                f"cannot upgrade {steps} revision(s) from {where}: only {remaining} remain "
                f"before head ({self.head})"
            )
        return self.revisions[index - 1].id if index else None

    def between(self, start: str | None, end: str | None) -> list[Revision]:
        """The revisions after ``start`` up to and including ``end``."""
        first, last = self.position(start), self.position(end)
        if last < first:
            raise RevisionError(
                f"revision {end} is older than {start or 'base'}: this tool does not downgrade"
            )
        return list(self.revisions[first:last])

    def module(self, revision_id: str) -> ModuleType:
        if revision_id not in self._modules:
            revision = self.get(revision_id)
            name = f"mistral_db_manage.migrations.versions._r{revision.path.stem}"
            spec = importlib.util.spec_from_file_location(name, revision.path)
            if spec is None or spec.loader is None:
                raise ChainError(f"{revision.path}: cannot be imported")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # as an import would: visible to whoever asks
            try:
                spec.loader.exec_module(module)
            except Exception as error:
                sys.modules.pop(name, None)
                raise ChainError(
                    f"{revision.path}: the revision cannot be loaded "
                    f"({type(error).__name__}: {_one_line(error)}); fix or remove it"
                ) from error
            self._modules[revision_id] = module
        return self._modules[revision_id]

    def operations(self, revision_id: str) -> list[Operation]:
        from ..migrations.ops import Operation  # imported when a revision runs (start-up time)

        module = self.module(revision_id)
        path = self.get(revision_id).path
        operations = getattr(module, "operations", None)
        if operations is None:
            raise ChainError(f"{path}: has no `operations` list")
        if not isinstance(operations, (list, tuple)):
            raise ChainError(
                f"{path}: `operations` must be a list of operations, not "
                f"{type(operations).__name__}"
            )
        for number, operation in enumerate(operations, start=1):
            if not isinstance(operation, Operation):
                raise ChainError(
                    f"{path}: operation {number} is a {type(operation).__name__}, not an "
                    "operation (CreateTable, AddColumn, Sql, ...)"
                )
        return list(operations)

    @cached_property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.revisions)


def scan_directory(directory: Path) -> list[Revision]:
    """The revision files of ``directory`` (``*.py`` not starting with ``_``), read.

    A directory that is missing, unreadable or holds no revision is a
    :class:`ChainError`.
    """
    if not directory.is_dir():
        raise ChainError(f"revision directory {directory} does not exist")
    try:
        paths = sorted(p for p in directory.glob("*.py") if not p.name.startswith(("_", ".")))
    except OSError as error:
        raise ChainError(
            f"cannot list the revision directory {directory} ({error.strerror or error})"
        ) from None
    if not paths:
        raise ChainError(
            f"revision directory {directory} holds no revision files (*.py); "
            "check --versions-dir"
        )
    return [read_revision_file(path) for path in paths]


def duplicate_problems(revisions: Sequence[Revision]) -> list[str]:
    """The duplicate ids among ``revisions`` (the first problems :func:`find_problems` lists)."""
    return [p for p in find_problems(revisions) if p.startswith("duplicate revision id")]
