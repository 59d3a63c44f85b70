"""Small-study effects beyond Egger's test: trim-and-fill, Begg's rank correlation, Harbord's and Peters' tests.

  trim_and_fill  Duval and Tweedie's method as metafor's trimfill() on an rma.uni fit (estimators R0 and L0);
  rank_test      Begg and Mazumdar's rank correlation test as metafor's ranktest();
  harbord        Harbord, Egger and Sterne (2006): the score-based regression test for odds ratios;
  peters         Peters et al. (2006): the log odds ratio regressed on 1 / total sample size.

Like Egger's test (followups.MIN_K_EGGER), none is meant for fewer than ten studies; the callers guard that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .dist import t_quantile, t_two_sided_p, z_two_sided_p
from .effects import EffectSizes, peto_log_odds_ratio
from .fit import Fit
from .fixed import fixed_iv
from .followups import Refit
from .influence import same_model
from .random import random_effects
from .tau2 import ESTIMATORS

MAX_ITERATIONS = 100  # metafor's trimfill maxiter


@dataclass(frozen=True)
class TrimAndFill:
    """The result of trim-and-fill: k0 studies imputed on `side` (where metafor's regression on the standard
    errors says studies are missing), at yi_filled with variances vi_filled, and the model refitted to the
    observed and filled studies together (`adjusted`, None when k0 = 0: then the fit itself stands)."""

    estimator: str  # "L0" or "R0"
    side: str  # "left" or "right": the side of the funnel where studies are filled in
    k0: int
    se_k0: float
    p_k0: float | None  # R0 only: the probability of k0 or more under no missing studies (metafor's p.k0)
    yi_filled: np.ndarray
    vi_filled: np.ndarray
    adjusted: Fit | None
    iterations: int


def _wls(yi: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted least squares: (coefficients, (X'WX)^-1, weighted residual sum of squares)."""
    wx = w[:, None] * X
    cov = np.linalg.inv(X.T @ wx)
    beta = cov @ (wx.T @ yi)
    rss = float(np.sum(w * (yi - X @ beta) ** 2))
    return beta, cov, rss


def missing_side(yi: np.ndarray, vi: np.ndarray, fit: Fit) -> str:
    """metafor's default side: the slope of the fit's meta-regression of yi on sqrt(vi) (tau² re-estimated as
    residual heterogeneity by the same estimator under random effects); a negative slope means the small studies
    lean left, so studies are missing on the right."""
    X = np.column_stack([np.ones(len(yi)), np.sqrt(vi)])
    tau2 = ESTIMATORS[fit.method](yi, vi, X) if fit.model == "random" else 0.0
    beta, _, _ = _wls(yi, X, 1.0 / (vi + tau2))
    return "right" if beta[1] < 0 else "left"


def _centre(yi: np.ndarray, vi: np.ndarray, fit: Fit) -> float:
    """The pooled estimate of the model on these studies (its interval does not matter here)."""
    es = EffectSizes(yi, vi, np.ones(len(yi), dtype=bool), np.zeros(len(yi), dtype=bool))
    if fit.model == "random":
        return random_effects(es, fit.method, "wald", tau2_interval=False).estimate
    return fixed_iv(es).estimate


def _k0(signed_ranks: np.ndarray, k: int, estimator: str) -> tuple[float, float]:
    """(k0 before rounding, its standard error) from the signed ranks of the centred estimates."""
    if estimator == "R0":
        negative = -signed_ranks[signed_ranks < 0]
        if negative.size == 0:
            raise ValueError("trim-and-fill (R0) is undefined: every estimate lies on one side of the centre")
        k0 = k - float(negative.max()) - 1
        return k0, math.sqrt(2 * max(0.0, k0) + 2)
    sr = float(signed_ranks[signed_ranks > 0].sum())
    k0 = (4 * sr - k * (k + 1)) / (2 * k - 1)
    var_sr = (
        k * (k + 1) * (2 * k + 1) + 10 * k0**3 + 27 * k0**2 + 17 * k0 - 18 * k * k0**2 - 18 * k * k0 + 6 * k**2 * k0
    ) / 24
    return k0, 4 * math.sqrt(max(0.0, var_sr)) / (2 * k - 1)


