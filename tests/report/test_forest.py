"""The forest plot's content, read back from the SVG: numbers, squares, diamond, axis and labels."""

from __future__ import annotations

import math
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
from conftest import TODAY

from builder.analysis import run as analysis
from builder.ingest.loader import load
from builder.report.figures import forest

NS = {"s": "http://www.w3.org/2000/svg"}


@pytest.fixture(scope="module")
def results(built):
    data = load(built / "data", today=TODAY)
    return {r.spec.id: r for r in analysis.run_all(data)}


def parse(result):
    root = ET.fromstring(forest.render(result))
    texts = [
        (float(t.get("x")), float(t.get("y")), t.text or "") for t in root.iter("{http://www.w3.org/2000/svg}text")
    ]
    squares = [
        (float(r.get("x")), float(r.get("y")), float(r.get("width"))) for r in root.findall("s:rect[@class='sq']", NS)
    ]
    diamond = root.find("s:polygon[@class='dia']", NS)
    return root, texts, squares, diamond


def test_printed_numbers_match_the_analysis(results):
    r = results["survival-reproduction"]
    _, texts, _, _ = parse(r)
    strings = [t for _, _, t in texts]
    assert "2.87 [1.16, 7.15]" in strings
    assert "Heterogeneity: Chi² = 2.52, df = 4 (P = 0.64); I² = 0%" in strings
    assert "Test for overall effect: Z = 2.27 (P = 0.02)" in strings
    for row in r.rows:
        if row.estimable:
            half = 1.959963984540054 * math.sqrt(row.vi)
            expected = f"{math.exp(row.yi):.2f} [{math.exp(row.yi - half):.2f}, {math.exp(row.yi + half):.2f}]"
            assert expected in strings, row.study.label
            assert f"{row.weight:.1f}%" in strings
        else:
            assert "Not estimable" in strings
    assert strings.count("Not estimable") == sum(1 for row in r.rows if not row.estimable)
    assert "M-H, Fixed, 95% CI" in strings and "100.0%" in strings


def test_squares_follow_study_order_and_weight(results):
    r = results["survival-primary"]
    _, _, squares, _ = parse(r)
    shown = [row for row in r.rows if row.estimable]
    assert len(squares) == len(shown)
    ys = [y for _, y, _ in squares]
    assert ys == sorted(ys)
    sides = [w for _, _, w in squares]
    weights = [row.weight for row in shown]
    for (w1, s1), (w2, s2) in zip(zip(weights, sides), zip(weights[1:], sides[1:])):
        assert (w1 - w2) * (s1 - s2) >= 0  # bigger weight, bigger square
    heaviest = max(range(len(weights)), key=weights.__getitem__)
    assert sides[heaviest] == max(sides)


def test_diamond_spans_the_confidence_interval(results):
    r = results["survival-primary"]
    _, texts, _, diamond = parse(r)
    xs = [float(p.split(",")[0]) for p in diamond.get("points").split()]
    tick = {label: x for x, _, label in texts if label in ("1", "10")}

    def to_x(v):  # log axis from its ticks
        return tick["1"] + math.log10(math.exp(v)) * (tick["10"] - tick["1"])

    assert min(xs) == pytest.approx(to_x(r.fit.ci_low), abs=0.05)
    assert max(xs) == pytest.approx(to_x(r.fit.ci_high), abs=0.05)
    assert sorted(xs)[1] == pytest.approx(to_x(r.fit.estimate), abs=0.05)


def test_favours_labels_follow_the_direction_of_benefit(results):
    r = results["survival-primary"]
    _, texts, _, _ = parse(r)
    left = next(x for x, _, t in texts if t == "Favours Control")
    right = next(x for x, _, t in texts if t == "Favours MSC")
    assert left < right  # survival: a higher odds of being alive favours MSC, on the right


