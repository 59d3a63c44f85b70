"""Random-effects estimators, inference methods, heterogeneity intervals and follow-up analyses against metafor.

tests/reference/models.json is written by tests/reference/models_reference.R (rerun it with
`Rscript tests/reference/models_reference.R` from the repository root); it holds each dataset's inputs, so these
tests need no R. Every case is rebuilt here from those inputs with our own functions and every stored quantity is
compared. The common-effect and Mantel-Haenszel models and the effect sizes are covered by
tests/stats/test_metafor_alignment.py.
"""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest
from alignment import (
    CI_METHOD,
    CLOSED_FORM,
    P_VALUE,
    TAU2_ITERATIVE,
    Tol,
    as_float,
    load_reference,
    model_effect_sizes,
)

from builder.stats import EffectSizes, Fit, fixed_iv, random_effects
from builder.stats.confint import tau2_ci
from builder.stats.followups import MIN_K_EGGER, cumulative, egger, funnel_data, leave_one_out, subgroups
from builder.stats.random import MIN_K_PREDICTION, ONE_STUDY_NOTE
from builder.stats.tau2 import ESTIMATORS

REFERENCE = load_reference("models")
CASES = REFERENCE["cases"]


# ------------------------------------------------------------------------------------------ tolerances
#
# CLOSED_FORM, P_VALUE and TAU2_ITERATIVE, the same for every reference, are in tests/alignment.py.
#
# Everything else in a fit with an iterative tau² is a closed-form function of tau², so it inherits tau²'s error
# times its sensitivity d(quantity)/d(tau²). Perturbing tau² in our engine, the largest sensitivity over the model
# cases is ~1200 (I² in percent on hackshaw1998, whose typical within-study variance is 0.05; weights in percent
# ~200, prediction bounds ~20, estimates and SEs ~1), so an error in tau² at the limit of TAU2_ITERATIVE (1e-9)
# could move I² by ~1.2e-6. Allow 1e-5 absolute (sensitivities up to 1e4) and 1e-8 relative for large-scale
# quantities (normand1999, in days). Observed differences are ~1e-9 at most, as tau² agrees to ~1e-12.
ITERATIVE = Tol(rtol=1e-8, atol=1e-5)

# p-values of fits with an iterative tau²: the sensitivity of log(p) to tau² is at most ~110 here (hackshaw1998,
# PM), so a 1e-9 error in tau² changes p by ~1.1e-7 relative; 1e-6 relative leaves a margin of 9.
P_VALUE_ITERATIVE = Tol(rtol=1e-6, atol=0.0)

# Limits of the Q-profile interval for tau²: roots of Q(tau²) = a chi-squared quantile, found to machine precision
# on both sides (R: uniroot with tol 1e-14; ours: brentq with xtol 1e-12 and 4 ulp relative). They do not depend
# on the tau² estimator. Q(tau²) is smooth and monotone with slope of order Q / tau² at the roots, so the root
# error is ~1e-12 absolute or a few ulp relative; allow the same as for an iterative tau².
QP_LIMIT = Tol(rtol=TAU2_ITERATIVE.rtol, atol=TAU2_ITERATIVE.atol)

# I² and H² limits are closed-form functions of the tau² limits, I² = 100 tau² / (s² + tau²) and
# H² = tau² / s² + 1: their sensitivity to tau² is at most 100 / s² and 1 / s², with s² (the typical within-study
# variance) >= 0.029 in these datasets (bcg), i.e. <= 3500; a limit within QP_LIMIT (1e-9) moves I² by at most
# 3.5e-6. Allow the same as for quantities derived from an iterative tau².
QP_DERIVED = Tol(rtol=ITERATIVE.rtol, atol=ITERATIVE.atol)

ITERATIVE_METHODS = {"ML", "REML", "EB", "PM"}
TAU2_FREE = {"QE", "QEp", "I2_q", "H2_q"}  # about the inverse-variance fixed-effect estimate: free of tau²

# --------------------------------------------------------------------------- the grid we claim to match

