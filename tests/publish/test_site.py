"""The built site: pages, results.json, no outside requests, byte-identical rebuilds, Zensical."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from conftest import TODAY, copy_project

from builder.publish.build import build, mkdocs_build

REQUIRED_ANALYSIS_FIELDS = {
    "id",
    "outcome",
    "measure",
    "model",
    "method",
    "ci_method",
    "scale",
    "continuity_correction",
    "studies",
    "pooled",
    "heterogeneity",
}
REQUIRED_STUDY_FIELDS = {"id", "label", "inputs", "yi", "vi", "weight"}
REQUIRED_POOLED = {"estimate", "se", "ci_low", "ci_high", "statistic", "p", "pi_low", "pi_high"}
REQUIRED_HET = {"q", "df", "q_p", "tau2", "i2", "h2"}


def results(project: Path) -> dict:
    return json.loads((project / "site/results.json").read_text(encoding="utf-8"))


def test_every_page_exists(built):
    site = built / "site"
    for page in (
        "index.html",
        "methods.html",
        "data.html",
        "studies/index.html",
        "outcomes/survival.html",
        "outcomes/crp.html",
        "outcomes/d-dimer.html",
        "outcomes/il-6.html",
        "studies/shu-2020.html",
        "results.json",
        "results.csv",
        "schema/study.schema.json",
        "figures/survival-primary.svg",
    ):
        assert (site / page).is_file(), page


def test_results_json_has_the_public_fields(built):
    doc = results(built)
    assert {"title", "version", "date", "data_hash", "builder_version"} <= set(doc["review"])
    assert (
        len(doc["analyses"])
        == len(yaml.safe_load((built / "data/review.yaml").read_text(encoding="utf-8"))["analyses"])
        >= 11
    )
    for a in doc["analyses"]:
        assert REQUIRED_ANALYSIS_FIELDS <= set(a), a["id"]
        assert a["measure"] in {"OR", "RR", "RD", "MD", "SMD", "ROM", "HR", "GEN"}
        for s in a["studies"]:
            assert REQUIRED_STUDY_FIELDS <= set(s)
        if a["pooled"] is not None:
            assert REQUIRED_POOLED <= set(a["pooled"])
            assert REQUIRED_HET <= set(a["heterogeneity"])


def test_survival_reproduction_matches_the_source_review(built):
    """Cao et al. printed OR 2.87 (1.16 to 7.15), P = 0.02, Q p = 0.64, I² = 0%, 67/74 vs 87/109."""
    import math

    a = next(a for a in results(built)["analyses"] if a["id"] == "survival-reproduction")
    p = a["pooled"]
    assert (a["model"], a["method"], a["continuity_correction"]) == ("fixed", "MH", 0.5)
    assert f"{math.exp(p['estimate']):.2f}" == "2.87"
    assert f"{math.exp(p['ci_low']):.2f}" == "1.16"
    assert f"{math.exp(p['ci_high']):.2f}" == "7.15"
    assert f"{p['p']:.2f}" == "0.02"
    assert f"{a['heterogeneity']['q_p']:.2f}" == "0.64"
    assert round(a["heterogeneity"]["i2"]) == 0
    events = [
        (s["inputs"]["events_exp"], s["inputs"]["total_exp"], s["inputs"]["events_ctrl"], s["inputs"]["total_ctrl"])
        for s in a["studies"]
    ]
    assert [sum(col) for col in zip(*events)] == [67, 74, 87, 109]


def test_reproduction_page_says_every_check_agrees(built):
    html = (built / "site/outcomes/survival.html").read_text(encoding="utf-8")
    section = html.split('id="survival-reproduction"')[1].split('id="survival-fixed-mh"')[0]
    assert section.count('<td style="text-align: center;">yes</td>') >= 8
    assert "<strong>no</strong>" not in section


def test_outcome_without_data_says_so_and_lists_what_is_missing(built):
    html = (built / "site/outcomes/il-6.html").read_text(encoding="utf-8")
    assert "No pooled estimate yet" in html
    for label in ("Chen 2020", "Guo 2020", "Sánchez-Guijo 2020"):
        assert label in html
    assert "−3.97" in html or "-3.97" in html  # the source review's result, shown as printed


class _Requests(HTMLParser):
    """Collects every URL the browser would fetch on its own (not links a reader may click)."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "audio", "video", "source", "embed") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href") and attrs.get("rel") not in ("canonical", "alternate"):
            self.urls.append(attrs["href"])
        if tag == "object" and attrs.get("data"):
            self.urls.append(attrs["data"])


