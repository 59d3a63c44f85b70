"""Meta-analysis statistics on numpy/scipy, checked against metafor.

Effect sizes (`effects`) are computed separately from models (`fixed`, `random`, `mh`); every model
returns a `Fit`, and later analyses (leave-one-out, cumulative, ...) are functions of a `Fit`.
"""

from .effects import EffectSizes, log_odds_ratio, mean_difference
from .fit import Fit
from .fixed import fixed_iv
from .mh import mantel_haenszel_or
from .random import random_effects

__all__ = ["EffectSizes", "Fit", "fixed_iv", "log_odds_ratio", "mantel_haenszel_or", "mean_difference",
           "random_effects"]