DATASETS = {
    "bcg": "binary",
    "normand1999": "continuous",
    "homogeneous_md": "continuous",
    "heterogeneous_md": "continuous",
    "sparse_zero_cells": "binary",
    "hackshaw1998": "generic",
    "two_studies": "binary",
    "one_study": "binary",
}
TAU2_METHODS = ("DL", "HE", "SJ", "ML", "REML", "EB", "PM")
TESTS = ("z", "knha", "adhoc")

# Follow-up analyses: every model for subgroups and regtest, plus the common-effect model ("FE"); leave1out and
# cumul (which refit one model on subsets) every estimator under z and DL and REML under all three tests.
FOLLOWUP_MODELS = {(m, t) for m, t in product(TAU2_METHODS, TESTS)} | {("FE", "z")}
ROWWISE_MODELS = {(m, t) for m, t in FOLLOWUP_MODELS if t == "z" or m in ("DL", "REML")}
ROWWISE_DATASETS = ("bcg", "normand1999", "sparse_zero_cells", "two_studies")
SUBGROUP_DATASETS = {"bcg": "alloc", "hackshaw1998": "design"}
REGTEST_DATASETS = ("bcg", "hackshaw1998")


def expected_cases() -> set[tuple]:
    return {(d, m, t) for d, m, t in product(DATASETS, TAU2_METHODS, TESTS)}


def key(case: dict) -> tuple:
    return case["dataset"], case["method"], case["test"]


# ------------------------------------------------------------------------------------------- builders


def effect_sizes(dataset: str) -> EffectSizes:
    return model_effect_sizes(REFERENCE["datasets"][dataset])


def refit_for(method: str, test: str):
    if method == "FE":
        return fixed_iv
    return lambda es: random_effects(es, method, CI_METHOD[test])


def tolerance(method: str, quantity: str) -> Tol:
    p_value = quantity in {"pval", "QEp", "Qp"}
    if method in ITERATIVE_METHODS and quantity not in TAU2_FREE:
        if quantity == "tau2":
            return TAU2_ITERATIVE
        return P_VALUE_ITERATIVE if p_value else ITERATIVE
    return P_VALUE if p_value else CLOSED_FORM


class Differences:
    """Collects mismatches, and the largest relative difference seen, for a readable failure message."""

    def __init__(self, name: str):
        self.name, self.problems = name, []

    def scalar(self, quantity: str, ours, ref, tol: Tol):
        if ref is None or ours is None:
            if not (ref is None and ours is None):
                self.problems.append(f"{quantity}: ours {ours!r}, metafor {ref!r}")
        elif not tol.ok(ours, ref):
            self.problems.append(f"{quantity}: ours {ours!r}, metafor {ref!r}, diff {ours - ref:.3e}")

    def vector(self, quantity: str, ours, ref, tol: Tol):
        ours, ref = as_float(ours), as_float(ref)
        if ours.shape != ref.shape:
            self.problems.append(f"{quantity}: {len(ours)} values, reference has {len(ref)}")
            return
        for i, (a, e) in enumerate(zip(ours, ref)):
            self.scalar(
                f"{quantity}[{i}]", None if math.isnan(a) else float(a), None if math.isnan(e) else float(e), tol
            )

    def check(self):
        assert not self.problems, f"{self.name}:\n" + "\n".join(self.problems)


def i2_h2_from_q(q: float, df: int) -> tuple[float, float]:
    """metafor's fixed-effect I² and H², from the reference Q."""
    return max(0.0, 100 * (q - df) / q), q / df


# ------------------------------------------------------------------------------------------------ grid


def test_reference_was_generated_as_the_tolerances_assume():
    generator, settings = REFERENCE["generator"], REFERENCE["settings"]
    assert generator["metafor"] and generator["R"]
    assert settings["fisher_scoring_control"]["threshold"] <= 1e-12  # TAU2_ITERATIVE depends on these
    assert settings["pm_control"]["tol"] <= 1e-14
    assert settings["confint_control"]["tol"] <= 1e-14  # QP_LIMIT
    assert settings["confint_type"] == "QP"
    assert settings["escalc_OR"] == {"add": 0.5, "to": "only0", "drop00": True}
    assert settings["level"] == 95
    assert tuple(settings["tau2_methods"]) == TAU2_METHODS and tuple(settings["tests"]) == TESTS
    assert set(TAU2_METHODS) == set(ESTIMATORS)


