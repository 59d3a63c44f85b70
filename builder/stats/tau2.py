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


def _residual_projector(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """P = W - W X (X'WX)^-1 X'W: y'Py is the weighted residual sum of squares of the weighted LS fit of y on X."""
    wx = w[:, None] * X
    return np.diag(w) - wx @ np.linalg.solve(X.T @ wx, wx.T)


def generalised_q(tau2: float, yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    """Q with weights 1/(vi + tau²) about the weighted least-squares fit (Cochran's Q at tau² = 0)."""
    X = _design(X, len(yi))
    return float(yi @ _residual_projector(1 / (vi + tau2), X) @ yi)


def dersimonian_laird(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    X = _design(X, len(yi))
    k, p = X.shape
    P = _residual_projector(1 / vi, X)
    return float(max(0.0, (yi @ P @ yi - (k - p)) / np.trace(P)))


def hedges(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    """(Residual sum of squares of the ordinary LS fit - its expectation without heterogeneity) / (k - p)."""
    X = _design(X, len(yi))
    k, p = X.shape
    P = _residual_projector(np.ones(k), X)
    return float(max(0.0, (yi @ P @ yi - np.sum(np.diag(P) * vi)) / (k - p)))


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
    rss = yi @ _residual_projector(w, X) @ yi
    ll = -0.5 * (k - p if restricted else k) * np.log(2 * np.pi) - 0.5 * np.sum(np.log(vi + tau2)) - 0.5 * rss
    if restricted:
        ll -= 0.5 * np.linalg.slogdet(X.T @ (w[:, None] * X))[1]
    return float(ll)


def _fisher_scoring(yi: np.ndarray, vi: np.ndarray, X, kind: str) -> float:
    X = _design(X, len(yi))
    k, p = X.shape
    tau2 = hedges(yi, vi, X)
    for _ in range(MAX_ITER):
        w = 1 / (vi + tau2)
        P = _residual_projector(w, X)
        Py = P @ yi
        if kind == "ML":
            step = (Py @ Py - np.sum(w)) / np.sum(w**2)
        elif kind == "REML":
            step = (Py @ Py - np.trace(P)) / np.sum(P * P)
        else:   # EB
            step = (yi @ Py * k / (k - p) - k) / np.sum(w)
        while tau2 + step < 0:   # halve steps that would leave the parameter space
            step /= 2
            if abs(step) < TOL:
                step = -tau2
                break
        tau2 = tau2 + step
        if abs(step) <= max(TOL, 4 * np.finfo(float).eps * tau2):
            break
    else:
        raise ArithmeticError(f"{kind} estimation of tau² did not converge")
    tau2 = max(0.0, float(tau2))
    if kind in ("ML", "REML") and tau2 > TOL:
        restricted = kind == "REML"
        if _log_likelihood(0.0, yi, vi, X, restricted) - _log_likelihood(tau2, yi, vi, X, restricted) > LL0_MARGIN:
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
