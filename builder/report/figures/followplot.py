"""Small plots that follow a primary analysis: leave-one-out and cumulative meta-analysis (one row per refit,
forest-plot style) and the funnel plot. Written with the same SVG writer and style as the forest plot."""

from __future__ import annotations

import math
from dataclasses import dataclass

from builder.report import fmt
from builder.report.figures import forest
from builder.report.figures.svg import Svg, coord
from builder.stats import Fit

ROW = forest.ROW
PLOT_WIDTH = 230.0

STYLE = forest.STYLE + (
    ".fp .ref{stroke:#c0392b;stroke-width:1.5;stroke-dasharray:5 3}.fp text.ref-label{fill:#c0392b}"
    "[data-md-color-scheme=slate] .fp .ref{stroke:#ff8a7a}[data-md-color-scheme=slate] .fp text.ref-label{fill:#ff8a7a}"
    ".fp .pt{fill:#3b6fb6}[data-md-color-scheme=slate] .fp .pt{fill:#7aa7e6}"
    ".fp .band{fill:var(--md-default-fg-color--lightest,#eee)}.fp .edge{stroke:var(--md-default-fg-color--light,#777);"
    "stroke-dasharray:4 3}"
)
# Studies filled in by trim-and-fill: open circles, and the adjusted estimate as a dotted line.
FILLED_STYLE = (
    ".fp .pt-fill{fill:none;stroke:#3b6fb6;stroke-width:1.5}[data-md-color-scheme=slate] .fp .pt-fill{stroke:#7aa7e6}"
    ".fp .adj{stroke:#3b6fb6;stroke-width:1.5;stroke-dasharray:1.5 2.5}"
    "[data-md-color-scheme=slate] .fp .adj{stroke:#7aa7e6}"
)


@dataclass(frozen=True)
class Filled:
    """What trim-and-fill adds to a funnel plot: the filled studies (estimate, standard error) and the
    estimate of the model refitted with them."""

    yi: list[float]
    se: list[float]
    adjusted: float
    estimator: str


@dataclass(frozen=True)
class Step:
    label: str
    fit: Fit | None
    note: str | None = None  # shown instead of an estimate where there is no fit


def _widest(texts: list[str], size: float = 6.6) -> float:
    """A generous width estimate for 12px text (the SVG has no font metrics)."""
    return max((len(t) for t in texts), default=0) * size