def test_reference_grid_is_complete():
    """A case silently dropped from (or duplicated in) the R script fails here."""
    assert set(REFERENCE["datasets"]) == set(DATASETS)
    for name, kind in DATASETS.items():
        assert REFERENCE["datasets"][name]["type"] == kind
    sections = {
        "cases": expected_cases(),
        "leave1out": {(d, m, t) for d in ROWWISE_DATASETS for m, t in ROWWISE_MODELS},
        "cumul": {(d, m, t) for d in ROWWISE_DATASETS for m, t in ROWWISE_MODELS},
        "subgroups": {(d, m, t) for d in SUBGROUP_DATASETS for m, t in FOLLOWUP_MODELS},
        "regtest": {(d, m, t) for d in REGTEST_DATASETS for m, t in FOLLOWUP_MODELS},
    }
    for section, want in sections.items():
        keys = [key(c) for c in REFERENCE[section]]
        assert len(keys) == len(set(keys)), f"duplicate cases in {section}"
        got = set(keys)
        assert not want - got, f"{section}: missing from the reference: {sorted(want - got)}"
        assert not got - want, f"{section}: in the reference but not claimed here: {sorted(got - want)}"
    for case in REFERENCE["subgroups"]:
        assert case["by"] == SUBGROUP_DATASETS[case["dataset"]]


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_effect_sizes_match_escalc(dataset):
    es = effect_sizes(dataset)
    ref = REFERENCE["datasets"][dataset]["escalc"]
    np.testing.assert_array_equal(es.estimable, ~np.isnan(as_float(ref["yi"])), err_msg="estimable studies differ")
    diff = Differences(dataset)
    diff.vector("yi", np.where(es.estimable, es.yi, np.nan), ref["yi"], CLOSED_FORM)
    diff.vector("vi", np.where(es.estimable, es.vi, np.nan), ref["vi"], CLOSED_FORM)
    diff.check()


# ------------------------------------------------------------------------------------------- models


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_random_effects_match_metafor(case):
    es = effect_sizes(case["dataset"])
    method = case["method"]
    fit = random_effects(es, method, CI_METHOD[case["test"]])
    diff = Differences(case["name"])
    assert fit.k == case["k"] and fit.model == "random" and fit.method == method

    for quantity, ours in {
        "estimate": fit.estimate,
        "se": fit.se,
        "ci_lb": fit.ci_low,
        "ci_ub": fit.ci_high,
        "zval": fit.statistic,
        "pval": fit.p,
        "tau2": fit.tau2,
    }.items():
        diff.scalar(quantity, ours, case[quantity], tolerance(method, quantity))
    diff.vector("weights", fit.weights, case["weights"], tolerance(method, "weights"))

    if fit.k == 1:
        # metafor falls back to test="z" (with a warning) and reports Q = 0, I² = 0, H² = 1 and a "prediction
        # interval" equal to the CI; we report no heterogeneity statistics and no prediction interval.
        assert case["test_used"] == "z" and fit.ci_method == "wald" and fit.df is None
        assert fit.note == ONE_STUDY_NOTE and fit.tau2 == 0
        assert (case["QE"], case["I2"], case["H2"]) == (0, 0, 1)
        assert fit.q is None and fit.i2 is None and fit.i2_q is None and fit.tau2_ci_low is None
        assert fit.pi_low is None and fit.pi_high is None
        diff.check()
        return

    assert case["test_used"] == case["test"] and fit.ci_method == CI_METHOD[case["test"]] and fit.note is None
    assert fit.df == (None if case["test"] == "z" else case["ddf"])
    assert fit.i2_basis == "tau2"
    for quantity, ours in {"QE": fit.q, "QEp": fit.q_p, "I2": fit.i2, "H2": fit.h2}.items():
        diff.scalar(quantity, ours, case[quantity], tolerance(method, quantity))
    assert fit.q_df == case["k"] - 1

    # I² and H² from Q, as metafor reports them for a fixed-effect model.
    i2_q, h2_q = i2_h2_from_q(case["QE"], case["k"] - 1)
    diff.scalar("I2_q", fit.i2_q, i2_q, tolerance(method, "I2_q"))
    diff.scalar("H2_q", fit.h2_q, h2_q, tolerance(method, "H2_q"))

    # Prediction interval: metafor gives one for any k; we leave it out below MIN_K_PREDICTION.
    if fit.k >= MIN_K_PREDICTION:
        diff.scalar("pi_lb", fit.pi_low, case["pi_lb"], tolerance(method, "pi"))
        diff.scalar("pi_ub", fit.pi_high, case["pi_ub"], tolerance(method, "pi"))
    else:
        assert fit.pi_low is None and fit.pi_high is None

    # Q-profile intervals. metafor marks a limit outside its search range with ">"; the reference widened the
    # range so that this does not happen. "<" on both limits goes with a "null" interval, [0, 0].
    assert ">" not in case["ci_signs"], "the reference hit metafor's search limit for tau²"
    if case["ci_null"]:
        assert fit.tau2_ci_low == 0 and fit.tau2_ci_high == 0
    diff.vector("tau2_ci", [fit.tau2_ci_low, fit.tau2_ci_high], case["tau2_ci"], QP_LIMIT)
    diff.vector("I2_ci", [fit.i2_ci_low, fit.i2_ci_high], case["I2_ci"], QP_DERIVED)
    diff.vector("H2_ci", [fit.h2_ci_low, fit.h2_ci_high], case["H2_ci"], QP_DERIVED)
    diff.check()


