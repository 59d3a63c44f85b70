"""What a page shows about one analysis (AnalysisView), worked out only when a page asks for it.

A view's figures are its costly part: drawn, or read back from the build's store, for every study of the
analysis. Pages that only name an analysis (the home page, the methods, the study pages) never touch them,
and an incremental build that keeps an outcome page from the last build (see builder.caching.reuse) needs none of its
views' figures or tables at all. So every field below is computed on first use and then kept.
"""

from __future__ import annotations

import json
from functools import cached_property

from builder.analysis import subgroups as subgroups_mod
from builder.analysis.result import AnalysisResult
from builder.caching import store as cache
from builder.caching.outputs import Stored
from builder.contract import Review, Study
from builder.contract.rob import TOOLS
from builder.report import fmt, interpret, reproduce
from builder.report.figures import caption, followplot, forest, robfig
from builder.stats.inference import study_half_width


class AnalysisView:
    """Everything a page shows about one analysis, as ready-made strings."""

    def __init__(self, result: AnalysisResult, review: Review, store: cache.Store | None = None, rob_json=None):
        self.result = result
        self.review = review
        self._store = store
        self._rob_json = rob_json or rob_json_of

    @property
    def id(self) -> str:
        return self.result.spec.id

    @property
    def spec(self):
        return self.result.spec

    @property
    def k_total(self) -> int:
        return len(self.result.rows)

    @property
    def k_estimable(self) -> int:
        return sum(1 for r in self.result.rows if r.estimable)

    @cached_property
    def stored_figures(self) -> Stored:
        """The figures as kept in the store: made from the analysis (its key) plus what else they draw, the
        arms' labels and the studies' risk of bias."""
        if self.result.key is None:
            return Stored("figures", {"analysis": None})  # nothing to key by: drawn anew, never kept
        return Stored(
            "figures",
            {
                "analysis": self.result.key,
                "arm labels": [self.review.experimental_label, self.review.control_label],
                "risk of bias": [self._rob_json(r.study) for r in self.result.rows],
                "title lines": caption.source(self.review),  # each figure names the review and its version
            },
        )

    @property
    def figure_key(self) -> str | None:
        """The content key of the figures; None when the analysis has no key (a build that keeps nothing)."""
        return self.stored_figures.key

    @cached_property
    def _figures(self) -> dict:
        """The forest plot and the follow-up plots, from the store when an earlier build drew them."""
        found = self.stored_figures.get(self._store)
        if isinstance(found, dict):
            return found
        figures = {
            "svg": forest.render(
                self.result,
                self.review.experimental_label,
                self.review.control_label,
                caption=caption.for_analysis("Forest plot", self.result, self.review),
            ),
            "plots": followup_plots(self.result, self.review),
        }
        self.stored_figures.put(self._store, figures)
        return figures

    @property
    def svg(self) -> str:
        return self._figures["svg"]

    @property
    def plots(self) -> dict:
        """Follow-up figures by key (leave_one_out, cumulative): {"svg", "alt"}."""
        return self._figures["plots"]

    @cached_property
    def alt(self) -> str:
        return forest.describe(self.result, self.review.experimental_label, self.review.control_label)

    @cached_property
    def method(self) -> str:
        return forest.method_label(self.result)

    @cached_property
    def effect(self) -> str:
        return interpret.effect_sentence(self.result, self.review.experimental_label)

    @cached_property
    def heterogeneity(self) -> str:
        return forest.heterogeneity_line(self.result)

    @cached_property
    def overall(self) -> str:
        return forest.overall_effect_line(self.result)

    @cached_property
    def i2_reading(self) -> str:
        f = self.result.fit
        reading = interpret.i2_reading(f.i2 if f else None)
        tau2_based = forest.i2_from_tau2(f) if f else None
        # Beside the heterogeneity line, whose I² is from Q: the reading of the I² from tau² says which it is.
        return f"from tau² {tau2_based:.0f}%: {reading}" if tau2_based is not None else reading

    @cached_property
    def prediction(self) -> str | None:
        f, scale = self.result.fit, self.result.scale
        if f is None or f.pi_low is None:
            return None
        return f"{fmt.num(fmt.back(f.pi_low, scale))} to {fmt.num(fmt.back(f.pi_high, scale))}"

    @cached_property
    def checks(self) -> list:
        return reproduce.checks(self.result)

    @cached_property
    def _rob(self) -> tuple:
        """(tool, judgements by row, tools used) of the risk-of-bias columns beside the forest plot."""
        return robfig.for_analysis(self.result.rows, self.result.outcome.id)

    @cached_property
    def rows(self) -> list[dict]:
        return _rows(self.result, self._rob)

    @cached_property
    def followups(self) -> dict:
        return _followup_rows(self.result)

    @cached_property
    def kept(self) -> list[tuple[Study, str]]:
        """The studies the analysis keeps by name although the integrity rules would leave them out."""
        reasons = {k.study: k.reason for k in self.spec.keeps}
        return [(r.study, reasons[r.study.id]) for r in self.result.rows if r.study.id in reasons]

    @cached_property
    def rob_tool(self) -> str | None:
        """The name of the risk-of-bias tool shown beside the forest plot."""
        return _rob_tool(self._rob)

    @cached_property
    def rob_note(self) -> str | None:
        """Why no tool is shown although studies are assessed."""
        return _rob_note(self._rob)

    @cached_property
    def subgroups(self) -> dict | None:
        """Declared subgroups: {"by", "rows", "test"} for the table under the plot."""
        return subgroups_view(self.result)

    @cached_property
    def small_study(self) -> dict:
        """Primary analyses: funnel plot and Egger's test ({"svg", "alt", "egger", "rows"}), or {"reason"};
        empty for other analyses."""
        return small_study_view(self.result, caption.for_analysis("Funnel plot", self.result, self.review))


