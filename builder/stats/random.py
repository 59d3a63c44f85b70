"""Random-effects model with a choice of tau² estimator and of confidence-interval method."""

from __future__ import annotations

import numpy as np
from scipy import stats

from .effects import EffectSizes
from .fit import Fit
from .heterogeneity import cochran_q, i2_h2_from_tau2
from .inference import t_based, wald
from .tau2 import ESTIMATORS


# With fewer than three studies tau² is barely estimable and a prediction interval means little; metafor still
# prints one, but current guidance is to leave it out (or label it unreliable), so we leave it out.
MIN_K_PREDICTION = 3


def random_effects(es: EffectSizes, tau2_method: str = "REML", ci_method: str = "wald",
                   level: float = 0.95) -> Fit:
    """Intercept-only random-effects model.

    ci_method "wald": normal interval and z test. "hksj": Hartung-Knapp-Sidik-Jonkman scaled variance with
    t(k - 1), as metafor's test="knha". The prediction interval uses the same critical-value distribution as the
    CI (t(k - 1) under HKSJ, normal under Wald) and sqrt(tau² + SE²), as metafor's predict().
    """
    ok = es.estimable
    yi, vi = es.yi[ok], es.vi[ok]
    k = len(yi)
    if k == 0:
        raise ValueError("no estimable study to pool")
    tau2 = ESTIMATORS[tau2_method](yi, vi) if k > 1 else 0.0
    w = 1 / (vi + tau2)
    estimate = float(np.sum(w * yi) / np.sum(w))
    se = float(np.sqrt(1 / np.sum(w)))
    df = None
    if ci_method == "hksj" and k > 1:
        df = k - 1
        scale = float(np.sum(w * (yi - estimate) ** 2) / df)
        se = float(np.sqrt(scale / np.sum(w)))
        low, high, statistic, p = t_based(estimate, se, df, level)
        crit = stats.t.ppf(0.5 + level / 2, df)
    else:
        ci_method = "wald" if k == 1 else ci_method
        low, high, statistic, p = wald(estimate, se, level)
        crit = stats.norm.ppf(0.5 + level / 2)
    weights = np.full(len(es), np.nan)
    weights[ok] = 100 * w / np.sum(w)
    pi = (None, None)
    if k > 1:
        q, q_df, q_p = cochran_q(yi, vi)
        i2, h2 = i2_h2_from_tau2(tau2, vi)
    else:
        q = q_df = q_p = i2 = h2 = None
    if k >= MIN_K_PREDICTION:
        half = crit * np.sqrt(tau2 + se**2)
        pi = (estimate - half, estimate + half)
    return Fit("random", tau2_method, ci_method, k, estimate, se, low, high, statistic, df, p, weights, tau2,
               q, q_df, q_p, i2, h2, "tau2" if k > 1 else None, pi[0], pi[1])