def test_tau2_ci_needs_two_studies():
    es = effect_sizes("one_study")
    with pytest.raises(ValueError, match="at least 2 studies"):
        tau2_ci(es, "REML")


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_adhoc_interval_is_never_narrower_than_knapp_hartung_or_unscaled(dataset):
    """hksj-adhoc: SE = max(HKSJ SE, unscaled SE) with the same tau² and t(k - 1)."""
    es = effect_sizes(dataset)
    for method in TAU2_METHODS:
        z, kh, adhoc = (random_effects(es, method, c) for c in ("wald", "hksj", "hksj-adhoc"))
        if z.k == 1:
            assert z.ci_method == kh.ci_method == adhoc.ci_method == "wald"
            continue
        assert adhoc.se == pytest.approx(max(z.se, kh.se), rel=1e-12)
        assert adhoc.ci_high - adhoc.ci_low >= kh.ci_high - kh.ci_low - 1e-12
        assert adhoc.ci_high - adhoc.ci_low > z.ci_high - z.ci_low


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_empirical_bayes_equals_paule_mandel(dataset):
    """Their estimating equations coincide (Q(tau²) = k - 1), though metafor reaches them by different iterations."""
    es = effect_sizes(dataset)
    if es.estimable.sum() > 1:
        yi, vi = es.yi[es.estimable], es.vi[es.estimable]
        assert ESTIMATORS["EB"](yi, vi) == pytest.approx(ESTIMATORS["PM"](yi, vi), rel=1e-9, abs=1e-9)


def test_unknown_names_are_refused():
    es = effect_sizes("bcg")
    with pytest.raises(ValueError, match="tau² estimator"):
        random_effects(es, "XX")
    with pytest.raises(ValueError, match="ci_method"):
        random_effects(es, "REML", "knha")


def test_fixed_effect_fits_carry_the_q_based_i2():
    fit = fixed_iv(effect_sizes("bcg"))
    assert fit.i2_q == fit.i2 and fit.h2_q == fit.h2 and fit.i2_basis == "Q"


# ------------------------------------------------------------------------------------- follow-ups

ROW_QUANTITIES = {
    "estimate": "estimate",
    "se": "se",
    "zval": "statistic",
    "pval": "p",
    "ci_lb": "ci_low",
    "ci_ub": "ci_high",
    "Q": "q",
    "Qp": "q_p",
    "tau2": "tau2",
    "I2": "i2",
    "H2": "h2",
}
HETEROGENEITY = {"Q", "Qp", "I2", "H2"}


