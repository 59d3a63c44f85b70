"""The synthetic review generator of the benchmarks writes a project the builder accepts and builds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from conftest import ROOT, TODAY

from builder.ingest.loader import load
from builder.publish.build import build


def _synthetic():
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "benchmarks" / "synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_synthetic_review_loads_and_builds(tmp_path: Path):
    synthetic = _synthetic()
    project = synthetic.write_project(tmp_path / "project", studies=12, outcomes=3, seed=7)

    data = load(project / "data", today=TODAY)
    assert len(data.studies) == 12
    assert {o.type for o in data.review.outcomes} == {"dichotomous", "continuous"}
    assert len(data.review.analyses) == 6  # one primary and one sensitivity analysis per outcome
    assert len(data.review.certainty) == 3

    build(project, site=tmp_path / "site", today=TODAY)
    assert (tmp_path / "site" / "index.html").exists()
    for outcome in data.review.outcomes:
        assert (tmp_path / "site" / "outcomes" / f"{outcome.id}.html").exists()


def test_generator_is_deterministic(tmp_path: Path):
    synthetic = _synthetic()
    a = synthetic.write_project(tmp_path / "a", studies=12, outcomes=3, seed=7, assets=False)
    b = synthetic.write_project(tmp_path / "b", studies=12, outcomes=3, seed=7, assets=False)
    files = sorted(p.relative_to(a) for p in (a / "data").rglob("*.yaml"))
    assert files == sorted(p.relative_to(b) for p in (b / "data").rglob("*.yaml"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
