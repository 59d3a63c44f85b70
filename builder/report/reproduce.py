"""Compare a reproduction with what the source review printed, to the precision it printed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from builder.analysis.result import AnalysisResult
from builder.report import fmt


@dataclass(frozen=True)
class Check:
    quantity: str
    printed: str
    ours: str
    matches: bool


def _decimals(text: str) -> int:
    text = text.strip().lstrip("<").strip()
    exponent = Decimal(text).as_tuple().exponent
    if not isinstance(exponent, int):  # 'n', 'N' or 'F': not a finite number
        raise ValueError(f"not a finite number: {text}")
    return max(0, -exponent)


def _rounds_to(value: float, printed: str) -> tuple[str, bool]:
    printed = printed.strip()
    if printed.startswith("<"):
        bound = float(printed.lstrip("<").strip())
        return (fmt.p_value(value).replace("P ", "").lstrip("= "), value < bound)
    digits = _decimals(printed)
    ours = f"{value:.{digits}f}"
    return ours, ours == f"{float(printed):.{digits}f}"


def checks(result: AnalysisResult) -> list[Check]:
    rep = result.spec.reported
    f = result.fit
    if rep is None or f is None:
        return []
    out = []

    def back(v):
        return fmt.back(v, result.scale)

    for name, printed, value in (
        ("Estimate", rep.estimate, back(f.estimate)),
        ("95% CI, lower", rep.ci_low, back(f.ci_low)),
        ("95% CI, upper", rep.ci_high, back(f.ci_high)),
    ):
        printed = printed.replace("−", "-")
        ours, ok = _rounds_to(value, printed)
        out.append(Check(name, printed, ours, ok))
    ours, ok = _rounds_to(f.p, rep.p)
    out.append(Check("P (overall effect)", rep.p, ours, ok))
    if rep.q_p is not None and f.q_p is not None:
        ours, ok = _rounds_to(f.q_p, rep.q_p)
        out.append(Check("P (heterogeneity)", rep.q_p, ours, ok))
    if rep.i2 is not None and f.i2 is not None:
        out.append(Check("I²", f"{rep.i2:.0f}%", f"{f.i2:.0f}%", round(f.i2) == round(rep.i2)))
    if rep.k is not None:
        out.append(Check("Studies", str(rep.k), str(len(result.rows)), rep.k == len(result.rows)))
    if rep.participants is not None:
        out.append(
            Check(
                "Participants", str(rep.participants), str(result.participants), rep.participants == result.participants
            )
        )
    totals = result.totals()
    for name, events, (ek, tk) in (
        ("Events, experimental", rep.events_experimental, ("events_exp", "total_exp")),
        ("Events, control", rep.events_control, ("events_ctrl", "total_ctrl")),
    ):
        if events is not None and ek in totals:
            ours = f"{totals[ek]}/{totals[tk]}"
            out.append(Check(name, events, ours, ours == events.replace(" ", "")))
    return out
