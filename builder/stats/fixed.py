"""Inverse-variance fixed-effect (common-effect) model."""

from __future__ import annotations

import math

import numpy as np

from . import dist, kernel
from .effects import EffectSizes
from .fit import NO_HETEROGENEITY, Fit, Heterogeneity, Pooled
from .heterogeneity import i2_h2_from_q
from .inference import wald


def fixed_iv(es: EffectSizes, level: float = 0.95) -> Fit:
    ok = es.estimable
    studies = kernel.select(es.yi, es.vi, ok)
    if studies.k == 0:
        raise ValueError("no estimable study to pool")
    k = studies.k
    w, sw, estimate, q = studies.at(0.0)
    se = math.sqrt(1 / sw)
    low, high, z, p = wald(estimate, se, level)
    q, df = max(0.0, q), k - 1  # Cochran's Q about the estimate, as cochran_q
    q_p = dist.chi2_sf(q, df) if df > 0 else float("nan")
    i2, h2 = i2_h2_from_q(q, df)
    if k == len(ok):
        weights = studies.scaled(w, 100 / sw)
    else:
        weights = np.full(len(es), np.nan)
        weights[ok] = studies.scaled(w, 100 / sw)
    return Fit(
        model="fixed",
        method="IV",
        ci_method="wald",
        k=k,
        pooled=Pooled(estimate=estimate, se=se, ci_low=low, ci_high=high, statistic=z, df=None, p=p),
        heterogeneity=Heterogeneity.from_q(q, df, q_p, i2, h2) if k > 1 else NO_HETEROGENEITY,
        weights=weights,
    )
