"""One analysis's model on its studies: effect sizes from per-arm data, then the fixed- or random-effects fit
the plan asks for (with the legacy I² switch of reproductions), and refits of it on subsets of its studies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from builder.analysis.result import AnalysisResult, arms, input_kind
from builder.contract import Analysis
from builder.contract.measures import MEASURES
from builder.contract.study import Contrast, Dataset
from builder.stats import (
    Fit,
    fixed_iv,
    generic,
    o_minus_e_and_variance,
    peto_log_odds_ratio,
    peto_log_ratio,
    peto_or,
    peto_pooled,
    pre_post_log_ratio_of_means,
    pre_post_mean_change,
    pre_post_standardised_mean_change,
    random_effects,
)
from builder.stats.effects import Correction, EffectSizes
from builder.stats.random import dersimonian_laird_at_q

LEGACY_I2_THRESHOLD = 50.0


def inputs_of(ds: Dataset) -> dict[str, float]:
    """A dataset's numbers as the fits read them: per-arm events and totals, or means, SDs and totals (with
    `pre_post` 1 for before-after data in one arm); for a study that reports its comparison, the arms' totals
    with yi and sei on the analysis scale (`contrast`) or with O - E and its variance (`o_minus_e`)."""
    e, c = arms(ds)
    totals = {"total_exp": e.total, "total_ctrl": c.total}
    if ds.o_minus_e is not None:
        return {**totals, "o_minus_e": ds.o_minus_e.value, "v": ds.o_minus_e.variance}
    if ds.contrast is not None:
        yi, sei = contrast_yi_sei(ds.contrast)
        return {**totals, "yi": yi, "sei": sei}
    if e.events is not None and c.events is not None:
        return {"events_exp": e.events, "total_exp": e.total, "events_ctrl": c.events, "total_ctrl": c.total}
    if e.mean is None or e.sd is None or c.mean is None or c.sd is None:
        raise ValueError("a continuous dataset needs each group's mean and SD (ingest.derive converts others)")
    out = {
        "mean_exp": e.mean,
        "sd_exp": e.sd,
        "total_exp": e.total,
        "mean_ctrl": c.mean,
        "sd_ctrl": c.sd,
        "total_ctrl": c.total,
    }
    return {**out, "pre_post": 1} if ds.design == "pre-post" else out


def contrast_yi_sei(contrast: Contrast) -> tuple[float, float]:
    """A reported comparison on the analysis scale: yi (the log of a ratio) and its standard error, by
    builder.stats.generic (the SE as given, or from the interval)."""
    es = generic(
        [contrast.estimate],
        None if contrast.se is None else [contrast.se],
        None if contrast.ci_low is None else [contrast.ci_low],
        None if contrast.ci_high is None else [contrast.ci_high],
        log=contrast.ratio,
        level=contrast.ci_level or 0.95,
    )
    if not es.estimable[0]:  # the data model's checks make this unreachable
        raise ValueError("the contrast gives no usable standard error")
    return float(es.yi[0]), float(np.sqrt(es.vi[0]))


def two_by_two(inputs: Sequence[dict[str, float]]) -> bool:
    """Whether every study gives its 2x2 table (what Mantel-Haenszel and Peto's odds ratio from cells need)."""
    return all("events_exp" in i for i in inputs)


def _columns(inputs: list[dict[str, float]]) -> dict[str, list[float]]:
    return {k: [i[k] for i in inputs] for k in inputs[0]}


def effect_sizes(spec: Analysis, inputs: list[dict[str, float]], add: Correction | None = None) -> EffectSizes:
    """Every study's yi and vi on the analysis's scale, in the order of `inputs`. Studies that give their
    comparison (contrast, O - E) and studies that give per-arm numbers may share an inverse-variance analysis:
    each gets its yi and vi from what it reports (see the methods page). `add` replaces the analysis's
    continuity correction (a sensitivity row)."""
    plain = all(input_kind(i) == "arms" for i in inputs)
    if plain and (spec.method != "Peto" or two_by_two(inputs)):
        return _arm_effect_sizes(spec, inputs, add)
    k = len(inputs)
    yi, vi = np.full(k, np.nan), np.full(k, np.nan)
    estimable, corrected = np.zeros(k, dtype=bool), np.zeros(k, dtype=bool)
    if spec.method == "Peto":
        parts = [(list(range(k)), peto_log_ratio(*o_minus_e_of(inputs)))]
    else:
        parts = [(idx, es) for idx, es in _parts(spec, inputs, add) if idx]
    for idx, es in parts:
        yi[idx], vi[idx], estimable[idx], corrected[idx] = es.yi, es.vi, es.estimable, es.corrected
    return EffectSizes(yi, vi, estimable, corrected)


def _parts(spec: Analysis, inputs: list[dict[str, float]], add: Correction | None = None):
    """(indices, effect sizes) of each kind of study: per-arm, before-after, contrast and O - E."""
    groups: dict[str, list[int]] = {"arms": [], "pre-post": [], "contrast": [], "o-e": []}
    for i, x in enumerate(inputs):
        groups[input_kind(x)].append(i)

    def pick(name):
        return [inputs[i] for i in groups[name]]

    yield groups["arms"], _arm_effect_sizes(spec, pick("arms"), add) if groups["arms"] else None
    yield groups["pre-post"], _pre_post_effect_sizes(spec, pick("pre-post")) if groups["pre-post"] else None
    contrast = pick("contrast")
    yield groups["contrast"], generic([x["yi"] for x in contrast], [x["sei"] for x in contrast])
    yield groups["o-e"], peto_log_ratio(*o_minus_e_of(pick("o-e")))


def o_minus_e_of(inputs: list[dict[str, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Each study's O - E and variance: as reported, or from its 2x2 table (NaN for any other study)."""
    oe, v = np.full(len(inputs), np.nan), np.full(len(inputs), np.nan)
    for i, x in enumerate(inputs):
        if "o_minus_e" in x:
            oe[i], v[i] = x["o_minus_e"], x["v"]
        elif "events_exp" in x:
            cells = o_minus_e_and_variance(x["events_exp"], x["total_exp"], x["events_ctrl"], x["total_ctrl"])
            oe[i], v[i] = float(cells[0]), float(cells[1])
    return oe, v


PRE_POST = {"MD": pre_post_mean_change, "SMD": pre_post_standardised_mean_change, "ROM": pre_post_log_ratio_of_means}


def _pre_post_effect_sizes(spec: Analysis, inputs: list[dict[str, float]]) -> EffectSizes:
    """Before-after data in one arm: the change from the 'control' (before) to the 'experimental' (after)
    values of the same patients, with the analysis's assumed correlation; n is the smaller of the two totals
    (the patients who can have both measurements). A measure without a paired form is computed as if the two
    time points were independent groups."""
    function = PRE_POST.get(spec.measure)
    if function is None:
        return _arm_effect_sizes(spec, inputs)
    col = _columns(inputs)
    n = np.minimum(col["total_exp"], col["total_ctrl"])
    return function(col["mean_exp"], col["sd_exp"], col["mean_ctrl"], col["sd_ctrl"], n, spec.pre_post_correlation)


def _arm_effect_sizes(spec: Analysis, inputs: list[dict[str, float]], add: Correction | None = None) -> EffectSizes:
    col = _columns(inputs)
    if spec.method == "Peto":
        return peto_log_odds_ratio(col["events_exp"], col["total_exp"], col["events_ctrl"], col["total_ctrl"])
    measure = MEASURES[spec.measure]
    if measure.effect_sizes is None:
        raise ValueError(
            f"measure {spec.measure} has no per-arm form: each study must give its estimate ('contrast' or 'o_minus_e')"
        )
    if measure.outcome_type == "dichotomous":
        cells = (col["events_exp"], col["total_exp"], col["events_ctrl"], col["total_ctrl"])
        # Only the risk difference has a per-study estimate for double-zero studies (escalc keeps them for RD).
        keep = {"keep_double_zero": True} if spec.measure == "RD" and spec.keeps_double_zero() else {}
        return measure.effect_sizes(*cells, add=add if add is not None else spec.continuity_correction, **keep)
    return measure.effect_sizes(
        col["mean_exp"], col["sd_exp"], col["total_exp"], col["mean_ctrl"], col["sd_ctrl"], col["total_ctrl"]
    )


def _fixed(spec: Analysis, es: EffectSizes, inputs: list[dict[str, float]], mh_add: Correction | None = None) -> Fit:
    if spec.method == "Peto":
        if two_by_two(inputs):
            col = _columns(inputs)
            return peto_or(col["events_exp"], col["total_exp"], col["events_ctrl"], col["total_ctrl"], display=es)
        return peto_pooled(*o_minus_e_of(inputs))
    if spec.method == "MH" and two_by_two(inputs):
        col = _columns(inputs)
        cells = (col["events_exp"], col["total_exp"], col["events_ctrl"], col["total_ctrl"])
        pool = MEASURES[spec.measure].mantel_haenszel
        assert pool is not None, "the data model allows Mantel-Haenszel only for measures that have it"
        keep = {"keep_double_zero": True} if spec.keeps_double_zero() else {}
        return pool(*cells, es, add=mh_add if mh_add is not None else spec.mh_continuity_correction, **keep)
    if spec.method == "MH":  # ingest.validate reports this with file and line
        raise ValueError("Mantel-Haenszel pools 2x2 tables; a study of this analysis gives only its estimate")
    return fixed_iv(es)


def _random(
    spec: Analysis,
    es: EffectSizes,
    ci_method: str,
    tau2_interval: bool = True,
    inputs: list | None = None,
    mh_add: Correction | None = None,
) -> Fit:
    """The random-effects fit, without its prediction interval where the analysis asks for none. A
    Mantel-Haenszel analysis with DerSimonian-Laird tau² and a Wald interval takes tau² from the Mantel-Haenszel
    Q, as RevMan 5 does (its random-effects "M-H, Random")."""
    if spec.method == "MH" and spec.tau2 == "DL" and ci_method == "wald" and inputs:
        f = dersimonian_laird_at_q(es, _fixed(spec, es, inputs, mh_add).heterogeneity.q or 0.0)
    else:
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
            return _random(spec, es, spec.interval, tau2_interval, inputs, mh_add), None, notes
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
        return _random(spec, es, spec.ci_method or "wald", tau2_interval, inputs, mh_add), first, notes
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
        # The per-arm inputs go to every refit: pooling 2x2 tables (Mantel-Haenszel, Peto) reads them, and so does
        # a Mantel-Haenszel random-effects fit, whose tau² comes from the Mantel-Haenszel Q (RevMan's "M-H,
        # Random"), so that leave-one-out, cumulative, subgroup and sensitivity refits use the main fit's rule.
        inputs = list(studies.inputs)
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
