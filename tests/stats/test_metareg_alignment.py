"""Meta-regression (builder.stats.metareg) against metafor's rma(mods = ...), pinned by
tests/reference/metareg_reference.R in tests/reference/metareg.json: REML with Knapp-Hartung (t, F) and with z
(chi²) inference, one continuous moderator, one categorical moderator and both, on curtis1998 and
bangertdrowns2004."""

from __future__ import annotations

import numpy as np
import pytest
from alignment import P_VALUE, TAU2_ITERATIVE, Tol, as_float, load_reference

from builder.stats import log_ratio_of_means
from builder.stats.metareg import meta_regression

REFERENCE = load_reference("metareg")
MODELS = REFERENCE["models"]

# Everything but tau² is a closed-form function of tau² and the data. tau² agrees within TAU2_ITERATIVE (both
# sides converge Fisher scoring to 1e-12); the largest sensitivity of a reported quantity to tau² here is that of
# I² in percent, 100 v / (v + tau²)², with the typical within-study variance v >= 0.003 (curtis1998): ~3e4, so a
# 1e-9 error in tau² could move I² by ~3e-5. Coefficients, SEs, statistics and CIs have sensitivities of order
# 1 to 100. Allow 1e-4 absolute for I² and H² and 1e-6 for the rest; observed differences are ~1e-10.
DERIVED = Tol(rtol=1e-8, atol=1e-6)
I2_H2 = Tol(rtol=1e-8, atol=1e-4)
# p-values relatively: log(p) moves with the statistic, whose sensitivity to tau² is below ~1e3 here, so 1e-9 in
# tau² is ~1e-6 relative; the closed-form p of QE (free of tau²) is held to P_VALUE.
P_DERIVED = Tol(rtol=1e-5, atol=0.0)


def _design(name: str, model: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(yi, vi, X) of a reference model, with the studies R leaves out for a missing moderator dropped."""
    data = REFERENCE["datasets"][model["data"]]
    yi, vi = as_float(data["yi"]), as_float(data["vi"])
    columns = [np.ones(len(yi))]
    for moderator in model["moderators"]:
        values = data[moderator]
        if moderator in data["levels"]:
            levels = data["levels"][moderator]
            columns += [np.array([v == level for v in values], dtype=float) for level in levels[1:]]
        else:
            columns.append(as_float(values))
    X = np.column_stack(columns)
    keep = np.all(np.isfinite(X), axis=1)
    return yi[keep], vi[keep], X[keep]


def _check(ours: float, theirs: float, tol: Tol, what: str, problems: list[str]) -> None:
    if not tol.ok(ours, theirs):
        problems.append(f"{what}: ours {ours!r}, metafor {theirs!r}, diff {ours - theirs:.3e}")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_meta_regression_matches_metafor(name: str):
    model = MODELS[name]
    yi, vi, X = _design(name, model)
    fit = meta_regression(yi, vi, X, model["names"], "REML", model["test"])
    problems: list[str] = []
    assert fit.k == model["k"] and len(fit.coefficients) == model["p"]
    _check(fit.tau2, model["tau2"], TAU2_ITERATIVE, "tau2", problems)
    _check(fit.tau2_re, model["tau2_re"], TAU2_ITERATIVE, "tau2 without moderators", problems)
    for j, c in enumerate(fit.coefficients):
        for attr, key in (("estimate", "estimate"), ("se", "se"), ("statistic", "statistic")):
            _check(getattr(c, attr), model[key][j], DERIVED, f"{c.name} {attr}", problems)
        _check(c.ci_low, model["ci_low"][j], DERIVED, f"{c.name} ci_low", problems)
        _check(c.ci_high, model["ci_high"][j], DERIVED, f"{c.name} ci_high", problems)
        _check(c.p, model["pval"][j], P_DERIVED, f"{c.name} p", problems)
    assert fit.df == model["df"]
    assert fit.qm_df == model["qm_df"] and fit.qe_df == model["qe_df"]
    _check(fit.qm, model["qm"], DERIVED, "QM", problems)
    _check(fit.qm_p, model["qm_p"], P_DERIVED, "QM p", problems)
    _check(fit.qe, model["qe"], Tol(rtol=1e-10, atol=1e-12), "QE", problems)  # closed form, free of tau²
    _check(fit.qe_p, model["qe_p"], P_VALUE, "QE p", problems)
    _check(fit.i2, model["i2"], I2_H2, "I2", problems)
    _check(fit.h2, model["h2"], I2_H2, "H2", problems)
    # R² = 100 (tau²_RE - tau²) / tau²_RE: sensitivity 100 / tau²_RE ~ 4e3 per unit of tau² here (tau²_RE
    # >= 0.026), so I2_H2's 1e-4 covers errors of 1e-9 in both tau².
    _check(fit.r2, model["r2"], I2_H2, "R2", problems)
    if "predict" in model:
        pr = model["predict"]
        at = np.column_stack([np.ones(len(pr["at"])), as_float(pr["at"])])
        mu, se, low, high = fit.predict(at)
        for what, ours, theirs in (("pred", mu, pr["pred"]), ("se", se, pr["se"]), ("ci_low", low, pr["ci_low"])):
            for a, b in zip(ours, theirs):
                _check(float(a), b, DERIVED, f"predict {what}", problems)
        for a, b in zip(high, pr["ci_high"]):
            _check(float(a), b, DERIVED, "predict ci_high", problems)
    assert not problems, "\n".join(problems)


def test_curtis_effect_sizes_are_escalc_rom():
    """The YAML path test writes curtis1998's per-arm data; its effect sizes must be escalc's."""
    d = REFERENCE["datasets"]["curtis1998"]
    es = log_ratio_of_means(d["m1i"], d["sd1i"], d["n1i"], d["m2i"], d["sd2i"], d["n2i"])
    assert np.allclose(es.yi, d["yi"], rtol=1e-12, atol=0) and np.allclose(es.vi, d["vi"], rtol=1e-12, atol=0)


def test_collinear_and_underdetermined_designs_are_refused():
    yi, vi = np.array([0.1, 0.2, 0.3, 0.5]), np.array([0.01, 0.02, 0.03, 0.02])
    x = np.array([1.0, 2.0, 3.0, 5.0])
    with pytest.raises(ValueError, match="collinear"):
        meta_regression(yi, vi, np.column_stack([np.ones(4), x, 2 * x]), ["a", "b", "c"])
    with pytest.raises(ValueError, match="cannot estimate"):
        meta_regression(yi[:2], vi[:2], np.column_stack([np.ones(2), x[:2]]), ["a", "b"])
