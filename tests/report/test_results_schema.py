"""results.json has a JSON Schema (docs/schema/results.schema.json), exported from the TypedDicts of
builder/report/results_schema.py, and every results.json the builder writes validates against it."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml
from conftest import ROOT, TODAY
from jsonschema import Draft202012Validator

from builder.analysis import run as analysis
from builder.ingest.loader import load
from builder.report.results_json import SCHEMA_VERSION, results_document, to_json
from builder.report.results_schema import SCHEMA_NAME, schema_text

COMMITTED = ROOT / "docs/schema" / SCHEMA_NAME


def validator() -> Draft202012Validator:
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems(document: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator().iter_errors(document)]


def test_committed_results_schema_is_current():
    assert COMMITTED.read_text(encoding="utf-8") == schema_text(SCHEMA_VERSION), "stale: run `make schema`"


def test_schema_is_strict_where_the_shape_is_known():
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    analysis_record = schema["$defs"]["AnalysisRecord"]
    assert analysis_record["additionalProperties"] is False
    assert analysis_record["properties"]["measure"]["enum"] == ["OR", "RR", "RD", "MD", "SMD", "ROM", "HR", "GEN"]
    assert "REML" in analysis_record["properties"]["method"]["enum"]
    assert all(d.get("additionalProperties") is False for d in schema["$defs"].values())


@pytest.mark.parametrize("folder", ["", "v1.0/", "v1.1/"])
def test_the_msc_sites_results_json_validates(built, folder):
    document = json.loads((built / "site" / folder / "results.json").read_text(encoding="utf-8"))
    assert problems(document) == []


def test_a_field_the_schema_does_not_declare_is_an_error(built):
    document = json.loads((built / "site/results.json").read_text(encoding="utf-8"))
    document["analyses"][0]["pooled"]["surprise"] = 1
    document["analyses"][1]["measure"] = "IRR"  # not a measure the builder has
    found = problems(document)
    assert any("surprise" in p for p in found) and any("'IRR' is not one of" in p for p in found)


def _synthetic():
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "benchmarks" / "synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_results_with_subgroups_and_small_study_tests_validate(tmp_path):
    project = _synthetic().write_project(tmp_path / "project", studies=30, outcomes=2, seed=3, assets=False)
    path = project / "data/review.yaml"
    review = yaml.safe_load(path.read_text(encoding="utf-8"))
    for a in review["analyses"]:
        a["subgroups"] = "design"
    path.write_text(yaml.safe_dump(review, sort_keys=False, allow_unicode=True), encoding="utf-8")
    data = load(project / "data", today=TODAY)
    document = json.loads(to_json(results_document(data, analysis.run_all(data))))
    assert any("subgroups" in a for a in document["analyses"])
    assert any((a.get("small_study_effects") or {}).get("egger") for a in document["analyses"])
    assert problems(document) == []


def test_an_empty_reviews_results_json_validates(tmp_path):
    from builder.publish.scaffold import init

    init(tmp_path / "new", today=TODAY)
    data = load(tmp_path / "new/data", today=TODAY)
    document = json.loads(to_json(results_document(data, analysis.run_all(data))))
    assert document["analyses"][0]["pooled"] is None and problems(document) == []
