"""Estimators of the between-study variance tau², as metafor's rma(method=...) computes them.

Every estimator takes the effect sizes yi, their sampling variances vi and, optionally, a k x p design matrix X
(default: a column of ones, the intercept-only random-effects model; Egger's regression test passes an intercept
and the standard errors). All are truncated at zero.

    DL    DerSimonian-Laird: method of moments with inverse-variance weights.
    HE    Hedges (also "variance component" or Cochran-ANOVA): method of moments with unit weights.
    SJ    Sidik-Jonkman: one re-weighting step from the crude start (1/k) * sum((yi - mean(yi))^2).
    PM    Paule-Mandel: the tau² at which the generalised Q statistic equals its expectation k - p.
    EB    Morris's empirical Bayes estimator, by metafor's fixed-point iteration. Its fixed point solves the same
          equation as PM (Q(tau²) k / (k - p) = k), so EB and PM agree to convergence.
    ML    maximum likelihood, Fisher scoring.
    REML  restricted maximum likelihood, Fisher scoring.

ML, REML and EB start from the HE estimate (truncated at zero), as metafor does, and iterate until the change in
tau² is below TOL (or at machine precision for large tau²), much tighter than metafor's default of 1e-5.

Without moderators (X None, the random-effects model) the sums come from `kernel` (Python floats for small k,
numpy for large k), and two iterations converge faster than metafor's while solving the same equations:
  - ML and REML take Newton steps on the Fisher-scoring step (score over expected information, a nearly linear
    function of tau² with the score's roots; see _ml_steps) instead of Fisher-scoring steps where that Newton
    step is defined and its point stays between the largest tau² known to have a positive score and the
    smallest known to have a negative one; otherwise the Fisher-scoring step, as before. This converges
    quadratically (about 5 steps from the HE start where Newton steps on the score take 7, and Fisher
    scoring 15 to 40). The start stays metafor's HE estimate even though the DL estimate is usually nearer:
    the likelihood can have a local maximum inside as well as one at 0, and which one the iteration reaches
    depends on the start (the ML fit of the first six BCG trials: from HE, 0 as metafor; from DL, 0.054).
  - PM and the Q-profile limits solve Q(tau²) = target by Newton's method started at tau² = 0. Q is decreasing
    and convex in tau² (its second derivative 2 (sum(w³ r²) - sum(w² r)² / sum(w)) is >= 0 by Cauchy-Schwarz), so
    the iterates rise monotonically to the root, never overshoot, and converge quadratically; Brent's method
    remains the fallback.
The stopping rule is the one of Fisher scoring (last step below TOL, or 1e-12 relative for large tau²); after a
Newton step of size s the remaining error is of order s², so the estimates are at least as accurate. ML and
REML also stop one step earlier once their steps show quadratic convergence and predict a next step below
rounding noise (_quadratic_tail_negligible).
"""

from __future__ import annotations

import math

import numpy as np

from . import kernel

TOL = 1e-12
MAX_ITER = 1000
MAX_NEWTON = 100  # Newton steps for Q(tau²) = target before falling back to Brent's method
# After ML or REML converge, metafor compares the log-likelihood at the estimate with that at tau² = 0 and takes
# 0 if the boundary is better by more than its `tol` (default eps^(1/4)): Fisher scoring may have stopped at a
# local maximum. We make the same check with the same margin.
LL0_MARGIN = np.finfo(float).eps ** 0.25
EPS = float(np.finfo(float).eps)


def _design(X, k: int) -> np.ndarray:
    return np.ones((k, 1)) if X is None else np.asarray(X, dtype=float).reshape(k, -1)


class _Projection:
    """The pieces of P = W - W X (X'WX)^-1 X'W that the estimators need, in O(k p²) without forming P.

    y'Py is the weighted residual sum of squares of the weighted least-squares fit of y on X, Py = w * residuals,
    trace(P) = sum(w) - tr(A X'W²X) and tr(PP) = sum(w²) - 2 tr(A X'W³X) + tr((A X'W²X)²), with A = (X'WX)^-1.
    """

    def __init__(self, w: np.ndarray, X: np.ndarray, y: np.ndarray):
        wx = w[:, None] * X
        self.A = np.linalg.inv(X.T @ wx)
        beta = self.A @ (wx.T @ y)
        self.residuals = y - X @ beta
        self.w, self.X = w, X
        self.Py = w * self.residuals
        self.rss = float(np.sum(w * self.residuals**2))

    def trace(self) -> float:
        w, X = self.w, self.X
        return float(np.sum(w) - np.trace(self.A @ (X.T @ ((w**2)[:, None] * X))))

    def trace_pp(self) -> float:
        w, X = self.w, self.X
        m2 = self.A @ (X.T @ ((w**2)[:, None] * X))
        m3 = self.A @ (X.T @ ((w**3)[:, None] * X))
        return float(np.sum(w**2) - 2 * np.trace(m3) + np.trace(m2 @ m2))

    def diagonal(self) -> np.ndarray:
        leverage = np.einsum("ij,jk,ik->i", self.X, self.A, self.X)
        return self.w - self.w**2 * leverage


