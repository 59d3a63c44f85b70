"""Effect-size measures, the Mantel-Haenszel risk ratio and risk difference, and Peto's odds ratio against
reference values pinned from metafor.

tests/reference/effects.json is written by tests/reference/effects_reference.R (rerun it with
`Rscript tests/reference/effects_reference.R` from the repository root); it holds each dataset's inputs, so these
tests need no R. Every escalc result and every model is rebuilt here from those inputs with our own functions,
and every stored quantity is compared. The log odds ratio, the mean difference and the common-effect, DL, REML
and PM models on them are in tests/stats/test_metafor_alignment.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from alignment import (
    CLOSED_FORM,
    P_VALUE,
    TAU2_ITERATIVE,
    Tol,
    as_float,
    compare_vector,
    load_reference,
    rma_quantities,
)

from builder.stats.effects import (
    PRE_POST_R_DEFAULT,
    PRE_POST_R_SENSITIVITY,
    EffectSizes,
    generic,
    log_ratio_of_means,
    log_risk_ratio,
    mean_difference,
    peto_log_odds_ratio,
    pre_post_mean_change,
    risk_difference,
    standardised_mean_difference,
)
from builder.stats.fit import Fit
from builder.stats.mh import mantel_haenszel_rd, mantel_haenszel_rr
from builder.stats.peto import peto_or
from builder.stats.random import random_effects

REFERENCE = load_reference("effects")
DATASETS = REFERENCE["datasets"]
ESCALC = REFERENCE["escalc"]
CASES = REFERENCE["cases"]


# ------------------------------------------------------------------------------------------ tolerances
#
# CLOSED_FORM, P_VALUE and TAU2_ITERATIVE, the same for every reference, are in tests/alignment.py.
#
# Sampling variances are positive and span 1e-7 (risk differences in BCG, with ~10,000 per arm) to 1e2: an
# absolute floor of 1e-12 would accept a relative error of 1e-5 in the smallest, so compare them relatively only.
VARIANCE = Tol(rtol=1e-10, atol=0.0)

# Everything else in a REML fit is a closed-form function of tau², so it inherits tau²'s error times its
# sensitivity d(quantity)/d(tau²), measured by perturbing tau² in our engine over these cases:
#   - estimates, SEs, CI and prediction bounds, t statistics: at most ~100 (t of generic_ratio, where tau² sits at
#     the boundary; bounds of the BCG risk difference ~30), so a 1e-9 error in tau² moves them by ~1e-7: allow
#     1e-6 absolute, plus 1e-8 relative for the large-scale mean changes (~10 points);
#   - I², H² and weights, in percent or as ratios: I² at the boundary (generic_ratio) ~5e3 and weights ~2e3
#     (the BCG risk difference, whose sampling variances ~1e-6 are far below tau² ~1e-3), i.e. up to ~5e-6; H² of
#     the BCG risk difference (~1700) ~1e6, i.e. ~1e-3 absolute or 7e-7 relative: allow 2e-5 absolute and 1e-5
#     relative.
# Observed disagreements are far smaller: tau² agrees to ~1e-13.
ITERATIVE = Tol(rtol=1e-8, atol=1e-6)
ITERATIVE_PERCENT = Tol(rtol=1e-5, atol=2e-5)
PERCENT_QUANTITIES = {"I2", "H2", "weights"}

# p-values of REML fits: log(p) moves by at most ~170 per unit of tau² over these cases (the BCG risk difference),
# so a 1e-9 error in tau² changes p by ~2e-7 relative; 1e-6 relative leaves a margin of 5.
P_VALUE_ITERATIVE = Tol(rtol=1e-6, atol=0.0)

TAU2_FREE = {"QE", "QEp"}  # Q is about the fixed-effect estimate: it does not depend on tau²

# --------------------------------------------------------------------------- the grid we claim to match

DATASET_TYPES = {
    "bcg": "binary",
    "sparse": "binary",
    "msc_survival": "binary",
    "normand1999": "continuous",
    "continuous_edge": "continuous",
    "prepost": "prepost",
    "generic_ratio": "generic",
    "generic_difference": "generic",
}
ESCALC_MEASURES = {
    "binary": ("RR", "RD", "PETO"),
    "continuous": ("MD", "SMD", "ROM"),
    "prepost": ("MC",),
    "generic": ("GEN",),
}
ESCALC_ADD = (0.0, 0.5)
MC_R = ("0", "0.5", "0.8", "study")
MH_CC = (0.0, 0.5)
PETO_ARGS = ("strict", "metafor_default")
RANDOM_MEASURES = {
    "bcg": ("RR", "RD"),
    "sparse": ("RR", "RD"),
    "msc_survival": ("RR", "RD"),
    "normand1999": ("SMD", "ROM"),
    "continuous_edge": ("SMD",),
    "prepost": ("MC",),
    "generic_ratio": ("GEN",),
    "generic_difference": ("GEN",),
}
RANDOM_ADD = 0.5  # correction of the per-study estimates pooled by the random-effects models
RANDOM_MC_R = "0.5"
DISPLAY_ADD = 0.5  # correction of the per-study estimates that give Q in the MH models


def expected_escalc_grid() -> set[tuple]:
    """(dataset, measure, add, r) for every escalc result the engine claims to reproduce."""
    grid = set()
    for dataset, kind in DATASET_TYPES.items():
        for measure in ESCALC_MEASURES[kind]:
            if kind == "binary":
                grid.update((dataset, measure, add, None) for add in ESCALC_ADD)
            elif kind == "prepost":
                grid.update((dataset, measure, None, r) for r in MC_R)
            else:
                grid.add((dataset, measure, None, None))
    return grid


def expected_model_grid() -> set[tuple]:
    """(dataset, model, measure, mh_cc, peto_args) for every model the engine claims to reproduce."""
    grid = set()
    for dataset, kind in DATASET_TYPES.items():
        if kind == "binary":
            grid.update((dataset, "mh", m, cc, None) for m in ("RR", "RD") for cc in MH_CC)
            grid.update((dataset, "peto", "PETO", None, args) for args in PETO_ARGS)
        grid.update((dataset, "random", m, None, None) for m in RANDOM_MEASURES[dataset])
    return grid


def escalc_key(e: dict) -> tuple:
    return (e["dataset"], e["measure"], e["add"], e["r"])


def case_key(case: dict) -> tuple:
    return (case["dataset"], case["model"], case["measure"], case["mh_cc"], case["peto_args"])


# ------------------------------------------------------------------------------------------- builders


def inputs(dataset: str) -> dict:
    return DATASETS[dataset]["inputs"]


def correlations(x: dict, r: str) -> np.ndarray:
    return as_float(x["ri"]) if r == "study" else np.full(len(x["n"]), float(r))


def effect_sizes(dataset: str, measure: str, add: float | None = None, r: str | None = None) -> EffectSizes:
    d, x = DATASETS[dataset], inputs(dataset)
    if d["type"] == "binary":
        build = {"RR": log_risk_ratio, "RD": risk_difference, "PETO": peto_log_odds_ratio}[measure]
        return build(x["ai"], x["n1i"], x["ci"], x["n2i"], add=add)
    if d["type"] == "continuous":
        build = {"MD": mean_difference, "SMD": standardised_mean_difference, "ROM": log_ratio_of_means}[measure]
        return build(x["m1i"], x["sd1i"], x["n1i"], x["m2i"], x["sd2i"], x["n2i"])
    if d["type"] == "prepost":
        return pre_post_mean_change(x["m_post"], x["sd_post"], x["m_pre"], x["sd_pre"], x["n"], correlations(x, r))
    return generic(x["estimate"], se=x["se"], ci_low=x["ci_low"], ci_high=x["ci_high"], log=d["log"], level=d["level"])


def case_effect_sizes(case: dict) -> EffectSizes:
    """The per-study estimates metafor reports with the fit (yi.f, vi.f)."""
    kind = DATASETS[case["dataset"]]["type"]
    if kind == "binary":
        return effect_sizes(case["dataset"], case["measure"], add=case["display_add"])
    return effect_sizes(case["dataset"], case["measure"], r=case.get("r"))


def fit_case(case: dict) -> Fit:
    x = inputs(case["dataset"])
    cells = tuple(x.get(k) for k in ("ai", "n1i", "ci", "n2i"))
    if case["model"] == "mh":
        mh = {"RR": mantel_haenszel_rr, "RD": mantel_haenszel_rd}[case["measure"]]
        display = effect_sizes(case["dataset"], case["measure"], add=DISPLAY_ADD)
        return mh(*cells, display=display, add=case["mh_cc"])
    if case["model"] == "peto":
        return peto_or(*cells)
    return random_effects(case_effect_sizes(case), tau2_method="REML", ci_method="hksj")


def tolerance(case: dict, quantity: str) -> Tol:
    p_value = quantity in {"pval", "QEp"}
    if case["model"] == "random" and quantity not in TAU2_FREE:
        if quantity == "tau2":
            return TAU2_ITERATIVE
        if quantity in PERCENT_QUANTITIES:
            return ITERATIVE_PERCENT
        return P_VALUE_ITERATIVE if p_value else ITERATIVE
    return P_VALUE if p_value else CLOSED_FORM


def zero_variance_in_metafor(vi_ref: np.ndarray) -> np.ndarray:
    """metafor keeps a study with vi = 0 (RD 0% vs 100% uncorrected, SDs of 0, r = 1); we flag it not estimable."""
    return np.nan_to_num(vi_ref, nan=1.0) == 0


def compare_effect_sizes(es: EffectSizes, yi_ref: np.ndarray, vi_ref: np.ndarray) -> list[str]:
    """Compare yi/vi, applying the one documented difference (vi = 0 in metafor: not estimable here)."""
    zero_var = zero_variance_in_metafor(vi_ref)
    yi_ref, vi_ref = yi_ref.copy(), vi_ref.copy()
    yi_ref[zero_var] = vi_ref[zero_var] = np.nan
    yi_ref[np.isnan(vi_ref)] = np.nan  # metafor keeps a yi without a variance (a generic estimate alone)
    problems = []
    if not np.array_equal(es.estimable, ~np.isnan(yi_ref) & ~np.isnan(vi_ref)):
        problems.append(f"estimable: ours {es.estimable.tolist()}, metafor {(~np.isnan(vi_ref)).tolist()}")
    # mean_difference (older, in tests/stats/test_metafor_alignment.py) keeps yi/vi of a study it flags not estimable,
    # so compare values through the flags; test_not_estimable_is_nan checks the NaN convention of the others.
    yi, vi = (np.where(es.estimable, x, np.nan) for x in (es.yi, es.vi))
    return problems + compare_vector("yi", yi, yi_ref, CLOSED_FORM) + compare_vector("vi", vi, vi_ref, VARIANCE)


# ------------------------------------------------------------------------------------------------ tests


def test_reference_was_generated_as_the_tolerances_assume():
    generator, settings = REFERENCE["generator"], REFERENCE["settings"]
    assert generator["metafor"] and generator["R"]
    assert settings["reml_control"]["threshold"] <= 1e-12  # TAU2_ITERATIVE depends on it
    assert settings["escalc_binary"] == {"add": list(ESCALC_ADD), "to": "only0", "drop00": True}
    assert settings["escalc_continuous"] == {"vtype": "LS"}
    assert settings["rma"]["method"] == "REML" and settings["rma"]["test"] == "knha"
    assert settings["rma"]["add"] == RANDOM_ADD and settings["rma"]["drop00"] is True
    assert settings["rma"]["mc_r"] == RANDOM_MC_R
    assert settings["level"] == 95


def test_reference_grid_is_complete():
    """An escalc result or a model silently dropped from (or duplicated in) the R script fails here."""
    assert set(DATASETS) == set(DATASET_TYPES)
    for name, kind in DATASET_TYPES.items():
        assert DATASETS[name]["type"] == kind
    for entries, key, want in ((ESCALC, escalc_key, expected_escalc_grid()), (CASES, case_key, expected_model_grid())):
        keys = [key(e) for e in entries]
        assert len(keys) == len(set(keys)), "duplicate entries in the reference"
        names = [e["name"] for e in entries]
        assert len(names) == len(set(names)), "duplicate names in the reference"
        got = set(keys)
        assert not want - got, f"missing from the reference: {sorted(want - got, key=str)}"
        assert not got - want, f"in the reference but not claimed here: {sorted(got - want, key=str)}"


def test_reference_exercises_the_edge_cases():
    """The datasets were designed to contain these; a change to the R script that loses one fails here."""
    x = inputs("sparse")
    a, n1, c, n2 = (np.array(x[k], dtype=float) for k in ("ai", "n1i", "ci", "n2i"))
    assert np.any((a == 0) & (c == 0)) and np.any((a == n1) & (c == n2))  # double zero, double all
    assert np.any((a == 0) & (c == n2)) or np.any((a == n1) & (c == 0))  # 0% vs 100%
    assert np.any((a == 0) & (c > 0)) and np.any((c == 0) & (a > 0))  # single zeros in each arm
    metafor_zero_variance = [e["name"] for e in ESCALC if np.any(zero_variance_in_metafor(as_float(e["vi"])))]
    assert {"sparse/RD/add0", "continuous_edge/MD", "continuous_edge/ROM", "prepost/MC/rstudy"} <= set(
        metafor_zero_variance
    )


@pytest.mark.parametrize("entry", ESCALC, ids=[e["name"] for e in ESCALC])
def test_effect_sizes_match_escalc(entry):
    es = effect_sizes(entry["dataset"], entry["measure"], add=entry["add"], r=entry["r"])
    problems = compare_effect_sizes(es, as_float(entry["yi"]), as_float(entry["vi"]))
    assert not problems, f"{entry['name']}:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "entry", [e for e in ESCALC if e["measure"] != "MD"], ids=[e["name"] for e in ESCALC if e["measure"] != "MD"]
)
def test_not_estimable_is_nan(entry):
    es = effect_sizes(entry["dataset"], entry["measure"], add=entry["add"], r=entry["r"])
    assert np.array_equal(es.estimable, np.isfinite(es.yi)) and np.array_equal(es.estimable, np.isfinite(es.vi))
    assert np.all(es.vi[es.estimable] > 0)
    if entry["measure"] in {"RR", "RD", "PETO"}:
        assert not np.any(es.corrected & ~es.estimable)  # drop00 before the correction, as metafor
        if entry["add"] == 0:
            assert not es.corrected.any()
    else:
        assert not es.corrected.any()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_fit_matches_metafor(case):
    fit = fit_case(case)
    problems: list[str] = []
    weights_ref = as_float(case["weights"])
    k_ref = case["k"]

    if case["peto_args"] == "metafor_default":
        # rma.peto's defaults keep the studies without events or without non-events (V = 0) in k with weight 0%;
        # we leave them out (NaN weight). Everything else is the same.
        zero_weight = weights_ref == 0
        k_ref -= int(zero_weight.sum())
        weights_ref[zero_weight] = np.nan
    assert fit.k == k_ref, "number of studies in the model"
    if case["model"] == "random":
        assert fit.df == case["ddf"] and fit.ci_method == "hksj"
    else:
        assert fit.df is None and fit.model == "fixed"
        assert fit.method == {"mh": "MH", "peto": "Peto"}[case["model"]]

    pairs = rma_quantities(fit)
    if case["model"] == "random":
        pairs.update(tau2=fit.tau2, pi_lb=fit.pi_low, pi_ub=fit.pi_high)
        assert fit.i2_basis == "tau2"
    else:
        # metafor reports tau² = 0 for a common-effect model; ours has no tau² and no prediction interval.
        assert case["tau2"] == 0 and fit.tau2 is None
        assert fit.pi_low is None and fit.pi_high is None
        assert fit.i2_basis == "Q"
    for quantity, ours in pairs.items():
        ref = case[quantity]
        assert ref is not None and ours is not None, quantity
        if not tolerance(case, quantity).ok(ours, ref):
            problems.append(f"{quantity}: ours {ours!r}, metafor {ref!r}, diff {ours - ref:.3e}")

    problems += compare_vector("weights", fit.weights, weights_ref, tolerance(case, "weights"))
    es = (
        peto_log_odds_ratio(*(inputs(case["dataset"])[k] for k in ("ai", "n1i", "ci", "n2i")), add=case["display_add"])
        if case["model"] == "peto"
        else case_effect_sizes(case)
    )
    problems += compare_effect_sizes(es, as_float(case["yi"]), as_float(case["vi"]))
    assert not problems, f"{case['name']}:\n" + "\n".join(problems)


# ------------------------------------------------------------- documented behaviour that metafor does not pin


def test_reference_uses_the_analysis_layers_pre_post_correlations():
    assert float(RANDOM_MC_R) == PRE_POST_R_DEFAULT
    assert {float(r) for r in MC_R if r != "study"} == {PRE_POST_R_DEFAULT, *PRE_POST_R_SENSITIVITY}


def test_generic_conventions():
    # log=True: ratios are logged, se is the SE of the log ratio and wins over the interval
    es = generic(
        [2.0, 2.0, None, -1.0, 0.5],
        se=[0.3, None, None, 0.2, None],
        ci_low=[1.0, 1.0, 1.0, 0.5, None],
        ci_high=[4.0, 4.0, 4.0, 2.0, None],
        log=True,
    )
    z = 1.959963984540054
    np.testing.assert_allclose(es.yi[:3], [math.log(2), math.log(2), math.log(2)], rtol=1e-15)
    np.testing.assert_allclose(
        es.vi[:3], [0.09, (math.log(4) / (2 * z)) ** 2, (math.log(4) / (2 * z)) ** 2], rtol=1e-12
    )
    assert es.estimable.tolist() == [True, True, True, False, False]  # a negative ratio; nothing to go on
    assert np.isnan(es.yi[3]) and np.isnan(es.vi[4]) and not es.corrected.any()
    # level: a 90% interval is narrower for the same SE
    es90 = generic([0.0], ci_low=[-1.0], ci_high=[1.0], level=0.90)
    assert es90.vi[0] == pytest.approx((1 / 1.6448536269514722) ** 2, rel=1e-12)
    # an interval the wrong way round, or a zero SE, is not estimable
    assert not generic([0.0, 0.0], se=[0.0, None], ci_low=[None, 1.0], ci_high=[None, -1.0]).estimable.any()


def test_peto_display_must_flag_the_same_studies():
    x = inputs("sparse")
    cells = (x["ai"], x["n1i"], x["ci"], x["n2i"])
    with_correction = log_risk_ratio(*cells, add=0.5)  # the same studies estimable: accepted
    assert peto_or(*cells, display=with_correction).estimate == peto_or(*cells).estimate
    with pytest.raises(ValueError, match="display"):
        peto_or(*cells, display=log_risk_ratio(*cells, add=0.0))  # single-zero studies not estimable


def test_not_estimable_pooled_results_raise():
    none = ([0, 5], [10, 5], [0, 5], [10, 5])  # a double-zero and a double-all study
    display = log_risk_ratio(*none)
    for pool in (mantel_haenszel_rr, mantel_haenszel_rd):
        with pytest.raises(ValueError):
            pool(*none, display=display)
    with pytest.raises(ValueError):
        peto_or(*none)
    no_events_treated = ([0, 0], [10, 12], [3, 4], [10, 12])  # MH RR: no events in one group anywhere
    with pytest.raises(ValueError, match="risk ratio"):
        mantel_haenszel_rr(*no_events_treated, display=log_risk_ratio(*no_events_treated))
    everyone_differs = ([0, 0], [10, 12], [10, 12], [10, 12])  # 0% vs 100% everywhere: MH RD variance 0
    with pytest.raises(ValueError, match="risk difference"):
        mantel_haenszel_rd(*everyone_differs, display=risk_difference(*everyone_differs))