def rob_json_of(study: Study) -> str:
    return json.dumps([r.model_dump(mode="json") for r in study.risk_of_bias], sort_keys=True)


def _rows(result: AnalysisResult, rob: tuple) -> list[dict]:
    rows = []
    tool, robs, _ = rob
    for r, rob in zip(result.rows, robs):
        if r.yi is not None and r.vi is not None:  # estimable
            half = study_half_width(r.vi)
            est = fmt.estimate_ci(r.yi, r.yi - half, r.yi + half, result.scale)
        else:
            est = "Not estimable"
        if r.data.reported is not None:
            exp, ctl = f"n = {r.inputs['total_exp']}", f"n = {r.inputs['total_ctrl']}"
        elif result.dichotomous:
            exp = f"{r.inputs['events_exp']}/{r.inputs['total_exp']}"
            ctl = f"{r.inputs['events_ctrl']}/{r.inputs['total_ctrl']}"
        else:
            exp = f"{fmt.num(r.inputs['mean_exp'])} ({fmt.num(r.inputs['sd_exp'])}), {r.inputs['total_exp']}"
            ctl = f"{fmt.num(r.inputs['mean_ctrl'])} ({fmt.num(r.inputs['sd_ctrl'])}), {r.inputs['total_ctrl']}"
        rows.append(
            {
                "study": r.study,
                "dataset": r.dataset,
                "exp": exp,
                "ctl": ctl,
                "estimate": est,
                "weight": fmt.weight(r.weight) or "—",
                "provenance": r.data.provenance,
                "corrected": r.corrected,
                "unverified": r.unverified,
                "rob": robfig.judgement_text(tool, rob) if tool else None,
            }
        )
    return rows


def _followup_rows(result: AnalysisResult) -> dict[str, list[dict]]:
    out = {}
    for key, rows in result.followups.items():
        out[key] = [
            {
                "id": row.id,
                "label": row.label,
                "k": row.k,
                "estimate": fmt.estimate_ci(
                    row.fit.estimate, row.fit.ci_low, row.fit.ci_high, row.scale or result.scale
                )
                if row.fit
                else "—",
                "p": fmt.p_value(row.fit.p).removeprefix("P = ").removeprefix("P ") if row.fit else "—",
                "i2": fmt.percent(row.fit.i2) if row.fit else "—",
                "note": row.change if row.fit else row.reason,
                "changed": bool(row.change),
            }
            for row in rows
        ]
    return out


STEP_PLOTS = {
    "leave_one_out": ("Leave-one-out", "Study left out", "leave-one-out"),
    "cumulative": ("Cumulative meta-analysis by publication year", "Studies added in order", "cumulative"),
}


def _step_note(reason: str | None) -> str:
    """A short note for a row without an estimate: the reason up to its colon, capitalised."""
    text = (reason or "not estimable").split(":")[0]
    return text[0].upper() + text[1:]


