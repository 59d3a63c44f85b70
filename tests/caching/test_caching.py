"""Reuse keys are derived from declared inputs only, and a declared output is taken or made by that key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT

from builder.caching import outputs
from builder.caching.digest import files_digest
from builder.caching.outputs import Output, Stored, derive
from builder.caching.reuse import KEYS, Reuse
from builder.caching.store import Store, builder_fingerprint
from builder.ingest.loader import load
from builder.report import pages


def test_a_key_depends_on_every_name_and_value_but_not_on_their_order():
    base = derive("page", {"a": "1", "b": ["x", "y"]})
    assert base is not None and len(base) == 32 and int(base, 16) >= 0
    assert derive("page", {"b": ["x", "y"], "a": "1"}) == base
    assert derive("figure", {"a": "1", "b": ["x", "y"]}) != base  # the kind
    assert derive("page", {"c": "1", "b": ["x", "y"]}) != base  # a name
    assert derive("page", {"a": "2", "b": ["x", "y"]}) != base  # a value
    assert derive("page", {"a": "1", "b": ["y", "x"]}) != base  # the order inside a value
    assert derive("page", {"a": "1", "b": ["x", "y"], "c": ""}) != base  # one more input, even empty
    assert derive("page", {"a": b"1", "b": ["x", "y"]}) == base  # text is hashed as its UTF-8 bytes


def test_parts_are_delimited():
    assert derive("k", {"v": ["a", "bc"]}) != derive("k", {"v": ["ab", "c"]})
    assert derive("k", {"v": "a"}) != derive("k", {"v": ["a"]})
    assert derive("k", {"ab": "c"}) != derive("k", {"a": "bc"})


def test_an_unknown_input_means_no_key():
    assert derive("k", {"a": "1", "b": None}) is None
    assert derive("k", {"a": ["1", None, "2"]}) is None
    assert Output("x.md", lambda: "x").key is None  # declared without inputs: always made
    assert Output("x.md", lambda: "x", kind="k", inputs={"a": "1"}).key == derive("k", {"a": "1"})


def test_the_key_covers_the_builder(monkeypatch):
    before = derive("k", {"a": "1"})
    assert len(builder_fingerprint()) == 64
    monkeypatch.setattr(outputs, "builder_fingerprint", lambda: "0" * 64)
    assert derive("k", {"a": "1"}) != before


def test_a_stored_value_is_found_under_its_inputs_only(tmp_path):
    store = Store(tmp_path)
    Stored("fits", {"plan": "p", "data": ["1", "2"]}).put(store, {"estimate": 0.25})
    assert Stored("fits", {"data": ["1", "2"], "plan": "p"}).get(store) == {"estimate": 0.25}
    assert Stored("fits", {"plan": "p", "data": ["1", "3"]}).get(store) is None
    assert store.hits == 1 and store.misses == 1
    Stored("fits", {"plan": None}).put(store, 1)  # no key: nothing kept
    assert len(list((tmp_path / "fits").glob("*.json"))) == 1
    assert Stored("fits", {"plan": "p", "data": ["1", "2"]}).get(None) is None


def _made(log: list, text: str):
    def make() -> str:
        log.append(text)
        return text

    return make


def test_an_output_is_taken_from_the_last_build_only_when_its_inputs_match(tmp_path):
    first = tmp_path / "first"
    reuse = Reuse(None, first / "docs")
    log: list[str] = []
    reuse.write(Output("studies/a.md", _made(log, "page a"), kind="study", inputs={"study": "a1"}))
    reuse.write(Output("studies/b.md", _made(log, "page b"), kind="study", inputs={"study": "b1"}))
    reuse.write(Output("index.md", _made(log, "home")))
    reuse.save(first)
    assert log == ["page a", "page b", "home"]
    assert set(json.loads((first / KEYS).read_text())["files"]) == {"studies/a.md", "studies/b.md"}

    second = tmp_path / "second"
    again = Reuse(first, second / "docs")
    log.clear()
    again.write(Output("studies/a.md", _made(log, "page a"), kind="study", inputs={"study": "a1"}))
    again.write(Output("studies/b.md", _made(log, "page b, corrected"), kind="study", inputs={"study": "b2"}))
    again.write(Output("index.md", _made(log, "home")))
    assert log == ["page b, corrected", "home"]
    assert again.taken == 1
    assert (second / "docs/studies/a.md").read_text() == "page a"
    assert (second / "docs/studies/b.md").read_text() == "page b, corrected"
    assert (first / "docs/studies/b.md").read_text() == "page b"  # the last build's file is not written through


@pytest.fixture(scope="module")
def review_data():
    return load(ROOT / "data")


def _keys(data, templates: Path, out: Path) -> dict[str, str]:
    from builder.analysis.run import run_all

    store = Store(out / "store")
    reuse = Reuse(None, out / "docs")
    pages.render_site(data, run_all(data, store), templates, out / "docs", store=store, reuse=reuse)
    return reuse.keys


def test_the_report_declares_its_reusable_outputs_and_a_template_reaches_them(review_data, tmp_path):
    import shutil

    keys = _keys(review_data, ROOT / "templates", tmp_path / "a")
    # The files that show the whole review are made from all of it (pages._whole_review); the others declare
    # what they show.
    made_from_all = pages._whole_review(review_data, ROOT / "templates", pages._only_version(review_data.review))
    assert made_from_all is not None
    whole = {rel for rel, key in keys.items() if key == derive(pages.WHOLE_REVIEW, made_from_all)}
    assert {"index.md", "methods.md", "studies/index.md", "results.json", "data.md"} <= whole
    declared = set(keys) - whole
    assert {rel.split("/")[0] for rel in declared} == {"studies", "outcomes", "figures", "downloads"}
    assert sum(rel.startswith("studies/") for rel in declared) == len(review_data.studies)
    assert sum(rel.startswith("outcomes/") for rel in declared) == len(review_data.review.outcomes)
    assert _keys(review_data, ROOT / "templates", tmp_path / "b") == keys  # the same inputs, the same keys

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "study.md.j2").write_text((templates / "study.md.j2").read_text() + "\n", encoding="utf-8")
    edited = _keys(review_data, templates, tmp_path / "c")
    changed = {rel for rel in keys if edited[rel] != keys[rel]}
    # Every page (study, outcome) and R script shows the shared part; the CSVs and figures do not; the files
    # made from the whole review are made from every template.
    assert changed == whole | {
        rel for rel in declared if rel.startswith(("studies/", "outcomes/")) or rel.endswith(".R")
    }


def test_the_one_file_digest_still_gives_the_fingerprints_releases_recorded():
    """Released manifests record data_hash: the shared digest must give exactly the value archived in 1.0."""
    release = ROOT / "versions" / "1.0"
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    assert files_digest(sorted((release / "data").rglob("*.yaml")), release) == manifest["data_hash"]
