"""A review with a meta-regression builds: the outcome page's section with its tables and the bubble plot (title,
description, text alternative), the guard's reason where it is not fitted, and the methods page's text."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import metareg_project as mp
import pytest
from conftest import TODAY

from builder.analysis.run import run_all
from builder.ingest.loader import load
from builder.publish.build import build
from builder.report.results_json import results_document

ANALYSES = {
    "biomass-time": {"role": "primary", "meta_regression": {"moderators": ["time"]}},
    "biomass-method": {"role": "sensitivity", "subgroups": "method", "meta_regression": {"moderators": ["method"]}},
    "biomass-both": {"role": "sensitivity", "meta_regression": {"moderators": ["time", "method"]}},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    project = mp.write(tmp_path_factory.mktemp("curtis"), ANALYSES, k=14, assets=True)
    build(project, site=project / "site", today=TODAY)
    return project / "site"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_outcome_page_shows_the_meta_regression_and_its_bubble_plot(site: Path):
    page = (site / "outcomes" / "biomass.html").read_text(encoding="utf-8")
    assert 'id="biomass-time-meta-regression"' in page
    text = _text(page)
    assert "14 studies, mixed-effects model, tau² by REML, Knapp-Hartung adjustment" in text
    assert "Exposure (days): slope" in text and "F(1, 12) =" in text and "Accounted for (pseudo-R²)" in text
    assert "Method: GH vs GC" in text  # dummy coding against the first level present
    assert "The data behind the bubble plot (table)" in text
    svg = (site / "figures" / "biomass-time-bubble.svg").read_text(encoding="utf-8")
    assert '<title id="biomass-time-bubble-plot-title">Bubble plot: Total biomass, Biomass time</title>' in svg
    assert "<desc" in svg and "Bubble plot of 14 studies" in svg and svg.count("<circle") == 14
    assert (site / "figures" / "biomass-method-bubble.svg").exists()


def test_guard_reason_is_on_the_page(site: Path):
    text = _text((site / "outcomes" / "biomass.html").read_text(encoding="utf-8"))
    assert (
        "The meta-regression is not fitted: the Cochrane Handbook advises at least 10 studies per characteristic, "
        "and this meta-regression has 14 studies for 2 characteristics." in text
    )
    assert not (site / "figures" / "biomass-both-bubble.svg").exists()


def test_methods_page_describes_what_is_used(site: Path):
    text = _text((site / "methods.html").read_text(encoding="utf-8"))
    assert "3 analyses declare a meta-regression" in text
    assert "Knapp-Hartung adjustment (the default)" in text and "z tests" not in text
    assert "Subgroups may also be by a study characteristic the review declares (Method)" in text


R_MISSING = (
    shutil.which("Rscript") is None
    or subprocess.run(["Rscript", "-e", "library(metafor)"], capture_output=True).returncode != 0
)


@pytest.mark.r
@pytest.mark.slow
@pytest.mark.skipif(R_MISSING, reason="Rscript with metafor is not installed")
def test_published_r_script_refits_the_meta_regression(site: Path, tmp_path: Path):
    doc = {a["id"]: a for a in json.loads((site / "results.json").read_text(encoding="utf-8"))["analyses"]}
    downloads = shutil.copytree(site / "downloads", tmp_path / "downloads")  # R may write Rplots.pdf there
    for aid in ("biomass-time", "biomass-method"):
        proc = subprocess.run(["Rscript", f"{aid}.R"], cwd=downloads, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        m = re.search(r"meta-regression QM (\S+), p = (\S+), tau2 (\S+), R2 (\S+)", proc.stdout)
        assert m, proc.stdout
        fit = doc[aid]["meta_regression"]["fit"]
        # printed to 4 decimals / 4 significant digits
        assert float(m.group(1)) == pytest.approx(fit["test_of_moderators"]["statistic"], abs=1e-4)
        assert float(m.group(2)) == pytest.approx(fit["test_of_moderators"]["p"], rel=1e-3)
        assert float(m.group(3)) == pytest.approx(fit["residual_heterogeneity"]["tau2"], rel=1e-5, abs=1e-9)
        # Where tau² without moderators is 0, metafor's Fisher scoring can stop at ~1e-14 rather than 0 and report
        # an R² of that noise (58% on biomass-method's 14 studies: 1.4e-14 against 3.4e-14); ours is exactly 0.
        if fit["tau2_without_moderators"] > 1e-10:
            assert float(m.group(4)) == pytest.approx(fit["r2"], abs=1e-4)


def test_study_page_lists_its_characteristics_with_their_sources(site: Path):
    text = _text((site / "studies" / f"{mp.study_id(0)}.html").read_text(encoding="utf-8"))
    assert "Exposure 47 days" in text and "Method GC" in text
    assert "exposure — Extracted: metadat dat.curtis1998" in text


def test_a_changed_value_is_refitted_by_the_next_build(tmp_path: Path):
    """The analyses' stored numbers are keyed by the characteristics they read (builder.analysis.run)."""
    project = mp.write(tmp_path / "p", {"a": ANALYSES["biomass-time"]}, k=12, assets=True)
    build(project, site=project / "site", today=TODAY)
    before = json.loads((project / "site" / "results.json").read_text(encoding="utf-8"))
    path = project / "data" / "studies" / f"{mp.study_id(0)}.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("value: 47", "value: 470"), encoding="utf-8")
    build(project, site=project / "site", today=TODAY)
    after = json.loads((project / "site" / "results.json").read_text(encoding="utf-8"))
    slopes = [doc["analyses"][0]["meta_regression"]["fit"]["coefficients"][1]["estimate"] for doc in (before, after)]
    assert slopes[0] != slopes[1]
    fresh = mp.write(tmp_path / "fresh", {"a": ANALYSES["biomass-time"]}, k=12)
    fresh_path = fresh / "data" / "studies" / f"{mp.study_id(0)}.yaml"
    fresh_path.write_text(fresh_path.read_text(encoding="utf-8").replace("value: 47", "value: 470"), encoding="utf-8")
    data = load(fresh / "data", today=TODAY)
    expected = results_document(data, run_all(data))["analyses"][0]["meta_regression"]
    assert after["analyses"][0]["meta_regression"] == json.loads(json.dumps(expected))
