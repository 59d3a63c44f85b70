"""The Baujat plot (metafor's baujat()): each study's contribution to the heterogeneity statistic Q (x) against
its influence on the pooled result (y), so that the studies that drive both stand out in the top right corner.
Written with the same SVG writer and style as the other follow-up plots."""

from __future__ import annotations

import math
from dataclasses import dataclass

from builder.report.figures import forest
from builder.report.figures.followplot import STYLE as FOLLOW_STYLE
from builder.report.figures.svg import Svg, coord

STYLE = FOLLOW_STYLE + (
    ".fp .pt-flag{fill:#c0392b}[data-md-color-scheme=slate] .fp .pt-flag{fill:#ff8a7a}"
    ".fp .grid{stroke:var(--md-default-fg-color--lightest,#e5e5e5)}"
)


LABEL_GAP = (16.0, 11.0)  # a number is left out within this distance (x, y) of one already written


@dataclass(frozen=True)
class Point:
    number: int  # the study's number in the table under the plot
    label: str
    x: float  # contribution to Q
    y: float  # influence on the pooled result
    flagged: bool  # influential by metafor's rule


def _ticks(top: float) -> tuple[float, list[float]]:
    """An axis from 0 to a nice limit at or above `top`, with 4 to 5 ticks."""
    step = forest._nice((top or 1.0) / 4)
    limit = step * math.ceil((top or 1.0) / step - 1e-9)
    return limit, [step * i for i in range(int(round(limit / step)) + 1)]


def _tick(value: float) -> str:
    return f"{round(value, 6):g}"


def render(
    title: str, desc: str, points: list[Point], ident: str, x_label: str, caption: list[str] | None = None
) -> str:
    """Each study as a numbered dot (a red triangle when flagged as influential), axes from 0."""
    left, top, plot_w, plot_h = 64.0, 16.0, 340.0, 240.0
    x_max, x_ticks = _ticks(max((p.x for p in points), default=1.0))
    y_max, y_ticks = _ticks(max((p.y for p in points), default=1.0))
    legend_y = top + plot_h + 52
    width, height = left + plot_w + 30, legend_y + 18

    def xpos(v: float) -> float:
        return left + v / x_max * plot_w

    def ypos(v: float) -> float:
        return top + plot_h - v / y_max * plot_h

    svg = Svg(width, height, "fp baujat", title, desc, ident, caption)
    for t in x_ticks[1:]:
        svg.line(xpos(t), top, xpos(t), top + plot_h, "grid")
    for t in y_ticks[1:]:
        svg.line(left, ypos(t), left + plot_w, ypos(t), "grid")
    svg.line(left, top + plot_h, left + plot_w, top + plot_h)
    svg.line(left, top, left, top + plot_h)
    for t in x_ticks:
        svg.line(xpos(t), top + plot_h, xpos(t), top + plot_h + 4)
        svg.text(xpos(t), top + plot_h + 4 + forest.FONT, _tick(t), "s", "middle")
    for t in y_ticks:
        svg.line(left - 4, ypos(t), left, ypos(t))
        svg.text(left - 7, ypos(t) + 4, _tick(t), "s", "end")
    labelled: list[tuple[float, float]] = []
    # The most influential first, so that where points crowd, the number written is theirs.
    for p in sorted(points, key=lambda p: (-p.y, -p.x, p.number)):
        cx, cy = xpos(p.x), ypos(p.y)
        if p.flagged:
            svg.polygon([(cx, cy - 5.5), (cx - 5, cy + 4), (cx + 5, cy + 4)], "pt-flag")
        else:
            svg.circle(cx, cy, 4, "pt")
        if any(abs(cx - x) < LABEL_GAP[0] and abs(cy - y) < LABEL_GAP[1] for x, y in labelled):
            continue  # a number here would overlap one already written; the table lists every study
        labelled.append((cx, cy))
        anchor = "end" if cx > left + plot_w - 24 else "start"  # kept inside the plot
        svg.text(cx + (-7 if anchor == "end" else 7), cy - 5, str(p.number), "s", anchor)
    svg.text(left + plot_w / 2, top + plot_h + 36, x_label, "s", "middle")
    svg.parts.append(
        f'<text x="14" y="{coord(top + plot_h / 2)}" class="s" text-anchor="middle" '
        f'transform="rotate(-90 14 {coord(top + plot_h / 2)})">Influence on the pooled result</text>'
    )
    svg.circle(left + 4, legend_y - 4, 4, "pt")
    svg.text(left + 14, legend_y, "study (number as in the table)", "s")
    svg.polygon([(left + 214, legend_y - 9.5), (left + 209, legend_y), (left + 219, legend_y)], "pt-flag")
    svg.text(left + 226, legend_y, "influential (metafor's rule)", "s")
    return svg.render(STYLE)


def describe(points: list[Point], x_label: str) -> str:
    """The plot in words: which studies contribute most to Q and move the result most, and which are flagged."""
    if not points:
        return "Baujat plot: no study has both coordinates."
    most_q = max(points, key=lambda p: p.x)
    most_y = max(points, key=lambda p: p.y)
    flagged = [p.label for p in points if p.flagged]
    return (
        f"Baujat plot of {len(points)} studies: {x_label.lower()} on the horizontal axis, influence on the pooled "
        f"result on the vertical axis. {most_q.label} contributes most to heterogeneity "
        f"({most_q.x:.2f}); leaving out {most_y.label} moves the pooled result most ({most_y.y:.2f}). "
        + (f"Flagged as influential: {', '.join(flagged)}." if flagged else "No study is flagged as influential.")
    )
