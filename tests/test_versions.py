"""Releases: frozen snapshots, rebuilt at their own path, marked superseded; diffs between versions."""

from __future__ import annotations

import json

import pytest

from builder.cli import main
from builder.site import BuildError, build
from builder.versions import ReleaseError, release, releases
from conftest import TODAY


def _bump(project, version):
    path = project / "data/review.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('version: "1.0"', f'version: "{version}"', 1), encoding="utf-8")


def _edit_leng(project):
    path = project / "data/studies/leng-2020.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    i = next(i for i, l in enumerate(lines) if "control: {arm: placebo, total: 3, events: 2" in l)
    lines[i] = lines[i].replace("events: 2", "events: 1")
    path.write_text("".join(lines), encoding="utf-8")


def test_release_freezes_data_and_results(project):
    rel = release(project, "1.0")
    assert (project / "versions/1.0/data/review.yaml").read_bytes() == (project / "data/review.yaml").read_bytes()
    results = json.loads((project / "versions/1.0/results.json").read_text(encoding="utf-8"))
    assert results["review"]["version"] == "1.0" and rel.manifest["previous"] is None
    with pytest.raises(ReleaseError, match="already released"):
        release(project, "1.0")
    with pytest.raises(ReleaseError, match="says version 1.0"):
        release(project, "1.1")


def test_versions_are_published_at_their_own_path_and_marked_superseded(project):
    release(project, "1.0")
    _bump(project, "1.1")
    _edit_leng(project)
    build(project, today=TODAY)
    old = (project / "site/v1.0/outcomes/survival.html").read_text(encoding="utf-8")
    new = (project / "site/outcomes/survival.html").read_text(encoding="utf-8")
    assert "Superseded version" in old and "4.63 [0.95, 22.44]" in old
    assert "Superseded version" not in new and "5.32 [0.95, 29.80]" in new
    changes = (project / "site/versions.html").read_text(encoding="utf-8")
    assert "Leng 2020" in changes and "pooled result changed" in changes


def test_a_changed_snapshot_stops_the_build(project):
    release(project, "1.0")
    snap = project / "versions/1.0/data/review.yaml"
    snap.write_text(snap.read_text(encoding="utf-8") + "\n# edited after release\n", encoding="utf-8")
    with pytest.raises(BuildError, match="changed after release"):
        build(project, today=TODAY)


def test_diff_command_reports_fields_and_flags(project, capsys):
    release(project, "1.0")
    _edit_leng(project)
    assert main(["-C", str(project), "diff", "1.0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    [changed] = out["studies_changed"]
    assert changed["id"] == "leng-2020"
    assert changed["fields"] == [{"field": "outcomes.survival.published.control.events", "old": 2, "new": 1}]
    primary = next(a for a in out["analyses"] if a["id"] == "survival-primary")
    assert "pooled result changed" in primary["flags"]
    assert main(["-C", str(project), "diff", "0.9"]) == 2
    assert [r.version for r in releases(project)] == ["1.0"]


def test_changing_released_data_without_a_new_version_stops_the_build(project):
    release(project, "1.0")
    _edit_leng(project)
    with pytest.raises(BuildError, match="differs from released version 1.0"):
        build(project, today=TODAY)
