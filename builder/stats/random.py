"""Random-effects model with a choice of tau² estimator and of confidence-interval method."""

from __future__ import annotations

import math

import numpy as np

from . import dist, kernel
from .confint import q_profile
from .effects import EffectSizes
from .fit import Fit, Heterogeneity, Interval, Pooled
from .heterogeneity import i2_h2_from_q, i2_h2_from_tau2, typical_variance_from_sums
from .inference import critical_value, prediction_interval, t_based, wald
from .tau2 import ESTIMATORS, intercept_only

EPS = float(np.finfo(float).eps)


# With fewer than three studies tau² is barely estimable and a prediction interval means little; metafor still
# prints one, but current guidance is to leave it out (or label it unreliable), so we leave it out.
MIN_K_PREDICTION = 3

CI_METHODS = ("wald", "hksj", "hksj-adhoc")

ONE_STUDY_NOTE = "one study: the random-effects model reduces to the study's own estimate"

# metafor carries on with a standard error of 0 (a zero-width interval, an infinite or undefined test statistic).
ZERO_SCALE_MESSAGE = (
    "HKSJ is undefined here: the study estimates agree exactly with the pooled estimate, so the "
    "Knapp-Hartung scale factor is 0 and the interval would have zero width; use ci_method "
    "'hksj-adhoc' (scale factor at least 1) or 'wald'"
)


def knapp_hartung_scale(rss: float, k: int, adhoc: bool) -> float:
    """The Knapp-Hartung factor q = rss / (k - 1) that multiplies the variance 1 / sum(w), where rss =
    sum(w (yi - estimate)²) is the weighted residual sum of squares about the pooled estimate at the fit's tau².

    As metafor, q is taken as 0 when rss is at most machine epsilon.
    `adhoc`: metafor's test="adhoc" (rma.uni documentation: "the Knapp-Hartung method is used, but with the
    restriction that the adjustment to the standard errors can never result in adjusted standard errors that are
    smaller than the unadjusted ones", citing Jackson et al. 2017, section 4.3), i.e. the variance is
    max(1, q) / sum(w). The interval still uses t(k - 1), so it is never narrower than the t interval built on the
    unadjusted standard error, and always wider than the Wald (normal) interval.
    """
    scale = 0.0 if rss <= EPS else rss / (k - 1)
    return max(1.0, scale) if adhoc else scale


def random_effects(
    es: EffectSizes, tau2_method: str = "REML", ci_method: str = "wald", level: float = 0.95, tau2_interval: bool = True
) -> Fit:
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
    # Python floats for a few dozen studies, numpy arrays beyond (see kernel); every sum below comes from there.
    studies = kernel.select(es.yi, es.vi, ok)
    k = studies.k
    if k == 0:
        raise ValueError("no estimable study to pool")
    if k == 1:
        estimate, se = float(studies.yi[0]), float(np.sqrt(studies.vi[0]))
        low, high, statistic, p = wald(estimate, se, level)
        weights = np.full(len(es), np.nan)
        weights[ok] = 100.0
        return Fit(
            model="random",
            method=tau2_method,
            ci_method="wald",
            k=1,
            pooled=Pooled(estimate=estimate, se=se, ci_low=low, ci_high=high, statistic=statistic, df=None, p=p),
            heterogeneity=Heterogeneity(tau2=0.0),
            weights=weights,
            note=ONE_STUDY_NOTE,
        )

    at0 = studies.at(0.0)  # the fixed-effect weights: Cochran's Q, s², DL, ML/REML's boundary
    sw0, q = at0[1], at0[3]
    sw2_0 = studies.square_sum(at0[0])
    tau2, (w, sw, estimate, rss) = intercept_only(tau2_method, studies, at0, sw2_0)
    se = math.sqrt(1 / sw)
    df = None
    if ci_method in ("hksj", "hksj-adhoc"):
        df = k - 1
        scale = knapp_hartung_scale(rss, k, adhoc=ci_method == "hksj-adhoc")
        if scale == 0:
            raise ValueError(ZERO_SCALE_MESSAGE)
        se = math.sqrt(scale / sw)
        low, high, statistic, p = t_based(estimate, se, df, level)
    else:
        low, high, statistic, p = wald(estimate, se, level)
    if k == len(ok):
        weights = studies.scaled(w, 100 / sw)
    else:
        weights = np.full(len(es), np.nan)
        weights[ok] = studies.scaled(w, 100 / sw)

    q = max(0.0, q)
    q_df = k - 1
    q_p = dist.chi2_sf(q, q_df)
    s2 = typical_variance_from_sums(k, sw0, sw2_0)
    i2, h2 = i2_h2_from_tau2(tau2, s2)
    i2_q, h2_q = i2_h2_from_q(q, q_df)
    # The Q-profile interval is a root search; follow-up refits (leave-one-out, ...) may skip it.
    tau2_low = tau2_high = i2_low = i2_high = h2_low = h2_high = None
    if tau2_interval:
        tau2_low, tau2_high, i2_low, i2_high, h2_low, h2_high = q_profile(studies, level, s2)
    prediction = None
    if k >= MIN_K_PREDICTION:
        prediction = Interval(*prediction_interval(estimate, se, tau2, critical_value(level, df)))
    return Fit(
        model="random",
        method=tau2_method,
        ci_method=ci_method,
        k=k,
        pooled=Pooled(estimate=estimate, se=se, ci_low=low, ci_high=high, statistic=statistic, df=df, p=p),
        heterogeneity=Heterogeneity(
            q=q,
            q_df=q_df,
            q_p=q_p,
            i2=i2,
            h2=h2,
            i2_basis="tau2",
            i2_q=i2_q,
            h2_q=h2_q,
            tau2=tau2,
            tau2_ci_low=tau2_low,
            tau2_ci_high=tau2_high,
            i2_ci_low=i2_low,
            i2_ci_high=i2_high,
            h2_ci_low=h2_low,
            h2_ci_high=h2_high,
        ),
        weights=weights,
        prediction=prediction,
    )


