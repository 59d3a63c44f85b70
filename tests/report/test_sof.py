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
    assert "OR 2.93 [0.82, 10.50]" in html
    assert "⊕◯◯◯ very low" in html
    assert "676 per 1000" in html  # (85 + 63) / (109 + 110) controls alive
    assert math.isclose(148 / 219, 0.6758, abs_tol=1e-4)
