"""Inverse-variance fixed-effect (common-effect) model."""

from __future__ import annotations

import math

import numpy as np

from . import dist, kernel
from .effects import EffectSizes
from .fit import Fit, make_fit
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
    several = k > 1
    return make_fit(
        {
            "model": "fixed",
            "method": "IV",
            "ci_method": "wald",
            "k": k,
            "estimate": estimate,
            "se": se,
            "ci_low": low,
            "ci_high": high,
            "statistic": z,
            "df": None,
            "p": p,
            "weights": weights,
            "tau2": None,
            "q": q if several else None,
            "q_df": df if several else None,
            "q_p": q_p if several else None,
            "i2": i2 if several else None,
            "h2": h2 if several else None,
            "i2_basis": "Q" if several else None,
            "pi_low": None,
            "pi_high": None,
            "note": None,
            "i2_q": None,
            "h2_q": None,
            "tau2_ci_low": None,
            "tau2_ci_high": None,
            "i2_ci_low": None,
            "i2_ci_high": None,
            "h2_ci_low": None,
            "h2_ci_high": None,
        }
    )
