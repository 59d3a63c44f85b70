"""The effect measures an analysis can pool: one record each, read by the data model, validation, the fits,
the figures, the text and the R scripts.

To add a measure: write its per-arm effect-size function in builder.stats (and its Mantel-Haenszel pooling,
if any), add its code to `Measure` and a record to `MEASURES`, and pin metafor's values for it in
tests/reference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

from builder.stats import (
    EffectSizes,
    Fit,
    log_odds_ratio,
    log_ratio_of_means,
    log_risk_ratio,
    mantel_haenszel_or,
    mantel_haenszel_rd,
    mantel_haenszel_rr,
    mean_difference,
    risk_difference,
    standardised_mean_difference,
)

Measure = Literal["OR", "RR", "RD", "MD", "SMD", "ROM", "HR", "GEN"]
OutcomeType = Literal["dichotomous", "continuous"]
Scale = Literal["log", "identity"]


@dataclass(frozen=True)
class EffectMeasure:
    """One effect measure.

    `effect_sizes` computes it from per-arm data: (events, total) of each arm with a continuity correction
    `add` for dichotomous measures, (mean, sd, total) of each arm for continuous ones; None where the
    measure has no per-arm form: its studies give their estimates (a dataset's `contrast` or `o_minus_e`), pooled
    by inverse variance (generic inverse variance) or, for O - E and variance, by Peto's method.
    `mantel_haenszel` pools 2x2 tables by Mantel-Haenszel, where the measure allows it."""

    code: Measure
    label: str  # as RevMan prints it in a forest plot's header
    scale: Scale  # "log": estimates, intervals and yi are log values, shown exponentiated
    metafor: str  # metafor's measure= name
    outcome_type: OutcomeType  # the outcome type an analysis with this measure may have
    effect_sizes: Callable[..., EffectSizes] | None
    mantel_haenszel: Callable[..., Fit] | None = None


MEASURES: dict[str, EffectMeasure] = {
    m.code: m
    for m in (
        EffectMeasure("OR", "Odds Ratio", "log", "OR", "dichotomous", log_odds_ratio, mantel_haenszel_or),
        EffectMeasure("RR", "Risk Ratio", "log", "RR", "dichotomous", log_risk_ratio, mantel_haenszel_rr),
        EffectMeasure("RD", "Risk Difference", "identity", "RD", "dichotomous", risk_difference, mantel_haenszel_rd),
        EffectMeasure("MD", "Mean Difference", "identity", "MD", "continuous", mean_difference),
        EffectMeasure("SMD", "Std. Mean Difference", "identity", "SMD", "continuous", standardised_mean_difference),
        EffectMeasure("ROM", "Ratio of Means", "log", "ROM", "continuous", log_ratio_of_means),
        # Measures without a per-arm form: every study gives its estimate (builder.contract.study.Contrast).
        EffectMeasure("HR", "Hazard Ratio", "log", "GEN", "dichotomous", None),
        EffectMeasure("GEN", "Estimate", "identity", "GEN", "continuous", None),
    )
}

if tuple(MEASURES) != get_args(Measure):  # the Literal the data model validates against must list them all
    raise ImportError(f"builder.contract.measures: Measure lists {get_args(Measure)}, MEASURES {tuple(MEASURES)}")


def measures_for(outcome_type: str) -> set[str]:
    """The codes of the measures an outcome of this type takes."""
    return {code for code, m in MEASURES.items() if m.outcome_type == outcome_type}


def mantel_haenszel_measures() -> list[str]:
    """The codes of the measures Mantel-Haenszel pooling applies to, in registry order."""
    return [code for code, m in MEASURES.items() if m.mantel_haenszel is not None]
