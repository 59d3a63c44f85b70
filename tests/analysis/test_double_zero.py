"""Studies with no events (or only events) in both arms, and the treatment-arm continuity correction, through
the public path: review.yaml and study files of a small review written here, to results.json, against metafor
(tests/reference/sparse.json, from sparse_reference.R)."""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import shutil
from pathlib import Path

import pytest
import yaml
from alignment import Tol, load_reference
from conftest import ROOT, TODAY

from builder.analysis import run as analysis
from builder.errors import DataError
from builder.ingest.loader import load
from builder.report.results_json import results_document, to_json

REFERENCE = load_reference("sparse")["datasets"]
# results.json rounds every number to 10 significant digits (relative error up to 5e-10), so closed-form
# quantities are compared to 1e-9 relative here rather than alignment.CLOSED_FORM's 1e-10.
RESULTS_JSON = Tol(rtol=1e-9, atol=1e-12)
REML = Tol(rtol=1e-7, atol=1e-9)  # as tests/stats/test_sparse_alignment.py: tau² converged to ~1e-9 on both sides

# (id, measure, model, method, extra settings) -> the reference fit of the deaths outcome it must reproduce
ANALYSES = {
    "deaths-primary": ("OR", "random", "IV", {"tau2": "REML", "ci_method": "hksj"}),
    "deaths-rr-mh": ("RR", "fixed", "MH", {}),
    "deaths-rr-mh-revman": ("RR", "fixed", "MH", {"double_zero_studies": "keep-in-rd"}),
    "deaths-rd-mh": ("RD", "fixed", "MH", {}),
    "deaths-rd-mh-drop": ("RD", "fixed", "MH", {"double_zero_studies": "drop"}),
    "deaths-rd-iv": ("RD", "fixed", "IV", {}),
    "deaths-rd-reml": ("RD", "random", "IV", {"tau2": "REML", "ci_method": "hksj"}),
    "survivors-rr-mh": ("RR", "fixed", "MH", {}),
    "survivors-rr-mh-drop": ("RR", "fixed", "MH", {"double_zero_studies": "drop"}),
}


PRIMARY = ("deaths-primary", "survivors-rr-mh")


def _generator():
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "benchmarks" / "synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_review(project: Path) -> None:
    """dat.axfors2021 (deaths, and survivors as a second outcome) as a review: the frame of the benchmarks'
    synthetic review, with every study an RCT and the analyses above."""
    synthetic = _generator()
    review, studies = synthetic.Generator(2, 1, 3).generate()
    template = next(s for s in studies if "mortality-d28" in s.get("outcomes", {}))
    x = REFERENCE["axfors2021_deaths"]["inputs"]
    ids = [f"trial-{i + 1:02d}" for i in range(len(x["ai"]))]
    (project / "data" / "studies").mkdir(parents=True)
    for i, sid in enumerate(ids):
        s = copy.deepcopy(template)
        s.update(id=sid, label=f"Trial {i + 1:02d}", source_ref=i + 1)
        s["design"].update(category="rct", review_category="rct")
        s.pop("risk_of_bias", None)
        n1, n2, a, c = (int(x[k][i]) for k in ("n1i", "n2i", "ai", "ci"))
        s["arms"][0]["n"], s["arms"][1]["n"] = n1, n2
        data = s["outcomes"]["mortality-d28"]["published"]
        data["experimental"].update(total=n1, events=a)
        data["control"].update(total=n2, events=c)
        alive = copy.deepcopy(data)
        alive["experimental"]["events"], alive["control"]["events"] = n1 - a, n2 - c
        s["outcomes"] = {"deaths": {"published": data}, "survivors": {"published": alive}}
        (project / "data" / "studies" / f"{sid}.yaml").write_text(synthetic.dump(s, ""), encoding="utf-8")
    death = dict(review["outcomes"][0], id="deaths", label="Deaths", event="death")
    alive = dict(death, id="survivors", label="Survivors", event="alive", direction="higher-is-better")
    review["outcomes"] = [death, alive]
    review["analyses"] = [
        {
            "id": aid,
            "outcome": aid.split("-")[0],
            "role": "primary" if aid in PRIMARY else "sensitivity",
            "title": aid,
            "measure": measure,
            "model": model,
            **({"method": method} if model == "fixed" else {}),
            **extra,
            "studies": ids,
        }
        for aid, (measure, model, method, extra) in ANALYSES.items()
    ]
    n = len(ids)
    review["flow"].update(
        records_identified=n + 20,
        records_excluded=10,
        records_excluded_reasons={},
        full_texts_assessed=n + 10,
        full_texts_excluded=10,
        full_texts_excluded_reasons={},
    )
    review["narrative"] = {}
    review["certainty"] = []
    (project / "data" / "review.yaml").write_text(synthetic.dump(review, ""), encoding="utf-8")


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict:
    project = tmp_path_factory.mktemp("sparse") / "project"
    _write_review(project)
    data = load(project / "data", today=TODAY)
    # results.json as review build and review release write it
    return json.loads(to_json(results_document(data, analysis.run_all(data))))


