"""The weighted sums of the intercept-only random-effects model, on two backends.

Every intercept-only estimator of tau², the Q-profile interval and the random-effects fit itself need the same
few sums over studies with weights w = 1 / (vi + tau²): sum(w), the weighted mean mu, and sums of powers of w
times the residuals r = yi - mu. For the dozen or so studies of a typical meta-analysis each numpy call costs
more in dispatch (about a microsecond) than the arithmetic, so below SCALAR_MAX_K studies the sums are taken
over Python floats; from SCALAR_MAX_K studies on, numpy arrays. `prepare` picks the backend once per fit; every
function here accepts either and gives the same numbers to rounding (Python's `sum` adds in order, numpy
pairwise; for fewer than 64 terms both are within 64 ulp of the exact sum).

The residuals are taken about the weighted mean computed first (two passes), never from raw power sums, so
that data far from zero (say means of 1000 with SDs of 1) lose no precision to cancellation.
"""

from __future__ import annotations

from itertools import compress, repeat
from math import inf, log, log1p, prod
from operator import add, mul

import numpy as np

# Crossover measured with benchmarks/engine.py-style timings of one REML scoring step: at 13 studies the Python
# loop is about twice as fast as numpy, at 64 about even, at 1000 numpy is about ten times faster.
SCALAR_MAX_K = 64


def prepare(yi, vi):
    """(yi, vi) as lists of floats below SCALAR_MAX_K studies, else as float arrays; lists pass through."""
    if type(yi) is list:
        return yi, vi
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    if len(yi) < SCALAR_MAX_K:
        return yi.tolist(), vi.tolist()
    return yi, vi


def select(yi, vi, ok):
    """prepare(yi[ok], vi[ok]) for arrays yi and vi and a boolean array ok (the estimable studies), without
    numpy's boolean indexing below SCALAR_MAX_K studies, where it costs more than taking the lists whole and
    dropping the studies left out (if any)."""
    if len(ok) >= SCALAR_MAX_K:
        return prepare(yi[ok], vi[ok])
    yi = np.asarray(yi, dtype=float).tolist()
    vi = np.asarray(vi, dtype=float).tolist()
    keep = ok.tolist()
    if all(keep):
        return yi, vi
    return list(compress(yi, keep)), list(compress(vi, keep))


def scaled(w, factor: float) -> np.ndarray:
    """w * factor as a float array: np.multiply(w, factor), which for a list first works out the list's dtype;
    told the type and length, np.fromiter takes the products as they come (the same products: an IEEE
    multiplication in Python or in numpy)."""
    if type(w) is list:
        return np.fromiter(map(mul, w, repeat(factor)), float, len(w))
    return np.multiply(w, factor)


def weights(vi, tau2: float):
    """1 / (vi + tau²), as the backend's sequence."""
    if type(vi) is list:
        return [1.0 / (v + tau2) for v in vi]
    return 1.0 / (vi + tau2)


def at(yi, vi, tau2: float):
    """(w, sum(w), mu, Q) at tau²: the weights, their sum, the weighted mean and the generalised Q statistic
    sum(w (yi - mu)²) (Cochran's Q at tau² = 0)."""
    if type(yi) is list:
        w = [1.0 / (v + tau2) for v in vi]
        sw = sum(w)
        mu = sum(map(mul, w, yi)) / sw
        q = 0.0
        for a, y in zip(w, yi):
            r = y - mu
            q += a * r * r
        return w, sw, mu, q
    w = 1.0 / (vi + tau2)
    sw = float(w.sum())
    mu = float(w @ yi) / sw
    r = yi - mu
    return w, sw, mu, float(w @ (r * r))


def square_sum(w) -> float:
    """sum(w²)."""
    if type(w) is list:
        return sum(map(mul, w, w))
    return float((w * w).sum())


def score_sums(yi, vi, tau2: float):
    """The sums for a Newton or Fisher-scoring step of ML or REML at tau²:
    (sw, sw2, sw3, sw4, a, b, c) with swN = sum(w^N), a = sum(w² r²), b = sum(w³ r²), c = sum(w² r)."""
    if type(yi) is list:
        w = [1.0 / (v + tau2) for v in vi]
        sw = sum(w)
        mu = sum(map(mul, w, yi)) / sw
        sw2 = sw3 = sw4 = a = b = c = 0.0
        for x, y in zip(w, yi):  # one loop of scalar updates beats seven map/sum passes at this size
            r = y - mu
            x2 = x * x
            x2r = x2 * r
            sw2 += x2
            sw3 += x2 * x
            sw4 += x2 * x2
            c += x2r
            x2r *= r
            a += x2r
            b += x2r * x
        return sw, sw2, sw3, sw4, a, b, c
    w = 1.0 / (vi + tau2)
    sw = float(w.sum())
    wr = w * (yi - float(w @ yi) / sw)
    w2 = w * w
    wr2 = wr * wr
    return sw, float(w2.sum()), float(w2 @ w), float(w2 @ w2), float(wr2.sum()), float(wr2 @ w), float(wr @ w)


def q_sums(yi, vi, tau2: float) -> tuple[float, float]:
    """(Q(tau²), sum(w² r²)): the generalised Q statistic and minus its derivative in tau²."""
    if type(yi) is list:
        w = [1.0 / (v + tau2) for v in vi]
        sw = sum(w)
        mu = sum(map(mul, w, yi)) / sw
        q = d = 0.0
        for x, y in zip(w, yi):
            xr = x * (y - mu)
            q += xr * (y - mu)
            d += xr * xr
        return q, d
    w = 1.0 / (vi + tau2)
    r = yi - float(w @ yi) / float(w.sum())
    wr = w * r
    return float(wr @ r), float(wr @ wr)


def sum_log(vi, tau2: float) -> float:
    """sum(log(vi + tau²))."""
    if type(vi) is list:
        return sum(map(log, map(add, vi, repeat(tau2))))
    return float(np.log(vi + tau2).sum())


def log_growth(vi, tau2: float) -> float:
    """sum(log(vi + tau²)) - sum(log(vi)) = sum(log(1 + tau² / vi)), for tau² >= 0.

    Over Python floats this is the log of the product of the factors, one log instead of one per study, unless
    that product overflows (each factor is at least 1, so it cannot underflow); the rounding of the product, a
    few units of machine epsilon per factor, is an absolute error of that size in the result.
    """
    if type(vi) is list:
        product = prod([1.0 + tau2 / v for v in vi])
        if product < inf:
            return log(product)
        return sum([log1p(tau2 / v) for v in vi])
    return float(np.log1p(tau2 / vi).sum())


def mean_and_ss(yi) -> tuple[float, float]:
    """The unweighted mean of yi and the sum of squares about it."""
    if type(yi) is list:
        m = sum(yi) / len(yi)
        return m, sum([(y - m) * (y - m) for y in yi])
    m = float(yi.mean())
    r = yi - m
    return m, float(r @ r)


def total(values) -> float:
    return sum(values) if type(values) is list else float(values.sum())
