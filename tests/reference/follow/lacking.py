"""What our chain lacks compared with the upstream reference, per dialect.

The reference lists upstream's revisions (``upstream-schema/history.txt``) and
holds a dump after each of them; our chain describes its schema after each
revision (the state).  :func:`compare_chain` reports:

* ``missing``: an upstream revision with no file here;
* ``differs``: a revision of both whose schema here is not upstream's on a
  dialect (with the differences, as ``verify`` words them);
* ``unchecked``: a revision that cannot be compared because the chain here is
  cut short by a missing revision;
* ``not upstream``: a revision here that upstream does not have, or that revises
  another revision than upstream's does.

No database is needed: the dumps are read back (:mod:`.dumps`) and compared
with the chain's state, which the dialect tests prove equal to the live schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mistral_db_manage.runner.chain import Chain, Revision, scan_directory
from mistral_db_manage.runner.verify import compare_shapes, shapes_from_state
from mistral_db_manage.schema.history import replay

from . import dumps
from .upstream import UpstreamRevision, parse_history

HISTORY = Path("upstream-schema") / "history.txt"


@dataclass(frozen=True)
class Finding:
    revision: str
    kind: str  # "missing", "differs", "unchecked", "not upstream"
    dialects: tuple[str, ...] = ()
    details: tuple[str, ...] = ()

    def describe(self) -> str:
        where = f" on {', '.join(self.dialects)}" if self.dialects else ""
        lines = [f"{self.revision}: {self.kind}{where}"]
        lines += [f"    {detail}" for detail in self.details]
        return "\n".join(lines)


def upstream_revisions(reference_dir: Path) -> list[UpstreamRevision]:
    """Upstream's revisions, base first, from the reference's ``history.txt``."""
    return parse_history((reference_dir / HISTORY).read_text(encoding="utf-8"))


def straight_prefix(revisions: list[Revision]) -> list[Revision]:
    """Our revisions from the base as far as they form one line (up to a gap)."""
    by_parent: dict[str | None, list[Revision]] = {}
    for revision in revisions:
        by_parent.setdefault(revision.down_revision, []).append(revision)
    line: list[Revision] = []
    children = by_parent.get(None, [])
    while len(children) == 1 and len(line) <= len(revisions):
        line.append(children[0])
        children = by_parent.get(children[0].id, [])
    return line


def compare_chain(versions_dir: Path, reference_dir: Path) -> list[Finding]:
    """Every way the chain in ``versions_dir`` falls short of the reference."""
    upstream = upstream_revisions(reference_dir)
    upstream_by_id = {r.id: r for r in upstream}
    ours = scan_directory(versions_dir)
    our_ids = {r.id for r in ours}
    findings: list[Finding] = []
    for revision in ours:
        theirs = upstream_by_id.get(revision.id)
        if theirs is None:
            findings.append(Finding(revision.id, "not upstream",
                                    details=("upstream has no such revision",)))
        elif theirs.down_revision != revision.down_revision:
            findings.append(Finding(revision.id, "not upstream", details=(
                f"revises {revision.down_revision}, upstream's revises {theirs.down_revision}",
            )))
    for lacked in upstream:
        if lacked.id not in our_ids:
            findings.append(Finding(lacked.id, "missing", details=(
                f"upstream: {lacked.down_revision or '<base>'} -> {lacked.id}, "
                f"{lacked.message.splitlines()[0]}",
                f"draft it: tests/reference/draft {lacked.id}",
            )))
    line = straight_prefix(ours)
    compared = {r.id for r in line}
    differences: dict[str, dict[str, list[str]]] = {}
    chain = Chain(line)
    for dialect in dumps.SERVER_DIALECTS:
        for revision_id, state in replay(chain, dialect):
            if revision_id not in upstream_by_id:
                continue
            reference = dumps.read(reference_dir, dialect, revision_id)
            found = compare_shapes(dumps.shapes(reference), shapes_from_state(state), exact=True)
            found += [f"not understood in the dump: {text}" for text in reference.unparsed]
            if found:
                differences.setdefault(revision_id, {})[dialect] = found
    for revision_id, by_dialect in differences.items():
        details = [f"{d}: {line}" for d, lines in by_dialect.items() for line in lines]
        findings.append(Finding(revision_id, "differs", tuple(by_dialect), tuple(details)))
    stop = line[-1].id if line else "the base"
    for revision in ours:
        if revision.id not in compared and revision.id in upstream_by_id:
            findings.append(Finding(revision.id, "unchecked", dumps.SERVER_DIALECTS, (
                f"the chain here stops at {stop}: add the missing revision(s) first",
            )))
    order = {r.id: i for i, r in enumerate(upstream)}
    findings.sort(key=lambda f: (order.get(f.revision, len(order)), f.revision, f.kind))
    return findings
