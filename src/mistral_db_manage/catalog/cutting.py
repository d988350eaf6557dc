"""Cutting a file that holds several workflows into one text per workflow.

This module owns the ``definition`` text of a workflow read from a file that
holds several.  Each workflow's text is *the file with the blocks of the other
workflows removed*.  A top-level entry's block runs from its key line --
extended upwards over the comment lines that start in column 0 directly above
it -- to the line before the next block; the last block runs to the end of the
file.  Everything before the first block (``---``, header comments) is kept,
and so is the ``version`` entry.  The cut text is parsed again and must give
the same workflow (an anchor defined in another workflow's block makes it
fail, with a message).  Flow-style (``{...}``) files cannot be cut.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from yaml.nodes import MappingNode

from mistral_db_manage.catalog.yamlmarks import Document, load_document
from mistral_db_manage.errors import DefinitionError


def cut_workflows(doc: Document, names: Sequence[str]) -> dict[str, str]:
    """Each workflow's own text out of a file holding several (rule in the module doc)."""
    root = doc.root
    assert isinstance(root, MappingNode)
    if root.flow_style:
        raise doc.error(
            (),
            "a file with several workflows must be written in block style (not '{...}') "
            "so that each workflow's text can be cut out; or use one file per workflow",
        )
    lines = doc.text.splitlines(keepends=True)
    key_lines = [key.start_mark.line for key, _ in root.value]
    if any(b <= a for a, b in itertools.pairwise(key_lines)):
        raise doc.error((), "top-level keys must each start on a line of their own, in order")
    starts: list[int] = []
    previous = -1
    for key_line in key_lines:
        start = key_line
        while start - 1 > previous and lines[start - 1].startswith("#"):
            start -= 1
        starts.append(start)
        previous = key_line
    ends = [*starts[1:], len(lines)]
    header = "".join(lines[: starts[0]])
    keys = list(doc.value)
    if len(keys) != len(starts):
        raise doc.error((), "a file with several workflows cannot use top-level merge keys ('<<')")
    blocks = {key: "".join(lines[s:e]) for key, s, e in zip(keys, starts, ends, strict=True)}
    result: dict[str, str] = {}
    for name in names:
        text = header + "".join(
            block for key, block in blocks.items() if key == name or key not in names
        )
        _verify_cut(doc, name, text)
        result[name] = text
    return result


def _verify_cut(doc: Document, name: str, text: str) -> None:
    problem = None
    try:
        cut = load_document(text, doc.filename, doc.limits)
    except DefinitionError as exc:
        problem = str(exc)
    else:
        expected = {
            key: value for key, value in doc.value.items() if key == name or key == "version"
        }
        if cut.value != expected:
            problem = "the cut text does not give the same workflow"
    if problem is not None:
        raise doc.error(
            (name,),
            "cannot cut this workflow's own text out of the file (does it use a YAML anchor "
            f"defined in another workflow?): {problem}; put it in a file of its own",
        )
