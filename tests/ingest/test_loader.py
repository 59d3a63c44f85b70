"""Bad input gets a clear error naming file, line, field, value and expectation; all errors in one run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import TODAY

from builder.errors import DataError
from builder.ingest.loader import load


def problems(project: Path) -> list:
    with pytest.raises(DataError) as info:
        load(project / "data", today=TODAY)
    return info.value.problems


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found in {path.name}: {old!r}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_real_data_is_valid(project):
    data = load(project / "data", today=TODAY)
    assert len(data.studies) == 22
    assert len([s for s in data.studies.values() if s.source_table == "clinical-studies"]) == 14
    assert re.fullmatch(r"[0-9a-f]{64}", data.data_hash)


def test_wrong_type_names_file_line_field_and_value(project):
    study = project / "data/studies/shu-2020.yaml"
    edit(study, "    n: 12\n", "    n: twelve\n")
    [p] = problems(project)
    assert p.file == "data/studies/shu-2020.yaml"
    assert p.line == line_of(study, "n: twelve")
    assert p.field == "arms[0].n"
    assert p.value == "'twelve'"
    assert "integer" in p.message


def test_unknown_field_suggests_the_intended_one(project):
    study = project / "data/studies/leng-2020.yaml"
    text = study.read_text(encoding="utf-8")
    study.write_text(re.sub(r"\bevents:", "evnets:", text, count=1), encoding="utf-8")
    found = problems(project)
    typo = [p for p in found if "evnets" in p.message]
    assert typo, found
    assert "did you mean 'events'" in typo[0].message
    assert typo[0].line == line_of(study, "evnets")


def test_all_errors_are_reported_in_one_run(project):
    edit(project / "data/studies/shu-2020.yaml", "    n: 12\n", "    n: -3\n")
    edit(project / "data/studies/meng-2020.yaml", "label: Meng 2020", "label: [not, text]")
    edit(project / "data/review.yaml", "records_identified: 823", "records_identified: lots")
    files = {p.file for p in problems(project)}
    assert files == {"data/studies/shu-2020.yaml", "data/studies/meng-2020.yaml", "data/review.yaml"}


def test_events_cannot_exceed_total(project):
    study = project / "data/studies/leng-2020.yaml"
    text = study.read_text(encoding="utf-8")
    study.write_text(re.sub(r"events: 7\b", "events: 70", text, count=1), encoding="utf-8")
    found = problems(project)
    assert any("cannot exceed total" in p.message and p.file.endswith("leng-2020.yaml") for p in found), found


def test_yaml_syntax_error_gives_the_line(project):
    study = project / "data/studies/adas-2021.yaml"
    lines = study.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[4] = "label: [unclosed\n"
    study.write_text("".join(lines), encoding="utf-8")
    [p] = problems(project)
    assert p.file == "data/studies/adas-2021.yaml"
    assert "YAML syntax error" in p.message
    assert p.line is not None and 5 <= p.line <= 7


def test_id_must_match_file_name(project):
    edit(project / "data/studies/guo-2020.yaml", "id: guo-2020", "id: guo-2021")
    [p] = problems(project)
    assert p.field == "id" and "guo-2020" in p.message and p.line == 1


def test_missing_required_field_points_at_its_parent(project):
    study = project / "data/studies/tang-2020.yaml"
    text = study.read_text(encoding="utf-8")
    study.write_text(re.sub(r"\n  category: [a-z-]+", "", text, count=1), encoding="utf-8")
    [p] = problems(project)
    assert p.field == "design.category"
    assert p.message == "required field is missing"
    assert p.line == line_of(study, "design:")


def test_reference_to_unknown_arm(project):
    study = project / "data/studies/shu-2020.yaml"
    text = study.read_text(encoding="utf-8")
    study.write_text(text.replace("arm: control", "arm: placebo", 1), encoding="utf-8")
    found = problems(project)
    assert any(p.field.endswith("control.arm") and "placebo" in (p.value or "") for p in found), found


def test_unknown_study_in_analysis_plan(project):
    edit(
        project / "data/review.yaml",
        "studies: [shu-2020, lanzoni-2021, leng-2020",
        "studies: [shu-2020, lanzoni-2021, lenng-2020",
    )
    [p] = problems(project)
    assert p.file == "data/review.yaml" and p.value == "'lenng-2020'"


def test_date_in_the_future(project):
    edit(project / "data/review.yaml", "date: 2026-12-01", "date: 2027-01-01")
    [p] = problems(project)
    assert p.field == "date" and "future" in p.message


def test_duplicate_key(project):
    edit(project / "data/studies/meng-2020.yaml", "label: Meng 2020\n", "label: Meng 2020\nlabel: Meng\n")
    found = problems(project)
    assert any("duplicate key" in p.message for p in found)


def test_nan_is_rejected(project):
    edit(project / "data/review.yaml", "  full_texts_assessed: 41", "  full_texts_assessed: .nan")
    [p] = problems(project)
    assert p.field == "flow.full_texts_assessed"


def test_alias_bomb_is_refused(project):
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        bomb.append(
            f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
            f"*a{i - 1}, *a{i - 1}]"
        )
    (project / "data/studies/bomb.yaml").write_text("\n".join(bomb) + "\n", encoding="utf-8")
    found = problems(project)
    assert any(p.file == "data/studies/bomb.yaml" and "alias bomb" in p.message for p in found)


def test_huge_file_is_refused(project):
    (project / "data/studies/huge.yaml").write_text("notes:\n" + "  - x\n" * 400_000, encoding="utf-8")
    found = problems(project)
    assert any(p.file == "data/studies/huge.yaml" and "limit" in p.message for p in found)


def test_problem_text_is_human_readable(project):
    edit(project / "data/studies/shu-2020.yaml", "    n: 12\n", "    n: twelve\n")
    text = str(problems(project)[0])
    assert text.startswith("data/studies/shu-2020.yaml:")
    assert "arms[0].n" in text and "'twelve'" in text


def test_a_study_read_from_the_cache_still_points_at_its_lines(project, tmp_path):
    """A valid study file comes from the build's store the second time; a problem the review file causes in
    it later must name the same line as when the file is read afresh."""
    from builder.caching.store import Store

    store = Store(tmp_path / "store")
    load(project / "data", today=TODAY, store=store)
    review = project / "data/review.yaml"
    edit(review, "id: d-dimer\n", "id: d-dimer-renamed\n")
    again = Store(tmp_path / "store")
    with pytest.raises(DataError) as cached:
        load(project / "data", today=TODAY, store=again)
    assert again.hits >= len(list((project / "data/studies").glob("*.yaml")))  # every study from the store
    fresh = problems(project)
    in_studies = [(p.file, p.line, p.field) for p in cached.value.problems if p.file.startswith("data/studies/")]
    assert in_studies and all(line is not None for _, line, _ in in_studies)
    assert in_studies == [(p.file, p.line, p.field) for p in fresh if p.file.startswith("data/studies/")]


def test_flow_placeholders_with_underscores_are_understood(project):
    from builder.contract.placeholders import PLACEHOLDER

    m = PLACEHOLDER.fullmatch("[[flow:full_texts_assessed]]")
    assert m is not None and m.groups() == ("flow:", "full_texts_assessed", None)
    load(project / "data", today=TODAY)  # the real notes use them, and are valid


def test_an_unknown_flow_placeholder_names_file_and_line(project):
    review = project / "data/review.yaml"
    edit(review, "excluded\n    [[flow:full_texts_excluded]]", "excluded\n    [[flow:full_texts_rejected]]")
    [p] = problems(project)
    assert p.file == "data/review.yaml" and p.field == "flow.unaccounted_note"
    assert p.line == line_of(review, "unaccounted_note:")
    assert "[[flow:full_texts_rejected]]" in p.message and "flow:full_texts_excluded" in p.message


def test_a_malformed_placeholder_is_an_error_not_text(project):
    review = project / "data/review.yaml"
    edit(review, "[[count:source-studies]] included", "[[count: source-studies]] included")
    [p] = problems(project)
    assert p.field == "flow.unaccounted_note" and p.line == line_of(review, "unaccounted_note:")
    assert p.message.startswith("[[count: source-studies]]: not a placeholder")


def test_a_placeholder_where_none_is_filled_is_an_error(project):
    review = project / "data/review.yaml"
    edit(review, "short_title: MSC therapy for COVID-19", "short_title: MSC therapy in [[count:studies]] studies")
    [p] = problems(project)
    assert p.field == "short_title" and p.line == line_of(review, "short_title:")
    assert "filled only in narrative texts" in p.message
