"""Plain-language readings of results, written from the numbers so they cannot contradict them."""

from __future__ import annotations

from builder.analysis.result import AnalysisResult
from builder.report import fmt

# Cochrane Handbook, section 10.10.2: deliberately overlapping bands.
I2_BANDS = [
    (0, 40, "might not be important"),
    (30, 60, "may represent moderate heterogeneity"),
    (50, 90, "may represent substantial heterogeneity"),
    (75, 100, "considerable heterogeneity"),
]


def i2_reading(i2: float | None) -> str:
    if i2 is None:
        return "not applicable (fewer than two studies)"
    bands = [text for low, high, text in I2_BANDS if low <= round(i2) <= high]
    return " or ".join(bands)


def favours_experimental(result: AnalysisResult, value: float) -> bool:
    higher = result.outcome.direction == "higher-is-better"
    return value > 0 if higher else value < 0


def effect_sentence(result: AnalysisResult, experimental: str = "MSC", control: str = "control") -> str:
    """One sentence: the estimate, its interval, and whether the interval excludes no effect."""
    f = result.fit
    if f is None:
        return "No pooled estimate: no included study has usable data for this analysis yet."
    measure = result.effect_measure.label.lower()
    est = fmt.estimate_ci(f.estimate, f.ci_low, f.ci_high, result.scale)
    value, rest = est.split(" [", 1)
    low, high = rest.rstrip("]").split(", ")
    numbers = f"{measure} {value} (95% CI {low} to {high}; {fmt.p_value(f.p)})"
    null = "1" if result.scale == "log" else "0"
    if f.pooled.excludes_null():
        side = experimental if favours_experimental(result, f.estimate) else control
        return f"Pooled {numbers}: the interval excludes no effect and favours {side}."
    return f"Pooled {numbers}: the interval includes no effect ({measure} {null})."


def significant(result: AnalysisResult) -> bool | None:
    f = result.fit
    if f is None:
        return None
    return f.pooled.excludes_null()
