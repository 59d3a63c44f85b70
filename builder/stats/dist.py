"""The few distribution functions the engine needs, called through scipy.special directly.

scipy.stats' distribution objects cost tens of microseconds per call in argument checking; these are the same
special functions scipy.stats itself evaluates underneath, so the numbers are identical and a fit is ~100x
cheaper. Quantiles depend only on the level and the degrees of freedom, which repeat from fit to fit, so they
are cached. Degrees of freedom are passed as floats: an integer argument makes scipy cast, which doubles the
cost of the call.
"""

from __future__ import annotations

from functools import lru_cache

from scipy import special


@lru_cache(maxsize=256)
def z_quantile(p: float) -> float:
    return float(special.ndtri(p))


def z_two_sided_p(z: float) -> float:
    return float(2 * special.ndtr(-abs(z)))


@lru_cache(maxsize=1024)
def t_quantile(p: float, df: float) -> float:
    return float(special.stdtrit(float(df), p))


def t_two_sided_p(t: float, df: float) -> float:
    return float(2 * special.stdtr(float(df), -abs(t)))


def chi2_sf(q: float, df: float) -> float:
    return float(special.chdtrc(float(df), q))


@lru_cache(maxsize=1024)
def chi2_ppf(p: float, df: float) -> float:
    return float(special.chdtri(float(df), 1 - p))


@lru_cache(maxsize=1024)
def chi2_isf(p: float, df: float) -> float:
    return float(special.chdtri(float(df), p))