def steps(
    title: str,
    desc: str,
    head: str,
    rows: list[Step],
    pooled: Fit,
    scale: str,
    ident: str,
    favours: tuple[str, str],
    pooled_label: str = "All studies",
    caption: list[str] | None = None,
) -> str:
    """One row per refit: a square at its estimate and its 95% CI as a line, the estimate in numbers on the
    right; the pooled estimate of every study as a dashed reference line and as a diamond in the last row."""
    bounds = [abs(pooled.ci_low), abs(pooled.ci_high)]
    for r in rows:
        if r.fit is not None:
            bounds += [abs(r.fit.ci_low), abs(r.fit.ci_high)]
    lo, hi, ticks = forest.axis_for(bounds, scale)
    label_w = max(150.0, _widest([r.label for r in rows] + [head, pooled_label]) + 14)
    plot_left = label_w
    plot_right = plot_left + PLOT_WIDTH
    effect_x = plot_right + 20
    width = effect_x + 150
    top = ROW + 8
    body = top + 6
    n = len(rows) + 1
    axis_y = body + n * ROW + 6
    height = axis_y + 2 * ROW + 14

    def xpos(v: float) -> float:
        return plot_left + (min(max(v, lo), hi) - lo) / (hi - lo) * PLOT_WIDTH

    svg = Svg(width, height, "fp followup", title, desc, ident, caption)
    svg.text(0, ROW, head, "b")
    svg.text((plot_left + plot_right) / 2, ROW, "Estimate and 95% CI", "b", "middle")
    svg.text(effect_x, ROW, "Estimate [95% CI]", "b")
    svg.line(0, top, width - 5, top)
    for i, r in enumerate(rows):
        y = body + (i + 0.7) * ROW
        svg.text(0, y, r.label)
        if r.fit is None:
            svg.text(effect_x, y, r.note or "Not estimable", "s")
            continue
        f = r.fit
        svg.text(effect_x, y, fmt.estimate_ci(f.estimate, f.ci_low, f.ci_high, scale))
        cy = y - 4
        svg.line(xpos(f.ci_low), cy, xpos(f.ci_high), cy)
        if f.ci_low < lo:
            svg.polygon([(plot_left, cy), (plot_left + 6, cy - 3.5), (plot_left + 6, cy + 3.5)], "arrow")
        if f.ci_high > hi:
            svg.polygon([(plot_right, cy), (plot_right - 6, cy - 3.5), (plot_right - 6, cy + 3.5)], "arrow")
        if lo <= f.estimate <= hi:
            svg.rect(xpos(f.estimate) - 3.5, cy - 3.5, 7, 7, "sq")
    y = body + (n - 1 + 0.7) * ROW
    svg.text(0, y, pooled_label, "b")
    svg.text(effect_x, y, fmt.estimate_ci(pooled.estimate, pooled.ci_low, pooled.ci_high, scale), "b")
    cy = y - 4
    svg.polygon(
        [
            (xpos(pooled.ci_low), cy),
            (xpos(pooled.estimate), cy - 6),
            (xpos(pooled.ci_high), cy),
            (xpos(pooled.estimate), cy + 6),
        ],
        "dia",
    )
    # reference line at the pooled estimate of every study, and the null line
    svg.line(xpos(pooled.estimate), top + 2, xpos(pooled.estimate), axis_y, "ref")
    svg.line(xpos(0.0), top + 2, xpos(0.0), axis_y)
    svg.line(plot_left, axis_y, plot_right, axis_y)
    for t in ticks:
        x = xpos(t)
        svg.line(x, axis_y, x, axis_y + 4)
        svg.text(x, axis_y + 4 + forest.FONT, forest._tick_label(t, scale), "s", "middle")
    svg.text(xpos(0.0) - 6, axis_y + 2 * ROW, favours[0], "s", "end")
    svg.text(xpos(0.0) + 6, axis_y + 2 * ROW, favours[1], "s", "start")
    svg.text(effect_x, axis_y + forest.FONT + 4, "dashed: all studies", "s ref-label")
    return svg.render(STYLE)


def describe_steps(kind: str, rows: list[Step], pooled: Fit, scale: str) -> str:
    """The plot in words: the range of the refitted estimates against the estimate from every study."""
    fitted = [(r.fit.estimate, r.label) for r in rows if r.fit is not None]
    full = fmt.estimate_ci(pooled.estimate, pooled.ci_low, pooled.ci_high, scale)
    if not fitted:
        return f"{kind}: no refit has an estimate; with every study the estimate is {full}."
    low = min(fitted, key=lambda pair: pair[0])
    high = max(fitted, key=lambda pair: pair[0])
    return (
        f"{kind}: {len(fitted)} of {len(rows)} rows have an estimate, from {fmt.num(fmt.back(low[0], scale))} "
        f"({low[1]}) to {fmt.num(fmt.back(high[0], scale))} ({high[1]}); with every study the estimate is {full}."
    )


