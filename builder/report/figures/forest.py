"""Forest plots in RevMan's layout, written directly as SVG (real text, light and dark schemes)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from builder.analysis.result import AnalysisResult, StudyRow, Subgroup
from builder.contract.rob import NOT_RETRIEVED, TOOLS
from builder.report import fmt
from builder.report.figures import robfig
from builder.report.figures.svg import Svg
from builder.report.methods import pooling_method
from builder.stats import Fit
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
        return f"{pooling_method(result)}, Fixed, 95% CI"
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
    i2 = i2_from_q(f)
    if i2 is not None:
        parts.append(f"I² = {i2:.0f}%")
    return "Heterogeneity: " + "; ".join(parts)


def i2_from_q(f) -> float | None:
    """I² as RevMan prints it beside Chi²: from Q, (Q - df) / Q. A random-effects fit's own I² (f.i2) is
    metafor's, from tau², and differs; wherever that one is shown it is labelled "from tau²"."""
    if f.i2_q is not None:
        return f.i2_q
    return f.i2 if f.i2_basis == "Q" else None


def i2_from_tau2(f) -> float | None:
    """The fit's I² from tau², or None when its I² is the one from Q."""
    return f.i2 if f.i2_basis == "tau2" else None


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
        if row.yi is not None and row.vi is not None:  # estimable
            half = study_half_width(row.vi)
            bounds += [abs(row.yi - half), abs(row.yi + half)]
    f = result.fit
    if f is not None:
        bounds += [abs(f.ci_low), abs(f.ci_high)]
        if f.pi_low is not None and f.pi_high is not None:
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


@dataclass(frozen=True)
class Widths:
    """The columns left of the plot for one type of outcome, from which `layout` places them. Numbers are
    right-aligned at the end of their column."""

    study: float  # the study's label
    arm: tuple[tuple[str, str, float], ...]  # each column of an arm: heading, input (without _exp/_ctrl), width
    arm_title: float  # the arm's name is centred this far right of the end of the arm's first column
    effect: float  # from the end of the weight to the centre of 'estimate [CI]'


WIDTHS = {  # by whether the outcome is dichotomous; a mean difference and its interval take more room
    True: Widths(145.0, (("Events", "events", 40.0), ("Total", "total", 37.0)), 18.0, 110.0),
    False: Widths(140.0, (("Mean", "mean", 40.0), ("SD", "sd", 40.0), ("Total", "total", 35.0)), 40.0, 115.0),
}
ARM_GAP = 10.0  # between the experimental arm's columns and the control arm's
WEIGHT_COLUMN = 65.0
EFFECT_TO_PLOT = 95.0  # from the centre of 'estimate [CI]' to the plot
PLOT_MARGIN = 15.0  # right of the plot, when no risk-of-bias columns follow it
RULE_MARGIN = 10.0  # between the end of the rule under the header and the edge
ROB_GAP, ROB_MARGIN = 20.0, 10.0  # before and after the risk-of-bias columns
LEGEND_COLUMN = 330.0  # where the second column of the risk-of-bias legend starts
KEY_START, KEY_GAP, KEY_CHAR = 8.0, 24.0, 6.6  # the legend's key: first symbol, then symbol and label widths


@dataclass(frozen=True)
class Column:
    head: str
    key: str  # the number's key in a row's inputs
    x: float  # the column's right edge


@dataclass(frozen=True)
class Content:
    """What the layout depends on: the outcome type and how many of each kind of row and column there are."""

    dichotomous: bool
    rows: int  # rows above the Total: studies, and with subgroups their headings, subtotals and lines
    prediction_interval: bool
    subgroups: bool
    rob_columns: int = 0  # none when no risk-of-bias tool is shown
    rob_keys: tuple[str, ...] = ()  # the legend's judgement labels, in order


