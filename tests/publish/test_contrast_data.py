"""Contrast-level data (generic inverse variance), O - E and variance (Peto), and before-after data with an
assumed correlation, through the public path: study files written by the test (tests/publish/contrast_project.py,
from the metadat data sets of tests/reference/contrast.json) -> `review check` -> `review build` -> results.json,
the pages and the R scripts, against metafor's values. The statistics functions alone are checked in
tests/stats/test_contrast_alignment.py; here the question is whether the YAML reaches them unchanged.

Tolerance: results.json rounds every number to 10 significant digits (relative error up to 5e-10), and REML's
tau² is converged to about 1e-9 absolute (see tests/alignment.py), which moves the pooled estimate and its
bounds by the same order; so rel=1e-8 with abs=1e-9 for every comparison below. A wrong formula (an SE taken
from the CI on the ratio scale, a correlation ignored, a 2x2 table counted twice) moves them by 1e-3 or more."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess

import pytest
import yaml
from conftest import TODAY
from contrast_project import REF, write

from builder.cli import main
from builder.contract.study import Contrast, OMinusE
from builder.publish.build import build


def close(actual, expected):
    return actual == pytest.approx(expected, rel=1e-8, abs=1e-9)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    project = write(tmp_path_factory.mktemp("contrast") / "project")
    build(project, today=TODAY)
    doc = json.loads((project / "site/results.json").read_text(encoding="utf-8"))
    return project, {a["id"]: a for a in doc["analyses"]}


def _assert_pooled(record: dict, expected: dict) -> None:
    pooled, het = record["pooled"], record["heterogeneity"]
    for key in ("estimate", "se", "ci_low", "ci_high"):
        assert close(pooled[key], expected[key]), (record["id"], key, pooled[key], expected[key])
    assert pooled["p"] == pytest.approx(expected["p"], rel=1e-7), record["id"]
    assert pooled["k"] == expected["k"]
    assert close(het["q"], expected["q"])
    if het["tau2"] is not None:
        assert close(het["tau2"], expected["tau2"])
    weights = [s["weight"] for s in record["studies"] if s["weight"] is not None]
    assert all(close(a, e) for a, e in zip(weights, expected["weights"], strict=True))


def _assert_studies(record: dict, yi: list, vi: list) -> None:
    for s, y, v in zip(record["studies"], yi, vi, strict=True):
        if y is None:
            assert not s["estimable"]
        else:
            assert close(s["yi"], y) and close(s["vi"], v), s["id"]


@pytest.mark.parametrize("aid,case", [("hr-primary", "REML/knha"), ("hr-fixed", "FE/z")])
def test_hazard_ratios_printed_with_a_ci_or_an_se_pool_as_metafor(site, aid, case):
    _, analyses = site
    a = analyses[aid]
    assert a["measure"] == "HR" and a["scale"] == "log" and a["method"] in ("REML", "IV")
    _assert_studies(a, REF["hazard"]["yi"], REF["hazard"]["vi"])
    assert {s["data"] for s in a["studies"]} == {"contrast"}
    assert all(close(s["inputs"]["sei"] ** 2, s["vi"]) for s in a["studies"])
    _assert_pooled(a, REF["hazard"]["fits"][case])


def test_peto_from_o_minus_e_and_variance_is_peto_and_metafors_common_effect_fit(site):
    _, analyses = site
    a = analyses["hr-peto"]
    assert a["method"] == "Peto" and a["model"] == "fixed"
    _assert_studies(a, REF["peto"]["yi"], REF["peto"]["vi"])
    assert close(a["pooled"]["estimate"], REF["peto"]["formula"]["estimate"])
    assert close(a["pooled"]["se"], REF["peto"]["formula"]["se"])
    _assert_pooled(a, REF["peto"]["fits"]["FE/z"])
    # the same O - E and V as log hazard ratios under random effects
    _assert_pooled(analyses["hr-oe-random"], REF["peto"]["fits"]["REML/knha"])


@pytest.mark.parametrize("aid,measure", [("change-md", "MC"), ("change-smd", "SMCC")])
def test_before_after_data_use_the_correlation_and_the_panel_varies_it(site, aid, measure):
    _, analyses = site
    a = analyses[aid]
    cases = {c["r"]: c for c in REF["pre_post"]["cases"] if c["measure"] == measure}
    assert a["settings"]["pre_post_correlation"] == 0.5
    assert {s["data"] for s in a["studies"]} == {"pre-post"}
    _assert_studies(a, cases[0.5]["yi"], cases[0.5]["vi"])
    _assert_pooled(a, cases[0.5]["fit"])
    rows = {row["id"]: row for row in a["sensitivity"]}
    for r, rid in ((0.0, "pre-post-r-0"), (0.8, "pre-post-r-0.8")):
        pooled, expected = rows[rid]["pooled"], cases[r]["fit"]
        for key in ("estimate", "se", "ci_low", "ci_high"):
            assert close(pooled[key], expected[key]), (rid, key)
        assert close(pooled["tau2"], expected["tau2"])
    assert rows["pre-post-r-0"]["label"] == "Before-after correlation 0 (time points as independent groups)"


def test_the_correlation_is_set_per_analysis_and_subgroups_pool_reported_data(tmp_path):
    """One build for two settings: a correlation of 0.8 for one analysis, and subgroups by design of the
    O - E analysis (its first four trials relabelled non-randomised), each subtotal Peto's pooled estimate of
    its own trials."""
    project = write(tmp_path / "project")
    path = project / "data/review.yaml"
    review = yaml.safe_load(path.read_text(encoding="utf-8"))
    for a in review["analyses"]:
        if a["id"] == "change-md":
            a["pre_post_correlation"] = 0.8
        if a["id"] in ("hr-peto", "infection-mixed"):
            a["subgroups"] = "design"
    path.write_text(yaml.safe_dump(review, sort_keys=False), encoding="utf-8")
    for i in range(1, 5):
        study = project / "data/studies" / f"pignon-{i}.yaml"
        data = yaml.safe_load(study.read_text(encoding="utf-8"))
        data["design"]["category"] = "non-randomised-controlled"
        study.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    build(project, today=TODAY)
    doc = json.loads((project / "site/results.json").read_text(encoding="utf-8"))
    a = next(x for x in doc["analyses"] if x["id"] == "change-md")
    expected = next(c for c in REF["pre_post"]["cases"] if c["measure"] == "MC" and c["r"] == 0.8)
    assert a["settings"]["pre_post_correlation"] == 0.8
    assert close(a["pooled"]["estimate"], expected["fit"]["estimate"])
    assert [row["id"] for row in a["sensitivity"] if row["id"].startswith("pre-post")] == ["pre-post-r-0"]
    peto = next(x for x in doc["analyses"] if x["id"] == "hr-peto")
    studies = REF["peto"]["studies"]
    for group, part in zip(peto["subgroups"]["groups"], (studies[4:], studies[:4])):
        oe, v = sum(s["o_minus_e"] for s in part), sum(s["v"] for s in part)
        assert close(group["pooled"]["estimate"], oe / v) and close(group["pooled"]["se"], 1 / math.sqrt(v))
    assert peto["subgroups"]["test_for_subgroup_differences"]["df"] == 1
    assert next(x for x in doc["analyses"] if x["id"] == "infection-mixed")["subgroups"]["groups"][0]["pooled"]


def test_odds_ratios_as_printed_mix_with_2x2_tables_as_metafor_pools_yi_and_vi(site):
    _, analyses = site
    a = analyses["infection-mixed"]
    _assert_studies(a, REF["mixed"]["yi"], REF["mixed"]["vi"])
    _assert_pooled(a, REF["mixed"]["fit"])
    given = [s["given"] for s in REF["mixed"]["studies"]]
    assert [s.get("data") == "contrast" for s in a["studies"]] == given
    rows = {row["id"]: row for row in a["sensitivity"]}
    # Mantel-Haenszel and Peto need every 2x2 table: the fixed-effect row pools by inverse variance instead
    assert rows["fixed-effect"]["pooled"]["method"] == "IV"
    assert rows["peto"]["pooled"] is None and "2x2 table" in rows["peto"]["reason"]
    assert rows["risk-difference"]["pooled"] is None


def test_pages_show_the_reported_estimates_and_what_was_done_to_them(site):
    project, analyses = site
    study = (project / "site/studies/riley-1.html").read_text(encoding="utf-8")
    assert "the study's own estimate of the comparison: HR 0.87 (95% CI 0.18 to 4.25)" in study
    assert "analysed as log HR = ln 0.869358 = -0.14, SE = (ln 4.25277 - ln 0.177716) / (2 × 1.9600) = 0.81" in study
    peto = (project / "site/studies/pignon-1.html").read_text(encoding="utf-8")
    assert "O − E −1.80 with variance 14.50" in peto and "(O - E) / V = -0.124138" in peto
    methods = (project / "site/methods.html").read_text(encoding="utf-8")
    assert "Estimates the studies report" in methods and "as metafor does with yi and vi" in methods
    assert "Σ (O − E) / Σ V" in methods
    assert "(SD_after² + SD_before² − 2 r SD_after SD_before) / n" in methods and "r = 0.8" in methods
    outcome = (project / "site/outcomes/death.html").read_text(encoding="utf-8")
    assert ">n = 50</td>" in outcome and "Hazard Ratio" in outcome
    assert "<code>o_minus_e</code>" in (project / "site/data.html").read_text(encoding="utf-8")
    forest = (project / "site/figures/hr-primary.svg").read_text(encoding="utf-8")
    assert ">Events<" not in forest and forest.count(">Total<") == 2  # every study gives its totals only
    csv = (project / "site/results.csv").read_text(encoding="utf-8")
    assert csv.splitlines()[0].split(",").count("yi") == 1  # the public columns stay as they were


@pytest.mark.r
@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript with metafor is not installed")
def test_the_published_r_scripts_reproduce_each_analysis(site, tmp_path):
    project, analyses = site
    downloads = shutil.copytree(project / "site/downloads", tmp_path / "downloads")  # R may write Rplots.pdf
    for aid, a in analyses.items():
        proc = subprocess.run(["Rscript", f"{aid}.R"], cwd=downloads, capture_output=True, text=True)
        assert proc.returncode == 0, (aid, proc.stderr)
        m = re.search(r"estimate (\S+) \[(\S+), (\S+)\], p = (\S+)", proc.stdout)
        assert m, proc.stdout
        back = math.exp if a["scale"] == "log" else (lambda v: v)
        for printed, key in zip(m.groups()[:3], ("estimate", "ci_low", "ci_high")):
            assert float(printed) == pytest.approx(back(a["pooled"][key]), rel=1e-3, abs=1e-4), (aid, key)


# ---------------------------------------------------------------------------------------------- bad input


def _edit_study(project, sid: str, outcome: str, dataset: str, change) -> None:
    path = project / "data/studies" / f"{sid}.yaml"
    study = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(study["outcomes"][outcome][dataset])
    path.write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")


def _set(key, value):
    def change(ds):
        target = ds
        *parents, last = key.split(".")
        for p in parents:
            target = target[p]
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value

    return change


BAD = [
    ("riley-1", "death", "published", _set("contrast.estimate", 9.0), "does not contain the estimate 9"),
    ("riley-2", "death", "published", _set("contrast.estimate", -0.3), "'estimate' must be positive"),
    ("riley-2", "death", "published", _set("contrast.se", None), "needs its standard error 'se' or"),
    ("riley-1", "death", "published", _set("contrast.ci_high", None), "needs both 'ci_low' and 'ci_high'"),
    ("riley-2", "death", "published", _set("contrast.measure", "OR"), "the analysis pools HR, not OR"),
    ("riley-2", "death", "published", _set("experimental.events", 3), "gives its arm and total only"),
    ("riley-2", "death", "published", _set("contrast", None), "give 'events' (dichotomous)"),
    ("riley-2", "death", "published", _set("contrast.measure", "SMD"), "its measures are"),
    ("pignon-1", "death", "log-rank", _set("o_minus_e.variance", 0), "greater than 0"),
]


@pytest.mark.parametrize("sid,outcome,dataset,change,message", BAD, ids=[b[-1][:30] for b in BAD])
def test_check_reports_bad_contrast_data_with_file_line_and_field(
    tmp_path, capsys, sid, outcome, dataset, change, message
):
    project = write(tmp_path / "project")
    _edit_study(project, sid, outcome, dataset, change)
    assert main(["-C", str(project), "check"]) == 1
    err = capsys.readouterr().err
    assert f"data/studies/{sid}.yaml:" in err and message in err, err
    assert f"outcomes.{outcome}.{dataset}" in err
    assert "Traceback" not in err


def _plan(project, change) -> None:
    path = project / "data/review.yaml"
    review = yaml.safe_load(path.read_text(encoding="utf-8"))
    change({a["id"]: a for a in review["analyses"]})
    path.write_text(yaml.safe_dump(review, sort_keys=False), encoding="utf-8")


PLANS = [
    (lambda a: a["infection-mixed"].update(model="fixed", method="MH"), "hahn-1", "Mantel-Haenszel cannot pool"),
    (lambda a: a["infection-mixed"].update(measure="HR"), "hahn-2", "HR cannot be computed from per-arm numbers"),
    (lambda a: a["hr-primary"].update(model="fixed", method="Peto"), "riley-1", "Peto's method cannot pool"),
]


@pytest.mark.parametrize("change,sid,message", PLANS, ids=["mh", "hr-from-arms", "peto"])
def test_check_reports_data_an_analysis_cannot_pool(tmp_path, capsys, change, sid, message):
    project = write(tmp_path / "project")
    _plan(project, change)
    assert main(["-C", str(project), "check"]) == 1
    err = capsys.readouterr().err
    assert f"data/studies/{sid}.yaml:" in err and message in err, err
    assert "Traceback" not in err


def test_measure_gen_builds_from_contrasts(tmp_path):
    """GEN used to pass `review check` and fail `review build`; with study estimates it builds."""
    project = write(tmp_path / "project")
    for f in (project / "data/studies").glob("lehmann-*.yaml"):
        _edit_study(
            project,
            f.stem,
            "score",
            "published",
            lambda ds: ds.update(
                design="parallel",
                experimental={"arm": "treated", "total": 10},
                control={"arm": "treated", "total": 10},
                contrast={"measure": "GEN", "estimate": 0.3, "se": 0.1},
            ),
        )
    _plan(project, lambda a: a["change-md"].update(measure="GEN") or a["change-smd"].update(measure="GEN"))
    assert main(["-C", str(project), "check"]) == 0
    build(project, today=TODAY)
    doc = json.loads((project / "site/results.json").read_text(encoding="utf-8"))
    a = next(x for x in doc["analyses"] if x["id"] == "change-md")
    assert close(a["pooled"]["estimate"], 0.3)


def test_gen_from_per_arm_data_is_a_check_error_not_a_traceback(tmp_path, capsys):
    project = write(tmp_path / "project")
    _plan(project, lambda a: a["change-md"].update(measure="GEN"))
    assert main(["-C", str(project), "check"]) == 1
    err = capsys.readouterr().err
    assert "GEN cannot be computed from per-arm numbers" in err and "data/studies/lehmann-1.yaml:" in err


def test_new_study_template_examples_are_valid_data(tmp_path, capsys):
    project = write(tmp_path / "project")
    assert main(["-C", str(project), "new-study", "smith-2024"]) == 0
    text = (project / "data/studies/smith-2024.yaml").read_text(encoding="utf-8")
    examples = [
        line.strip()[2:] for line in text.splitlines() if line.strip().startswith(("# contrast:", "# o_minus_e:"))
    ]
    assert len(examples) == 5  # a contrast per outcome (death, score, infection), O - E per dichotomous one
    for example in examples:
        key, value = next(iter(yaml.safe_load(example.split("   #")[0]).items()))
        (Contrast if key == "contrast" else OMinusE).model_validate(value)
    assert "design: pre-post" in text and "pre_post_correlation" in text
