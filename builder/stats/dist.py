"""The few distribution functions the engine needs, called through scipy.special directly.

scipy.stats' distribution objects cost tens of microseconds per call in argument checking; these are the same
special functions scipy.stats itself evaluates underneath, so the numbers are identical and a fit is ~100x
cheaper. Quantiles depend only on the level and the degrees of freedom, which repeat from fit to fit, so they
are cached. Degrees of freedom are passed as floats: an integer argument makes scipy cast, which doubles the
cost of the call.

The t and chi² tail probabilities, which change with every fit, go through scipy.special.cython_special: the
same C functions as the ufuncs stdtr and chdtrc (scipy generates both from one list: Boost's Student t CDF and
xsf's chdtrc), taking and returning Python floats, without the ufunc machinery of 0-d arrays and type
resolution that makes each scalar call cost about a microsecond (0.5 and 0.1 µs this way). stdtr is a Cython
fused function, so its double version is picked once here rather than dispatched on every call.
tests/test_dist.py checks both against the ufuncs. The normal tail stays on the ufunc ndtr, which is cheap.
"""

from __future__ import annotations

from functools import lru_cache

from scipy import special
from scipy.special import cython_special

_stdtr = cython_special.stdtr["double"]
_chdtrc = cython_special.chdtrc


@lru_cache(maxsize=256)
def z_quantile(p: float) -> float:
    return float(special.ndtri(p))


def z_two_sided_p(z: float) -> float:
    return float(2 * special.ndtr(-abs(z)))


@lru_cache(maxsize=1024)
def t_quantile(p: float, df: float) -> float:
    return float(special.stdtrit(float(df), p))


def t_two_sided_p(t: float, df: float) -> float:
    return 2.0 * _stdtr(df, -abs(t))


def chi2_sf(q: float, df: float) -> float:
    return _chdtrc(df, q)


@lru_cache(maxsize=1024)
def chi2_ppf(p: float, df: float) -> float:
    return float(special.chdtri(float(df), 1 - p))


@lru_cache(maxsize=1024)
def chi2_isf(p: float, df: float) -> float:
    return float(special.chdtri(float(df), p))
