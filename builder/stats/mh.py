"""Mantel-Haenszel odds ratio with the Robins-Breslow-Greenland variance (metafor's rma.mh)."""

from __future__ import annotations

import numpy as np

from .effects import EffectSizes
from .fit import NO_HETEROGENEITY, Fit, Heterogeneity, Pooled
from .heterogeneity import cochran_q, i2_h2_from_q
from .inference import wald


def mantel_haenszel_or(ai, n1i, ci, n2i, display: EffectSizes, add: float = 0.0, level: float = 0.95) -> Fit:
    """Pooled log odds ratio.

    `add` is put in every cell of studies with a zero cell inside the pooled estimate; current guidance is 0
    (no correction); RevMan 5 used 0.5. Studies with no events or only events in both groups are left out of
    the pooled estimate (they carry no information on the OR). Heterogeneity (Q, I²) uses the inverse-variance
    weights of the per-study estimates in `display`, as metafor and RevMan do.
    """
    a, b, c, d, use = _mh_cells(ai, n1i, ci, n2i, add)
    n = a + b + c + d
    r_i, s_i = a * d / n, b * c / n
    r, s = r_i.sum(), s_i.sum()
    if r == 0 or s == 0:
        raise ValueError("the Mantel-Haenszel odds ratio is not estimable: no information in any study")
    estimate = float(np.log(r / s))
    p_i, q_i = (a + d) / n, (b + c) / n
    var = np.sum(p_i * r_i) / (2 * r**2) + np.sum(p_i * s_i + q_i * r_i) / (2 * r * s) + np.sum(q_i * s_i) / (2 * s**2)
    return _mh_fit(estimate, float(var), s_i, use, display, level, "odds ratio")


# All three measures follow the same conventions (metafor's rma.mh with
# add=c(1/2, add), to=c("only0", "only0" or "none"), drop00=c(TRUE, TRUE)): studies with no events or only events in
# both groups are left out of the pooled estimate, `add` goes into every cell of the remaining studies with a
# zero cell, and Q and I² come from the inverse-variance weights of the per-study estimates in `display`.


def _mh_cells(ai, n1i, ci, n2i, add: float):
    """Cells of the studies in the pooled estimate (after `add`), and the mask of those studies."""
    ai, n1i, ci, n2i = (np.asarray(x, dtype=float) for x in (ai, n1i, ci, n2i))
    bi, di = n1i - ai, n2i - ci
    use = ~(((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0)))
    zero = np.minimum.reduce([ai, bi, ci, di]) == 0
    shift = np.where(zero & use, add, 0.0)
    a, b, c, d = ((x + shift)[use] for x in (ai, bi, ci, di))
    return a, b, c, d, use


def _mh_fit(
    estimate: float,
    var: float,
    weights_used: np.ndarray,
    use: np.ndarray,
    display: EffectSizes,
    level: float,
    what: str,
) -> Fit:
    if not (np.isfinite(var) and var > 0):
        raise ValueError(f"the Mantel-Haenszel {what} is not estimable: its variance is {var}")
    se = float(np.sqrt(var))
    low, high, z, p = wald(estimate, se, level)
    weights = np.full(len(use), np.nan)
    weights[use] = 100 * weights_used / weights_used.sum()
    ok = display.estimable
    k_het = int(ok.sum())
    if k_het > 1:
        q, q_df, q_p = cochran_q(display.yi[ok], display.vi[ok], estimate)
        heterogeneity = Heterogeneity.from_q(q, q_df, q_p, *i2_h2_from_q(q, q_df))
    else:
        heterogeneity = NO_HETEROGENEITY
    return Fit(
        model="fixed",
        method="MH",
        ci_method="wald",
        k=int(use.sum()),
        pooled=Pooled(estimate=estimate, se=se, ci_low=low, ci_high=high, statistic=z, df=None, p=p),
        heterogeneity=heterogeneity,
        weights=weights,
    )


def mantel_haenszel_rr(ai, n1i, ci, n2i, display: EffectSizes, add: float = 0.0, level: float = 0.95) -> Fit:
    """Pooled log risk ratio, Mantel-Haenszel, with the Greenland-Robins variance.

    RR = Σ a n2 / N ÷ Σ c n1 / N; weights c n1 / N. Not estimable (ValueError) when no study in the pooled
    estimate has an event in one of the groups. `display` is the per-study log risk ratios (log_risk_ratio).
    """
    a, b, c, d, use = _mh_cells(ai, n1i, ci, n2i, add)
    n1, n2 = a + b, c + d
    n = n1 + n2
    r, s = np.sum(a * n2 / n), np.sum(c * n1 / n)
    if a.sum() == 0 or c.sum() == 0:
        raise ValueError("the Mantel-Haenszel risk ratio is not estimable: no events in one group of every study")
    estimate = float(np.log(r / s))
    var = float(np.sum(n1 * n2 * (a + c) / n**2 - a * c / n) / (r * s))
    return _mh_fit(estimate, var, c * n1 / n, use, display, level, "risk ratio")


def mantel_haenszel_rd(ai, n1i, ci, n2i, display: EffectSizes, add: float = 0.0, level: float = 0.95) -> Fit:
    """Pooled risk difference, Mantel-Haenszel, with the Sato / Greenland-Robins variance.

    RD = Σ (a n2 - c n1) / N ÷ Σ n1 n2 / N; weights n1 n2 / N. `display` is the per-study risk differences
    (risk_difference). Not estimable (ValueError) when the variance is 0, e.g. every study 0% vs 100%.
    """
    a, b, c, d, use = _mh_cells(ai, n1i, ci, n2i, add)
    n1, n2 = a + b, c + d
    n = n1 + n2
    w = n1 * n2 / n
    if not len(w):
        raise ValueError("the Mantel-Haenszel risk difference is not estimable: no study left to pool")
    estimate = float(np.sum((a * n2 - c * n1) / n) / w.sum())
    numerator = (
        estimate * np.sum(c * (n1 / n) ** 2 - a * (n2 / n) ** 2 + (n1 / n) * (n2 / n) * (n2 - n1) / 2)
        + np.sum((a * d + b * c) / n) / 2
    )
    var = float(numerator / w.sum() ** 2)
    return _mh_fit(estimate, var, w, use, display, level, "risk difference")
