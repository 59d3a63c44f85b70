"""Forest plots in RevMan's layout, written directly as SVG (real text, light and dark schemes)."""

from __future__ import annotations

import math

from builder.analysis.result import AnalysisResult
from builder.contract.rob import NOT_RETRIEVED, TOOLS
from builder.report import fmt
from builder.report.figures import robfig
from builder.report.figures.svg import Svg
from builder.stats.inference import study_half_width

ROW = 19.0
FONT = 12.0
PLOT_WIDTH = 230.0
ROB_CELL = 20.0  # width of a risk-of-bias column
LOG_RANGES = [0.5, 0.2, 0.1, 0.05, 0.02, 0.01]  # lower limit of a log axis symmetric about 1; CIs beyond
#                                                   0.01-100 are drawn as arrows, as RevMan does
STYLE = (
    ".fp text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:12px;"
    "fill:var(--md-default-fg-color,#1d1d1f)}"
    ".fp .b{font-weight:700}.fp .m{font-weight:700;font-size:11px}.fp .s{font-size:11px;fill:var(--md-default-fg-color--light,#555)}"
    ".fp line{stroke:var(--md-default-fg-color,#1d1d1f);stroke-width:1}"
    ".fp .grid{stroke:var(--md-default-fg-color--lighter,#999);stroke-dasharray:3 3}"
    ".fp .sq{fill:#3b6fb6}.fp .dia{fill:var(--md-default-fg-color,#1d1d1f)}"
    ".fp .pi{fill:none;stroke:#c0392b;stroke-width:1.5}.fp .arrow{fill:var(--md-default-fg-color,#1d1d1f)}"
)


def method_label(result: AnalysisResult) -> str:
    """RevMan's second header line, e.g. 'M-H, Fixed, 95% CI' or 'IV, Random, REML, HKSJ 95% CI'."""
    f = result.fit
    if f is None:
        return "95% CI"
    if f.model == "fixed":
        return f"{'M-H' if f.method == 'MH' else 'IV'}, Fixed, 95% CI"
    ci = {"hksj": "HKSJ 95% CI", "hksj-adhoc": "HKSJ (ad hoc) 95% CI"}.get(f.ci_method, "95% CI")
    return f"IV, Random, {f.method}, {ci}"


def heterogeneity_line(result: AnalysisResult) -> str:
    return heterogeneity_text(result.fit)


def heterogeneity_text(f) -> str:
    if f is None or f.q is None:
        return "Heterogeneity: Not applicable"
    parts = []
    if f.model == "random":
        parts.append(f"Tau² = {fmt.tau2(f.tau2)}")
    parts.append(f"Chi² = {fmt.num(f.q)}, df = {f.q_df} ({fmt.p_value(f.q_p)})")
    parts.append(f"I² = {f.i2:.0f}%")
    return "Heterogeneity: " + "; ".join(parts)


def overall_effect_line(result: AnalysisResult) -> str:
    return overall_effect_text(result.fit)


def subgroup_differences_line(result: AnalysisResult) -> str | None:
    """RevMan's last footer line; None when the analysis has no subgroups."""
    s = result.subgroups
    if s is None:
        return None
    if s.q is None:
        return "Test for subgroup differences: Not applicable"
    return f"Test for subgroup differences: Chi² = {fmt.num(s.q)}, df = {s.df} ({fmt.p_value(s.p)}), I² = {s.i2:.0f}%"


def overall_effect_text(f) -> str:
    if f is None:
        return "Test for overall effect: Not applicable"
    stat = f"t({f.df}) = {fmt.num(abs(f.statistic))}" if f.df is not None else f"Z = {fmt.num(abs(f.statistic))}"
    return f"Test for overall effect: {stat} ({fmt.p_value(f.p)})"


def favours(result: AnalysisResult, experimental: str, control: str) -> tuple[str, str]:
    """Labels for the left and right of the axis. Higher-is-better outcomes put the experimental arm right."""
    if result.outcome.direction == "higher-is-better":
        return f"Favours {control}", f"Favours {experimental}"
    return f"Favours {experimental}", f"Favours {control}"


