"""Figures that stand alone: a title line in every SVG, RevMan's heterogeneity line, the timeline's added
studies per outcome, the risk-of-bias grid's headings, and the PRISMA diagram for updated reviews."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

SVG = "{http://www.w3.org/2000/svg}"


def _svg(built, name: str) -> ET.Element:
    return ET.fromstring((built / "site/figures" / name).read_text(encoding="utf-8"))


def _caption(root: ET.Element) -> list[str]:
    """The figure's title lines (text elements of class cap/cap2), wrapped lines joined."""
    lines: list[str] = []
    for t in root.findall(f"{SVG}text"):
        cls = t.get("class", "")
        if cls == "cap" and lines and lines[0] and not lines[1:]:
            lines[0] += " " + (t.text or "")
        elif cls in ("cap", "cap2"):
            lines.append(t.text or "")
    return lines


def test_a_downloaded_forest_plot_says_what_it_shows(built):
    root = _svg(built, "survival-primary.svg")
    lines = _caption(root)
    assert lines[0] == "Forest plot: Overall survival, current methods, published values"
    assert lines[1] == "MSC therapy for COVID-19: living review, version\u00a01.2"
    assert lines[2] == "Events: participants alive at the end of follow-up"
    # the lines sit above the drawing, which keeps its coordinates: the view box grows upwards
    top = float(root.get("viewBox").split()[1])
    assert top < 0 and all(
        float(t.get("y")) < 0 for t in root.findall(f"{SVG}text") if t.get("class", "").startswith("cap")
    )


@pytest.mark.parametrize(
    "name,first",
    [
        ("survival-primary-leave-one-out.svg", "Leave-one-out: Overall survival"),
        ("survival-primary-cumulative.svg", "Cumulative meta-analysis by publication year: Overall survival"),
        ("timeline-crp.svg", "Evidence over time: C-reactive protein"),
        ("crp-primary.svg", "Forest plot: C-reactive protein"),
        ("prisma-flow.svg", "PRISMA 2020 flow diagram of an updated review"),
        ("prisma-flow-narrow.svg", "PRISMA 2020 flow diagram of an updated review"),
        ("rob-rob2.svg", "RoB 2: judgements per study"),
        ("rob-rob2-summary.svg", "RoB 2: judgements per domain across studies"),
    ],
)
def test_every_figure_has_a_title_line_with_the_version(built, name, first):
    lines = _caption(_svg(built, name))
    assert lines[0].startswith(first), lines
    assert "living review, version\u00a01.2" in " ".join(lines[1:])
    if name.startswith("crp"):
        assert not any(line.startswith("Events") for line in lines)  # continuous: no event to define


def test_archived_versions_figures_name_their_own_version(built):
    root = ET.fromstring((built / "site/v1.0/figures/survival-primary.svg").read_text(encoding="utf-8"))
    assert "version\u00a01.0" in _caption(root)[1]


def test_heterogeneity_line_prints_i2_from_q_as_revman_does(built):
    """Survival, primary: Q = 5.72 on 4 df gives I² = (5.72 - 4) / 5.72 = 30%; metafor's I² from tau² is 36%."""
    svg = (built / "site/figures/survival-primary.svg").read_text(encoding="utf-8")
    assert "Heterogeneity: Tau² = 0.45; Chi² = 5.72, df = 4 (P = 0.22); I² = 30%" in svg
    assert "I² = 30% from Q (36% from tau²)" in svg  # the description labels the tau²-based value
    page = (built / "site/outcomes/survival.html").read_text(encoding="utf-8")
    assert "I² = 30%" in page and "I² from tau² 36%:" in page
    assert "I² = 36%" not in page


@pytest.mark.parametrize("outcome", ["crp", "d-dimer", "il-6"])
def test_evidence_over_time_lists_only_studies_that_add_data_to_the_outcome(built, outcome):
    svg = (built / f"site/figures/timeline-{outcome}.svg").read_text(encoding="utf-8")
    assert "Bowdish" not in svg and "no study added" in svg
    page = (built / f"site/outcomes/{outcome}.html").read_text(encoding="utf-8")
    table = page[page.index(f'id="{outcome}-over-time"') :]
    assert "Bowdish" not in table


def test_survival_timeline_still_names_the_trial_it_added(built):
    svg = (built / "site/figures/timeline-survival.svg").read_text(encoding="utf-8")
    assert "+ Bowdish 2023" in svg


def test_the_overall_heading_of_the_rob2_grid_stands_apart_from_d5(built):
    root = _svg(built, "rob-rob2.svg")
    heads = {t.text: float(t.get("x")) for t in root.findall(f"{SVG}text") if t.get("class") == "b"}
    # "Overall" in 12px bold is about 48 px wide and "D5" about 16: their centres need more than 32 px
    assert heads["Overall"] - heads["D5"] >= 45
    assert heads["D5"] - heads["D4"] == 34


def _boxes(root: ET.Element) -> list[tuple[float, float, float, float, str]]:
    return [
        (float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height")), r.get("class", ""))
        for r in root.findall(f"{SVG}rect")
        if r.get("class") != "phase"
    ]


def _heads(root: ET.Element) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in p.get("points").split()[0].split(",")) for p in root.findall(f"{SVG}polygon")]


def test_prisma_for_an_updated_review_has_the_previous_version_and_other_methods(built):
    svg = (built / "site/figures/prisma-flow.svg").read_text(encoding="utf-8")
    for text in (
        "Studies included",
        "in the previous",
        "version (n\u00a0=\u00a022)",  # version 1.1's studies
        "by other methods",
        "New studies included in this",
        "Total studies included in",
    ):
        assert text in svg, text
    root = ET.fromstring(svg)
    boxes = _boxes(root)
    # every arrowhead touches a box's edge, inside its extent: none points at empty space
    for x, y in _heads(root):
        assert any(
            (abs(x - bx) < 0.01 or abs(x - bx - bw) < 0.01)
            and by <= y <= by + bh
            or (abs(y - by) < 0.01 and bx <= x <= bx + bw)
            for bx, by, bw, bh, _ in boxes
        ), (x, y)


def test_the_arrow_to_a_tall_box_beside_a_short_one_meets_both():
    """The arrow from "Studies included" pointed below the box beside it, which was shorter."""
    from builder.report.figures import prisma

    c = prisma.Counts(823, 823, 782, {}, 41, 16, {}, 4, 0, 21, 13, 8, 0, 21, update=False)
    root = ET.fromstring(prisma.render(c))
    boxes = _boxes(root)
    for x, y in _heads(root):
        assert any(
            abs(x - bx) < 0.01 and by <= y <= by + bh or abs(y - by) < 0.01 and bx <= x <= bx + bw
            for bx, by, bw, bh, _ in boxes
        ), (x, y)


def test_the_narrow_prisma_diagram_fits_a_phone_at_full_size(built):
    root = _svg(built, "prisma-flow-narrow.svg")
    width = float(root.get("viewBox").split()[2])
    assert width <= 358  # a 390 px screen's column, so 12 px text stays 12 px
    text = " ".join(t.text or "" for t in root.findall(f"{SVG}text"))
    for n in (823, 782, 41, 16, 4, 1, 0, 22):  # version 1.2 adds no study to 1.1's 22
        assert re.search(rf"n\u00a0=\u00a0{n}\)", text), n
