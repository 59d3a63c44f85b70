"""Summary of findings: relative and absolute effects per outcome with their GRADE certainty."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from builder.analysis.result import AnalysisResult
from builder.contract.review import Certainty, Fact
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
    reassess: list[str] = field(default_factory=list)  # facts a reason rests on that the data contradict


def fact_value(quantity: str, result: AnalysisResult) -> tuple[float, str]:
    """A fact's quantity computed from the rated analysis, and how it is made up, e.g. (83.2, '287 of 345')."""
    if quantity == "studies":
        return float(len(result.rows)), f"{len(result.rows)} studies"
    if quantity == "participants":
        return float(result.participants), f"{result.participants} participants"
    randomised = sum(
        int(r.inputs["total_exp"] + r.inputs["total_ctrl"]) for r in result.rows if r.study.design.category == "rct"
    )
    share = 100 * randomised / result.participants if result.participants else 0.0
    return share, f"{randomised} of {result.participants} participants ({share:.0f}%)"


def contradicted(where: str, facts: list[Fact], result: AnalysisResult) -> list[str]:
    """A sentence for each fact the data no longer bear out."""
    out = []
    for fact in facts:
        value, shown = fact_value(fact.quantity, result)
        if not fact.holds(value):
            out.append(f"the {where} rests on {fact.text}, but the data give {shown}")
    return out


def reassessments(certainty: Certainty, result: AnalysisResult) -> list[str]:
    """Every reason of a rating whose declared facts the current data contradict."""
    out = contradicted("starting level", certainty.start_rests_on, result)
    for kind, steps in (("downgrade", certainty.downgrades), ("upgrade", certainty.upgrades)):
        for step in steps:
            out += contradicted(f"{kind} for {step.domain.replace('-', ' ')}", step.rests_on, result)
    return out


def risk_with_or(odds_ratio: float, control_risk: float) -> float:
    """Risk in the experimental arm implied by an odds ratio at a given control-arm risk."""
    return odds_ratio * control_risk / (1 - control_risk + odds_ratio * control_risk)


def _per_1000(risks: list[float]) -> str:
    low, mid, high = (min(1000.0, max(0.0, 1000 * r)) for r in risks)
    return f"{mid:.0f} per 1000 ({low:.0f} to {high:.0f})"


# The risk in the experimental arm that an effect on each dichotomous measure implies at the control risk.
_RISK_WITH = {
    "OR": lambda effect, cr: risk_with_or(math.exp(effect), cr),
    "RR": lambda effect, cr: math.exp(effect) * cr,
    "RD": lambda effect, cr: cr + effect,
}


def absolute_effects(result: AnalysisResult) -> tuple[str, str]:
    """The Summary of findings' two absolute columns: the control risk and the risk with the intervention
    per 1000 for a dichotomous measure (at the pooled control-arm risk, clipped to 0 to 1000); for a
    continuous one no control column and the pooled difference, with the outcome's unit where it has one."""
    f = result.fit
    assert f is not None
    code = result.spec.measure
    t = result.totals() if code in _RISK_WITH else {}
    if t.get("total_ctrl"):
        cr = t["events_ctrl"] / t["total_ctrl"]
        risks = [_RISK_WITH[code](v, cr) for v in (f.ci_low, f.estimate, f.ci_high)]
        return f"{1000 * cr:.0f} per 1000", _per_1000(risks)
    est, low, high = (fmt.num(fmt.back(v, result.scale)) for v in (f.estimate, f.ci_low, f.ci_high))
    unit = f" {result.outcome.unit}" if code == "MD" and result.outcome.unit else ""
    return "—", f"{code} {est} ({low} to {high}){unit}"


def row(certainty: Certainty, result: AnalysisResult) -> Row:
    f = result.fit
    k = len(result.rows) + len(result.missing)
    if f is None:
        return Row(
            certainty, result, "Not estimable: no study-level data", "—", "—", k, 0, reassessments(certainty, result)
        )
    relative = f"{result.spec.measure} " + fmt.estimate_ci(f.estimate, f.ci_low, f.ci_high, result.scale)
    control, experimental = absolute_effects(result)
    return Row(
        certainty,
        result,
        relative,
        control,
        experimental,
        len(result.rows),
        result.participants,
        reassessments(certainty, result),
    )
