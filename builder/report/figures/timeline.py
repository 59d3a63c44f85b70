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

    @property
    def pooled(self) -> tuple[float, float, float] | None:
        """(estimate, ci_low, ci_high), or None where this version has no pooled estimate."""
        if self.estimate is None or self.ci_low is None or self.ci_high is None:
            return None
        return self.estimate, self.ci_low, self.ci_high


def points(history: list[tuple[str, str, dict | None]]) -> list[Point]:
    """history: (version, date, results.json record of the analysis or None), oldest first. A version's
    `added` are the studies of its record that the version before did not have: the studies that brought data
    to this analysis, not every study the version added to the review."""
    out = []
    before: set[str] | None = None  # the studies of the version before, None for the first
    for version, date, rec in history:
        studies = rec["studies"] if rec else []
        added = sorted(s["label"] for s in studies if before is not None and s["id"] not in before)
        pooled = (rec or {}).get("pooled") or {}
        out.append(
            Point(
                version, date, pooled.get("estimate"), pooled.get("ci_low"), pooled.get("ci_high"), len(studies), added
            )
        )
        before = {s["id"] for s in studies}
    return out


LEFT, TOP, PLOT_H, COL = 70.0, 20.0, 180.0, 150.0  # the plot's left edge and top, its height, a version's column


def render(title: str, pts: list[Point], scale: str, ident: str, caption: list[str] | None = None) -> str:
    lo, hi = _limits(pts)
    width = LEFT + COL * max(1, len(pts)) + 110  # room for the last point's label
    height = TOP + PLOT_H + 70

    def y(v: float) -> float:
        return TOP + (hi - v) / (hi - lo) * PLOT_H

    svg = Svg(width, height, "tl timeline", title, _describe(pts, scale), ident, caption)
    svg.line(LEFT, y(0.0), width - 10, y(0.0), "null")
    svg.text(LEFT - 8, y(0.0) + 4, "1" if scale == "log" else "0", "s", "end")
    for i, p in enumerate(pts):
        x = LEFT + COL * (i + 0.5)
        svg.text(x, TOP + PLOT_H + 20, f"v{p.version} ({p.date})", "", "middle")
        note = ("+ " + ", ".join(p.added)) if p.added else ("first version" if i == 0 else "no study added")
        svg.text(x, TOP + PLOT_H + 36, note, "s", "middle")
        if p.pooled is None:
            svg.text(x, y(0.0) - 6, "no estimate", "s", "middle")
            continue
        estimate, low, high = p.pooled
        svg.line(x, y(low), x, y(high))
        svg.rect(x - 5, y(estimate) - 5, 10, 10)
        svg.text(x + 10, y(estimate) + 4, fmt.estimate_ci(estimate, low, high, scale), "s")
    if scale == "log":
        for v in (0.1, 0.5, 2, 10):
            t = math.log(v)
            if lo <= t <= hi:
                svg.text(LEFT - 8, y(t) + 4, f"{v:g}", "s", "end")
    return svg.render(STYLE)


def _limits(pts: list[Point]) -> tuple[float, float]:
    """The vertical axis: every interval and the null, with a tenth of the range to spare on each side."""
    values = [v for p in pts if p.pooled is not None for v in p.pooled[1:]] + [0.0]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or 1.0
    return lo - pad, hi + pad


def _describe(pts: list[Point], scale: str) -> str:
    def one(p: Point) -> str:
        found = f"{fmt.estimate_ci(*p.pooled, scale)} from {p.k} studies" if p.pooled else "no pooled estimate"
        return f"version {p.version}: {found}" + (f", adding {', '.join(p.added)}" if p.added else "")

    return "; ".join(one(p) for p in pts)
