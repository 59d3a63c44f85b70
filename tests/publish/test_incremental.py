"""A build that reuses earlier work (parsed studies, fitted analyses, unchanged pages) gives the same site,
byte for byte, as a build from nothing; and it falls back to a full build whenever reuse is not safe."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, TODAY

from builder.caching import store as cache
from builder.caching.outputs import derive
from builder.publish import incremental
from builder.publish.build import build


def _synthetic():
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "benchmarks" / "synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _cold(project: Path, tmp: Path) -> dict[str, str]:
    """The site a build from nothing gives for the project's current data, built in a separate copy."""
    fresh = tmp / f"cold-{len(list(tmp.glob('cold-*')))}"
    for part in ("data", "templates", "docs", "mkdocs.yml"):
        src = project / part
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, fresh / part)
    build(fresh, today=TODAY, full=True)
    return _digest(fresh / "site")


def rct_analysis(project: Path) -> str:
    return yaml.safe_load((project / "data/review.yaml").read_text(encoding="utf-8"))["analyses"][-1]["id"]


def _first_mean(study: Path) -> tuple[str, str]:
    text = study.read_text(encoding="utf-8")
    m = re.search(r"^(\s+mean: )([0-9.]+)$", text, re.M)
    assert m, f"no mean in {study.name}"
    return text, text[: m.start(2)] + f"{float(m.group(2)) + 0.37:.2f}" + text[m.end(2) :]


@pytest.fixture(scope="module")
def synthetic_project(tmp_path_factory) -> Path:
    project = _synthetic().write_project(tmp_path_factory.mktemp("inc") / "project", studies=14, outcomes=4, seed=11)
    # Subgroups and every follow-up must come back from the cache as they were computed.
    path = project / "data/review.yaml"
    review = yaml.safe_load(path.read_text(encoding="utf-8"))
    for a in review["analyses"]:
        a["subgroups"] = "design"
    # Randomised trials only: one risk-of-bias tool, so the forest plot draws the judgements beside the studies.
    first = review["analyses"][0]
    review["analyses"].append(
        {
            **first,
            "id": first["id"] + "-rct",
            "role": "sensitivity",
            "title": "Randomised trials only",
            "designs": ["rct"],
        }
    )
    path.write_text(yaml.safe_dump(review, sort_keys=False, allow_unicode=True), encoding="utf-8")
    report: dict = {}
    build(project, today=TODAY, report=report)
    assert report["pages"] is None  # nothing to reuse yet
    return project


def test_editing_one_number_rerenders_few_pages_and_matches_a_cold_build(synthetic_project, tmp_path):
    project = synthetic_project
    study = next(p for p in sorted((project / "data/studies").glob("*.yaml")) if "mean:" in p.read_text())
    _, edited = _first_mean(study)
    study.write_text(edited, encoding="utf-8")
    report: dict = {}
    build(project, today=TODAY, report=report)
    rerendered, pages = report["pages"]
    assert 1 <= rerendered < pages / 2, report
    assert _digest(project / "site") == _cold(project, tmp_path)
    _assert_offline_index_is_the_index(project / "site")


def _assert_offline_index_is_the_index(site: Path) -> None:
    """The script form of the search index (for pages opened from disk) holds the whole site's index."""
    index = (site / "search/search_index.json").read_text(encoding="utf-8")
    assert (site / "search/search_index.js").read_text(encoding="utf-8") == "var __index = " + index
    assert len(json.loads(index)["docs"]) > 50


def test_a_changed_risk_of_bias_judgement_reaches_the_forest_plots(synthetic_project, tmp_path):
    """Judgements are drawn beside forest plots: a cached figure must not outlive them."""
    doc = json.loads((synthetic_project / "site/results.json").read_text(encoding="utf-8"))
    rct = next(a for a in doc["analyses"] if a["id"] == rct_analysis(synthetic_project))
    files = [synthetic_project / "data/studies" / f"{s['id']}.yaml" for s in rct["studies"]]
    study = next(p for p in files if "judgement: low" in p.read_text(encoding="utf-8"))
    before = (synthetic_project / "site" / "studies" / f"{study.stem}.html").read_text(encoding="utf-8")
    study.write_text(
        study.read_text(encoding="utf-8").replace("judgement: low", "judgement: high", 1), encoding="utf-8"
    )
    report: dict = {}
    build(synthetic_project, today=TODAY, report=report)
    assert report["pages"] is not None and report["pages"][0] >= 1
    assert (synthetic_project / "site" / "studies" / f"{study.stem}.html").read_text(encoding="utf-8") != before
    forest = (synthetic_project / "site" / "figures" / f"{rct_analysis(synthetic_project)}.svg").read_text()
    assert "Risk of bias" in forest
    assert _digest(synthetic_project / "site") == _cold(synthetic_project, tmp_path)


