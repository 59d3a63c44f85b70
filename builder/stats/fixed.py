"""Inverse-variance fixed-effect (common-effect) model."""

from __future__ import annotations

import numpy as np

from .effects import EffectSizes
from .fit import Fit
from .heterogeneity import cochran_q, i2_h2_from_q
from .inference import wald


def fixed_iv(es: EffectSizes, level: float = 0.95) -> Fit:
    ok = es.estimable
    yi, vi = es.yi[ok], es.vi[ok]
    if len(yi) == 0:
        raise ValueError("no estimable study to pool")
    w = 1 / vi
    estimate = float(np.sum(w * yi) / np.sum(w))
    se = float(np.sqrt(1 / np.sum(w)))
    low, high, z, p = wald(estimate, se, level)
    q, df, q_p = cochran_q(yi, vi, estimate)
    i2, h2 = i2_h2_from_q(q, df)
    weights = np.full(len(es), np.nan)
    weights[ok] = 100 * w / np.sum(w)
    k = len(yi)
    return Fit("fixed", "IV", "wald", k, estimate, se, low, high, z, None, p, weights, None,
               q if k > 1 else None, df if k > 1 else None, q_p if k > 1 else None,
               i2 if k > 1 else None, h2 if k > 1 else None, "Q" if k > 1 else None)