def test_log_axis_is_symmetric_about_one_with_arrows_beyond(results):
    r = results["survival-primary"]
    lo, hi, ticks = forest.axis(r)
    assert lo == pytest.approx(-hi)
    assert math.exp(hi) in (2, 5, 10, 20, 50, 100) or math.isclose(math.exp(hi), 100)
    root, _, _, _ = parse(r)
    assert root.findall("s:polygon[@class='arrow']", NS)  # Leng 2020's upper limit is off the axis


def test_alt_text_states_the_result(results):
    r = results["survival-reproduction"]
    text = forest.describe(r)
    assert "pooled odds ratio 2.87 (95% CI 1.16, 7.15)" in text and "P = 0.02" in text
    root, _, _, _ = parse(r)
    assert root.find("s:title", NS).text.startswith("Forest plot: Overall survival")
    assert root.find("s:desc", NS).text == text


def test_risk_of_bias_columns_follow_the_assessments(results):
    """Survival: only Lanzoni 2021 is assessed (Cochrane RoB 1, complete; its RoB 2 assessment is mostly
    unreadable), so the columns are RoB 1's seven domains, filled for Lanzoni and 'not assessed' for the rest."""
    from builder.report.figures import robfig

    r = results["survival-primary"]
    root, texts, _, _ = parse(r)
    assert "fp forest rob" == root.get("class")
    strings = [t for _, _, t in texts]
    assert [f"D{i}" for i in range(1, 8)] == [t for t in strings if re.fullmatch(r"D\d", t)]
    assert "(D1) Random sequence generation" in strings and "(D7) Other bias" in strings
    label_y = {t.removesuffix(" †"): y for _, y, t in texts}
    circles = [(float(c.get("cy")), c.get("class")) for c in root.findall("s:circle", NS)]
    for row in r.rows:
        marks = [cls for cy, cls in circles if abs(cy - (label_y[row.study.label] - 4)) < 0.01]
        if row.study.id == "lanzoni-2021":
            rob = next(a for a in row.study.risk_of_bias if a.tool == "rob1")
            assert marks == [f"j-{d.judgement}" for d in rob.domains]
        else:
            assert marks == ["na"] * 7
    assert "Risk of bias (Cochrane RoB 1) is shown beside the plot for 1 of 6 studies." in forest.describe(r)
    assert robfig.for_analysis(results["crp-primary"].rows, "crp")[0] is None
    assert 'class="fp forest"' in forest.render(results["crp-primary"])  # no study assessed: no columns


def test_layout_places_the_columns_from_their_widths():
    dich = forest.layout(forest.Content(dichotomous=True, rows=4, prediction_interval=False, subgroups=False))
    assert [(c.head, c.key, c.x) for c in dich.columns] == [
        ("Events", "events_exp", 185.0),
        ("Total", "total_exp", 222.0),
        ("Events", "events_ctrl", 272.0),
        ("Total", "total_ctrl", 309.0),
    ]
    assert dich.total_x == (222.0, 309.0) and dich.events_x == (185.0, 272.0)
    assert (dich.weight_x, dich.effect_x, dich.plot_left, dich.plot_right) == (374.0, 484.0, 579.0, 809.0)
    assert dich.width == 824.0 and dich.rob_x == ()
    cont = forest.layout(forest.Content(dichotomous=False, rows=4, prediction_interval=False, subgroups=False))
    assert [c.x for c in cont.columns] == [180.0, 220.0, 255.0, 305.0, 345.0, 380.0]
    assert cont.events_x is None and cont.arm_title_x == (220.0, 345.0)