def compare_rows(diff: Differences, fits: list[Fit | None], case: dict, what: str):
    """One refit per row; metafor's row is NA where ours is None. For a one-study refit metafor reports Q = 0,
    I² = 0, H² = 1 where we report none; for a common-effect model metafor's tau² is 0 where ours is None."""
    method = case["method"]
    assert len(fits) == len(case["estimate"]), f"{what}: number of rows"
    for i, fit in enumerate(fits):
        if fit is None:
            for quantity in ROW_QUANTITIES:
                diff.scalar(f"{what}[{i}].{quantity}", None, case[quantity][i], CLOSED_FORM)
            continue
        for quantity, attribute in ROW_QUANTITIES.items():
            ref, ours = case[quantity][i], getattr(fit, attribute)
            if quantity in HETEROGENEITY and fit.k == 1:
                assert ours is None and ref == {"Q": 0, "Qp": 1, "I2": 0, "H2": 1}[quantity]
            elif quantity == "tau2" and method == "FE":
                assert ours is None and ref == 0
            else:
                diff.scalar(f"{what}[{i}].{quantity}", ours, ref, tolerance(method, quantity))


LEAVE1OUT = REFERENCE["leave1out"]
CUMUL = REFERENCE["cumul"]


@pytest.mark.parametrize("case", LEAVE1OUT, ids=[c["name"] for c in LEAVE1OUT])
def test_leave_one_out_matches_metafor(case):
    es = effect_sizes(case["dataset"])
    fits = leave_one_out(es, refit_for(case["method"], case["test"]))
    diff = Differences(case["name"])
    compare_rows(diff, fits, case, "leave1out")
    for fit in fits:
        if fit is not None:
            assert fit.k == es.estimable.sum() - 1
            assert len(fit.weights) == len(es) - 1
    diff.check()


@pytest.mark.parametrize("case", CUMUL, ids=[c["name"] for c in CUMUL])
def test_cumulative_matches_metafor(case):
    es = effect_sizes(case["dataset"])
    fits = cumulative(es, case["order"], refit_for(case["method"], case["test"]))
    diff = Differences(case["name"])
    compare_rows(diff, fits, case, "cumul")
    order = np.asarray(case["order"])
    for j, fit in enumerate(fits):
        if fit is not None:
            assert fit.k == es.estimable[order[: j + 1]].sum()
    diff.check()


def test_cumulative_order_of_bcg_is_by_year():
    years = REFERENCE["datasets"]["bcg"]["year"]
    for case in CUMUL:
        if case["dataset"] == "bcg":
            assert case["order"] == np.argsort(years, kind="stable").tolist()


def test_cumulative_refuses_an_order_that_is_not_a_permutation():
    es = effect_sizes("bcg")
    with pytest.raises(ValueError, match="permutation"):
        cumulative(es, [0, 1, 1], fixed_iv)


SUBGROUPS = REFERENCE["subgroups"]


@pytest.mark.parametrize("case", SUBGROUPS, ids=[c["name"] for c in SUBGROUPS])
def test_subgroups_match_metafor(case):
    dataset, method = case["dataset"], case["method"]
    es = effect_sizes(dataset)
    groups = REFERENCE["datasets"][dataset][case["by"]]
    result = subgroups(es, groups, refit_for(method, case["test"]))
    diff = Differences(case["name"])
    assert list(result.labels) == case["labels"]
    assert [f.k for f in result.fits] == case["k"]
    diff.vector("estimate", [f.estimate for f in result.fits], case["estimate"], tolerance(method, "estimate"))
    diff.vector("se", [f.se for f in result.fits], case["se"], tolerance(method, "se"))
    diff.vector("tau2", [f.tau2 or 0.0 for f in result.fits], case["tau2"], tolerance(method, "tau2"))
    # Q between subgroups is a closed-form function of the subgroup estimates and SEs, so it inherits their
    # tolerance (the quantities derived from an iterative tau² for ML/REML/EB/PM).
    assert result.df == case["df"]
    diff.scalar("Q", result.q, case["Q"], tolerance(method, "Q_between"))
    diff.scalar("Qp", result.p, case["Qp"], tolerance(method, "pval"))
    diff.scalar("I2", result.i2, case["I2"], tolerance(method, "I2_between"))
    diff.check()


