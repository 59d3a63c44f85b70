"""Integrity by default: virtual and historical arms and cohorts another study counts stay out of analyses
unless an analysis keeps them by name, with a reason; `keeps` and `patients_counted_in` are checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TODAY

from builder.analysis import run as analysis
from builder.errors import DataError
from builder.ingest.loader import load
from builder.ingest.select import select


def problems(project: Path) -> list:
    with pytest.raises(DataError) as info:
        load(project / "data", today=TODAY)
    return info.value.problems


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found in {path.name}: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def data(built):
    return load(built / "data", today=TODAY)


def spec_of(data, analysis_id: str):
    return next(a for a in data.review.analyses if a.id == analysis_id)


def test_the_primary_analysis_leaves_out_the_virtual_control_and_the_follow_up(data):
    chosen, missing, left_out = select(spec_of(data, "survival-primary"), data.studies)
    assert [s.id for s, _, _ in chosen] == [
        "shu-2020",
        "lanzoni-2021",
        "leng-2020",
        "meng-2020",
        "adas-2021",
        "bowdish-2023",
    ]
    assert missing == []
    assert [(x.study.id, x.participants) for x in left_out] == [("feng-g-2021", 28), ("feng-y-2020", 32)]
    assert left_out[0].reason == "its patients are already counted in Shu 2020 (a follow-up of the same cohort)"
    assert "control arm" in left_out[1].reason and "is virtual: not a group of patients" in left_out[1].reason


def test_the_headline_no_longer_counts_virtual_or_double_counted_patients(data):
    result = analysis.run(spec_of(data, "survival-primary"), data)
    assert (len(result.rows), result.participants) == (6, 345)  # version 1.1: 8 studies, 405 participants
    assert [x.study.id for x in result.left_out] == ["feng-g-2021", "feng-y-2020"]


def test_a_reproduction_keeps_what_the_source_review_pooled_by_name(data):
    spec = spec_of(data, "survival-reproduction")
    assert {k.study for k in spec.keeps} == {"feng-g-2021", "feng-y-2020"}
    chosen, _, left_out = select(spec, data.studies)
    assert len(chosen) == 7 and left_out == []
    without = spec.model_copy(update={"keeps": []})
    assert [x.study.id for x in select(without, data.studies)[2]] == ["feng-g-2021", "feng-y-2020"]


def test_without_the_rules_every_named_study_is_pooled(data):
    """How versions released before the rules are recomputed (their manifests say nothing of them)."""
    chosen, _, left_out = select(spec_of(data, "survival-primary"), data.studies, integrity_rules=False)
    assert len(chosen) == 8 and left_out == []


def test_a_historical_arm_is_left_out_and_not_counted_as_participants(project):
    path = project / "data/studies/leng-2020.yaml"
    edit(path, "  - id: placebo\n", "  - id: placebo\n    kind: historical\n")
    data = load(project / "data", today=TODAY)
    leng = data.studies["leng-2020"]
    assert leng.total_n == sum(a.n for a in leng.arms if a.id != "placebo")
    _, _, left_out = select(spec_of(data, "survival-primary"), data.studies)
    assert "leng-2020" in [x.study.id for x in left_out]
    reason = next(x.reason for x in left_out if x.study.id == "leng-2020")
    assert reason.startswith("its control arm") and reason.endswith(
        "is a historical control: not enrolled in the study"
    )


def test_a_duplicate_report_is_left_out_by_its_counted_in_field(project):
    path = project / "data/studies/adas-2021.yaml"
    text = path.read_text(encoding="utf-8")
    i = text.index("  provenance:", text.index("design:"))
    path.write_text(text[:i] + "  patients_counted_in: shu-2020\n" + text[i:], encoding="utf-8")
    data = load(project / "data", today=TODAY)
    _, _, left_out = select(spec_of(data, "survival-primary"), data.studies)
    reason = next(x.reason for x in left_out if x.study.id == "adas-2021")
    assert reason == "its patients are already counted in Shu 2020 (another report of the same cohort)"


def test_counted_in_must_name_another_study(project):
    path = project / "data/studies/feng-g-2021.yaml"
    edit(path, "patients_counted_in: shu-2020", "patients_counted_in: shu-2021")
    [p] = problems(project)
    assert (p.file, p.field, p.value) == ("data/studies/feng-g-2021.yaml", "design.patients_counted_in", "'shu-2021'")
    assert "no study file" in p.message and p.line > 0


def test_keeping_a_study_that_needs_no_keeping_is_an_error(project):
    edit(
        project / "data/review.yaml",
        "      - study: feng-g-2021\n        reason: The source review pooled this follow-up",
        "      - study: shu-2020\n        reason: The source review pooled this follow-up",
    )
    [p] = problems(project)
    assert p.field == "analyses[1].keeps[0].study" and p.value == "'shu-2020'"
    assert p.message.startswith("nothing to keep")


def test_keeping_a_study_outside_the_analysis_is_an_error(project):
    edit(
        project / "data/review.yaml",
        "      - study: feng-g-2021\n        reason: The source review pooled this follow-up",
        "      - study: shi-2021\n        reason: The source review pooled this follow-up",
    )
    [p] = problems(project)
    assert p.field == "analyses[1].keeps[0].study" and "not one of this analysis's studies" in p.message


def test_a_keep_needs_a_reason(project):
    edit(
        project / "data/review.yaml",
        "        reason: The source review pooled this follow-up cohort as a separate trial; a reproduction keeps it.\n",
        "",
    )
    [p] = problems(project)
    assert p.field == "analyses[1].keeps[0].reason" and p.file == "data/review.yaml"


def test_placeholders_in_an_analysis_description_are_checked(project):
    edit(project / "data/review.yaml", "[[survival-primary.pct_randomised]]", "[[survival-primary.pct_randomized]]")
    [p] = problems(project)
    assert p.field == "analyses[0].description" and "unknown field" in p.message