def test_a_field_no_analysis_reads_rerenders_only_its_study_page(synthetic_project, tmp_path):
    """A study's registry number is shown on its own page only: every other generated source (the other
    studies' pages, the outcome pages, figures and downloads) is taken from the last build unrendered."""
    study = next(p for p in sorted((synthetic_project / "data/studies").glob("*.yaml")) if "NCT" in p.read_text())
    text = study.read_text(encoding="utf-8")
    registry = re.search(r"^(\s+id: )(NCT\d+)$", text, re.M)
    assert registry, f"no registry number in {study.name}"
    study.write_text(text[: registry.start(2)] + "NCT99999999" + text[registry.end(2) :], encoding="utf-8")
    report: dict = {}
    build(synthetic_project, today=TODAY, report=report)
    kept, generated = report["sources_kept"]
    # The files made from the whole review (the home page, results.json, ...) share one key, changed by any edit.
    recorded = json.loads((synthetic_project / "build/current/render-keys.json").read_text(encoding="utf-8"))
    whole = sum(1 for key, _ in recorded["files"].values() if key == recorded["files"]["index.md"][0])
    assert kept == generated - 1 - whole, report  # all but the edited study's page
    assert "NCT99999999" in (synthetic_project / "site/studies" / f"{study.stem}.html").read_text(encoding="utf-8")
    assert _digest(synthetic_project / "site") == _cold(synthetic_project, tmp_path)


def test_a_change_to_the_review_reaches_every_kept_page(synthetic_project, tmp_path):
    """The status line on every page comes from review.yaml: no study or outcome page may be kept."""
    path = synthetic_project / "data/review.yaml"
    review = yaml.safe_load(path.read_text(encoding="utf-8"))
    review["living"]["next_update"] = "when the next trial of the register reports"
    path.write_text(yaml.safe_dump(review, sort_keys=False, allow_unicode=True), encoding="utf-8")
    report: dict = {}
    build(synthetic_project, today=TODAY, report=report)
    page = next((synthetic_project / "site/outcomes").glob("*.html")).read_text(encoding="utf-8")
    assert "when the next trial of the register reports" in page
    assert _digest(synthetic_project / "site") == _cold(synthetic_project, tmp_path)


def test_nothing_changed_reuses_every_page(synthetic_project, tmp_path):
    before = _digest(synthetic_project / "site")
    report: dict = {}
    build(synthetic_project, today=TODAY, report=report)
    assert report["pages"][0] == 0
    assert _digest(synthetic_project / "site") == before


def test_a_renamed_study_changes_the_navigation_and_forces_a_full_build(synthetic_project, tmp_path):
    study = sorted((synthetic_project / "data/studies").glob("*.yaml"))[0]
    text = study.read_text(encoding="utf-8")
    label = re.search(r"^label: (.+)$", text, re.M)
    study.write_text(text.replace(label.group(0), "label: Renamed 2024"), encoding="utf-8")
    report: dict = {}
    build(synthetic_project, today=TODAY, report=report)
    assert report["pages"] is None
    assert _digest(synthetic_project / "site") == _cold(synthetic_project, tmp_path)


def test_a_site_changed_by_hand_is_not_reused(synthetic_project, tmp_path):
    page = synthetic_project / "site" / "methods.html"
    page.write_text(page.read_text(encoding="utf-8") + "<!-- edited -->", encoding="utf-8")
    report: dict = {}
    build(synthetic_project, today=TODAY, report=report)
    assert report["pages"] is None
    assert _digest(synthetic_project / "site") == _cold(synthetic_project, tmp_path)


def test_a_damaged_cache_entry_is_computed_again(synthetic_project, tmp_path):
    store = synthetic_project / "build/cache/store"
    entries = sorted(store.rglob("*.json"))
    assert entries, "the build keeps parsed studies and fitted analyses"
    for path in entries:
        path.write_bytes(b"not an entry")
    study = next(p for p in sorted((synthetic_project / "data/studies").glob("*.yaml")) if "mean:" in p.read_text())
    study.write_text(_first_mean(study)[1], encoding="utf-8")
    # A change to the review itself, so that every page is rendered again and every entry is read.
    path = synthetic_project / "data/review.yaml"
    review = yaml.safe_load(path.read_text(encoding="utf-8"))
    review["living"]["next_update"] = "after the damaged cache is repaired"
    path.write_text(yaml.safe_dump(review, sort_keys=False, allow_unicode=True), encoding="utf-8")
    build(synthetic_project, today=TODAY)
    assert _digest(synthetic_project / "site") == _cold(synthetic_project, tmp_path)
    assert all(p.read_bytes() != b"not an entry" for p in store.rglob("*.json"))


def test_cache_keys_depend_on_every_part_and_on_the_builder():
    assert derive("k", {"v": ["a", "bc"]}) != derive("k", {"v": ["ab", "c"]})  # parts are length-prefixed
    assert derive("k", {"v": "x"}) == derive("k", {"v": "x"})
    assert len(cache.builder_fingerprint()) == 64


