"""Summary of findings: GRADE ratings are computed from their reasons; absolute effects from the pooled OR."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from builder.contract.review import Certainty
from builder.report.sof import risk_with_or

BASE = {"outcome": "survival", "analysis": "survival-primary", "start": "high", "start_reason": "randomised trials"}


def step(domain, levels=1):
    return {"domain": domain, "levels": levels, "reason": "a reason of enough length"}


@pytest.mark.parametrize(
    "start,down,up,expected",
    [
        ("high", [], [], "high"),
        ("high", [step("imprecision")], [], "moderate"),
        ("high", [step("imprecision", 2), step("risk-of-bias")], [], "very-low"),
        ("low", [step("risk-of-bias"), step("imprecision", 2)], [], "very-low"),  # never below very low
        ("low", [], [step("large-effect")], "moderate"),
    ],
)
def test_rating_follows_from_the_steps(start, down, up, expected):
    c = Certainty.model_validate({**BASE, "start": start, "downgrades": down, "upgrades": up})
    assert c.rating == expected


def test_a_downgrade_domain_cannot_raise_certainty():
    with pytest.raises(ValidationError, match="only lower"):
        Certainty.model_validate({**BASE, "upgrades": [step("imprecision")]})


def test_absolute_risk_from_an_odds_ratio():
    assert risk_with_or(1.0, 0.3) == pytest.approx(0.3)
    odds = 0.3 / 0.7 * 2
    assert risk_with_or(2.0, 0.3) == pytest.approx(odds / (1 + odds))


def test_summary_page_shows_the_primary_result_and_computed_rating(built):
    html = (built / "site/summary-of-findings.html").read_text(encoding="utf-8")
    assert "OR 2.09 [0.54, 8.15]" in html and "| 6 (345) |" not in html and ">6 (345)<" in html
    assert "⊕◯◯◯ very low" in html
    assert "650 per 1000" in html  # 119 of 183 controls alive, without the virtual control arm
    assert math.isclose(119 / 183, 0.6503, abs_tol=1e-4)


def test_a_reason_whose_fact_the_data_contradict_asks_for_reassessment(built):
    """The survival rating starts low because 'only a minority were randomised' (declared: share-randomised
    below 50%); with Bowdish 2023, 287 of 345 participants are randomised, so the page flags it."""
    html = (built / "site/summary-of-findings.html").read_text(encoding="utf-8")
    survival_row = next(line for line in html.splitlines() if "⊕" in line and "very low<sup>1</sup>" in line)
    assert "<strong>reassess</strong>" in survival_row
    assert (
        "the starting level rests on a share of participants in randomised trials below 50%, "
        "but the data give 287 of 345 participants (83%)" in html
    )
    assert html.count("<strong>reassess</strong>") == 1  # the laboratory outcomes declare no facts
    assert "Reassess the certainty of Overall survival" in html  # above the table, seen on a phone too


def _result(shares):
    """A stand-in for an analysis result: rows of (design, participants)."""
    from types import SimpleNamespace as NS

    rows = [
        NS(study=NS(design=NS(category=d)), inputs={"total_exp": n // 2, "total_ctrl": n - n // 2}) for d, n in shares
    ]
    return NS(rows=rows, participants=sum(n for _, n in shares))


def test_facts_are_checked_against_the_rated_analysis():
    from builder.report.sof import fact_value, reassessments

    fact = {"quantity": "share-randomised", "below": 50}
    c = Certainty.model_validate(
        {
            **BASE,
            "start_rests_on": [fact],
            "downgrades": [{**step("imprecision"), "rests_on": [{"quantity": "studies", "at_least": 5}]}],
        }
    )
    minority = _result([("rct", 40), ("single-arm", 60), ("single-arm", 10)])
    assert fact_value("share-randomised", minority) == (40 / 110 * 100, "40 of 110 participants (36%)")
    assert reassessments(c, minority) == [
        "the downgrade for imprecision rests on a number of studies at least 5, but the data give 3 studies"
    ]
    majority = _result([("rct", 287), ("single-arm", 58), ("rct", 1), ("rct", 1), ("rct", 1)])
    assert reassessments(c, majority) == [
        "the starting level rests on a share of participants in randomised trials below 50%, "
        "but the data give 290 of 348 participants (83%)"
    ]


def test_a_fact_needs_exactly_one_bound():
    with pytest.raises(ValidationError, match="one bound"):
        Certainty.model_validate({**BASE, "start_rests_on": [{"quantity": "studies"}]})
    with pytest.raises(ValidationError, match="one bound"):
        Certainty.model_validate({**BASE, "start_rests_on": [{"quantity": "studies", "below": 3, "at_least": 1}]})
