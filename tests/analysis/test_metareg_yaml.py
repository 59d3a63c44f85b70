"""Meta-regression through the public path: study files with declared characteristics -> `load` -> `run_all` ->
results.json, asserted against metafor's values in tests/reference/metareg.json (curtis1998); and the validation
of characteristics with file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import metareg_project as mp
import pytest
from alignment import P_VALUE, TAU2_ITERATIVE, Tol
from conftest import ROOT, TODAY
from jsonschema import Draft202012Validator

from builder.analysis.run import run_all
from builder.errors import DataError
from builder.ingest.loader import load
from builder.report.results_json import results_document, to_json

# results.json rounds to 10 significant digits (results_json._num): relative error up to 5e-10 on top of the
# engine's own agreement with metafor (~1e-10 at most here, see tests/stats/test_metareg_alignment.py).
ROUNDED = Tol(rtol=2e-9, atol=1e-9)
ROUNDED_P = Tol(rtol=max(P_VALUE.rtol, 1e-5), atol=0.0)  # as P_DERIVED of the stats test, plus rounding
I2_H2 = Tol(rtol=2e-9, atol=1e-4)  # as the stats test: I² moves ~3e4 times an error of tau²


@pytest.fixture(scope="module")
def full_document(tmp_path_factory) -> dict:
    project = mp.write(tmp_path_factory.mktemp("curtis"))
    data = load(project / "data", today=TODAY)
    return json.loads(to_json(results_document(data, run_all(data))))


@pytest.fixture(scope="module")
def document(full_document) -> dict:
    return {a["id"]: a for a in full_document["analyses"]}


def test_results_json_with_meta_regressions_and_declared_subgroups_validates(full_document, tmp_path: Path):
    schema = json.loads((ROOT / "docs" / "schema" / "results.schema.json").read_text(encoding="utf-8"))
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(full_document)]
    assert errors == []
    few = _run(tmp_path, {"few": {"role": "sensitivity", "meta_regression": {"moderators": ["time", "method"]}}}, k=12)
    assert [
        e.message for e in Draft202012Validator(schema).iter_errors({**full_document, "analyses": [few["few"]]})
    ] == []


def _reference_name(analysis_id: str) -> str:
    test = "z" if analysis_id.endswith("-z") else "knha"
    return "curtis1998-" + analysis_id.removeprefix("biomass-").removesuffix("-z") + "-" + test


@pytest.mark.parametrize("analysis_id", sorted(mp.ANALYSES))
def test_results_json_matches_metafor(document: dict, analysis_id: str):
    ref = mp.REFERENCE["models"][_reference_name(analysis_id)]
    mr = document[analysis_id]["meta_regression"]
    assert mr["k"] == ref["k"] and mr["reason"] is None and mr["left_out"] == []
    assert mr["test"] == ref["test"] and mr["tau2_method"] == "REML"
    fit = mr["fit"]
    assert [c["term"] for c in fit["coefficients"]][1:] == [
        {"methodGH": "method:GH", "methodOTC": "method:OTC"}.get(n, n) for n in ref["names"][1:]
    ]
    problems = []

    def check(ours, theirs, tol, what):
        if not tol.ok(ours, theirs):
            problems.append(f"{what}: results.json {ours!r}, metafor {theirs!r}")

    for j, c in enumerate(fit["coefficients"]):
        for key, rkey in (
            ("estimate", "estimate"),
            ("se", "se"),
            ("statistic", "statistic"),
            ("ci_low", "ci_low"),
            ("ci_high", "ci_high"),
        ):
            check(c[key], ref[rkey][j], ROUNDED, f"{c['term']} {key}")
        check(c["p"], ref["pval"][j], ROUNDED_P, f"{c['term']} p")
    moderators, residual = fit["test_of_moderators"], fit["residual_heterogeneity"]
    assert fit["df"] == ref["df"] and moderators["df"] == ref["qm_df"] and residual["df"] == ref["qe_df"]
    assert moderators["statistic_type"] == ("F" if ref["test"] == "knha" else "chi2")
    check(moderators["statistic"], ref["qm"], ROUNDED, "QM")
    check(moderators["p"], ref["qm_p"], ROUNDED_P, "QM p")
    check(residual["qe"], ref["qe"], ROUNDED, "QE")
    check(residual["qe_p"], ref["qe_p"], ROUNDED_P, "QE p")
    check(residual["tau2"], ref["tau2"], Tol(TAU2_ITERATIVE.rtol + 1e-9, TAU2_ITERATIVE.atol), "tau2")
    check(residual["i2"], ref["i2"], I2_H2, "I2")
    check(fit["r2"], ref["r2"], I2_H2, "R2")
    check(fit["tau2_without_moderators"], ref["tau2_re"], Tol(1e-9, 1e-9), "tau2 RE")
    assert not problems, "\n".join(problems)


def test_subgroups_by_a_declared_characteristic_follow_its_levels(document: dict):
    s = document["biomass-method"]["subgroups"]
    assert s["by"] == "method" and s["by_label"] == "Method"
    assert [g["label"] for g in s["groups"]] == ["GC", "GH", "OTC"]
    counts = {level: mp.CURTIS["method"].count(level) for level in ("GC", "GH", "OTC")}
    assert [len(g["studies"]) for g in s["groups"]] == list(counts.values())
    assert s["test_for_subgroup_differences"]["df"] == 2


def _run(tmp_path: Path, analyses: dict, k: int | None = None, edit=None) -> dict:
    project = mp.write(tmp_path / "p", analyses, k=k, edit=edit)
    data = load(project / "data", today=TODAY)
    return {a["id"]: a for a in results_document(data, run_all(data))["analyses"]}


def test_guard_keeps_meta_regression_off_below_ten_studies_per_characteristic(tmp_path: Path):
    analyses = {
        "few": {"role": "sensitivity", "meta_regression": {"moderators": ["time", "method"]}},
        "few-allowed": {
            "role": "sensitivity",
            "meta_regression": {"moderators": ["time", "method"], "allow_few_studies": "to test the override"},
        },
    }
    doc = _run(tmp_path, analyses, k=15)
    few = doc["few"]["meta_regression"]
    assert few["fit"] is None and "at least 10 studies per characteristic" in few["reason"]
    assert "15 studies for 2 characteristics" in few["reason"]
    allowed = doc["few-allowed"]["meta_regression"]
    assert allowed["fit"] is not None and allowed["guard"]["overridden_because"] == "to test the override"


def test_a_study_without_a_value_is_left_out_with_the_reason(tmp_path: Path):
    def edit(review, studies):
        del studies[0]["characteristics"]["time"]

    doc = _run(tmp_path, {"a": {"role": "sensitivity", "meta_regression": {"moderators": ["time"]}}}, edit=edit)
    mr = doc["a"]["meta_regression"]
    assert mr["k"] == 101 and mr["left_out"] == [
        {"id": mp.study_id(0), "label": "Experiment 21", "reason": "no value of Exposure"}
    ]
    assert mp.study_id(0) not in mr["studies"] and len(doc["a"]["studies"]) == 102  # still in the analysis


def _problems(tmp_path: Path, edit) -> list[str]:
    project = mp.write(
        tmp_path / "p", {"a": {"role": "sensitivity", "meta_regression": {"moderators": ["time"]}}}, k=3, edit=edit
    )
    with pytest.raises(DataError) as info:
        load(project / "data", today=TODAY)
    return [str(p) for p in info.value.problems]


def test_undeclared_and_ill_typed_values_are_named_with_file_line_and_field(tmp_path: Path):
    def edit(review, studies):
        studies[0]["characteristics"]["dose"] = {"value": 3, "provenance": mp.PROVENANCE}
        studies[1]["characteristics"]["time"]["value"] = "long"
        studies[2]["characteristics"]["method"]["value"] = "FACE"

    problems = _problems(tmp_path, edit)
    assert any(
        p.startswith(f"data/studies/{mp.study_id(0)}.yaml:")
        and "characteristics.dose: not a characteristic declared" in p
        for p in problems
    ), problems
    assert any("characteristics.time.value: 'time' is continuous: expected a number in days" in p for p in problems), (
        problems
    )
    assert any(
        "characteristics.method.value: 'method' is categorical: expected one of its levels" in p and "'FACE'" in p
        for p in problems
    ), problems
    assert all(":" in p.split(": ")[0] for p in problems)  # every problem has a line


def test_analyses_may_only_name_declared_characteristics(tmp_path: Path):
    def edit(review, studies):
        review["analyses"][0]["meta_regression"]["moderators"] = ["time", "dose"]
        review["analyses"][0]["subgroups"] = "time"

    problems = _problems(tmp_path, edit)
    assert any(
        "review.yaml:" in p and "analyses[0].meta_regression.moderators[1]: not a characteristic declared" in p
        for p in problems
    ), problems
    assert any("analyses[0].subgroups: a continuous characteristic, which has no subgroups" in p for p in problems), (
        problems
    )


def test_declarations_are_checked(tmp_path: Path):
    def edit(review, studies):
        review["characteristics"].append({"id": "method", "label": "Again", "type": "categorical", "levels": ["a"]})
        review["characteristics"].append({"id": "design", "label": "Design", "type": "continuous"})

    problems = _problems(tmp_path, edit)
    assert any("characteristics[2]" in p and "at least two" in p for p in problems), problems
    assert any("characteristics[3]" in p and "built-in subgroup" in p for p in problems), problems


def test_check_warns_of_studies_a_meta_regression_will_leave_out(tmp_path: Path):
    from builder.ingest.advice import advice

    def edit(review, studies):
        del studies[1]["characteristics"]["time"]

    project = mp.write(
        tmp_path / "p", {"a": {"role": "sensitivity", "meta_regression": {"moderators": ["time"]}}}, k=3, edit=edit
    )
    warnings = [str(w) for w in advice(project, load(project / "data", today=TODAY))]
    assert warnings == [
        f"data/studies/{mp.study_id(1)}.yaml: characteristics: no value of 'time', a moderator of the "
        "meta-regression of analysis 'a': the study is left out of that meta-regression; add characteristics.time "
        "with its value and provenance"
    ]