def _nice(value: float) -> float:
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * 10**exponent >= value:
            return step * 10**exponent
    return 10 ** (exponent + 1)


def axis(result: AnalysisResult) -> tuple[float, float, list[float]]:
    """Axis limits and ticks on the analysis scale: log axes symmetric about 1, linear ones about 0."""
    bounds = []
    for row in result.rows:
        if row.estimable:
            half = study_half_width(row.vi)
            bounds += [abs(row.yi - half), abs(row.yi + half)]
    f = result.fit
    if f is not None:
        bounds += [abs(f.ci_low), abs(f.ci_high)]
        if f.pi_low is not None:
            bounds += [abs(f.pi_low), abs(f.pi_high)]
    if result.subgroups is not None:
        bounds += [abs(v) for g in result.subgroups.groups if g.fit is not None for v in (g.fit.ci_low, g.fit.ci_high)]
    return axis_for(bounds, result.scale)


def axis_for(bounds: list[float], scale: str) -> tuple[float, float, list[float]]:
    """Axis limits and ticks that reach the largest of `bounds` (distances from the null on the analysis
    scale), as `axis` draws them; shared by the forest plot and the smaller follow-up plots."""
    reach = max(bounds) if bounds else 1.0
    if scale == "log":
        low = next((r for r in LOG_RANGES if -math.log(r) >= reach), LOG_RANGES[-1])
        ticks = [
            v for v in (0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 1000) if low <= v <= 1 / low
        ]
        if len(ticks) > 7:
            ticks = [v for v in ticks if round(math.log10(v), 6).is_integer()]
        return math.log(low), -math.log(low), [math.log(t) for t in ticks]
    limit = _nice(reach if reach > 0 else 1.0)
    return -limit, limit, [-limit, -limit / 2, 0.0, limit / 2, limit]


def _tick_label(value: float, scale: str) -> str:
    if scale == "log":
        v = math.exp(value)
        return f"{v:g}"
    return fmt.num(value, 0 if float(value).is_integer() else 2).replace("−", "-")


