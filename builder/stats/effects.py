"""Per-study effect sizes and sampling variances (metafor's `escalc`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, Self

import numpy as np
from scipy import special

from .dist import z_quantile


@dataclass(frozen=True)
class EffectSizes:
    """yi and vi on the analysis scale; studies that are not estimable carry NaN and estimable=False."""

    yi: np.ndarray
    vi: np.ndarray
    estimable: np.ndarray
    corrected: np.ndarray  # True where a continuity correction was added to this study's cells

    def __len__(self) -> int:
        return len(self.yi)

    def subset(self, keep) -> Self:
        """The studies where `keep` (a boolean mask or index array) selects, in their original order."""
        keep = np.asarray(keep)
        return type(self)(self.yi[keep], self.vi[keep], self.estimable[keep], self.corrected[keep])


def _arr(*values):
    return [np.asarray(v, dtype=float) for v in values]


def log_odds_ratio(ai, n1i, ci, n2i, add: Correction = 0.5) -> EffectSizes:
    """Log odds ratio of the experimental (a/n1) vs control (c/n2) group.

    `add` goes to every cell of a study with a zero cell (metafor: to="only0"; TACC for Sweeting's correction,
    see `treatment_arm_correction`). A study with no events or only events in both groups carries no information
    on the odds ratio: it is not estimable (metafor: drop00=TRUE), whatever the correction.
    """
    a, b, c, d, double, corrected = _cells(ai, n1i, ci, n2i, add)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log(a * d / (b * c))
        vi = 1 / a + 1 / b + 1 / c + 1 / d
    return _finish(yi, vi, double, corrected)


def mean_difference(m1i, sd1i, n1i, m2i, sd2i, n2i) -> EffectSizes:
    """Raw mean difference, experimental minus control, with unequal-variance sampling variance."""
    m1i, sd1i, n1i, m2i, sd2i, n2i = _arr(m1i, sd1i, n1i, m2i, sd2i, n2i)
    yi = m1i - m2i
    vi = sd1i**2 / n1i + sd2i**2 / n2i
    ok = np.isfinite(yi) & np.isfinite(vi) & (vi > 0)
    return EffectSizes(yi, vi, ok, np.zeros(len(yi), dtype=bool))


# ------------------------------------------------------------------------------------ binary outcomes
#
# All 2x2 measures below follow metafor's escalc(add=add, to="only0", drop00=TRUE): a study with no events in
# both groups, or only events in both groups, is not estimable; in every other study with a zero in any of its
# four cells (a, b = n1 - a, c, d = n2 - c), `add` is put in all four cells before computing yi and vi. The risk
# difference may keep the double-zero studies (escalc's own default, drop00=FALSE): they get the correction too.

# The treatment-arm continuity correction (Sweeting, Sutton and Lambert, Stat Med 2004;23:1351-75), given as `add`.
TACC: Final = "tacc"
Correction = float | Literal["tacc"]


def treatment_arm_correction(n1i, n2i) -> tuple[np.ndarray, np.ndarray]:
    """Sweeting et al.'s treatment-arm continuity correction: what goes into each cell of the experimental arm
    and of the control arm of a study with a zero cell.

    The correction of an arm is proportional to the reciprocal of the size of the other arm, and the two add up
    to 1, as the usual 0.5 + 0.5 does: k1 = (1/n2) / (1/n1 + 1/n2) = n1 / (n1 + n2) for the experimental arm and
    k2 = n2 / (n1 + n2) for the control arm (with R = n2 / n1, the paper's 1 / (R + 1) and R / (R + 1)). With
    equal arms it is the usual 0.5; with unequal arms it pulls a zero-cell study's estimate towards no effect
    less than the constant correction does (the constant adds more, relative to its size, to the smaller arm).
    """
    n1i, n2i = _arr(n1i, n2i)
    with np.errstate(divide="ignore", invalid="ignore"):
        return n1i / (n1i + n2i), n2i / (n1i + n2i)


def corrections(add: Correction, n1i, n2i) -> tuple[np.ndarray, np.ndarray]:
    """What `add` puts into each cell of the experimental and of the control arm, per study."""
    n1i, n2i = _arr(n1i, n2i)
    if isinstance(add, str):
        if add != TACC:
            raise ValueError(f"unknown continuity correction {add!r}: a number or {TACC!r}")
        return treatment_arm_correction(n1i, n2i)
    return np.full(len(n1i), float(add)), np.full(len(n2i), float(add))


def _cells(ai, n1i, ci, n2i, add: Correction, keep_double_zero: bool = False):
    """Corrected cells (a, b, c, d), the mask of studies left out (double-zero ones unless they are kept) and the
    corrected mask."""
    ai, n1i, ci, n2i = _arr(ai, n1i, ci, n2i)
    bi, di = n1i - ai, n2i - ci
    double = ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))
    exclude = np.zeros_like(double) if keep_double_zero else double
    add1, add2 = corrections(add, n1i, n2i)
    zero = (np.minimum.reduce([ai, bi, ci, di]) == 0) & ~exclude
    corrected = zero & ((add1 > 0) | (add2 > 0))
    shift1, shift2 = np.where(corrected, add1, 0.0), np.where(corrected, add2, 0.0)
    return ai + shift1, bi + shift1, ci + shift2, di + shift2, exclude, corrected


def _finish(yi, vi, exclude, corrected) -> EffectSizes:
    """Mark a study estimable where yi and vi are finite and vi > 0 and it is not excluded.

    metafor keeps a study whose sampling variance is exactly 0 (e.g. a risk difference of 0% vs 100% without a
    correction); such a study cannot get an inverse-variance weight, so here it is not estimable.
    """
    yi, vi = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    ok = ~exclude & np.isfinite(yi) & np.isfinite(vi) & (vi > 0)
    return EffectSizes(np.where(ok, yi, np.nan), np.where(ok, vi, np.nan), ok, np.asarray(corrected, dtype=bool))


def log_risk_ratio(ai, n1i, ci, n2i, add: Correction = 0.5) -> EffectSizes:
    """Log risk ratio of the experimental (a/n1) vs control (c/n2) group (metafor: escalc "RR").

    yi = log((a/n1) / (c/n2)), vi = 1/a - 1/n1 + 1/c - 1/n2, on the cells after the correction. As in metafor, a
    study with any zero cell is corrected, including one whose only zero is a non-event cell (all events in one
    arm), although its risk ratio would be finite without. With add=0 a study with no events in one arm is not
    estimable (log 0).
    """
    a, b, c, d, double, corrected = _cells(ai, n1i, ci, n2i, add)
    n1, n2 = a + b, c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log(a / n1) - np.log(c / n2)
        vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
    return _finish(yi, vi, double, corrected)


def risk_difference(ai, n1i, ci, n2i, add: Correction = 0.5, keep_double_zero: bool = False) -> EffectSizes:
    """Risk difference a/n1 - c/n2 with the large-sample variance p1(1-p1)/n1 + p2(1-p2)/n2 (metafor: escalc
    "RD", vtype "LS").

    metafor applies the continuity correction to the risk difference too (its default is add=1/2, to="only0"),
    to the proportions as well as to the variance: a study with a zero cell gets (a + add)/(n1 + 2 add) etc.
    The default here follows metafor; RevMan does not correct risk differences, which is add=0. With add=0 a
    study with 0% in one arm and 100% in the other has variance 0 and is not estimable (metafor keeps vi = 0).

    Studies with no events (or only events) in both arms have a risk difference of 0. By default they are not
    estimable (metafor with drop00=TRUE, what this builder did before version 1.2 of a review);
    keep_double_zero=True keeps them as escalc's own default drop00=FALSE does: they have a zero cell, so they
    get the correction like any other (their estimate is then 0 only with equal arms), and with add=0 their
    variance is 0, so that they are still not estimable.
    """
    a, b, c, d, exclude, corrected = _cells(ai, n1i, ci, n2i, add, keep_double_zero)
    n1, n2 = a + b, c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = a / n1, c / n2
        yi = p1 - p2
        vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    return _finish(yi, vi, exclude, corrected)


def peto_log_odds_ratio(ai, n1i, ci, n2i, add: float = 0.0) -> EffectSizes:
    """Per-study Peto log odds ratio (O - E) / V with variance 1 / V (metafor: escalc "PETO").

    O is the observed number of events in the experimental group, E = (a + c) n1 / N its expectation under no
    effect and V = (a + c)(b + d) n1 n2 / (N² (N - 1)) its hypergeometric variance. Peto's method needs no
    continuity correction (a single zero cell still gives V > 0), so the default is add=0; metafor's escalc
    default add=1/2 with to="only0" would change the estimate of studies with a zero cell. Studies with no
    events (or only events) in both arms have V = 0 and are not estimable.
    """
    a, b, c, d, double, corrected = _cells(ai, n1i, ci, n2i, add)
    n1, n2 = a + b, c + d
    n = n1 + n2
    events, non_events = a + c, b + d
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = events * n1 / n
        v = events * non_events * (n1 / n) * (n2 / n) / (n - 1)
        yi = (a - expected) / v
        vi = 1 / v
    return _finish(yi, vi, double, corrected)


# -------------------------------------------------------------------------------- continuous outcomes


def _no_correction(n: int) -> np.ndarray:
    return np.zeros(n, dtype=bool)


def small_sample_correction(df) -> np.ndarray:
    """Hedges' exact bias-correction factor J(m) = Γ(m/2) / (√(m/2) Γ((m-1)/2)); NaN for m ≤ 1.

    This is the exact gamma-function form metafor uses, not the approximation 1 - 3 / (4m - 1).
    """
    m = np.asarray(df, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        j = np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))
    return np.where(m > 1, j, np.nan)


def standardised_mean_difference(m1i, sd1i, n1i, m2i, sd2i, n2i) -> EffectSizes:
    """Hedges' g, experimental minus control (metafor: escalc "SMD" with its default vtype "LS").

    d = (m1 - m2) / s_pooled with s_pooled² = ((n1 - 1) sd1² + (n2 - 1) sd2²) / (n1 + n2 - 2); g = J(n1 + n2 - 2) d
    with the exact correction J (`small_sample_correction`); vi = 1/n1 + 1/n2 + g² / (2 (n1 + n2)). Not estimable
    when n1 + n2 ≤ 3 (J undefined) or when the pooled SD is 0.
    """
    m1i, sd1i, n1i, m2i, sd2i, n2i = _arr(m1i, sd1i, n1i, m2i, sd2i, n2i)
    df = n1i + n2i - 2
    with np.errstate(divide="ignore", invalid="ignore"):
        s_pooled = np.sqrt(((n1i - 1) * sd1i**2 + (n2i - 1) * sd2i**2) / df)
        yi = small_sample_correction(df) * (m1i - m2i) / s_pooled
        vi = 1 / n1i + 1 / n2i + yi**2 / (2 * (n1i + n2i))
    bad = (n1i <= 0) | (n2i <= 0) | (sd1i < 0) | (sd2i < 0)
    return _finish(yi, vi, bad, _no_correction(len(yi)))


def log_ratio_of_means(m1i, sd1i, n1i, m2i, sd2i, n2i) -> EffectSizes:
    """Log ratio of means log(m1 / m2), experimental over control (metafor: escalc "ROM", vtype "LS").

    vi = sd1² / (n1 m1²) + sd2² / (n2 m2²) (delta method). Only meaningful for outcomes on a ratio scale (positive
    means); as in metafor, a study whose means have opposite signs is not estimable, while two negative means give
    the log of their (positive) ratio.
    """
    m1i, sd1i, n1i, m2i, sd2i, n2i = _arr(m1i, sd1i, n1i, m2i, sd2i, n2i)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log(m1i / m2i)
        vi = sd1i**2 / (n1i * m1i**2) + sd2i**2 / (n2i * m2i**2)
    bad = (n1i <= 0) | (n2i <= 0) | (sd1i < 0) | (sd2i < 0)
    return _finish(yi, vi, bad, _no_correction(len(yi)))


# The pre-post correlation is an assumption (see pre_post_mean_change): the primary analysis uses the first, the
# sensitivity analyses the others.
PRE_POST_R_DEFAULT = 0.5
PRE_POST_R_SENSITIVITY = (0.0, 0.8)


def pre_post_mean_change(m_post, sd_post, m_pre, sd_pre, n, r) -> EffectSizes:
    """Raw mean change from baseline within one group, post minus pre (metafor: escalc "MC" with m1i=post,
    m2i=pre, sd1i=sd_post, sd2i=sd_pre, ni=n, ri=r).

    yi = m_post - m_pre, vi = (sd_post² + sd_pre² - 2 r sd_post sd_pre) / n.

    The variance needs the correlation r between the pre and post measurements of the same people, which studies
    rarely report. It is an assumption, not data: an analysis sets it (Analysis.pre_post_correlation, by default
    r = 0.5, PRE_POST_R_DEFAULT) and its sensitivity panel repeats it with r = 0 and r = 0.8 (PRE_POST_R_SENSITIVITY). r = 0 is
    what treating the two time points as independent groups implies (the variance of a difference of independent
    means); a positive r, as usual for repeated measures, makes the change more precise. Not estimable when the
    variance is 0 (r = 1 and equal SDs).
    """
    m_post, sd_post, m_pre, sd_pre, n, r = _arr(m_post, sd_post, m_pre, sd_pre, n, r)
    yi = m_post - m_pre
    with np.errstate(divide="ignore", invalid="ignore"):
        vi = (sd_post**2 + sd_pre**2 - 2 * r * sd_post * sd_pre) / n
    bad = (n <= 0) | (sd_post < 0) | (sd_pre < 0) | (np.abs(r) > 1)
    return _finish(yi, vi, bad, _no_correction(len(yi)))


def pre_post_standardised_mean_change(m_post, sd_post, m_pre, sd_pre, n, r) -> EffectSizes:
    """Standardised mean change within one group, post minus pre, standardised by the SD of the change scores
    (metafor: escalc "SMCC", vtype "LS", with m1i=post, m2i=pre, ni=n, ri=r).

    sd_change = √(sd_post² + sd_pre² - 2 r sd_post sd_pre); yi = J(n - 1) (m_post - m_pre) / sd_change with the
    exact correction J (`small_sample_correction`); vi = 1/n + yi² / (2n). The correlation r is an assumption
    as in `pre_post_mean_change`; here it changes the estimate itself, not only its variance. Not estimable when
    n ≤ 2 or the SD of the change is 0."""
    m_post, sd_post, m_pre, sd_pre, n, r = _arr(m_post, sd_post, m_pre, sd_pre, n, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd_change = np.sqrt(sd_post**2 + sd_pre**2 - 2 * r * sd_post * sd_pre)
        yi = small_sample_correction(n - 1) * (m_post - m_pre) / sd_change
        vi = 1 / n + yi**2 / (2 * n)
    bad = (n <= 0) | (sd_post < 0) | (sd_pre < 0) | (np.abs(r) > 1)
    return _finish(yi, vi, bad, _no_correction(len(yi)))


def pre_post_log_ratio_of_means(m_post, sd_post, m_pre, sd_pre, n, r) -> EffectSizes:
    """Log ratio of the post to the pre mean within one group (metafor: escalc "ROMC", with m1i=post, m2i=pre,
    ni=n, ri=r): yi = log(m_post / m_pre), vi = sd_post² / (n m_post²) + sd_pre² / (n m_pre²)
    - 2 r sd_post sd_pre / (n m_post m_pre) (delta method, with the correlation of the two measurements)."""
    m_post, sd_post, m_pre, sd_pre, n, r = _arr(m_post, sd_post, m_pre, sd_pre, n, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log(m_post / m_pre)
        vi = (sd_post**2 / m_post**2 + sd_pre**2 / m_pre**2 - 2 * r * sd_post * sd_pre / (m_post * m_pre)) / n
    bad = (n <= 0) | (sd_post < 0) | (sd_pre < 0) | (np.abs(r) > 1)
    return _finish(yi, vi, bad, _no_correction(len(yi)))


# ------------------------------------------------------------------------------------ reported estimates


def generic(estimate, se=None, ci_low=None, ci_high=None, log: bool = False, level: float = 0.95) -> EffectSizes:
    """Effect sizes from reported estimates with a standard error or a confidence interval (metafor: escalc with
    yi and sei, measure "GEN").

    log=False: estimate, se and the interval are on the analysis scale already (mean differences, log ratios
    reported as such). log=True: estimate and interval are ratios (OR, RR, HR, ...) on their natural scale and
    are logged here; `se` is then taken as the standard error of the log ratio (as software reports it), since a
    standard error of the ratio itself could only be converted by a delta-method approximation.

    Per study, the standard error is `se` where it is given (not NaN/None) and otherwise
    (log(ci_high) - log(ci_low)) / (2 z) (without the logs when log=False), z the normal quantile of `level`:
    the interval is assumed to be a symmetric Wald interval on the analysis scale. The reported estimate is kept
    as yi even where the interval is not centred on it (rounding); a missing estimate is taken as the interval's
    midpoint on the analysis scale. A study with neither a positive standard error nor a valid interval, or with
    a non-positive ratio when log=True, is not estimable.
    """
    estimate = _floats(estimate)
    k = len(estimate)
    se, ci_low, ci_high = (_optional(x, k) for x in (se, ci_low, ci_high))
    z = z_quantile(0.5 + level / 2)
    missing = np.isnan(estimate)
    bad = np.zeros(k, dtype=bool)
    if log:
        bad |= ~missing & ~(estimate > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            estimate, ci_low, ci_high = (np.where(x > 0, np.log(x), np.nan) for x in (estimate, ci_low, ci_high))
    se_used = np.where(np.isnan(se), (ci_high - ci_low) / (2 * z), se)
    yi = np.where(missing, (ci_low + ci_high) / 2, estimate)
    vi = se_used**2
    bad |= ~(se_used > 0)
    return _finish(yi, vi, bad, _no_correction(k))


def peto_log_ratio(o_minus_e, v) -> EffectSizes:
    """Per-study Peto log ratio (O - E) / V with variance 1 / V from reported O - E and variance V (a log hazard
    ratio from a log-rank test, or a log odds ratio). Not estimable without a positive, finite V."""
    o_minus_e, v = _arr(o_minus_e, v)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi, vi = o_minus_e / v, 1 / v
    return _finish(yi, vi, ~(v > 0), _no_correction(len(yi)))


def _floats(values) -> np.ndarray:
    """Floats with None as NaN."""
    return np.array([np.nan if v is None else v for v in np.atleast_1d(np.asarray(values, dtype=object))], dtype=float)


def _optional(values, k: int) -> np.ndarray:
    """_floats of `values`, or all NaN of length k when `values` is None."""
    if values is None:
        return np.full(k, np.nan)
    return _floats(values)
