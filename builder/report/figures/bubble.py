"""The bubble plot of a meta-regression on one characteristic (metafor's regplot): each study's effect against
its value of the characteristic, as a circle whose area is proportional to its weight in the model
(1 / (vi + tau²)); for a continuous characteristic the fitted line with its 95% confidence band, for a
categorical one the fitted effect of each level with its 95% confidence interval. Written with the same SVG
writer and style as the other figures; the effect axis is the forest plot's."""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

from builder.report import fmt
from builder.report.figures import forest
from builder.report.figures.followplot import STYLE as FOLLOW_STYLE
from builder.report.figures.svg import Svg, coord

STYLE = FOLLOW_STYLE + (
    ".fp .bub{fill:#3b6fb6;fill-opacity:.35;stroke:#3b6fb6;stroke-width:1}"
    "[data-md-color-scheme=slate] .fp .bub{fill:#7aa7e6;stroke:#7aa7e6}"
    ".fp .fit{stroke:#c0392b;stroke-width:2}[data-md-color-scheme=slate] .fp .fit{stroke:#ff8a7a}"
    ".fp .cib{fill:#c0392b;fill-opacity:.15}[data-md-color-scheme=slate] .fp .cib{fill:#ff8a7a;fill-opacity:.2}"
)
LEFT, TOP, PLOT_W, PLOT_H = 64.0, 16.0, 360.0, 250.0
MAX_RADIUS = 12.0


@dataclass(frozen=True)
class Bubble:
    label: str  # the study's
    x: float  # its value of the characteristic (for a categorical one, the index of its level)
    y: float  # its effect on the analysis scale
    weight: float


@dataclass(frozen=True)
class Fitted:
    """The model's fitted effect with its 95% CI: along a grid of a continuous characteristic (xs, one value
    per point) or per level of a categorical one (xs the level indices)."""

    xs: list[float]
    mu: list[float]
    low: list[float]
    high: list[float]


def _x_axis(values: list[float]) -> tuple[float, float, list[float]]:
    low, high = min(values), max(values)
    if high == low:
        high = low + 1
    step = forest._nice((high - low) / 5)
    start, end = step * math.floor(low / step + 1e-9), step * math.ceil(high / step - 1e-9)
    return start, end, [start + step * i for i in range(int(round((end - start) / step)) + 1)]


def _tick(value: float) -> str:
    return f"{round(value, 6):g}".replace("-", "−")


def plot(
    title: str,
    desc: str,
    bubbles: list[Bubble],
    fitted: Fitted,
    scale: str,
    x_label: str,
    y_label: str,
    ident: str,
    levels: list[str] | None = None,
    caption: list[str] | None = None,
) -> str:
    """`levels`: the level names of a categorical characteristic, at x = 0, 1, ...; None for a continuous one."""
    bounds = [abs(b.y) for b in bubbles] + [abs(v) for v in fitted.low + fitted.high]
    lo, hi, ticks = forest.axis_for(bounds, scale)
    if levels is None:
        x0, x1, xticks = _x_axis([b.x for b in bubbles] + fitted.xs)
    else:
        x0, x1, xticks = -0.5, len(levels) - 0.5, [float(i) for i in range(len(levels))]
    width, height = LEFT + PLOT_W + 20, TOP + PLOT_H + 52

    def xpos(v: float) -> float:
        return LEFT + (v - x0) / (x1 - x0) * PLOT_W

    def ypos(v: float) -> float:
        return TOP + (hi - min(max(v, lo), hi)) / (hi - lo) * PLOT_H

    svg = Svg(width, height, "fp bubble", title, desc, ident, caption)
    svg.line(LEFT, ypos(0.0), LEFT + PLOT_W, ypos(0.0), "grid")  # no effect
    _interval(svg, fitted, xpos, ypos, levels is None)
    wmax = max(b.weight for b in bubbles)
    for b in sorted(bubbles, key=lambda b: -b.weight):  # the largest first, so that small ones stay visible
        svg.circle(xpos(b.x), ypos(b.y), max(2.5, MAX_RADIUS * math.sqrt(b.weight / wmax)), "bub")
    _fit(svg, fitted, xpos, ypos, levels is None)
    _axes(svg, ticks, xticks, xpos, ypos, scale, levels)
    svg.text(LEFT + PLOT_W / 2, height - 6, x_label, "s", "middle")
    label = y_label + (" (log scale)" if scale == "log" else "")
    svg.parts.append(
        f'<text x="14" y="{coord(TOP + PLOT_H / 2)}" class="s" text-anchor="middle" '
        f'transform="rotate(-90 14 {coord(TOP + PLOT_H / 2)})">{escape(label)}</text>'
    )
    return svg.render(STYLE)


