"""Cochran's Q and the I² and H² statistics.

I² and H² come in two variants, and both are reported (Fit.i2/h2 and Fit.i2_q/h2_q):
  - from Q (i2_h2_from_q): I² = (Q - df) / Q truncated at 0, H² = Q / df (0 and 1 when Q = 0) -- Higgins and
    Thompson's definition, what RevMan and R's meta report, and what metafor reports for a fixed-effect model;
  - from tau² (i2_h2_from_tau2): I² = tau² / (s² + tau²), H² = (s² + tau²) / s², with s² the typical
    within-study variance -- what metafor reports for a random-effects model, so that I² follows the chosen
    tau² estimator. With the DerSimonian-Laird tau² (when positive) the two coincide.
"""

from __future__ import annotations

import numpy as np

from . import dist


def cochran_q(yi: np.ndarray, vi: np.ndarray, centre: float | None = None) -> tuple[float, int, float]:
    """Q about `centre` (default: the inverse-variance fixed-effect estimate), its df and p-value."""
    w = 1 / vi
    if centre is None:
        centre = float(np.sum(w * yi) / np.sum(w))
    q = max(0.0, float(np.sum(w * (yi - centre) ** 2)))
    df = len(yi) - 1
    p = dist.chi2_sf(q, df) if df > 0 else float("nan")
    return q, df, p


def i2_h2_from_q(q: float, df: int) -> tuple[float, float]:
    if df < 1 or q <= 0:
        return 0.0, 1.0
    return max(0.0, 100 * (q - df) / q), q / df


def typical_variance(vi: np.ndarray) -> float:
    """Higgins and Thompson's typical within-study variance."""
    w = 1 / vi
    return typical_variance_from_sums(len(vi), float(np.sum(w)), float(np.sum(w**2)))


def typical_variance_from_sums(k: int, sw: float, sw2: float) -> float:
    """The typical within-study variance s² = (k - 1) sum(w) / (sum(w)² - sum(w²)) with w = 1 / vi, from the two
    sums (a fit has them already)."""
    return (k - 1) * sw / (sw * sw - sw2)


def i2_h2_from_tau2(tau2: float, s2: float) -> tuple[float, float]:
    """I² (percent) and H² from tau² and the typical within-study variance s²."""
    return 100 * tau2 / (s2 + tau2), (s2 + tau2) / s2
