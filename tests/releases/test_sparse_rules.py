"""The sparse-data rules (double-zero studies per analysis, the Mantel-Haenszel risk ratio and treatment-arm
rows) are gated on a release's manifest, as the integrity rules are: absent, the old behaviour."""

from __future__ import annotations

import re
from dataclasses import replace

from conftest import TODAY

from builder.analysis import run as analysis
from builder.ingest.loader import load
from builder.releases.archive import as_released, release, releases
from builder.report.results_json import results_document


def _panel(data, aid="survival-primary"):
    result = next(r for r in analysis.run_all(data) if r.spec.id == aid)
    return {row.id: row for row in result.followups["sensitivity"]}


def test_a_release_records_that_it_was_computed_with_the_sparse_data_rules(project):
    path = project / "data/review.yaml"
    path.write_text(re.sub(r'(?m)^version: ".*"$', 'version: "1.2"', path.read_text(encoding="utf-8")))
    rel = release(project, "1.2", today=TODAY)
    assert rel.manifest["sparse_data_rules"] is True
    data = as_released(rel, load(rel.data_dir, today=TODAY))
    assert data.sparse_data_rules and {a.double_zero_studies for a in data.review.analyses} == {"keep"}
    assert "treatment-arm-correction" in _panel(data)


def test_versions_released_before_them_are_recomputed_under_the_old_rule(project):
    old = releases(project)[-1]  # 1.1: its manifest predates the rules
    assert "sparse_data_rules" not in old.manifest
    data = as_released(old, load(old.data_dir, today=TODAY))
    assert not data.sparse_data_rules
    assert {a.double_zero_studies for a in data.review.analyses} == {"drop"}
    panel = _panel(data)
    assert "risk-ratio" not in panel and "treatment-arm-correction" not in panel
    assert panel["risk-difference"].k == 6  # 8 studies, the two with everybody alive in both arms left out
    record = next(a for a in results_document(data, analysis.run_all(data))["analyses"])
    assert "double_zero_studies" not in record["settings"]
    # the same snapshot under the new rule (and 1.1's integrity rules) keeps them
    fresh = replace(load(old.data_dir, today=TODAY), integrity_rules=False)
    assert _panel(fresh)["risk-difference"].k == 8
