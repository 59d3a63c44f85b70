"""Meta-analysis statistics on numpy/scipy, checked against metafor.

Effect sizes (`effects`) are computed separately from models (`fixed`, `random`, `mh`, `peto`); every model
returns a `Fit`, and follow-up analyses (`followups`, `confint`) are functions of effect sizes and a refit.
"""

from .effects import (
    EffectSizes,
    generic,
    log_odds_ratio,
    log_ratio_of_means,
    log_risk_ratio,
    mean_difference,
    peto_log_odds_ratio,
    peto_log_ratio,
    pre_post_log_ratio_of_means,
    pre_post_mean_change,
    pre_post_standardised_mean_change,
    risk_difference,
    standardised_mean_difference,
)
from .fit import Fit
from .fixed import fixed_iv
from .mh import mantel_haenszel_or, mantel_haenszel_rd, mantel_haenszel_rr
from .peto import o_minus_e_and_variance, peto_or, peto_pooled
from .random import random_effects

__all__ = [
    "EffectSizes",
    "Fit",
    "fixed_iv",
    "generic",
    "log_odds_ratio",
    "log_ratio_of_means",
    "log_risk_ratio",
    "mantel_haenszel_or",
    "mantel_haenszel_rd",
    "mantel_haenszel_rr",
    "mean_difference",
    "o_minus_e_and_variance",
    "peto_log_odds_ratio",
    "peto_log_ratio",
    "peto_or",
    "peto_pooled",
    "pre_post_log_ratio_of_means",
    "pre_post_mean_change",
    "pre_post_standardised_mean_change",
    "random_effects",
    "risk_difference",
    "standardised_mean_difference",
]
