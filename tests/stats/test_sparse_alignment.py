"""Sparse binary data against metafor (tests/reference/sparse.json, from sparse_reference.R): studies with no
events or only events in both arms in Mantel-Haenszel risk ratios and risk differences and in inverse-variance
risk differences, and Sweeting's treatment-arm continuity correction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from alignment import CLOSED_FORM, P_VALUE, Tol, as_float, compare_vector, load_reference

from builder.stats import (
    fixed_iv,
    log_odds_ratio,
    log_risk_ratio,
    mantel_haenszel_or,
    mantel_haenszel_rd,
    mantel_haenszel_rr,
    random_effects,
    risk_difference,
)
from builder.stats.effects import TACC, treatment_arm_correction

REFERENCE = load_reference("sparse")
DATASETS = REFERENCE["datasets"]

# Quantities of a REML fit: tau² is converged to ~1e-9 absolute on both sides (see alignment.TAU2_ITERATIVE); the
# pooled estimate, its standard error and interval move with tau² at a rate of order 1 on these data, so 1e-9
# absolute plus 1e-7 relative (for the t quantile and the Knapp-Hartung scale) is ample and still a thousand
# times tighter than a difference of formula would show.
REML = Tol(rtol=1e-7, atol=1e-9)
# I² (percent) of a REML fit: 100 tau² / (tau² + s²) with a typical within-study variance s² down to ~1e-2 here,
# so tau²'s 1e-9 becomes up to ~1e-5 (metafor stops at tau² ~ 1e-11 where ours reaches the boundary 0).
REML_I2 = Tol(rtol=1e-7, atol=1e-5)

MH = {"RR": (mantel_haenszel_rr, log_risk_ratio), "RD": (mantel_haenszel_rd, risk_difference)}


def cells(name: str):
    x = DATASETS[name]["inputs"]
    return tuple(as_float(x[k]) for k in ("ai", "n1i", "ci", "n2i"))


def assert_fit(fit, ref: dict, tol: Tol = CLOSED_FORM, tau2: bool = False) -> None:
    ours = {
        "beta": fit.estimate,
        "se": fit.se,
        "ci_lb": fit.ci_low,
        "ci_ub": fit.ci_high,
        "zval": fit.statistic,
        "QE": fit.q,
        "I2": fit.i2,
    }
    if tau2:
        ours["tau2"] = fit.tau2
    tols = {k: (REML_I2 if tau2 and k == "I2" else tol) for k in ours}
    problems = [f"{k}: ours {v!r}, metafor {ref[k]!r}" for k, v in ours.items() if not tols[k].ok(v, ref[k])]
    for k, v in {"pval": fit.p, "QEp": fit.q_p}.items():
        if not (P_VALUE.ok(v, ref[k]) or tol.ok(v, ref[k])):
            problems.append(f"{k}: ours {v!r}, metafor {ref[k]!r}")
    assert fit.k == ref["k"], "k"
    weights = fit.weights[np.isfinite(fit.weights)]
    problems += compare_vector("weights", weights, as_float(ref["weights"]), Tol(1e-9, 1e-10))
    assert not problems, problems


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("measure", ["RR", "RD"])
def test_mantel_haenszel_keeps_double_zero_studies_as_rma_mh_does(name, measure):
    pool, display = MH[measure]
    x = cells(name)
    fit = pool(*x, display=display(*x, add=0.5), keep_double_zero=True)
    ref = DATASETS[name]["mh"][measure]
    assert ref["drop00"] == [True, False]  # metafor's default
    assert_fit(fit, ref)
    assert ref["k"] == len(x[0]) and ref["k_yi"] < ref["k"]  # every table counted; Q without the double zeros


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("measure", ["RR", "RD"])
def test_leaving_them_out_is_rma_mh_with_drop00_true(name, measure):
    pool, display = MH[measure]
    x = cells(name)
    assert_fit(pool(*x, display=display(*x, add=0.5)), DATASETS[name]["mh"][f"{measure}_drop"])


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_the_odds_ratio_is_the_same_either_way(name):
    """A double-zero table has a d = b c = 0: metafor keeps it in k only, we show it as not estimable."""
    x = cells(name)
    fit = mantel_haenszel_or(*x, display=log_odds_ratio(*x, add=0.5))
    ref = DATASETS[name]["mh"]["OR"]
    assert fit.k == ref["k_yi"] < ref["k"]
    for ours, key in ((fit.estimate, "beta"), (fit.se, "se"), (fit.ci_low, "ci_lb"), (fit.q, "QE")):
        assert CLOSED_FORM.ok(ours, ref[key]), key


def test_only_events_in_both_arms_move_the_risk_ratio_no_events_do_not():
    deaths, survivors = DATASETS["axfors2021_deaths"]["mh"], DATASETS["axfors2021_survivors"]["mh"]
    assert deaths["RR"]["beta"] == pytest.approx(deaths["RR_drop"]["beta"], rel=1e-12)
    assert abs(survivors["RR"]["beta"]) < abs(survivors["RR_drop"]["beta"])  # pulled towards no effect


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_inverse_variance_risk_difference_keeps_them_as_escalc_does(name):
    ref = DATASETS[name]["iv_rd"]
    assert ref["drop00"] is False  # escalc's default
    es = risk_difference(*cells(name), add=0.5, keep_double_zero=True)
    problems = compare_vector("yi", np.where(es.estimable, es.yi, np.nan), as_float(ref["yi"]), CLOSED_FORM)
    problems += compare_vector("vi", np.where(es.estimable, es.vi, np.nan), as_float(ref["vi"]), CLOSED_FORM)
    assert not problems, problems
    assert_fit(fixed_iv(es), ref["fixed"])
    assert_fit(random_effects(es, "REML", "hksj"), ref["reml"], REML, tau2=True)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_inverse_variance_risk_difference_without_them_is_drop00_true(name):
    ref = DATASETS[name]["iv_rd_drop"]
    es = risk_difference(*cells(name), add=0.5)
    assert compare_vector("yi", es.yi, as_float(ref["yi"]), CLOSED_FORM) == []
    assert_fit(fixed_iv(es), ref["fixed"])


def test_without_a_correction_a_kept_double_zero_study_has_no_variance():
    es = risk_difference([0, 3, 5], [10, 10, 5], [0, 1, 7], [12, 10, 7], add=0.0, keep_double_zero=True)
    assert list(es.estimable) == [False, True, False]


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("measure", ["OR", "RR"])
def test_treatment_arm_correction_matches_the_hand_computation(name, measure):
    ref = DATASETS[name]["tacc"][measure]
    x = cells(name)
    k1, k2 = treatment_arm_correction(x[1], x[3])
    corrected = as_float(ref["k1"]) > 0  # R's corrections are 0 where a study has no zero cell or is left out
    assert np.allclose(k1[corrected], as_float(ref["k1"])[corrected], rtol=1e-14)
    assert np.allclose(k2[corrected], as_float(ref["k2"])[corrected], rtol=1e-14)
    build = {"OR": log_odds_ratio, "RR": log_risk_ratio}[measure]
    es = build(*x, add=TACC)
    assert list(es.corrected) == list(corrected)
    problems = compare_vector("yi", es.yi, as_float(ref["yi"]), CLOSED_FORM)
    problems += compare_vector("vi", es.vi, as_float(ref["vi"]), CLOSED_FORM)
    assert not problems, problems
    assert_fit(random_effects(es, "REML", "hksj"), ref["reml"], REML, tau2=True)


def test_treatment_arm_correction_is_proportional_to_the_other_arm_and_sums_to_one():
    k1, k2 = treatment_arm_correction([10, 30, 7], [30, 10, 7])
    assert np.allclose(k1 + k2, 1)
    assert np.allclose(k1 / k2, (1 / np.array([30, 10, 7])) / (1 / np.array([10, 30, 7])))
    assert math.isclose(k1[2], 0.5)  # equal arms: the usual 0.5


def test_an_unknown_correction_is_refused():
    with pytest.raises(ValueError, match="tacc"):
        log_odds_ratio([0], [10], [2], [10], add="sweeting")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("measure", ["OR", "RR"])
def test_treatment_arm_correction_inside_mantel_haenszel(name, measure):
    """Where an analysis corrects inside the Mantel-Haenszel estimate, the sensitivity row uses Sweeting's
    correction there too (double-zero studies left out, as for an odds ratio or under keep-in-rd)."""
    pool, display = {"OR": (mantel_haenszel_or, log_odds_ratio), "RR": (mantel_haenszel_rr, log_risk_ratio)}[measure]
    x = cells(name)
    assert_fit(pool(*x, display=display(*x, add=TACC), add=TACC), DATASETS[name]["tacc"][measure]["mh"])