def test_search_index_merge_replaces_a_pages_entries_in_place():
    old = {
        "config": {"lang": ["en"]},
        "docs": [
            {"location": "a.html", "title": "A", "text": "old a"},
            {"location": "b.html", "title": "B", "text": "old b"},
            {"location": "b.html#x", "title": "X", "text": "old x"},
            {"location": "c.html", "title": "C", "text": "c"},
        ],
    }
    new = {"config": {"lang": ["en"]}, "docs": [{"location": "b.html", "title": "B", "text": "new b"}]}
    merged = incremental.merge_search(old, new, {"b.html"})
    assert [d["text"] for d in merged["docs"]] == ["old a", "new b", "c"]
    # A page with no entries before cannot be placed: the caller must build in full.
    assert (
        incremental.merge_search(
            old, {"config": old["config"], "docs": [{"location": "d.html", "title": "D", "text": "d"}]}, {"d.html"}
        )
        is None
    )
    assert incremental.merge_search(old, {"config": {"lang": ["fr"]}, "docs": []}, {"b.html"}) is None


def test_a_stub_keeps_the_title_and_nothing_else():
    page = "---\nhide:\n  - toc\n---\n\n# Umarov 2022\n\n<p>long content</p>\n\n## Section\n"
    stub = incremental._stub(page)
    assert "# Umarov 2022\n" in stub and "long content" not in stub and "Section" not in stub
    assert "template: incremental-stub.html" in stub and "exclude: true" in stub
    assert incremental._stub("no heading at all\n") is None


def test_a_build_split_across_mkdocs_runs_equals_one_run(tmp_path, monkeypatch):
    """Large sites are built by one MkDocs run per core, each rendering a share of the pages; the combined site
    (pages, theme files and the search index's order) must be the one a single run writes."""
    from builder.publish import build as site_module

    project = _synthetic().write_project(tmp_path / "project", studies=9, outcomes=3, seed=5)
    monkeypatch.setattr(site_module, "SPLIT_MIN_PAGES", 10**9)
    build(project, site=tmp_path / "one", today=TODAY, full=True)
    monkeypatch.setattr(site_module, "SPLIT_MIN_PAGES", 1)
    monkeypatch.setattr(site_module.os, "cpu_count", lambda: 3)  # three runs, whatever this machine has
    calls = []
    real = incremental.build_split

    def recording(*args):
        calls.append((args[-1], real(*args)))
        return calls[-1][1]

    monkeypatch.setattr(incremental, "build_split", recording)
    build(project, site=tmp_path / "split", today=TODAY, full=True)
    assert calls == [(3, True)]  # three runs, combined (no fallback to one run)
    assert _digest(tmp_path / "split") == _digest(tmp_path / "one")
    index = json.loads((tmp_path / "split" / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert any(d["location"].startswith("studies/") for d in index["docs"])
    _assert_offline_index_is_the_index(tmp_path / "split")


def test_a_share_excludes_what_needs_no_output_and_stubs_the_pages_of_the_navigation(tmp_path):
    """Unchanged files a run need not write are excluded; unchanged pages of the navigation become stubs that
    keep their title; files the configuration names (extra CSS) are always built."""
    nav = [{"Home": "index.md"}, {"Studies": ["studies/s0.md", "studies/s1.md"]}]
    config = {"use_directory_urls": False, "extra_css": ["assets/extra.css"], "nav": nav}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    files = ["docs/assets/extra.css", "docs/figures/a.svg", "docs/figures/b.svg", "docs/index.md"]
    files += [f"docs/studies/s{i}.md" for i in range(4)]
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(f"# Title of {rel}\n\nbody\n", encoding="utf-8")
    part = incremental.share(tmp_path, ["mkdocs.yml", *files], {"docs/figures/b.svg", "docs/studies/s0.md"}, False)
    assert part is not None
    assert part.excluded == ["figures/a.svg", "studies/s2.md", "studies/s3.md"]
    assert sorted(part.stubs) == ["index.md", "studies/s1.md"]
    assert (
        "# Title of docs/studies/s1.md\n" in part.stubs["studies/s1.md"] and "body" not in part.stubs["studies/s1.md"]
    )
    # Side by side runs exclude nothing: every page keeps its place in each run's search index.
    indexed = incremental.share(tmp_path, ["mkdocs.yml", *files], {"docs/studies/s0.md"}, True)
    assert indexed is not None and indexed.excluded == [] and len(indexed.stubs) == 4
    # Directory URLs put pages elsewhere than <page>.html: no share, the caller builds everything.
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(dict(config, use_directory_urls=True)), encoding="utf-8")
    assert incremental.share(tmp_path, ["mkdocs.yml", *files], set(), False) is None


def test_the_pages_of_the_navigation_are_found_at_every_depth():
    nav = [
        {"Home": "index.md"},
        {"Results": [{"A": "outcomes/a.md"}, {"B": [{"C": "outcomes/c.md"}]}]},
        {"Studies": ["studies/index.md"]},
    ]
    assert incremental._nav_pages(nav) == {
        "docs/index.md",
        "docs/outcomes/a.md",
        "docs/outcomes/c.md",
        "docs/studies/index.md",
    }
