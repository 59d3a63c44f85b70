"""The result of fitting a meta-analytic model: a Fit composed of three small records.

  Pooled         the pooled estimate on the analysis scale, its standard error, confidence interval and test;
  Heterogeneity  Cochran's Q with its df and p, I² and H² (as metafor reports them and from Q), tau² and the
                 Q-profile interval of tau², I² and H²;
  Interval       the prediction interval.

Fit's flat attributes (fit.estimate, fit.ci_low, fit.i2, fit.tau2, ...) are read-only views of these records,
so readers need not know which record holds what.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inference import excludes_null


@dataclass(slots=True)
class Pooled:
    estimate: float  # on the analysis scale (log for ratio measures)
    se: float
    ci_low: float
    ci_high: float
    statistic: float  # z, or t under HKSJ (and its ad hoc variant)
    df: int | None  # degrees of freedom of the t statistic; None for z
    p: float

    def excludes_null(self) -> bool:
        """Whether the confidence interval lies wholly on one side of no effect (0 on the analysis scale)."""
        return excludes_null(self.ci_low, self.ci_high)


@dataclass(slots=True)
class Heterogeneity:
    """i2/h2 are as metafor reports them (from tau² for random effects, from Q for fixed effect; see i2_basis);
    i2_q/h2_q are always from Q, I² = (Q - df) / Q truncated at 0 and H² = Q / df, as RevMan and R's meta
    report I². The tau2/i2/h2 confidence limits are the Q-profile interval (metafor's confint(), type "QP"); they
    are set for random-effects fits of two or more studies that asked for them."""

    q: float | None = None
    q_df: int | None = None
    q_p: float | None = None
    i2: float | None = None  # percent
    h2: float | None = None
    i2_basis: str | None = None  # "Q" or "tau2": which quantity I² and H² were computed from
    i2_q: float | None = None  # percent, from Q
    h2_q: float | None = None  # from Q
    tau2: float | None = None
    tau2_ci_low: float | None = None
    tau2_ci_high: float | None = None
    i2_ci_low: float | None = None  # percent
    i2_ci_high: float | None = None
    h2_ci_low: float | None = None
    h2_ci_high: float | None = None

    @classmethod
    def from_q(cls, q: float, q_df: int, q_p: float, i2: float, h2: float) -> Heterogeneity:
        """A fixed-effect fit's: I² and H² from Q, reported as both variants."""
        return cls(q=q, q_df=q_df, q_p=q_p, i2=i2, h2=h2, i2_basis="Q", i2_q=i2, h2_q=h2)


NO_HETEROGENEITY = Heterogeneity()


@dataclass(slots=True)
class Interval:
    low: float
    high: float


@dataclass(slots=True)
class Fit:
    model: str  # "fixed" or "random"
    method: str  # "IV", "MH", "Peto", or the tau² estimator (a key of tau2.ESTIMATORS: "REML", "DL", ...)
    ci_method: str  # "wald", "hksj" or "hksj-adhoc"
    k: int  # studies that contributed to the estimate
    pooled: Pooled
    heterogeneity: Heterogeneity
    weights: np.ndarray | None  # percent, aligned with the effect sizes passed in; NaN where not estimable
    prediction: Interval | None = None
    note: str | None = None  # a caveat to show with the result, e.g. that a random-effects model had one study

    # Read-only views of the records, by their historical flat names.
    @property
    def estimate(self) -> float:
        return self.pooled.estimate

    @property
    def se(self) -> float:
        return self.pooled.se

    @property
    def ci_low(self) -> float:
        return self.pooled.ci_low

    @property
    def ci_high(self) -> float:
        return self.pooled.ci_high

    @property
    def statistic(self) -> float:
        return self.pooled.statistic

    @property
    def df(self) -> int | None:
        return self.pooled.df

    @property
    def p(self) -> float:
        return self.pooled.p

    @property
    def pi_low(self) -> float | None:
        return self.prediction.low if self.prediction else None

    @property
    def pi_high(self) -> float | None:
        return self.prediction.high if self.prediction else None

    @property
    def tau2(self) -> float | None:
        return self.heterogeneity.tau2

    @property
    def q(self) -> float | None:
        return self.heterogeneity.q

    @property
    def q_df(self) -> int | None:
        return self.heterogeneity.q_df

    @property
    def q_p(self) -> float | None:
        return self.heterogeneity.q_p

    @property
    def i2(self) -> float | None:
        return self.heterogeneity.i2

    @property
    def h2(self) -> float | None:
        return self.heterogeneity.h2

    @property
    def i2_basis(self) -> str | None:
        return self.heterogeneity.i2_basis

    @property
    def i2_q(self) -> float | None:
        return self.heterogeneity.i2_q

    @property
    def h2_q(self) -> float | None:
        return self.heterogeneity.h2_q

    @property
    def tau2_ci_low(self) -> float | None:
        return self.heterogeneity.tau2_ci_low

    @property
    def tau2_ci_high(self) -> float | None:
        return self.heterogeneity.tau2_ci_high

    @property
    def i2_ci_low(self) -> float | None:
        return self.heterogeneity.i2_ci_low

    @property
    def i2_ci_high(self) -> float | None:
        return self.heterogeneity.i2_ci_high

    @property
    def h2_ci_low(self) -> float | None:
        return self.heterogeneity.h2_ci_low

    @property
    def h2_ci_high(self) -> float | None:
        return self.heterogeneity.h2_ci_high
