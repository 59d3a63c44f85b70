"""Case diagnostics of an inverse-variance model, as metafor's influence() and baujat() on an rma.uni fit.

Every measure compares the fit of all k estimable studies with the same model refitted without study i (the
leave-one-out refits of builder.stats.followups, same tau² estimator and interval), for an intercept-only model
(p = 1 parameter):

  mu, vb            the pooled estimate and its variance (Knapp-Hartung-scaled under HKSJ);
  mu(-i), vb(-i)    the same without study i, with tau²(-i), Cochran's Q(-i) and the refit's Knapp-Hartung
                    factor s2w(-i) = vb(-i) * sum over the other studies of 1 / (vj + tau²(-i)) (1 under Wald);
  w, hat            the fit's weights 1 / (vi + tau²) and hat values hat_i = w_i / sum(w);

  rstudent_i  = (yi - mu(-i)) / sqrt(s2w(-i) (vi + tau²(-i)) + vb(-i))   externally standardised residual
  dffits_i    = (mu - mu(-i)) / sqrt(s2w(-i) hat_i (vi + tau²(-i)))
  dfbetas_i   = (mu - mu(-i)) / sqrt(s2w(-i) / sum over all k studies of 1 / (vj + tau²(-i)))
  cook_i      = (mu - mu(-i))² / vb
  cov_ratio_i = vb(-i) / vb

A study is flagged as influential, as metafor marks it with "*", when any of |dffits| > 3 sqrt(p / (k - p)),
the chi-square(p) distribution function at Cook's distance > 0.5, hat > 3 p / k, or |dfbetas| > 1.

The Baujat plot puts each study at x = (yi - mu)² / (vi + tau²), its contribution to the (generalised)
Q statistic, and y = (mu(-i) - mu)² / vb(-i), the influence of leaving it out on the pooled result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from .effects import EffectSizes
from .fit import Fit
from .fixed import fixed_iv
from .followups import Refit, leave_one_out
from .random import random_effects

# With two studies every refit is one study: no heterogeneity is left to estimate, and the measures say little.
# metafor computes them from k = 2 on; here they start at three studies with an estimable effect.
MIN_K_INFLUENCE = 3

# metafor sets a residual smaller than this (times machine epsilon) to 0.
RESIDUAL_ZERO = 100 * float(np.finfo(float).eps)


def same_model(fit: Fit) -> Refit[EffectSizes]:
    """The refit of `fit`'s inverse-variance model (metafor's rma.uni with the same method and test) on a subset
    of studies. ValueError for a Mantel-Haenszel or Peto fit: metafor's influence() is for rma.uni models."""
    if fit.model == "random":
        method, ci_method = fit.method, fit.ci_method
        return lambda es: random_effects(es, method, ci_method, tau2_interval=False)
    if fit.method == "IV":
        return fixed_iv
    raise ValueError(
        f"the diagnostics need an inverse-variance model; this analysis pools with {fit.method}, "
        "whose fit has no study-level residuals to diagnose"
    )


@dataclass(frozen=True)
class Influence:
    """metafor's influence() measures, aligned with the effect sizes given (NaN, and False for `flagged`, where a
    study is not estimable or its refit failed), and the Baujat plot's coordinates."""

    k: int  # estimable studies
    rstudent: np.ndarray
    dffits: np.ndarray
    cook: np.ndarray
    cov_ratio: np.ndarray
    tau2_deleted: np.ndarray
    q_deleted: np.ndarray
    hat: np.ndarray
    weight: np.ndarray  # percent
    dfbetas: np.ndarray
    flagged: np.ndarray  # bool: metafor's "*"
    baujat_x: np.ndarray  # contribution to Q
    baujat_y: np.ndarray  # influence on the pooled result
    estimate_deleted: np.ndarray


def _refit_sums(es: EffectSizes, f: Fit, i: int, full_vi: np.ndarray) -> tuple[float, float]:
    """(s2w(-i), 1 / sum over all studies of 1 / (vj + tau²(-i))) of the refit without study i."""
    tau2 = f.tau2 or 0.0
    keep = es.estimable.copy()
    keep[i] = False
    sw = float(np.sum(1.0 / (es.vi[keep] + tau2)))
    return f.se**2 * sw, 1.0 / float(np.sum(1.0 / (full_vi + tau2)))


def influence(
    es: EffectSizes, fit: Fit, refit: Refit[EffectSizes] | None = None, fits: list[Fit | None] | None = None
) -> Influence:
    """The diagnostics of `fit` (a fit of `es`); `refit` defaults to same_model(fit). `fits`: the leave-one-out
    refits, aligned with `es`, when the caller has them already (leave_one_out(es, refit) with the same model);
    otherwise they are computed. ValueError with fewer than MIN_K_INFLUENCE estimable studies."""
    ok = es.estimable
    k = int(ok.sum())
    if k < MIN_K_INFLUENCE:
        raise ValueError(f"influence diagnostics need at least {MIN_K_INFLUENCE} studies; this analysis has {k}")
    if fits is None:
        fits = leave_one_out(es, refit or same_model(fit))
    elif len(fits) != len(es):
        raise ValueError(f"{len(fits)} leave-one-out fits for {len(es)} studies")
    n = len(es)
    tau2 = fit.tau2 or 0.0
    mu, vb = fit.estimate, fit.se**2
    w = np.where(ok, 1.0 / (es.vi + tau2), np.nan)
    hat = w / np.nansum(w)
    out = {name: np.full(n, np.nan) for name in ("rstudent", "dffits", "cook", "cov", "tau2", "q", "dfb", "mu", "y")}
    for i, f in enumerate(fits):
        if f is None or not ok[i]:
            continue
        s2w, vb_all = _refit_sums(es, f, i, es.vi[ok])
        t2 = f.tau2 or 0.0
        diff = mu - f.estimate
        resid = es.yi[i] - f.estimate
        resid = 0.0 if abs(resid) < RESIDUAL_ZERO else resid
        out["rstudent"][i] = resid / np.sqrt(s2w * (es.vi[i] + t2) + f.se**2)
        out["dffits"][i] = diff / np.sqrt(s2w * hat[i] * (t2 + es.vi[i]))
        out["dfb"][i] = diff / np.sqrt(s2w * vb_all)
        out["cook"][i] = diff**2 / vb
        out["cov"][i] = f.se**2 / vb
        out["tau2"][i] = t2
        out["q"][i] = f.q if f.q is not None else np.nan
        out["mu"][i] = f.estimate
        out["y"][i] = diff**2 / f.se**2
    p = 1
    # As in metafor, a criterion that cannot be evaluated (NaN) does not flag; any one that holds does.
    with np.errstate(invalid="ignore"):
        flagged = (
            (np.abs(out["dffits"]) > 3 * np.sqrt(p / (k - p)))
            | (sps.chi2.cdf(out["cook"], p) > 0.5)
            | (hat > 3 * p / k)
            | (np.abs(out["dfb"]) > 1)
        )
    return Influence(
        k=k,
        rstudent=out["rstudent"],
        dffits=out["dffits"],
        cook=out["cook"],
        cov_ratio=out["cov"],
        tau2_deleted=out["tau2"],
        q_deleted=out["q"],
        hat=hat,
        weight=100 * hat,
        dfbetas=out["dfb"],
        flagged=flagged,
        baujat_x=np.where(ok, (es.yi - mu) ** 2 / (es.vi + tau2), np.nan),
        baujat_y=out["y"],
        estimate_deleted=out["mu"],
    )
