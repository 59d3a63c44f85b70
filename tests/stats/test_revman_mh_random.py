"""RevMan 5's random-effects model of a Mantel-Haenszel analysis (tau² from the Mantel-Haenszel Q) against the
reference tests/reference/revman_mh_random_reference.R builds from metafor 3.8's rma.mh and rma(tau2 = ).

Every quantity is closed-form (no iteration), so CLOSED_FORM applies, and P_VALUE to the P values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from alignment import CLOSED_FORM, P_VALUE, load_reference

from builder.stats import (
    log_odds_ratio,
    log_risk_ratio,
    mantel_haenszel_or,
    mantel_haenszel_rd,
    mantel_haenszel_rr,
    risk_difference,
)
from builder.stats.random import dersimonian_laird_at_q

REFERENCE = load_reference("revman_mh_random")
MEASURES = {
    "OR": (log_odds_ratio, mantel_haenszel_or),
    "RR": (log_risk_ratio, mantel_haenszel_rr),
    "RD": (risk_difference, mantel_haenszel_rd),
}


def _close(tol, actual, expected, what):
    assert abs(actual - expected) <= tol.atol + tol.rtol * abs(expected), f"{what}: {actual!r} vs {expected!r}"


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: c["name"])
def test_mantel_haenszel_random_effects_as_revman(case):
    effects, pool = MEASURES[case["measure"]]
    cells = [np.array(case[k], dtype=float) for k in ("ai", "n1i", "ci", "n2i")]
    es = effects(*cells, add=0.5)
    mh = pool(*cells, es, add=0.5)
    _close(CLOSED_FORM, mh.heterogeneity.q, case["q_mh"], "Q of the Mantel-Haenszel fit")
    fit = dersimonian_laird_at_q(es, mh.heterogeneity.q)
    assert fit.heterogeneity.q_df == case["q_df"]
    for name in ("tau2", "estimate", "se", "ci_low", "ci_high"):
        ours = fit.heterogeneity.tau2 if name == "tau2" else getattr(fit, name)
        _close(CLOSED_FORM, ours, case[name], name)
    _close(CLOSED_FORM, fit.statistic, case["z"], "z")
    _close(P_VALUE, fit.p, case["p"], "p")
    _close(CLOSED_FORM, fit.heterogeneity.i2, case["i2"], "I²")
    _close(CLOSED_FORM, fit.prediction.low, case["pi_low"], "PI low")
    _close(CLOSED_FORM, fit.prediction.high, case["pi_high"], "PI high")
    expected = [math.nan if w is None else w for w in case["weights"]]
    assert np.allclose(fit.weights, expected, rtol=CLOSED_FORM.rtol, atol=CLOSED_FORM.atol, equal_nan=True)