def _record(document: dict, aid: str) -> dict:
    return next(a for a in document["analyses"] if a["id"] == aid)


def _check(pooled: dict, ref: dict, tol: Tol = RESULTS_JSON) -> None:
    for ours, theirs in (("estimate", "beta"), ("se", "se"), ("ci_low", "ci_lb"), ("ci_high", "ci_ub")):
        assert tol.ok(pooled[ours], ref[theirs]), (ours, pooled[ours], ref[theirs])
    assert pooled["k"] == ref["k"]


@pytest.mark.parametrize(
    "aid, dataset, key",
    [
        ("deaths-rr-mh", "axfors2021_deaths", "RR"),
        ("deaths-rr-mh-revman", "axfors2021_deaths", "RR_drop"),
        ("deaths-rd-mh", "axfors2021_deaths", "RD"),
        ("deaths-rd-mh-drop", "axfors2021_deaths", "RD_drop"),
        ("survivors-rr-mh", "axfors2021_survivors", "RR"),
        ("survivors-rr-mh-drop", "axfors2021_survivors", "RR_drop"),
    ],
)
def test_mantel_haenszel_analyses_match_rma_mh(document, aid, dataset, key):
    record = _record(document, aid)
    ref = REFERENCE[dataset]["mh"][key]
    _check(record["pooled"], ref)
    assert RESULTS_JSON.ok(record["heterogeneity"]["q"], ref["QE"])
    weights = [s["weight"] for s in record["studies"] if s["weight"] is not None]
    assert len(weights) == ref["k"]
    assert all(math.isclose(w, r, rel_tol=1e-8, abs_tol=1e-8) for w, r in zip(weights, ref["weights"]))
    expected = "keep-in-rd" if aid.endswith("revman") else ("drop" if aid.endswith("drop") else "keep")
    assert record["settings"]["double_zero_studies"] == expected


def test_inverse_variance_risk_differences_match_escalc_and_rma(document):
    ref = REFERENCE["axfors2021_deaths"]["iv_rd"]
    _check(_record(document, "deaths-rd-iv")["pooled"], ref["fixed"])
    reml = _record(document, "deaths-rd-reml")
    _check(reml["pooled"], ref["reml"], REML)
    assert REML.ok(reml["heterogeneity"]["tau2"], ref["reml"]["tau2"])
    yi = [s["yi"] for s in reml["studies"]]
    assert all(s["estimable"] for s in reml["studies"])  # the 15 double-zero trials too
    assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(yi, ref["yi"]))


def test_the_primary_panel_has_the_mh_risk_ratio_rd_and_treatment_arm_rows(document):
    panel = {row["id"]: row for row in _record(document, "deaths-primary")["sensitivity"]}
    ref = REFERENCE["axfors2021_deaths"]
    _check(panel["risk-ratio"]["pooled"], ref["mh"]["RR"])
    _check(panel["risk-difference"]["pooled"], ref["mh"]["RD"])
    assert panel["risk-ratio"]["k"] == panel["risk-difference"]["k"] == 33
    tacc = panel["treatment-arm-correction"]
    assert tacc["label"] == "Treatment-arm continuity correction (Sweeting 2004) instead of 0.5 in zero cells"
    _check(tacc["pooled"], ref["tacc"]["OR"]["reml"], REML)
    assert tacc["k"] == 18  # the double-zero trials carry no odds ratio, with any correction


def test_an_unknown_double_zero_setting_names_file_line_and_field(tmp_path):
    project = tmp_path / "project"
    _write_review(project)
    path = project / "data" / "review.yaml"
    review = yaml.safe_load(path.read_text(encoding="utf-8"))
    review["analyses"][1]["double_zero_studies"] = "include"
    path.write_text(yaml.safe_dump(review, sort_keys=False), encoding="utf-8")
    with pytest.raises(DataError) as info:
        load(project / "data", today=TODAY)
    [problem] = info.value.problems
    assert problem.file == "data/review.yaml" and "double_zero_studies" in problem.field
    assert "keep" in problem.message and "keep-in-rd" in problem.message and "drop" in problem.message
    line = path.read_text(encoding="utf-8").splitlines()[problem.line - 1]
    assert "double_zero_studies" in line


