"""Influence diagnostics, the Baujat plot, trim-and-fill, Begg's rank test and Harbord's and Peters' tests against
metafor.

tests/reference/followups.json is written by tests/reference/followups_reference.R (rerun it with
`Rscript tests/reference/followups_reference.R` from the repository root); it holds each dataset's inputs, so these
tests need no R. Every case is rebuilt from those inputs with our own functions.
"""

from __future__ import annotations

import numpy as np
import pytest
from alignment import CI_METHOD, CLOSED_FORM, P_VALUE, Tol, as_float, compare_vector, load_reference

from builder.stats import EffectSizes, Fit, fixed_iv, log_odds_ratio, random_effects
from builder.stats.bias import harbord, peters, rank_test, trim_and_fill
from builder.stats.influence import influence

REFERENCE = load_reference("followups")
DATASETS = REFERENCE["datasets"]
CASES = REFERENCE["cases"]

# ------------------------------------------------------------------------------------------ tolerances
#
# Under REML every measure is a closed-form function of the fit's and each refit's tau², both converged to ~1e-12
# on either side (tests/alignment.py: TAU2_ITERATIVE allows 1e-9). 1e-6 relative with a 1e-7 floor accepts a
# sensitivity of a diagnostic to tau² of up to 100 at that limit, and still fails any difference of formula (a
# refit's Knapp-Hartung factor left out of DFFITS, the full model's tau² in place of the refit's). The largest
# differences observed are 1.1e-10 absolute (a Baujat x of bangertdrowns2004 under REML, z), 7e-11 relative.
ITERATIVE = Tol(rtol=1e-6, atol=1e-7)
# Fixed-effect diagnostics, the rank test and the regressions are closed forms: CLOSED_FORM (1e-10 relative);
# observed: 4e-15 relative at most (Harbord's and Peters' t, Begg's tau and P).
# The filled studies of trim-and-fill are 2 * centre - yi, with the centre from a REML fit: ITERATIVE again.


def effect_sizes(dataset: dict) -> EffectSizes:
    yi, vi = as_float(dataset["yi"]), as_float(dataset["vi"])
    ok = ~np.isnan(yi)
    return EffectSizes(yi[ok], vi[ok], np.ones(int(ok.sum()), dtype=bool), np.zeros(int(ok.sum()), dtype=bool))


def fit_of(es: EffectSizes, case: dict) -> Fit:
    if case["method"] == "FE":
        return fixed_iv(es)
    return random_effects(es, case["method"], CI_METHOD[case["test"]], tau2_interval=False)


def tol_of(case: dict) -> Tol:
    return CLOSED_FORM if case["method"] == "FE" else ITERATIVE


def case_id(case: dict) -> str:
    return f"{case['dataset']}-{case['model']}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_influence_measures_and_flags(case):
    es = effect_sizes(DATASETS[case["dataset"]])
    fit = fit_of(es, case)
    ref = case["influence"]
    got = influence(es, fit)
    tol = tol_of(case)
    problems = []
    for ours, theirs in (
        ("rstudent", "rstudent"),
        ("dffits", "dffits"),
        ("cook", "cook_d"),
        ("cov_ratio", "cov_r"),
        ("tau2_deleted", "tau2_del"),
        ("q_deleted", "QE_del"),
        ("hat", "hat"),
        ("weight", "weight"),
        ("dfbetas", "dfbetas"),
    ):
        problems += compare_vector(theirs, getattr(got, ours), as_float(ref[theirs]), tol)
    assert not problems, problems
    assert got.flagged.tolist() == ref["inf"]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_baujat_coordinates(case):
    es = effect_sizes(DATASETS[case["dataset"]])
    got = influence(es, fit_of(es, case))
    tol = tol_of(case)
    problems = compare_vector("x", got.baujat_x, as_float(case["baujat"]["x"]), tol)
    problems += compare_vector("y", got.baujat_y, as_float(case["baujat"]["y"]), tol)
    assert not problems, problems


