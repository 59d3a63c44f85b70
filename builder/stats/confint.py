"""Confidence intervals for the heterogeneity parameters: the Q-profile interval for tau² (Viechtbauer 2007),
as metafor's confint() for an intercept-only random-effects model (type "QP"), with the matching I² and H²
intervals.

The generalised Q statistic Q(tau²), with weights 1/(vi + tau²) about the weighted mean, follows a chi-squared
distribution with k - 1 df at the true tau², and decreases from Cochran's Q at tau² = 0 towards 0 as tau² grows.
The interval is {tau² >= 0 : chi2_lower <= Q(tau²) <= chi2_upper}, with chi2_lower/upper the alpha/2 and 1 - alpha/2
quantiles:
  - the upper limit solves Q(tau²) = chi2_lower; if Q(0) < chi2_lower already, both limits are 0 (the data are
    more homogeneous than expected even without heterogeneity: metafor reports the interval as "null");
  - the lower limit solves Q(tau²) = chi2_upper, or is 0 when Q(0) < chi2_upper.
Each limit is found by Newton's method from tau² = 0 (tau2.q_root: Q is convex, so the steps never overshoot).
I² and H² limits are the same monotone functions of the tau² limits as the point estimates are of tau² in a
random-effects fit: I² = 100 tau² / (s² + tau²), H² = tau² / s² + 1, with s² the typical within-study variance.

One difference from metafor, which only matters for extreme data: metafor searches for the limits within
[0, max(100, 10 * tau²-hat)] and, when a limit lies beyond, reports the end of that range marked ">". We keep
extending the search until the root is bracketed, so the limit is always the actual root.
"""

from __future__ import annotations

from . import dist, kernel
from .effects import EffectSizes
from .heterogeneity import typical_variance
from .tau2 import ESTIMATORS, q_root


def tau2_ci(es: EffectSizes, tau2_method: str, level: float = 0.95) -> tuple[float, float, float, float, float, float]:
    """(tau2_low, tau2_high, i2_low, i2_high, h2_low, h2_high) over the estimable studies; I² in percent.

    The Q-profile interval does not depend on the estimator of tau² (only the point estimate does);
    `tau2_method` names the estimator of the fit the interval goes with and is checked, nothing more.
    """
    if tau2_method not in ESTIMATORS:
        raise ValueError(f"unknown tau² estimator {tau2_method!r}; one of {sorted(ESTIMATORS)}")
    ok = es.estimable
    yi, vi = es.yi[ok], es.vi[ok]
    k = len(yi)
    if k < 2:
        raise ValueError(f"a confidence interval for tau² needs at least 2 studies; this analysis has {k}")
    return q_profile(kernel.prepare(yi, vi), level, typical_variance(vi))


def q_profile(studies: kernel.Studies, level: float, s2: float) -> tuple[float, float, float, float, float, float]:
    """tau2_ci for two or more studies, given s² (the typical within-study variance)."""
    df = studies.k - 1
    alpha = 1 - level
    chi2_lower = dist.chi2_ppf(alpha / 2, df)
    chi2_upper = dist.chi2_isf(alpha / 2, df)
    q0 = studies.q_sums(0.0)  # Q(0) and Q'(0), shared by both searches
    high = 0.0 if q0[0] < chi2_lower else q_root(studies, chi2_lower, q0)
    low = 0.0 if q0[0] < chi2_upper else q_root(studies, chi2_upper, q0)
    return (low, high, 100 * low / (s2 + low), 100 * high / (s2 + high), low / s2 + 1, high / s2 + 1)
