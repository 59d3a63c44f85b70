"""Continuous values given as reported (median and IQR or range, SE, CI, another unit) reach the analyses as a mean
and SD in the outcome's unit, with the conversion in their provenance; an analysis never pools different units.

The repository's data has no continuous numbers yet, so each test adds 'published' CRP or D-dimer values to
a few studies of a private copy of the project (the primary analyses of both outcomes use that dataset).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import TODAY

from builder.analysis import run as analysis
from builder.analysis import sensitivity
from builder.contract.study import Group
from builder.errors import DataError
from builder.ingest import conversions
from builder.ingest.loader import load

PROVENANCE = {"kind": "extracted", "source": "Synthetic values for a test, Table 2."}


def add(project: Path, study: str, outcome: str, unit: str, before: dict, after: dict, **extra) -> Path:
    """Give `study` a pre-post 'published' dataset for `outcome` on its MSC arm (after vs before)."""
    path = project / "data/studies" / f"{study}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    arm = next(a for a in doc["arms"] if a["role"] == "experimental")
    doc["outcomes"].setdefault(outcome, {})["published"] = {
        "design": "pre-post",
        "unit": unit,
        "provenance": {**PROVENANCE, **extra},
        "experimental": {"arm": arm["id"], "total": 8, **after},
        "control": {"arm": arm["id"], "total": 8, **before},
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def problems(project: Path) -> list:
    with pytest.raises(DataError) as info:
        load(project / "data", today=TODAY)
    return info.value.problems


def line_of(path: Path, needle: str, after: str = "published:") -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i, line in enumerate(lines[start:], start=start + 1) if needle in line)


def crp_result(data):
    spec = next(a for a in data.review.analyses if a.id == "crp-primary")
    return analysis.run(spec, data)


def test_a_median_with_iqr_in_mg_dl_is_pooled_as_a_mean_and_sd_in_mg_l(project):
    add(
        project,
        "guo-2020",
        "crp",
        "mg/dL",
        before={"median": 6.0, "q1": 3.5, "q3": 9.0},
        after={"median": 2.0, "q1": 1.0, "q3": 4.0},
    )
    add(
        project,
        "sanchez-guijo-2020",
        "crp",
        "mg/L",
        before={"mean": 80.0, "sd": 30.0},
        after={"mean": 30.0, "sd": 20.0},
    )
    add(project, "chen-2020", "crp", "mg/L", before={"mean": 60.0, "sd": 25.0}, after={"mean": 35.0, "sd": 15.0})
    data = load(project / "data", today=TODAY)

    ds = data.studies["guo-2020"].outcomes["crp"]["published"]
    expected = conversions.mean_sd_from_median_iqr(6.0, 3.5, 9.0, 8)
    assert ds.unit == "mg/L"
    assert ds.control.mean == pytest.approx(10 * expected.mean) and ds.control.sd == pytest.approx(10 * expected.sd)
    assert ds.control.median is None and ds.control.as_reported == "median 6, IQR 3.5 to 9 mg/dL, n = 8"
    assert ds.provenance.conversion == "median-iqr-to-mean-sd"
    assert "Luo" in ds.provenance.transformation and "mg/dL" in ds.provenance.transformation
    assert ds.provenance.transformation.startswith("experimental: mean ")
    untouched = data.studies["chen-2020"].outcomes["crp"]["published"]
    assert untouched.provenance.conversion is None and untouched.control.as_reported is None

    result = crp_result(data)
    row = next(r for r in result.rows if r.study.id == "guo-2020")
    assert row.inputs["mean_ctrl"] == pytest.approx(10 * expected.mean)
    panel = {r.id: r for r in sensitivity.panel(result)}
    labels = {sid: data.studies[sid].label for sid in ("guo-2020", "sanchez-guijo-2020", "chen-2020")}
    assert set(panel["exclude-converted"].studies) == {labels["sanchez-guijo-2020"], labels["chen-2020"]}
    assert panel["exclude-converted"].fit.k == 2 and result.fit.k == 3


@pytest.mark.parametrize(
    "before, kind, sd",
    [
        ({"mean": 70.0, "se": 5.0}, "se-to-sd", 5.0 * 8**0.5),
        ({"ci_low": 60.0, "ci_high": 80.0}, "ci-to-sd", conversions.sd_from_ci(60.0, 80.0, 8).sd),
        (
            {"median": 70.0, "minimum": 20.0, "maximum": 150.0},
            "median-range-to-mean-sd",
            conversions.mean_sd_from_median_range(70.0, 20.0, 150.0, 8).sd,
        ),
        (
            {"median": 70.0, "q1": 50.0, "q3": 90.0, "minimum": 20.0, "maximum": 150.0},
            "median-iqr-to-mean-sd",
            conversions.mean_sd_from_five_numbers(20.0, 50.0, 70.0, 90.0, 150.0, 8).sd,
        ),
    ],
)
def test_se_ci_and_range_are_converted_and_recorded(project, before, kind, sd):
    add(project, "guo-2020", "crp", "mg/L", before=before, after={"mean": 30.0, "sd": 20.0})
    ds = load(project / "data", today=TODAY).studies["guo-2020"].outcomes["crp"]["published"]
    assert ds.provenance.conversion == kind
    assert ds.control.sd == pytest.approx(sd)
    assert ds.experimental.as_reported is None and ds.experimental.sd == 20.0
    assert ds.provenance.transformation.startswith("control: ")


def test_a_unit_change_alone_is_recorded_as_unit(project):
    add(
        project,
        "guo-2020",
        "crp",
        "mg/dL",
        before={"mean": 7.0, "sd": 2.0},
        after={"mean": 3.0, "sd": 1.0},
        transformation="values read from Figure 2",
    )
    ds = load(project / "data", today=TODAY).studies["guo-2020"].outcomes["crp"]["published"]
    assert (ds.control.mean, ds.control.sd, ds.unit) == (pytest.approx(70.0), pytest.approx(20.0), "mg/L")
    assert ds.provenance.conversion == "unit"
    assert ds.provenance.transformation.startswith("values read from Figure 2; unit: ")


def test_feu_and_ddu_are_never_pooled_and_the_error_points_at_the_unit(project):
    add(project, "meng-2020", "d-dimer", "mg/L FEU", before={"mean": 3.0, "sd": 1.0}, after={"mean": 1.0, "sd": 0.5})
    second = add(
        project,
        "guo-2020",
        "d-dimer",
        "ng/mL DDU",
        before={"mean": 900.0, "sd": 300.0},
        after={"mean": 500.0, "sd": 200.0},
    )
    [problem] = problems(project)
    assert problem.file == "data/studies/guo-2020.yaml"
    assert problem.field == "outcomes.d-dimer.published.unit"
    assert problem.line == line_of(second, "unit:")
    assert "d-dimer-primary" in problem.message and "mg/L DDU" in problem.message and "mg/L FEU" in problem.message


def test_the_same_basis_is_pooled_after_conversion(project):
    add(project, "meng-2020", "d-dimer", "mg/L FEU", before={"mean": 3.0, "sd": 1.0}, after={"mean": 1.0, "sd": 0.5})
    add(
        project,
        "guo-2020",
        "d-dimer",
        "ng/mL FEU",
        before={"mean": 900.0, "sd": 300.0},
        after={"mean": 500.0, "sd": 200.0},
    )
    data = load(project / "data", today=TODAY)
    ds = data.studies["guo-2020"].outcomes["d-dimer"]["published"]
    assert (ds.unit, ds.control.mean) == ("mg/L FEU", pytest.approx(0.9))
    spec = next(a for a in data.review.analyses if a.id == "d-dimer-primary")
    assert analysis.run(spec, data).fit.k == 2


def test_a_unit_without_a_conversion_names_file_line_and_field(project):
    path = add(project, "guo-2020", "crp", "mmol/L", before={"mean": 7.0, "sd": 2.0}, after={"mean": 3.0, "sd": 1.0})
    [problem] = problems(project)
    assert (problem.file, problem.field) == ("data/studies/guo-2020.yaml", "outcomes.crp.published.unit")
    assert problem.line == line_of(path, "unit:")
    assert "analysed in mg/L" in problem.message and "mmol/L" in problem.message


def test_an_impossible_summary_names_its_field(project):
    path = add(
        project, "guo-2020", "crp", "mg/L", before={"median": 6.0, "q1": 7.0, "q3": 9.0}, after={"mean": 3.0, "sd": 1.0}
    )
    [problem] = problems(project)
    assert problem.field == "outcomes.crp.published.control.median"
    assert problem.line == line_of(path, "median:")
    assert "q1" in problem.message


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"mean": 1.0, "sd": 1.0, "median": 1.0}, "cannot go with"),
        ({"median": 1.0, "q1": 0.5}, "both quartiles"),
        ({"mean": 1.0}, "needs both 'mean' and 'sd'"),
        ({"ci_low": 1.0}, "needs both 'ci_low' and 'ci_high'"),
        ({"se": 1.0}, "the 'mean' it belongs to"),
        ({"events": 1, "median": 1.0, "q1": 0.5, "q3": 2.0}, "not both"),
    ],
)
def test_a_group_gives_one_complete_summary(fields, message):
    with pytest.raises(ValueError, match=message):
        Group(arm="a", total=5, **fields)


def test_analysis_refuses_mixed_units_even_without_the_loader(project):
    add(project, "meng-2020", "d-dimer", "mg/L FEU", before={"mean": 3.0, "sd": 1.0}, after={"mean": 1.0, "sd": 0.5})
    data = load(project / "data", today=TODAY)
    guo = data.studies["guo-2020"]
    ds = data.studies["meng-2020"].outcomes["d-dimer"]["published"].model_copy(update={"unit": "mg/L DDU"})
    arm = ds.experimental.model_copy(update={"arm": "msc"})
    ds = ds.model_copy(update={"experimental": arm, "control": arm})
    data.studies["guo-2020"] = guo.model_copy(update={"outcomes": {**guo.outcomes, "d-dimer": {"published": ds}}})
    spec = next(a for a in data.review.analyses if a.id == "d-dimer-primary")
    with pytest.raises(ValueError, match="different units: mg/L DDU, mg/L FEU"):
        analysis.run(spec, data)
