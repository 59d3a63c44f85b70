"""`review import` of RevMan's own files: the rebuilt analyses give the pooled results RevMan recorded in them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import TODAY
from revman_project import FIXTURES, minimal_project

from builder.analysis.run import run_all
from builder.ingest.loader import load
from builder.interchange.importer import import_into, read

# Tolerances: the .rm5 file stores RevMan's doubles in full (we differ only by floating-point rounding); the
# data package prints six decimals, so a value may differ from ours by half a unit in the sixth decimal.
TOLERANCE = {"Fleiss1993.rm5": 1e-9, "Fleiss1993.zip": 5.1e-7}


def _close(ours: float, recorded: float, tol: float, what: str) -> None:
    assert math.isclose(ours, recorded, rel_tol=tol, abs_tol=tol), f"{what}: ours {ours!r}, RevMan {recorded!r}"


def _imported(tmp_path: Path, name: str):
    project = minimal_project(tmp_path / "review")
    done = import_into(FIXTURES / name, project, today=TODAY)
    data = load(project / "data", today=TODAY)
    return done, data, {r.spec.id: r for r in run_all(data)}


@pytest.mark.parametrize("name", sorted(TOLERANCE))
def test_pooled_results_equal_revmans(tmp_path: Path, name: str):
    """Every pooled estimate, CI limit, Chi², df, I², Z and P, and every study's weight, estimate and CI that RevMan
    recorded, recomputed."""
    tol = TOLERANCE[name]
    recorded = read(FIXTURES / name)
    done, data, results = _imported(tmp_path, name)
    assert len(done.analyses) == 2 and len(done.studies) == 12
    compared = 0
    for a in recorded.analyses:
        result = results[f"analysis-{a.comparison}-{a.number}"]
        assert (result.spec.measure, result.spec.method, result.spec.model, result.spec.preset) == (
            a.measure,
            a.method,
            "random" if a.random else "fixed",
            "revman5",
        )
        assert len(result.rows) == len(a.rows)
        if not a.recorded.present:
            continue  # RevMan stored no results for it (the SMD analysis of this file)
        fit = result.fit
        rec = a.recorded
        _close(math.exp(fit.estimate), rec.estimate, tol, "estimate")
        _close(math.exp(fit.ci_low), rec.ci_low, tol, "CI lower")
        _close(math.exp(fit.ci_high), rec.ci_high, tol, "CI upper")
        _close(fit.heterogeneity.q, rec.chi2, tol, "Chi²")
        assert fit.heterogeneity.q_df == rec.df
        # RevMan's chi-square and normal tail probabilities are good to about 1e-7 (scipy's to machine precision).
        _close(fit.heterogeneity.q_p, rec.p_chi2, max(tol, 1e-6), "P of Chi²")
        _close(fit.heterogeneity.i2, rec.i2, tol * 100, "I²")  # a percentage: printed to the same decimals
        _close(abs(fit.statistic), rec.z, tol, "Z")
        _close(
            fit.p, rec.p_z, max(tol, 1e-6, 5e-6 if name.endswith(".zip") else 0), "P of Z"
        )  # the package: 5 decimals
        by_label = {row.study.label: row for row in result.rows}
        for row in a.rows:
            ours = by_label[row.study]
            _close(ours.weight, row.weight, tol * 100, f"weight of {row.study}")
            _close(math.exp(ours.yi), row.recorded.estimate, tol, f"OR of {row.study}")
            half = 1.959963984540054 * math.sqrt(ours.vi)
            _close(math.exp(ours.yi - half), row.recorded.ci_low, tol, f"CI lower of {row.study}")
            _close(math.exp(ours.yi + half), row.recorded.ci_high, tol, f"CI upper of {row.study}")
            compared += 1
    assert compared == 7


@pytest.mark.parametrize("name", sorted(TOLERANCE))
def test_fleiss_aspirin_figures(tmp_path: Path, name: str):
    """The figures RevMan shows: MH OR 0.8969 [0.8405, 0.9570], Chi² 9.946, df 6, I² 39.7%."""
    _, _, results = _imported(tmp_path, name)
    fit = results["analysis-1-1"].fit
    assert f"{math.exp(fit.estimate):.4f}" == "0.8969"
    assert (f"{math.exp(fit.ci_low):.4f}", f"{math.exp(fit.ci_high):.4f}") == ("0.8405", "0.9570")
    assert f"{fit.heterogeneity.q:.3f}" == "9.946" and fit.heterogeneity.q_df == 6
    assert f"{fit.heterogeneity.i2:.1f}" == "39.7"


def test_provenance_names_file_and_place(tmp_path: Path):
    _, data, _ = _imported(tmp_path, "Fleiss1993.rm5")
    ds = data.studies["isis-2"].outcomes["aspirin-for-preventing-death-after-myocardial-infarction"]["as-analysed"]
    assert ds.experimental.events == 1570 and ds.control.total == 8600
    assert ds.provenance.source.startswith("RevMan 5 file Fleiss1993.rm5, line ")
    assert (
        "outcome 1.1 'Aspirin for Preventing Death after Myocardial Infarction', study 'ISIS-2'" in ds.provenance.source
    )
    spec = next(a for a in data.review.analyses if a.id == "analysis-1-1")
    assert spec.reported is not None and spec.reported.estimate == "0.8969"
    assert "Fleiss1993.rm5" in spec.reported.provenance.source
    # RevMan 5.0's "Allocation concealment?" judged UNKNOWN: unclear risk, the other RoB 1 domains not judged.
    rob = data.studies["amis"].risk_of_bias[0]
    assert {d.domain: d.judgement for d in rob.domains}["allocation-concealment"] == "unclear"


def test_continuous_analysis_imports_means_and_sds(tmp_path: Path):
    _, data, results = _imported(tmp_path, "Fleiss1993.zip")
    g = data.studies["florell"].outcomes["mental-health-treatment-versus-control"]["as-analysed"]
    assert (g.experimental.mean, g.experimental.sd, g.experimental.total) == (4.9, 1.71, 30)
    assert (g.control.mean, g.control.sd, g.control.total) == (6.1, 2.3, 50)
    assert results["analysis-1-2"].fit is not None and len(results["analysis-1-2"].rows) == 5


def test_utf16_file_is_read(tmp_path: Path):
    """RevMan files declare their encoding; one saved as UTF-16 is read as well as the ISO-8859-1 original."""
    text = (FIXTURES / "Fleiss1993.rm5").read_text(encoding="iso-8859-1").replace("ISO-8859-1", "UTF-16", 1)
    path = tmp_path / "utf16.rm5"
    path.write_bytes(text.encode("utf-16"))
    assert read(path).analyses[0].recorded == read(FIXTURES / "Fleiss1993.rm5").analyses[0].recorded


def test_comments_of_review_yaml_are_kept(tmp_path: Path):
    project = minimal_project(tmp_path / "review")
    import_into(FIXTURES / "Fleiss1993.rm5", project, today=TODAY)
    text = (project / "data" / "review.yaml").read_text(encoding="utf-8")
    assert text.startswith("# A new review: every required field")
    assert "# The outcomes the review pools.\noutcomes:\n- id: aspirin" in text
    assert "# The analysis plan.\nanalyses:\n- id: analysis-1-1" in text


@pytest.mark.build
def test_imported_review_builds(tmp_path: Path):
    """`review init`, `review import Fleiss1993.rm5`, `review build`: no hand edits in between."""
    from builder.publish.build import build
    from builder.publish.scaffold import init

    project = tmp_path / "review"
    init(project, today=TODAY)
    import_into(FIXTURES / "Fleiss1993.rm5", project, today=TODAY)
    build(project, site=tmp_path / "site", today=TODAY)
    page = (
        tmp_path / "site" / "outcomes" / "aspirin-for-preventing-death-after-myocardial-infarction.html"
    ).read_text()
    assert "0.90 [0.84, 0.96]" in page


def test_mantel_haenszel_random_effects_as_revman(tmp_path: Path):
    """An M-H random-effects analysis (RANDOM="YES") takes tau² from the Mantel-Haenszel Q, as RevMan 5 does: the
    reference is tests/reference/revman_mh_random_reference.R's case for the same seven trials."""
    from alignment import CLOSED_FORM, load_reference

    expected = next(c for c in load_reference("revman_mh_random")["cases"] if c["name"] == "fleiss1993-or")
    text = (FIXTURES / "Fleiss1993.rm5").read_bytes()
    random_file = tmp_path / "Random.rm5"
    random_file.write_bytes(
        text.replace(b'RANDOM="NO" SCALE="100.0" SORT_BY="USER"', b'RANDOM="YES" SCALE="100.0" SORT_BY="USER"', 1)
    )
    project = minimal_project(tmp_path / "review")
    import_into(random_file, project, today=TODAY)
    data = load(project / "data", today=TODAY)
    result = next(r for r in run_all(data) if r.spec.id == "analysis-1-1")
    assert (result.spec.model, result.spec.method, result.spec.tau2, result.spec.interval) == (
        "random",
        "MH",
        "DL",
        "wald",
    )
    fit = result.fit
    for ours, name in (
        (fit.heterogeneity.q, "q_mh"),
        (fit.heterogeneity.tau2, "tau2"),
        (fit.estimate, "estimate"),
        (fit.ci_low, "ci_low"),
        (fit.ci_high, "ci_high"),
    ):
        assert CLOSED_FORM.ok(ours, expected[name]), name
    assert fit.prediction is None  # the revman5 preset: no prediction interval


def test_into_a_project_as_review_init_writes_it(tmp_path: Path):
    """The placeholder outcome and analysis are replaced and the all-zero PRISMA counts set from the studies;
    everything else of review.yaml, comments included, stays as it was."""
    from builder.publish.scaffold import init

    project = tmp_path / "review"
    init(project, today=TODAY)
    import_into(FIXTURES / "Fleiss1993.rm5", project, today=TODAY)
    data = load(project / "data", today=TODAY)
    assert [o.id for o in data.review.outcomes] == [
        "aspirin-for-preventing-death-after-myocardial-infarction",
        "mental-health-treatment-versus-control",
    ]
    assert [a.id for a in data.review.analyses] == ["analysis-1-1", "analysis-1-2"]
    assert data.review.flow.full_texts_assessed == 12 and data.review.flow.provenance.kind == "inferred"
    assert data.review.title == "Examples from Fleiss 1993"  # the placeholder title, from the file
    text = (project / "data" / "review.yaml").read_text(encoding="utf-8")
    assert "# The PRISMA 2020 counts of the search and selection" in text and "\nflow:\n" in text
    assert "\nnarrative:\n" in text and "TODO Author Name" in text
