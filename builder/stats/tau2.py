"""Estimators of the between-study variance tau², as metafor's rma(method=...) computes them.

Every estimator takes the effect sizes yi, their sampling variances vi and, optionally, a k x p design matrix X
(default: a column of ones, the intercept-only random-effects model; Egger's regression test passes an intercept
and the standard errors). All are truncated at zero.

    DL    DerSimonian-Laird: method of moments with inverse-variance weights.
    HE    Hedges (also "variance component" or Cochran-ANOVA): method of moments with unit weights.
    SJ    Sidik-Jonkman: one re-weighting step from the crude start (1/k) * sum((yi - mean(yi))^2).
    PM    Paule-Mandel: the tau² at which the generalised Q statistic equals its expectation k - p.
    EB    Morris's empirical Bayes estimator, by metafor's fixed-point iteration. Its fixed point solves the same
          equation as PM (Q(tau²) k / (k - p) = k), so EB and PM agree to convergence.
    ML    maximum likelihood, Fisher scoring.
    REML  restricted maximum likelihood, Fisher scoring.

ML, REML and EB start from the HE estimate (truncated at zero), as metafor does, and iterate until the change in
tau² is below TOL (or at machine precision for large tau²), much tighter than metafor's default of 1e-5.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

TOL = 1e-12
MAX_ITER = 1000
# After ML or REML converge, metafor compares the log-likelihood at the estimate with that at tau² = 0 and takes
# 0 if the boundary is better by more than its `tol` (default eps^(1/4)): Fisher scoring may have stopped at a
# local maximum. We make the same check with the same margin.
LL0_MARGIN = np.finfo(float).eps ** 0.25


def _design(X, k: int) -> np.ndarray:
    return np.ones((k, 1)) if X is None else np.asarray(X, dtype=float).reshape(k, -1)


class _Projection:
    """The pieces of P = W - W X (X'WX)^-1 X'W that the estimators need, in O(k p²) without forming P.

    y'Py is the weighted residual sum of squares of the weighted least-squares fit of y on X, Py = w * residuals,
    trace(P) = sum(w) - tr(A X'W²X) and tr(PP) = sum(w²) - 2 tr(A X'W³X) + tr((A X'W²X)²), with A = (X'WX)^-1.
    """

    def __init__(self, w: np.ndarray, X: np.ndarray, y: np.ndarray):
        wx = w[:, None] * X
        self.A = np.linalg.inv(X.T @ wx)
        beta = self.A @ (wx.T @ y)
        self.residuals = y - X @ beta
        self.w, self.X = w, X
        self.Py = w * self.residuals
        self.rss = float(np.sum(w * self.residuals**2))

    def trace(self) -> float:
        w, X = self.w, self.X
        return float(np.sum(w) - np.trace(self.A @ (X.T @ ((w**2)[:, None] * X))))

    def trace_pp(self) -> float:
        w, X = self.w, self.X
        m2 = self.A @ (X.T @ ((w**2)[:, None] * X))
        m3 = self.A @ (X.T @ ((w**3)[:, None] * X))
        return float(np.sum(w**2) - 2 * np.trace(m3) + np.trace(m2 @ m2))

    def diagonal(self) -> np.ndarray:
        leverage = np.einsum("ij,jk,ik->i", self.X, self.A, self.X)
        return self.w - self.w**2 * leverage


def generalised_q(tau2: float, yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    """Q with weights 1/(vi + tau²) about the weighted least-squares fit (Cochran's Q at tau² = 0)."""
    if X is None:   # intercept only: the weighted mean, without matrices
        w = 1 / (vi + tau2)
        r = yi - w @ yi / w.sum()
        return float(w @ (r * r))
    X = _design(X, len(yi))
    return _Projection(1 / (vi + tau2), X, yi).rss


def dersimonian_laird(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    if X is None:   # intercept only: closed form without matrices
        w = 1 / vi
        sw = w.sum()
        r = yi - w @ yi / sw
        return float(max(0.0, (w @ (r * r) - (len(yi) - 1)) / (sw - w @ w / sw)))
    X = _design(X, len(yi))
    k, p = X.shape
    P = _Projection(1 / vi, X, yi)
    return float(max(0.0, (P.rss - (k - p)) / P.trace()))


def hedges(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    """(Residual sum of squares of the ordinary LS fit - its expectation without heterogeneity) / (k - p)."""
    if X is None:   # intercept only: leverage 1/k for every study
        k = len(yi)
        r = yi - yi.mean()
        return float(max(0.0, (r @ r - (1 - 1 / k) * vi.sum()) / (k - 1)))
    X = _design(X, len(yi))
    k, p = X.shape
    P = _Projection(np.ones(k), X, yi)
    return float(max(0.0, (P.rss - np.sum(P.diagonal() * vi)) / (k - p)))


def sidik_jonkman(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    """tau0² Q(tau0²) / (k - p) with metafor's start tau0² = the variance of yi with divisor k (about their mean,
    also when X has moderators)."""
    X = _design(X, len(yi))
    k, p = X.shape
    tau2_0 = float(np.mean((yi - np.mean(yi)) ** 2))
    return float(max(0.0, tau2_0 * generalised_q(tau2_0, yi, vi, X) / (k - p)))


def paule_mandel(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    """The tau² at which the generalised Q statistic equals its expectation, k - p (0 if Q(0) < k - p)."""
    X = _design(X, len(yi))
    target = X.shape[0] - X.shape[1]
    if generalised_q(0.0, yi, vi, X) <= target:
        return 0.0
    upper = max(1.0, float(np.var(yi)) * 10)
    while generalised_q(upper, yi, vi, X) > target:   # Q(tau²) decreases to 0 as tau² grows
        upper *= 10
    return float(optimize.brentq(lambda t: generalised_q(t, yi, vi, X) - target, 0.0, upper,
                                 xtol=TOL, rtol=4 * np.finfo(float).eps, maxiter=MAX_ITER))


def _log_likelihood(tau2: float, yi: np.ndarray, vi: np.ndarray, X: np.ndarray, restricted: bool) -> float:
    k, p = X.shape
    w = 1 / (vi + tau2)
    rss = _Projection(w, X, yi).rss
    ll = -0.5 * (k - p if restricted else k) * np.log(2 * np.pi) - 0.5 * np.sum(np.log(vi + tau2)) - 0.5 * rss
    if restricted:
        ll -= 0.5 * np.linalg.slogdet(X.T @ (w[:, None] * X))[1]
    return float(ll)


def _score_step(yi: np.ndarray, vi: np.ndarray, X, tau2: float, kind: str, k: int, p: int) -> float:
    """One Fisher-scoring step; for the intercept-only model the traces have closed forms."""
    w = 1 / (vi + tau2)
    if X is None:
        sw = w.sum()
        r = yi - w @ yi / sw
        py = w * r
        if kind == "ML":
            return float((py @ py - sw) / (w @ w))
        if kind == "REML":
            sw2 = w @ w
            return float((py @ py - (sw - sw2 / sw)) / (sw2 - 2 * (w * w) @ w / sw + (sw2 / sw) ** 2))
        return float(((w @ (r * r)) * k / (k - p) - k) / sw)
    P = _Projection(w, X, yi)
    Py = P.Py
    if kind == "ML":
        return float((Py @ Py - np.sum(w)) / np.sum(w**2))
    if kind == "REML":
        return float((Py @ Py - P.trace()) / P.trace_pp())
    return float((P.rss * k / (k - p) - k) / np.sum(w))


def _bracketed_root(yi: np.ndarray, vi: np.ndarray, X, kind: str, k: int, p: int) -> float:
    """Where the scoring step (a positive multiple of the score) is zero, searched on [0, upper] by Brent's method."""
    def score(t: float) -> float:
        return _score_step(yi, vi, X, t, kind, k, p)
    if score(0.0) <= 0:
        return 0.0
    upper = max(1.0, float(np.var(yi)))
    while score(upper) > 0:
        upper *= 10
        if upper > 1e12:
            raise ArithmeticError(f"{kind} estimation of tau² did not converge")
    return float(optimize.brentq(score, 0.0, upper, xtol=TOL, rtol=4 * np.finfo(float).eps, maxiter=MAX_ITER))


def _fisher_scoring(yi: np.ndarray, vi: np.ndarray, X, kind: str) -> float:
    k, p = (len(yi), 1) if X is None else _design(X, len(yi)).shape
    X = None if X is None else _design(X, len(yi))
    tau2 = hedges(yi, vi, X)
    for _ in range(MAX_ITER):
        step = _score_step(yi, vi, X, tau2, kind, k, p)
        while tau2 + step < 0:   # halve steps that would leave the parameter space
            step /= 2
            if abs(step) < TOL:
                step = -tau2
                break
        tau2 = tau2 + step
        # Converged when the step is below TOL or, for large tau², below 1e-12 of it: there the steps are
        # rounding noise of a few 1e-12 that an absolute threshold would never see end.
        if abs(step) <= max(TOL, 1e-12 * tau2):
            break
    else:
        # Fisher scoring can oscillate (seen near tau² = 0 with very unequal variances). The estimate is then the
        # root of the same estimating equation, which a bracketing search finds without steps to overshoot.
        tau2 = _bracketed_root(yi, vi, X, kind, k, p)
    tau2 = max(0.0, float(tau2))
    if kind in ("ML", "REML") and tau2 > TOL:
        restricted = kind == "REML"
        Xd = _design(X, len(yi))
        if _log_likelihood(0.0, yi, vi, Xd, restricted) - _log_likelihood(tau2, yi, vi, Xd, restricted) > LL0_MARGIN:
            tau2 = 0.0
    return tau2


def maximum_likelihood(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    return _fisher_scoring(yi, vi, X, "ML")


def reml(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    """Restricted maximum likelihood by Fisher scoring, truncated at zero, as metafor does."""
    return _fisher_scoring(yi, vi, X, "REML")


def empirical_bayes(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    return _fisher_scoring(yi, vi, X, "EB")


ESTIMATORS = {"DL": dersimonian_laird, "HE": hedges, "SJ": sidik_jonkman, "PM": paule_mandel,
              "EB": empirical_bayes, "ML": maximum_likelihood, "REML": reml}