def render(result: AnalysisResult, experimental: str = "MSC", control: str = "Control", ident: str = "") -> str:
    dich = result.dichotomous
    scale = result.scale
    ident = ident or f"forest-{result.spec.id}"
    if dich:
        cols = [("Events", 185), ("Total", 222), ("Events", 272), ("Total", 309)]
        group_x = (203, 290)
        weight_x, effect_x = 374, 484
    else:
        cols = [("Mean", 180), ("SD", 220), ("Total", 255), ("Mean", 305), ("SD", 345), ("Total", 380)]
        group_x = (220, 345)
        weight_x, effect_x = 445, 560
    plot_left = effect_x + 95
    plot_right = plot_left + PLOT_WIDTH
    width = plot_right + 15
    tool, robs, _ = robfig.for_analysis(result.rows, result.outcome.id)
    if tool is not None:
        rob_heads = [f"D{i + 1}" for i in range(len(TOOLS[tool].domains))] + (["O"] if tool != "rob1" else [])
        rob_left = plot_right + 20
        width = rob_left + len(rob_heads) * ROB_CELL + 10
        rob_keys = list(TOOLS[tool].judgements) + [NOT_RETRIEVED]
        legend_lines = 1 + (len(rob_heads) + 1) // 2 + 1
    else:
        legend_lines = 0
    lo, hi, ticks = axis(result)

    def xpos(v: float) -> float:
        return plot_left + (min(max(v, lo), hi) - lo) / (hi - lo) * PLOT_WIDTH

    f = result.fit
    layout = _layout(result, dich)
    y0 = 2 * ROW + 6  # after the two header lines
    study_top = y0 + 6
    rows_end = study_top + len(layout) * ROW
    extra_rows = 1 + (1 if dich else 0) + (1 if f is not None and f.pi_low is not None else 0)
    axis_y = rows_end + extra_rows * ROW + 8
    foot_lines = 3 + (1 if result.subgroups is not None else 0)
    height = axis_y + 3 * ROW + foot_lines * ROW + 10 + legend_lines * ROW

    measure = result.effect_measure.label
    label = method_label(result)
    left_label, right_label = favours(result, experimental, control)
    desc = describe(result, experimental, control)
    svg = Svg(
        width,
        height,
        "fp forest" + (" rob" if tool else ""),
        f"Forest plot: {result.outcome.label}, {result.spec.title}",
        desc,
        ident,
    )

    # headers
    svg.text(0, ROW, "Study or Subgroup", "b")
    svg.text(group_x[0], ROW - 2, experimental, "b", "middle")
    svg.text(group_x[1], ROW - 2, control, "b", "middle")
    for name, x in cols:
        svg.text(x, 2 * ROW, name, "b", "end")
    svg.text(weight_x, 2 * ROW, "Weight", "b", "end")
    for x in (effect_x, (plot_left + plot_right) / 2):
        svg.text(x, ROW - 2, measure, "b", "middle")
        svg.text(x, 2 * ROW, label, "m", "middle")
    if tool is not None:
        svg.text(rob_left + len(rob_heads) * ROB_CELL / 2, ROW - 2, "Risk of bias", "b", "middle")
        for j, head in enumerate(rob_heads):
            svg.text(rob_left + (j + 0.5) * ROB_CELL, 2 * ROW, head, "m", "middle")
    svg.line(0, y0, width - 10, y0)

    def rob_marks(rob, cy: float) -> None:
        if rob is None:
            for j in range(len(rob_heads)):
                svg.circle(rob_left + (j + 0.5) * ROB_CELL, cy, 6.5, "na")
            return
        for j, value in enumerate(robfig.judgements(tool, rob)):
            cx = rob_left + (j + 0.5) * ROB_CELL
            svg.circle(cx, cy, 7.5, f"j-{value}")
            svg.text(cx, cy + 3.5, robfig.STYLE_OF[value][1], robfig._sym(value), "middle")

    max_w = max((r.weight for r in result.rows if r.weight), default=1.0)
    x_null = xpos(0.0)

    def study(row, y: float, rob) -> None:
        svg.text(0, y, row.study.label + (" *" if row.dataset != "published" else ""))
        if tool is not None:
            rob_marks(rob, y - 4)
        values = (
            [row.inputs["events_exp"], row.inputs["total_exp"], row.inputs["events_ctrl"], row.inputs["total_ctrl"]]
            if dich
            else [
                row.inputs["mean_exp"],
                row.inputs["sd_exp"],
                row.inputs["total_exp"],
                row.inputs["mean_ctrl"],
                row.inputs["sd_ctrl"],
                row.inputs["total_ctrl"],
            ]
        )
        for (name, x), v in zip(cols, values):
            svg.text(x, y, f"{int(v)}" if name in ("Events", "Total") else fmt.num(v), "", "end")
        svg.text(weight_x, y, fmt.weight(row.weight), "", "end")
        if not row.estimable:
            svg.text(effect_x, y, "Not estimable", "", "middle")
            return
        half = study_half_width(row.vi)
        svg.text(effect_x, y, fmt.estimate_ci(row.yi, row.yi - half, row.yi + half, scale), "", "middle")
        cy = y - 4
        x1, x2 = xpos(row.yi - half), xpos(row.yi + half)
        svg.line(x1, cy, x2, cy)
        if row.yi - half < lo:
            svg.polygon([(plot_left, cy), (plot_left + 6, cy - 3.5), (plot_left + 6, cy + 3.5)], "arrow")
        if row.yi + half > hi:
            svg.polygon([(plot_right, cy), (plot_right - 6, cy - 3.5), (plot_right - 6, cy + 3.5)], "arrow")
        if lo <= row.yi <= hi:
            side = 3 + 9 * math.sqrt((row.weight or 0) / max_w) if max_w else 4
            svg.rect(xpos(row.yi) - side / 2, cy - side / 2, side, side, "sq")

    def total(title: str, rows: list, fit, y: float, weight: str, cls: str) -> None:
        """A Total or Subtotal row: participants, weight, the estimate in numbers and as a diamond."""
        svg.text(0, y, title, "b")
        if rows:
            sums = {k: int(sum(r.inputs[k] for r in rows)) for k in ("total_exp", "total_ctrl")}
            svg.text(cols[1 if dich else 2][1], y, str(sums["total_exp"]), "b", "end")
            svg.text(cols[3 if dich else 5][1], y, str(sums["total_ctrl"]), "b", "end")
        if fit is None:
            svg.text(effect_x, y, "Not estimable", "b", "middle")
            return
        svg.text(weight_x, y, weight, "b", "end")
        svg.text(effect_x, y, fmt.estimate_ci(fit.estimate, fit.ci_low, fit.ci_high, scale), "b", "middle")
        cy = y - 4
        svg.polygon(
            [
                (xpos(fit.ci_low), cy),
                (xpos(fit.estimate), cy - 6),
                (xpos(fit.ci_high), cy),
                (xpos(fit.estimate), cy + 6),
            ],
            cls,
        )

    for i, (kind, item) in enumerate(layout):
        y = study_top + (i + 0.7) * ROW
        if kind == "study":
            study(result.rows[item], y, robs[item])
        elif kind == "heading":
            svg.text(0, y, item, "b")
        elif kind == "subtotal":
            rows = [result.rows[j] for j in item.rows]
            total("Subtotal (95% CI)", rows, item.fit, y, fmt.weight(sum(r.weight or 0.0 for r in rows)), "dia sub")
        elif kind == "events":
            rows = [result.rows[j] for j in item.rows]
            svg.text(0, y, "Total events")
            svg.text(cols[0][1], y, str(int(sum(r.inputs["events_exp"] for r in rows))), "", "end")
            svg.text(cols[2][1], y, str(int(sum(r.inputs["events_ctrl"] for r in rows))), "", "end")
        elif kind == "line":
            svg.text(0, y, item, "s")

    y = rows_end + 0.7 * ROW
    totals = result.totals() if result.rows else {}
    if f is not None:
        total("Total (95% CI)", result.rows, f, y, "100.0%", "dia")
    else:
        total("Total (95% CI)", result.rows, None, y, "", "dia")
    line_y = y
    if dich and totals:
        line_y += ROW
        svg.text(0, line_y, "Total events")
        svg.text(cols[0][1], line_y, str(totals["events_exp"]), "", "end")
        svg.text(cols[2][1], line_y, str(totals["events_ctrl"]), "", "end")
    if f is not None and f.pi_low is not None:
        line_y += ROW
        svg.text(0, line_y, "Prediction interval")
        svg.text(
            effect_x,
            line_y,
            f"[{fmt.num(fmt.back(f.pi_low, scale))}, {fmt.num(fmt.back(f.pi_high, scale))}]",
            "",
            "middle",
        )
        svg.rect(xpos(f.pi_low), line_y - 8, max(xpos(f.pi_high) - xpos(f.pi_low), 1), 8, "pi")

    # axis
    svg.line(plot_left, axis_y, plot_right, axis_y)
    svg.line(x_null, y0 + 2, x_null, axis_y)
    for t in ticks:
        x = xpos(t)
        svg.line(x, axis_y, x, axis_y + 4)
        svg.text(x, axis_y + 4 + FONT, _tick_label(t, scale), "s", "middle")
    svg.text(x_null - 6, axis_y + 2 * ROW, left_label, "s", "end")
    svg.text(x_null + 6, axis_y + 2 * ROW, right_label, "s", "start")

    foot = axis_y + 3 * ROW
    svg.text(0, foot, heterogeneity_line(result), "s")
    svg.text(0, foot + ROW, overall_effect_line(result), "s")
    differences = subgroup_differences_line(result)
    if differences:
        foot += ROW
        svg.text(0, foot + ROW, differences, "s")
    notes = []
    if any(r.dataset != "published" for r in result.rows):
        notes.append("* values as the source review analysed them (see the study's page)")
    if any(r.corrected for r in result.rows):
        notes.append(f"{result.spec.continuity_correction:g} added to zero cells for the study's own estimate")
    if notes:
        svg.text(0, foot + 2 * ROW, "; ".join(notes).capitalize(), "s")
    if tool is None:
        return svg.render(STYLE)
    # the legend of the risk-of-bias columns: the tool, its domains, and its judgements with their symbols
    y = foot + 3 * ROW + 4
    svg.text(0, y, f"Risk of bias ({TOOLS[tool].name}, as assessed for this outcome or for all outcomes)", "b")
    names = list(TOOLS[tool].domains.values()) + (["Overall judgement"] if tool != "rob1" else [])
    for j, (head, name) in enumerate(zip(rob_heads, names)):  # in two columns
        svg.text(0 if j % 2 == 0 else 330, y + (j // 2 + 1) * ROW, f"({head}) {name}", "s")
    y += ((len(rob_heads) + 1) // 2 + 1) * ROW
    x = 8.0
    for key in rob_keys:
        svg.circle(x, y - 4, 7.5, f"j-{key}")
        svg.text(x, y - 0.5, robfig.STYLE_OF[key][1], robfig._sym(key), "middle")
        svg.text(x + 12, y, robfig.label(key), "s")
        x += 24 + 6.6 * len(robfig.label(key))
    svg.circle(x, y - 4, 6.5, "na")
    svg.text(x + 12, y, "Not assessed", "s")
    return svg.render(STYLE + robfig.FOREST_STYLE)


def _layout(result: AnalysisResult, dich: bool) -> list[tuple[str, object]]:
    """The rows above the Total: each study; with subgroups, RevMan's blocks of a heading, the subgroup's studies,
    its subtotal (and total events), its heterogeneity and overall-effect lines, and a blank row."""
    if result.subgroups is None:
        return [("study", i) for i in range(len(result.rows))]
    out: list[tuple[str, object]] = []
    for g in result.subgroups.groups:
        out.append(("heading", g.label))
        out += [("study", i) for i in g.rows]
        out.append(("subtotal", g))
        if dich:
            out.append(("events", g))
        out.append(("line", heterogeneity_text(g.fit)))
        out.append(("line", overall_effect_text(g.fit)))
        out.append(("gap", None))
    return out


def describe(result: AnalysisResult, experimental: str = "MSC", control: str = "Control") -> str:
    """The plot's result in one sentence, for screen readers and as the figure's alt text."""
    f = result.fit
    n = len(result.rows)
    if f is None:
        return f"{result.outcome.label}: no study has usable data yet, so there is no pooled estimate."
    est = fmt.estimate_ci(f.estimate, f.ci_low, f.ci_high, result.scale)
    measure = result.effect_measure.label.lower()
    i2 = f"; I² = {f.i2:.0f}%" if f.i2 is not None else ""
    text = (
        f"{result.outcome.label}, {experimental} versus {control.lower()}: {n} studies "
        f"({f.k} contributing), pooled {measure} {est.replace('[', '(95% CI ').replace(']', ')')}, "
        f"{fmt.p_value(f.p)}{i2}."
    )
    tool, robs, _ = robfig.for_analysis(result.rows, result.outcome.id)
    if tool is not None:
        text += (
            f" Risk of bias ({TOOLS[tool].name}) is shown beside the plot for "
            f"{sum(1 for r in robs if r is not None)} of {n} studies."
        )
    s = result.subgroups
    if s is not None:
        parts = [
            f"{g.label} {fmt.estimate_ci(g.fit.estimate, g.fit.ci_low, g.fit.ci_high, result.scale)}"
            if g.fit
            else f"{g.label} not estimable"
            for g in s.groups
        ]
        text += f" Subgroups by {s.by}: " + "; ".join(parts) + ". " + subgroup_differences_line(result) + "."
    return text
