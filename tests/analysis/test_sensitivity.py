"""The automatic sensitivity panel around each primary analysis, and how it reports a change of conclusion."""

from __future__ import annotations

import json
import math

from builder.analysis import sensitivity


def _primary(built):
    doc = json.loads((built / "site/results.json").read_text(encoding="utf-8"))
    return next(a for a in doc["analyses"] if a["id"] == "survival-primary")


def test_primary_analyses_carry_the_panel_in_results_json(built):
    a = _primary(built)
    ids = [s["id"] for s in a["sensitivity"]]
    assert ids == [
        "fixed-effect",
        "dersimonian-laird",
        "hksj-adhoc",
        "peto",
        "risk-difference",
        "randomised-only",
        "exclude-high-risk",
        "exclude-converted",
        "exclude-unverified",
        "risk-ratio",
        "treatment-arm-correction",
    ]
    rd = a["sensitivity"][4]
    assert rd["scale"] == "identity" and 0 < rd["pooled"]["estimate"] < 1
    assert rd["k"] == len(a["studies"])  # Meng 2020 (everyone alive in both arms) counts in the risk difference
    tacc = a["sensitivity"][-1]
    assert tacc["label"].endswith("instead of 0.5 in zero cells") and tacc["pooled"] is not None
    fixed = a["sensitivity"][0]
    # MH fixed effect without correction, as metafor's rma.mh: 1.55 (0.96 to 2.51) without the virtual control
    # and the duplicate cohort (version 1.1, with them: 1.76, 1.11 to 2.79, which excluded no effect)
    assert f"{math.exp(fixed['pooled']['estimate']):.2f}" == "1.55"
    assert fixed["conclusion_changes"] is None
    assert a["sensitivity"][6]["pooled"] is None and "no risk-of-bias assessment" in a["sensitivity"][6]["reason"]
    assert a["sensitivity"][5]["conclusion_changes"] is None  # randomised trials only: still includes no effect


def test_leave_one_out_and_cumulative_cover_every_study(built):
    a = _primary(built)
    assert len(a["leave_one_out"]) == len(a["studies"]) == len(a["cumulative"])
    without_new = next(r for r in a["leave_one_out"] if r["id"] == "without-bowdish-2023")
    # version 1.0's studies without the virtual control and the duplicate cohort (1.0's primary result was 4.63)
    assert f"{math.exp(without_new['pooled']['estimate']):.2f}" == "3.62"
    assert a["cumulative"][-1]["pooled"]["estimate"] == a["pooled"]["estimate"]
    not_estimable = next(r for r in a["leave_one_out"] if r["id"] == "without-meng-2020")
    assert not_estimable["pooled"] is None


def test_change_is_reported_for_significance_and_direction():
    from types import SimpleNamespace as F

    base = F(estimate=0.5, ci_low=-0.1, ci_high=1.1)
    assert sensitivity.change(base, F(estimate=0.6, ci_low=0.1, ci_high=1.1)) == "the interval now excludes no effect"
    assert sensitivity.change(base, F(estimate=-0.2, ci_low=-0.9, ci_high=0.5)) == "the direction of the effect flips"
    assert sensitivity.change(base, F(estimate=0.4, ci_low=-0.2, ci_high=1.0)) is None


def test_outcome_page_says_plainly_when_the_conclusion_changes(built):
    html = (built / "site/outcomes/survival.html").read_text(encoding="utf-8")
    assert 'id="survival-primary-sensitivity"' in html and 'id="survival-primary-leave-one-out"' in html
    # since version 1.2 no row changes the conclusion (1.1's fixed-effect row did, through the virtual control)
    assert "The conclusion is not robust" not in html and "Peto odds ratio" in html
    assert "they need at least 10 studies" in html


def test_every_primary_analysis_has_a_row_without_unverified_values(built):
    doc = json.loads((built / "site/results.json").read_text(encoding="utf-8"))
    primaries = [a for a in doc["analyses"] if a["role"] == "primary" and a["pooled"] is not None]
    assert primaries
    for a in primaries:
        assert "exclude-unverified" in [r["id"] for r in a["sensitivity"]]
    row = next(r for r in _primary(built)["sensitivity"] if r["id"] == "exclude-unverified")
    # Lanzoni 2021's survival counts are unverified: the row is the primary analysis without them
    assert "Lanzoni 2021" not in row["studies"] and len(row["studies"]) == 4
    assert f"{math.exp(row['pooled']['estimate']):.2f}" == "1.30"
    assert f"{math.exp(row['pooled']['ci_high']):.2f}" == "2.38"
    html = (built / "site/outcomes/survival.html").read_text(encoding="utf-8")
    assert "Excluding unverified values" in html


def test_without_unverified_values_says_so_when_there_are_none(built):
    from conftest import TODAY

    from builder.analysis import run as analysis
    from builder.ingest.loader import load

    data = load(built / "data", today=TODAY)
    spec = next(a for a in data.review.analyses if a.id == "survival-primary")
    result = analysis.run(spec.model_copy(update={"studies": ["shu-2020", "bowdish-2023", "adas-2021"]}), data)
    row = next(r for r in sensitivity.panel(result) if r.id == "exclude-unverified")
    assert row.fit is None and row.reason == "no study's values are unverified"