@dataclass(frozen=True)
class Layout:
    """Every position of the plot: x of the columns, y of the rows, and the size."""

    left: float  # where the study's label, and every line of text under the plot, starts
    columns: tuple[Column, ...]  # the experimental arm's, then the control arm's
    arm_title_x: tuple[float, float]
    total_x: tuple[float, float]  # the Total columns of the two arms
    events_x: tuple[float, float] | None  # the Events columns (dichotomous outcomes)
    weight_x: float
    effect_x: float
    plot_left: float
    plot_right: float
    rob_x: tuple[float, ...]  # the centre of each risk-of-bias column
    rob_title_x: float
    width: float
    study_head_y: float  # 'Study or Subgroup'
    title_y: float  # the first header line (arm names, measure), then the second (column headings)
    head_y: float
    rule_y: float  # the rule under the header, up to rule_right
    rule_right: float
    row_y: tuple[float, ...]  # the baseline of each row above the Total
    total_y: float
    events_y: float | None
    pi_y: float | None
    axis_y: float
    foot_y: tuple[float, ...]  # heterogeneity, overall effect, subgroup differences (if any), notes
    legend_y: float  # the title of the risk-of-bias legend; its domains follow in two columns, then the key
    legend_x: tuple[float, float]
    key_y: float
    key_x: tuple[float, ...]  # each judgement's symbol, then 'Not assessed'
    height: float


