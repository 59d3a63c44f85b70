"""Confidence intervals and tests for a pooled estimate."""

from __future__ import annotations

from . import dist


def wald(estimate: float, se: float, level: float = 0.95):
    """Normal-theory interval and z test: (low, high, z, p)."""
    crit = dist.z_quantile(0.5 + level / 2)
    z = estimate / se
    return estimate - crit * se, estimate + crit * se, z, dist.z_two_sided_p(z)


def t_based(estimate: float, se: float, df: int, level: float = 0.95):
    """t interval and test with `df` degrees of freedom: (low, high, t, p)."""
    crit = dist.t_quantile(0.5 + level / 2, df)
    t = estimate / se
    return estimate - crit * se, estimate + crit * se, t, dist.t_two_sided_p(t, df)
