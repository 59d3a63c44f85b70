"""Sensitivity analyses computed automatically around each primary analysis.

Every row refits the primary analysis on a subset of its studies or with another model, and says plainly
when the conclusion changes: the interval starts or stops excluding no effect, or the direction flips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from builder.analysis.fitting import PRE_POST, Refitter, effect_sizes, effect_sizes_of, fit, two_by_two
from builder.analysis.result import AnalysisResult
from builder.contract.measures import MEASURES
from builder.stats import Fit, followups
from builder.stats.effects import PRE_POST_R_SENSITIVITY, TACC, Correction
from builder.stats.followups import MIN_K_EGGER, egger, funnel_data
from builder.stats.inference import excludes_null

HIGH = {"high", "serious", "critical"}


@dataclass(frozen=True)
class Row:
    id: str
    label: str
    studies: list[str] | None  # labels of the studies that contribute; None where the row's id says it
    # (leave-one-out: all but one; cumulative: this one and those above it)
    fit: Fit | None
    reason: str | None = None  # why there is no result
    change: str | None = None  # how the conclusion differs from the primary result
    scale: str | None = None  # when it differs from the primary analysis's (a risk difference)

    @property
    def k(self) -> int:
        """The number of studies that contribute an estimate."""
        if self.studies is not None:
            return len(self.studies)
        return self.fit.k if self.fit is not None else 0


def _significant(f: Fit) -> bool:
    return excludes_null(f.ci_low, f.ci_high)


def change(primary: Fit | None, other: Fit | None) -> str | None:
    if primary is None or other is None:
        return None
    notes = []
    if _significant(primary) != _significant(other):
        notes.append(
            "the interval now excludes no effect" if _significant(other) else "the interval now includes no effect"
        )
    if primary.estimate * other.estimate < 0:
        notes.append("the direction of the effect flips")
    return "; ".join(notes) or None


def _row(result, rid, label, keep, spec=None, reason_if_none=None, refit=None) -> Row:
    f = (refit or Refitter.of(result)).on(keep, spec)
    listed = [r.study.label for r, k in zip(result.rows, keep) if k and r.estimable]
    return Row(
        rid, label, listed, f, None if f else (reason_if_none or "no estimable study left"), change(result.fit, f)
    )


def high_risk(study) -> bool | None:
    """True if any assessment judges the study at high risk overall (or, for RoB 1, in any domain)."""
    if not study.risk_of_bias:
        return None
    for rob in study.risk_of_bias:
        if rob.overall in HIGH or (rob.tool == "rob1" and any(d.judgement == "high" for d in rob.domains)):
            return True
    return False


def panel(result: AnalysisResult, sparse_data_rules: bool = True) -> list[Row]:
    """The standard sensitivity analyses of one (primary) analysis: other models, other methods for sparse
    events, and subsets of its studies. sparse_data_rules=False leaves out the Mantel-Haenszel risk ratio and the
    treatment-arm continuity correction, as versions released before them were computed."""
    if result.fit is None:
        return []
    refit = Refitter.of(result)
    return [
        *_other_models(result, refit),
        *_sparse_events(result, refit),
        *_pre_post_correlations(result),
        *_subsets(result, refit),
        _unverified_row(result, refit),
        *(_sparse_data_rows(result) if sparse_data_rules else []),
    ]


UNVERIFIED_LABEL = "Excluding unverified values"


def _unverified_row(result: AnalysisResult, refit: Refitter) -> Row:
    """The analysis without the studies whose values could not be checked against a retrievable copy."""
    flags = np.array([r.unverified for r in result.rows])
    if not flags.any():
        return Row("exclude-unverified", UNVERIFIED_LABEL, [], None, "no study's values are unverified")
    return _row(result, "exclude-unverified", UNVERIFIED_LABEL, ~flags, refit=refit)


def _other_models(result: AnalysisResult, refit: Refitter) -> list[Row]:
    """The fixed-effect model, RevMan 5's DerSimonian-Laird random effects, and HKSJ's ad hoc variant."""
    spec = result.spec
    every = np.ones(len(result.rows), dtype=bool)
    rows = []
    if spec.model != "fixed":
        pools_tables = MEASURES[spec.measure].mantel_haenszel is not None and two_by_two(refit.studies.inputs)
        method = "MH" if pools_tables else "IV"
        fixed = spec.model_copy(
            update={"model": "fixed", "method": method, "ci_method": None, "mh_continuity_correction": 0.0}
        )
        rows.append(
            _row(
                result,
                "fixed-effect",
                f"Fixed effect ({'Mantel-Haenszel' if method == 'MH' else 'inverse variance'})",
                every,
                fixed,
                refit=refit,
            )
        )
    if spec.model != "random" or spec.tau2 != "DL" or spec.interval != "wald":
        dl = spec.model_copy(update={"model": "random", "tau2": "DL", "ci_method": "wald"})
        rows.append(
            _row(
                result,
                "dersimonian-laird",
                "Random effects, DerSimonian-Laird with a Wald interval (RevMan 5)",
                every,
                dl,
                refit=refit,
            )
        )
    if spec.model == "random" and spec.interval == "hksj":
        adhoc = spec.model_copy(update={"ci_method": "hksj-adhoc"})
        rows.append(
            _row(
                result,
                "hksj-adhoc",
                "HKSJ interval never narrower than Wald's (ad hoc variant)",
                every,
                adhoc,
                refit=refit,
            )
        )
    return rows


def _sparse_events(result: AnalysisResult, refit: Refitter) -> list[Row]:
    """For dichotomous outcomes: Peto's odds ratio, and the risk difference (double-zero studies count unless the
    analysis says drop)."""
    spec = result.spec
    every = np.ones(len(result.rows), dtype=bool)
    rows: list[Row] = []
    if MEASURES[spec.measure].mantel_haenszel is None:
        return rows
    if not two_by_two(refit.studies.inputs):
        reason = "needs every study's 2x2 table; some studies give only their estimate of the comparison"
        return [
            Row("peto", "Peto odds ratio (for sparse events)", [], None, reason),
            Row("risk-difference", "Risk difference (Mantel-Haenszel)", [], None, reason, scale="identity"),
        ]
    if MEASURES[spec.measure].outcome_type == "dichotomous":
        peto = spec.model_copy(update={"measure": "OR", "model": "fixed", "method": "Peto", "ci_method": None})
        rows.append(_row(result, "peto", "Peto odds ratio (for sparse events)", every, peto, refit=refit))
        rd = spec.model_copy(
            update={
                "measure": "RD",
                "model": "fixed",
                "method": "MH",
                "ci_method": None,
                "mh_continuity_correction": 0.0,
            }
        )
        rows.append(_rd_row(result, rd))
    return rows


def _sparse_data_rows(result: AnalysisResult) -> list[Row]:
    """For dichotomous outcomes: the Mantel-Haenszel risk ratio (unless the analysis pools risk ratios already)
    and, but under Peto's method (which corrects nothing), Sweeting's treatment-arm continuity correction. Last in
    the panel, which versions released before them end without them."""
    spec = result.spec
    if MEASURES[spec.measure].outcome_type != "dichotomous":
        return []
    rows = []
    if spec.measure != "RR":
        rr = spec.model_copy(
            update={
                "measure": "RR",
                "model": "fixed",
                "method": "MH",
                "ci_method": None,
                "mh_continuity_correction": 0.0,
            }
        )
        rows.append(_other_measure_row(result, rr, "risk-ratio", "Risk ratio (Mantel-Haenszel)"))
    if spec.method != "Peto":
        rows.append(_tacc_row(result))
    return rows


TACC_LABEL = "Treatment-arm continuity correction (Sweeting 2004)"


def _tacc_label(spec) -> str:
    """The row's label, naming the constant correction it replaces (the disclosure the 0.5 correction has)."""
    if spec.continuity_correction > 0:
        return f"{TACC_LABEL} instead of {spec.continuity_correction:g} in zero cells"
    return f"{TACC_LABEL} in zero cells"


