"""Confidence intervals and tests for a pooled estimate."""

from __future__ import annotations

from scipy import stats


def wald(estimate: float, se: float, level: float = 0.95):
    """Normal-theory interval and z test: (low, high, z, p)."""
    crit = stats.norm.ppf(0.5 + level / 2)
    z = estimate / se
    return estimate - crit * se, estimate + crit * se, z, float(2 * stats.norm.sf(abs(z)))


def t_based(estimate: float, se: float, df: int, level: float = 0.95):
    """t interval and test with `df` degrees of freedom: (low, high, t, p)."""
    crit = stats.t.ppf(0.5 + level / 2, df)
    t = estimate / se
    return estimate - crit * se, estimate + crit * se, t, float(2 * stats.t.sf(abs(t), df))
