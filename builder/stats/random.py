"""Random-effects model with a choice of tau² estimator and of confidence-interval method."""

from __future__ import annotations

import numpy as np

from . import dist

from .confint import tau2_ci
from .effects import EffectSizes
from .fit import Fit
from .heterogeneity import cochran_q, i2_h2_from_q, i2_h2_from_tau2
from .inference import t_based, wald
from .tau2 import ESTIMATORS


# With fewer than three studies tau² is barely estimable and a prediction interval means little; metafor still
# prints one, but current guidance is to leave it out (or label it unreliable), so we leave it out.
MIN_K_PREDICTION = 3

CI_METHODS = ("wald", "hksj", "hksj-adhoc")

ONE_STUDY_NOTE = "one study: the random-effects model reduces to the study's own estimate"

# metafor carries on with a standard error of 0 (a zero-width interval, an infinite or undefined test statistic).
ZERO_SCALE_MESSAGE = ("HKSJ is undefined here: the study estimates agree exactly with the pooled estimate, so the "
                      "Knapp-Hartung scale factor is 0 and the interval would have zero width; use ci_method "
                      "'hksj-adhoc' (scale factor at least 1) or 'wald'")


def knapp_hartung_scale(yi: np.ndarray, w: np.ndarray, estimate: float, adhoc: bool) -> float:
    """The Knapp-Hartung factor q = sum(w (yi - estimate)²) / (k - 1) that multiplies the variance 1 / sum(w).

    As metafor, q is taken as 0 when the weighted residual sum of squares is at most machine epsilon.
    `adhoc`: metafor's test="adhoc" (rma.uni documentation: "the Knapp-Hartung method is used, but with the
    restriction that the adjustment to the standard errors can never result in adjusted standard errors that are
    smaller than the unadjusted ones", citing Jackson et al. 2017, section 4.3), i.e. the variance is
    max(1, q) / sum(w). The interval still uses t(k - 1), so it is never narrower than the t interval built on the
    unadjusted standard error, and always wider than the Wald (normal) interval.
    """
    rss = float(np.sum(w * (yi - estimate) ** 2))
    scale = 0.0 if rss <= np.finfo(float).eps else rss / (len(yi) - 1)
    return max(1.0, scale) if adhoc else scale


def random_effects(es: EffectSizes, tau2_method: str = "REML", ci_method: str = "wald",
                   level: float = 0.95, tau2_interval: bool = True) -> Fit:
    """Intercept-only random-effects model.

    tau2_interval: also compute the Q-profile CI of tau² (and of I² and H²), as metafor's confint() does.

    tau2_method: a key of tau2.ESTIMATORS (DL, HE, SJ, PM, EB, ML, REML).
    ci_method "wald": normal interval and z test. "hksj": Hartung-Knapp-Sidik-Jonkman scaled variance with
    t(k - 1), as metafor's test="knha". "hksj-adhoc": the same with the scale factor truncated below at 1, as
    metafor's test="adhoc" (see knapp_hartung_scale). The prediction interval uses the same critical-value
    distribution as the CI (t(k - 1) under either HKSJ, normal under Wald) and sqrt(tau² + SE²), as metafor's
    predict(); it is left out for fewer than MIN_K_PREDICTION studies.

    Under "hksj", estimates that agree exactly with the pooled one (weighted residual sum of squares <= machine
    epsilon) make the scale factor 0: ValueError rather than metafor's zero-width interval.

    With one study there is no heterogeneity to estimate: the fit is that study's estimate with a Wald interval,
    tau² = 0, no heterogeneity statistics, ci_method "wald" whatever was asked (metafor also falls back to z) and
    a `note` saying so.
    """
    if tau2_method not in ESTIMATORS:
        raise ValueError(f"unknown tau² estimator {tau2_method!r}; one of {sorted(ESTIMATORS)}")
    if ci_method not in CI_METHODS:
        raise ValueError(f"unknown ci_method {ci_method!r}; one of {list(CI_METHODS)}")
    ok = es.estimable
    yi, vi = es.yi[ok], es.vi[ok]
    k = len(yi)
    if k == 0:
        raise ValueError("no estimable study to pool")
    weights = np.full(len(es), np.nan)
    if k == 1:
        estimate, se = float(yi[0]), float(np.sqrt(vi[0]))
        low, high, statistic, p = wald(estimate, se, level)
        weights[ok] = 100.0
        return Fit("random", tau2_method, "wald", 1, estimate, se, low, high, statistic, None, p, weights, 0.0,
                   None, None, None, None, None, None, note=ONE_STUDY_NOTE)

    tau2 = ESTIMATORS[tau2_method](yi, vi)
    w = 1 / (vi + tau2)
    estimate = float(np.sum(w * yi) / np.sum(w))
    se = float(np.sqrt(1 / np.sum(w)))
    df = None
    if ci_method in ("hksj", "hksj-adhoc"):
        df = k - 1
        scale = knapp_hartung_scale(yi, w, estimate, ci_method == "hksj-adhoc")
        if scale == 0:
            raise ValueError(ZERO_SCALE_MESSAGE)
        se = float(np.sqrt(scale / np.sum(w)))
        low, high, statistic, p = t_based(estimate, se, df, level)
        crit = dist.t_quantile(0.5 + level / 2, df)
    else:
        low, high, statistic, p = wald(estimate, se, level)
        crit = dist.z_quantile(0.5 + level / 2)
    weights[ok] = 100 * w / np.sum(w)

    q, q_df, q_p = cochran_q(yi, vi)
    i2, h2 = i2_h2_from_tau2(tau2, vi)
    i2_q, h2_q = i2_h2_from_q(q, q_df)
    # The Q-profile interval is a root search; follow-up refits (leave-one-out, ...) may skip it.
    tau2_low = tau2_high = i2_low = i2_high = h2_low = h2_high = None
    if tau2_interval:
        tau2_low, tau2_high, i2_low, i2_high, h2_low, h2_high = tau2_ci(es, tau2_method, level)
    pi = (None, None)
    if k >= MIN_K_PREDICTION:
        half = crit * np.sqrt(tau2 + se**2)
        pi = (estimate - half, estimate + half)
    return Fit("random", tau2_method, ci_method, k, estimate, se, low, high, statistic, df, p, weights, tau2,
               q, q_df, q_p, i2, h2, "tau2", pi[0], pi[1], i2_q=i2_q, h2_q=h2_q,
               tau2_ci_low=tau2_low, tau2_ci_high=tau2_high, i2_ci_low=i2_low, i2_ci_high=i2_high,
               h2_ci_low=h2_low, h2_ci_high=h2_high)
