"""RevMan's subgroups (studies assigned to subgroups within one analysis) come in as a categorical study
characteristic of that analysis, which the analysis is split by."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import TODAY
from revman_project import FIXTURES, minimal_project

from builder.analysis.run import run_all
from builder.ingest.loader import load
from builder.interchange.exporter import export
from builder.interchange.importer import import_into

EARLY = ("STD-MRC_x002d_1", "STD-CDP", "STD-MRC_x002d_2")  # 1974 to 1979, the first three rows of outcome 1.1


def _with_subgroups(tmp_path: Path) -> Path:
    """The Fleiss file with outcome 1.1's studies in two subgroups, as RevMan 5 nests them."""
    text = (FIXTURES / "Fleiss1993.rm5").read_text(encoding="iso-8859-1")
    start = text.index("<DICH_DATA ")
    end = text.index("</DICH_OUTCOME>")
    rows = re.findall(r"<DICH_DATA [^>]*/>", text[start:end])
    early = [r for r in rows if any(f'STUDY_ID="{s}"' in r for s in EARLY)]
    late = [r for r in rows if r not in early]

    def group(no: int, name: str, members: list[str]) -> str:
        return f'<DICH_SUBGROUP NO="{no}"><NAME>{name}</NAME>\n' + "\n".join(members) + "\n</DICH_SUBGROUP>\n"

    nested = group(1, "Early trials", early) + group(2, "Later trials", late)
    path = tmp_path / "Subgrouped.rm5"
    path.write_text(text[:start] + nested + text[end:], encoding="iso-8859-1")
    return path


def _result(project: Path, analysis: str = "analysis-1-1"):
    data = load(project / "data", today=TODAY)
    return next(r for r in run_all(data) if r.spec.id == analysis)


def test_subgroups_are_imported_in_revmans_order(tmp_path: Path):
    project = minimal_project(tmp_path / "review")
    import_into(_with_subgroups(tmp_path), project, today=TODAY)
    result = _result(project)
    data = load(project / "data", today=TODAY)
    assert result.spec.subgroups == "analysis-1-1-subgroup"
    declared = data.review.characteristic("analysis-1-1-subgroup")
    assert declared.type == "categorical" and declared.levels == ["Early trials", "Later trials"]
    value = data.studies["cdp"].characteristics["analysis-1-1-subgroup"]
    assert value.value == "Early trials" and "subgroup 'Early trials', study 'CDP'" in value.provenance.source
    assert "analysis-1-1-subgroup" not in data.studies["davis"].characteristics  # not in that analysis
    s = result.subgroups
    assert [g.label for g in s.groups] == ["Early trials", "Later trials"]
    assert [len(g.rows) for g in s.groups] == [3, 4] and s.df == 1
    # The overall result is RevMan's still: subgroups change the display and add the test, not the pooling.
    assert f"{result.fit.heterogeneity.q:.3f}" == "9.946"


def test_subgroups_round_trip_through_the_package(tmp_path: Path):
    project = minimal_project(tmp_path / "review")
    import_into(_with_subgroups(tmp_path), project, today=TODAY)
    before = _result(project)
    package = export(project, tmp_path / "out")[0]
    again = minimal_project(tmp_path / "again")
    import_into(package, again, today=TODAY)
    after = _result(again)
    assert after.spec.subgroups == before.spec.subgroups
    assert [(g.label, g.rows) for g in after.subgroups.groups] == [(g.label, g.rows) for g in before.subgroups.groups]
    assert [g.fit.estimate for g in after.subgroups.groups] == [g.fit.estimate for g in before.subgroups.groups]
    assert after.subgroups.q == before.subgroups.q


def test_one_subgroup_is_no_split(tmp_path: Path):
    text = (FIXTURES / "Fleiss1993.rm5").read_text(encoding="iso-8859-1")
    start, end = text.index("<DICH_DATA "), text.index("</DICH_OUTCOME>")
    one = (
        text[:start] + '<DICH_SUBGROUP NO="1"><NAME>All</NAME>\n' + text[start:end] + "</DICH_SUBGROUP>\n" + text[end:]
    )
    path = tmp_path / "One.rm5"
    path.write_text(one, encoding="iso-8859-1")
    project = minimal_project(tmp_path / "review")
    done = import_into(path, project, today=TODAY)
    assert _result(project).spec.subgroups is None
    assert any("one subgroup only" in note for note in done.notes)


def test_meta_script_names_the_subgroups(tmp_path: Path):
    project = minimal_project(tmp_path / "review")
    import_into(_with_subgroups(tmp_path), project, today=TODAY)
    export(project, tmp_path / "out")
    script = (tmp_path / "out" / "R" / "analysis-1-1.meta.R").read_text(encoding="utf-8")
    labels = ", ".join(['"Early trials"'] * 3 + ['"Later trials"'] * 4)
    assert f"d$subgroup <- c({labels})" in script and "subgroup = subgroup, common = TRUE" in script