def test_no_page_prints_a_placeholder(built):
    """Every HTML file of the site, the archived versions' pages included, has its placeholders filled."""
    pages = sorted((built / "site").rglob("*.html"))
    assert any(p.parts[-2] == "v1.0" for p in pages) and any(p.parts[-2] == "v1.1" for p in pages)
    raw = [p.relative_to(built / "site").as_posix() for p in pages if "[[" in p.read_text(encoding="utf-8")]
    assert raw == []
    flow = (built / "site/v1.0/flow.html").read_text(encoding="utf-8")
    assert '<span class="stat" data-source="flow:full_texts_assessed">41</span>' in flow


def test_site_requests_nothing_from_other_hosts(built):
    external = []
    for page in (built / "site").rglob("*.html"):
        parser = _Requests()
        parser.feed(page.read_text(encoding="utf-8"))
        external += [(page.name, u) for u in parser.urls if re.match(r"^(https?:)?//", u)]
    for css in (built / "site").rglob("*.css"):
        external += [
            (css.name, u)
            for u in re.findall(r"url\((?:['\"])?((?:https?:)?//[^)'\"]+)", css.read_text(encoding="utf-8"))
        ]
        external += [
            (css.name, u)
            for u in re.findall(r"@import\s+['\"]?((?:https?:)?//[^'\";]+)", css.read_text(encoding="utf-8"))
        ]
    assert external == []


def test_free_text_from_the_data_is_escaped(project):
    path = project / "data/studies/tang-2020.yaml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(
        r"\n  title: .*", '\n  title: "<script>alert(1)</script> *not emphasis* [x](javascript:y)"', text, count=1
    )
    path.write_text(text, encoding="utf-8")
    review = project / "data/review.yaml"  # changed data needs a new version number to build
    review.write_text(
        re.sub(r'(?m)^version: ".*"$', 'version: "9.9"', review.read_text(encoding="utf-8")), encoding="utf-8"
    )
    build(project, today=TODAY)
    html = (project / "site/studies/tang-2020.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<em>not emphasis</em>" not in html and 'href="javascript' not in html


def test_labels_that_reach_menus_cannot_hold_markup(project):
    from builder.errors import DataError
    from builder.ingest.loader import load

    path = project / "data/studies/tang-2020.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("label: Tang 2020", "label: <b>Tang</b>", 1), encoding="utf-8"
    )
    with pytest.raises(DataError) as info:
        load(project / "data", today=TODAY)
    [p] = info.value.problems
    assert p.field == "label" and "'<'" in p.message


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_two_builds_are_byte_identical(built, tmp_path):
    other = copy_project(tmp_path / "again")
    build(other, today=TODAY)
    assert _digest(other / "site") == _digest(built / "site")


def test_zensical_builds_the_same_configuration(built, tmp_path):
    """Material for MkDocs reaches end of life in 2027; its successor must build our configuration as is."""
    zensical = Path(sys.executable).with_name("zensical")
    if not zensical.exists():
        pytest.fail("zensical is not installed; it is pinned in requirements.lock")
    src = tmp_path / "src"
    shutil.copytree(built / "build/current", src)
    mkdocs_build(src / "mkdocs.yml", src / "site", TODAY, engine="zensical")  # BuildError if it fails
    out = src / "site"
    assert (out / "outcomes/survival.html").is_file()
    page = (out / "outcomes/survival.html").read_text(encoding="utf-8")
    assert "survival-reproduction" in page and "<svg" in page and "review-figure" not in page


def test_a_rebuild_from_the_cache_is_byte_identical(built, tmp_path):
    """Archived versions come from build/cache on the second build; the site must not differ by a byte."""
    again = copy_project(tmp_path / "cached")
    build(again, today=TODAY)
    assert any((again / "build/cache").iterdir())
    build(again, today=TODAY)
    assert _digest(again / "site") == _digest(built / "site")
