"""Per-study effect sizes and sampling variances (metafor's `escalc`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EffectSizes:
    """yi and vi on the analysis scale; studies that are not estimable carry NaN and estimable=False."""

    yi: np.ndarray
    vi: np.ndarray
    estimable: np.ndarray
    corrected: np.ndarray     # True where a continuity correction was added to this study's cells

    def __len__(self) -> int:
        return len(self.yi)

    def subset(self, keep) -> "EffectSizes":
        """The studies where `keep` (a boolean mask or index array) selects, in their original order."""
        keep = np.asarray(keep)
        return EffectSizes(self.yi[keep], self.vi[keep], self.estimable[keep], self.corrected[keep])


def _arr(*values):
    return [np.asarray(v, dtype=float) for v in values]


def log_odds_ratio(ai, n1i, ci, n2i, add: float = 0.5) -> EffectSizes:
    """Log odds ratio of the experimental (a/n1) vs control (c/n2) group.

    `add` goes to every cell of a study with a zero cell (metafor: to="only0"). A study with no events or
    only events in both groups carries no information on the odds ratio: it is not estimable
    (metafor: drop00=TRUE), whatever the correction.
    """
    ai, n1i, ci, n2i = _arr(ai, n1i, ci, n2i)
    bi, di = n1i - ai, n2i - ci
    double = ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))
    zero = (np.minimum.reduce([ai, bi, ci, di]) == 0) & ~double
    corrected = zero & (add > 0)
    a, b, c, d = (x + np.where(corrected, add, 0.0) for x in (ai, bi, ci, di))
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log(a * d / (b * c))
        vi = 1 / a + 1 / b + 1 / c + 1 / d
    ok = ~double & np.isfinite(yi) & np.isfinite(vi)
    return EffectSizes(np.where(ok, yi, np.nan), np.where(ok, vi, np.nan), ok, corrected)


def mean_difference(m1i, sd1i, n1i, m2i, sd2i, n2i) -> EffectSizes:
    """Raw mean difference, experimental minus control, with unequal-variance sampling variance."""
    m1i, sd1i, n1i, m2i, sd2i, n2i = _arr(m1i, sd1i, n1i, m2i, sd2i, n2i)
    yi = m1i - m2i
    vi = sd1i**2 / n1i + sd2i**2 / n2i
    ok = np.isfinite(yi) & np.isfinite(vi) & (vi > 0)
    return EffectSizes(yi, vi, ok, np.zeros(len(yi), dtype=bool))
