"""`review export`: a Cochrane data package RevMan Web's layout, R scripts for meta; export then import
gives the same analyses."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import TODAY
from revman_project import FIXTURES, minimal_project

from builder.analysis.run import run_all
from builder.ingest.loader import load
from builder.interchange.exporter import EXTENSION_COLUMNS, export
from builder.interchange.importer import import_into


def _members(raw: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _imported(path: Path, source: Path):
    project = minimal_project(path)
    import_into(source, project, today=TODAY)
    data = load(project / "data", today=TODAY)
    return project, data, run_all(data)


def _fixture_package() -> dict[str, bytes]:
    outer = _members((FIXTURES / "Fleiss1993.zip").read_bytes())
    inner = next(v for k, v in outer.items() if k.endswith("-data.zip"))
    return _members(inner)


def test_package_has_revman_webs_members_and_columns(tmp_path: Path):
    project, data, _ = _imported(tmp_path / "a", FIXTURES / "Fleiss1993.rm5")
    written = export(project, tmp_path / "out")
    ours = _members(written[0].read_bytes())
    theirs = _fixture_package()

    suffixes = ("data-rows.csv", "overall-estimates-and-settings.csv", "subgroup-estimates.csv", "included.ris",
                "risk-of-bias.csv", "study-information.csv")  # fmt: skip

    def kinds(members):
        return {next(s for s in suffixes if name.endswith("-" + s)): v for name, v in members.items()}

    ours_k, theirs_k = kinds(ours), kinds(theirs)
    assert set(ours_k) == set(theirs_k)
    for kind, content in theirs_k.items():
        if kind.endswith(".csv") and kind != "risk-of-bias.csv":  # RoB columns name the domains judged
            # RevMan Web's columns in its order; the settings file adds ours after them (EXTENSION_COLUMNS).
            header, theirs_header = ours_k[kind].splitlines()[0], content.splitlines()[0]
            assert header.startswith(theirs_header), kind
            rest = header[len(theirs_header) :].decode()
            extra = rest.strip(",").split(",") if rest else []
            assert extra == ([] if kind != "overall-estimates-and-settings.csv" else EXTENSION_COLUMNS), kind


@pytest.mark.parametrize("source", ["Fleiss1993.rm5", "Fleiss1993.zip"])
def test_export_then_import_gives_the_same_analyses(tmp_path: Path, source: str):
    project, data, before = _imported(tmp_path / "a", FIXTURES / source)
    package = export(project, tmp_path / "out")[0]
    _, data2, after = _imported(tmp_path / "b", package)
    assert [r.spec.id for r in after] == [r.spec.id for r in before]
    settings = (
        "measure",
        "method",
        "model",
        "preset",
        "tau2",
        "ci_method",
        "continuity_correction",
        "double_zero_studies",
    )
    for a, b in zip(before, after):
        assert [getattr(a.spec, s) for s in settings] == [getattr(b.spec, s) for s in settings]
        assert [(r.study.label, r.inputs) for r in a.rows] == [(r.study.label, r.inputs) for r in b.rows]
        for name in ("estimate", "ci_low", "ci_high", "p"):
            assert math.isclose(getattr(a.fit, name), getattr(b.fit, name), rel_tol=1e-12, abs_tol=1e-15)
        assert math.isclose(a.fit.heterogeneity.q, b.fit.heterogeneity.q, rel_tol=1e-12)
        assert [r.weight for r in a.rows] == pytest.approx([r.weight for r in b.rows], rel=1e-12)
    # The results the exported package recorded are ours, carried back as the analysis's reported result.
    spec = next(s for s in data2.review.analyses if s.id == "analysis-1-1")
    assert spec.reported is not None and spec.reported.estimate == f"{math.exp(before[0].fit.estimate):.4f}"


def test_export_is_byte_reproducible_and_writes_both_scripts(tmp_path: Path):
    project, _, _ = _imported(tmp_path / "a", FIXTURES / "Fleiss1993.rm5")
    first = {p.name: p.read_bytes() for p in export(project, tmp_path / "one")}
    second = {p.name: p.read_bytes() for p in export(project, tmp_path / "two")}
    assert first == second
    assert {"analysis-1-1.meta.R", "analysis-1-1.R", "analysis-1-1.csv"} <= set(first)
    script = first["analysis-1-1.meta.R"].decode()
    assert 'sm = "OR", method = "MH"' in script and 'method.tau = "DL"' in script
    assert "common = TRUE, random = FALSE" in script and "MH.exact = FALSE" in script


def test_meta_script_of_own_settings(project: Path, tmp_path: Path):
    """An analysis of the MSC review with current methods gets them in its meta script: REML, HKSJ, PI."""
    written = export(project, tmp_path / "out")
    scripts = {p.name: p.read_text() for p in written if p.name.endswith(".meta.R")}
    data = load(project / "data")
    spec = next(a for a in data.review.analyses if a.model == "random" and a.preset is None and a.interval == "hksj")
    text = scripts[f"{spec.id}.meta.R"]
    assert f'method.tau = "{spec.tau2}"' in text and 'method.random.ci = "HK"' in text
    assert "prediction = TRUE" in text and "The review's own settings" in text


def _meta_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    check = subprocess.run(
        ["Rscript", "-e", "quit(status = !requireNamespace('meta', quietly = TRUE))"], capture_output=True
    )
    return check.returncode == 0


@pytest.mark.r
@pytest.mark.skipif(not _meta_available(), reason="R's meta package is not installed")
def test_meta_script_prints_our_pooled_result(tmp_path: Path):
    project, _, results = _imported(tmp_path / "a", FIXTURES / "Fleiss1993.rm5")
    export(project, tmp_path / "out")
    run = subprocess.run(
        ["Rscript", "analysis-1-1.meta.R"], cwd=tmp_path / "out" / "R", capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    fit = results[0].fit
    expected = f"estimate {math.exp(fit.estimate):.4f} [{math.exp(fit.ci_low):.4f}, {math.exp(fit.ci_high):.4f}]"
    assert expected in run.stdout


def test_msc_review_round_trips(project: Path, tmp_path: Path):
    """The MSC review's own analyses (REML, HKSJ, MH with and without RevMan's correction, the I² rule) go out as
    a data package and come back with the same data, settings and pooled results."""
    from builder.interchange.importer import import_new
    from builder.publish.scaffold import init

    data = load(project / "data", today=TODAY)
    before = [r for r in run_all(data) if r.rows]
    package = export(project, tmp_path / "out")[0]
    import_new(package, tmp_path / "again", init, today=TODAY)
    again = load(tmp_path / "again" / "data", today=TODAY)
    after = run_all(again)
    assert len(after) == len(before)
    # One outcome per outcome of the review (not one per analysis), with its direction; each analysis's role.
    assert [(o.label, o.type, o.direction) for o in again.review.outcomes] == [
        (o.label, o.type, o.direction) for o in data.review.outcomes if any(r.outcome.id == o.id for r in before)
    ]
    for a, b in zip(before, after):
        assert (b.outcome.label, b.spec.role) == (a.outcome.label, a.spec.role)
        assert b.spec.title == a.spec.title and b.spec.measure == a.spec.measure
        assert b.spec.model == a.model  # the I² rule comes back as the model it chose
        assert (b.spec.tau2, b.spec.shows_prediction_interval) == (a.spec.tau2, a.spec.shows_prediction_interval)
        assert (b.spec.double_zero_studies, b.spec.mh_continuity_correction) == (
            a.spec.double_zero_studies,
            a.spec.mh_continuity_correction,
        )
        if a.model == "random":
            assert b.spec.interval == a.spec.interval
        assert [(r.study.label, r.inputs) for r in b.rows] == [(r.study.label, r.inputs) for r in a.rows], a.spec.id
        for name in ("estimate", "ci_low", "ci_high", "p"):
            assert math.isclose(getattr(b.fit, name), getattr(a.fit, name), rel_tol=1e-9, abs_tol=1e-12), (
                a.spec.id,
                name,
            )


def test_studies_with_their_own_estimates_go_out_as_generic_inverse_variance(tmp_path: Path):
    """Hazard ratios, O - E, before-after and mixed analyses (issue 17's data) are written as RevMan's generic
    inverse variance rows (the estimate on the analysis scale and its SE), which RevMan Web reads; the import
    of such rows is not supported and is listed as not carried over."""
    import csv
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("contrast_project", ROOT / "tests/publish/contrast_project.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    project = module.write(tmp_path / "contrast")
    data = load(project / "data")
    results = {r.spec.id: r for r in run_all(data)}
    members = _members(export(project, tmp_path / "out")[0].read_bytes())
    settings = next(v for k, v in members.items() if k.endswith("-overall-estimates-and-settings.csv"))
    rows = next(v for k, v in members.items() if k.endswith("-data-rows.csv"))
    kinds = {r["Analysis name"]: r["Data type"] for r in csv.DictReader(io.StringIO(settings.decode("utf-8-sig")))}
    hr = results["hr-primary"]
    assert kinds[hr.spec.title] == "Generic inverse variance"
    giv = [r for r in csv.DictReader(io.StringIO(rows.decode("utf-8-sig"))) if r["Analysis name"] == hr.spec.title]
    assert len(giv) == len(hr.rows)
    for row, ours in zip(giv, hr.rows):
        assert math.isclose(float(row["GIV Mean"]), ours.yi, abs_tol=5e-9)
        assert math.isclose(float(row["GIV SE"]), math.sqrt(ours.vi), abs_tol=5e-9)


def test_formula_like_text_is_neutralised_and_read_back(tmp_path: Path):
    """A study label a spreadsheet would run as a formula goes out with a leading apostrophe, as the site's
    CSV downloads write it, and comes back in as it was; negative numbers stay numbers."""
    project, _, _ = _imported(tmp_path / "a", FIXTURES / "Fleiss1993.rm5")
    study = sorted((project / "data/studies").glob("*.yaml"))[0]
    text = study.read_text(encoding="utf-8")
    label = next(line for line in text.splitlines() if line.startswith("label: "))
    hostile = '=HYPERLINK("https://example.org")'
    study.write_text(text.replace(label, f"label: '{hostile}'", 1), encoding="utf-8")
    package = export(project, tmp_path / "out")[0]
    inner = _members(package.read_bytes())
    cells = [
        cell
        for name, raw in inner.items()
        if name.endswith(".csv")
        for line in raw.decode("utf-8-sig").splitlines()
        for cell in line.split(",")
    ]
    assert not any(c.lstrip('"').startswith("=") for c in cells)
    assert any(c.lstrip('"').startswith("'=HYPERLINK") for c in cells)
    assert any(c.startswith("-") and c[1:2].isdigit() for c in cells)  # a negative number, as a number
    _, data2, _ = _imported(tmp_path / "b", package)
    assert hostile in {s.label for s in data2.studies.values()}


@pytest.mark.parametrize(
    ("setting", "measure", "method", "allstudies", "note"),
    [
        ("keep", "RR", "MH", "TRUE", None),
        ("keep", "RD", "MH", "TRUE", None),
        ("keep", "RD", "IV", "TRUE", None),
        ("keep", "OR", "MH", "FALSE", "left out of this odds ratio"),
        ("keep", "RR", "IV", "FALSE", "left out of this inverse-variance risk ratio"),
        ("keep-in-rd", "RR", "MH", "FALSE", None),
        ("keep-in-rd", "RD", "MH", "FALSE", None),
        ("drop", "RR", "MH", "FALSE", None),
        ("drop", "RD", "IV", "FALSE", "meta pools them in a risk difference whatever allstudies says"),
    ],
)
def test_meta_script_follows_double_zero_studies(tmp_path: Path, setting, measure, method, allstudies, note):
    """meta's allstudies pools double-zero studies in OR and RR (in RD meta always does): TRUE exactly where the
    site counts them in such a ratio, i.e. Mantel-Haenszel risk ratios with keep; what meta cannot follow (drop
    with RD) is said in the script."""
    from builder.contract.project import template_dirs
    from builder.report.pages import environment

    project, data, results = _imported(tmp_path / "a", FIXTURES / "Fleiss1993.rm5")
    result = results[0]
    spec = result.spec.model_copy(update={"double_zero_studies": setting, "measure": measure, "method": method})
    template = environment(template_dirs(project)).get_template("analysis.meta.R.j2")
    text = template.render(spec=spec, result=result, review=data.review)
    assert text.count("allstudies = ") == 1 and f"allstudies = {allstudies}," in text
    comments = " ".join(line[2:] for line in text.splitlines() if line.startswith("# "))
    if note is None:
        assert "double_zero_studies" not in comments
    else:
        assert note in comments and f"double_zero_studies: {setting}" in comments
