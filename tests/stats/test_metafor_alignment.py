"""The statistics engine (builder/stats) against reference values pinned from metafor.

tests/reference/metafor.json is written by tests/reference/metafor_reference.R (rerun it with `Rscript tests/reference/metafor_reference.R`
from the repository root); it holds each dataset's inputs, so these tests need no R. Every case is rebuilt
here from those inputs with our own functions and every stored quantity is compared.
"""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest
from alignment import Tol, load_reference

from builder.stats import (
    EffectSizes,
    Fit,
    fixed_iv,
    log_odds_ratio,
    mantel_haenszel_or,
    mean_difference,
    random_effects,
)

REFERENCE = load_reference("metafor")
CASES = REFERENCE["cases"]


# ------------------------------------------------------------------------------------------ tolerances
#
# Closed-form quantities (escalc yi/vi; everything in the common-effect, DerSimonian-Laird and Mantel-Haenszel
# fits; Q and its p-value in every fit): the same formulas evaluated in a different order of floating-point
# operations, and the reference is stored with 15 significant digits (relative rounding below 5e-16).
# Agreement should be ~1e-14; 1e-10 relative leaves room for mild cancellation (e.g. in Q, in CI bounds near
# zero) but would catch any difference of formula, such as a wrong variance or a different df. The absolute
# floor is for quantities that are exactly zero (yi of a study with equal odds, a truncated I²).
CLOSED_FORM = Tol(rtol=1e-10, atol=1e-12)

# p-values of closed-form statistics: compared relatively only, because they reach 1e-28 here (Q of BCG)
# where any absolute tolerance would accept anything. scipy and R both evaluate normal, t and chi-squared
# tails to ~1e-14 relative; the relative error of a p-value is about |z| times the absolute error of z.
P_VALUE = Tol(rtol=1e-9, atol=0.0)

# tau² from the iterative estimators. The reference is converged far beyond metafor's defaults (REML: Fisher
# scoring until the change in tau² is below 1e-12, half steps; PM: uniroot with tol 1e-14, i.e. to machine
# precision), and our engine stops REML steps below 1e-12 and brackets PM to 1e-12 absolute / 4 ulp relative.
# A linearly converging iteration can still be a small multiple of its last step away from the limit (step
# size times r / (1 - r) for contraction ratio r), so allow 1e-9 absolute -- ratios up to 0.999 -- plus a
# relative term for the large tau² of normand1999 (~700), where 1e-12 is below double precision.
# This is 1000 times tighter than a comparison with metafor's default threshold (1e-5) would allow.
TAU2_ITERATIVE = Tol(rtol=1e-10, atol=1e-9)

# Everything else in a REML or PM fit is a closed-form function of tau², so it inherits tau²'s error times its
# sensitivity d(quantity)/d(tau²). Perturbing tau² in our engine, the largest sensitivity over these cases is
# ~110 (I² in percent on the sparse set; weights in percent ~30, prediction bounds ~20 where tau² is near 0),
# so a 1e-9 error in tau² moves them by at most ~1.1e-7: allow 1e-6 absolute (sensitivities up to 1000)
# and 1e-8 relative for large-scale quantities (normand1999, in days).
ITERATIVE = Tol(rtol=1e-8, atol=1e-6)

# p-values of REML/PM fits: the sensitivity of log(p) to tau² is at most ~20 over these cases, so a 1e-9 error
# in tau² changes p by ~2e-8 relative; 1e-6 relative leaves a margin of 50.
P_VALUE_ITERATIVE = Tol(rtol=1e-6, atol=0.0)

ITERATIVE_METHODS = {"REML", "PM"}
TAU2_FREE = {"QE", "QEp"}  # Q is about the fixed-effect (or MH) estimate: it does not depend on tau²

# --------------------------------------------------------------------------- the grid we claim to match

DATASETS = {
    "msc_survival_published": "binary",
    "msc_survival_as_analysed": "binary",
    "bcg": "binary",
    "sparse_zero_cells": "binary",
    "normand1999": "continuous",
    "homogeneous_md": "continuous",
}
TAU2_METHODS = ("DL", "REML", "PM")
TESTS = ("z", "knha")
MH_CONTINUITY_CORRECTIONS = (0.0, 0.5)
CI_METHOD = {"z": "wald", "knha": "hksj"}


def expected_grid() -> set[tuple]:
    """(dataset, model, method, test, mh_cc) for every model the engine claims to reproduce."""
    grid = set()
    for dataset, kind in DATASETS.items():
        grid.add((dataset, "fixed", "IV", "z", None))
        grid.update((dataset, "random", m, t, None) for m, t in product(TAU2_METHODS, TESTS))
        if kind == "binary":
            grid.update((dataset, "mh", "MH", "z", cc) for cc in MH_CONTINUITY_CORRECTIONS)
    return grid


def case_key(case: dict) -> tuple:
    return (case["dataset"], case["model"], case["method"], case["test"], case["mh_cc"])


# ------------------------------------------------------------------------------------------- builders


