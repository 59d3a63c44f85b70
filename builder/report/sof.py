"""Summary of findings: relative and absolute effects per outcome with their GRADE certainty."""

from __future__ import annotations

import math
from dataclasses import dataclass

from builder.analysis.result import AnalysisResult
from builder.contract.review import Certainty
from builder.report import fmt

SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very-low": "⊕◯◯◯"}


@dataclass(frozen=True)
class Row:
    certainty: Certainty
    result: AnalysisResult
    relative: str
    control: str
    experimental: str
    k: int
    participants: int


def risk_with_or(odds_ratio: float, control_risk: float) -> float:
    """Risk in the experimental arm implied by an odds ratio at a given control-arm risk."""
    return odds_ratio * control_risk / (1 - control_risk + odds_ratio * control_risk)


def row(certainty: Certainty, result: AnalysisResult) -> Row:
    f = result.fit
    k = len(result.rows) + len(result.missing)
    if f is None:
        return Row(certainty, result, "Not estimable: no study-level data", "—", "—", k, 0)
    relative = f"{result.spec.measure} " + fmt.estimate_ci(f.estimate, f.ci_low, f.ci_high, result.scale)
    if result.spec.measure == "OR":
        t = result.totals()
        cr = t["events_ctrl"] / t["total_ctrl"]
        per = [1000 * risk_with_or(math.exp(v), cr) for v in (f.estimate, f.ci_low, f.ci_high)]
        control = f"{1000 * cr:.0f} per 1000"
        experimental = f"{per[0]:.0f} per 1000 ({per[1]:.0f} to {per[2]:.0f})"
    else:
        control = "—"
        experimental = f"MD {fmt.num(f.estimate)} ({fmt.num(f.ci_low)} to {fmt.num(f.ci_high)}) {result.outcome.unit}"
    return Row(certainty, result, relative, control, experimental, len(result.rows), result.participants)