def test_layout_grows_with_the_rows_and_the_risk_of_bias_columns():
    base = forest.Content(dichotomous=True, rows=3, prediction_interval=False, subgroups=False)
    plain = forest.layout(base)
    assert plain.row_y == pytest.approx((63.3, 82.3, 101.3))  # under the header rule at 44
    # one more study row, and a prediction interval row, each push the axis down one row
    more = forest.layout(forest.Content(dichotomous=True, rows=4, prediction_interval=True, subgroups=False))
    assert more.axis_y - plain.axis_y == 2 * forest.ROW and more.pi_y == more.total_y + 2 * forest.ROW
    # seven risk-of-bias columns of 20 after a gap of 20, then a margin of 10
    rob = forest.layout(forest.Content(True, 3, False, False, rob_columns=7, rob_keys=("Low", "High")))
    assert rob.rob_x[0] == plain.plot_right + 30.0 and rob.rob_x[-1] == plain.plot_right + 150.0
    assert rob.width == plain.plot_right + 170.0
    assert rob.key_x == pytest.approx((8.0, 8.0 + 24 + 3 * 6.6, 8.0 + 48 + 7 * 6.6))
    assert rob.height - plain.height == 6 * forest.ROW  # the legend: title, four rows of domains, the key


def test_a_wider_column_moves_everything_right_of_it(monkeypatch):
    content = forest.Content(dichotomous=True, rows=1, prediction_interval=False, subgroups=False)
    before = forest.layout(content)
    wide = forest.WIDTHS[True]
    monkeypatch.setitem(
        forest.WIDTHS, True, forest.Widths(wide.study, (wide.arm[0], ("Total", "total", 57.0)), 18.0, 110.0)
    )
    after = forest.layout(content)
    assert [a.x - b.x for a, b in zip(after.columns, before.columns)] == [0.0, 20.0, 20.0, 40.0]
    assert after.plot_left - before.plot_left == 40.0 and after.width - before.width == 40.0


def test_the_data_table_prints_the_continuity_correction_the_analysis_used(project):
    """A correction other than 0.5 is printed as configured, in the table and under the plot."""
    from builder.publish.build import build

    path = project / "data/review.yaml"
    text = path.read_text(encoding="utf-8")
    anchor = "  - id: survival-primary\n    outcome: survival\n"
    assert anchor in text
    path.write_text(text.replace(anchor, anchor + "    continuity_correction: 0.25\n"), encoding="utf-8")
    shutil.rmtree(project / "versions")  # the released version's numbers may not change; this is not a release
    build(project, today=TODAY)
    results = {r.spec.id: r for r in analysis.run_all(load(project / "data", today=TODAY))}
    corrected = sum(1 for r in results["survival-primary"].rows if r.corrected)
    others = sum(
        1
        for a, r in results.items()
        if a != "survival-primary" and a.startswith("survival")
        for r in r.rows
        if r.corrected
    )
    assert corrected >= 1 and others >= 1
    page = (project / "site/outcomes/survival.html").read_text(encoding="utf-8")
    assert page.count("(0.25 added to zero cells)") == corrected
    assert page.count("(0.5 added to zero cells)") == others
    assert "0.25 added to zero cells for the study" in page


def test_unverified_values_carry_a_dagger_and_a_footnote(results):
    """Lanzoni 2021's published survival counts are unverified: its label ends in a dagger, and a footer line
    says why. The reproduction uses the values the source review entered (inferred), so it has no dagger."""
    for ident in ("survival-primary", "survival-no-duplicate-no-virtual-control"):
        _, texts, _, _ = parse(results[ident])
        strings = [t for _, _, t in texts]
        assert "Lanzoni 2021 †" in strings and "Shu 2020" in strings and "Shu 2020 †" not in strings, ident
        assert any("† values not verified in a retrievable copy of the report" in s for s in strings), ident
    _, texts, _, _ = parse(results["survival-reproduction"])
    assert "Lanzoni 2021 *" in [t for _, _, t in texts] and not any("†" in t for _, _, t in texts)


def test_unverified_values_are_marked_in_the_table(built):
    html = (built / "site/outcomes/survival.html").read_text(encoding="utf-8")
    primary = html.split('id="survival-primary"')[1].split('id="survival-primary-sensitivity"')[0]
    assert "Lanzoni 2021</a> †" in primary and "published, unverified" in primary
    assert "Values not verified in a retrievable copy of the report" in primary
