"""The fast paths of the random-effects engine give the numbers of the straightforward ones.

builder/stats/kernel.py sums over Python floats below SCALAR_MAX_K studies and over numpy arrays from there on;
ML and REML without moderators take safeguarded Newton steps, PM and the Q-profile limits Newton steps on Q.
Each is checked here against the other backend or the defining equation; so are the named formulas
random_effects calls and the records a Fit is made of. The metafor alignment tests pin the values themselves.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from builder.stats import kernel, tau2
from builder.stats.effects import EffectSizes
from builder.stats.fixed import fixed_iv
from builder.stats.random import random_effects

FIELDS = (
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
    "i2_q",
    "h2_q",
    "tau2_ci_low",
    "tau2_ci_high",
    "i2_ci_low",
    "i2_ci_high",
)


def simulated(k: int, seed: int, tau2_true: float = 0.1, centre: float = -0.5) -> EffectSizes:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.02, 0.5, k)
    yi = rng.normal(centre, np.sqrt(vi + tau2_true))
    return EffectSizes(yi, vi, np.ones(k, dtype=bool), np.zeros(k, dtype=bool))


def test_prepare_picks_the_backend_by_size():
    small, big = simulated(kernel.SCALAR_MAX_K - 1, 1), simulated(kernel.SCALAR_MAX_K, 1)
    assert type(kernel.prepare(small.yi, small.vi)) is kernel.Floats
    assert type(kernel.prepare(small.yi, small.vi).yi) is list
    assert type(kernel.prepare(big.yi, big.vi)) is kernel.Arrays
    assert isinstance(kernel.prepare(big.yi, big.vi).yi, np.ndarray)


@pytest.mark.parametrize("k", [1, 13, kernel.SCALAR_MAX_K - 1, kernel.SCALAR_MAX_K, 100])
@pytest.mark.parametrize("drop", [(), (0,), (0, 5, -1)])
def test_select_is_prepare_of_the_estimable_studies(k, drop):
    es = simulated(k, k)
    ok = np.ones(k, dtype=bool)
    ok[list(drop)[: k - 1]] = False
    got, expected = kernel.select(es.yi, es.vi, ok), kernel.prepare(es.yi[ok], es.vi[ok])
    assert type(got) is type(expected) and type(got.yi) is type(expected.yi) and type(got.vi) is type(expected.vi)
    assert got.k == expected.k == ok.sum()
    assert np.array_equal(got.yi, expected.yi) and np.array_equal(got.vi, expected.vi)
    ints = np.arange(k)  # converted to floats as prepare converts them
    got, expected = kernel.select(ints, ints + 1, ok), kernel.prepare(ints[ok], ints[ok] + 1)
    assert type(got.yi) is type(expected.yi) and type(got.yi[0]) is type(expected.yi[0])
    assert np.array_equal(got.yi, expected.yi) and np.array_equal(got.vi, expected.vi)


@pytest.mark.parametrize("k", [1, 13, 100])
def test_scaled_is_numpys_multiply(k):
    es = simulated(k, k)
    w = kernel.Floats(es.yi.tolist(), es.vi.tolist()).weights(0.07)
    for factor in (100 / sum(w), 1e-300, 3.0):
        expected = np.multiply(w, factor)
        for got in (kernel.Floats.scaled(w, factor), kernel.Arrays.scaled(np.array(w), factor)):
            assert got.dtype == expected.dtype and np.array_equal(got, expected)


@pytest.mark.parametrize("k", [2, 5, 13, 63])
@pytest.mark.parametrize("t", [0.0, 0.03, 2.5])
def test_both_backends_give_the_same_sums(k, t):
    # Far from zero, so that residuals taken from raw power sums would lose ~6 digits. The two backends' weighted
    # means differ in the last bits (~1e-13 at 1000); that moves the signed, cancelling sum(w² r) by the
    # difference times sum(w²), so that one is compared on that absolute scale; the rest to 1e-12 relative.
    es = simulated(k, k, centre=1000.0)
    floats, arrays = kernel.Floats(es.yi.tolist(), es.vi.tolist()), kernel.Arrays(es.yi, es.vi)
    a, b = floats.score_sums(t), arrays.score_sums(t)
    assert a[:6] == pytest.approx(b[:6], rel=1e-12)
    assert a[6] == pytest.approx(b[6], abs=1000 * 1e-14 * b[1])
    assert floats.q_sums(t) == pytest.approx(arrays.q_sums(t), rel=1e-12)
    (wa, *a), (wb, *b) = floats.at(t), arrays.at(t)
    assert a == pytest.approx(b, rel=1e-12) and wa == pytest.approx(wb.tolist(), rel=1e-15)
    assert floats.sum_log(t) == pytest.approx(arrays.sum_log(t), rel=1e-13)
    assert floats.mean_and_ss() == pytest.approx(arrays.mean_and_ss(), rel=1e-12)
    assert floats.total_vi() == pytest.approx(arrays.total_vi(), rel=1e-13)
    assert floats.square_sum(wa) == pytest.approx(arrays.square_sum(wb), rel=1e-13)


@pytest.mark.parametrize("k", [2, 13, 63, 200])
@pytest.mark.parametrize("t", [0.0, 1e-9, 0.03, 2.5])
def test_log_growth_is_the_difference_of_sums_of_logs(k, t):
    es = simulated(k, k)
    expected = float(np.sum(np.log(es.vi + t)) - np.sum(np.log(es.vi)))
    for studies in (kernel.Floats(es.yi.tolist(), es.vi.tolist()), kernel.Arrays(es.yi, es.vi)):
        assert studies.log_growth(t) == pytest.approx(expected, rel=1e-13, abs=1e-13)


def test_log_growth_falls_back_to_a_sum_when_the_product_overflows():
    vi = [1e-10] * 40  # 40 factors of about 1e10: a product of 1e400
    assert kernel.Floats([0.0] * 40, vi).log_growth(1.0) == pytest.approx(40 * math.log1p(1e10), rel=1e-14)


@pytest.mark.parametrize("method", sorted(tau2.ESTIMATORS))
@pytest.mark.parametrize("ci", ["wald", "hksj", "hksj-adhoc"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_fit_does_not_depend_on_the_backend(monkeypatch, method, ci, seed):
    es = simulated(30, seed, tau2_true=[0.0, 0.05, 0.5][seed - 1])
    scalar = random_effects(es, method, ci)
    monkeypatch.setattr(kernel, "SCALAR_MAX_K", 2)
    vector = random_effects(es, method, ci)
    for name in FIELDS:
        assert getattr(scalar, name) == pytest.approx(getattr(vector, name), rel=1e-9, abs=1e-11), name
    assert scalar.weights == pytest.approx(vector.weights, rel=1e-9)


def reml_score(yi, vi, t: float) -> float:
    """Derivative of the restricted log-likelihood in tau² (times 2), straight from its definition."""
    w = 1 / (vi + t)
    r = yi - np.sum(w * yi) / np.sum(w)
    return float(np.sum(w**2 * r**2) - (np.sum(w) - np.sum(w**2) / np.sum(w)))


@pytest.mark.parametrize("k", [3, 13, 40, 200])
@pytest.mark.parametrize("seed", range(1, 9))
def test_newton_reml_solves_the_reml_equation(k, seed):
    es = simulated(k, seed, tau2_true=0.02 * seed)
    t = tau2.reml(es.yi, es.vi)
    if t > 0:
        # the score at the estimate is zero up to the step tolerance times the information
        step = 1e-9
        slope = (reml_score(es.yi, es.vi, t + step) - reml_score(es.yi, es.vi, t - step)) / (2 * step)
        assert abs(reml_score(es.yi, es.vi, t)) <= 1e-10 * abs(slope) + 1e-12
    else:
        assert reml_score(es.yi, es.vi, 0.0) <= 0 or tau2._log_likelihood(
            0.0, kernel.prepare(es.yi, es.vi), None, None, True
        ) >= tau2._log_likelihood(1e-3, kernel.prepare(es.yi, es.vi), None, None, True)


@pytest.mark.parametrize("restricted", [True, False])
@pytest.mark.parametrize("k", [3, 13, 200])
@pytest.mark.parametrize("t", [0.0, 0.05, 0.7])
def test_ml_newton_step_is_newtons_method_on_the_fisher_step(restricted, k, t):
    # _ml_steps' Newton step is -phi / phi' with phi the Fisher-scoring step as a function of tau²; phi' is
    # taken here by central differences, which are accurate to ~1e-7 relative at this step size
    es = simulated(k, k + 1, tau2_true=0.2)
    studies = kernel.prepare(es.yi, es.vi)
    h = 1e-5 * max(t, 0.1)
    phi = lambda x: tau2._ml_steps(studies, x, restricted)[0]  # noqa: E731
    slope = (phi(t + h) - phi(t - h)) / (2 * h)
    fisher, newton, _ = tau2._ml_steps(studies, t, restricted)
    if slope < 0:
        assert newton == pytest.approx(-fisher / slope, rel=1e-6)
    else:
        assert newton is None


@pytest.mark.parametrize("k", [3, 13, 200])
@pytest.mark.parametrize("seed", range(1, 6))
def test_paule_mandel_and_q_profile_roots_solve_q_equal_target(k, seed):
    es = simulated(k, seed, tau2_true=0.1 * seed)
    studies = kernel.prepare(es.yi, es.vi)
    for target in (k - 1.0, 0.5 * (k - 1), 1.5 * (k - 1)):
        t = tau2.q_root(studies, target)
        if t > 0:
            assert tau2.generalised_q(t, es.yi, es.vi) == pytest.approx(target, rel=1e-11)
        else:
            assert tau2.generalised_q(0.0, es.yi, es.vi) <= target


def test_the_flat_names_read_the_records():
    es = simulated(13, 4)
    fit = random_effects(es, "REML", "hksj")
    assert (fit.estimate, fit.se, fit.ci_low, fit.ci_high, fit.statistic, fit.df, fit.p) == (
        fit.pooled.estimate,
        fit.pooled.se,
        fit.pooled.ci_low,
        fit.pooled.ci_high,
        fit.pooled.statistic,
        fit.pooled.df,
        fit.pooled.p,
    )
    assert fit.df == 12 and fit.ci_low < fit.estimate < fit.ci_high
    h = fit.heterogeneity
    assert (fit.tau2, fit.q, fit.i2, fit.h2, fit.i2_q, fit.tau2_ci_low, fit.h2_ci_high) == (
        h.tau2,
        h.q,
        h.i2,
        h.h2,
        h.i2_q,
        h.tau2_ci_low,
        h.h2_ci_high,
    )
    assert fit.tau2 > 0 and fit.i2_basis == "tau2" and fit.tau2_ci_low <= fit.tau2 <= fit.tau2_ci_high
    assert (fit.pi_low, fit.pi_high) == (fit.prediction.low, fit.prediction.high)
    assert fit.pi_low < fit.ci_low and fit.pi_high > fit.ci_high
    with pytest.raises(AttributeError):
        fit.estimate = 0.0  # type: ignore[misc]  # a view: set the record's field instead
    again = pickle.loads(pickle.dumps(fit))  # slots dataclasses pickle (the build's cache keeps plain data)
    assert again.pooled == fit.pooled and again.heterogeneity == fit.heterogeneity


@pytest.mark.parametrize("k", [1, 2, 13, 70])
def test_every_path_fills_the_records_it_should(k):
    es = simulated(k, 5)
    fixed = fixed_iv(es)
    assert fixed.tau2 is None and fixed.prediction is None
    assert (fixed.q is None) == (k == 1) and (fixed.i2_basis == "Q") == (k > 1)
    if k == 1:
        one = random_effects(es, "REML", "hksj")
        assert one.tau2 == 0.0 and one.q is None and one.ci_method == "wald" and one.note
        return
    for method in sorted(tau2.ESTIMATORS):
        for interval in (True, False):
            fit = random_effects(es, method, "hksj", tau2_interval=interval)
            assert fit.i2_basis == "tau2" and fit.q_df == k - 1 and fit.tau2 is not None
            assert (fit.tau2_ci_low is not None) == interval and (fit.prediction is not None) == (k >= 3)


def test_a_fixed_effect_fit_keeps_i2_from_q():
    fit = fixed_iv(simulated(8, 2))
    assert fit.i2_q == fit.i2 and fit.h2_q == fit.h2 and math.isfinite(fit.q_p)


# ------------------------------------------------------------------ the named formulas random_effects calls


def test_knapp_hartung_scale_is_rss_over_k_minus_1_truncated_as_asked():
    from builder.stats.random import knapp_hartung_scale

    assert knapp_hartung_scale(6.0, 4, adhoc=False) == 2.0
    assert knapp_hartung_scale(1.5, 4, adhoc=False) == 0.5
    assert knapp_hartung_scale(1.5, 4, adhoc=True) == 1.0
    assert knapp_hartung_scale(1e-17, 4, adhoc=False) == 0.0  # at most machine epsilon: taken as 0


def test_i2_h2_from_tau2_and_the_typical_variance():
    from builder.stats.heterogeneity import i2_h2_from_tau2, typical_variance, typical_variance_from_sums

    assert i2_h2_from_tau2(1.0, 3.0) == (25.0, 4.0 / 3.0)
    assert i2_h2_from_tau2(0.0, 3.0) == (0.0, 1.0)
    vi = np.array([0.5, 0.25, 1.0])  # w = 2, 4, 1: s² = 2 * 7 / (49 - 21) = 0.5
    assert typical_variance(vi) == 0.5 == typical_variance_from_sums(3, 7.0, 21.0)


def test_t_based_and_wald_and_the_prediction_interval():
    from builder.stats.inference import critical_value, prediction_interval, t_based, wald

    low, high, t, p = t_based(1.0, 0.5, 4)
    assert math.isclose(high - 1.0, 2.7764451051977987 * 0.5, rel_tol=1e-14) and math.isclose(low, 2 - high)
    assert t == 2.0 and math.isclose(p, 0.11611652351681556, rel_tol=1e-10)
    low, high, z, p = wald(1.0, 0.5)
    assert math.isclose(high, 1 + 1.959963984540054 * 0.5, rel_tol=1e-15) and math.isclose(p, 0.04550026389635842)
    assert critical_value(0.9) == critical_value(0.9, None) and math.isclose(critical_value(0.9), 1.6448536269514722)
    assert prediction_interval(1.0, 0.6, 0.64, 2.0) == (-1.0, 3.0)  # 1 ± 2 sqrt(0.64 + 0.36)


def test_a_studys_interval_uses_the_exact_normal_quantile():
    from builder.stats.inference import excludes_null, study_half_width, study_interval

    assert study_half_width(4.0) == 2 * 1.959963984540054
    assert study_interval(1.0, 0.25) == (1.0 - 0.5 * 1.959963984540054, 1.0 + 0.5 * 1.959963984540054)
    assert math.isclose(study_half_width(1.0, 0.9), 1.6448536269514722)
    assert excludes_null(0.1, 2.0) and excludes_null(-2.0, -0.1)
    assert not excludes_null(-0.1, 2.0) and not excludes_null(0.0, 1.0)
