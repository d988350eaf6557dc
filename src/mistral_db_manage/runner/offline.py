"""The range of an offline (``--sql``) upgrade: which revisions a script covers.

A script cannot look at the database, so its start is given by the operator
(``<start>:<end>``) or is an empty database, and relative targets need a start.
"""

from __future__ import annotations

from ..errors import RevisionError
from .chain import Chain


def offline_range(chain: Chain, target: str, delta: int | None) -> tuple[str | None, str | None]:
    """The (start, end) revisions of ``upgrade TARGET --sql`` (start None: empty database)."""
    start_text: str | None = None
    end_text = target
    if ":" in target:
        start_text, end_text = target.split(":", 1)
        if not start_text or not end_text:
            raise RevisionError(f"invalid range {target!r}: expected <start>:<end>")
    start = chain.resolve(start_text) if start_text is not None else None
    if delta is not None or end_text.startswith("+"):
        if start_text is None:
            raise RevisionError(
                "offline mode cannot know the database's revision: give the range as "
                "<start>:<end> (for example `upgrade 030:+2 --sql`) instead of a relative target"
            )
        steps = str(delta) if delta is not None else end_text[1:]
        return start, chain.relative(start, steps)
    end = chain.resolve(end_text, current=start)
    chain.between(start, end)
    return start, end
