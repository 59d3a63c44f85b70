"""Mixed-effects meta-regression, as metafor's rma(yi, vi, mods = X, method = ..., test = ...) fits it.

The model is yi = x_i' beta + u_i + e_i with u_i ~ N(0, tau²) (the residual heterogeneity, the part the moderators
leave unexplained) and e_i ~ N(0, vi). tau² comes from the estimators of `tau2` with the design matrix X; beta is
the weighted least-squares fit with weights w_i = 1 / (vi + tau²), and its covariance (X'WX)^-1.

    test "knha"  Knapp and Hartung: the covariance is multiplied by s² = sum(w_i r_i²) / (k - p) (r the residuals),
                 coefficients are tested by t on k - p df and the moderators together by F = QM / m on (m, k - p)
                 df, where QM = b' V^-1 b over the m coefficients other than the intercept.
    test "z"     metafor's default: the covariance as it is, z tests and QM against chi² on m df.

Besides: QE, the test for residual heterogeneity (Q of the fixed-effect fit with weights 1 / vi about the
regression, on k - p df); I² = tau² / (tau² + v) and H² = 1 + tau² / v of the residual heterogeneity, with v =
(k - p) / tr(P) the typical within-study variance (P the projection of the fixed-effect fit); and metafor's
pseudo-R², the share of the heterogeneity of the model without moderators (the same estimator's tau²_RE) that
the moderators account for: max(0, (tau²_RE - tau²) / tau²_RE), 0 when tau²_RE is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .dist import chi2_sf, t_quantile, t_two_sided_p, z_quantile, z_two_sided_p
from .tau2 import ESTIMATORS

TESTS = ("knha", "z")


@dataclass(frozen=True)
class Coefficient:
    name: str
    estimate: float
    se: float
    statistic: float  # t under Knapp-Hartung, z otherwise
    p: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class MetaRegression:
    k: int
    method: str  # the tau² estimator
    test: str  # "knha" or "z"
    coefficients: tuple[Coefficient, ...]  # the intercept first, in the order of X's columns
    covariance: tuple[tuple[float, ...], ...]  # of the coefficients, scaled under Knapp-Hartung
    df: int | None  # k - p for t and the F test's denominator; None under z
    qm: float  # the omnibus test of the moderators: F under Knapp-Hartung, chi² under z
    qm_df: int  # m, the number of coefficients tested (all but the intercept)
    qm_p: float
    qe: float  # the test for residual heterogeneity, on k - p df
    qe_df: int
    qe_p: float
    tau2: float  # residual heterogeneity
    i2: float  # percent
    h2: float
    tau2_re: float  # tau² of the model without moderators, on the same studies, by the same estimator
    r2: float  # percent: heterogeneity accounted for (metafor's pseudo-R²)
    level: float

    @property
    def statistic_type(self) -> str:
        return "t" if self.df is not None else "z"

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(fitted value, its SE, CI low, CI high) for each row of `x` (a matrix with the columns of X)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        beta = np.array([c.estimate for c in self.coefficients])
        cov = np.array(self.covariance)
        mu = x @ beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", x, cov, x))
        crit = _critical(self.level, self.df)
        return mu, se, mu - crit * se, mu + crit * se


def _critical(level: float, df: int | None) -> float:
    return t_quantile(0.5 + level / 2, df) if df is not None else z_quantile(0.5 + level / 2)


def _wls(yi: np.ndarray, w: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(beta, (X'WX)^-1, weighted residual sum of squares) of the weighted least-squares fit."""
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    beta = cov @ (X.T @ (w * yi))
    return beta, cov, float(np.sum(w * (yi - X @ beta) ** 2))


def _check_design(X: np.ndarray, names: list[str], k: int) -> None:
    p = X.shape[1]
    if len(names) != p:
        raise ValueError(f"{len(names)} coefficient names for {p} columns of the design matrix")
    if p < 2 or not np.all(X[:, 0] == 1.0):
        raise ValueError("the design matrix needs an intercept (a first column of ones) and at least one moderator")
    if k <= p:
        raise ValueError(f"{k} studies cannot estimate {p} coefficients and the residual heterogeneity")
    if np.linalg.matrix_rank(X) < p:
        raise ValueError("the moderators are collinear: one is a combination of the others on these studies")


def meta_regression(
    yi, vi, X, names: list[str], method: str = "REML", test: str = "knha", level: float = 0.95
) -> MetaRegression:
    """The mixed-effects meta-regression of yi (variances vi) on the columns of X (an intercept first).

    ValueError where the model is not identified (too few studies, collinear moderators) or, under Knapp-Hartung,
    where the regression fits the estimates exactly (s² = 0: metafor gives zero standard errors there)."""
    yi, vi = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    X = np.asarray(X, dtype=float).reshape(len(yi), -1)
    k, p = X.shape
    if test not in TESTS:
        raise ValueError(f"test must be one of {', '.join(TESTS)}")
    _check_design(X, names, k)
    tau2 = float(ESTIMATORS[method](yi, vi, X))
    w = 1 / (vi + tau2)
    beta, cov, rss = _wls(yi, w, X)
    df = None
    if test == "knha":
        if rss <= np.finfo(float).eps:
            raise ValueError("the Knapp-Hartung adjustment is undefined: the regression fits the estimates exactly")
        df = k - p
        cov = cov * (rss / df)
    se = np.sqrt(np.diag(cov))
    stat = beta / se
    crit = _critical(level, df)
    coefficients = tuple(
        Coefficient(
            names[j],
            float(beta[j]),
            float(se[j]),
            float(stat[j]),
            t_two_sided_p(float(stat[j]), df) if df is not None else z_two_sided_p(float(stat[j])),
            float(beta[j] - crit * se[j]),
            float(beta[j] + crit * se[j]),
        )
        for j in range(p)
    )
    m = p - 1
    b = beta[1:]
    qm = float(b @ np.linalg.solve(cov[1:, 1:], b))
    if df is not None:
        qm /= m
        qm_p = float(special.fdtrc(m, df, qm))
    else:
        qm_p = chi2_sf(qm, m)
    _, _, qe = _wls(yi, 1 / vi, X)
    i2, h2 = _i2_h2(vi, X, tau2)
    tau2_re = float(ESTIMATORS[method](yi, vi, None))
    r2 = 0.0 if tau2_re == 0 else max(0.0, 100 * (tau2_re - tau2) / tau2_re)
    return MetaRegression(
        k,
        method,
        test,
        coefficients,
        tuple(tuple(float(v) for v in row) for row in cov),
        df,
        qm,
        m,
        qm_p,
        qe,
        k - p,
        chi2_sf(qe, k - p),
        tau2,
        i2,
        h2,
        tau2_re,
        r2,
        level,
    )


def _i2_h2(vi: np.ndarray, X: np.ndarray, tau2: float) -> tuple[float, float]:
    """I² (percent) and H² of the residual heterogeneity, with metafor's typical variance (k - p) / tr(P)."""
    k, p = X.shape
    w = 1 / vi
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    trace = float(np.sum(w) - np.trace(cov @ (X.T @ ((w**2)[:, None] * X))))
    typical = (k - p) / trace
    return 100 * tau2 / (typical + tau2), 1 + tau2 / typical