def generalised_q(tau2: float, yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    """Q with weights 1/(vi + tau²) about the weighted least-squares fit (Cochran's Q at tau² = 0)."""
    if X is None:  # intercept only: the weighted mean, without matrices
        return kernel.prepare(yi, vi).at(tau2)[3]
    X = _design(X, len(yi))
    return _Projection(1 / (vi + tau2), X, yi).rss


def dersimonian_laird(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    if X is None:  # intercept only: closed form without matrices
        d = kernel.prepare(yi, vi)
        w, sw, _, q = d.at(0.0)
        return _dl(d.k, sw, d.square_sum(w), q)
    X = _design(X, len(yi))
    k, p = X.shape
    P = _Projection(1 / vi, X, yi)
    return float(max(0.0, (P.rss - (k - p)) / P.trace()))


def _dl(k: int, sw: float, sw2: float, q: float) -> float:
    """DL from Cochran's Q and the sums of the fixed-effect weights and of their squares."""
    return max(0.0, (q - (k - 1)) / (sw - sw2 / sw))


def hedges(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    """(Residual sum of squares of the ordinary LS fit - its expectation without heterogeneity) / (k - p)."""
    if X is None:
        return _hedges(kernel.prepare(yi, vi))
    X = _design(X, len(yi))
    k, p = X.shape
    P = _Projection(np.ones(k), X, yi)
    return float(max(0.0, (P.rss - np.sum(P.diagonal() * vi)) / (k - p)))


def _hedges(d: kernel.Studies) -> float:
    """hedges without moderators: leverage 1/k for every study."""
    k = d.k
    ss = d.mean_and_ss()[1]
    return max(0.0, (ss - (1 - 1 / k) * d.total_vi()) / (k - 1))


def _sidik_jonkman(d: kernel.Studies) -> float:
    k = d.k
    tau2_0 = d.mean_and_ss()[1] / k
    return max(0.0, tau2_0 * d.at(tau2_0)[3] / (k - 1))


def sidik_jonkman(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    """tau0² Q(tau0²) / (k - p) with metafor's start tau0² = the variance of yi with divisor k (about their mean,
    also when X has moderators)."""
    if X is None:
        return _sidik_jonkman(kernel.prepare(yi, vi))
    X = _design(X, len(yi))
    k, p = X.shape
    tau2_0 = float(np.mean((yi - np.mean(yi)) ** 2))
    return float(max(0.0, tau2_0 * generalised_q(tau2_0, yi, vi, X) / (k - p)))


def paule_mandel(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    """The tau² at which the generalised Q statistic equals its expectation, k - p (0 if Q(0) < k - p)."""
    if X is None:
        d = kernel.prepare(yi, vi)
        return q_root(d, d.k - 1.0)
    X = _design(X, len(yi))
    target = X.shape[0] - X.shape[1]
    if generalised_q(0.0, yi, vi, X) <= target:
        return 0.0
    upper = max(1.0, float(np.var(yi)) * 10)
    while generalised_q(upper, yi, vi, X) > target:  # Q(tau²) decreases to 0 as tau² grows
        upper *= 10
    return _brent(lambda t: generalised_q(t, yi, vi, X) - target, upper)


def _brent(f, upper: float) -> float:
    """The root of f on [0, upper] (f changes sign there) by Brent's method. scipy.optimize is imported here:
    only the fallbacks and models with moderators need it, and importing it costs every build 0.3 s."""
    from scipy import optimize

    return float(optimize.brentq(f, 0.0, upper, xtol=TOL, rtol=4 * np.finfo(float).eps, maxiter=MAX_ITER))


def q_root(d: kernel.Studies, target: float, q0: tuple[float, float] | None = None) -> float:
    """The tau² >= 0 at which the generalised Q statistic of the intercept-only model equals `target` > 0, or 0
    when Q(0) <= target. `q0`: d.q_sums at tau² = 0, if already known.

    Newton's method from tau² = 0: Q is decreasing and convex, so the iterates increase to the root (see the
    module docstring); Brent's method on a bracket if they have not converged after MAX_NEWTON steps.
    """
    q, slope = q0 if q0 is not None else d.q_sums(0.0)
    if q <= target:
        return 0.0
    t = 0.0
    for _ in range(MAX_NEWTON):
        step = (q - target) / slope
        t += step
        if abs(step) <= max(TOL, 1e-12 * t):
            return t
        q, slope = d.q_sums(t)
    upper = max(1.0, 10 * t)
    while d.at(upper)[3] > target:
        upper *= 10
    return _brent(lambda x: d.at(x)[3] - target, upper)


def _intercept_log_likelihood(k: int, sum_log: float, sw: float, q: float, restricted: bool) -> float:
    """The (restricted) log-likelihood of the intercept-only model from sum(log(vi + tau²)), sum(w) and Q(tau²)."""
    ll = -0.5 * (k - 1 if restricted else k) * math.log(2 * math.pi) - 0.5 * sum_log - 0.5 * q
    return ll - 0.5 * math.log(sw) if restricted else ll


def _log_likelihood(tau2: float, yi, vi, X, restricted: bool) -> float:
    """With X None, yi is the kernel.Studies (and vi unused)."""
    if X is None:
        _, sw, _, q = yi.at(tau2)
        return _intercept_log_likelihood(yi.k, yi.sum_log(tau2), sw, q, restricted)
    k, p = X.shape
    w = 1 / (vi + tau2)
    rss = _Projection(w, X, yi).rss
    ll = -0.5 * (k - p if restricted else k) * np.log(2 * np.pi) - 0.5 * np.sum(np.log(vi + tau2)) - 0.5 * rss
    if restricted:
        ll -= 0.5 * np.linalg.slogdet(X.T @ (w[:, None] * X))[1]
    return float(ll)


def _score_step(yi, vi, X, tau2: float, kind: str, k: int, p: int) -> float:
    """One Fisher-scoring step; for the intercept-only model (X None, yi the kernel.Studies) the traces have
    closed forms."""
    if X is None:
        if kind == "EB":
            _, sw, _, q = yi.at(tau2)
            return (q * k / (k - p) - k) / sw
        return _ml_steps(yi, tau2, kind == "REML")[0]
    w = 1 / (vi + tau2)
    P = _Projection(w, X, yi)
    Py = P.Py
    if kind == "ML":
        return float((Py @ Py - np.sum(w)) / np.sum(w**2))
    if kind == "REML":
        return float((Py @ Py - P.trace()) / P.trace_pp())
    return float((P.rss * k / (k - p) - k) / np.sum(w))


def _bracketed_root(yi, vi, X, kind: str, k: int, p: int) -> float:
    """Where the scoring step (a positive multiple of the score) is zero, searched on [0, upper] by Brent's method
    (yi, vi and X as for _score_step)."""

    def score(t: float) -> float:
        return _score_step(yi, vi, X, t, kind, k, p)

    if score(0.0) <= 0:
        return 0.0
    upper = max(1.0, float(np.var(np.asarray(yi.yi if X is None else yi))))
    while score(upper) > 0:
        upper *= 10
        if upper > 1e12:
            raise ArithmeticError(f"{kind} estimation of tau² did not converge")
    return _brent(score, upper)


def _ml_steps(d: kernel.Studies, tau2: float, restricted: bool) -> tuple[float, float | None, float]:
    """(Fisher-scoring step, Newton step or None where that step is undefined, score) of ML or REML at tau²,
    intercept only.

    The Fisher-scoring step is phi = u / f, score over expected information; the Newton step here is Newton's
    method applied to phi itself, -phi / phi', rather than to the score u: phi has the same roots as u (f > 0)
    and is nearly linear in tau² (exactly linear when all vi are equal, where Fisher scoring is exact in one
    step), so its Newton steps do not fall short far from the root as Newton steps on the convex score do
    (about 5 steps instead of 7 from the HE start), and near the root they converge quadratically all the same.
    With u' = -o (o the observed information), phi' = -(o f + u f') / f², so the step is u f / (o f + u f');
    it is used where o f + u f' > 0, i.e. where phi decreases as it does at a maximum.

    The score and both informations are doubled, which leaves the steps unchanged:
      REML: score y'PPy - tr(P), expected information tr(PP), observed 2 y'PPPy - tr(PP);
      ML:   score y'PPy - sum(w), expected information sum(w²), observed 2 y'PPPy - sum(w²);
    with Py = w r, tr(P) = sum(w) - sum(w²)/sum(w), tr(PP) = sum(w²) - 2 sum(w³)/sum(w) + (sum(w²)/sum(w))²,
    y'PPy = sum(w² r²) and y'PPPy = sum(w³ r²) - sum(w² r)² / sum(w). As dw/dtau² = -w², the derivative of
    sum(w^n) is -n sum(w^(n+1)), so f' = -2 tr(PPP) = -2 sum(w³) + 6 sum(w⁴)/sum(w) - 6 sum(w²) sum(w³)/sum(w)²
    + 2 (sum(w²)/sum(w))³ for REML and -2 sum(w³) for ML.
    """
    sw, sw2, sw3, sw4, a, b, c = d.score_sums(tau2)
    if restricted:
        m = sw2 / sw
        u = a - (sw - m)
        f = sw2 - 2 * sw3 / sw + m * m
        df = 2 * (-sw3 + (3 * sw4 - 3 * m * sw3) / sw + m * m * m)
    else:
        u = a - sw
        f = sw2
        df = -2 * sw3
    o = 2 * (b - c * c / sw) - f
    denominator = o * f + u * df
    return u / f, (u * f / denominator if denominator > 0 else None), u


def _feasible(tau2: float, step: float) -> float:
    """The step, halved until it keeps tau² >= 0 (or, once below TOL, the step to 0)."""
    while tau2 + step < 0:
        step /= 2
        if abs(step) < TOL:
            return -tau2
    return step


def _converged(step: float, tau2: float) -> bool:
    """The step is below TOL or, for large tau², below 1e-12 of it: there the steps are rounding noise of a few
    1e-12 that an absolute threshold would never see end."""
    return abs(step) <= TOL or abs(step) <= 1e-12 * tau2


def _quadratic_tail_negligible(s0: float, s1: float, s2: float, tau2: float) -> bool:
    """After three consecutive Newton steps s0, s1, s2 ending at tau²: is the next one below rounding noise?

    Near a simple root Newton's method converges quadratically, each step about C times the square of the one
    before. The steps show that regime when s1 / s0² and s2 / s1² agree within a factor of 4; the next step is
    then about (s2 / s1²) s2², and so is the error remaining in tau² (the step after that is of order its
    square). When 4 times that prediction is below 8 units of machine epsilon relative to tau², the step the
    plain rule (_converged) would still take could only move tau² by rounding noise: the score is evaluated
    with rounding errors of that size, and its last steps in that regime are such noise (seen at a few 1e-17
    on tau² of 0.002 to 0.2). So stopping here keeps tau² as accurate as before while saving one evaluation of
    the score (on about a third of fits; 5 to 4 on the k = 13 benchmark).
    """
    c1, c2 = abs(s1) / (s0 * s0), abs(s2) / (s1 * s1)
    return c1 / 4 <= c2 <= 4 * c1 and 4 * c2 * s2 * s2 <= 8 * EPS * tau2


def _newton_ml(d: kernel.Studies, kind: str) -> float:
    """ML or REML without moderators: safeguarded Newton steps from the HE estimate (see the module docstring).

    The last Newton steps are kept in two variables and _converged is written out for them: this loop is most
    of a random-effects fit of a dozen studies, where a function call or a tuple per step is a noticeable share.
    """
    restricted = kind == "REML"
    tau2 = _hedges(d)
    low, high = 0.0, math.inf  # the root lies between: the score is >= 0 at `low` and < 0 at `high`
    s0: float | None = None  # the two steps before this one, while they are unaltered Newton steps
    s1: float | None = None
    for _ in range(MAX_ITER):
        step, newton, score = _ml_steps(d, tau2, restricted)
        if score > 0:
            low = tau2
        elif score < 0:
            high = tau2
        if newton is not None and low <= tau2 + newton <= high:  # so tau² + newton >= low >= 0
            tau2 = tau2 + newton
            size = abs(newton)
            if size <= TOL or size <= 1e-12 * tau2:  # _converged
                return tau2
            if s0 is not None and s1 is not None and _quadratic_tail_negligible(s0, s1, newton, tau2):
                return tau2
            s0, s1 = s1, newton
        else:
            step = _feasible(tau2, step)
            tau2 = tau2 + step
            if _converged(step, tau2):
                return tau2
            s0 = s1 = None
    return _bracketed_root(d, None, None, kind, d.k, 1)


def _fisher_scoring(yi, vi, X, kind: str) -> float:
    if X is None:  # intercept only: yi becomes the kernel.Studies
        yi, vi = kernel.prepare(yi, vi), None
        if kind in ("ML", "REML"):
            return _check_boundary(_newton_ml(yi, kind), yi, vi, X, kind)
        k, p = yi.k, 1
        tau2 = _hedges(yi)
    else:
        X = _design(X, len(yi))
        k, p = X.shape
        tau2 = hedges(yi, vi, X)
    for _ in range(MAX_ITER):
        step = _score_step(yi, vi, X, tau2, kind, k, p)
        step = _feasible(tau2, step)
        tau2 = tau2 + step
        if _converged(step, tau2):
            break
    else:
        # Fisher scoring can oscillate (seen near tau² = 0 with very unequal variances). The estimate is then the
        # root of the same estimating equation, which a bracketing search finds without steps to overshoot.
        tau2 = _bracketed_root(yi, vi, X, kind, k, p)
    return _check_boundary(tau2, yi, vi, X, kind)


def _check_boundary(tau2: float, yi, vi, X, kind: str) -> float:
    """tau² truncated at 0, and 0 where the ML or REML log-likelihood is higher there by more than LL0_MARGIN."""
    tau2 = max(0.0, float(tau2))
    if kind in ("ML", "REML") and tau2 > TOL:
        restricted = kind == "REML"
        if X is None:  # yi the kernel.Studies
            _, sw0, _, q0 = yi.at(0.0)
            _, sw, _, q = yi.at(tau2)
            gain = _gain_at_zero(yi.log_growth(tau2), sw0, q0, sw, q, restricted)
        else:
            gain = _log_likelihood(0.0, yi, vi, X, restricted) - _log_likelihood(tau2, yi, vi, X, restricted)
        if gain > LL0_MARGIN:
            tau2 = 0.0
    return tau2


def _gain_at_zero(log_growth: float, sw0: float, q0: float, sw: float, q: float, restricted: bool) -> float:
    """ll(0) - ll(tau²) for the intercept-only (restricted) log-likelihood of _intercept_log_likelihood, from
    log_growth = sum(log(vi + tau²)) - sum(log(vi)) (kernel.log_growth) and sum(w) and Q at 0 and at tau²; the
    constant terms cancel."""
    gain = 0.5 * (log_growth + q - q0)
    return gain + 0.5 * math.log(sw / sw0) if restricted else gain


def maximum_likelihood(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    return _fisher_scoring(yi, vi, X, "ML")


def reml(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    """Restricted maximum likelihood by Fisher scoring, truncated at zero, as metafor does."""
    return _fisher_scoring(yi, vi, X, "REML")


def empirical_bayes(yi: np.ndarray, vi: np.ndarray, X=None) -> float:
    return _fisher_scoring(yi, vi, X, "EB")


def intercept_only(method: str, d: kernel.Studies, at0: tuple, sw2_0: float) -> tuple[float, tuple]:
    """(tau², d.at(tau²)) for the random-effects fit, which has already computed at0 = d.at(0) and sw2_0 =
    sum(1 / vi²): the same estimate as ESTIMATORS[method](yi, vi), reusing those sums (DL is a function of them;
    the boundary check of ML and REML compares the likelihood at 0 and at the estimate, which are at0 and the
    sums returned).
    """
    k = d.k
    _, sw0, _, q0 = at0
    if method == "DL":
        tau2 = _dl(k, sw0, sw2_0, q0)
    elif method in ("ML", "REML"):
        tau2 = max(0.0, _newton_ml(d, method))
        if tau2 > TOL:
            at_t = d.at(tau2)
            gain = _gain_at_zero(d.log_growth(tau2), sw0, q0, at_t[1], at_t[3], method == "REML")
            if gain <= LL0_MARGIN:  # as _check_boundary
                return tau2, at_t
            tau2 = 0.0
    elif method in _INTERCEPT_ONLY:
        tau2 = _INTERCEPT_ONLY[method](d)
    else:
        tau2 = ESTIMATORS[method](d.yi, d.vi)
    return tau2, (at0 if tau2 == 0 else d.at(tau2))


ESTIMATORS = {
    "DL": dersimonian_laird,
    "HE": hedges,
    "SJ": sidik_jonkman,
    "PM": paule_mandel,
    "EB": empirical_bayes,
    "ML": maximum_likelihood,
    "REML": reml,
}

_INTERCEPT_ONLY = {
    "HE": _hedges,
    "SJ": _sidik_jonkman,
    "PM": lambda d: q_root(d, d.k - 1.0),
}