def _interval(svg: Svg, fitted: Fitted, xpos, ypos, continuous: bool) -> None:
    """The 95% confidence band of the fitted line, or a box per level."""
    if continuous:
        band = [(xpos(x), ypos(v)) for x, v in zip(fitted.xs, fitted.high)]
        band += [(xpos(x), ypos(v)) for x, v in zip(fitted.xs[::-1], fitted.low[::-1])]
        svg.polygon(band, "cib")
        return
    for x, low, high in zip(fitted.xs, fitted.low, fitted.high):
        svg.rect(xpos(x) - 22, ypos(high), 44, max(ypos(low) - ypos(high), 1.0), "cib")


def _fit(svg: Svg, fitted: Fitted, xpos, ypos, continuous: bool) -> None:
    """The fitted line, or the fitted effect of each level as a short bar."""
    if continuous:
        for (xa, ya), (xb, yb) in zip(zip(fitted.xs, fitted.mu), zip(fitted.xs[1:], fitted.mu[1:])):
            svg.line(xpos(xa), ypos(ya), xpos(xb), ypos(yb), "fit")
        return
    for x, mu in zip(fitted.xs, fitted.mu):
        svg.line(xpos(x) - 22, ypos(mu), xpos(x) + 22, ypos(mu), "fit")


def _axes(svg: Svg, ticks, xticks, xpos, ypos, scale: str, levels: list[str] | None) -> None:
    bottom = TOP + PLOT_H
    svg.line(LEFT, bottom, LEFT + PLOT_W, bottom)
    svg.line(LEFT, TOP, LEFT, bottom)
    for t in ticks:
        svg.line(LEFT - 4, ypos(t), LEFT, ypos(t))
        svg.text(LEFT - 7, ypos(t) + 4, forest._tick_label(t, scale), "s", "end")
    for i, t in enumerate(xticks):
        svg.line(xpos(t), bottom, xpos(t), bottom + 4)
        svg.text(xpos(t), bottom + 4 + forest.FONT, levels[i] if levels is not None else _tick(t), "s", "middle")


def describe(bubbles: list[Bubble], fitted: Fitted, scale: str, x_label: str, levels: list[str] | None = None) -> str:
    """The plot in words, for its description and the page's text alternative."""
    n = len(bubbles)
    if levels is None:
        first, last = fitted.mu[0], fitted.mu[-1]
        return (
            f"Bubble plot of {n} studies: each study's effect against its {x_label.lower()}, the circle's area "
            f"proportional to its weight. The fitted line goes from {fmt.num(fmt.back(first, scale))} at "
            f"{_tick(fitted.xs[0])} to {fmt.num(fmt.back(last, scale))} at {_tick(fitted.xs[-1])}, with its 95% "
            "confidence band."
        )
    parts = [
        f"{level}: {fmt.estimate_ci(mu, low, high, scale)}"
        for level, mu, low, high in zip(levels, fitted.mu, fitted.low, fitted.high)
    ]
    return (
        f"Bubble plot of {n} studies: each study's effect by its {x_label.lower()}, the circle's area "
        f"proportional to its weight, and the fitted effect of each level with its 95% confidence interval: "
        + "; ".join(parts)
        + "."
    )