def _tacc_row(result: AnalysisResult) -> Row:
    """The analysis with Sweeting et al.'s treatment-arm continuity correction in place of its constant one: each
    arm of a zero-cell study gets, in each cell, its share of the study's participants (builder.stats.effects.
    treatment_arm_correction), for the study's own estimate and, where the analysis corrects inside the
    Mantel-Haenszel estimate, there too."""
    spec = result.spec
    inputs = [r.inputs for r in result.rows]
    es = effect_sizes(spec, inputs, add=TACC)
    if not es.corrected.any():
        return Row("treatment-arm-correction", _tacc_label(spec), [], None, "no study has a zero cell")
    mh_add: Correction | None = TACC if spec.method == "MH" and spec.mh_continuity_correction > 0 else None
    try:
        f = fit(spec, es, inputs, mh_add=mh_add)[0]
    except ValueError:
        f = None
    names = [r.study.label for r, ok in zip(result.rows, es.estimable) if ok]
    return Row(
        "treatment-arm-correction", _tacc_label(spec), names, f, None if f else "not estimable", change(result.fit, f)
    )


def _subsets(result: AnalysisResult, refit: Refitter) -> list[Row]:
    """The analysis on randomised trials only, without studies at high risk of bias, without converted values."""
    n = len(result.rows)
    rows = []
    rct = np.array([r.study.design.category == "rct" for r in result.rows])
    rows.append(
        _row(
            result,
            "randomised-only",
            "Randomised trials only",
            rct,
            reason_if_none="no randomised trial with an estimable effect",
            refit=refit,
        )
    )
    risk = [high_risk(r.study) for r in result.rows]
    unassessed = sum(1 for x in risk if x is None)
    if any(risk):
        rows.append(
            _row(
                result,
                "exclude-high-risk",
                "Excluding studies at high risk of bias",
                np.array([not x for x in risk]),
                refit=refit,
            )
        )
    else:
        rows.append(
            Row(
                "exclude-high-risk",
                "Excluding studies at high risk of bias",
                [],
                None,
                f"no study is judged at high risk; {unassessed} of {n} have no risk-of-bias assessment",
            )
        )
    converted = np.array([r.data.provenance.conversion is not None for r in result.rows])
    if converted.any():
        rows.append(
            _row(
                result,
                "exclude-converted",
                "Excluding values converted from medians or other units",
                ~converted,
                refit=refit,
            )
        )
    else:
        rows.append(
            Row(
                "exclude-converted",
                "Excluding values converted from medians or other units",
                [],
                None,
                "no study's values were converted",
            )
        )
    return rows


