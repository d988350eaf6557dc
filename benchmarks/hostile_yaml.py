"""Time and peak memory of ``populate`` on hostile definition files.

Each case of :data:`HOSTILE_YAML` is written to a directory of its own and
read by ``mistral-db-manage populate --path DIR --dry-run`` in a subprocess;
the table gives the wall time and the child's peak RSS (``ru_maxrss`` of
``resource.getrusage(RUSAGE_CHILDREN)``, read after each run in a fresh
measuring process, so each number is one run's own).  The bound to meet:
under 10 s and 200 MB each.  The tests (``tests/unit/test_hostile_catalogue_input.py``)
use the same cases and check the error only.

    .venv/bin/python benchmarks/hostile_yaml.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def _laughs(levels: int) -> str:
    lines = ["version: '2.0'", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _merge_bomb(levels: int) -> str:
    lines = ["version: '2.0'", "m0: &m0 {k: v}"]
    for level in range(1, levels):
        merged = ", ".join([f"*m{level - 1}"] * 9)
        lines.append(f"m{level}: &m{level} {{<<: [{merged}], k{level}: v}}")
    return "\n".join(lines) + "\n"


def _alias_chain(length: int) -> str:
    lines = ["version: '2.0'", "c0: &c0 [x]"]
    lines += [f"c{i}: &c{i} [*c{i - 1}]" for i in range(1, length)]
    return "\n".join(lines) + "\n"


#: case -> (file text, a fragment of the one-line error)
HOSTILE_YAML: dict[str, tuple[str, str]] = {
    "billion_laughs": (_laughs(9), "expands to more than 51200 values"),
    "merge_key_bomb": (_merge_bomb(12), "expands to more than 51200 values"),
    "alias_of_a_large_scalar": (
        "version: '2.0'\nbig: &big " + "x" * 500_000 + "\nrepeat: [" + ", ".join(["*big"] * 100)
        + "]\n",
        "characters",
    ),
    "alias_chain": (_alias_chain(2000), "nest more than 64 levels deep"),
    "deep_flow_nesting": ("[" * 100_000 + "\n", "nest more than 64 levels deep"),
    "deep_block_nesting": (
        "".join("  " * depth + f"k{depth}:\n" for depth in range(500)) + "  " * 500 + "v\n",
        "nest more than 64 levels deep",
    ),
    "long_integer": ("version: '2.0'\nw: " + "1" * 200_000 + "\n", "a number of 200000"),
    "sexagesimal_integer": ("version: '2.0'\nw: 1" + ":10" * 100_000 + "\n", "a number of"),
    "wide_mapping": (
        "version: '2.0'\n" + "".join(f"k{i}: {i}\n" for i in range(30_000)),
        "holds or expands to more than 51200 values",
    ),
    "flow_sequence_of_tiny_values": (
        "version: '2.0'\nw: [" + "a," * 520_000 + "a]\n",
        "holds or expands to more than 51200 values",
    ),
    "one_long_scalar": ("version: '2.0'\nw: " + "x" * 1_000_000 + "\n", "must be a mapping"),
    "comments_only": ("# " + "x" * 1_000_000 + "\nversion: '2.0'\n", "no workflow"),
    "too_large": ("version: '2.0'\nw: " + "x" * (1100 * 1024) + "\n", "more than the limit"),
}


def _measure(text: str, workdir: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, last stderr line) of one populate --dry-run."""
    definitions = workdir / "definitions"
    definitions.mkdir(exist_ok=True)
    for old in definitions.iterdir():
        old.unlink()
    (definitions / "case.yaml").write_text(text, encoding="utf-8")
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "started = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - started\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps([wall, rss, (done.stderr.strip().splitlines() or [''])[-1]]))\n"
    )
    command = [
        sys.executable, "-c", probe, sys.executable, "-m", "mistral_db_manage",
        "populate", "--path", str(definitions), "--dry-run",
    ]
    env = {"OS_DATABASE__CONNECTION": f"sqlite:///{workdir / 'none.sqlite'}",
           "HOME": str(workdir), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True,
                            timeout=600)
    wall, rss, said = json.loads(result.stdout)
    return wall, rss, said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (max reported)")
    args = parser.parse_args()
    print("| case | file bytes | wall s (max) | peak RSS MB (max) | error |")
    print("|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        for name, (text, fragment) in HOSTILE_YAML.items():
            runs = [_measure(text, workdir) for _ in range(args.repeat)]
            wall = max(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            said = runs[-1][2]
            ok = "refused" if fragment in said else f"UNEXPECTED: {said[:80]}"
            print(f"| {name} | {len(text.encode())} | {wall:.2f} | {rss:.0f} | {ok} |")


if __name__ == "__main__":
    main()