@pytest.mark.parametrize("estimator", ["L0", "R0"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_trim_and_fill(case, estimator):
    es = effect_sizes(DATASETS[case["dataset"]])
    fit = fit_of(es, case)
    ref = case["trimfill"][estimator]
    got = trim_and_fill(es, fit, estimator)
    assert (got.side, got.k0) == (ref["side"], ref["k0"])
    tol = tol_of(case)
    assert tol.ok(got.se_k0, ref["se_k0"]), (got.se_k0, ref["se_k0"])
    if estimator == "R0":
        assert CLOSED_FORM.ok(got.p_k0, ref["p_k0"])
    # metafor appends the filled studies in order of their flipped estimates, as do we
    problems = compare_vector("yi_filled", got.yi_filled, as_float(ref["yi_filled"]), tol)
    problems += compare_vector("vi_filled", got.vi_filled, as_float(ref["vi_filled"]), CLOSED_FORM)
    assert not problems, problems
    adjusted = got.adjusted if got.adjusted is not None else fit
    assert adjusted.k == ref["k"]
    for ours, theirs in (("estimate", "estimate"), ("se", "se"), ("ci_low", "ci_lb"), ("ci_high", "ci_ub")):
        assert tol.ok(getattr(adjusted, ours), ref[theirs]), (ours, getattr(adjusted, ours), ref[theirs])
    assert tol.ok(adjusted.tau2 or 0.0, ref["tau2"])


@pytest.mark.parametrize("case", [c for c in CASES if c["model"] == "FE"], ids=case_id)
def test_rank_test(case):
    """Begg's test does not depend on the model (fixed-effect weights always): one case per dataset."""
    got = rank_test(effect_sizes(DATASETS[case["dataset"]]))
    ref = case["ranktest"]
    assert CLOSED_FORM.ok(got.tau, ref["tau"])
    assert P_VALUE.ok(got.p, ref["p"]), (got.p, ref["p"])
    assert got.exact is not ref["ties"]  # the exact p-value without ties, R's normal approximation with them


BINARY = [name for name, d in DATASETS.items() if d["type"] == "binary"]


def _cells(name: str):
    i = DATASETS[name]["inputs"]
    return i["ai"], i["n1i"], i["ci"], i["n2i"]


@pytest.mark.parametrize("name", BINARY)
def test_harbord(name):
    ref = DATASETS[name]["harbord"]
    got = harbord(*_cells(name))
    assert got.k == ref["k"] and got.df == ref["intercept"]["df"]
    # The test on the intercept of Z / sqrt(V) ~ sqrt(V) is the test on the slope of metafor's form.
    assert CLOSED_FORM.ok(got.statistic, ref["intercept"]["t"])
    assert CLOSED_FORM.ok(got.statistic, ref["regtest"]["zval"])
    assert P_VALUE.ok(got.p, ref["intercept"]["p"])
    assert CLOSED_FORM.ok(got.slope, ref["intercept"]["estimate"])
    assert CLOSED_FORM.ok(got.slope_se, ref["intercept"]["se"])
    assert CLOSED_FORM.ok(got.limit_estimate, ref["regtest"]["est"])
    assert CLOSED_FORM.ok(got.limit_estimate, ref["slope"]["estimate"])
    assert CLOSED_FORM.ok(got.limit_ci_low, ref["regtest"]["ci_lb"])
    assert CLOSED_FORM.ok(got.limit_ci_high, ref["regtest"]["ci_ub"])


@pytest.mark.parametrize("name", BINARY)
def test_peters(name):
    ref = DATASETS[name]["peters"]
    es = log_odds_ratio(*_cells(name))
    got = peters(*_cells(name), es)
    assert got.k == ref["k"] and got.df == ref["slope"]["df"]
    assert CLOSED_FORM.ok(got.statistic, ref["slope"]["t"])
    assert P_VALUE.ok(got.p, ref["slope"]["p"])
    assert CLOSED_FORM.ok(got.slope, ref["slope"]["estimate"])
    assert CLOSED_FORM.ok(got.slope_se, ref["slope"]["se"])
    assert CLOSED_FORM.ok(got.limit_estimate, ref["intercept"]["estimate"])
    assert CLOSED_FORM.ok(got.limit_ci_low, ref["intercept"]["ci_lb"])
    assert CLOSED_FORM.ok(got.limit_ci_high, ref["intercept"]["ci_ub"])


def test_reference_log_odds_ratios_are_ours():
    """The binary datasets' yi and vi in the reference are escalc's; ours must be the same, for Peters' test."""
    for name in BINARY:
        es = log_odds_ratio(*_cells(name))
        ref = as_float(DATASETS[name]["yi"])
        assert not compare_vector(name, np.where(es.estimable, es.yi, np.nan), ref, CLOSED_FORM)
