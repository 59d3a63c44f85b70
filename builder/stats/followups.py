"""Analyses that follow a fitted model, as metafor's methods on an rma fit.

Each takes the effect sizes and either a `refit` function -- the model to apply to a subset of studies, e.g.
`lambda e: random_effects(e, "REML", "hksj")` -- or the fit itself. A Fit returned by `refit` has its weights
aligned with the subset it was given, not with the full set of studies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from .dist import t_quantile, t_two_sided_p, z_quantile, z_two_sided_p
from .effects import EffectSizes
from .fit import Fit
from .heterogeneity import cochran_q, i2_h2_from_q
from .tau2 import ESTIMATORS

# A refit takes the subset of the studies it was given (an EffectSizes or a subclass carrying more per-study
# data) and gives the fit, or None where it has none.
E = TypeVar("E", bound=EffectSizes)
Refit = Callable[[E], Fit | None]

# Egger's test has little power with few studies and is not recommended below 10 (Cochrane Handbook 13.3.5.4).
MIN_K_EGGER = 10


def _try(refit: Refit[E], es: E) -> Fit | None:
    """The refit, or None when there is nothing to fit or the model is undefined for this subset (ValueError,
    e.g. HKSJ with identical estimates) -- metafor's leave1out and cumul likewise give NA where a refit fails."""
    if not es.estimable.any():
        return None
    try:
        return refit(es)
    except ValueError:
        return None


def leave_one_out(es: E, refit: Refit[E]) -> list[Fit | None]:
    """The model refitted without each study in turn (metafor's leave1out), aligned with `es`.

    None where the left-out study is not estimable (removing it changes nothing; metafor gives NA), where no
    estimable study remains, or where `refit` raises ValueError for the remaining studies.
    """
    out: list[Fit | None] = []
    for i in range(len(es)):
        keep = np.ones(len(es), dtype=bool)
        keep[i] = False
        out.append(_try(refit, es.subset(keep)) if es.estimable[i] else None)
    return out


def cumulative(es: E, order: Sequence[int], refit: Refit[E]) -> list[Fit | None]:
    """The model fitted to the first 1, 2, ... studies of `order` (indices into `es`, e.g. by publication date),
    as metafor's cumul; one entry per position of `order`.

    The j-th fit is given es.subset(order[:j + 1]), so its weights follow `order`. None at a position whose study
    is not estimable (the fit would repeat the previous one; metafor gives NA there) or where `refit` raises
    ValueError.
    """
    index = np.asarray(order, dtype=int)
    if sorted(index.tolist()) != list(range(len(es))):
        raise ValueError("`order` must be a permutation of the study indices")
    return [_try(refit, es.subset(index[: j + 1])) if es.estimable[index[j]] else None for j in range(len(index))]


@dataclass(frozen=True)
class SubgroupResult:
    """Per-subgroup fits and the test for subgroup differences (RevMan's and meta's "test for subgroup differences").

    Q_between is Cochran's Q of the subgroup estimates with inverse-variance weights 1/SE², about their weighted
    mean, with G - 1 df (G: subgroups with a fit); i2 = (Q - df) / Q truncated at 0, in percent. This is a
    fixed-effect meta-analysis of the subgroup estimates (metafor: rma(yi = estimates, sei = ses, method = "FE")).
    The SEs are those of the subgroup fits, so they follow the chosen model and CI method (HKSJ-scaled under HKSJ).
    """

    labels: tuple  # distinct group labels, in order of first appearance
    fits: tuple[Fit | None, ...]  # one per label; None where the subgroup has no estimable study (or
    # `refit` raises ValueError for it); such subgroups are left out of the test
    q: float | None  # None with fewer than two subgroups to compare
    df: int | None
    p: float | None
    i2: float | None


def subgroups(es: E, groups: Sequence, refit: Refit[E]) -> SubgroupResult:
    groups = list(groups)
    if len(groups) != len(es):
        raise ValueError(f"{len(groups)} group labels for {len(es)} studies")
    labels = tuple(dict.fromkeys(groups))
    fits = []
    for label in labels:
        part = es.subset(np.array([g == label for g in groups]))
        fits.append(_try(refit, part))
    fitted = [f for f in fits if f is not None]
    if len(fitted) < 2:
        return SubgroupResult(labels, tuple(fits), None, None, None, None)
    estimates = np.array([f.estimate for f in fitted])
    variances = np.array([f.se for f in fitted]) ** 2
    if not np.all(variances > 0):
        raise ValueError("a subgroup estimate has a standard error of 0; subgroups cannot be compared")
    q, df, p = cochran_q(estimates, variances)
    i2, _ = i2_h2_from_q(q, df)
    return SubgroupResult(labels, tuple(fits), q, df, p, i2)