def trim_and_fill(
    es: EffectSizes, fit: Fit, estimator: str = "L0", side: str | None = None, refit: Refit[EffectSizes] | None = None
) -> TrimAndFill:
    """Trim-and-fill around `fit` (an inverse-variance fit of `es`); `refit` (default same_model(fit): the same
    tau² estimator and interval) fits the observed and filled studies together.

    As metafor: the estimates are flipped when studies are missing on the right, sorted; the k0 largest are trimmed
    and the model refitted to the rest until k0 stops changing; k0 is rounded half to even and at least 0; each
    of the k0 trimmed studies is mirrored about the last centre (2 centre - yi) with its own variance."""
    if estimator not in ("L0", "R0"):
        raise ValueError(f"unknown trim-and-fill estimator {estimator!r}; L0 or R0")
    refit = refit or same_model(fit)
    ok = es.estimable
    yi0, vi0 = es.yi[ok], es.vi[ok]
    k = len(yi0)
    if k < 3:
        raise ValueError(f"trim-and-fill needs at least 3 studies; this analysis has {k}")
    side = side or missing_side(yi0, vi0, fit)
    sign = -1.0 if side == "right" else 1.0
    order = np.argsort(sign * yi0, kind="stable")
    yi, vi = sign * yi0[order], vi0[order]
    k0, previous, iterations, centre, se_k0 = 0, -1, 0, 0.0, 0.0
    while k0 != previous:
        previous = k0
        iterations += 1
        if iterations > MAX_ITERATIONS:
            raise ValueError("trim-and-fill did not converge")
        centre = _centre(yi[: k - k0], vi[: k - k0], fit)
        centred = yi - centre
        ranks = np.empty(k)
        ranks[np.argsort(np.abs(centred), kind="stable")] = np.arange(1, k + 1)
        raw, se_k0 = _k0(np.sign(centred) * ranks, k, estimator)
        k0 = max(0, round(raw))
        if k0 >= k:
            raise ValueError("trim-and-fill would trim every study")
    filled_yi = sign * (2 * centre - yi[k - k0 :])
    filled_vi = vi[k - k0 :]
    adjusted = None
    if k0 > 0:
        both = EffectSizes(
            np.concatenate([yi0, filled_yi]),
            np.concatenate([vi0, filled_vi]),
            np.ones(k + k0, dtype=bool),
            np.zeros(k + k0, dtype=bool),
        )
        adjusted = refit(both)
    # metafor's p.k0, 1 - sum over m = -1 .. k0 - 1 of 0.5^(m + 2), is 0.5^(k0 + 1).
    p_k0 = 0.5 ** (k0 + 1) if estimator == "R0" else None
    return TrimAndFill(estimator, side, k0, max(0.0, se_k0), p_k0, filled_yi, filled_vi, adjusted, iterations)


# ------------------------------------------------------------------------------------------ rank test
@dataclass(frozen=True)
class RankTest:
    """Begg and Mazumdar's test: Kendall's tau (tau-b) between the standardised deviates (yi - theta) /
    sqrt(vi - vb) about the fixed-effect estimate theta (variance vb) and the sampling variances vi."""

    k: int
    tau: float
    p: float
    exact: bool  # exact permutation p-value (no ties, fewer than 50 studies), else the normal approximation


def _kendall_counts(n: int) -> list[int]:
    """The number of permutations of n items with 0, 1, ..., n(n-1)/2 inversions (Mahonian numbers)."""
    counts = [1]
    for m in range(2, n + 1):
        grown = [0] * (len(counts) + m - 1)
        window = 0
        for j in range(len(grown)):  # grown[j] = sum of counts[j - m + 1 .. j]
            window += counts[j] if j < len(counts) else 0
            if j - m >= 0:
                window -= counts[j - m]
            grown[j] = window
        counts = grown
    return counts


def _kendall_exact_p(concordant: int, n: int) -> float:
    """Two-sided exact p-value of `concordant` concordant pairs among n untied pairs (R's cor.test)."""
    counts = _kendall_counts(n)
    total = math.factorial(n)

    def cdf(q: int) -> float:
        return sum(counts[: max(0, q) + 1]) / total

    p = 1 - cdf(concordant - 1) if concordant > n * (n - 1) / 4 else cdf(concordant)
    return min(2 * p, 1.0)


def _ties(values: np.ndarray) -> np.ndarray:
    """The sizes of the groups of tied values (groups of one left out)."""
    _, counts = np.unique(values, return_counts=True)
    return counts[counts > 1].astype(float)


