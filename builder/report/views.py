"""What a page shows about one analysis (AnalysisView), worked out only when a page asks for it.

A view's figures are its costly part: drawn, or read back from the build's store, for every study of the
analysis. Pages that only name an analysis (the home page, the methods, the study pages) never touch them,
and an incremental build that keeps an outcome page from the last build (see builder.caching.reuse) needs none of its
views' figures or tables at all. So every field below is computed on first use and then kept.
"""

from __future__ import annotations

import json
import math
from functools import cached_property

import numpy as np

from builder.analysis import subgroups as subgroups_mod
from builder.analysis.result import AnalysisResult
from builder.caching import store as cache
from builder.caching.outputs import Stored
from builder.contract import Review, Study
from builder.contract.rob import TOOLS
from builder.report import fmt, interpret, reproduce
from builder.report.figures import baujat, bubble, caption, followplot, forest, robfig
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

    @property
    def bubble_svg(self) -> str:
        return (self.meta_regression or {})["svg"]

    @cached_property
    def meta_regression(self) -> dict | None:
        """A declared meta-regression: its table, tests and bubble plot, or why there is no fit; else None."""
        return meta_regression_view(
            self.result, self.review, caption.for_analysis("Bubble plot", self.result, self.review)
        )

    @cached_property
    def small_study(self) -> dict:
        """Primary analyses: funnel plot and Egger's test ({"svg", "alt", "egger", "rows"}), or {"reason"};
        empty for other analyses."""
        return small_study_view(self.result, caption.for_analysis("Funnel plot", self.result, self.review))

    @cached_property
    def influence(self) -> dict:
        """Primary analyses with the influence follow-ups: the Baujat plot and the table of metafor's
        influence() measures ({"svg", "alt", "rows", "flagged", "rule"}), or {"reason"}; empty otherwise."""
        return influence_view(self.result, caption.for_analysis("Baujat plot", self.result, self.review))


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
    view = {
        "svg": svg,
        "alt": alt,
        "egger": egger,
        "rows": rows,
        "k": s["k"],
        "se_of": f"{'log ' if scale == 'log' else ''}{measure.lower()}",
    }
    if "rank_test" in s:  # a version with the small-study tests beside Egger's
        view.update(bias_texts(result))
        filled = _filled_studies(s, scale)
        view["filled_rows"] = filled
        if filled:
            view["svg"] = followplot.funnel(
                f"Funnel plot: {result.outcome.label}, {result.spec.title}",
                alt + " " + view["trim_and_fill"],
                s["funnel"],
                scale,
                f"{result.spec.id}-funnel-plot",
                measure,
                title_lines,
                _filled_marks(s["trim_and_fill"]["L0"]),
            )
    return view


def _filled_marks(t) -> followplot.Filled:
    assert t.adjusted is not None
    return followplot.Filled(
        [float(y) for y in t.yi_filled], [float(v) ** 0.5 for v in t.vi_filled], t.adjusted.estimate, t.estimator
    )


def _filled_studies(s: dict, scale: str) -> list[dict]:
    """The studies trim-and-fill (L0) adds to the funnel plot, for the table under it."""
    t = s["trim_and_fill"].get("L0")
    if t is None or t.k0 == 0:
        return []
    return [
        {"label": f"Filled {i + 1}", "estimate": fmt.num(fmt.back(float(y), scale)), "se": fmt.num(float(v) ** 0.5, 3)}
        for i, (y, v) in enumerate(zip(t.yi_filled, t.vi_filled))
    ]


def _trim_and_fill_text(s: dict, scale: str) -> str:
    parts = []
    for name, t in s["trim_and_fill"].items():
        if t is None:
            continue
        where = f"on the {t.side} of the funnel"
        if t.k0 == 0:
            parts.append(f"{name} estimates no missing study {where}")
            continue
        a = t.adjusted
        adjusted = fmt.estimate_ci(a.estimate, a.ci_low, a.ci_high, scale)
        studies = "study" if t.k0 == 1 else "studies"
        parts.append(f"{name} fills in {t.k0} {studies} {where}, giving an adjusted estimate of {adjusted}")
    if not parts:
        return f"Trim-and-fill could not be computed: {s['trim_and_fill_reason']}."
    text = "Trim-and-fill (Duval and Tweedie, with the analysis's own model): " + "; ".join(parts) + "."
    if s["trim_and_fill_reason"]:
        text += f" {s['trim_and_fill_reason'][0].upper()}{s['trim_and_fill_reason'][1:]}."
    return text + " The adjusted estimate shows how far the asymmetry could move the result, not the true effect."


def _regression_text(t) -> str:
    limit = f"t({t.df}) = {fmt.num(t.statistic)}, {fmt.p_value(t.p)}"
    return f"{t.name} of {t.k} studies: {limit}"


