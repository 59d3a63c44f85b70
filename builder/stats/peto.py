"""Peto's one-step odds ratio (metafor's rma.peto)."""

from __future__ import annotations

import numpy as np

from . import dist
from .effects import EffectSizes, peto_log_odds_ratio
from .fit import NO_HETEROGENEITY, Fit, Heterogeneity, Pooled
from .heterogeneity import i2_h2_from_q
from .inference import wald


def peto_or(ai, n1i, ci, n2i, display: EffectSizes | None = None, level: float = 0.95) -> Fit:
    """Pooled Peto log odds ratio: Σ (O - E) / Σ V, with variance 1 / Σ V, a common-effect (fixed) model.

    O - E and V are each study's observed minus expected events in the experimental group and their
    hypergeometric variance (see `peto_log_odds_ratio`). No continuity correction is needed: a study with a
    single zero cell has V > 0. A study with no events, or only events, in both groups has V = 0, carries no
    information and is left out (NaN weight, not counted in k).

    Heterogeneity is metafor's: Q = Σ (O - E)² / V - (Σ (O - E))² / Σ V over the studies with V > 0, which is
    Cochran's Q of the per-study Peto log odds ratios about the pooled one with weights V; df = (studies with
    V > 0) - 1.

    `display`, the per-study effect sizes the forest plot shows, defaults to the per-study Peto log odds ratios.
    It does not enter any number here, but it must flag the same studies estimable: metafor takes Q from the
    cells and Q's degrees of freedom from the per-study estimates, which agree only then.

    Differences from metafor's defaults (the values match rma.peto(add=c(0, 0), drop00=c(TRUE, TRUE))): with its
    default drop00=TRUE (which it expands to c(TRUE, FALSE)) metafor keeps the double-zero studies in the pooled
    data, counts them in k and gives them weight 0%; the estimate, SE, Q and I² are the same.
    """
    o_minus_e, v = o_minus_e_and_variance(ai, n1i, ci, n2i)
    use = np.isfinite(v) & (v > 0)
    if display is None:
        display = peto_log_odds_ratio(ai, n1i, ci, n2i)
    if len(display) != len(ai):
        raise ValueError("display has a different number of studies")
    if not np.array_equal(display.estimable, use):
        raise ValueError("display must flag as estimable exactly the studies with events and non-events")
    if not use.any():
        raise ValueError("the Peto odds ratio is not estimable: no study has both events and non-events")
    return peto_pooled(np.where(use, o_minus_e, np.nan), np.where(use, v, np.nan), level)


def o_minus_e_and_variance(ai, n1i, ci, n2i) -> tuple[np.ndarray, np.ndarray]:
    """Each 2x2 table's O - E (observed minus expected events in the experimental group) and its
    hypergeometric variance V; V = 0 (NaN O - E) for a study with no events, or only events, in both groups."""
    ai, n1i, ci, n2i = (np.asarray(x, dtype=float) for x in (ai, n1i, ci, n2i))
    n = n1i + n2i
    events, non_events = ai + ci, n1i - ai + n2i - ci
    with np.errstate(divide="ignore", invalid="ignore"):
        o_minus_e = ai - events * n1i / n
        v = events * non_events * (n1i / n) * (n2i / n) / (n - 1)
    return o_minus_e, v


def peto_pooled(o_minus_e, v, level: float = 0.95) -> Fit:
    """Peto's one-step pooled log ratio from each study's O - E and variance V, however they were obtained: from
    a 2x2 table (`peto_or`; a log odds ratio) or as a study reports them from a log-rank test (a log hazard
    ratio; RevMan's "O - E and Variance" data). The estimate is Σ (O - E) / Σ V with variance 1 / Σ V, and Q is
    Σ (O - E)² / V - (Σ (O - E))² / Σ V on k - 1 degrees of freedom. This equals inverse-variance fixed-effect
    pooling of yi = (O - E) / V with vi = 1 / V, as metafor's rma(yi, vi, method = "FE") computes it. A study
    without a positive, finite V is left out (NaN weight, not counted in k)."""
    o_minus_e, v = np.asarray(o_minus_e, dtype=float), np.asarray(v, dtype=float)
    use = np.isfinite(v) & (v > 0) & np.isfinite(o_minus_e)
    if not use.any():
        raise ValueError("the Peto estimate is not estimable: no study has a positive variance")
    n_studies = len(v)
    o_minus_e, v = o_minus_e[use], v[use]
    total_v = float(v.sum())
    estimate = float(o_minus_e.sum() / total_v)
    se = float(np.sqrt(1 / total_v))
    low, high, z, p = wald(estimate, se, level)
    weights = np.full(n_studies, np.nan)
    weights[use] = 100 * v / total_v
    k = int(use.sum())
    if k > 1:
        q = max(0.0, float(np.sum(o_minus_e**2 / v) - o_minus_e.sum() ** 2 / total_v))
        q_df = k - 1
        q_p = dist.chi2_sf(q, q_df)
        heterogeneity = Heterogeneity.from_q(q, q_df, q_p, *i2_h2_from_q(q, q_df))
    else:
        heterogeneity = NO_HETEROGENEITY
    return Fit(
        model="fixed",
        method="Peto",
        ci_method="wald",
        k=k,
        pooled=Pooled(estimate=estimate, se=se, ci_low=low, ci_high=high, statistic=z, df=None, p=p),
        heterogeneity=heterogeneity,
        weights=weights,
    )
