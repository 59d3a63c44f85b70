"""The result of fitting a meta-analytic model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fit:
    model: str                 # "fixed" or "random"
    method: str                # "IV", "MH", or the tau² estimator ("REML", "DL", "PM")
    ci_method: str             # "wald" or "hksj"
    k: int                     # studies that contributed to the estimate
    estimate: float            # on the analysis scale (log for ratio measures)
    se: float
    ci_low: float
    ci_high: float
    statistic: float           # z, or t under HKSJ
    df: int | None             # degrees of freedom of the t statistic; None for z
    p: float
    weights: np.ndarray        # percent, aligned with the effect sizes passed in; NaN where not estimable
    tau2: float | None
    q: float | None
    q_df: int | None
    q_p: float | None
    i2: float | None           # percent
    h2: float | None
    i2_basis: str | None       # "Q" or "tau2": which quantity I² and H² were computed from
    pi_low: float | None = None
    pi_high: float | None = None
