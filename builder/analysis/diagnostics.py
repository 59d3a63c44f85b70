"""Diagnostics of a primary analysis beyond its sensitivity panel: which studies drive the result (metafor's
influence() and the Baujat plot) and the small-study tests beside Egger's (trim-and-fill, Begg's rank test,
Harbord's and Peters' tests for odds ratios).

Each returns plain data for the report, or the reason there is none. The small-study tests keep the guard of
Egger's test (at least MIN_K_EGGER studies with an estimable effect); the influence diagnostics need three.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from builder.analysis.fitting import effect_sizes_of
from builder.analysis.result import AnalysisResult
from builder.stats.bias import TrimAndFill, harbord, peters, rank_test, trim_and_fill
from builder.stats.followups import MIN_K_EGGER
from builder.stats.influence import MIN_K_INFLUENCE, influence

TRIM_AND_FILL_ESTIMATORS = ("L0", "R0")  # L0 first: metafor's default, the one drawn on the funnel plot

NOT_INVERSE_VARIANCE = (
    "the {method} model has no study-level residuals to diagnose; metafor offers them for inverse-variance models only"
)


def _estimable(result: AnalysisResult) -> int:
    return sum(1 for r in result.rows if r.estimable)


def _pools_2x2(result: AnalysisResult) -> str | None:
    """The name of a Mantel-Haenszel or Peto fit's method, which the diagnostics cannot use; None otherwise."""
    f = result.fit
    if f is not None and f.model == "fixed" and f.method in ("MH", "Peto"):
        return "Mantel-Haenszel" if f.method == "MH" else "Peto"
    return None


def _leave_one_out_fits(result: AnalysisResult) -> list | None:
    """The sensitivity panel's leave-one-out refits, when they are refits of the very model of the fit (a
    prespecified model whose interval was not changed on the way): influence() then need not refit again."""
    rows, f, spec = result.followups.get("leave_one_out"), result.fit, result.spec
    if not rows or f is None or len(rows) != len(result.rows) or spec.model == "i2-switch":
        return None
    if f.model == "random" and f.ci_method != spec.interval:
        return None  # the primary fell back to the ad hoc interval; its refits might not have
    return [row.fit for row in rows]


def influence_of(result: AnalysisResult) -> dict:
    """{"k", "influence": builder.stats.influence.Influence or None, "reason"}; empty without a fit."""
    if result.fit is None:
        return {}
    k = _estimable(result)
    if k < MIN_K_INFLUENCE:
        reason = f"they need at least {MIN_K_INFLUENCE} studies with an estimable effect, and this analysis has {k}"
        return {"k": k, "influence": None, "reason": reason}
    method = _pools_2x2(result)
    if method is not None:
        return {"k": k, "influence": None, "reason": NOT_INVERSE_VARIANCE.format(method=method)}
    try:
        diagnostics = influence(effect_sizes_of(result), result.fit, fits=_leave_one_out_fits(result))
    except ValueError as exc:
        return {"k": k, "influence": None, "reason": str(exc)}
    return {"k": k, "influence": diagnostics, "reason": None}


def _trim_and_fill(result: AnalysisResult) -> tuple[dict, str | None]:
    method = _pools_2x2(result)
    if method is not None:
        return {}, "trim-and-fill refits an inverse-variance model; " + NOT_INVERSE_VARIANCE.format(method=method)
    es, fit = effect_sizes_of(result), result.fit
    out: dict[str, TrimAndFill | None] = {}
    assert fit is not None
    for estimator in TRIM_AND_FILL_ESTIMATORS:
        try:
            filled = trim_and_fill(es, fit, estimator)
        except ValueError as exc:
            out[estimator] = None
            return out, str(exc)
        adjusted = filled.adjusted
        if adjusted is not None and not result.spec.shows_prediction_interval:  # as the analysis reports its own
            filled = replace(filled, adjusted=replace(adjusted, prediction=None))
        out[estimator] = filled
    return out, None


def _cells(result: AnalysisResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    def column(key: str) -> np.ndarray:
        return np.array([r.inputs[key] for r in result.rows], dtype=float)

    return column("events_exp"), column("total_exp"), column("events_ctrl"), column("total_ctrl")


def _odds_ratio_tests(result: AnalysisResult) -> dict:
    """Harbord's and Peters' tests, for analyses of odds ratios; None with the reason otherwise."""
    if result.spec.measure != "OR":
        reason = "Harbord's and Peters' tests are defined for odds ratios"
        return {"harbord": None, "peters": None, "odds_ratio_tests_reason": reason if result.dichotomous else None}
    if not result.reports_events:
        reason = "Harbord's and Peters' tests need every study's 2x2 table, and some studies give only their estimate"
        return {"harbord": None, "peters": None, "odds_ratio_tests_reason": reason}
    cells = _cells(result)
    out: dict = {"odds_ratio_tests_reason": None}
    for name, test in (
        ("harbord", lambda: harbord(*cells)),
        ("peters", lambda: peters(*cells, effect_sizes_of(result))),
    ):
        try:
            out[name] = test()
        except ValueError as exc:
            out[name], out["odds_ratio_tests_reason"] = None, str(exc)
    return out


def bias_tests(result: AnalysisResult) -> dict:
    """The small-study tests beside Egger's, under its guard: {"rank_test", "trim_and_fill" (by estimator),
    "trim_and_fill_reason", "harbord", "peters", "odds_ratio_tests_reason"}; empty below MIN_K_EGGER studies or
    without a fit (the small-study record says why)."""
    if result.fit is None or _estimable(result) < MIN_K_EGGER:
        return {}
    try:
        begg = rank_test(effect_sizes_of(result))
    except ValueError:
        begg = None
    filled, reason = _trim_and_fill(result)
    return {"rank_test": begg, "trim_and_fill": filled, "trim_and_fill_reason": reason, **_odds_ratio_tests(result)}
