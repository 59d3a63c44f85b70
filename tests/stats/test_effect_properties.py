"""Properties of the effect sizes and models that must hold for any data, checked on generated datasets.

Hypothesis runs derandomized (the same examples on every run) with a modest number of examples, so the file is
deterministic and takes a few seconds; tests/stats/test_effects_alignment.py pins the values against metafor.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st

from builder.stats.effects import (
    EffectSizes,
    log_odds_ratio,
    log_ratio_of_means,
    log_risk_ratio,
    mean_difference,
    peto_log_odds_ratio,
    risk_difference,
    standardised_mean_difference,
)
from builder.stats.fit import Fit
from builder.stats.fixed import fixed_iv
from builder.stats.mh import mantel_haenszel_or, mantel_haenszel_rd, mantel_haenszel_rr
from builder.stats.peto import peto_or
from builder.stats.random import random_effects

PROPERTY_SETTINGS = settings(
    derandomize=True, max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# Closed-form results (effect sizes, common-effect, DL, MH, Peto) recomputed from reordered, rescaled or swapped
# data differ only by floating-point rounding in sums and products: ~1e-15 relative, far inside 1e-9.
CLOSED = dict(rel=1e-9, abs=1e-12)
# REML stops when its step is below 1e-12 in absolute terms, so the same data in another order or scale can stop
# one iteration apart: tau² agrees to ~1e-12 and what follows from it (sensitivities up to ~1e3 in percent) to
# ~1e-9; 1e-7 relative and 1e-8 absolute leave a wide margin while catching any real dependence.
ITERATIVE = dict(rel=1e-7, abs=1e-8)

# ------------------------------------------------------------------------------------------- strategies


@st.composite
def binary_studies(draw, min_k=2, max_k=8):
    """Per-study (ai, n1i, ci, n2i): group sizes 1-60, events anywhere in [0, n], zeros and 100% included."""
    k = draw(st.integers(min_k, max_k))
    n1 = draw(st.lists(st.integers(1, 60), min_size=k, max_size=k))
    n2 = draw(st.lists(st.integers(1, 60), min_size=k, max_size=k))
    a = [draw(st.integers(0, n)) for n in n1]
    c = [draw(st.integers(0, n)) for n in n2]
    return tuple(np.array(x, dtype=float) for x in (a, n1, c, n2))


@st.composite
def continuous_studies(draw, min_k=2, max_k=8):
    """Per-study (m1i, sd1i, n1i, m2i, sd2i, n2i) with means in [-100, 100], sd > 0 and n >= 2."""
    k = draw(st.integers(min_k, max_k))

    def column(strategy):
        return np.array(draw(st.lists(strategy, min_size=k, max_size=k)), dtype=float)

    # means on a grid of 0.01, as reported: arbitrary floats add only subnormal-underflow artefacts (a difference of
    # 1e-308 whose square is 0), which say nothing about the statistics
    mean = st.integers(-10_000, 10_000).map(lambda x: x / 100)
    sd, n = st.floats(0.1, 50), st.integers(2, 80)
    return column(mean), column(sd), column(n), column(mean), column(sd), column(n)


# ---------------------------------------------------------------------------------------------- helpers

BINARY_MEASURES = {
    "log OR": log_odds_ratio,
    "log RR": log_risk_ratio,
    "RD": risk_difference,
    "Peto log OR": peto_log_odds_ratio,
}
POOLED = {
    "fixed": lambda es: fixed_iv(es),
    "DL": lambda es: random_effects(es, "DL"),
    "REML": lambda es: random_effects(es, "REML"),
    "REML-HKSJ": lambda es: random_effects(es, "REML", "hksj"),
}
MH = {
    "OR": (mantel_haenszel_or, log_odds_ratio),
    "RR": (mantel_haenszel_rr, log_risk_ratio),
    "RD": (mantel_haenszel_rd, risk_difference),
}


def tolerance(model: str) -> dict:
    return ITERATIVE if model.startswith("REML") else CLOSED


def fit_or_none(build, *args, **kwargs) -> Fit | None:
    """The fit, or None when the engine says the data hold nothing to pool (ValueError)."""
    try:
        return build(*args, **kwargs)
    except ValueError:
        return None


def mh_fit(measure: str, cells, add: float) -> Fit | None:
    mh, display = MH[measure]
    return fit_or_none(mh, *cells, display=display(*cells), add=add)


def assert_finite(fit: Fit) -> None:
    """No NaN or infinity anywhere in a fit: every number is finite or deliberately None, and the weights are
    finite for the studies in the model (NaN only for those left out) and add up to 100%."""
    for field in (
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "statistic",
        "p",
        "tau2",
        "q",
        "q_p",
        "i2",
        "h2",
        "pi_low",
        "pi_high",
    ):
        value = getattr(fit, field)
        assert value is None or math.isfinite(value), f"{field} = {value}"
    assert fit.se > 0 and fit.ci_low <= fit.estimate <= fit.ci_high and 0 <= fit.p <= 1
    included = ~np.isnan(fit.weights)
    assert included.sum() == fit.k and np.all(np.isfinite(fit.weights[included]))
    assert fit.weights[included].sum() == pytest.approx(100, rel=1e-12)


def assert_same_fit(a: Fit, b: Fit, tol: dict, order=None) -> None:
    """`b` is `a` refitted on reordered studies (b's study i is a's study order[i])."""
    for field in ("estimate", "se", "ci_low", "ci_high", "statistic", "p", "tau2", "q", "i2", "h2"):
        x, y = getattr(a, field), getattr(b, field)
        assert (x is None) == (y is None), field
        if x is not None:
            assert y == pytest.approx(x, **tol), field
    wa = a.weights if order is None else a.weights[order]
    np.testing.assert_allclose(b.weights, wa, rtol=tol["rel"], atol=tol["abs"] * 100)


def reorder(es: EffectSizes, order) -> EffectSizes:
    return es.subset(np.asarray(order))


# ------------------------------------------------------------------------------------------------ tests


@PROPERTY_SETTINGS
@given(data=binary_studies(), seed=st.randoms(use_true_random=False))
def test_results_do_not_depend_on_study_order(data, seed):
    order = list(range(len(data[0])))
    seed.shuffle(order)
    cells = data
    shuffled = tuple(x[order] for x in cells)
    es = log_odds_ratio(*cells)
    assume(es.estimable.sum() >= 1)
    for model, pool in POOLED.items():
        if model == "REML-HKSJ":
            continue
        assert_same_fit(pool(es), pool(reorder(es, order)), tolerance(model), order)
    a, b = mh_fit("OR", cells, 0.5), mh_fit("OR", shuffled, 0.5)
    assert (a is None) == (b is None)
    if a is not None:
        assert_same_fit(a, b, CLOSED, order)


def scaled(data, c):
    m1, sd1, n1, m2, sd2, n2 = data
    return m1 * c, sd1 * c, n1, m2 * c, sd2 * c, n2


def assert_scales(data, c, models) -> None:
    md, md_c = mean_difference(*data), mean_difference(*scaled(data, c))
    np.testing.assert_allclose(md_c.yi, c * md.yi, rtol=1e-12, atol=1e-12 * c)
    np.testing.assert_allclose(md_c.vi, c**2 * md.vi, rtol=1e-12)
    for model in models:
        fit, fit_c = POOLED[model](md), POOLED[model](md_c)
        tol = tolerance(model)
        for field in ("estimate", "se", "ci_low", "ci_high"):
            assert getattr(fit_c, field) == pytest.approx(
                c * getattr(fit, field), rel=tol["rel"], abs=tol["abs"] * c
            ), (model, field)
        assert fit_c.p == pytest.approx(fit.p, **tol)


@PROPERTY_SETTINGS
@given(data=continuous_studies(), c=st.floats(0.01, 100))
def test_scaling_means_and_sds_scales_md_and_leaves_smd_unchanged(data, c):
    assert_scales(data, c, ("fixed", "DL"))
    smd, smd_c = standardised_mean_difference(*data), standardised_mean_difference(*scaled(data, c))
    np.testing.assert_array_equal(smd_c.estimable, smd.estimable)
    np.testing.assert_allclose(smd_c.yi, smd.yi, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(smd_c.vi, smd.vi, rtol=1e-12)


# REML on rescaled data. Both examples were found by this test and each has made a version of the REML Fisher
# scoring in tau2.py raise "did not converge": the first (tau² ~1e5) defeats a purely absolute step threshold of
# 1e-12, below the spacing of doubles at that size; in the second (k = 2, tau² ~160; metafor 159.711942857143)
# the start is already the solution and the steps are rounding noise of 1e-12 to 4e-12 that never go below the
# threshold. Shrinking is switched off so that a failure costs seconds, not minutes of 1000-iteration fits.
@settings(PROPERTY_SETTINGS, phases=[Phase.explicit, Phase.generate])
@given(data=continuous_studies(), c=st.floats(0.01, 100))
@example(
    data=tuple(np.array(x) for x in ([0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 11.21], [3.0, 2.0], [3.0, 54.0])), c=42.0
)
@example(
    data=tuple(np.array(x) for x in ([-24.15, -0.01], [1.0, 27.0], [2.0, 7.0], [29.78, 65.8], [1.0, 1.0], [2.0, 2.0])),
    c=3.0,
)
def test_scaling_means_and_sds_scales_reml_md(data, c):
    assert_scales(data, c, ("REML",))


@PROPERTY_SETTINGS
@given(data=binary_studies())
def test_swapping_arms_negates_binary_effects_and_pooled_estimates(data):
    ai, n1i, ci, n2i = data
    swapped = (ci, n2i, ai, n1i)
    for name, measure in BINARY_MEASURES.items():
        es, es_swapped = measure(*data), measure(*swapped)
        np.testing.assert_array_equal(es_swapped.estimable, es.estimable, err_msg=name)
        np.testing.assert_array_equal(es_swapped.corrected, es.corrected, err_msg=name)
        np.testing.assert_allclose(es_swapped.yi, -es.yi, rtol=1e-12, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(es_swapped.vi, es.vi, rtol=1e-12, err_msg=name)
        if not es.estimable.any():
            continue
        for model, pool in POOLED.items():
            if model == "REML-HKSJ":
                continue
            fit, fit_swapped = pool(es), pool(es_swapped)
            assert fit_swapped.estimate == pytest.approx(-fit.estimate, **tolerance(model)), (name, model)
            assert fit_swapped.se == pytest.approx(fit.se, **tolerance(model)), (name, model)
    for measure in MH:
        for add in (0.0, 0.5):
            fit, fit_swapped = mh_fit(measure, data, add), mh_fit(measure, swapped, add)
            assert (fit is None) == (fit_swapped is None), measure
            if fit is not None:
                assert fit_swapped.estimate == pytest.approx(-fit.estimate, **CLOSED), measure
                assert fit_swapped.se == pytest.approx(fit.se, **CLOSED), measure
                assert fit_swapped.q == pytest.approx(fit.q, **CLOSED) if fit.q is not None else True
    fit, fit_swapped = fit_or_none(peto_or, *data), fit_or_none(peto_or, *swapped)
    assert (fit is None) == (fit_swapped is None)
    if fit is not None:
        assert fit_swapped.estimate == pytest.approx(-fit.estimate, **CLOSED)
        assert fit_swapped.se == pytest.approx(fit.se, **CLOSED)


def ratio_scale(data):
    """The same studies with means on a ratio scale (positive, away from 0), for the ratio of means."""
    m1, sd1, n1, m2, sd2, n2 = data
    return np.abs(m1) + 0.5, sd1, n1, np.abs(m2) + 0.5, sd2, n2


CONTINUOUS_MEASURES = {
    "MD": (mean_difference, lambda d: d),
    "SMD": (standardised_mean_difference, lambda d: d),
    "log ROM": (log_ratio_of_means, ratio_scale),
}


def swap_continuous(data):
    m1, sd1, n1, m2, sd2, n2 = data
    return m2, sd2, n2, m1, sd1, n1


@PROPERTY_SETTINGS
@given(data=continuous_studies())
def test_swapping_arms_negates_continuous_effects_and_pooled_estimates(data):
    for name, (measure, prepare) in CONTINUOUS_MEASURES.items():
        es, es_swapped = measure(*prepare(data)), measure(*swap_continuous(prepare(data)))
        np.testing.assert_array_equal(es_swapped.estimable, es.estimable, err_msg=name)
        ok = es.estimable
        np.testing.assert_allclose(es_swapped.yi[ok], -es.yi[ok], rtol=1e-12, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(es_swapped.vi[ok], es.vi[ok], rtol=1e-12, err_msg=name)
        if not ok.any():
            continue
        for model, pool in POOLED.items():
            if model == "REML-HKSJ" and not varies(es):
                continue
            fit, fit_swapped = pool(es), pool(es_swapped)
            assert fit_swapped.estimate == pytest.approx(-fit.estimate, **tolerance(model)), (name, model)


def varies(es: EffectSizes) -> bool:
    """Whether the estimable studies' estimates are not all equal: HKSJ cannot scale a zero residual sum of squares
    (see test_hksj_with_identical_estimates), so the HKSJ fits of generated data skip that case."""
    return bool(np.ptp(es.yi[es.estimable]) > 0)


def assert_pooled_fits_finite(es: EffectSizes) -> None:
    for model, pool in POOLED.items():
        if not es.estimable.any():
            with pytest.raises(ValueError):
                pool(es)
        elif model != "REML-HKSJ" or varies(es):
            assert_finite(pool(es))


@PROPERTY_SETTINGS
@given(data=binary_studies(min_k=1))
def test_binary_fits_are_finite(data):
    for name, measure in BINARY_MEASURES.items():
        es = measure(*data)
        assert not np.any(np.isinf(es.yi)) and not np.any(np.isinf(es.vi)), name
        assert_pooled_fits_finite(es)
    for measure in MH:
        for add in (0.0, 0.5):
            fit = mh_fit(measure, data, add)
            if fit is not None:
                assert_finite(fit)
    fit = fit_or_none(peto_or, *data)
    if fit is not None:
        assert_finite(fit)


@PROPERTY_SETTINGS
@given(data=continuous_studies(min_k=1))
def test_continuous_fits_are_finite(data):
    for measure, prepare in CONTINUOUS_MEASURES.values():
        assert_pooled_fits_finite(measure(*prepare(data)))


def test_hksj_with_identical_estimates():
    """Under HKSJ, identical estimates make the scale factor 0 and the SE 0 (metafor returns se = 0 and z = NaN or
    Inf): the engine must refuse (ValueError) or return finite numbers, never divide by zero."""
    es = EffectSizes(
        np.array([0.2, 0.2, 0.2]), np.array([0.1, 0.2, 0.3]), np.ones(3, dtype=bool), np.zeros(3, dtype=bool)
    )
    try:
        fit = random_effects(es, "REML", "hksj")
    except ValueError:
        return
    assert_finite(fit)
