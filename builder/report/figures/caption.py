"""The title lines printed at the top of every figure: what it shows and which version of which review it
comes from (and, for a dichotomous outcome, what an event is), so that a figure downloaded and seen apart from
its page still says so."""

from __future__ import annotations

from builder.analysis.result import AnalysisResult
from builder.contract import Review


def source(review: Review) -> str:
    return f"{review.short_title}: living review, version\u00a0{review.version}"


def for_analysis(kind: str, result: AnalysisResult, review: Review) -> list[str]:
    """E.g. ["Forest plot: Overall survival, Primary analysis", "MSC therapy for COVID-19: living review,
    version 1.1", "Events: participants alive at the end of follow-up"]."""
    title, outcome = result.spec.title, result.outcome.label
    what = title if outcome.lower() in title.lower() else f"{outcome}, {title}"
    lines = [f"{kind}: {what}", source(review)]
    if result.dichotomous and result.outcome.event:
        lines.append(f"Events: participants {result.outcome.event}")
    return lines


def for_review(kind: str, review: Review) -> list[str]:
    """A figure of the whole review (the flow diagram, the risk-of-bias figures)."""
    return [kind, source(review)]