def _pre_post_correlations(result: AnalysisResult) -> list[Row]:
    """With before-after data in one arm: the analysis again with each other assumed correlation between the two
    measurements (the effect sizes change with it, so they are computed again)."""
    spec = result.spec
    inputs = [r.inputs for r in result.rows]
    if spec.measure not in PRE_POST or not any("pre_post" in i for i in inputs):
        return []
    rows = []
    for r in PRE_POST_R_SENSITIVITY:
        if r == spec.pre_post_correlation:
            continue
        other = spec.model_copy(update={"pre_post_correlation": r})
        es = effect_sizes(other, inputs)
        try:
            f = fit(other, es, inputs)[0] if es.estimable.any() else None
        except ValueError:
            f = None
        names = [row.study.label for row, ok in zip(result.rows, es.estimable) if ok]
        label = f"Before-after correlation {r:g}" + (" (time points as independent groups)" if r == 0 else "")
        rows.append(Row(f"pre-post-r-{r:g}", label, names, f, None if f else "not estimable", change(result.fit, f)))
    return rows


def _rd_row(result: AnalysisResult, spec) -> Row:
    """The risk difference needs its own effect sizes (double-zero studies are estimable for RD)."""
    # A difference and a ratio share their null only in sign: compare significance and direction on each scale.
    return _other_measure_row(result, spec, "risk-difference", "Risk difference (Mantel-Haenszel)")


