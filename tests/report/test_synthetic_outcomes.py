"""Outcome-page features the MSC review has no data for, shown on a synthetic review (benchmarks/synthetic.py):
the funnel plot with Egger's test (at least 10 studies) and subgroups in the forest plot, read back from the built
page. The review is generated, then two of its analyses are given `subgroups: design`."""

from __future__ import annotations

import importlib.util
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import yaml
from conftest import ROOT, TODAY

from builder.publish.build import build
from builder.report import fmt
from builder.stats import random_effects
from builder.stats.effects import EffectSizes
from builder.stats.followups import subgroups as subgroup_test

SVG = "{http://www.w3.org/2000/svg}"
FUNNEL = "crp-d28-primary"  # 17 studies with seed 3
SMALL = "mortality-d28-primary"  # 3 studies
SUBGROUPED = (FUNNEL, "mortality-d28-fixed-mh")
RCT = "crp-d28-rct"  # added by the test: randomised trials only, all assessed with RoB 2 or not at all


def _synthetic():
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "benchmarks" / "synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthetic_site(tmp_path_factory):
    project = _synthetic().write_project(
        tmp_path_factory.mktemp("synthetic") / "project", studies=30, outcomes=2, seed=3
    )
    path = project / "data/review.yaml"
    review = yaml.safe_load(path.read_text(encoding="utf-8"))
    # The generator makes every design, follow-up cohorts included; this review pools them all on purpose.
    followups = [
        f.stem
        for f in sorted((project / "data/studies").glob("*.yaml"))
        if yaml.safe_load(f.read_text(encoding="utf-8"))["design"]["category"] == "follow-up-cohort"
    ]
    for a in review["analyses"]:
        if a["id"] in SUBGROUPED:
            a["subgroups"] = "design"
        kept = [sid for sid in followups if a.get("studies") is None or sid in a["studies"]]
        a["keeps"] = [{"study": sid, "reason": "synthetic data: every design is pooled"} for sid in kept]
    rct = next(a for a in review["analyses"] if a["id"] == "crp-d28-controlled")
    review["analyses"].append({**rct, "id": RCT, "title": "CRP, randomised trials only", "designs": ["rct"]})
    path.write_text(yaml.safe_dump(review, sort_keys=False, allow_unicode=True), encoding="utf-8")
    build(project, today=TODAY)
    doc = json.loads((project / "site/results.json").read_text(encoding="utf-8"))
    return project, {a["id"]: a for a in doc["analyses"]}


def page(project, outcome: str) -> str:
    return (project / "site/outcomes" / f"{outcome}.html").read_text(encoding="utf-8")


def svg_on(html: str, ident: str) -> ET.Element:
    match = re.search(r'<svg[^>]*aria-labelledby="' + ident + r"-title.*?</svg>", html, re.S)
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
    axis_y = max(float(ln.get("y1")) for ln in root.iter(SVG + "line") if ln.get("y1") == ln.get("y2"))
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


def test_subgroups_in_results_json_partition_the_studies_with_stable_ids(synthetic_site):
    _, analyses = synthetic_site
    a = analyses[FUNNEL]
    sub = a["subgroups"]
    assert sub["by"] == "design"
    assert [g["id"] for g in sub["groups"]] == [
        "rct",
        "non-randomised-controlled",
        "single-arm",
        "follow-up-cohort",
        "case-series",
    ]
    assert sorted(s for g in sub["groups"] for s in g["studies"]) == sorted(s["id"] for s in a["studies"])
    design = {s["id"]: s["design"] for s in a["studies"]}
    assert all(design[s] == g["id"] for g in sub["groups"] for s in g["studies"])
    assert sum(g["weight"] for g in sub["groups"]) == pytest.approx(100)
    assert "subgroups" not in analyses[SMALL]  # only where review.yaml asks for them


def test_test_for_subgroup_differences_is_the_engines(synthetic_site):
    """The same numbers as the statistics engine's subgroup follow-up run on the study estimates directly."""
    _, analyses = synthetic_site
    a = analyses[FUNNEL]
    studies = a["studies"]
    es = EffectSizes(
        np.array([s["yi"] for s in studies]),
        np.array([s["vi"] for s in studies]),
        np.ones(len(studies), dtype=bool),
        np.zeros(len(studies), dtype=bool),
    )
    expected = subgroup_test(es, [s["design"] for s in studies], lambda e: random_effects(e, "REML", "hksj"))
    test = a["subgroups"]["test_for_subgroup_differences"]
    assert test["q"] == pytest.approx(expected.q, rel=1e-6) and test["df"] == expected.df == 4
    assert test["p"] == pytest.approx(expected.p, rel=1e-6)
    fits = dict(zip(expected.labels, expected.fits))  # the engine keeps the order of first appearance
    for g in a["subgroups"]["groups"]:
        f = fits[g["id"]]
        assert g["pooled"]["estimate"] == pytest.approx(f.estimate, rel=1e-6)
        assert g["pooled"]["ci_high"] == pytest.approx(f.ci_high, rel=1e-6)


