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


# --- citations, release metadata and the version history ----------------------------------------------------

PERMALINK = re.compile(r'Permalink to version ([\d.]+), which never changes: <a href="([^"]+)">([^<]+)</a>')


def test_every_cite_block_gives_the_versioned_permalink_on_latest_and_archived_pages(built):
    site = built / "site"
    # the latest is version 1.2, a draft: its permalink is stated, but not linked until it is released
    latest = (site / "outcomes/survival.html").read_text(encoding="utf-8")
    assert PERMALINK.findall(latest) == []
    assert "Permalink: v1.2/outcomes/survival.html#survival-primary (version 1.2 is not released yet" in latest
    archived = PERMALINK.findall((site / "v1.1/outcomes/survival.html").read_text(encoding="utf-8"))
    cited = "v1.1/outcomes/survival.html#survival-primary"
    assert ("1.1", "../../" + cited, cited) in archived
    old = PERMALINK.findall((site / "v1.0/outcomes/survival.html").read_text(encoding="utf-8"))
    assert (
        "1.0",
        "../../v1.0/outcomes/survival.html#survival-primary",
        "v1.0/outcomes/survival.html#survival-primary",
    ) in old
    home = PERMALINK.findall((site / "v1.1/index.html").read_text(encoding="utf-8"))
    assert home == [("1.1", "../v1.1/index.html", "v1.1/index.html")]


def test_every_permalink_resolves_to_its_anchor_in_the_version_copy(built):
    site = built / "site"
    checked = 0
    for page in site.rglob("*.html"):
        for _, href, _ in PERMALINK.findall(page.read_text(encoding="utf-8")):
            target, _, anchor = href.partition("#")
            html = (page.parent / target).resolve().read_text(encoding="utf-8")
            assert not anchor or f'id="{anchor}"' in html, (page, href)
            checked += 1
    assert checked > 20  # the two released versions' pages; the draft 1.2 links none yet


def test_cite_blocks_come_in_four_formats_with_the_version_and_its_date(built):
    import html as html_mod

    page = (built / "site/v1.0/outcomes/survival.html").read_text(encoding="utf-8")
    for tab in ("Text", "BibTeX", "RIS", "CSL-JSON"):
        assert f">{tab}</label>" in page
    text = html_mod.unescape(re.sub(r"<[^>]+>", "", page))
    assert "version 1.0, 2026-11-25. v1.0/outcomes/survival.html#survival-primary" in text
    assert "url = {v1.0/outcomes/survival.html#survival-primary}" in text
    assert "UR  - v1.0/outcomes/survival.html#survival-primary" in text
    assert '"URL": "v1.0/outcomes/survival.html#survival-primary"' in text
    assert '"date-parts": [\n' in text and '"version": "1.0"' in text


def test_setting_the_url_needs_no_new_version_and_makes_every_permalink_absolute(project):
    path = project / "data/review.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("short_title:", "url: https://example.org/review/\nshort_title:", 1), encoding="utf-8")
    build(project, today=TODAY)  # a new url is not a change of any released version's data
    for page in ("v1.1/outcomes/survival.html", "v1.0/outcomes/survival.html"):
        links = PERMALINK.findall((project / "site" / page).read_text(encoding="utf-8"))
        version = page[1:4]
        assert (
            version,
            f"../../v{version}/outcomes/survival.html#survival-primary",
            f"https://example.org/review/v{version}/outcomes/survival.html#survival-primary",
        ) in links
    latest = (project / "site/outcomes/survival.html").read_text(encoding="utf-8")
    assert "Permalink: https://example.org/review/v1.2/outcomes/survival.html#survival-primary" in latest


def test_a_draft_version_says_its_permalink_works_once_released(project):
    _set_version(project, "1.2")
    build(project, today=TODAY)
    page = (project / "site/outcomes/survival.html").read_text(encoding="utf-8")
    assert "Permalink: v1.2/outcomes/survival.html#survival-primary (version 1.2 is not released yet" in page
    assert 'href="../v1.2/' not in page  # no link into a folder that does not exist yet
    versions_page = (project / "site/versions.html").read_text(encoding="utf-8")
    assert 'href="v1.2/' not in versions_page and "<code>v1.2/</code>, once it is released" in versions_page
    assert "Version 1.2 (not yet released)" in versions_page