def _other_measure_row(result: AnalysisResult, spec, rid: str, label: str) -> Row:
    """The analysis's studies pooled with another measure (`spec`), on its own effect sizes."""
    inputs = [r.inputs for r in result.rows]
    es = effect_sizes(spec, inputs)
    try:
        f = fit(spec, es, inputs)[0]
    except ValueError:
        f = None
    # The studies in the pooled estimate: with Mantel-Haenszel, those with a weight (a double-zero study may have
    # one without an estimate of its own).
    pooled = np.isfinite(f.weights) if f is not None and f.weights is not None else es.estimable
    names = [r.study.label for r, ok in zip(result.rows, pooled) if ok]
    scale = MEASURES[spec.measure].scale
    return Row(
        rid,
        label,
        names,
        f,
        None if f else "not estimable",
        change(result.fit, f),
        scale=scale if scale != MEASURES[result.spec.measure].scale else None,
    )


def _weight_only(row) -> bool:
    """A study with no estimate of its own that still counts in the pooled one: a Mantel-Haenszel risk ratio or
    risk difference keeping a study with no events or only events in both arms. Leaving it out, or adding it,
    changes the pooled estimate, which builder.stats.followups (going by the studies' own estimates) skips."""
    return not row.estimable and row.weight is not None


def leave_one_out(result: AnalysisResult) -> list[Row]:
    """The analysis refitted without each study in turn (builder.stats.followups.leave_one_out)."""
    if result.fit is None:
        return []
    refit = Refitter.of(result)
    out = []
    for i, (r, f) in enumerate(zip(result.rows, followups.leave_one_out(refit.studies, refit))):
        rid, label = f"without-{r.study.id}", f"Without {r.study.label}"
        if _weight_only(r):
            f = refit.on(np.arange(len(result.rows)) != i)
        if not r.estimable and not _weight_only(r):
            out.append(Row(rid, label, [], None, "not estimable: leaving it out changes nothing"))
        else:
            out.append(Row(rid, label, None, f, None if f else "no estimable study left", change(result.fit, f)))
    return out


def cumulative(result: AnalysisResult) -> list[Row]:
    """Studies added one at a time in order of publication year (then label), with
    builder.stats.followups.cumulative. A study that is not estimable adds nothing: its row repeats the fit
    above it."""
    if result.fit is None:
        return []
    order = sorted(
        range(len(result.rows)), key=lambda i: (result.rows[i].study.citation.year or 9999, result.rows[i].study.label)
    )
    refit = Refitter.of(result)
    out = []
    f = None
    for j, (i, added) in enumerate(zip(order, followups.cumulative(refit.studies, order, refit))):
        r = result.rows[i]
        if r.estimable:
            f = added
        elif _weight_only(r):
            f = refit.on(np.isin(np.arange(len(result.rows)), order[: j + 1]))
        label = f"+ {r.study.label}" + (f" ({r.study.citation.year})" if r.study.citation.year else "")
        out.append(
            Row(f"up-to-{r.study.id}", label, None, f, None if f else "no estimable study yet", change(result.fit, f))
        )
    return out


def small_study(result: AnalysisResult) -> dict:
    """Egger's test and the funnel plot's data when at least MIN_K_EGGER studies have an estimable effect;
    otherwise the reason there are none. Keys: k, egger, funnel, reason."""
    k = sum(1 for r in result.rows if r.estimable)
    if result.fit is None:
        return {}
    if k < MIN_K_EGGER:
        return {
            "k": k,
            "egger": None,
            "funnel": None,
            "reason": f"they need at least {MIN_K_EGGER} studies with an estimable effect, and this analysis has {k}",
        }
    es = effect_sizes_of(result)
    try:
        test = egger(es, result.fit)
    except ValueError as exc:
        return {"k": k, "egger": None, "funnel": funnel_data(es, result.fit), "reason": str(exc)}
    return {"k": k, "egger": test, "funnel": funnel_data(es, result.fit), "reason": None}
