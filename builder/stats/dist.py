"""The few distribution functions the engine needs, called through scipy.special directly.

scipy.stats' distribution objects cost tens of microseconds per call in argument checking; these are the same
special functions scipy.stats itself evaluates underneath, so the numbers are identical and a fit is ~100x
cheaper.
"""

from __future__ import annotations

from scipy import special


def z_quantile(p: float) -> float:
    return float(special.ndtri(p))


def z_two_sided_p(z: float) -> float:
    return float(2 * special.ndtr(-abs(z)))


def t_quantile(p: float, df: float) -> float:
    return float(special.stdtrit(df, p))


def t_two_sided_p(t: float, df: float) -> float:
    return float(2 * special.stdtr(df, -abs(t)))


def chi2_sf(q: float, df: float) -> float:
    return float(special.chdtrc(df, q))


def chi2_ppf(p: float, df: float) -> float:
    return float(special.chdtri(df, 1 - p))


def chi2_isf(p: float, df: float) -> float:
    return float(special.chdtri(df, p))
