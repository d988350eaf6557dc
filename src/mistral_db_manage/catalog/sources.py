"""Where the standard definitions come from, and collecting them.

Three sources, read in this order:

1. **Bundled ad-hoc actions**: every ``*.yaml`` resource of
   ``mistral_db_manage/catalog/resources/`` (``std_wait_ssh.yaml`` defines
   ``std.wait_ssh``, the action upstream Mistral preinstalls), read with
   :mod:`importlib.resources`.
2. **Entry points** of the group ``mistral.preinstalled_workflows`` of every
   installed distribution, exactly the protocol upstream uses (and
   mistral-extra implements): each entry point names a callable taking no
   argument and returning a list of paths of YAML workflow files.  Entry
   points are taken in (distribution name, entry point name) order; every
   returned path is read.  An entry point that cannot be loaded, raises, or
   returns something else than a list of existing files is an error naming
   the entry point and its distribution.
3. **Directories** named by the operator (``populate --path DIR``, repeatable):
   every ``*.yaml``/``*.yml`` file directly in the directory, in sorted
   order.  A missing directory is an error; an entry with such a name that
   is not a regular file (a dangling or looping symbolic link, a FIFO, a
   directory) is skipped, and named through the caller's ``on_skip``.

Every file is read within :class:`~mistral_db_manage.limits.DefinitionLimits`.

Actions come only from (1); workflows from (2) and (3).  Each definition keeps
its ``source`` (a readable label) for messages.  A name defined twice (two
workflows, or two actions) is an error naming both places.
"""

from __future__ import annotations

import errno
import importlib.metadata
import importlib.resources
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mistral_db_manage.catalog.parse import parse_actions, parse_workflows, read_definition_file
from mistral_db_manage.catalog.rows import ActionDefinition, CatalogDefinition, WorkflowDefinition
from mistral_db_manage.errors import DefinitionError
from mistral_db_manage.limits import DefinitionLimits

#: told, in one line, about each file of a --path directory that is skipped
SkipCallback = Callable[[str], None]

ENTRY_POINT_GROUP = "mistral.preinstalled_workflows"
BUNDLED_PACKAGE = "mistral_db_manage.catalog"
BUNDLED_DIRECTORY = "resources"
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SourceFile:
    """One definition file: where it is (for messages), its text, who provided it."""

    filename: str
    text: str
    source: str


def bundled_action_files() -> list[SourceFile]:
    """The ad-hoc action files shipped inside this package, sorted by file name."""
    directory = importlib.resources.files(BUNDLED_PACKAGE).joinpath(BUNDLED_DIRECTORY)
    entries = sorted(
        (entry for entry in directory.iterdir() if entry.name.endswith(YAML_SUFFIXES)),
        key=lambda entry: entry.name,
    )
    label = f"bundled resource of {BUNDLED_PACKAGE}"
    return [
        SourceFile(filename=str(entry), text=entry.read_text(encoding="utf-8"), source=label)
        for entry in entries
    ]


