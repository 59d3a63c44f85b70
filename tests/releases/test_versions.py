"""Releases: frozen snapshots, rebuilt at their own path, marked superseded; diffs between versions.

The repository holds version 1.0 (the source review reproduced) and version 1.1 (which adds Bowdish 2023)
in versions/, and 1.1 in data/; these tests work on a private copy.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import types

import pytest
from conftest import TODAY

from builder.cli import main
from builder.contract.version import Version
from builder.errors import DataError
from builder.publish.build import BuildError, build
from builder.releases.archive import ReleaseError, release, releases
from builder.report import pages


def _set_version(project, version):
    path = project / "data/review.yaml"
    path.write_text(
        re.sub(r'(?m)^version: ".*"$', f'version: "{version}"', path.read_text(encoding="utf-8")), encoding="utf-8"
    )


def _edit_leng(project):
    path = project / "data/studies/leng-2020.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    i = next(i for i, line in enumerate(lines) if "control: {arm: placebo, total: 3, events: 2" in line)
    lines[i] = lines[i].replace("events: 2", "events: 1")
    path.write_text("".join(lines), encoding="utf-8")


def test_the_repository_holds_versions_1_0_and_1_1(project):
    rel, later = releases(project)
    assert (rel.version, later.version) == ("1.0", "1.1") and later.manifest["previous"] == "1.0"
    assert rel.manifest["previous"] is None
    assert not (rel.data_dir / "studies/bowdish-2023.yaml").exists()
    primary = next(a for a in rel.results()["analyses"] if a["id"] == "survival-primary")
    assert len(primary["studies"]) == 7


def test_release_freezes_data_and_results(project):
    _set_version(project, "1.2")
    rel = release(project, "1.2")
    assert (project / "versions/1.2/data/review.yaml").read_bytes() == (project / "data/review.yaml").read_bytes()
    results = json.loads((project / "versions/1.2/results.json").read_text(encoding="utf-8"))
    assert results["review"]["version"] == "1.2" and rel.manifest["previous"] == "1.1"
    assert rel.manifest["integrity_rules"] is True  # recomputed with the same rules when it is rebuilt
    with pytest.raises(ReleaseError, match="already released"):
        release(project, "1.2")
    with pytest.raises(ReleaseError, match="says version 1.2"):
        release(project, "1.3")
    _set_version(project, "0.9")
    with pytest.raises(ReleaseError, match="newer than the last release"):
        release(project, "0.9")


def test_versions_are_published_at_their_own_path_and_marked_superseded(built):
    old = (built / "site/v1.0/outcomes/survival.html").read_text(encoding="utf-8")
    new = (built / "site/outcomes/survival.html").read_text(encoding="utf-8")
    assert "Superseded version" in old and "4.63 [0.95, 22.44]" in old and "Bowdish" not in old
    assert "Superseded version" not in new and "2.09 [0.54, 8.15]" in new
    # version 1.1, rebuilt from its snapshot under the rules it was released with, keeps its numbers
    v11 = (built / "site/v1.1/outcomes/survival.html").read_text(encoding="utf-8")
    assert "Superseded version" in v11 and "2.93 [0.82, 10.50]" in v11 and "Left out of this analysis" not in v11
    old_changes = (built / "site/v1.1/versions.html").read_text(encoding="utf-8")
    assert "Studies added: Bowdish 2023" in old_changes and "pooled result changed" in old_changes
    assert "0.70 → " in old_changes  # tau² of the primary survival analysis moved from version 1.0's 0.70
    changes = (built / "site/versions.html").read_text(encoding="utf-8")
    assert "Studies added: none" in changes and "pooled result changed" in changes
    timeline = new.split('id="survival-over-time"')[1]
    assert "v1.0" in timeline and "v1.1" in timeline and "+ Bowdish 2023" in timeline


def test_a_changed_snapshot_stops_the_build(project):
    snap = project / "versions/1.0/data/review.yaml"
    snap.write_text(snap.read_text(encoding="utf-8") + "\n# edited after release\n", encoding="utf-8")
    with pytest.raises(BuildError, match="changed after release"):
        build(project, today=TODAY)


def test_diff_reports_an_added_study_and_a_corrected_field(project, capsys):
    _edit_leng(project)
    assert main(["-C", str(project), "diff", "1.0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["studies_added"] == ["bowdish-2023"] and out["studies_removed"] == []
    changed = next(c for c in out["studies_changed"] if c["id"] == "leng-2020")
    assert changed["fields"] == [{"field": "outcomes.survival.published.control.events", "old": 2, "new": 1}]
    flags = {a["id"]: a["flags"] for a in out["analyses"]}
    assert "pooled result changed" in flags["survival-primary"]
    assert flags["survival-reproduction"] != []  # Leng's control arm is in the reproduction too
    assert out["certainty_changed"] == []
    assert main(["-C", str(project), "diff", "0.9"]) == 2


def test_a_change_of_certainty_is_reported(project, capsys):
    path = project / "data/review.yaml"
    text = path.read_text(encoding="utf-8")
    i = text.index("  - outcome: il-6\n")
    path.write_text(text[:i] + text[i:].replace("    start: low\n", "    start: high\n", 1), encoding="utf-8")
    assert main(["-C", str(project), "diff", "1.1"]) == 0
    assert "Certainty of il-6: very-low -> moderate" in capsys.readouterr().out


def test_adding_a_study_to_a_copy_shows_in_the_diff(project, capsys):
    src = (project / "data/studies/bowdish-2023.yaml").read_text(encoding="utf-8")
    (project / "data/studies/bowdish-2024.yaml").write_text(
        src.replace("id: bowdish-2023", "id: bowdish-2024").replace("label: Bowdish 2023", "label: Copy 2024"),
        encoding="utf-8",
    )
    path = project / "data/review.yaml"
    text = path.read_text(encoding="utf-8").replace("  other_methods: 1\n", "  other_methods: 2\n")
    text = text.replace(
        "feng-y-2020, adas-2021, bowdish-2023]", "feng-y-2020, adas-2021, bowdish-2023, bowdish-2024]", 1
    )
    path.write_text(text, encoding="utf-8")
    assert main(["-C", str(project), "diff", "1.0"]) == 0
    out = capsys.readouterr().out
    assert "Studies added: Bowdish 2023, Copy 2024" in out


def test_changing_released_data_without_a_new_version_stops_the_build(project):
    _set_version(project, "1.1")
    _edit_leng(project)
    with pytest.raises(DataError, match="differs from released version 1.1") as caught:
        build(project, today=TODAY)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == ("data/review.yaml", 6, "version")
    assert main(["-C", str(project), "check"]) == 1  # `review check` refuses it too, as a data problem


def _copy_release(project, source: str, version: str) -> None:
    """A copy of an archived version under another number (its numbers are not checked here)."""
    folder = project / "versions" / version
    shutil.copytree(project / "versions" / source, folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    (folder / "manifest.json").write_text(json.dumps({**manifest, "version": version}), encoding="utf-8")


def test_version_numbers_order_as_numbers_not_as_text():
    assert Version.parse("1.10") > Version.parse("1.9") > Version.parse("1.2")
    assert sorted(["1.10", "1.9", "1.2", "2.0", "1.0"], key=Version.parse) == ["1.0", "1.2", "1.9", "1.10", "2.0"]
    assert str(Version.parse("1.10")) == "1.10"


def test_releases_sort_1_10_after_1_9(project):
    for version in ("1.9", "1.10", "1.2"):
        _copy_release(project, "1.1", version)
    assert [r.version for r in releases(project)] == ["1.0", "1.1", "1.2", "1.9", "1.10"]


def test_an_archived_version_shows_no_later_release_in_its_history(project):
    """An archive of 1.2 built beside a released 1.10 stops its evidence timeline at 1.2 (as text, '1.10' < '1.2')."""
    _copy_release(project, "1.1", "1.10")
    review = types.SimpleNamespace(version="1.2", date=dt.date(2026, 1, 2))
    info = {"releases": releases(project), "archived": True}
    history = pages._history(info, review, {"analyses": []})
    assert [version for version, *_ in history] == ["1.0", "1.1", "1.2"]
