"""The PRISMA flow diagram: counting rules, and the diagram drawn from the counts."""

from __future__ import annotations

import pytest
from conftest import TODAY

from builder.errors import DataError
from builder.ingest.loader import load
from builder.report.figures import prisma


def _edit(project, old, new):
    path = project / "data/review.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _problems(project):
    with pytest.raises(DataError) as info:
        load(project / "data", today=TODAY)
    return info.value.problems


def test_included_studies_are_counted_from_the_study_files(project):
    data = load(project / "data", today=TODAY)
    previous = {p.stem for p in (project / "versions/1.0/data/studies").glob("*.yaml")}
    c = prisma.counts(data.review, data.studies, previous)
    assert (c.identified, c.excluded, c.assessed, c.reports_excluded) == (823, 782, 41, 16)
    assert (c.included, c.clinical, c.case_reports, c.unaccounted, c.other_methods) == (22, 14, 8, 4, 1)
    assert (c.previous, c.new) == (21, 1)


def test_a_new_study_file_without_updated_counts_is_an_error(project):
    src = project / "data/studies/tang-2020.yaml"
    (project / "data/studies/tang-2021.yaml").write_text(
        src.read_text(encoding="utf-8").replace("id: tang-2020", "id: tang-2021"), encoding="utf-8"
    )
    [p] = _problems(project)
    assert p.field == "flow.unaccounted" and "23 studies" in p.message and "= 22" in p.message
    assert "other_methods" in p.message


def test_an_unexplained_gap_must_be_stated(project):
    _edit(project, "  unaccounted: 4\n", "  unaccounted: 0\n")
    [p] = _problems(project)
    assert "= 26, but data/studies holds 22" in p.message


def test_unaccounted_reports_need_a_note(project):
    text = (project / "data/review.yaml").read_text(encoding="utf-8")
    start = text.index("  unaccounted_note:")
    end = text.index("  provenance:", start)
    (project / "data/review.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    [p] = _problems(project)
    assert p.field == "flow" and "unaccounted_note" in p.message


def test_reasons_must_add_up(project):
    _edit(project, "Review articles: 239", "Review articles: 230")
    [p] = _problems(project)
    assert "add up to 773, not 782" in p.message


def test_screening_arithmetic(project):
    _edit(project, "records_excluded: 782", "records_excluded: 780")
    found = _problems(project)
    assert any("should equal full_texts_assessed" in p.message or "add up" in p.message for p in found)


def test_diagram_shows_every_count_and_says_it_in_words(project):
    data = load(project / "data", today=TODAY)
    c = prisma.counts(data.review, data.studies)
    svg = prisma.render(c)
    for n in (823, 782, 239, 543, 41, 16, 22, 14, 8, 4, 1):
        assert f"n\u00a0=\u00a0{n})" in svg
    assert "not accounted for" in prisma.describe(c)
    assert svg.count("<rect") >= 7 and "<title" in svg and "<desc" in svg