def _distribution_label(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = entry_point.dist
    if dist is None:
        return "an unknown distribution"
    return f"distribution {dist.name} {dist.version}"


def entry_point_workflow_files(limits: DefinitionLimits | None = None) -> list[SourceFile]:
    """The workflow files advertised through ``mistral.preinstalled_workflows``."""
    entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    ordered = sorted(
        entry_points,
        key=lambda ep: ((ep.dist.name if ep.dist else "").lower(), ep.name),
    )
    files: list[SourceFile] = []
    for entry_point in ordered:
        label = (
            f"entry point {entry_point.name!r} = {entry_point.value!r} "
            f"(group {ENTRY_POINT_GROUP}) of {_distribution_label(entry_point)}"
        )
        try:
            provider = entry_point.load()
        except Exception as exc:
            raise DefinitionError(
                f"{label} cannot be loaded: {type(exc).__name__}: {exc}; "
                "reinstall or uninstall that distribution"
            ) from exc
        if not callable(provider):
            raise DefinitionError(f"{label} is not callable (it is {type(provider).__name__})")
        try:
            result = provider()
        except Exception as exc:
            raise DefinitionError(
                f"{label} failed when called: {type(exc).__name__}: {exc}"
            ) from exc
        for path in _paths_from(label, result):
            files.append(
                SourceFile(filename=str(path), text=read_definition_file(path, limits),
                           source=label)
            )
    return files


def _paths_from(label: str, result: object) -> list[Path]:
    if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
        raise DefinitionError(
            f"{label} returned {type(result).__name__}; expected a list of workflow file paths"
        )
    paths: list[Path] = []
    for item in result:
        if not isinstance(item, (str, os.PathLike)):
            raise DefinitionError(
                f"{label} returned {item!r} in its list; expected workflow file paths"
            )
        path = Path(item)
        if not path.is_file():
            raise DefinitionError(f"{label} returned {str(path)!r}, which is not a file")
        paths.append(path)
    return paths


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` is not a regular file to read (None when it is one)."""
    try:
        info = path.stat()
    except OSError as error:
        if path.is_symlink():
            return ("a symbolic link that loops" if error.errno == errno.ELOOP
                    else "a symbolic link to nothing")
        return error.strerror or "cannot be examined"
    if stat.S_ISREG(info.st_mode):
        return None
    if stat.S_ISDIR(info.st_mode):
        return "a directory"
    if stat.S_ISFIFO(info.st_mode):
        return "a FIFO (named pipe)"
    return "not a regular file"


def directory_workflow_files(
    directories: Sequence[Path],
    limits: DefinitionLimits | None = None,
    on_skip: SkipCallback | None = None,
) -> list[SourceFile]:
    """The ``*.yaml``/``*.yml`` files directly in each directory, sorted by name."""
    files: list[SourceFile] = []
    for directory in directories:
        if not directory.exists():
            raise DefinitionError(f"{directory}: no such directory (given with --path)")
        if not directory.is_dir():
            raise DefinitionError(f"{directory}: not a directory (given with --path)")
        label = f"directory {directory}"
        try:
            entries = sorted(directory.iterdir(), key=lambda p: p.name)
        except OSError as error:
            raise DefinitionError(
                f"{directory}: cannot list the directory ({error.strerror or error}); "
                "given with --path"
            ) from None
        for path in entries:
            if path.suffix not in YAML_SUFFIXES:
                continue
            reason = _not_a_file(path)
            if reason is not None:
                if on_skip is not None:
                    on_skip(f"skipped {path}: {reason}")
                continue
            files.append(
                SourceFile(filename=str(path), text=read_definition_file(path, limits),
                           source=label)
            )
    return files


def check_unique_names(definitions: Iterable[CatalogDefinition]) -> None:
    """Raise :class:`DefinitionError` if two workflows (or two actions) share a name."""
    seen: dict[tuple[str, str], CatalogDefinition] = {}
    for definition in definitions:
        kind = "workflow" if isinstance(definition, WorkflowDefinition) else "action"
        first = seen.setdefault((kind, definition.name), definition)
        if first is not definition:
            raise DefinitionError(
                f"{definition.location}: {definition.name}: {kind} {definition.name!r} is "
                f"defined twice: here (from {definition.source}) and at {first.location} "
                f"(from {first.source})"
            )


def collect_definitions(
    paths: Sequence[Path],
    *,
    include_workflows: bool,
    limits: DefinitionLimits | None = None,
    on_skip: SkipCallback | None = None,
) -> list[CatalogDefinition]:
    """Parse and validate every standard definition: bundled actions, then workflows.

    *paths* are the ``--path`` directories; they and the entry points are read
    only when *include_workflows* is true (``populate``; ``populate_actions``
    passes false).  Every file is read and parsed within *limits*; each
    skipped file of a directory is told to *on_skip*.  Raises
    :class:`DefinitionError` on the first problem.
    """
    definitions: list[CatalogDefinition] = []
    for file in bundled_action_files():
        actions: list[ActionDefinition] = parse_actions(
            file.text, file.filename, source=file.source
        )
        definitions.extend(actions)
    if include_workflows:
        files = [
            *entry_point_workflow_files(limits),
            *directory_workflow_files(paths, limits, on_skip),
        ]
        for file in files:
            definitions.extend(
                parse_workflows(file.text, file.filename, source=file.source, limits=limits)
            )
    check_unique_names(definitions)
    return definitions
