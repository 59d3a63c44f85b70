"""Influence diagnostics, trim-and-fill and the small-study tests through the public path: a review project written
here (review.yaml and one study file per trial of metadat's dat.egger2001, 16 trials of magnesium after myocardial
infarction), checked by the loader, fitted by the pipeline and written to results.json, against the metafor values
that tests/reference/followups_reference.R pinned for the same trials (REML with Knapp-Hartung inference, the
primary analysis's model).

The tolerances are those of tests/stats/test_followups_alignment.py (ITERATIVE for numbers that follow REML's tau²,
CLOSED_FORM for closed forms), loosened only by results.json's rounding to 10 significant digits (5e-10 relative).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from alignment import CLOSED_FORM, P_VALUE, Tol, as_float, load_reference
from conftest import ROOT, TODAY
from followups_project import TRIALS, write_project

from builder.analysis.run import run_all
from builder.ingest.loader import load
from builder.publish.build import build
from builder.releases import archive
from builder.report.results_json import results_document, to_json

REFERENCE = load_reference("followups")
CASE = next(c for c in REFERENCE["cases"] if c["dataset"] == "egger2001" and c["model"] == "REML-knha")

ROUNDED = 5e-10  # results.json keeps 10 significant digits
ITERATIVE = Tol(rtol=1e-6 + ROUNDED, atol=1e-7)
CLOSED = Tol(rtol=CLOSED_FORM.rtol + ROUNDED, atol=CLOSED_FORM.atol)
P_ROUNDED = Tol(rtol=P_VALUE.rtol + ROUNDED, atol=0.0)


@pytest.fixture(scope="module")
def record(tmp_path_factory) -> dict:
    project = write_project(tmp_path_factory.mktemp("egger2001") / "project")
    data = load(project / "data", today=TODAY)
    document = json.loads(json.dumps(results_document(data, run_all(data))))
    return document["analyses"][0]


def _close(actual, expected, tol: Tol, what: str) -> None:
    if expected is None:
        assert actual is None, what
        return
    assert tol.ok(actual, expected), f"{what}: ours {actual!r}, metafor {expected!r}"


def test_primary_fit_is_metafors(record):
    _close(record["pooled"]["estimate"], CASE["fit"]["estimate"], ITERATIVE, "estimate")
    _close(record["heterogeneity"]["tau2"], CASE["fit"]["tau2"], ITERATIVE, "tau2")


def test_influence_in_results_json(record):
    inf = record["influence"]
    ref = CASE["influence"]
    assert inf["k"] == 16 and inf["reason"] is None
    studies = inf["studies"]
    for ours, theirs in (
        ("rstudent", "rstudent"),
        ("dffits", "dffits"),
        ("cook_distance", "cook_d"),
        ("cov_ratio", "cov_r"),
        ("tau2_deleted", "tau2_del"),
        ("q_deleted", "QE_del"),
        ("hat", "hat"),
        ("weight", "weight"),
        ("dfbetas", "dfbetas"),
    ):
        for i, s in enumerate(studies):
            _close(s[ours], ref[theirs][i], ITERATIVE, f"{ours}[{i}]")
    assert [s["influential"] for s in studies] == ref["inf"]
    assert inf["influential"] == [s["id"] for s, flag in zip(studies, ref["inf"]) if flag]
    for i, s in enumerate(studies):
        _close(s["baujat_x"], CASE["baujat"]["x"][i], ITERATIVE, f"baujat x[{i}]")
        _close(s["baujat_y"], CASE["baujat"]["y"][i], ITERATIVE, f"baujat y[{i}]")


@pytest.mark.parametrize("estimator", ["L0", "R0"])
def test_trim_and_fill_in_results_json(record, estimator):
    got = record["small_study_effects"]["trim_and_fill"][estimator]
    ref = CASE["trimfill"][estimator]
    assert (got["side"], got["k0"]) == (ref["side"], ref["k0"])
    _close(got["se_k0"], ref["se_k0"], ITERATIVE, "se_k0")
    filled = as_float([f["yi"] for f in got["filled"]])
    assert np.allclose(filled, as_float(ref["yi_filled"]), rtol=ITERATIVE.rtol, atol=ITERATIVE.atol)
    adjusted = got["adjusted"]
    assert adjusted["k"] == ref["k"]
    for ours, theirs in (("estimate", "estimate"), ("se", "se"), ("ci_low", "ci_lb"), ("ci_high", "ci_ub")):
        _close(adjusted[ours], ref[theirs], ITERATIVE, ours)
    _close(adjusted["tau2"], ref["tau2"], ITERATIVE, "tau2")


def test_rank_harbord_and_peters_in_results_json(record):
    s = record["small_study_effects"]
    _close(s["rank_test"]["tau"], CASE["ranktest"]["tau"], CLOSED, "Kendall's tau")
    _close(s["rank_test"]["p"], CASE["ranktest"]["p"], P_ROUNDED, "rank test p")
    assert s["rank_test"]["p_method"] == "exact"
    h, ref = s["harbord"], TRIALS["harbord"]
    _close(h["statistic"], ref["intercept"]["t"], CLOSED, "Harbord t")
    _close(h["p"], ref["intercept"]["p"], P_ROUNDED, "Harbord p")
    _close(h["limit_estimate"], ref["regtest"]["est"], CLOSED, "Harbord limit estimate")
    p, ref = s["peters"], TRIALS["peters"]
    _close(p["statistic"], ref["slope"]["t"], CLOSED, "Peters t")
    _close(p["p"], ref["slope"]["p"], P_ROUNDED, "Peters p")
    _close(p["limit_estimate"], ref["intercept"]["estimate"], CLOSED, "Peters limit estimate")
    assert s["egger"] is not None  # still beside them


def test_site_shows_the_follow_ups(tmp_path: Path):
    """The built page carries the sections and the figures exist: the Baujat plot, and the funnel plot with the
    studies trim-and-fill adds, marked apart and explained in its legend."""
    project = write_project(tmp_path / "project")
    build(project, site=tmp_path / "site", today=TODAY)
    page = (tmp_path / "site" / "outcomes" / "mortality.html").read_text(encoding="utf-8")
    for text in ("Influence of single studies", "Begg and Mazumdar", "Trim-and-fill", "Harbord", "Peters"):
        assert text in page, text
    funnel = (tmp_path / "site" / "figures" / "mortality-primary-funnel.svg").read_text(encoding="utf-8")
    assert funnel.count('class="pt-fill"') == CASE["trimfill"]["L0"]["k0"] + 1  # the filled ones and the legend's
    assert "filled (L0)" in funnel and "adjusted estimate" in funnel
    baujat = (tmp_path / "site" / "figures" / "mortality-primary-baujat.svg").read_text(encoding="utf-8")
    assert "<title" in baujat and "<desc" in baujat
    assert baujat.count('class="pt-flag"') == sum(CASE["influence"]["inf"]) + 1


def test_a_version_released_before_the_follow_ups_is_rebuilt_without_them(tmp_path: Path):
    project = write_project(tmp_path / "project")
    data = load(project / "data", today=TODAY)
    old = archive.as_released(archive.Release("1.2", project / "versions" / "1.2", {"version": "1.2"}), data)
    assert old.bias_followups is False
    record = results_document(old, run_all(old))["analyses"][0]
    assert "influence" not in record
    assert set(record["small_study_effects"]) == {"k", "egger", "reason"}
    rel = archive.release(project, data.review.version, today=TODAY)
    assert rel.manifest["bias_followups"] is True
    assert archive.as_released(rel, data).bias_followups is True


def test_the_records_validate_against_the_results_schema(tmp_path: Path):
    """results.json with every follow-up present, and with the reasons they are missing (a Mantel-Haenszel fit,
    risk ratios), validates against docs/schema/results.schema.json."""
    from jsonschema import Draft202012Validator

    schema = json.loads((ROOT / "docs" / "schema" / "results.schema.json").read_text(encoding="utf-8"))
    project = write_project(tmp_path / "project")
    data = load(project / "data", today=TODAY)
    primary = data.review.analyses[0]
    others = [
        primary.model_copy(update={"id": "mortality-mh", "model": "fixed", "method": "MH", "ci_method": None}),
        primary.model_copy(update={"id": "mortality-rr", "measure": "RR"}),
    ]
    data = replace(data, review=data.review.model_copy(update={"analyses": [primary, *others]}))
    document = json.loads(to_json(results_document(data, run_all(data))))
    assert [("influence" in a, "rank_test" in a["small_study_effects"]) for a in document["analyses"]] == [
        (True, True)
    ] * 3
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft202012Validator(schema).iter_errors(document)
    ]
    assert errors == []
