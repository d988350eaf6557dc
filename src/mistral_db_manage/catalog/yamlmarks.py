"""YAML documents that remember where each value came from.

Definitions are loaded in two steps (compose the node tree with its marks,
then build plain values), keeping the line of every key path so that an error
can say ``file:line: path.to.key: what is wrong``.  Only the YAML that
Mistral's DSL uses is accepted: mappings, sequences and plain scalars; custom
tags, dates, duplicate keys and non-finite numbers are rejected.

Loading costs at most what :class:`~mistral_db_manage.limits.DefinitionLimits`
allows, whatever the text: a text over the size limit is refused before it
is parsed; collections nest at most :data:`~mistral_db_manage.limits.MAX_YAML_DEPTH`
deep; aliases and merge keys (which repeat what they refer to, so that nine
lines can stand for a billion values) may expand the document to at most
``max_nodes`` values and ``4 * max_bytes`` characters of scalars; numbers are
at most :data:`~mistral_db_manage.limits.MAX_NUMBER_CHARACTERS` long (turning
a long digit string into an int takes quadratic time).  Each refusal is a
:class:`~mistral_db_manage.errors.DefinitionError` naming the file and line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mistral_db_manage.errors import DefinitionError
from mistral_db_manage.limits import MAX_NUMBER_CHARACTERS, MAX_YAML_DEPTH, DefinitionLimits

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null")
)
_DEFAULT_LIMITS = DefinitionLimits()
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
#: how many characters of scalars the expanded document may hold, per byte of the size limit
_EXPANSION_FACTOR = 4


KeyPath = tuple[Any, ...]


class Index(int):
    """A list position inside a :data:`KeyPath` (a plain value is a mapping key)."""


def format_path(path: KeyPath) -> str:
    """``a.b[2].c`` for a key path; ``(document)`` for the empty path."""
    if not path:
        return "(document)"
    out = ""
    for part in path:
        if isinstance(part, Index):
            out += f"[{int(part)}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _TooDeep(yaml.MarkedYAMLError):
    """Collections nest deeper than :data:`MAX_YAML_DEPTH`."""


class _TooMany(yaml.MarkedYAMLError):
    """The text holds more values than the limit (each costs about 50 µs to compose)."""


class _Loader(yaml.SafeLoader):
    """A SafeLoader used in two steps: compose (nodes keep their marks), then build values.

    Composing refuses nesting deeper than :data:`MAX_YAML_DEPTH` (PyYAML's
    composer recurses once per level) and more than ``max_nodes`` values
    (aliases included), before their cost is paid.
    """

    def __init__(self, stream: str, max_nodes: int) -> None:
        super().__init__(stream)
        self.depth = 0
        self.composed = 0
        self.max_nodes = max_nodes

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self.depth += 1
        self.composed += 1
        try:
            if self.composed > self.max_nodes:
                raise _TooMany(
                    problem=f"the YAML holds or expands to more than {self.max_nodes} values; "
                    "a real definition holds far fewer: check the file, or raise "
                    "--max-definition-kb",
                    problem_mark=self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            if self.depth > MAX_YAML_DEPTH:
                raise _TooDeep(
                    problem=f"collections nest more than {MAX_YAML_DEPTH} levels deep",
                    problem_mark=self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            node: Node | None = super().compose_node(parent, index)
            return node
        finally:
            self.depth -= 1


@dataclass(frozen=True)
class Document:
    filename: str
    text: str
    root: Node
    value: Any
    lines: dict[KeyPath, int]
    limits: DefinitionLimits = _DEFAULT_LIMITS

    def line_of(self, path: KeyPath) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: KeyPath, message: str) -> DefinitionError:
        return DefinitionError(
            f"{self.filename}:{self.line_of(path)}: {format_path(path)}: {message}"
        )


def load_document(
    text: str, filename: str, limits: DefinitionLimits | None = None
) -> Document:
    limits = limits or _DEFAULT_LIMITS
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise too_large(filename, size, limits)
    loader = _Loader(text, limits.max_nodes)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise _yaml_error(filename, text, exc) from None
        except yaml.YAMLError as exc:
            raise _yaml_error(filename, text, exc) from None
        if root is None:
            raise DefinitionError(f"{filename}:1: (document): the file holds no YAML document")
        builder = _Builder(loader, filename, text, limits)
        value = builder.build(root, ())
        return Document(filename, text, root, value, builder.lines, limits)
    except RecursionError:
        raise DefinitionError(
            f"{filename}:1: (document): YAML aliases or merge keys refer to each other "
            f"too deeply; a definition nests at most {MAX_YAML_DEPTH} levels"
        ) from None
    finally:
        loader.dispose()


def too_large(filename: str, size: int, limits: DefinitionLimits) -> DefinitionError:
    """The error for a definition file over the size limit."""
    return DefinitionError(
        f"{filename}:1: (document): the file is {size} bytes, more than the limit of "
        f"{limits.max_kb} KiB for a definition; split it, or raise --max-definition-kb"
    )


def _yaml_error(filename: str, text: str, exc: yaml.YAMLError) -> DefinitionError:
    line = 1
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if (
            exc.context_mark is not None
            and exc.problem_mark is not None
            and exc.problem_mark.index >= len(text)
        ):
            # "unexpected end of stream": what was left open is the place to look at.
            mark = exc.context_mark
        if mark is not None:
            line = mark.line + 1
        problem = exc.problem or "syntax error"
        if exc.context:
            context_line = exc.context_mark.line + 1 if exc.context_mark else line
            problem = f"{problem} ({exc.context} at line {context_line})"
    else:
        position = getattr(exc, "position", None)
        if isinstance(position, int):
            line = text.count("\n", 0, position) + 1
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    path = format_path(_enclosing_keys(text, line))
    return DefinitionError(f"{filename}:{line}: {path}: invalid YAML: {problem}")


_KEY_LINE = re.compile(r"^(\s*)(?:-\s+)?([^\s#'\"][^:#]*?|'[^']*'|\"[^\"]*\")\s*:(?:\s|$)")


def _enclosing_keys(text: str, line: int) -> KeyPath:
    """The key on *line* and those whose blocks enclose it, read from indentation.

    Only used for YAML syntax errors, where no node tree exists.
    """
    all_lines = text.splitlines()
    lines = all_lines[: max(line - 1, 0)]
    limit: int | None = None
    keys: list[str] = []
    if 0 < line <= len(all_lines):
        current = all_lines[line - 1]
        if current.strip():
            limit = len(current) - len(current.lstrip())
            own = _KEY_LINE.match(current)
            if own is not None:
                keys.append(own.group(2).strip("'\""))
    for raw in reversed(lines):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip())
        if limit is not None and indent >= limit:
            continue
        match = _KEY_LINE.match(raw)
        if match is None:
            if limit is None:
                limit = indent
            continue
        keys.append(match.group(2).strip("'\""))
        limit = indent
        if indent == 0:
            break
    return tuple(reversed(keys))


class _Builder:
    """Builds Python values from nodes, recording the line of every key and item."""

    def __init__(self, loader: _Loader, filename: str, text: str,
                 limits: DefinitionLimits) -> None:
        self.loader = loader
        self.filename = filename
        self.text = text
        self.lines: dict[KeyPath, int] = {}
        self._open: set[int] = set()
        self.limits = limits
        self.nodes = 0  # values built so far, each alias counted again
        self.characters = 0  # characters of the scalars built so far
        self._merged: dict[int, int] = {}

    def count(self, node: Node, path: KeyPath) -> None:
        """Count one more value; refuse the document when aliases expanded it too far."""
        self.nodes += 1
        if isinstance(node, ScalarNode):
            self.characters += len(node.value)
        if (self.nodes > self.limits.max_nodes
                or self.characters > _EXPANSION_FACTOR * self.limits.max_bytes):
            self.fail(node, path, self._expanded())
        if len(path) > MAX_YAML_DEPTH:
            self.fail(node, path, f"values nest more than {MAX_YAML_DEPTH} levels deep "
                                  "(through YAML aliases)")

    def _expanded(self) -> str:
        return (
            f"the YAML holds or expands to more than {self.limits.max_nodes} values or "
            f"{_EXPANSION_FACTOR * self.limits.max_bytes} characters (YAML aliases and merge "
            "keys repeat what they refer to); a real definition holds far fewer: check "
            "the file, or raise --max-definition-kb"
        )

    def merged_length(self, node: MappingNode) -> int:
        """How many key/value pairs ``node`` has once its merge keys are flattened."""
        known = self._merged.get(id(node))
        if known is not None:
            return known
        total = 0
        for key, value in node.value:
            if key.tag != _MERGE_TAG:
                total += 1
                continue
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if isinstance(source, MappingNode):
                    total += self.merged_length(source)
            if total > self.limits.max_nodes:
                break
        self._merged[id(node)] = total
        return total

    def fail(self, node: Node, path: KeyPath, message: str) -> NoReturn:
        raise DefinitionError(
            f"{self.filename}:{node.start_mark.line + 1}: {format_path(path)}: {message}"
        )

    def build(self, node: Node, path: KeyPath) -> Any:
        self.count(node, path)
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if id(node) in self._open:
            self.fail(node, path, "a YAML alias refers to a node that contains it")
        self._open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag != _SEQ_TAG:
                    self.fail(node, path, f"the YAML tag {node.tag!r} is not allowed here")
                items = []
                for index, child in enumerate(node.value):
                    child_path = (*path, Index(index))
                    self.lines[child_path] = child.start_mark.line + 1
                    items.append(self.build(child, child_path))
                return items
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
            self.fail(node, path, "unsupported YAML node")
        finally:
            self._open.discard(id(node))

    def mapping(self, node: MappingNode, path: KeyPath) -> dict[Any, Any]:
        if node.tag != _MAP_TAG:
            self.fail(node, path, f"the YAML tag {node.tag!r} is not allowed here")
        explicit = {id(key) for key, _ in node.value if key.tag != _MERGE_TAG}
        if self.merged_length(node) > self.limits.max_nodes:
            self.fail(node, path, self._expanded())
        try:
            self.loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            raise _yaml_error(self.filename, self.text, exc) from None
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.fail(key_node, path, "a mapping key must be a plain value")
            self.count(key_node, path)
            key = self.scalar(key_node, path)
            key_path = (*path, key)
            line = key_node.start_mark.line + 1
            if id(key_node) in explicit:
                if key in first_line:
                    self.fail(
                        key_node,
                        key_path,
                        f"duplicate key (first at line {first_line[key]})",
                    )
                first_line[key] = line
                self.lines[key_path] = line
            else:
                self.lines.setdefault(key_path, line)
            result[key] = self.build(value_node, key_path)
        return result

    def scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        if node.tag not in _SCALAR_TAGS:
            what = "a date or time" if node.tag.endswith(":timestamp") else f"tagged {node.tag!r}"
            self.fail(
                node,
                path,
                f"the value {node.value!r} is {what}, which is not allowed; "
                "quote it to make it a string",
            )
        if node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARACTERS:
            self.fail(
                node, path,
                f"a number of {len(node.value)} characters is longer than the "
                f"{MAX_NUMBER_CHARACTERS} allowed; quote it to make it a string",
            )
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            raise _yaml_error(self.filename, self.text, exc) from None
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(node, path, f"the number {node.value!r} is not finite")
        return value
