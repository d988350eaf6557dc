"""The maintainer commands ``tests/reference/lacking`` and ``tests/reference/draft``.

``lacking`` lists what our chain lacks compared with the reference (exit 1 if
anything); ``draft REV...`` writes a draft revision file for each upstream
revision named, in chain order, into the revision directory.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from mistral_db_manage.runner.chain import VERSIONS_DIR

from .lacking import compare_chain, upstream_revisions
from .revision import draft_revision

REFERENCE_DIR = Path(__file__).resolve().parent.parent


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--versions-dir", type=Path, default=VERSIONS_DIR,
                        help="our revision files (default: the package's)")
    parser.add_argument("--reference", type=Path, default=REFERENCE_DIR,
                        help="the reference, laid out as tests/reference (default: that)")


def lacking_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tests/reference/lacking",
        description="Name the upstream revisions our chain lacks or differs from, per dialect.",
    )
    _common(parser)
    args = parser.parse_args(argv)
    findings = compare_chain(args.versions_dir, args.reference)
    for finding in findings:
        print(finding.describe())
    if not findings:
        count = len(upstream_revisions(args.reference))
        print(f"the chain has all {count} upstream revisions, each with upstream's schema "
              "on postgresql and mysql")
    return 1 if findings else 0


def draft_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tests/reference/draft",
        description="Draft revision files for upstream revisions we lack, from the reference.",
    )
    parser.add_argument("revisions", nargs="+", metavar="REV")
    _common(parser)
    parser.add_argument("--upstream-venv", type=Path,
                        help="upstream's environment, to name the lines of its revision "
                        "that change rows")
    parser.add_argument("--stdout", action="store_true", help="print instead of writing")
    args = parser.parse_args(argv)
    order = [r.id for r in upstream_revisions(args.reference)]
    status = 0
    for revision in sorted(args.revisions, key=lambda r: order.index(r) if r in order else -1):
        draft = draft_revision(revision, reference_dir=args.reference,
                               versions_dir=args.versions_dir, upstream_venv=args.upstream_venv)
        if args.stdout:
            print(draft.source())
        else:
            path = args.versions_dir / draft.file_name
            if any(args.versions_dir.glob(f"{revision}_*.py")):
                raise SystemExit(f"draft: a file for revision {revision} exists already")
            path.write_text(draft.source(), encoding="utf-8")
            print(f"wrote {path}")
        for note in draft.notes:
            print(f"  note: {note}")
        status = status or (1 if draft.residual else 0)
    return status
