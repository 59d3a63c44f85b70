"""The weighted sums of the intercept-only random-effects model, on two backends.

Every intercept-only estimator of tau², the Q-profile interval and the random-effects fit itself need the same
few sums over studies with weights w = 1 / (vi + tau²): sum(w), the weighted mean mu, and sums of powers of w
times the residuals r = yi - mu. For the dozen or so studies of a typical meta-analysis each numpy call costs
more in dispatch (about a microsecond) than the arithmetic, so below SCALAR_MAX_K studies the sums are taken
over Python floats; from SCALAR_MAX_K studies on, numpy arrays. `prepare` (or `select`) makes the studies'
`Studies` once per fit, choosing the backend, and its methods are the sums; both backends give the same numbers
to rounding (Python's `sum` adds in order, numpy pairwise; for fewer than 64 terms both are within 64 ulp of the
exact sum). A method's `w` is weights as `weights` or `at` return them, on the same backend.

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


class Studies:
    """The estimable studies' yi and vi, on one backend (see the module docstring). k is their number."""

    __slots__ = ("k", "vi", "yi")

    def __init__(self, yi, vi):
        self.yi = yi
        self.vi = vi
        self.k = len(yi)

    def __len__(self) -> int:
        return self.k

    def weights(self, tau2: float):
        """1 / (vi + tau²), as the backend's sequence."""
        raise NotImplementedError

    def at(self, tau2: float) -> tuple:
        """(w, sum(w), mu, Q) at tau²: the weights, their sum, the weighted mean and the generalised Q statistic
        sum(w (yi - mu)²) (Cochran's Q at tau² = 0)."""
        raise NotImplementedError

    def score_sums(self, tau2: float) -> tuple[float, float, float, float, float, float, float]:
        """The sums for a Newton or Fisher-scoring step of ML or REML at tau²:
        (sw, sw2, sw3, sw4, a, b, c) with swN = sum(w^N), a = sum(w² r²), b = sum(w³ r²), c = sum(w² r)."""
        raise NotImplementedError

    def q_sums(self, tau2: float) -> tuple[float, float]:
        """(Q(tau²), sum(w² r²)): the generalised Q statistic and minus its derivative in tau²."""
        raise NotImplementedError

    def sum_log(self, tau2: float) -> float:
        """sum(log(vi + tau²))."""
        raise NotImplementedError

    def log_growth(self, tau2: float) -> float:
        """sum(log(vi + tau²)) - sum(log(vi)) = sum(log(1 + tau² / vi)), for tau² >= 0."""
        raise NotImplementedError

    def mean_and_ss(self) -> tuple[float, float]:
        """The unweighted mean of yi and the sum of squares about it."""
        raise NotImplementedError

    def total_vi(self) -> float:
        """sum(vi)."""
        raise NotImplementedError

    @staticmethod
    def square_sum(w) -> float:
        """sum(w²)."""
        raise NotImplementedError

    @staticmethod
    def scaled(w, factor: float) -> np.ndarray:
        """w * factor as a float array."""
        raise NotImplementedError


