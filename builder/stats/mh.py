"""Mantel-Haenszel odds ratio with the Robins-Breslow-Greenland variance (metafor's rma.mh)."""

from __future__ import annotations

import numpy as np

from .effects import EffectSizes
from .fit import Fit
from .heterogeneity import cochran_q, i2_h2_from_q
from .inference import wald


def mantel_haenszel_or(ai, n1i, ci, n2i, display: EffectSizes, add: float = 0.0, level: float = 0.95) -> Fit:
    """Pooled log odds ratio.

    `add` is put in every cell of studies with a zero cell inside the pooled estimate; current guidance is 0
    (no correction); RevMan 5 used 0.5. Studies with no events or only events in both groups are left out of
    the pooled estimate (they carry no information on the OR). Heterogeneity (Q, I²) uses the inverse-variance
    weights of the per-study estimates in `display`, as metafor and RevMan do.
    """
    ai, n1i, ci, n2i = (np.asarray(x, dtype=float) for x in (ai, n1i, ci, n2i))
    bi, di = n1i - ai, n2i - ci
    double = ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))
    use = ~double
    zero = np.minimum.reduce([ai, bi, ci, di]) == 0
    shift = np.where(zero & use, add, 0.0)
    a, b, c, d = ai + shift, bi + shift, ci + shift, di + shift
    a, b, c, d = a[use], b[use], c[use], d[use]
    n = a + b + c + d
    r_i, s_i = a * d / n, b * c / n
    r, s = r_i.sum(), s_i.sum()
    if r == 0 or s == 0:
        raise ValueError("the Mantel-Haenszel odds ratio is not estimable: no information in any study")
    estimate = float(np.log(r / s))
    p_i, q_i = (a + d) / n, (b + c) / n
    var = (np.sum(p_i * r_i) / (2 * r**2) + np.sum(p_i * s_i + q_i * r_i) / (2 * r * s)
           + np.sum(q_i * s_i) / (2 * s**2))
    se = float(np.sqrt(var))
    low, high, z, p = wald(estimate, se, level)
    weights = np.full(len(ai), np.nan)
    weights[use] = 100 * s_i / s
    ok = display.estimable
    k_het = int(ok.sum())
    if k_het > 1:
        q, q_df, q_p = cochran_q(display.yi[ok], display.vi[ok], estimate)
        i2, h2 = i2_h2_from_q(q, q_df)
    else:
        q = q_df = q_p = i2 = h2 = None
    return Fit("fixed", "MH", "wald", int(use.sum()), estimate, se, low, high, z, None, p, weights, None,
               q, q_df, q_p, i2, h2, "Q" if k_het > 1 else None)