def dersimonian_laird_at_q(es: EffectSizes, q: float, level: float = 0.95) -> Fit:
    """RevMan 5's random-effects model of a Mantel-Haenszel analysis: DerSimonian-Laird tau² computed from `q`,
    the heterogeneity statistic of the Mantel-Haenszel fit (Cochran's Q about the Mantel-Haenszel estimate, with
    the studies' inverse-variance weights), instead of the Q about the inverse-variance estimate; then
    inverse-variance pooling at that tau², a Wald interval, and I² from that Q (under DerSimonian-Laird equal to
    I² from tau²). R's meta does this with metabin(method = "MH", method.tau = "DL", Q.Cochrane = TRUE); the
    reference (tests/reference/revman_mh_random_reference.R) builds it from metafor's rma.mh and rma(tau2 = ).

    With one study it is the study's own estimate, as random_effects gives it."""
    ok = es.estimable
    studies = kernel.select(es.yi, es.vi, ok)
    k = studies.k
    if k < 2:
        return random_effects(es, "DL", "wald", level, tau2_interval=False)
    w0, sw0, _, _ = studies.at(0.0)
    sw2_0 = studies.square_sum(w0)
    q = max(0.0, q)
    q_df = k - 1
    tau2 = max(0.0, (q - q_df) / (sw0 - sw2_0 / sw0))
    w, sw, estimate, _ = studies.at(tau2)
    se = math.sqrt(1 / sw)
    low, high, statistic, p = wald(estimate, se, level)
    weights = np.full(len(es), np.nan)
    weights[ok] = studies.scaled(w, 100 / sw)
    i2, h2 = i2_h2_from_q(q, q_df)
    prediction = None
    if k >= MIN_K_PREDICTION:
        prediction = Interval(*prediction_interval(estimate, se, tau2, critical_value(level)))
    return Fit(
        model="random",
        method="DL",
        ci_method="wald",
        k=k,
        pooled=Pooled(estimate=estimate, se=se, ci_low=low, ci_high=high, statistic=statistic, df=None, p=p),
        heterogeneity=Heterogeneity(
            q=q, q_df=q_df, q_p=dist.chi2_sf(q, q_df), i2=i2, h2=h2, i2_basis="Q", i2_q=i2, h2_q=h2, tau2=tau2
        ),
        weights=weights,
        prediction=prediction,
        note="tau² from the Mantel-Haenszel heterogeneity statistic, as RevMan 5 computes it",
    )