class Floats(Studies):
    """Python floats in lists: below SCALAR_MAX_K studies."""

    __slots__ = ()

    def weights(self, tau2: float):
        return [1.0 / (v + tau2) for v in self.vi]

    def at(self, tau2: float) -> tuple:
        yi = self.yi
        w = [1.0 / (v + tau2) for v in self.vi]
        sw = sum(w)
        mu = sum(map(mul, w, yi)) / sw
        q = 0.0
        for a, y in zip(w, yi):
            r = y - mu
            q += a * r * r
        return w, sw, mu, q

    def score_sums(self, tau2: float) -> tuple[float, float, float, float, float, float, float]:
        yi = self.yi
        w = [1.0 / (v + tau2) for v in self.vi]
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

    def q_sums(self, tau2: float) -> tuple[float, float]:
        yi = self.yi
        w = [1.0 / (v + tau2) for v in self.vi]
        sw = sum(w)
        mu = sum(map(mul, w, yi)) / sw
        q = d = 0.0
        for x, y in zip(w, yi):
            xr = x * (y - mu)
            q += xr * (y - mu)
            d += xr * xr
        return q, d

    def sum_log(self, tau2: float) -> float:
        return sum(map(log, map(add, self.vi, repeat(tau2))))

    def log_growth(self, tau2: float) -> float:
        """Over Python floats this is the log of the product of the factors, one log instead of one per study,
        unless that product overflows (each factor is at least 1, so it cannot underflow); the rounding of the
        product, a few units of machine epsilon per factor, is an absolute error of that size in the result."""
        product = prod([1.0 + tau2 / v for v in self.vi])
        if product < inf:
            return log(product)
        return sum([log1p(tau2 / v) for v in self.vi])

    def mean_and_ss(self) -> tuple[float, float]:
        yi = self.yi
        m = sum(yi) / len(yi)
        return m, sum([(y - m) * (y - m) for y in yi])

    def total_vi(self) -> float:
        return sum(self.vi)

    @staticmethod
    def square_sum(w) -> float:
        return sum(map(mul, w, w))

    @staticmethod
    def scaled(w, factor: float) -> np.ndarray:
        """np.multiply(w, factor) would first work out the list's dtype; told the type and length, np.fromiter
        takes the products as they come (the same products: an IEEE multiplication in Python or in numpy)."""
        return np.fromiter(map(mul, w, repeat(factor)), float, len(w))


class Arrays(Studies):
    """numpy float arrays: from SCALAR_MAX_K studies on."""

    __slots__ = ()

    def weights(self, tau2: float):
        return 1.0 / (self.vi + tau2)

    def at(self, tau2: float) -> tuple:
        yi = self.yi
        w = 1.0 / (self.vi + tau2)
        sw = float(w.sum())
        mu = float(w @ yi) / sw
        r = yi - mu
        return w, sw, mu, float(w @ (r * r))

    def score_sums(self, tau2: float) -> tuple[float, float, float, float, float, float, float]:
        w = 1.0 / (self.vi + tau2)
        sw = float(w.sum())
        wr = w * (self.yi - float(w @ self.yi) / sw)
        w2 = w * w
        wr2 = wr * wr
        return sw, float(w2.sum()), float(w2 @ w), float(w2 @ w2), float(wr2.sum()), float(wr2 @ w), float(wr @ w)

    def q_sums(self, tau2: float) -> tuple[float, float]:
        w = 1.0 / (self.vi + tau2)
        r = self.yi - float(w @ self.yi) / float(w.sum())
        wr = w * r
        return float(wr @ r), float(wr @ wr)

    def sum_log(self, tau2: float) -> float:
        return float(np.log(self.vi + tau2).sum())

    def log_growth(self, tau2: float) -> float:
        return float(np.log1p(tau2 / self.vi).sum())

    def mean_and_ss(self) -> tuple[float, float]:
        m = float(self.yi.mean())
        r = self.yi - m
        return m, float(r @ r)

    def total_vi(self) -> float:
        return float(self.vi.sum())

    @staticmethod
    def square_sum(w) -> float:
        return float((w * w).sum())

    @staticmethod
    def scaled(w, factor: float) -> np.ndarray:
        return np.multiply(w, factor)


def prepare(yi, vi) -> Studies:
    """The studies (yi, vi) on the backend for their number: lists of floats below SCALAR_MAX_K, else arrays."""
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    if len(yi) < SCALAR_MAX_K:
        return Floats(yi.tolist(), vi.tolist())
    return Arrays(yi, vi)


def select(yi, vi, ok) -> Studies:
    """prepare(yi[ok], vi[ok]) for arrays yi and vi and a boolean array ok (the estimable studies), without
    numpy's boolean indexing below SCALAR_MAX_K studies, where it costs more than taking the lists whole and
    dropping the studies left out (if any)."""
    if len(ok) >= SCALAR_MAX_K:
        return prepare(yi[ok], vi[ok])
    yi = np.asarray(yi, dtype=float).tolist()
    vi = np.asarray(vi, dtype=float).tolist()
    keep = ok.tolist()
    if all(keep):
        return Floats(yi, vi)
    return Floats(list(compress(yi, keep)), list(compress(vi, keep)))