def followup_plots(result: AnalysisResult, review: Review) -> dict[str, dict]:
    """The leave-one-out and cumulative refits as plots, beside the tables that carry the same numbers."""
    out: dict[str, dict] = {}
    if result.fit is None:
        return out
    left, right = forest.favours(result, review.experimental_label, review.control_label)
    for key, (kind, head, slug) in STEP_PLOTS.items():
        rows = result.followups.get(key)
        if not rows:
            continue
        steps = [followplot.Step(r.label, r.fit, _step_note(r.reason)) for r in rows]
        alt = f"{result.outcome.label}, " + followplot.describe_steps(kind.lower(), steps, result.fit, result.scale)
        svg = followplot.steps(
            f"{kind}: {result.outcome.label}, {result.spec.title}",
            alt,
            head,
            steps,
            result.fit,
            result.scale,
            f"{result.spec.id}-{slug}-plot",
            (left, right),
            caption=caption.for_analysis(kind, result, review),
        )
        out[key] = {"svg": svg, "alt": alt}
    return out


EGGER_THRESHOLD = 0.10  # the conventional level for Egger's test, which has little power


def small_study_view(result: AnalysisResult, title_lines: list[str] | None = None) -> dict:
    s = result.small_study
    if not s:
        return {}
    f = result.fit
    if s["funnel"] is None or f is None:  # a funnel plot is drawn only around a pooled fit
        return {"reason": s["reason"], "k": s["k"]}
    measure = result.effect_measure.label
    scale = result.scale
    e = s["egger"]
    if e is None:
        egger = f"Egger's test could not be computed: {s['reason']}."
    else:
        stat = f"t({e.df}) = {fmt.num(e.statistic)}" if e.df is not None else f"z = {fmt.num(e.statistic)}"
        reading = (
            "the funnel plot is asymmetric beyond what chance would easily explain: smaller studies "
            "report different effects from larger ones"
            if e.p < EGGER_THRESHOLD
            else "no clear sign of funnel-plot asymmetry, although the test has little power"
        )
        limit = fmt.estimate_ci(e.limit_estimate, e.limit_ci_low, e.limit_ci_high, scale)
        egger = (
            f"Egger's regression test of {s['k']} studies: {stat}, {fmt.p_value(e.p)}; {reading} "
            f"(P < {EGGER_THRESHOLD:.2f} is the usual threshold). The {measure.lower()} expected in a "
            f"study with a standard error of 0 (the regression's limit estimate) is {limit}."
        )
    alt = (
        f"Funnel plot of {s['k']} studies: the standard error of each study's "
        f"{'log ' if scale == 'log' else ''}{measure.lower()} against its estimate, around the pooled "
        f"{fmt.num(fmt.back(f.estimate, scale))}. " + egger
    )
    svg = followplot.funnel(
        f"Funnel plot: {result.outcome.label}, {result.spec.title}",
        alt,
        s["funnel"],
        scale,
        f"{result.spec.id}-funnel-plot",
        measure,
        title_lines,
    )
    rows = [
        {"study": r.study, "estimate": fmt.num(fmt.back(r.yi, scale)), "se": fmt.num(r.vi**0.5, 3)}
        for r in result.rows
        if r.yi is not None and r.vi is not None  # estimable
    ]
    return {
        "svg": svg,
        "alt": alt,
        "egger": egger,
        "rows": rows,
        "k": s["k"],
        "se_of": f"{'log ' if scale == 'log' else ''}{measure.lower()}",
    }


def subgroups_view(result: AnalysisResult) -> dict | None:
    s = result.subgroups
    if s is None:
        return None
    rows = []
    for g in s.groups:
        f = g.fit
        rows.append(
            {
                "id": g.id,
                "label": g.label,
                "k": len(g.rows),
                "studies": [result.rows[i].study for i in g.rows],
                "weight": fmt.weight(sum(result.rows[i].weight or 0.0 for i in g.rows)),
                "estimate": fmt.estimate_ci(f.estimate, f.ci_low, f.ci_high, result.scale) if f else "Not estimable",
                "heterogeneity": forest.heterogeneity_text(f).removeprefix("Heterogeneity: "),
                "overall": forest.overall_effect_text(f).removeprefix("Test for overall effect: "),
            }
        )
    return {
        "by": subgroups_mod.BY_LABELS[s.by],
        "rows": rows,
        "test": (forest.subgroup_differences_line(result) or "").removeprefix("Test for subgroup differences: "),
    }


def _rob_tool(rob: tuple) -> str | None:
    tool = rob[0]
    return TOOLS[tool].name if tool else None


def _rob_note(rob: tuple) -> str | None:
    """Why the plot has no risk-of-bias columns although some of its studies are assessed."""
    tool, _, tools = rob
    if tool is not None or not tools:
        return None
    return (
        f"Risk of bias is not shown beside the plot: its studies were assessed with different tools "
        f"({', '.join(TOOLS[t].name for t in tools)}), which one set of columns cannot show together."
    )