def kendall_tau(x: np.ndarray, y: np.ndarray) -> tuple[float, float, bool]:
    """(tau-b, two-sided p, exact) as R's cor.test(x, y, method = "kendall")."""
    n = len(x)
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    s = float(np.sum(np.triu(dx * dy, 1)))
    t0 = n * (n - 1) / 2
    tx, ty = _ties(x), _ties(y)
    t1, t2 = float(np.sum(tx * (tx - 1))) / 2, float(np.sum(ty * (ty - 1))) / 2
    if t0 == t1 or t0 == t2:
        raise ValueError("Kendall's tau is undefined: every value of one variable is the same")
    tau = s / math.sqrt((t0 - t1) * (t0 - t2))
    if n < 50 and tx.size == 0 and ty.size == 0:
        concordant = round((tau + 1) * n * (n - 1) / 4)
        return tau, _kendall_exact_p(concordant, n), True
    v0 = n * (n - 1) * (2 * n + 5)
    vt = float(np.sum(tx * (tx - 1) * (2 * tx + 5)))
    vu = float(np.sum(ty * (ty - 1) * (2 * ty + 5)))
    v1 = float(np.sum(tx * (tx - 1))) * float(np.sum(ty * (ty - 1)))
    v2 = float(np.sum(tx * (tx - 1) * (tx - 2))) * float(np.sum(ty * (ty - 1) * (ty - 2)))
    var_s = (v0 - vt - vu) / 18 + v1 / (2 * n * (n - 1)) + v2 / (9 * n * (n - 1) * (n - 2))
    return tau, z_two_sided_p(s / math.sqrt(var_s)), False


def rank_test(es: EffectSizes) -> RankTest:
    ok = es.estimable
    yi, vi = es.yi[ok], es.vi[ok]
    w = 1.0 / vi
    theta = float(np.sum(w * yi) / np.sum(w))
    vb = 1.0 / float(np.sum(w))
    deviates = (yi - theta) / np.sqrt(vi - vb)
    tau, p, exact = kendall_tau(deviates, vi)
    return RankTest(len(yi), tau, p, exact)


# ------------------------------------------------------------------------------ regression tests
@dataclass(frozen=True)
class RegressionTest:
    """A weighted linear regression with a multiplicative dispersion (R's lm with weights; metafor's
    regtest(model = "lm")): the test is on the slope, with t(k - 2); the intercept is the limit estimate."""

    name: str
    k: int
    statistic: float  # t
    df: int
    p: float
    slope: float
    slope_se: float
    limit_estimate: float
    limit_se: float
    limit_ci_low: float
    limit_ci_high: float


def _lm_test(name: str, yi: np.ndarray, x: np.ndarray, w: np.ndarray, level: float) -> RegressionTest:
    k = len(yi)
    if k < 3:
        raise ValueError(f"{name} needs at least 3 studies; this analysis has {k}")
    X = np.column_stack([np.ones(k), x])
    beta, cov, rss = _wls(yi, X, w)
    df = k - 2
    scale = rss / df
    if scale <= 0:
        raise ValueError(f"{name} is undefined here: the regression fits the estimates exactly")
    se = np.sqrt(np.diag(cov) * scale)
    statistic = float(beta[1] / se[1])
    crit = t_quantile(0.5 + level / 2, df)
    return RegressionTest(
        name,
        k,
        statistic,
        df,
        t_two_sided_p(statistic, df),
        float(beta[1]),
        float(se[1]),
        float(beta[0]),
        float(se[0]),
        float(beta[0] - crit * se[0]),
        float(beta[0] + crit * se[0]),
    )


def harbord(ai, n1i, ci, n2i, level: float = 0.95) -> RegressionTest:
    """Harbord's test: Z / sqrt(V) regressed on sqrt(V), with Z = O - E and V the score statistic and its
    variance of each study's 2x2 table (studies with V = 0, no events or only events in both arms, left out).
    The test is on the intercept of that regression. Dividing through by sqrt(V), it is the same as the
    weighted regression (weights V) of Peto's log odds ratio Z / V on its standard error 1 / sqrt(V), tested
    on the slope, which is how it is computed here (metafor: regtest(escalc("PETO", ...), model = "lm"));
    the limit estimate is then the slope of the original regression, a Peto log odds ratio."""
    es = peto_log_odds_ratio(ai, n1i, ci, n2i)
    ok = es.estimable
    yi, vi = es.yi[ok], es.vi[ok]
    return _lm_test("Harbord's test", yi, np.sqrt(vi), 1.0 / vi, level)


def peters(ai, n1i, ci, n2i, es: EffectSizes, level: float = 0.95) -> RegressionTest:
    """Peters' test: the log odds ratios `es` (as the analysis computes them, continuity correction included)
    regressed on 1 / N, N the study's total sample size, with weights S F / N, S the study's events and F its
    non-events in both arms (Peters et al. 2006; R's meta, metabias method "Peters"). The test is on the slope."""
    ai, n1i, ci, n2i = (np.asarray(v, dtype=float) for v in (ai, n1i, ci, n2i))
    ok = es.estimable
    n = (n1i + n2i)[ok]
    events = (ai + ci)[ok]
    weights = events * (n - events) / n
    return _lm_test("Peters' test", es.yi[ok], 1.0 / n, weights, level)