def test_a_forest_plot_says_why_a_not_estimable_study_has_a_weight(tmp_path):
    from builder.report.figures import forest

    project = tmp_path / "project"
    _write_review(project)
    data = load(project / "data", today=TODAY)
    specs = {a.id: a for a in data.review.analyses}
    kept = forest.render(analysis.run(specs["survivors-rr-mh"], data))
    assert "Not estimable" in kept and "a weight without an estimate" in kept
    dropped = forest.render(analysis.run(specs["survivors-rr-mh-drop"], data))
    assert "Not estimable" in dropped and "a weight without an estimate" not in dropped


def test_leaving_out_or_adding_a_study_with_only_a_weight_changes_the_estimate(document):
    """Trial 02 had no deaths in either arm: as survivors, everybody had the event, so it has no risk ratio of its
    own but a Mantel-Haenszel weight; leaving it out is a refit without it, not "changes nothing"."""
    from builder.stats import log_risk_ratio, mantel_haenszel_rr

    record = _record(document, "survivors-rr-mh")
    row = next(r for r in record["leave_one_out"] if r["id"] == "without-trial-02")
    x = REFERENCE["axfors2021_survivors"]["inputs"]
    rest = [[v for i, v in enumerate(x[k]) if i != 1] for k in ("ai", "n1i", "ci", "n2i")]
    direct = mantel_haenszel_rr(*rest, display=log_risk_ratio(*rest), keep_double_zero=True)
    assert row["pooled"] is not None and row["k"] == 32
    assert math.isclose(row["pooled"]["estimate"], direct.estimate, rel_tol=1e-9)
    assert row["pooled"]["estimate"] != record["pooled"]["estimate"]
    cumulative = {r["id"]: r for r in record["cumulative"]}
    assert cumulative["up-to-trial-33"]["pooled"]["estimate"] == pytest.approx(record["pooled"]["estimate"])


@pytest.mark.parametrize(
    "measure, arms",
    [("RD", [(0, 10, 0, 12), (0, 8, 0, 9)]), ("RR", [(0, 10, 2, 12), (0, 8, 1, 9)]), ("RD", [(10, 10, 12, 12)])],
)
def test_nothing_to_pool_by_mantel_haenszel_is_a_reason_not_a_traceback(tmp_path, measure, arms):
    """Every study 0% vs 0% (risk difference variance 0), or no events in the experimental arm of any study (risk
    ratio): the analysis has no pooled result and says why; results.json and the pages are still written."""
    project = _nothing_to_pool(tmp_path, measure, arms)
    data = load(project / "data", today=TODAY)
    [result] = analysis.run_all(data)
    assert result.fit is None and result.notes[0].startswith("No pooled result: the Mantel-Haenszel")
    record = json.loads(to_json(results_document(data, [result])))["analyses"][0]
    assert record["pooled"] is None


def test_a_review_with_nothing_to_pool_by_mantel_haenszel_builds(tmp_path):
    from builder.publish.build import build

    project = _nothing_to_pool(tmp_path, "RD", [(0, 10, 0, 12), (0, 8, 0, 9)])
    for part in ("templates", "docs", "mkdocs.yml"):
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, project / part)
        else:
            shutil.copy2(src, project / part)
    build(project, site=tmp_path / "site", today=TODAY)
    page = (tmp_path / "site/outcomes/deaths.html").read_text(encoding="utf-8")
    assert "its variance is 0" in page


def _nothing_to_pool(tmp_path: Path, measure: str, arms: list[tuple[int, int, int, int]]) -> Path:
    """The review above cut down to these trials (events and totals per arm) and one MH analysis of deaths."""
    project = tmp_path / "project"
    _write_review(project)
    for path in sorted((project / "data/studies").glob("*.yaml")):
        study = yaml.safe_load(path.read_text(encoding="utf-8"))
        i = int(study["id"].split("-")[1]) - 1
        if i >= len(arms):
            path.unlink()
            continue
        a, n1, c, n2 = arms[i]
        data = study["outcomes"]["deaths"]["published"]
        data["experimental"].update(events=a, total=n1)
        data["control"].update(events=c, total=n2)
        path.write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    review_path = project / "data/review.yaml"
    review = yaml.safe_load(review_path.read_text(encoding="utf-8"))
    ids = [f"trial-{i + 1:02d}" for i in range(len(arms))]
    review["analyses"] = [
        {
            "id": "only",
            "outcome": "deaths",
            "role": "primary",
            "title": "t",
            "measure": measure,
            "model": "fixed",
            "method": "MH",
            "studies": ids,
        }
    ]
    review["flow"].update(full_texts_assessed=len(arms) + 10, records_identified=len(arms) + 20)
    review_path.write_text(yaml.safe_dump(review, sort_keys=False), encoding="utf-8")
    return project