@pytest.mark.parametrize(
    "ident,outcome,scale", [(FUNNEL, "crp-d28", "identity"), ("mortality-d28-fixed-mh", "mortality-d28", "log")]
)
def test_forest_plot_draws_subgroup_headings_subtotals_and_the_test(synthetic_site, ident, outcome, scale):
    project, analyses = synthetic_site
    a = analyses[ident]
    root = svg_on(page(project, outcome), f"forest-{ident}")
    lines: dict[float, list[str]] = {}
    for t in root.iter(SVG + "text"):
        lines.setdefault(float(t.get("y")), []).append(t.text or "")
    texts = [t for line in lines.values() for t in line]
    groups = a["subgroups"]["groups"]
    heading_y = [y for y, line in lines.items() if line[0] in [g["label"] for g in groups]]
    assert [lines[y][0] for y in sorted(heading_y)] == [g["label"] for g in groups]
    subtotals = [line for y, line in sorted(lines.items()) if line[0] == "Subtotal (95% CI)"]
    assert len(subtotals) == len(groups)
    for line, g in zip(subtotals, groups):
        p = g["pooled"]
        assert fmt.estimate_ci(p["estimate"], p["ci_low"], p["ci_high"], scale) in line
        assert f"{g['weight']:.1f}%" in line
    t = a["subgroups"]["test_for_subgroup_differences"]
    assert (
        f"Test for subgroup differences: Chi² = {fmt.num(t['q'])}, df = {t['df']} ({fmt.p_value(t['p'])}), "
        f"I² = {t['i2']:.0f}%"
    ) in texts
    # one heterogeneity line per subgroup and one for the whole analysis
    assert sum(1 for x in texts if x.startswith("Heterogeneity:")) == len(groups) + 1
    diamonds = root.findall(f"{SVG}polygon[@class='dia sub']")
    assert len(diamonds) == sum(1 for g in groups if g["pooled"])
    if scale == "identity":
        axis_y = max(float(ln.get("y1")) for ln in root.iter(SVG + "line") if ln.get("y1") == ln.get("y2"))
        x = linear_axis(root, axis_y)
        for d, g in zip(diamonds, [g for g in groups if g["pooled"]]):
            xs = sorted(float(p.split(",")[0]) for p in d.get("points").split())
            assert xs[0] == pytest.approx(x(g["pooled"]["ci_low"]), abs=0.05)
            assert xs[-1] == pytest.approx(x(g["pooled"]["ci_high"]), abs=0.05)
    else:
        assert "Total events" in texts


def test_outcome_page_lists_subgroups_with_anchors(synthetic_site):
    project, analyses = synthetic_site
    html = page(project, "crp-d28")
    assert f'id="{FUNNEL}-subgroups"' in html
    for g in analyses[FUNNEL]["subgroups"]["groups"]:
        assert f'id="{FUNNEL}-subgroup-{g["id"]}"' in html


def test_risk_of_bias_columns_show_rob2_with_overall_and_unassessed_studies(synthetic_site):
    project, analyses = synthetic_site
    html = page(project, "crp-d28")
    root = svg_on(html, f"forest-{RCT}")
    assert root.get("class") == "fp forest rob"
    texts = [(float(t.get("y")), t.text or "") for t in root.iter(SVG + "text")]
    assert [t for _, t in texts if re.fullmatch(r"D\d|O", t)] == ["D1", "D2", "D3", "D4", "D5", "O"]
    assert any(t == "(O) Overall judgement" for _, t in texts)
    circles = [(float(c.get("cy")), c.get("class")) for c in root.iter(SVG + "circle")]
    unassessed = 0
    for s in analyses[RCT]["studies"]:
        y = next(y for y, t in texts if t == s["label"])
        marks = [cls for cy, cls in circles if abs(cy - (y - 4)) < 0.01]
        study = yaml.safe_load((project / "data/studies" / f"{s['id']}.yaml").read_text(encoding="utf-8"))
        if not study.get("risk_of_bias"):
            unassessed += 1
            assert marks == ["na"] * 6
        else:
            rob = study["risk_of_bias"][0]
            assert rob["tool"] == "rob2"
            assert marks == [f"j-{d['judgement']}" for d in rob["domains"]] + [f"j-{rob['overall']}"]
    assert unassessed >= 1
    section = html.split(f'id="{RCT}"')[1].split("<h2")[0]
    assert section.count("<td>not assessed</td>") == unassessed
    # studies assessed with RoB 2 and ROBINS-I: no columns, and the page says why
    mixed = svg_on(html, f"forest-{FUNNEL}")
    assert mixed.get("class") == "fp forest"
    assert "were assessed with different tools (RoB 2, ROBINS-I)" in html.split(f'id="{FUNNEL}"')[1]