def funnel(
    title: str,
    desc: str,
    data,
    scale: str,
    ident: str,
    measure: str,
    caption: list[str] | None = None,
    filled: Filled | None = None,
) -> str:
    """Funnel plot (metafor's funnel(), yaxis = "sei"): each study at its estimate (x) and standard error (y,
    0 at the top), the pooled estimate as a vertical line and the pseudo 95% confidence region around it.
    With `filled` (trim-and-fill), the filled studies as open circles, the adjusted estimate as a dotted line
    and a legend under the axis."""
    import numpy as np

    ok = ~np.isnan(data.yi)
    xs = [float(v) for v in data.yi[ok]]
    ses = [float(v) for v in data.se[ok]]
    se_max = float(data.se_grid[-1]) or 1.0
    lo, hi, ticks = forest.axis_for(_bounds(data, xs, filled), scale)
    se_top, se_ticks = _se_axis(se_max)
    left, top, plot_w, plot_h = 60.0, 16.0, 320.0, 240.0
    width, height = left + plot_w + 20, top + plot_h + 52 + (22 if filled is not None else 0)  # and the legend

    def xpos(v: float) -> float:
        return left + (min(max(v, lo), hi) - lo) / (hi - lo) * plot_w

    def ypos(se: float) -> float:
        return top + se / se_top * plot_h

    svg = Svg(width, height, "fp funnel", title, desc, ident, caption)
    svg.polygon(_region(data, xpos, ypos), "band")
    svg.line(xpos(float(data.low[0])), ypos(0), xpos(float(data.low[-1])), ypos(float(data.se_grid[-1])), "edge")
    svg.line(xpos(float(data.high[0])), ypos(0), xpos(float(data.high[-1])), ypos(float(data.se_grid[-1])), "edge")
    svg.line(xpos(data.centre), ypos(0), xpos(data.centre), ypos(se_top), "ref")
    for x, se in zip(xs, ses):
        svg.circle(xpos(x), ypos(se), 4, "pt")
    if filled is not None:
        _filled(svg, filled, xpos, ypos, se_top, left, top + plot_h + 70)
    svg.line(left, top + plot_h, left + plot_w, top + plot_h)
    svg.line(left, top, left, top + plot_h)
    _ticks(
        svg,
        [(xpos(t), forest._tick_label(t, scale)) for t in ticks],
        [(ypos(s), s) for s in se_ticks],
        left,
        top + plot_h,
    )
    svg.text(left + plot_w / 2, top + plot_h + 46, measure + (" (log scale)" if scale == "log" else ""), "s", "middle")
    svg.parts.append(
        f'<text x="14" y="{coord(top + plot_h / 2)}" class="s" text-anchor="middle" '
        f'transform="rotate(-90 14 {coord(top + plot_h / 2)})">Standard error</text>'
    )
    return svg.render(STYLE + (FILLED_STYLE if filled is not None else ""))


def _bounds(data, xs: list[float], filled: Filled | None) -> list[float]:
    """How far from no effect the horizontal axis must reach: every study, the region's base, the centre."""
    bounds = [abs(v) for v in xs] + [abs(float(data.low[-1])), abs(float(data.high[-1])), abs(data.centre)]
    if filled is not None:
        bounds += [abs(v) for v in filled.yi] + [abs(filled.adjusted)]
    return bounds


def _region(data, xpos, ypos) -> list[tuple[float, float]]:
    """The pseudo-confidence region: down its left edge and back up its right one."""
    region = [(xpos(float(a)), ypos(float(s))) for a, s in zip(data.low, data.se_grid)]
    return region + [(xpos(float(b)), ypos(float(s))) for b, s in zip(data.high[::-1], data.se_grid[::-1])]


def _se_axis(se_max: float) -> tuple[float, list[float]]:
    """The SE axis: nice ticks from 0 down to the largest SE."""
    step = forest._nice(se_max / 4)
    se_top = step * math.ceil(se_max / step - 1e-9)
    return se_top, [step * i for i in range(int(round(se_top / step)) + 1)]


def _ticks(svg: Svg, x_ticks: list[tuple[float, str]], y_ticks: list[tuple[float, float]], left: float, bottom: float):
    for x, text in x_ticks:
        svg.line(x, bottom, x, bottom + 4)
        svg.text(x, bottom + 4 + forest.FONT, text, "s", "middle")
    for y, s in y_ticks:
        svg.line(left - 4, y, left, y)
        svg.text(left - 7, y + 4, f"{round(s, 6):g}", "s", "end")


def _filled(svg: Svg, filled: Filled, xpos, ypos, se_top: float, left: float, legend_y: float) -> None:
    """The filled studies, the adjusted estimate and the legend of the three kinds of mark."""
    svg.line(xpos(filled.adjusted), ypos(0), xpos(filled.adjusted), ypos(se_top), "adj")
    for x, se in zip(filled.yi, filled.se):
        svg.circle(xpos(x), ypos(se), 4, "pt-fill")
    svg.circle(left - 40, legend_y - 4, 4, "pt")
    svg.text(left - 32, legend_y, "observed", "s")
    svg.circle(left + 34, legend_y - 4, 4, "pt-fill")
    svg.text(left + 42, legend_y, f"filled ({filled.estimator})", "s")
    svg.line(left + 118, legend_y - 4, left + 140, legend_y - 4, "adj")
    svg.text(left + 144, legend_y, "adjusted estimate", "s")
    svg.line(left + 250, legend_y - 4, left + 272, legend_y - 4, "ref")
    svg.text(left + 276, legend_y, "pooled", "s")