@dataclass(frozen=True)
class EggerResult:
    """Regression test for funnel-plot asymmetry (metafor's regtest(model="rma", predictor="sei")).

    The model of the fit, with the standard error as a moderator: yi = b0 + b1 sei, with tau² re-estimated by the
    same estimator (as a residual heterogeneity) for a random-effects fit, none for a fixed-effect fit, and the
    same inference (z, or Knapp-Hartung t with k - 2 df). The test is on b1; b0 is the "limit estimate", the
    effect expected in a study with SE -> 0.
    """

    k: int
    statistic: float  # z, or t under Knapp-Hartung
    df: int | None  # None for z
    p: float
    slope: float
    slope_se: float
    limit_estimate: float
    limit_se: float
    limit_ci_low: float
    limit_ci_high: float
    tau2: float | None  # residual tau²; None for a fixed-effect fit


def egger(es: EffectSizes, fit: Fit, level: float = 0.95) -> EggerResult:
    ok = es.estimable
    yi, vi = es.yi[ok], es.vi[ok]
    k = len(yi)
    if k < MIN_K_EGGER:
        raise ValueError(f"Egger's test needs at least {MIN_K_EGGER} studies; this analysis has {k}")
    X = np.column_stack([np.ones(k), np.sqrt(vi)])
    if fit.model == "random":
        tau2 = ESTIMATORS[fit.method](yi, vi, X)
    else:  # inverse-variance or Mantel-Haenszel common effect: the common-effect regression
        tau2 = None
    w = 1 / (vi + (tau2 or 0.0))
    wx = w[:, None] * X
    cov = np.linalg.inv(X.T @ wx)
    beta = cov @ (wx.T @ yi)
    df = None
    if fit.ci_method in ("hksj", "hksj-adhoc"):
        df = k - 2
        rss = float(np.sum(w * (yi - X @ beta) ** 2))
        scale = 0.0 if rss <= np.finfo(float).eps else rss / df
        if fit.ci_method == "hksj-adhoc":
            scale = max(1.0, scale)
        elif scale == 0:
            raise ValueError("Egger's test with HKSJ is undefined here: the regression fits the estimates exactly")
        cov = cov * scale
    se = np.sqrt(np.diag(cov))
    statistic = float(beta[1] / se[1])
    if df is not None:
        crit, p = t_quantile(0.5 + level / 2, df), t_two_sided_p(statistic, df)
    else:
        crit, p = z_quantile(0.5 + level / 2), z_two_sided_p(statistic)
    return EggerResult(
        k,
        statistic,
        df,
        p,
        float(beta[1]),
        float(se[1]),
        float(beta[0]),
        float(se[0]),
        float(beta[0] - crit * se[0]),
        float(beta[0] + crit * se[0]),
        tau2,
    )


@dataclass(frozen=True)
class FunnelData:
    """What a funnel plot draws (metafor's funnel() with yaxis="sei"): each estimable study at (yi, se), and the
    pseudo-confidence region centre ± z * sqrt(se² + extra) for se from 0 to the largest se, where extra is tau²
    with add_tau2 and 0 otherwise (metafor's default). The region's edges are straight lines without tau² and
    curves with it, so they are given on a grid."""

    yi: np.ndarray  # aligned with the effect sizes; NaN where not estimable
    se: np.ndarray
    centre: float  # the pooled estimate of the fit
    se_grid: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float


def funnel_data(
    es: EffectSizes, fit: Fit, level: float = 0.95, add_tau2: bool = False, points: int = 101
) -> FunnelData:
    ok = es.estimable
    if not ok.any():
        raise ValueError("no estimable study for a funnel plot")
    yi = np.where(ok, es.yi, np.nan)
    se = np.where(ok, np.sqrt(es.vi), np.nan)
    grid = np.linspace(0.0, float(np.nanmax(se)), points)
    extra = (fit.tau2 or 0.0) if add_tau2 else 0.0
    half = z_quantile(0.5 + level / 2) * np.sqrt(grid**2 + extra)
    return FunnelData(yi, se, fit.estimate, grid, fit.estimate - half, fit.estimate + half, level)
