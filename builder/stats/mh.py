"""Mantel-Haenszel odds ratio with the Robins-Breslow-Greenland variance (metafor's rma.mh)."""

from __future__ import annotations

import numpy as np

from .effects import Correction, EffectSizes, corrections
from .fit import NO_HETEROGENEITY, Fit, Heterogeneity, Pooled
from .heterogeneity import cochran_q, i2_h2_from_q
from .inference import wald


def mantel_haenszel_or(ai, n1i, ci, n2i, display: EffectSizes, add: Correction = 0.0, level: float = 0.95) -> Fit:
    """Pooled log odds ratio.

    `add` is put in every cell of studies with a zero cell inside the pooled estimate; current guidance is 0
    (no correction); RevMan 5 used 0.5. Studies with no events or only events in both groups are left out of
    the pooled estimate (they carry no information on the OR: their a d and b c are both 0, so they would add
    nothing to the sums either, and metafor, which keeps them, only counts them in k). Heterogeneity (Q, I²)
    uses the inverse-variance weights of the per-study estimates in `display`, as metafor and RevMan do.
    """
    a, b, c, d, use = _mh_cells(ai, n1i, ci, n2i, add, keep_double_zero=False)
    n = a + b + c + d
    r_i, s_i = a * d / n, b * c / n
    r, s = r_i.sum(), s_i.sum()
    if r == 0 or s == 0:
        raise ValueError("the Mantel-Haenszel odds ratio is not estimable: no information in any study")
    estimate = float(np.log(r / s))
    p_i, q_i = (a + d) / n, (b + c) / n
    var = np.sum(p_i * r_i) / (2 * r**2) + np.sum(p_i * s_i + q_i * r_i) / (2 * r * s) + np.sum(q_i * s_i) / (2 * s**2)
    return _mh_fit(estimate, float(var), s_i, use, display, level, "odds ratio", double_zero(ai, n1i, ci, n2i))


# All three measures follow the same conventions (metafor's rma.mh with add=c(1/2, add), to=c("only0", "only0" or
# "none")): `add` goes into every cell of the studies in the pooled estimate that have a zero cell, and Q and I²
# come from the inverse-variance weights of the per-study estimates in `display`, leaving out studies with no
# events or only events in both groups (drop00[1] = TRUE). Those "double-zero" studies are left out of the pooled
# estimate by default (drop00[2] = TRUE, what this builder did before version 1.2 of a review); with
# keep_double_zero=True the risk ratio and the risk difference keep them in the Mantel-Haenszel sums, as metafor's
# default drop00[2] = FALSE does. A study without events in either group then adds nothing to the risk ratio's
# sums, but a study with only events adds n1 n2 / N to both, and every double-zero study adds its weight
# n1 n2 / N to the risk difference, whose value for it is 0.


def _mh_cells(ai, n1i, ci, n2i, add: Correction, keep_double_zero: bool):
    """Cells of the studies in the pooled estimate (after `add`, a number or TACC), and the mask of those
    studies."""
    ai, n1i, ci, n2i = (np.asarray(x, dtype=float) for x in (ai, n1i, ci, n2i))
    bi, di = n1i - ai, n2i - ci
    use = np.ones(len(ai), dtype=bool) if keep_double_zero else ~double_zero(ai, n1i, ci, n2i)
    zero = (np.minimum.reduce([ai, bi, ci, di]) == 0) & use
    add1, add2 = corrections(add, n1i, n2i)
    shift1, shift2 = np.where(zero, add1, 0.0), np.where(zero, add2, 0.0)
    a, b = ((x + shift1)[use] for x in (ai, bi))
    c, d = ((x + shift2)[use] for x in (ci, di))
    return a, b, c, d, use


def double_zero(ai, n1i, ci, n2i) -> np.ndarray:
    """The studies with no events in both groups or only events in both groups."""
    ai, n1i, ci, n2i = (np.asarray(x, dtype=float) for x in (ai, n1i, ci, n2i))
    return ((ai == 0) & (ci == 0)) | ((ai == n1i) & (ci == n2i))


def _mh_fit(
    estimate: float,
    var: float,
    weights_used: np.ndarray,
    use: np.ndarray,
    display: EffectSizes,
    level: float,
    what: str,
    double: np.ndarray,
) -> Fit:
    if not (np.isfinite(var) and var > 0):
        raise ValueError(f"the Mantel-Haenszel {what} is not estimable: its variance is {var}")
    se = float(np.sqrt(var))
    low, high, z, p = wald(estimate, se, level)
    weights = np.full(len(use), np.nan)
    weights[use] = 100 * weights_used / weights_used.sum()
    ok = display.estimable & ~double  # a double-zero study's own estimate never enters Q (metafor: drop00[1])
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


def mantel_haenszel_rr(
    ai,
    n1i,
    ci,
    n2i,
    display: EffectSizes,
    add: Correction = 0.0,
    level: float = 0.95,
    keep_double_zero: bool = False,
) -> Fit:
    """Pooled log risk ratio, Mantel-Haenszel, with the Greenland-Robins variance.

    RR = Σ a n2 / N ÷ Σ c n1 / N; weights c n1 / N. Not estimable (ValueError) when no study in the pooled
    estimate has an event in one of the groups. `display` is the per-study log risk ratios (log_risk_ratio).
    keep_double_zero: see above (metafor's default; False leaves them out, as RevMan does).
    """
    a, b, c, d, use = _mh_cells(ai, n1i, ci, n2i, add, keep_double_zero)
    n1, n2 = a + b, c + d
    n = n1 + n2
    r, s = np.sum(a * n2 / n), np.sum(c * n1 / n)
    if a.sum() == 0 or c.sum() == 0:
        raise ValueError("the Mantel-Haenszel risk ratio is not estimable: no events in one group of every study")
    estimate = float(np.log(r / s))
    var = float(np.sum(n1 * n2 * (a + c) / n**2 - a * c / n) / (r * s))
    return _mh_fit(estimate, var, c * n1 / n, use, display, level, "risk ratio", double_zero(ai, n1i, ci, n2i))


def mantel_haenszel_rd(
    ai,
    n1i,
    ci,
    n2i,
    display: EffectSizes,
    add: Correction = 0.0,
    level: float = 0.95,
    keep_double_zero: bool = False,
) -> Fit:
    """Pooled risk difference, Mantel-Haenszel, with the Sato / Greenland-Robins variance.

    RD = Σ (a n2 - c n1) / N ÷ Σ n1 n2 / N; weights n1 n2 / N. `display` is the per-study risk differences
    (risk_difference). Not estimable (ValueError) when the variance is 0, e.g. every study 0% vs 100%.
    keep_double_zero: see above (metafor's default and RevMan's: a double-zero study's risk difference is 0).
    """
    a, b, c, d, use = _mh_cells(ai, n1i, ci, n2i, add, keep_double_zero)
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
    return _mh_fit(estimate, var, w, use, display, level, "risk difference", double_zero(ai, n1i, ci, n2i))
