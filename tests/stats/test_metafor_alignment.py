"""The statistics engine (builder/stats) against reference values pinned from metafor.

tests/reference/metafor.json is written by tests/reference/metafor_reference.R (rerun it with `Rscript tests/reference/metafor_reference.R`
from the repository root); it holds each dataset's inputs, so these tests need no R. Every case is rebuilt
here from those inputs with our own functions and every stored quantity is compared.
"""

from __future__ import annotations

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
    compare_vector,
    load_reference,
    model_effect_sizes,
    rma_quantities,
)

from builder.stats import (
    EffectSizes,
    Fit,
    fixed_iv,
    mantel_haenszel_or,
    random_effects,
)

REFERENCE = load_reference("metafor")
CASES = REFERENCE["cases"]


# ------------------------------------------------------------------------------------------ tolerances
#
# CLOSED_FORM, P_VALUE and TAU2_ITERATIVE, the same for every reference, are in tests/alignment.py.
#
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


def effect_sizes(dataset: str) -> EffectSizes:
    return model_effect_sizes(REFERENCE["datasets"][dataset])


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

    pairs = rma_quantities(fit)
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
