"""MkDocs driven through its Python API in a process of its own (builder.publish.mkdocs_warm), with the builder's
plugin for the runs that render a share of the pages (builder.publish.mkdocs_plugin)."""

from __future__ import annotations

import json
from pathlib import Path

from builder.publish import incremental
from builder.publish.mkdocs_warm import Warm, build_site, run_fresh

CONFIG = """site_name: Tiny
use_directory_urls: false
theme:
  name: material
  font: false
plugins:
  - search
nav:
  - index.md
  - other.md
"""


def _project(root: Path) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "mkdocs.yml").write_text(CONFIG, encoding="utf-8")
    (root / "docs" / "index.md").write_text("# Home page\n\nSee [the other](other.md).\n", encoding="utf-8")
    (root / "docs" / "other.md").write_text("# Other page\n\nSome words to index.\n", encoding="utf-8")
    (root / "docs" / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    return root / "mkdocs.yml"


def _request(config: Path, site: Path, share: incremental.Share | None = None) -> dict:
    return {
        "config": str(config),
        "site_dir": str(site),
        "env": {"SOURCE_DATE_EPOCH": "0"},
        "share": share.to_json() if share else None,
    }


def _files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def test_a_warm_process_builds_the_site_a_fresh_one_builds(tmp_path):
    config = _project(tmp_path)
    warm = Warm()
    try:
        done = warm.run(_request(config, tmp_path / "warm"))
        assert done is not None and done.ok, done
        assert warm.run(_request(config, tmp_path / "again")) is None  # one run per process
    finally:
        warm.close()
    fresh = run_fresh(_request(config, tmp_path / "fresh"))
    assert fresh.ok, fresh.log
    built = _files(tmp_path / "warm")
    assert built == _files(tmp_path / "fresh")
    assert {"index.html", "other.html", "data.csv", "search/search_index.json"} <= set(built)


def test_mkdocs_status_and_warnings_come_back(tmp_path):
    config = _project(tmp_path)
    (tmp_path / "docs" / "index.md").write_text("# Home\n\n[gone](missing.md)\n", encoding="utf-8")
    done = run_fresh(_request(config, tmp_path / "site"))
    assert not done.ok
    assert "missing.md" in done.log and "strict mode" in done.log


def test_an_unused_warm_process_is_ended():
    warm = Warm()
    proc = warm._proc
    assert proc is not None
    warm.close()
    assert proc.poll() is not None and warm.run({}) is None


def test_the_plugin_renders_only_its_share(tmp_path):
    """Excluded files are neither rendered nor copied, stubs write nothing but keep their title in the other
    pages' navigation; the theme's compiled templates are not kept on disk (bytecode is code)."""
    config = _project(tmp_path)
    share = incremental.share(tmp_path, ["docs/data.csv", "docs/index.md", "docs/other.md"], {"docs/index.md"}, False)
    assert share is not None
    assert share.excluded == ["data.csv"] and list(share.stubs) == ["other.md"]
    done = build_site(_request(config, tmp_path / "site", share))
    assert done.ok, done.log
    built = _files(tmp_path / "site")
    assert "index.html" in built and "other.html" not in built and "data.csv" not in built
    assert "Other page" in built["index.html"].decode()
    assert not list(tmp_path.rglob("*.cache"))  # no Jinja bytecode files anywhere
    index = json.loads(built["search/search_index.json"])
    assert index["docs"] and all(d["location"].startswith("index.html") for d in index["docs"])


def test_the_plugin_puts_the_new_entries_in_place_in_the_last_index(tmp_path):
    config = _project(tmp_path)
    assert build_site(_request(config, tmp_path / "old")).ok
    (tmp_path / "docs" / "index.md").write_text("# Home page\n\nNew words. See [the other](other.md).\n", "utf-8")
    share = incremental.share(tmp_path, ["docs/data.csv", "docs/index.md", "docs/other.md"], {"docs/index.md"}, False)
    assert share is not None
    share.merge_index = str(tmp_path / "old" / "search" / "search_index.json")
    share.merged_pages = ["index.html"]
    assert build_site(_request(config, tmp_path / "new", share)).ok
    assert build_site(_request(config, tmp_path / "full")).ok
    merged = (tmp_path / "new" / "search" / "search_index.json").read_bytes()
    assert merged == (tmp_path / "full" / "search" / "search_index.json").read_bytes()
    assert b"New words" in merged and b"Some words to index" in merged
