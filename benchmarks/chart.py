"""Draw the benchmark's results as an SVG chart, by hand (no plotting library).

One panel per dialect and scenario (rows: dialects; columns: the start revisions), time
against N on log-log axes, four series: ours, upstream, the floor, ours' prediction.
Input: the rows of ``compare_upstream.rows_json`` (its ``--json`` files; several runs, e.g.
one for N = 20,000 and 200,000 and one for N = 1,000,000, are drawn together):

    python benchmarks/chart.py results.json [more.json ...] > chart.svg
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

SERIES = (  # key, label, colour, dash
    ("ours", "ours", "#1f77b4", ""),
    ("upstream", "upstream 23.0.0", "#d62728", ""),
    ("floor", "floor (passes + index builds)", "#7f7f7f", "6,4"),
    ("predicted", "ours predicted", "#2ca02c", "2,3"),
)
PANEL_W, PANEL_H, MARGIN_L, MARGIN_B, PAD = 300, 210, 56, 40, 18
#: a floor of a few milliseconds (nothing to read) is left out: log axes need a bottom
MIN_SECONDS = 0.1


def _points(rows: Sequence[dict[str, Any]], dialect: str, start: str
            ) -> dict[str, list[tuple[float, float]]]:
    found: dict[str, list[tuple[float, float]]] = {key: [] for key, *_ in SERIES}
    for row in rows:
        if row["dialect"] != dialect or row["start"] != start or not row.get("wall"):
            continue
        if row["tool"] == "upstream":
            found["upstream"].append((row["n"], row["wall"]))
        elif row["tool"] == "ours":
            found["ours"].append((row["n"], row["wall"]))
            for key in ("floor", "predicted"):
                if row.get(key) and row[key] >= MIN_SECONDS:
                    found[key].append((row["n"], row[key]))
    return {key: sorted(points) for key, points in found.items()}


def _decades(low: float, high: float) -> list[float]:
    return [10.0 ** e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]


def svg(rows: Sequence[dict[str, Any]]) -> str:
    dialects = [d for d in ("postgresql", "mysql", "sqlite") if any(r["dialect"] == d
                                                                   for r in rows)]
    starts = sorted({r["start"] for r in rows if r.get("start")})
    values = [v for r in rows for v in (r.get("wall"), r.get("floor"), r.get("predicted"))
              if v and v >= MIN_SECONDS]
    ns = [r["n"] for r in rows if r.get("n")]
    if not values or not ns:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
    x_ticks = _decades(min(ns), max(ns))
    y_ticks = _decades(min(values), max(values))
    width = len(starts) * (PANEL_W + MARGIN_L + PAD) + PAD
    height = len(dialects) * (PANEL_H + MARGIN_B + 2 * PAD) + 60
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>']

    def fx(n: float, left: float) -> float:
        lo, hi = math.log10(x_ticks[0]), math.log10(x_ticks[-1])
        return left + (math.log10(n) - lo) / max(hi - lo, 1e-9) * PANEL_W

    def fy(v: float, top: float) -> float:
        lo, hi = math.log10(y_ticks[0]), math.log10(y_ticks[-1])
        return top + PANEL_H - (math.log10(v) - lo) / max(hi - lo, 1e-9) * PANEL_H

    for i, dialect in enumerate(dialects):
        for j, start in enumerate(starts):
            points = _points(rows, dialect, start)
            if not any(points.values()):
                continue
            left = PAD + j * (PANEL_W + MARGIN_L + PAD) + MARGIN_L
            top = PAD + i * (PANEL_H + MARGIN_B + 2 * PAD) + 14
            title = escape(f"{dialect}, {start} → head")
            out.append(f'<text x="{left}" y="{top - 5}" font-weight="bold">{title}</text>')
            out.append(f'<rect x="{left}" y="{top}" width="{PANEL_W}" height="{PANEL_H}" '
                       'fill="none" stroke="#333"/>')
            for t in y_ticks:
                y = fy(t, top)
                out.append(f'<line x1="{left}" x2="{left + PANEL_W}" y1="{y:.1f}" y2="{y:.1f}" '
                           'stroke="#ddd"/>')
                out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
                           f'{t:g} s</text>')
            for t in x_ticks:
                x = fx(t, left)
                out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + PANEL_H}" '
                           'stroke="#ddd"/>')
                out.append(f'<text x="{x:.1f}" y="{top + PANEL_H + 14}" text-anchor="middle">'
                           f'{int(t):,}</text>')
            out.append(f'<text x="{left + PANEL_W / 2}" y="{top + PANEL_H + 28}" '
                       'text-anchor="middle">N (task executions)</text>')
            for key, _label, colour, dash in SERIES:
                pts = points[key]
                if not pts:
                    continue
                path = " ".join(f"{fx(n, left):.1f},{fy(v, top):.1f}" for n, v in pts)
                dashes = f' stroke-dasharray="{dash}"' if dash else ""
                out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                           f'stroke-width="2"{dashes}/>')
                for n, v in pts:
                    out.append(f'<circle cx="{fx(n, left):.1f}" cy="{fy(v, top):.1f}" r="3" '
                               f'fill="{colour}"/>')
    legend_y = height - 22
    for k, (_key, label, colour, dash) in enumerate(SERIES):
        x = PAD + k * 200
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{x}" x2="{x + 30}" y1="{legend_y}" y2="{legend_y}" '
                   f'stroke="{colour}" stroke-width="2"{dashes}/>')
        out.append(f'<text x="{x + 36}" y="{legend_y + 4}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    rows = [row for name in args for row in json.loads(Path(name).read_text())]
    sys.stdout.write(svg(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
