"""The result of fitting a meta-analytic model."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class Fit:
    """Fields after pi_high were added later, all optional, so that positional construction keeps working.

    i2/h2 are as metafor reports them (from tau² for random effects, from Q for fixed effect; see i2_basis);
    i2_q/h2_q are always from Q, I² = (Q - df) / Q truncated at 0 and H² = Q / df, as RevMan and R's meta
    report I². For a fit whose i2_basis is "Q" they are filled from i2/h2 when not given.
    The tau2/i2/h2 confidence limits are the Q-profile interval (metafor's confint(), type "QP"); they are set
    for random-effects fits of two or more studies.
    """

    model: str  # "fixed" or "random"
    method: str  # "IV", "MH", or the tau² estimator (a key of tau2.ESTIMATORS: "REML", "DL", ...)
    ci_method: str  # "wald", "hksj" or "hksj-adhoc"
    k: int  # studies that contributed to the estimate
    estimate: float  # on the analysis scale (log for ratio measures)
    se: float
    ci_low: float
    ci_high: float
    statistic: float  # z, or t under HKSJ (and its ad hoc variant)
    df: int | None  # degrees of freedom of the t statistic; None for z
    p: float
    weights: np.ndarray  # percent, aligned with the effect sizes passed in; NaN where not estimable
    tau2: float | None
    q: float | None
    q_df: int | None
    q_p: float | None
    i2: float | None  # percent
    h2: float | None
    i2_basis: str | None  # "Q" or "tau2": which quantity I² and H² were computed from
    pi_low: float | None = None
    pi_high: float | None = None
    note: str | None = None  # a caveat to show with the result, e.g. that a random-effects model had one study
    i2_q: float | None = None  # percent, from Q
    h2_q: float | None = None  # from Q
    tau2_ci_low: float | None = None
    tau2_ci_high: float | None = None
    i2_ci_low: float | None = None  # percent
    i2_ci_high: float | None = None
    h2_ci_low: float | None = None
    h2_ci_high: float | None = None

    def __post_init__(self):
        if self.i2_basis == "Q" and self.i2_q is None and self.h2_q is None:
            object.__setattr__(self, "i2_q", self.i2)
            object.__setattr__(self, "h2_q", self.h2)


_NAMES = frozenset(f.name for f in fields(Fit))


def make_fit(values: dict) -> Fit:
    """Fit(**values), for the fitting functions' own use: the same object, built in a fraction of the time.

    A frozen dataclass sets each of its 31 fields through object.__setattr__, and a call with 31 keyword
    arguments packs them anew: about 10 µs a fit, as long as the rest of a DerSimonian-Laird fit of a dozen
    studies. This makes `values` itself the instance's __dict__ (the caller hands it over: a dict literal
    built for the call) and runs the same __post_init__. `values` must name every field, defaults included;
    that is not checked here, where comparing the names would cost a microsecond a fit, but for every caller by
    tests/test_kernel.py.
    """
    fit = object.__new__(Fit)
    object.__setattr__(fit, "__dict__", values)
    fit.__post_init__()
    return fit
