"""Confidence intervals and tests for a pooled estimate, and for a single study's estimate."""

from __future__ import annotations

import math

from . import dist


def critical_value(level: float = 0.95, df: float | None = None) -> float:
    """The two-sided critical value for `level`: the normal quantile, or Student's t with `df` degrees of
    freedom."""
    if df is None:
        return dist.z_quantile(0.5 + level / 2)
    return dist.t_quantile(0.5 + level / 2, df)


def wald(estimate: float, se: float, level: float = 0.95):
    """Normal-theory interval and z test: (low, high, z, p)."""
    crit = critical_value(level)
    z = estimate / se
    return estimate - crit * se, estimate + crit * se, z, dist.z_two_sided_p(z)


def t_based(estimate: float, se: float, df: int, level: float = 0.95):
    """t interval and test with `df` degrees of freedom: (low, high, t, p)."""
    crit = critical_value(level, df)
    t = estimate / se
    return estimate - crit * se, estimate + crit * se, t, dist.t_two_sided_p(t, df)


def prediction_interval(estimate: float, se: float, tau2: float, crit: float) -> tuple[float, float]:
    """estimate ± crit sqrt(tau² + SE²): where the true effect of a new study is expected to lie, as metafor's
    predict(); `crit` is the critical value of the fit's own interval."""
    half = crit * math.sqrt(tau2 + se * se)
    return estimate - half, estimate + half


def study_half_width(vi: float, level: float = 0.95) -> float:
    """The half-width z sqrt(vi) of one study's own normal (Wald) interval, with the exact normal quantile for
    `level`, as forest plots and RevMan's study rows show it."""
    return critical_value(level) * math.sqrt(vi)


def study_interval(yi: float, vi: float, level: float = 0.95) -> tuple[float, float]:
    """One study's own normal (Wald) interval yi ± z sqrt(vi) (see study_half_width)."""
    half = study_half_width(vi, level)
    return yi - half, yi + half


def excludes_null(low: float, high: float, null: float = 0.0) -> bool:
    """Whether the interval [low, high] lies wholly on one side of no effect (`null`, on the analysis scale: 0
    for differences and for log ratios)."""
    return low > null or high < null
