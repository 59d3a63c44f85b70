"""Contrast-level data, O - E and variance, and before-after data against metafor (tests/reference/contrast.json,
written by tests/reference/contrast_reference.R): the statistics functions alone. The same numbers through study
files and results.json are checked in tests/publish/test_contrast_data.py."""

from __future__ import annotations

import numpy as np
import pytest
from alignment import CLOSED_FORM, P_VALUE, TAU2_ITERATIVE, as_float, compare_vector, load_reference

from builder.stats import (
    fixed_iv,
    generic,
    peto_log_ratio,
    peto_pooled,
    pre_post_mean_change,
    pre_post_standardised_mean_change,
    random_effects,
)
from builder.stats.effects import EffectSizes

REF = load_reference("contrast")

# The pooled estimate of an iterative fit (REML) inherits tau²'s convergence error (TAU2_ITERATIVE, 1e-9 absolute)
# through the weights; its effect on the estimate, SE and bounds is of the same order, so 1e-8 relative plus 1e-9
# absolute. Closed-form fits (common effect, DL, Peto) use CLOSED_FORM.
ITERATIVE = type(CLOSED_FORM)(rtol=1e-8, atol=1e-9)
CI_METHOD = {"knha": "hksj", "z": "wald"}


def _check_fit(fit, expected: dict, tol) -> list[str]:
    problems = []
    for ours, name in ((fit.estimate, "estimate"), (fit.se, "se"), (fit.ci_low, "ci_low"), (fit.ci_high, "ci_high")):
        if not tol.ok(ours, expected[name]):
            problems.append(f"{name}: ours {ours!r}, metafor {expected[name]!r}")
    if not P_VALUE.ok(fit.p, expected["p"]) and abs(fit.p - expected["p"]) > 1e-12:
        problems.append(f"p: ours {fit.p!r}, metafor {expected['p']!r}")
    if fit.k != expected["k"]:
        problems.append(f"k: ours {fit.k}, metafor {expected['k']}")
    if expected["k"] > 1 and not CLOSED_FORM.ok(fit.q, expected["q"]):
        problems.append(f"Q: ours {fit.q!r}, metafor {expected['q']!r}")
    if fit.model == "random" and not TAU2_ITERATIVE.ok(fit.tau2, expected["tau2"]):
        problems.append(f"tau²: ours {fit.tau2!r}, metafor {expected['tau2']!r}")
    weights = fit.weights[np.isfinite(fit.weights)]
    problems += compare_vector("weights", weights, as_float(expected["weights"]), tol)
    return problems


def _fit(es: EffectSizes, case: str):
    method, test = case.split("/")
    if method == "FE":
        return fixed_iv(es), CLOSED_FORM
    return random_effects(es, method, CI_METHOD[test]), ITERATIVE if method == "REML" else CLOSED_FORM


def _hazard_effect_sizes() -> EffectSizes:
    s = REF["hazard"]["studies"]
    return generic(
        [x["estimate"] for x in s],
        [x.get("se") for x in s],
        [x.get("ci_low") for x in s],
        [x.get("ci_high") for x in s],
        log=True,
    )


def test_hazard_ratios_as_printed_become_metafors_log_hr_and_variance():
    es = _hazard_effect_sizes()
    ref = REF["hazard"]
    problems = compare_vector("yi", es.yi, as_float(ref["yi"]), CLOSED_FORM)
    problems += compare_vector("vi", es.vi, as_float(ref["vi"]), CLOSED_FORM)
    assert not problems, problems


@pytest.mark.parametrize("case", ["REML/knha", "DL/z", "FE/z"])
def test_generic_inverse_variance_pooling_of_hazard_ratios(case):
    fit, tol = _fit(_hazard_effect_sizes(), case)
    problems = _check_fit(fit, REF["hazard"]["fits"][case], tol)
    assert not problems, problems


def test_rma_with_sei_is_the_same_fit():
    """rma(yi, sei = ...) and rma(yi, vi = sei²) agree; the pinned fits use vi."""
    assert REF["hazard"]["sei_fit"]["estimate"] == pytest.approx(REF["hazard"]["fits"]["REML/knha"]["estimate"])


def test_peto_from_o_minus_e_and_variance_is_the_formula_and_metafors_common_effect_fit():
    ref = REF["peto"]
    oe = as_float([s["o_minus_e"] for s in ref["studies"]])
    v = as_float([s["v"] for s in ref["studies"]])
    fit = peto_pooled(oe, v)
    assert CLOSED_FORM.ok(fit.estimate, ref["formula"]["estimate"])
    assert CLOSED_FORM.ok(fit.se, ref["formula"]["se"])
    assert CLOSED_FORM.ok(fit.q, ref["formula"]["q"])
    problems = _check_fit(fit, ref["fits"]["FE/z"], CLOSED_FORM)
    assert not problems, problems
    es = peto_log_ratio(oe, v)
    assert not compare_vector("yi", es.yi, as_float(ref["yi"]), CLOSED_FORM)
    assert not compare_vector("vi", es.vi, as_float(ref["vi"]), CLOSED_FORM)


@pytest.mark.parametrize("case", ["REML/knha", "DL/z"])
def test_o_minus_e_under_random_effects(case):
    ref = REF["peto"]
    es = peto_log_ratio([s["o_minus_e"] for s in ref["studies"]], [s["v"] for s in ref["studies"]])
    fit, tol = _fit(es, case)
    problems = _check_fit(fit, ref["fits"][case], tol)
    assert not problems, problems


PRE_POST = {"MC": pre_post_mean_change, "SMCC": pre_post_standardised_mean_change}


@pytest.mark.parametrize("case", REF["pre_post"]["cases"], ids=lambda c: f"{c['measure']}-r{c['r']}")
def test_before_after_change_with_an_assumed_correlation(case):
    s = REF["pre_post"]["studies"]
    columns = [as_float([x[k] for x in s]) for k in ("m_post", "sd_post", "m_pre", "sd_pre", "n")]
    es = PRE_POST[case["measure"]](*columns, case["r"])
    problems = compare_vector("yi", es.yi, as_float(case["yi"]), CLOSED_FORM)
    problems += compare_vector("vi", es.vi, as_float(case["vi"]), CLOSED_FORM)
    problems += _check_fit(random_effects(es, "REML", "hksj"), case["fit"], ITERATIVE)
    assert not problems, problems


def test_the_default_correlation_and_its_sensitivity_values_are_the_pinned_ones():
    from builder.stats.effects import PRE_POST_R_DEFAULT, PRE_POST_R_SENSITIVITY

    assert [c["r"] for c in REF["pre_post"]["cases"][:3]] == [PRE_POST_R_DEFAULT, *PRE_POST_R_SENSITIVITY]
