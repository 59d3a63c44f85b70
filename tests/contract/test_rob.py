"""Risk-of-bias judgements: each tool's domains and allowed judgements are enforced; figures state them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from builder.contract.rob import TOOLS, RiskOfBias
from builder.report.figures import robfig

PROV = {"kind": "extracted", "source": "a published table, row of the study"}


def rob2(**changes):
    domains = [{"domain": d, "judgement": "low", "support": "stated"} for d in TOOLS["rob2"].domains]
    data = {"tool": "rob2", "assessed_by": "this review", "domains": domains, "overall": "low", "provenance": PROV}
    data.update(changes)
    return data


def test_a_complete_assessment_is_valid():
    rob = RiskOfBias.model_validate(rob2())
    assert [d.domain for d in rob.domains] == list(TOOLS["rob2"].domains)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"domain": "blinding"}, "not a domain of RoB 2"),
        ({"judgement": "unclear"}, "not a judgement of RoB 2"),
    ],
)
def test_unknown_domain_or_judgement(change, message):
    data = rob2()
    data["domains"][0].update(change)
    with pytest.raises(ValidationError, match=message):
        RiskOfBias.model_validate(data)


def test_every_domain_needs_a_judgement():
    data = rob2()
    del data["domains"][2]
    with pytest.raises(ValidationError, match="missing: missing-outcome-data"):
        RiskOfBias.model_validate(data)


def test_rob1_has_no_overall_and_robins_i_has_its_own_scale():
    domains = [{"domain": d, "judgement": "low", "support": "stated"} for d in TOOLS["rob1"].domains]
    with pytest.raises(ValidationError, match="no overall"):
        RiskOfBias.model_validate(
            {"tool": "rob1", "assessed_by": "x", "domains": domains, "overall": "low", "provenance": PROV}
        )
    domains = [{"domain": d, "judgement": "serious", "support": "stated"} for d in TOOLS["robins-i"].domains]
    RiskOfBias.model_validate(
        {"tool": "robins-i", "assessed_by": "x", "domains": domains, "overall": "critical", "provenance": PROV}
    )


def test_traffic_light_shows_each_judgement_with_colour_and_symbol():
    data = rob2(overall="high")
    data["domains"][1]["judgement"] = "some-concerns"
    data["domains"][4]["judgement"] = "not-retrieved"
    rob = RiskOfBias.model_validate(data)
    svg = robfig.traffic_light("rob2", [("Trial A", rob)])
    assert svg.count('class="j-low"') == 3 + 1  # three domains plus the legend
    assert 'class="j-some-concerns"' in svg and 'class="j-high"' in svg and 'class="j-not-retrieved"' in svg
    assert "Trial A: Randomisation process low, Deviations from intended interventions some concerns" in svg
    assert ">×<" in svg and ">−<" in svg and ">+<" in svg


def test_summary_bars_are_proportions():
    a = RiskOfBias.model_validate(rob2())
    data = rob2(overall="high")
    data["domains"][0]["judgement"] = "high"
    b = RiskOfBias.model_validate(data)
    svg = robfig.summary_bars("rob2", [a, b])
    assert "Randomisation process: low 1 of 2, high 1 of 2" in svg
    assert "Overall: low 1 of 2, high 1 of 2" in svg