def layout(content: Content) -> Layout:
    """Place the columns from their widths and the rows from their counts."""
    dich = content.dichotomous
    widths = WIDTHS[dich]
    columns, arm_title_x = _arm_columns(widths)
    by_key = {c.key: c.x for c in columns}
    weight_x = columns[-1].x + WEIGHT_COLUMN
    effect_x = weight_x + widths.effect
    plot_left = effect_x + EFFECT_TO_PLOT
    plot_right = plot_left + PLOT_WIDTH
    rob_left = plot_right + ROB_GAP
    rob_x = tuple(rob_left + (j + 0.5) * ROB_CELL for j in range(content.rob_columns))
    width = rob_left + content.rob_columns * ROB_CELL + ROB_MARGIN if content.rob_columns else plot_right + PLOT_MARGIN

    rule_y = 2 * ROW + 6  # after the two header lines
    study_top = rule_y + 6
    rows_end = study_top + content.rows * ROW
    total_y = rows_end + 0.7 * ROW
    line_y = total_y
    events_y = pi_y = None
    if dich:
        line_y += ROW
        events_y = line_y
    if content.prediction_interval:
        line_y += ROW
        pi_y = line_y
    extra_rows = 1 + (1 if dich else 0) + (1 if content.prediction_interval else 0)
    axis_y = rows_end + extra_rows * ROW + 8
    foot_lines = 3 + (1 if content.subgroups else 0)
    foot_y = tuple(axis_y + (3 + k) * ROW for k in range(foot_lines))
    legend_y = foot_y[-1] + ROW + 4
    legend_lines = 1 + (content.rob_columns + 1) // 2 + 1 if content.rob_columns else 0
    return Layout(
        left=0.0,
        columns=columns,
        arm_title_x=arm_title_x,
        total_x=(by_key["total_exp"], by_key["total_ctrl"]),
        events_x=(by_key["events_exp"], by_key["events_ctrl"]) if dich else None,
        weight_x=weight_x,
        effect_x=effect_x,
        plot_left=plot_left,
        plot_right=plot_right,
        rob_x=rob_x,
        rob_title_x=rob_left + content.rob_columns * ROB_CELL / 2,
        width=width,
        study_head_y=ROW,
        title_y=ROW - 2,
        head_y=2 * ROW,
        rule_y=rule_y,
        rule_right=width - RULE_MARGIN,
        row_y=tuple(study_top + (i + 0.7) * ROW for i in range(content.rows)),
        total_y=total_y,
        events_y=events_y,
        pi_y=pi_y,
        axis_y=axis_y,
        foot_y=foot_y,
        legend_y=legend_y,
        legend_x=(0.0, LEGEND_COLUMN),
        key_y=legend_y + ((content.rob_columns + 1) // 2 + 1) * ROW,
        key_x=_key_x(content.rob_keys),
        height=axis_y + 3 * ROW + foot_lines * ROW + 10 + legend_lines * ROW,
    )


def _arm_columns(widths: Widths) -> tuple[tuple[Column, ...], tuple[float, float]]:
    """Both arms' columns, each ending its width after the one before, and where each arm's name is centred."""
    columns: list[Column] = []
    title_x = []
    x = widths.study
    for arm in ("exp", "ctrl"):
        x += ARM_GAP if columns else 0.0
        for head, key, width in widths.arm:
            x += width
            columns.append(Column(head, f"{key}_{arm}", x))
        title_x.append(columns[-len(widths.arm)].x + widths.arm_title)
    return tuple(columns), (title_x[0], title_x[1])


def _key_x(labels: tuple[str, ...]) -> tuple[float, ...]:
    """Where each symbol of the legend's key goes: each after the label of the one before."""
    xs = [KEY_START]
    for text in labels:
        xs.append(xs[-1] + (KEY_GAP + KEY_CHAR * len(text)))
    return tuple(xs)


@dataclass(frozen=True)
class _Item:
    """A row above the Total: a study (its index in the rows), a subgroup's heading, subtotal, total events or
    footer line, or a blank row."""

    kind: str
    study: int = -1
    group: Subgroup | None = None
    text: str = ""


def render(
    result: AnalysisResult,
    experimental: str = "MSC",
    control: str = "Control",
    ident: str = "",
    caption: list[str] | None = None,
) -> str:
    """The forest plot as SVG: the layout first, from the content, then each part drawn into it. `caption`:
    the title lines above it (see figures.caption)."""
    tool, robs, _ = robfig.for_analysis(result.rows, result.outcome.id)
    rob_heads = _rob_heads(tool)
    rob_keys = [*TOOLS[tool].judgements, NOT_RETRIEVED] if tool is not None else []
    items = _items(result, result.dichotomous)
    f = result.fit
    lay = layout(
        Content(
            dichotomous=result.dichotomous,
            rows=len(items),
            prediction_interval=f is not None and f.pi_low is not None,
            subgroups=result.subgroups is not None,
            rob_columns=len(rob_heads),
            rob_keys=tuple(robfig.label(key) for key in rob_keys),
        )
    )
    svg = Svg(
        lay.width,
        lay.height,
        "fp forest" + (" rob" if tool else ""),
        f"Forest plot: {result.outcome.label}, {result.spec.title}",
        describe(result, experimental, control),
        ident or f"forest-{result.spec.id}",
        caption,
    )
    plot = _Plot(svg, lay, result, tool, axis(result))
    plot.header(experimental, control, rob_heads)
    for item, y in zip(items, lay.row_y):
        plot.item(item, y, robs)
    plot.overall()
    plot.axis(*favours(result, experimental, control))
    plot.footer()
    if tool is None:
        return svg.render(STYLE)
    plot.legend(tool, rob_heads, rob_keys)
    return svg.render(STYLE + robfig.FOREST_STYLE)


def _rob_heads(tool: str | None) -> list[str]:
    if tool is None:
        return []
    return [f"D{i + 1}" for i in range(len(TOOLS[tool].domains))] + (["O"] if tool != "rob1" else [])


class _Plot:
    """Draws the parts of a forest plot at the positions of its layout."""

    def __init__(
        self, svg: Svg, lay: Layout, result: AnalysisResult, tool: str | None, limits: tuple[float, float, list[float]]
    ):
        self.svg, self.lay, self.result, self.tool = svg, lay, result, tool
        self.lo, self.hi, self.ticks = limits
        self.scale = result.scale
        self.max_w = max((r.weight for r in result.rows if r.weight), default=1.0)

    def xpos(self, v: float) -> float:
        lay = self.lay
        return lay.plot_left + (min(max(v, self.lo), self.hi) - self.lo) / (self.hi - self.lo) * PLOT_WIDTH

    def header(self, experimental: str, control: str, rob_heads: list[str]) -> None:
        svg, lay = self.svg, self.lay
        svg.text(lay.left, lay.study_head_y, "Study or Subgroup", "b")
        svg.text(lay.arm_title_x[0], lay.title_y, experimental, "b", "middle")
        svg.text(lay.arm_title_x[1], lay.title_y, control, "b", "middle")
        for column in lay.columns:
            if any(column.key in r.inputs for r in self.result.rows) or not self.result.rows:
                svg.text(column.x, lay.head_y, column.head, "b", "end")  # none where every study gives totals only
        svg.text(lay.weight_x, lay.head_y, "Weight", "b", "end")
        measure, label = self.result.effect_measure.label, method_label(self.result)
        for x in (lay.effect_x, (lay.plot_left + lay.plot_right) / 2):
            svg.text(x, lay.title_y, measure, "b", "middle")
            svg.text(x, lay.head_y, label, "m", "middle")
        if lay.rob_x:
            svg.text(lay.rob_title_x, lay.title_y, "Risk of bias", "b", "middle")
            for cx, head in zip(lay.rob_x, rob_heads):
                svg.text(cx, lay.head_y, head, "m", "middle")
        svg.line(lay.left, lay.rule_y, lay.rule_right, lay.rule_y)

    def item(self, item: _Item, y: float, robs: list) -> None:
        svg, lay, rows = self.svg, self.lay, self.result.rows
        if item.kind == "study":
            self.study(rows[item.study], y, robs[item.study])
        elif item.kind == "heading":
            svg.text(lay.left, y, item.text, "b")
        elif item.kind == "subtotal" and item.group is not None:
            group_rows = [rows[j] for j in item.group.rows]
            weight = fmt.weight(sum(r.weight or 0.0 for r in group_rows))
            self.total("Subtotal (95% CI)", group_rows, item.group.fit, y, weight, "dia sub")
        elif item.kind == "events" and item.group is not None:
            self.group_events(y, [rows[j] for j in item.group.rows])
        elif item.kind == "line":
            svg.text(lay.left, y, item.text, "s")

    def group_events(self, y: float, rows: list[StudyRow]) -> None:
        """A subgroup's total events, where every study of it gives its events."""
        if all("events_exp" in r.inputs for r in rows):
            self.events(y, *(int(sum(r.inputs[k] for r in rows)) for k in ("events_exp", "events_ctrl")))

    def rob_marks(self, rob, cy: float) -> None:
        svg, lay = self.svg, self.lay
        if rob is None or self.tool is None:
            for cx in lay.rob_x:
                svg.circle(cx, cy, 6.5, "na")
            return
        for cx, value in zip(lay.rob_x, robfig.judgements(self.tool, rob)):
            svg.circle(cx, cy, 7.5, f"j-{value}")
            svg.text(cx, cy + 3.5, robfig.STYLE_OF[value][1], robfig._sym(value), "middle")

    def study(self, row: StudyRow, y: float, rob) -> None:
        svg, lay, scale = self.svg, self.lay, self.scale
        marks = (" *" if row.dataset != "published" else "") + (" †" if row.unverified else "")
        svg.text(lay.left, y, row.study.label + marks)
        if self.tool is not None:
            self.rob_marks(rob, y - 4)
        for column in lay.columns:
            v = row.inputs.get(column.key)  # a study that reports its comparison gives its totals alone
            if v is not None:
                svg.text(column.x, y, f"{int(v)}" if column.head in ("Events", "Total") else fmt.num(v), "", "end")
        svg.text(lay.weight_x, y, fmt.weight(row.weight), "", "end")
        if row.yi is None or row.vi is None:
            svg.text(lay.effect_x, y, "Not estimable", "", "middle")
            return
        half = study_half_width(row.vi)
        svg.text(lay.effect_x, y, fmt.estimate_ci(row.yi, row.yi - half, row.yi + half, scale), "", "middle")
        cy = y - 4
        x1, x2 = self.xpos(row.yi - half), self.xpos(row.yi + half)
        svg.line(x1, cy, x2, cy)
        left, right = lay.plot_left, lay.plot_right
        if row.yi - half < self.lo:
            svg.polygon([(left, cy), (left + 6, cy - 3.5), (left + 6, cy + 3.5)], "arrow")
        if row.yi + half > self.hi:
            svg.polygon([(right, cy), (right - 6, cy - 3.5), (right - 6, cy + 3.5)], "arrow")
        if self.lo <= row.yi <= self.hi:
            side = 3 + 9 * math.sqrt((row.weight or 0) / self.max_w) if self.max_w else 4
            svg.rect(self.xpos(row.yi) - side / 2, cy - side / 2, side, side, "sq")

    def total(self, title: str, rows: list[StudyRow], fit: Fit | None, y: float, weight: str, cls: str) -> None:
        """A Total or Subtotal row: participants, weight, the estimate in numbers and as a diamond."""
        svg, lay = self.svg, self.lay
        svg.text(lay.left, y, title, "b")
        if rows:
            for x, k in zip(lay.total_x, ("total_exp", "total_ctrl")):
                svg.text(x, y, str(int(sum(r.inputs[k] for r in rows))), "b", "end")
        if fit is None:
            svg.text(lay.effect_x, y, "Not estimable", "b", "middle")
            return
        svg.text(lay.weight_x, y, weight, "b", "end")
        svg.text(lay.effect_x, y, fmt.estimate_ci(fit.estimate, fit.ci_low, fit.ci_high, self.scale), "b", "middle")
        cy = y - 4
        low, mid, high = self.xpos(fit.ci_low), self.xpos(fit.estimate), self.xpos(fit.ci_high)
        svg.polygon([(low, cy), (mid, cy - 6), (high, cy), (mid, cy + 6)], cls)

    def events(self, y: float, experimental: int, control: int) -> None:
        if self.lay.events_x is None:
            return
        self.svg.text(self.lay.left, y, "Total events")
        self.svg.text(self.lay.events_x[0], y, str(experimental), "", "end")
        self.svg.text(self.lay.events_x[1], y, str(control), "", "end")

    def overall(self) -> None:
        """The Total row, the total events and the prediction interval."""
        svg, lay, result, f = self.svg, self.lay, self.result, self.result.fit
        self.total("Total (95% CI)", result.rows, f, lay.total_y, "100.0%" if f is not None else "", "dia")
        totals = result.totals() if result.rows else {}
        if lay.events_y is not None and "events_exp" in totals:
            self.events(lay.events_y, totals["events_exp"], totals["events_ctrl"])
        if f is not None and f.pi_low is not None and f.pi_high is not None and lay.pi_y is not None:
            y = lay.pi_y
            svg.text(lay.left, y, "Prediction interval")
            interval = f"[{fmt.num(fmt.back(f.pi_low, self.scale))}, {fmt.num(fmt.back(f.pi_high, self.scale))}]"
            svg.text(lay.effect_x, y, interval, "", "middle")
            svg.rect(self.xpos(f.pi_low), y - 8, max(self.xpos(f.pi_high) - self.xpos(f.pi_low), 1), 8, "pi")

    def axis(self, left_label: str, right_label: str) -> None:
        svg, lay = self.svg, self.lay
        x_null = self.xpos(0.0)
        svg.line(lay.plot_left, lay.axis_y, lay.plot_right, lay.axis_y)
        svg.line(x_null, lay.rule_y + 2, x_null, lay.axis_y)
        for t in self.ticks:
            x = self.xpos(t)
            svg.line(x, lay.axis_y, x, lay.axis_y + 4)
            svg.text(x, lay.axis_y + 4 + FONT, _tick_label(t, self.scale), "s", "middle")
        svg.text(x_null - 6, lay.axis_y + 2 * ROW, left_label, "s", "end")
        svg.text(x_null + 6, lay.axis_y + 2 * ROW, right_label, "s", "start")

    def footer(self) -> None:
        """Heterogeneity, overall effect, subgroup differences, and the notes on the studies' values."""
        svg, lay, result = self.svg, self.lay, self.result
        lines = [heterogeneity_line(result), overall_effect_line(result)]
        differences = subgroup_differences_line(result)
        if differences:
            lines.append(differences)
        for y, text in zip(lay.foot_y, lines):
            svg.text(lay.left, y, text, "s")
        notes = []
        if any(r.dataset != "published" for r in result.rows):
            notes.append("* values as the source review analysed them (see the study's page)")
        if any(r.unverified for r in result.rows):
            notes.append("† values not verified in a retrievable copy of the report")
        if any(r.corrected for r in result.rows):
            notes.append(f"{result.spec.continuity_correction:g} added to zero cells for the study's own estimate")
        if any(not r.estimable and r.weight is not None for r in result.rows):
            notes.append("a weight without an estimate: none or all had the event in both arms")
        if notes:
            svg.text(lay.left, lay.foot_y[-1], "; ".join(notes).capitalize(), "s")

    def legend(self, tool: str, rob_heads: list[str], rob_keys: list[str]) -> None:
        """The risk-of-bias columns explained: the tool, its domains in two columns, its judgements' symbols."""
        svg, lay = self.svg, self.lay
        y = lay.legend_y
        svg.text(
            lay.left, y, f"Risk of bias ({TOOLS[tool].name}, as assessed for this outcome or for all outcomes)", "b"
        )
        names = list(TOOLS[tool].domains.values()) + (["Overall judgement"] if tool != "rob1" else [])
        for j, (head, name) in enumerate(zip(rob_heads, names)):
            svg.text(lay.legend_x[j % 2], y + (j // 2 + 1) * ROW, f"({head}) {name}", "s")
        y = lay.key_y
        for x, key in zip(lay.key_x, rob_keys):
            svg.circle(x, y - 4, 7.5, f"j-{key}")
            svg.text(x, y - 0.5, robfig.STYLE_OF[key][1], robfig._sym(key), "middle")
            svg.text(x + 12, y, robfig.label(key), "s")
        x = lay.key_x[-1]
        svg.circle(x, y - 4, 6.5, "na")
        svg.text(x + 12, y, "Not assessed", "s")


def _items(result: AnalysisResult, dich: bool) -> list[_Item]:
    """The rows above the Total: each study; with subgroups, RevMan's blocks of a heading, the subgroup's studies,
    its subtotal (and total events), its heterogeneity and overall-effect lines, and a blank row."""
    if result.subgroups is None:
        return [_Item("study", i) for i in range(len(result.rows))]
    out: list[_Item] = []
    for g in result.subgroups.groups:
        out.append(_Item("heading", text=g.label))
        out += [_Item("study", i) for i in g.rows]
        out.append(_Item("subtotal", group=g))
        if dich:
            out.append(_Item("events", group=g))
        out.append(_Item("line", text=heterogeneity_text(g.fit)))
        out.append(_Item("line", text=overall_effect_text(g.fit)))
        out.append(_Item("gap"))
    return out


def describe(result: AnalysisResult, experimental: str = "MSC", control: str = "Control") -> str:
    """The plot's result in one sentence, for screen readers and as the figure's alt text."""
    f = result.fit
    n = len(result.rows)
    if f is None:
        return f"{result.outcome.label}: no study has usable data yet, so there is no pooled estimate."
    est = fmt.estimate_ci(f.estimate, f.ci_low, f.ci_high, result.scale)
    measure = result.effect_measure.label.lower()
    i2 = f"; I² = {i2_from_q(f):.0f}%" if i2_from_q(f) is not None else ""
    if i2 and i2_from_tau2(f) is not None:
        i2 += f" from Q ({i2_from_tau2(f):.0f}% from tau²)"
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
        text += (
            f" Subgroups by {s.label or s.by}: "
            + "; ".join(parts)
            + ". "
            + (subgroup_differences_line(result) or "")
            + "."
        )
    return text
