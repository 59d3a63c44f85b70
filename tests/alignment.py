"""Shared by the metafor alignment tests: loading a pinned reference, the tolerance rule and the tolerances every
reference shares, and the builders and comparisons the test files would otherwise each copy."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from builder.stats import EffectSizes, log_odds_ratio, mean_difference

REFERENCE_DIR = Path(__file__).parent / "reference"


def load_reference(name: str) -> dict:
    """tests/reference/<name>.json, as written by the R script beside it."""
    return json.loads((REFERENCE_DIR / f"{name}.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Tol:
    """|actual - expected| <= atol + rtol * |expected|."""

    rtol: float
    atol: float

    def ok(self, actual: float, expected: float) -> bool:
        return abs(actual - expected) <= self.atol + self.rtol * abs(expected)


# Closed-form quantities (escalc yi; common-effect, DerSimonian-Laird, Mantel-Haenszel and Peto fits; Q and its
# p-value in every fit): the same formulas evaluated in a different order of floating-point operations, against a
# reference stored with 15 significant digits (relative rounding below 5e-16). Agreement is ~1e-14; 1e-10 relative
# leaves room for cancellation (a risk difference of two close proportions, Q, CI bounds near zero) but catches
# any difference of formula (a variance with n - 1 for n, a different correction, another df). The absolute floor
# is for quantities that are exactly zero (yi of a study with equal risks, a truncated tau² or I²).
CLOSED_FORM = Tol(rtol=1e-10, atol=1e-12)

# p-values of closed-form statistics, relatively only: they reach ~1e-30 (Q of BCG) where any absolute tolerance
# would accept anything. scipy and R evaluate normal, t and chi-squared tails to ~1e-14 relative; the relative
# error of a p-value is about |z| times the absolute error of z.
P_VALUE = Tol(rtol=1e-9, atol=0.0)

# tau² from the iterative estimators (Fisher scoring for ML, REML and EB; root finding for PM). Every reference is
# converged far beyond metafor's defaults (Fisher scoring until the change in tau² is below 1e-12, half steps; PM:
# uniroot with tol 1e-14), and our engine stops Fisher scoring when the step is below 1e-12 and brackets PM to
# 1e-12 absolute / 4 ulp relative. A linearly converging iteration can still be a small multiple of its last step
# from the limit (step size times r / (1 - r) for contraction ratio r), so allow 1e-9 absolute -- ratios up to
# 0.999 -- plus a relative term for the large tau² of normand1999 (~700), where 1e-12 is below double precision.
# 1000 times tighter than a comparison with metafor's default threshold (1e-5) would allow.
TAU2_ITERATIVE = Tol(rtol=1e-10, atol=1e-9)

CI_METHOD = {"z": "wald", "knha": "hksj", "adhoc": "hksj-adhoc"}  # metafor's test= to our ci_method


def as_float(values) -> np.ndarray:
    """A reference vector as floats, JSON null (R's NA) as NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def compare_vector(name: str, actual: np.ndarray, expected: np.ndarray, tol: Tol) -> list[str]:
    """The elements of `actual` that differ from `expected` beyond `tol`, or are NaN in one only, as messages."""
    if actual.shape != expected.shape:
        return [f"{name}: {len(actual)} values, reference has {len(expected)}"]
    problems = []
    for i, (a, e) in enumerate(zip(actual, expected)):
        if math.isnan(e) or math.isnan(a):
            if not (math.isnan(e) and math.isnan(a)):
                problems.append(f"{name}[{i}]: ours {a!r}, metafor {e!r} (estimable in one only)")
        elif not tol.ok(a, e):
            problems.append(f"{name}[{i}]: ours {a!r}, metafor {e!r}, diff {a - e:.3e}")
    return problems


def model_effect_sizes(dataset: dict) -> EffectSizes:
    """The effect sizes the model references (metafor.json, models.json) fit: escalc's log odds ratio with 0.5
    added to zero cells for a binary dataset, the mean difference for a continuous one, and yi and vi as given
    for a generic one."""
    x = dataset["inputs"]
    if dataset["type"] == "binary":
        return log_odds_ratio(x["ai"], x["n1i"], x["ci"], x["n2i"], add=0.5)
    if dataset["type"] == "continuous":
        return mean_difference(x["m1i"], x["sd1i"], x["n1i"], x["m2i"], x["sd2i"], x["n2i"])
    yi, vi = as_float(x["yi"]), as_float(x["vi"])
    ok = np.isfinite(yi) & np.isfinite(vi)
    return EffectSizes(yi, vi, ok, np.zeros(len(yi), dtype=bool))


def rma_quantities(fit) -> dict:
    """Our fit's numbers under the names metafor's rma objects give them; tau² and the prediction interval
    are added by the caller for random-effects fits (metafor reports tau² = 0 for a common effect)."""
    return {
        "estimate": fit.estimate,
        "se": fit.se,
        "ci_lb": fit.ci_low,
        "ci_ub": fit.ci_high,
        "zval": fit.statistic,
        "pval": fit.p,
        "QE": fit.q,
        "QEp": fit.q_p,
        "I2": fit.i2,
        "H2": fit.h2,
    }
