"""Estimators of the between-study variance tau² for the intercept-only random-effects model."""

from __future__ import annotations

import numpy as np
from scipy import optimize

TOL = 1e-12
MAX_ITER = 1000


def dersimonian_laird(yi: np.ndarray, vi: np.ndarray) -> float:
    w = 1 / vi
    mu = np.sum(w * yi) / np.sum(w)
    q = np.sum(w * (yi - mu) ** 2)
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    return float(max(0.0, (q - (len(yi) - 1)) / c))


def _generalised_q(tau2: float, yi: np.ndarray, vi: np.ndarray) -> float:
    w = 1 / (vi + tau2)
    mu = np.sum(w * yi) / np.sum(w)
    return float(np.sum(w * (yi - mu) ** 2))


def paule_mandel(yi: np.ndarray, vi: np.ndarray) -> float:
    """The tau² at which the generalised Q statistic equals its expectation, k - 1 (0 if Q(0) < k - 1)."""
    target = len(yi) - 1
    if _generalised_q(0.0, yi, vi) <= target:
        return 0.0
    upper = max(1.0, float(np.var(yi)) * 10)
    while _generalised_q(upper, yi, vi) > target:
        upper *= 10
    return float(optimize.brentq(lambda t: _generalised_q(t, yi, vi) - target, 0.0, upper,
                                 xtol=TOL, rtol=4 * np.finfo(float).eps, maxiter=MAX_ITER))


def reml(yi: np.ndarray, vi: np.ndarray) -> float:
    """Restricted maximum likelihood by Fisher scoring, truncated at zero, as metafor does."""
    tau2 = dersimonian_laird(yi, vi)
    for _ in range(MAX_ITER):
        w = 1 / (vi + tau2)
        sw = np.sum(w)
        mu = np.sum(w * yi) / sw
        trace_p = sw - np.sum(w**2) / sw
        trace_pp = np.sum(w**2) - 2 * np.sum(w**3) / sw + (np.sum(w**2) / sw) ** 2
        ypppy = np.sum((w * (yi - mu)) ** 2)
        step = (ypppy - trace_p) / trace_pp
        while tau2 + step < 0:   # halve steps that would leave the parameter space
            step /= 2
            if abs(step) < TOL:
                step = -tau2
                break
        tau2 = tau2 + step
        if abs(step) < TOL:
            break
    else:
        raise ArithmeticError("REML did not converge")
    return float(max(0.0, tau2))


ESTIMATORS = {"DL": dersimonian_laird, "PM": paule_mandel, "REML": reml}