def bias_texts(result: AnalysisResult) -> dict:
    """The sentences of Begg's test, trim-and-fill and (for odds ratios) Harbord's and Peters' tests."""
    s, scale = result.small_study, result.scale
    b = s["rank_test"]
    if b is None:
        begg = "Begg's rank correlation test could not be computed."
    else:
        how = "exact" if b.exact else "normal approximation"
        begg = (
            f"Begg and Mazumdar's rank correlation test of {b.k} studies: Kendall's tau = {fmt.num(b.tau)}, "
            f"{fmt.p_value(b.p)} ({how})."
        )
    out = {"begg": begg, "trim_and_fill": _trim_and_fill_text(s, scale), "odds_ratio_tests": None}
    tests = [s.get("harbord"), s.get("peters")]
    if any(t is not None for t in tests):
        out["odds_ratio_tests"] = (
            "For odds ratios, whose standard errors are tied to their estimates (which can make Egger's test "
            "find asymmetry where there is none): "
            + "; ".join(_regression_text(t) for t in tests if t is not None)
            + "."
        )
    elif s.get("odds_ratio_tests_reason"):
        out["odds_ratio_tests"] = f"Harbord's and Peters' tests are not shown: {s['odds_ratio_tests_reason']}."
    return out


INFLUENCE_COLUMNS = (
    ("rstudent", "Standardised residual"),
    ("dffits", "DFFITS"),
    ("cook", "Cook's distance"),
    ("cov_ratio", "Covariance ratio"),
    ("tau2_deleted", "tau² without it"),
    ("q_deleted", "Q without it"),
    ("hat", "Hat value"),
    ("weight", "Weight"),
)


def influence_view(result: AnalysisResult, title_lines: list[str] | None = None) -> dict:
    s = result.influence
    if not s or result.fit is None:
        return {}
    d = s["influence"]
    if d is None:
        return {"reason": s["reason"], "k": s["k"]}
    fixed = result.fit.model == "fixed"
    x_label = "Contribution to heterogeneity (Q)" if fixed else "Squared Pearson residual (contribution to Q)"
    rows: list[dict] = []
    points: list[baujat.Point] = []
    for i, r in enumerate(result.rows):
        if not r.estimable:
            continue
        number = len(points) + 1
        cells = {key: _measure(getattr(d, key)[i], key) for key, _ in INFLUENCE_COLUMNS}
        rows.append(
            {
                "number": number,
                "study": r.study,
                "cells": [cells[key] for key, _ in INFLUENCE_COLUMNS],
                "baujat_x": fmt.num(float(d.baujat_x[i]), 3),
                "baujat_y": _measure(d.baujat_y[i], "y"),
                "flagged": bool(d.flagged[i]),
            }
        )
        if np.isfinite(d.baujat_x[i]) and np.isfinite(d.baujat_y[i]):
            points.append(
                baujat.Point(number, r.study.label, float(d.baujat_x[i]), float(d.baujat_y[i]), bool(d.flagged[i]))
            )
    alt = f"{result.outcome.label}, " + baujat.describe(points, x_label)
    svg = baujat.render(
        f"Baujat plot: {result.outcome.label}, {result.spec.title}",
        alt,
        points,
        f"{result.spec.id}-baujat-plot",
        x_label,
        title_lines,
    )
    flagged = [row["study"] for row in rows if row["flagged"]]
    return {
        "svg": svg,
        "alt": alt,
        "rows": rows,
        "columns": [name for _, name in INFLUENCE_COLUMNS],
        "flagged": flagged,
        "k": s["k"],
        "x_label": x_label,
    }


def _measure(value, key: str) -> str:
    value = float(value)
    if not np.isfinite(value):
        return "—"
    if key == "weight":
        return fmt.weight(value) or "—"
    return fmt.num(value, 3)


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
        "by": subgroups_mod.BY_LABELS.get(s.by) or s.label or s.by,
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


TESTS = {
    "knha": "Knapp-Hartung adjustment (t tests on k − p degrees of freedom, F test of the moderators)",
    "z": "z tests and a chi² test of the moderators (metafor's default)",
}


def significant(value: float | None, digits: int = 3) -> str:
    """A coefficient to `digits` significant digits, without an exponent down to 1e-8: slopes per day are small."""
    if value is None or not math.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{digits - 1}e}" if decimals > 10 else f"{value:.{decimals}f}"
    return text.replace("-", "−")


