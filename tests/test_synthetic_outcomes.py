"""Outcome-page features the MSC review has no data for, shown on a synthetic review (benchmarks/synthetic.py):
the funnel plot with Egger's test (at least 10 studies), read back from the built page."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import xml.etree.ElementTree as ET

import pytest

from builder import fmt
from builder.site import build
from conftest import ROOT, TODAY

SVG = "{http://www.w3.org/2000/svg}"
FUNNEL = "crp-d28-primary"          # 17 studies with seed 3
SMALL = "mortality-d28-primary"     # 3 studies


def _synthetic():
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "benchmarks" / "synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthetic_site(tmp_path_factory):
    project = _synthetic().write_project(tmp_path_factory.mktemp("synthetic") / "project", studies=30, outcomes=2,
                                         seed=3)
    build(project, today=TODAY)
    doc = json.loads((project / "site/results.json").read_text(encoding="utf-8"))
    return project, {a["id"]: a for a in doc["analyses"]}


def page(project, outcome: str) -> str:
    return (project / "site/outcomes" / f"{outcome}.html").read_text(encoding="utf-8")


def svg_on(html: str, ident: str) -> ET.Element:
    match = re.search(r'<svg[^>]*aria-labelledby="' + ident + r'-title.*?</svg>', html, re.S)
    assert match, ident
    return ET.fromstring(match.group(0))


def linear_axis(root: ET.Element, y_min: float):
    """Value -> x from two labelled ticks of the x axis (the texts below the plot)."""
    ticks = {}
    for t in root.iter(SVG + "text"):
        if float(t.get("y")) > y_min and re.fullmatch(r"-?\d+(\.\d+)?", t.text or ""):
            ticks[float(t.text)] = float(t.get("x"))
    (v1, x1), (v2, x2) = sorted(ticks.items())[0], sorted(ticks.items())[-1]
    return lambda v: x1 + (v - v1) * (x2 - x1) / (v2 - v1)


def test_egger_is_in_results_json_only_from_ten_studies(synthetic_site):
    _, analyses = synthetic_site
    big, small = analyses[FUNNEL]["small_study_effects"], analyses[SMALL]["small_study_effects"]
    assert big["k"] == 17 and big["reason"] is None
    e = big["egger"]
    assert e["statistic_type"] == "t" and e["df"] == 15 and 0 <= e["p"] <= 1
    assert e["limit_ci_low"] < e["limit_estimate"] < e["limit_ci_high"]
    assert small["egger"] is None and small["k"] == 3 and "at least 10" in small["reason"]


def test_funnel_plot_draws_every_study_at_its_estimate_and_standard_error(synthetic_site):
    project, analyses = synthetic_site
    a = analyses[FUNNEL]
    html = page(project, "crp-d28")
    root = svg_on(html, f"{FUNNEL}-funnel-plot")
    axis_y = max(float(l.get("y1")) for l in root.iter(SVG + "line") if l.get("y1") == l.get("y2"))
    x = linear_axis(root, axis_y)
    dots = [(float(c.get("cx")), float(c.get("cy"))) for c in root.iter(SVG + "circle")]
    studies = [s for s in a["studies"] if s["estimable"]]
    assert len(dots) == len(studies) == 17
    for (cx, _), s in zip(dots, studies):
        assert cx == pytest.approx(x(s["yi"]), abs=0.05)
    # larger standard errors sit lower
    order = sorted(range(17), key=lambda i: studies[i]["vi"])
    assert [dots[i][1] for i in order] == sorted(d[1] for d in dots)
    ref = root.find(f"{SVG}line[@class='ref']")
    assert float(ref.get("x1")) == pytest.approx(x(a["pooled"]["estimate"]), abs=0.05)
    assert (project / f"site/figures/{FUNNEL}-funnel.svg").is_file()


def test_egger_result_is_printed_beside_the_funnel_plot(synthetic_site):
    project, analyses = synthetic_site
    e = analyses[FUNNEL]["small_study_effects"]["egger"]
    html = page(project, "crp-d28")
    section = html.split(f'id="{FUNNEL}-small-study-effects"')[1]
    expected = f"t(15) = {fmt.num(e['statistic'])}, {fmt.p_value(e['p'])}"
    assert expected in section
    assert fmt.estimate_ci(e["limit_estimate"], e["limit_ci_low"], e["limit_ci_high"], "identity") in section
    root = svg_on(html, f"{FUNNEL}-funnel-plot")
    assert expected in root.find(f"{SVG}desc").text
    assert "The data behind the funnel plot" in section
    small = page(project, "mortality-d28").split(f'id="{SMALL}-small-study-effects"')[1]
    assert "they need at least 10 studies with an estimable effect, and this analysis has 3" in small
    assert "funnel-plot" not in small.split("<h2")[0]