def test_subgroups_with_one_group_have_no_test():
    es = effect_sizes("bcg")
    result = subgroups(es, ["all"] * len(es), fixed_iv)
    assert result.labels == ("all",) and result.q is None and result.df is None and result.p is None


REGTEST = REFERENCE["regtest"]


@pytest.mark.parametrize("case", REGTEST, ids=[c["name"] for c in REGTEST])
def test_egger_matches_metafor_regtest(case):
    method = case["method"]
    es = effect_sizes(case["dataset"])
    fit = refit_for(method, case["test"])(es)
    result = egger(es, fit)
    diff = Differences(case["name"])
    assert result.k == case["k"]
    assert result.df == (None if case["test"] == "z" else case["ddf"])
    if method == "FE":
        assert result.tau2 is None and case["tau2"] == 0
    else:
        diff.scalar("tau2", result.tau2, case["tau2"], tolerance(method, "tau2"))
    for quantity, ours, ref in [
        ("zval", result.statistic, case["zval"]),
        ("pval", result.p, case["pval"]),
        ("slope", result.slope, case["beta"][1]),
        ("slope_se", result.slope_se, case["se"][1]),
        ("limit", result.limit_estimate, case["est"]),
        ("limit_se", result.limit_se, case["se"][0]),
        ("limit_ci_lb", result.limit_ci_low, case["ci_lb"]),
        ("limit_ci_ub", result.limit_ci_high, case["ci_ub"]),
    ]:
        diff.scalar(quantity, ours, ref, tolerance(method, quantity))
    diff.check()


def test_egger_needs_ten_studies():
    es = effect_sizes("normand1999")
    fit = random_effects(es, "REML")
    with pytest.raises(ValueError, match=f"Egger's test needs at least {MIN_K_EGGER} studies; this analysis has 9"):
        egger(es, fit)


def test_funnel_data():
    es = effect_sizes("sparse_zero_cells")
    fit = random_effects(es, "DL")
    data = funnel_data(es, fit)
    np.testing.assert_array_equal(np.isnan(data.yi), ~es.estimable)
    np.testing.assert_allclose(data.se[es.estimable], np.sqrt(es.vi[es.estimable]))
    assert data.centre == fit.estimate and data.se_grid[0] == 0
    assert data.se_grid[-1] == pytest.approx(np.nanmax(data.se))
    assert data.low[0] == data.high[0] == fit.estimate  # the region closes at se = 0
    np.testing.assert_allclose(data.high - data.centre, 1.959963984540054 * data.se_grid)
    wider = funnel_data(es, fit, add_tau2=True)
    assert wider.high[0] - wider.centre == pytest.approx(1.959963984540054 * np.sqrt(fit.tau2))


def test_hksj_with_estimates_that_agree_exactly_is_refused_and_followups_skip_it():
    """The Knapp-Hartung scale factor is 0 (metafor: SE = 0, a zero-width interval); the ad hoc variant floors it
    at 1, and the follow-up analyses report such a refit as None, as metafor gives NA where a refit fails."""
    es = EffectSizes(
        np.array([0.2, 0.2, 0.2, 0.5]), np.array([0.1, 0.2, 0.3, 0.2]), np.ones(4, dtype=bool), np.zeros(4, dtype=bool)
    )
    subset = es.subset(np.array([True, True, True, False]))
    with pytest.raises(ValueError, match="hksj-adhoc"):
        random_effects(subset, "REML", "hksj")
    adhoc, wald = random_effects(subset, "REML", "hksj-adhoc"), random_effects(subset, "REML", "wald")
    assert adhoc.se == pytest.approx(wald.se) and adhoc.df == 2
    fits = leave_one_out(es, refit_for("REML", "knha"))
    assert fits[3] is None and all(f is not None for f in fits[:3])
    fits = cumulative(es, [0, 1, 2, 3], refit_for("REML", "knha"))
    assert fits[0] is not None and fits[1] is None and fits[2] is None and fits[3] is not None