def meta_regression_view(result: AnalysisResult, review: Review, title_lines: list[str] | None = None) -> dict | None:
    """A declared meta-regression as the page shows it: its setting, the studies left out, the coefficients and
    tests, and for a model of one characteristic the bubble plot with its text alternative; or why there is no
    fit."""
    mr = result.meta_regression
    if mr is None:
        return None
    declared = [review.characteristic(m) for m in mr.moderators]
    names = [c.label if c is not None else m for c, m in zip(declared, mr.moderators)]
    out: dict = {
        "moderators": names,
        "k": mr.k,
        "setting": f"mixed-effects model, tau² by {mr.method}, {TESTS[mr.test]}",
        "left_out": [(result.rows[i].study, why) for i, why in mr.left_out],
        "reason": mr.reason,
        "few_studies": mr.few_studies,
        "scale": f"{'log ' if result.scale == 'log' else ''}{result.effect_measure.label.lower()}",
    }
    f = mr.fit
    if f is None:
        return out
    t = f.statistic_type
    out["coefficients"] = [
        {
            "label": term.label,
            "estimate": f"{significant(c.estimate)} [{significant(c.ci_low)}, {significant(c.ci_high)}]",
            "se": significant(c.se),
            "statistic": fmt.num(c.statistic),
            "p": fmt.p_value(c.p).removeprefix("P = ").removeprefix("P "),
        }
        for term, c in zip(mr.terms, f.coefficients)
    ]
    out["statistic"] = t
    if f.df is not None:
        out["omnibus"] = f"F({f.qm_df}, {f.df}) = {fmt.num(f.qm)}, {fmt.p_value(f.qm_p)}"
    else:
        out["omnibus"] = f"QM = {fmt.num(f.qm)}, df = {f.qm_df}, {fmt.p_value(f.qm_p)}"
    out["residual"] = (
        f"QE = {fmt.num(f.qe)}, df = {f.qe_df}, {fmt.p_value(f.qe_p)}; tau² = {fmt.tau2(f.tau2)}; "
        f"I² = {fmt.percent(f.i2)}"
    )
    out["r2"] = (
        f"{fmt.percent(f.r2, 1)} of the heterogeneity (tau² {fmt.tau2(f.tau2_re)} without the moderators, "
        f"{fmt.tau2(f.tau2)} with them)"
        if f.tau2_re > 0
        else "none: without the moderators tau² is 0, so there is no heterogeneity to account for (R² = 0%)"
    )
    if len(declared) == 1 and declared[0] is not None:
        out.update(_bubble(result, declared[0], title_lines))
    return out


def _bubble_geometry(mr, ch) -> tuple[list[float], np.ndarray, np.ndarray, list[str] | None]:
    """(each study's x, the x of the fitted values, their rows of the design matrix, the levels or None)."""
    if ch.type == "continuous":
        xs = [row[1] for row in mr.design]
        grid = np.linspace(min(xs), max(xs), 41)
        return xs, grid, np.column_stack([np.ones(len(grid)), grid]), None
    levels = [mr.reference_levels[ch.id], *(t.level or "" for t in mr.terms[1:])]
    xs = [float(sum(j * v for j, v in enumerate(row[1:], start=1))) for row in mr.design]
    dummies = np.vstack([np.zeros(len(levels) - 1), np.eye(len(levels) - 1)])
    return xs, np.arange(len(levels), dtype=float), np.column_stack([np.ones(len(levels)), dummies]), levels


def _bubble(result: AnalysisResult, ch, title_lines: list[str] | None) -> dict:
    """The bubble plot of a model of one characteristic, its description and the rows of its table."""
    mr = result.meta_regression
    assert mr is not None and mr.fit is not None
    f = mr.fit
    ys = [float(result.rows[i].yi or 0.0) for i in mr.studies]
    weights = [1 / (float(result.rows[i].vi or 0.0) + f.tau2) for i in mr.studies]
    xs, grid, x_rows, levels = _bubble_geometry(mr, ch)
    mu, _, low, high = f.predict(x_rows)
    fitted = bubble.Fitted(*([float(v) for v in column] for column in (grid, mu, low, high)))
    points = [bubble.Bubble(result.rows[i].study.label, x, y, w) for i, x, y, w in zip(mr.studies, xs, ys, weights)]
    x_label = f"{ch.label} ({ch.unit})" if ch.unit else ch.label
    alt = f"{result.outcome.label}, " + bubble.describe(points, fitted, result.scale, ch.label, levels)
    svg = bubble.plot(
        f"Bubble plot: {result.outcome.label}, {result.spec.title}",
        alt,
        points,
        fitted,
        result.scale,
        x_label,
        result.effect_measure.label,
        f"{result.spec.id}-bubble-plot",
        levels,
        title_lines,
    )
    return {"svg": svg, "alt": alt, "rows": _bubble_rows(result, ch, weights), "x_label": x_label}


def _bubble_rows(result: AnalysisResult, ch, weights: list[float]) -> list[dict]:
    """The text alternative of the bubble plot: each study's value, estimate and weight in the model."""
    mr = result.meta_regression
    assert mr is not None
    total = sum(weights)
    rows = []
    for i, w in zip(mr.studies, weights):
        row = result.rows[i]
        value = row.study.characteristics[ch.id].value
        rows.append(
            {
                "study": row.study,
                "value": significant(float(value)) if ch.type == "continuous" else str(value),
                "estimate": fmt.num(fmt.back(row.yi, result.scale)),
                "weight": fmt.weight(100 * w / total),
            }
        )
    return rows
