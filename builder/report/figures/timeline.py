"""Evidence over time: an outcome's pooled estimate and CI in every released version, with what each added."""

from __future__ import annotations

import math
from dataclasses import dataclass

from builder.report import fmt
from builder.report.figures.svg import Svg

STYLE = (
    ".tl text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:12px;"
    "fill:var(--md-default-fg-color,#1d1d1f)}.tl .s{font-size:11px;fill:var(--md-default-fg-color--light,#555)}"
    ".tl line{stroke:var(--md-default-fg-color,#1d1d1f);stroke-width:1.5}"
    ".tl line.null{stroke:var(--md-default-fg-color--lighter,#999);stroke-dasharray:4 3;stroke-width:1}"
    ".tl rect{fill:#3b6fb6}"
)


@dataclass(frozen=True)
class Point:
    version: str
    date: str
    estimate: float | None  # analysis scale
    ci_low: float | None
    ci_high: float | None
    k: int
    added: list[str]


def points(history: list[tuple[str, str, dict | None, list[str]]]) -> list[Point]:
    """history: (version, date, results.json record of the analysis or None, labels of studies added)."""
    out = []
    for version, date, rec, added in history:
        pooled = rec and rec.get("pooled")
        out.append(
            Point(
                version,
                date,
                pooled and pooled["estimate"],
                pooled and pooled["ci_low"],
                pooled and pooled["ci_high"],
                len(rec["studies"]) if rec else 0,
                added,
            )
        )
    return out


def render(title: str, pts: list[Point], scale: str, ident: str) -> str:
    shown = [p for p in pts if p.estimate is not None]
    values = [v for p in shown for v in (p.ci_low, p.ci_high)] + [0.0]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or 1.0
    lo, hi = lo - pad, hi + pad
    left, top, plot_h, col = 70.0, 20.0, 180.0, 150.0
    width = left + col * max(1, len(pts)) + 110  # room for the last point's label
    height = top + plot_h + 70

    def y(v: float) -> float:
        return top + (hi - v) / (hi - lo) * plot_h

    desc = "; ".join(
        f"version {p.version}: "
        + (
            fmt.estimate_ci(p.estimate, p.ci_low, p.ci_high, scale) + f" from {p.k} studies"
            if p.estimate is not None
            else "no pooled estimate"
        )
        + (f", adding {', '.join(p.added)}" if p.added else "")
        for p in pts
    )
    svg = Svg(width, height, "tl timeline", title, desc, ident)
    svg.line(left, y(0.0), width - 10, y(0.0), "null")
    svg.text(left - 8, y(0.0) + 4, "1" if scale == "log" else "0", "s", "end")
    for i, p in enumerate(pts):
        x = left + col * (i + 0.5)
        svg.text(x, top + plot_h + 20, f"v{p.version} ({p.date})", "", "middle")
        note = ("+ " + ", ".join(p.added)) if p.added else ("first version" if i == 0 else "no study added")
        svg.text(x, top + plot_h + 36, note, "s", "middle")
        if p.estimate is None:
            svg.text(x, y(0.0) - 6, "no estimate", "s", "middle")
            continue
        svg.line(x, y(p.ci_low), x, y(p.ci_high))
        svg.rect(x - 5, y(p.estimate) - 5, 10, 10)
        svg.text(x + 10, y(p.estimate) + 4, fmt.estimate_ci(p.estimate, p.ci_low, p.ci_high, scale), "s")
    if scale == "log":
        for v in (0.1, 0.5, 2, 10):
            t = math.log(v)
            if lo <= t <= hi:
                svg.text(left - 8, y(t) + 4, f"{v:g}", "s", "end")
    return svg.render(STYLE)
