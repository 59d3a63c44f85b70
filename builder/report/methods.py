"""What the methods page states, worked out from the analyses of this version, so that it can say only what the
code does: which measures, models, intervals and corrections are in use, and how pre-post data are pooled."""

from __future__ import annotations

from dataclasses import dataclass, field

from builder.analysis.result import AnalysisResult
from builder.contract import Analysis
from builder.contract.measures import MEASURES

TAU2_NAMES = {
    "REML": "restricted maximum likelihood (REML)",
    "DL": "DerSimonian-Laird",
    "PM": "Paule-Mandel",
    "ML": "maximum likelihood",
    "HE": "Hedges",
    "SJ": "Sidik-Jonkman",
    "EB": "empirical Bayes",
}
INTERVAL_NAMES = {
    "hksj": "the Hartung-Knapp-Sidik-Jonkman interval",
    "hksj-adhoc": "the Hartung-Knapp-Sidik-Jonkman interval, never narrower than Wald's (ad hoc variant)",
    "wald": "a Wald (normal) interval",
}


def pooling_method(result: AnalysisResult) -> str:
    """The pooling method as RevMan names it: M-H, Peto or IV (inverse variance, random effects included)."""
    method = result.fit.method if result.fit is not None else result.spec.method
    return {"MH": "M-H", "Peto": "Peto"}.get(method or "", "IV")


@dataclass(frozen=True)
class MethodsInUse:
    measures: list[str]  # labels, in the registry's order
    zero_cell_corrections: list[float]  # added to a zero-cell study's own estimate (dichotomous analyses)
    mh_corrections: list[float]  # added inside the Mantel-Haenszel estimate
    peto: bool
    random_effects: list[str]  # "<tau² estimator> with <interval>", each combination once
    prediction_interval: bool  # some random-effects analysis reports one
    i2_switch: bool  # some analysis chooses its model from I² (reproductions of the source review)
    pre_post: list[str]  # titles of the analyses that pool one-arm before-after data
    # The double_zero_studies settings of the dichotomous analyses, each once: "keep", "keep-in-rd", "drop".
    double_zero: list[str]
    treatment_arm_correction: bool  # some sensitivity panel has Sweeting's treatment-arm correction row
    risk_ratio_row: bool  # some sensitivity panel has the Mantel-Haenszel risk ratio row
    pre_post_correlations: list[float] = field(default_factory=list)  # the correlations those analyses assume
    contrast: list[str] = field(default_factory=list)  # titles of analyses with study-reported estimates
    o_minus_e: bool = False  # some analysis pools O - E and variance as reported
    meta_regression: list[str] = field(default_factory=list)  # titles of the analyses with a meta-regression
    meta_regression_tests: list[str] = field(default_factory=list)  # "knha", "z": each in use once
    meta_regression_estimators: list[str] = field(default_factory=list)  # names of their tau² estimators
    characteristic_subgroups: list[str] = field(default_factory=list)  # labels of declared characteristics
    # analyses split subgroups by
    bias_followups: bool = False  # influence diagnostics, trim-and-fill, Begg, Harbord and Peters, weighted RoB


def methods_in_use(results: list[AnalysisResult], bias_followups: bool = False) -> MethodsInUse:
    specs = [r.spec for r in results]
    random = [s for s in specs if s.model in ("random", "i2-switch")]
    return MethodsInUse(
        measures=[m.label for code, m in MEASURES.items() if any(s.measure == code for s in specs)],
        zero_cell_corrections=_zero_cell_corrections(specs),
        mh_corrections=sorted({s.mh_continuity_correction for s in specs if s.method == "MH"}),
        peto=any(s.method == "Peto" for s in specs),
        random_effects=_random_effects(random),
        prediction_interval=any(s.shows_prediction_interval for s in random),
        i2_switch=any(s.model == "i2-switch" for s in specs),
        double_zero=_double_zero_rules(specs),
        treatment_arm_correction=_has_row(results, "treatment-arm-correction"),
        risk_ratio_row=_has_row(results, "risk-ratio"),
        **_data_shapes(results),
        **_characteristics_in_use(results),
        bias_followups=bias_followups,
    )


def _double_zero_rules(specs: list[Analysis]) -> list[str]:
    """The double_zero_studies settings of the dichotomous analyses, each once, in the plan's order."""
    dichotomous = [s for s in specs if MEASURES[s.measure].outcome_type == "dichotomous"]
    return list(dict.fromkeys(s.double_zero_studies for s in dichotomous))


def _has_row(results: list[AnalysisResult], row_id: str) -> bool:
    """Whether some analysis's sensitivity panel has the row (versions released before it have none)."""
    return any(row.id == row_id for r in results for row in r.followups.get("sensitivity", []))


def _data_shapes(results: list[AnalysisResult]) -> dict:
    """The analyses that pool before-after data (with the correlations they assume) or estimates the studies
    report (contrast-level data, O - E and variance)."""
    pre_post = [r for r in results if _pools_pre_post(r)]
    reported = [r for r in results if r.data_kinds & {"contrast", "o-e"}]
    return {
        "pre_post": [r.spec.title for r in pre_post],
        "pre_post_correlations": sorted({r.spec.pre_post_correlation for r in pre_post}),
        "contrast": [r.spec.title for r in reported],
        "o_minus_e": any("o-e" in r.data_kinds for r in reported),
    }


def _characteristics_in_use(results: list[AnalysisResult]) -> dict:
    """The MethodsInUse fields of meta-regressions and subgroups by declared characteristics."""
    regressing = [r.spec for r in results if r.spec.meta_regression is not None]
    return {
        "meta_regression": [s.title for s in regressing],
        "meta_regression_tests": list(dict.fromkeys(s.meta_regression.test for s in regressing if s.meta_regression)),
        "meta_regression_estimators": list(dict.fromkeys(TAU2_NAMES[s.tau2] for s in regressing)),
        "characteristic_subgroups": list(
            dict.fromkeys(r.subgroups.label for r in results if r.subgroups is not None and r.subgroups.label)
        ),
    }


def _zero_cell_corrections(specs: list[Analysis]) -> list[float]:
    return sorted({s.continuity_correction for s in specs if MEASURES[s.measure].outcome_type == "dichotomous"})


def _random_effects(specs: list[Analysis]) -> list[str]:
    """Each combination of tau² estimator and interval once, in the plan's order."""
    return list(dict.fromkeys(f"{TAU2_NAMES[s.tau2]} with {INTERVAL_NAMES[s.interval]}" for s in specs))


def _pools_pre_post(result: AnalysisResult) -> bool:
    return any(row.data.design == "pre-post" for row in result.rows)