def as_float(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def effect_sizes(dataset: str) -> EffectSizes:
    d = REFERENCE["datasets"][dataset]
    x = d["inputs"]
    if d["type"] == "binary":
        return log_odds_ratio(x["ai"], x["n1i"], x["ci"], x["n2i"], add=0.5)
    return mean_difference(x["m1i"], x["sd1i"], x["n1i"], x["m2i"], x["sd2i"], x["n2i"])


def fit_case(case: dict) -> Fit:
    es = effect_sizes(case["dataset"])
    if case["model"] == "fixed":
        return fixed_iv(es)
    if case["model"] == "random":
        return random_effects(es, tau2_method=case["method"], ci_method=CI_METHOD[case["test"]])
    x = REFERENCE["datasets"][case["dataset"]]["inputs"]
    return mantel_haenszel_or(x["ai"], x["n1i"], x["ci"], x["n2i"], display=es, add=case["mh_cc"])


def tolerance(case: dict, quantity: str) -> Tol:
    p_value = quantity in {"pval", "QEp"}
    if case["method"] in ITERATIVE_METHODS and quantity not in TAU2_FREE:
        if quantity == "tau2":
            return TAU2_ITERATIVE
        return P_VALUE_ITERATIVE if p_value else ITERATIVE
    return P_VALUE if p_value else CLOSED_FORM


def compare_vector(name: str, actual: np.ndarray, expected: np.ndarray, tol: Tol) -> list[str]:
    if actual.shape != expected.shape:
        return [f"{name}: {len(actual)} values, reference has {len(expected)}"]
    problems = []
    for i, (a, e) in enumerate(zip(actual, expected)):
        if math.isnan(e) or math.isnan(a):
            if not (math.isnan(e) and math.isnan(a)):
                problems.append(f"{name}[{i}]: ours {a!r}, metafor {e!r} (estimable in one only)")
        elif not tol.ok(a, e):
            problems.append(f"{name}[{i}]: ours {a!r}, metafor {e!r}, diff {a - e:.3e}")
    return problems


# ------------------------------------------------------------------------------------------------ tests


def test_reference_was_generated_as_the_tolerances_assume():
    generator, settings = REFERENCE["generator"], REFERENCE["settings"]
    assert generator["metafor"] and generator["R"]
    assert settings["reml_control"]["threshold"] <= 1e-12  # TAU2_ITERATIVE depends on these
    assert settings["pm_control"]["tol"] <= 1e-14
    assert settings["escalc_OR"] == {"add": 0.5, "to": "only0", "drop00": True}
    assert settings["level"] == 95


def test_reference_grid_is_complete():
    """A case silently dropped from (or duplicated in) the R script fails here."""
    keys = [case_key(c) for c in CASES]
    assert len(keys) == len(set(keys)), "duplicate cases in the reference"
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names in the reference"
    assert set(REFERENCE["datasets"]) == set(DATASETS)
    for name, kind in DATASETS.items():
        assert REFERENCE["datasets"][name]["type"] == kind
    got, want = set(keys), expected_grid()
    assert not want - got, f"missing from the reference: {sorted(want - got, key=str)}"
    assert not got - want, f"in the reference but not claimed here: {sorted(got - want, key=str)}"


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_effect_sizes_match_escalc(dataset):
    es = effect_sizes(dataset)
    ref = REFERENCE["datasets"][dataset]["escalc"]
    yi, vi = as_float(ref["yi"]), as_float(ref["vi"])
    np.testing.assert_array_equal(es.estimable, ~np.isnan(yi), err_msg="estimable studies differ")
    problems = compare_vector("yi", es.yi, yi, CLOSED_FORM) + compare_vector("vi", es.vi, vi, CLOSED_FORM)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_fit_matches_metafor(case):
    fit = fit_case(case)
    es = effect_sizes(case["dataset"])
    fixed = case["model"] in {"fixed", "mh"}
    problems: list[str] = []

    assert fit.k == case["k"], "number of studies in the model"
    if case["test"] == "knha":
        assert fit.df == case["ddf"]
    else:
        assert fit.df is None

    pairs = {
        "estimate": fit.estimate,
        "se": fit.se,
        "ci_lb": fit.ci_low,
        "ci_ub": fit.ci_high,
        "zval": fit.statistic,
        "pval": fit.p,
        "QE": fit.q,
        "QEp": fit.q_p,
        "I2": fit.i2,
        "H2": fit.h2,
    }
    if fixed:
        # metafor reports tau² = 0 for a common-effect model; ours has no tau² and no prediction interval.
        assert case["tau2"] == 0 and fit.tau2 is None
        assert case["pi_lb"] is None and case["pi_ub"] is None
        assert fit.pi_low is None and fit.pi_high is None
        assert fit.i2_basis == "Q"
    else:
        pairs.update(tau2=fit.tau2, pi_lb=fit.pi_low, pi_ub=fit.pi_high)
        assert fit.i2_basis == "tau2"
    for quantity, ours in pairs.items():
        ref = case[quantity]
        assert ref is not None and ours is not None, quantity
        if not tolerance(case, quantity).ok(ours, ref):
            problems.append(f"{quantity}: ours {ours!r}, metafor {ref!r}, diff {ours - ref:.3e}")

    problems += compare_vector("weights", fit.weights, as_float(case["weights"]), tolerance(case, "weights"))
    problems += compare_vector("yi", es.yi, as_float(case["yi"]), CLOSED_FORM)
    problems += compare_vector("vi", es.vi, as_float(case["vi"]), CLOSED_FORM)
    assert not problems, f"{case['name']}:\n" + "\n".join(problems)