def test_release_stamps_its_date_and_writes_citation_metadata(project):

    import yaml

    _set_version(project, "1.2")
    path = project / "data/review.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("short_title:", "url: https://example.org/r\nshort_title:", 1),
        encoding="utf-8",
    )
    assert main(["-C", str(project), "release", "1.2", "--date", "2026-12-01"]) == 0
    folder = project / "versions/1.2"
    assert json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["date"] == "2026-12-01"
    cff = yaml.safe_load((folder / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["version"] == "1.2" and cff["type"] == "dataset"
    assert str(cff["date-released"]) == "2026-12-01" and cff["url"] == "https://example.org/r/v1.2/index.html"
    assert cff["authors"] == [{"name": "Living review team"}]
    assert cff["references"][0]["doi"] == "10.12998/wjcc.v10.i27.9714"
    zenodo = json.loads((folder / ".zenodo.json").read_text(encoding="utf-8"))
    assert zenodo["version"] == "1.2" and zenodo["publication_date"] == "2026-12-01"
    assert zenodo["upload_type"] == "dataset" and zenodo["creators"] == [{"name": "Living review team"}]
    assert "Supersedes version 1.1" in zenodo["notes"]
    assert {"identifier": "10.12998/wjcc.v10.i27.9714", "relation": "isDerivedFrom", "scheme": "doi"} in zenodo[
        "related_identifiers"
    ]
    assert releases(project)[-1].date == dt.date(2026, 12, 1)
    assert main(["-C", str(project), "release", "1.3", "--date", "yesterday"]) == 2


def test_a_manifest_without_a_date_takes_it_from_its_review_file(project):

    _copy_release(project, "1.1", "1.2")
    manifest_path = project / "versions/1.2/manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest["date"]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    snapshot = project / "versions/1.2/data/review.yaml"
    snapshot.write_text(snapshot.read_text(encoding="utf-8").replace("date: 2026-11-25", "date: 2026-11-20"), "utf-8")
    assert releases(project)[-1].date == dt.date(2026, 11, 20)


def test_the_versions_page_keeps_every_release_and_its_changes(project):
    _set_version(project, "1.2")
    _edit_leng(project)
    release(project, "1.2", TODAY)
    build(project, today=TODAY)
    page = (project / "site/versions.html").read_text(encoding="utf-8")
    sections = re.split(r'<h3 id="version-', page)[1:]
    assert [s.split('"')[0] for s in sections] == ["1-2", "1-1", "1-0"]
    newest, middle, first = sections
    assert "Released 2026-12-01" in newest
    assert "Studies corrected: Feng G 2021 (1 field), Leng 2020 (1 field)" in newest  # 1.2 marks Feng G's cohort
    assert "Studies added: Bowdish 2023" in middle and "0.70 → 0.78" in middle  # 1.0 -> 1.1 is kept
    assert "What changed from version 1.0 to 1.1" in middle
    assert "A randomised trial published after the source review" in middle  # 1.1's trigger
    assert "This is the first version" in first
    assert "No conclusion changed from version 1.1" in newest


def _record(estimate, low, high, role="primary"):
    return {
        "id": "a",
        "title": "Survival",
        "scale": "log",
        "role": role,
        "pooled": {"estimate": estimate, "ci_low": low, "ci_high": high, "pi_low": None, "pi_high": None},
        "heterogeneity": {"tau2": 0.0, "i2": 0.0},
    }


def test_a_conclusion_change_is_flagged_when_significance_crosses_or_direction_flips():
    from builder.releases.diff import Diff, _analysis_changes

    def diff(old, new, certainty=()):
        return Diff(
            "1.0", "1.1", [], [], [], _analysis_changes({"analyses": [old]}, {"analyses": [new]}), list(certainty)
        )

    crossed = diff(_record(0.5, -0.1, 1.1), _record(0.6, 0.1, 1.1))
    assert crossed.conclusions() == ["Survival: the 95% CI now excludes no effect"]
    assert crossed.primary_conclusion_changed
    flipped = diff(_record(0.5, -0.1, 1.1), _record(-0.2, -1.0, 0.6))
    assert flipped.conclusions() == ["Survival: the direction of the effect flipped"]
    moved = diff(_record(0.5, -0.1, 1.1), _record(0.4, -0.1, 1.0), [("survival", "low", "moderate")])
    assert moved.conclusions() == ["certainty of survival: low → moderate"] and moved.primary_conclusion_changed
    same = diff(_record(0.5, -0.1, 1.1), _record(0.4, -0.2, 1.0))
    assert same.conclusions() == [] and not same.primary_conclusion_changed
    other = diff(_record(0.5, -0.1, 1.1, "sensitivity"), _record(0.6, 0.1, 1.1, "sensitivity"))
    assert other.conclusions() and not other.primary_conclusion_changed
    assert diff(_record(0.5, -0.1, 1.1), _record(0.6, 0.1, 1.1)).to_json()["conclusions_changed"] == [
        "Survival: the 95% CI now excludes no effect"
    ]


def test_a_release_keeps_the_schemas_of_its_data_model(project):
    """The editor and results schemas under a version's schema/ are those it was released with: a later
    change of the data model changes the current site's schemas only. 1.0 and 1.1, released before
    releases kept them, show the current ones."""
    _set_version(project, "1.2")
    release(project, "1.2")
    frozen = project / "versions/1.2/schema"
    assert (frozen / "review.schema.json").read_bytes() == (project / "docs/schema/review.schema.json").read_bytes()
    current = project / "docs/schema/review.schema.json"
    current.write_text(current.read_text(encoding="utf-8").replace('"title"', '"title" ', 1), encoding="utf-8")
    build(project, today=TODAY)
    site = project / "site"
    assert (site / "v1.2/schema/review.schema.json").read_bytes() == (frozen / "review.schema.json").read_bytes()
    assert (site / "schema/review.schema.json").read_bytes() == current.read_bytes()
    assert (site / "v1.1/schema/review.schema.json").read_bytes() == current.read_bytes()
