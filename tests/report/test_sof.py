"""Summary of findings: GRADE ratings are computed from their reasons; absolute effects from the pooled effect."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from builder.contract.review import Certainty
from builder.report.sof import absolute_effects, risk_with_or

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


def _pooled(measure, scale, estimate, low, high, unit=None):
    return SimpleNamespace(
        fit=SimpleNamespace(estimate=estimate, ci_low=low, ci_high=high),
        spec=SimpleNamespace(measure=measure),
        scale=scale,
        outcome=SimpleNamespace(unit=unit),
        totals=lambda: {"events_ctrl": 30, "total_ctrl": 100, "events_exp": 40, "total_exp": 100},
    )


@pytest.mark.parametrize(
    "measure,scale,effect,expected",
    [
        # control risk 300 per 1000; RR 1.5 [1.2, 1.8] gives 450 (360 to 540)
        ("RR", "log", (math.log(1.5), math.log(1.2), math.log(1.8)), "450 per 1000 (360 to 540)"),
        # RR 4 [2, 5] would exceed certainty: capped at 1000 per 1000
        ("RR", "log", (math.log(4), math.log(2), math.log(5)), "1000 per 1000 (600 to 1000)"),
        # RD 0.10 [-0.05, 0.25] added to 0.30
        ("RD", "identity", (0.10, -0.05, 0.25), "400 per 1000 (250 to 550)"),
        # OR 1 leaves the control risk as it is
        ("OR", "log", (0.0, math.log(0.5), math.log(2)), "300 per 1000 (176 to 462)"),
    ],
)
def test_absolute_effect_of_each_dichotomous_measure(measure, scale, effect, expected):
    assert absolute_effects(_pooled(measure, scale, *effect)) == ("300 per 1000", expected)


def test_continuous_measures_give_the_difference_and_only_md_a_unit():
    assert absolute_effects(_pooled("MD", "identity", -1.5, -2.25, -0.75, "mg/L")) == (
        "—",
        "MD −1.50 (−2.25 to −0.75) mg/L",  # U+2212 minus, as fmt.num prints,
    )
    assert absolute_effects(_pooled("SMD", "identity", 0.4, 0.1, 0.7, "mg/L"))[1] == "SMD 0.40 (0.10 to 0.70)"


def test_summary_page_shows_the_primary_result_and_computed_rating(built):
    html = (built / "site/summary-of-findings.html").read_text(encoding="utf-8")
    assert "OR 2.09 [0.54, 8.15]" in html and "| 6 (345) |" not in html and ">6 (345)<" in html
    assert "⊕◯◯◯ very low" in html
    assert "650 per 1000" in html  # 119 of 183 controls alive, without the virtual control arm
    assert math.isclose(119 / 183, 0.6503, abs_tol=1e-4)


def test_the_reassessed_survival_rating_rests_on_facts_the_data_bear_out(built):
    """Version 1.1 rated survival from a low start because only a minority were randomised; in 1.2, without
    the virtual control arm and the double-counted cohort, 287 of 345 participants (83%) are randomised, the
    rating starts high (declared: share-randomised at least 50%) and nothing asks for a reassessment."""
    html = (built / "site/summary-of-findings.html").read_text(encoding="utf-8")
    assert "⊕◯◯◯ very low<sup>1</sup>" in html  # high, two levels down for risk of bias, two for imprecision
    assert "<strong>reassess</strong>" not in html and "Reassess the certainty" not in html
    assert "Non-randomised comparisons are pooled with the trials" in html


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
