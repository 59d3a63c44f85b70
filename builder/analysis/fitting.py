"""One analysis's model on its studies: effect sizes from per-arm data, then the fixed- or random-effects fit
the plan asks for (with the legacy I² switch of reproductions), and refits of it on subsets of its studies."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from builder.analysis.result import AnalysisResult, arms
from builder.contract import Analysis
from builder.contract.measures import MEASURES
from builder.contract.study import Dataset
from builder.stats import Fit, fixed_iv, peto_log_odds_ratio, peto_or, random_effects
from builder.stats.effects import Correction, EffectSizes

LEGACY_I2_THRESHOLD = 50.0


def inputs_of(ds: Dataset) -> dict[str, float]:
    e, c = arms(ds)
    if e.events is not None and c.events is not None:
        return {"events_exp": e.events, "total_exp": e.total, "events_ctrl": c.events, "total_ctrl": c.total}
    if e.mean is None or e.sd is None or c.mean is None or c.sd is None:
        raise ValueError("a continuous dataset needs each group's mean and SD (ingest.derive converts others)")
    return {
        "mean_exp": e.mean,
        "sd_exp": e.sd,
        "total_exp": e.total,
        "mean_ctrl": c.mean,
        "sd_ctrl": c.sd,
        "total_ctrl": c.total,
    }


def effect_sizes(spec: Analysis, inputs: list[dict[str, float]], add: Correction | None = None) -> EffectSizes:
    """The studies' own estimates; `add` replaces the analysis's continuity correction (a sensitivity row)."""
    col = {k: [i[k] for i in inputs] for k in inputs[0]}
    if spec.method == "Peto":
        return peto_log_odds_ratio(col["events_exp"], col["total_exp"], col["events_ctrl"], col["total_ctrl"])
    measure = MEASURES[spec.measure]
    if measure.effect_sizes is None:
        raise NotImplementedError(f"measure {spec.measure} from per-arm data is not available")
    if measure.outcome_type == "dichotomous":
        cells = (col["events_exp"], col["total_exp"], col["events_ctrl"], col["total_ctrl"])
        # Only the risk difference has a per-study estimate for double-zero studies (escalc keeps them for RD).
        keep = {"keep_double_zero": True} if spec.measure == "RD" and spec.keeps_double_zero() else {}
        return measure.effect_sizes(*cells, add=add if add is not None else spec.continuity_correction, **keep)
    return measure.effect_sizes(
        col["mean_exp"], col["sd_exp"], col["total_exp"], col["mean_ctrl"], col["sd_ctrl"], col["total_ctrl"]
    )


def _fixed(spec: Analysis, es: EffectSizes, inputs: list[dict[str, float]], mh_add: Correction | None = None) -> Fit:
    if spec.method in ("MH", "Peto"):
        col = {k: [i[k] for i in inputs] for k in inputs[0]}
        cells = (col["events_exp"], col["total_exp"], col["events_ctrl"], col["total_ctrl"])
        if spec.method == "Peto":
            return peto_or(*cells, display=es)
        pool = MEASURES[spec.measure].mantel_haenszel
        assert pool is not None, "the data model allows Mantel-Haenszel only for measures that have it"
        keep = {"keep_double_zero": True} if spec.keeps_double_zero() else {}
        return pool(*cells, es, add=mh_add if mh_add is not None else spec.mh_continuity_correction, **keep)
    return fixed_iv(es)


def _random(spec: Analysis, es: EffectSizes, ci_method: str, tau2_interval: bool = True) -> Fit:
    """The random-effects fit, without its prediction interval where the analysis asks for none."""
    f = random_effects(es, spec.tau2, ci_method, tau2_interval=tau2_interval)
    if not spec.shows_prediction_interval and f.prediction is not None:
        f = replace(f, prediction=None)
    return f


def fit(
    spec: Analysis,
    es: EffectSizes,
    inputs: list[dict[str, float]],
    tau2_interval: bool = True,
    mh_add: Correction | None = None,
) -> tuple[Fit, Fit | None, list[str]]:
    """The analysis's model on these effect sizes: (fit, the fixed-effect fit an I² switch looked at, notes).

    tau2_interval=False skips the Q-profile interval of tau², which follow-up refits do not report; `mh_add`
    replaces the continuity correction inside a Mantel-Haenszel estimate (a sensitivity row)."""
    notes: list[str] = []
    if spec.model == "fixed":
        return _fixed(spec, es, inputs, mh_add), None, notes
    if spec.model == "random":
        try:
            return _random(spec, es, spec.interval, tau2_interval), None, notes
        except ValueError:
            if spec.interval != "hksj":
                raise
            notes.append(
                "The study estimates agree exactly, which leaves the Hartung-Knapp-Sidik-Jonkman "
                "interval with zero width; the ad hoc variant, never narrower than Wald's, is used."
            )
            return _random(spec, es, "hksj-adhoc", tau2_interval), None, notes
    first = _fixed(spec, es, inputs, mh_add)
    i2 = first.i2 or 0.0
    if i2 > LEGACY_I2_THRESHOLD:
        notes.append(
            f"I² of the fixed-effect model was {i2:.0f}% (> {LEGACY_I2_THRESHOLD:.0f}%), "
            "so the legacy rule switched to random effects."
        )
        return _random(spec, es, spec.ci_method or "wald", tau2_interval), first, notes
    notes.append(
        f"I² of the fixed-effect model was {i2:.0f}% (≤ {LEGACY_I2_THRESHOLD:.0f}%), "
        "so the legacy rule kept the fixed-effect model."
    )
    return first, first, notes


def effect_sizes_of(result: AnalysisResult) -> EffectSizes:
    yi = np.array([r.yi if r.estimable else np.nan for r in result.rows], dtype=float)
    vi = np.array([r.vi if r.estimable else np.nan for r in result.rows], dtype=float)
    return EffectSizes(
        yi, vi, np.array([r.estimable for r in result.rows]), np.array([r.corrected for r in result.rows])
    )


@dataclass(frozen=True)
class Studies(EffectSizes):
    """An analysis's effect sizes with each study's per-arm inputs, kept aligned through `subset`, so that a
    refit on a subset can pool 2x2 tables (Mantel-Haenszel, Peto) as well as effect sizes."""

    inputs: tuple[dict[str, float], ...] = ()

    def subset(self, keep) -> Studies:
        keep = np.asarray(keep)
        es = super().subset(keep)
        index = np.flatnonzero(keep) if keep.dtype == bool else keep
        return Studies(es.yi, es.vi, es.estimable, es.corrected, tuple(self.inputs[i] for i in index))


def studies_of(result: AnalysisResult) -> Studies:
    es = effect_sizes_of(result)
    return Studies(es.yi, es.vi, es.estimable, es.corrected, tuple(r.inputs for r in result.rows))


class Refitter:
    """Refits one analysis, with its own or another plan, on subsets of its studies: a `refit` for
    builder.stats.followups (called with a subset of `studies`) or, called with a mask, for one sensitivity row.
    The effect sizes are built once, so a subset costs only the fit (leave-one-out and cumulative analyses refit
    k times). Follow-up fits keep no per-study weights and no tau² interval: no follow-up shows them, and at
    hundreds of studies they would dominate memory."""

    def __init__(self, studies: Studies, spec: Analysis):
        self.studies = studies
        self.spec = spec

    @classmethod
    def of(cls, result: AnalysisResult) -> Refitter:
        return cls(studies_of(result), result.spec)

    def __call__(self, studies: Studies) -> Fit | None:
        if not studies.estimable.any():
            return None
        # Only fixed-effect pooling of 2x2 tables (Mantel-Haenszel, Peto) reads the per-arm inputs.
        inputs = list(studies.inputs) if self.spec.model != "random" else []
        try:
            f = fit(self.spec, studies, inputs, tau2_interval=False)[0]
        except ValueError:
            return None
        return replace(f, weights=None)

    def on(self, keep: np.ndarray, spec: Analysis | None = None) -> Fit | None:
        """The fit on the studies `keep` selects, with `spec` (default: this refitter's plan)."""
        refit = self if spec is None else Refitter(self.studies, spec)
        return refit(self.studies.subset(keep))


def refit(result: AnalysisResult, keep: np.ndarray, spec: Analysis | None = None) -> Fit | None:
    return Refitter.of(result).on(keep, spec)
