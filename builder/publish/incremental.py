"""Run MkDocs on a share of the pages only: to rebuild just the pages whose Markdown changed since the last good
build (reusing the rest of its output), and to build a large site from nothing as several runs side by side
(build_split).

MkDocs always renders every page, which at hundreds of studies takes most of a build. When the configuration
(and with it the navigation) and the set of pages are unchanged, a page's HTML depends only on its own
Markdown, the configuration and the titles of the other pages. So this module:

1. compares the new Markdown sources with those of the last good build (recorded in `build/site-state.json`
   together with the size and modification time of every file that build wrote, so a site edited or
   damaged by hand is never reused);
2. runs MkDocs on the sources with the builder's plugin (builder.publish.mkdocs_plugin), told by a `Share`
   which unchanged page of the navigation to read as a stub: its first heading only (so its title, shown in
   the navigation of the other pages, stays the same), excluded from search and drawn with an empty
   template, so MkDocs writes nothing for it; the other unchanged files are excluded from the run (MkDocs
   still resolves links to them); the plugin also puts the changed pages' entries in place in the last
   site's search index;
3. assembles the new site from the old one (hard links, no copying) with the changed pages and files and
   the search index replaced.

Anything it cannot vouch for (a changed configuration, navigation or set of pages; most pages changed; a
theme file that comes out differently) returns None, and the caller runs the full build. A test builds
the same sources both ways and compares every byte.

build_split uses the same stubs, kept in the search index so that each run lists every page in the order a
single run would: each run renders its share of the pages, and the shares are combined, with the same
checks and the same fallback to one run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from builder.caching.digest import content_digest

STATE = "site-state.json"
STUB_TEMPLATE = "incremental-stub.html"
MAX_CHANGED_SHARE = 0.4  # above this, a full build costs about the same and is simpler
SEARCH_INDEX = "search/search_index.json"
# The same index as a script, which the offline plugin writes so that search works from a file:// URL.
SEARCH_SCRIPT = "search/search_index.js"
SEARCH_FILES = {SEARCH_INDEX, SEARCH_SCRIPT}
_FRONT_MATTER = re.compile(r"\A---\n(.*?\n)---\n", re.S)


def _digest(path: Path) -> str:
    return content_digest(path.read_bytes())


def source_hashes(src: Path) -> dict[str, str]:
    """The content hash of every file of a rendered source tree (mkdocs.yml and docs/)."""
    files = [src / "mkdocs.yml", *sorted(p for p in (src / "docs").rglob("*") if p.is_file())]
    return {p.relative_to(src).as_posix(): _digest(p) for p in files}


def _listing(site: Path, skip: set[str]) -> dict[str, list[int]]:
    out = {}
    for path in sorted(site.rglob("*")):
        rel = path.relative_to(site).as_posix()
        if path.is_file() and rel.split("/", 1)[0] not in skip:
            st = path.stat()
            out[rel] = [st.st_size, st.st_mtime_ns]
    return out


def record(build_dir: Path, src_hashes: dict[str, str], site: Path, skip: set[str], stamp: str = "") -> None:
    """After a good build: what its sources were and what it wrote (top-level folders in `skip` excluded)."""
    state = {"src": src_hashes, "site": _listing(site, skip), "stamp": stamp}
    (build_dir / STATE).write_text(json.dumps(state, sort_keys=True), encoding="utf-8")


def has_state(build_dir: Path) -> bool:
    """Whether a last good build recorded what it wrote (see build: whether its site may be reused)."""
    return (build_dir / STATE).is_file()


def forget(build_dir: Path) -> None:
    path = build_dir / STATE
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@dataclass
class Share:
    """What one MkDocs run with the builder's plugin renders: everything but the `excluded` files, with the
    `stubs` read instead of those pages' Markdown. Paths are relative to the docs folder (MkDocs' src_uri)."""

    excluded: list[str] = field(default_factory=list)  # left out: their output is in the last site
    stubs: dict[str, str] = field(default_factory=dict)  # page -> the Markdown to read instead
    merge_index: str | None = None  # the last site's search index, to put this run's entries into
    merged_pages: list[str] = field(default_factory=list)  # the pages (as .html) whose entries replace the old

    def to_json(self) -> dict[str, Any]:
        return {
            "excluded": self.excluded,
            "stubs": self.stubs,
            "merge_index": self.merge_index,
            "merged_pages": self.merged_pages,
        }


# run_mkdocs(config_path, site_dir, share): an MkDocs build of the configuration into site_dir with the plugin.
RunMkdocs = Callable[[Path, Path, Share], None]


def _stub(markdown: str, indexed: bool = False) -> str | None:
    """A page that keeps the original's title and nothing else, or None if the title cannot be kept.
    `indexed`: leave it in the search index (its title only), which marks the page's place in the index."""
    meta: dict = {}
    body = markdown
    m = _FRONT_MATTER.match(markdown)
    if m:
        meta = yaml.safe_load(m.group(1)) or {}
        body = markdown[m.end() :]
    heading = next((line for line in body.splitlines() if line.startswith("# ")), None)
    if heading is None:
        return None
    stub_meta = {"template": STUB_TEMPLATE} if indexed else {"template": STUB_TEMPLATE, "search": {"exclude": True}}
    if "title" in meta:
        stub_meta["title"] = meta["title"]
    return "---\n" + yaml.safe_dump(stub_meta, sort_keys=True) + "---\n\n" + heading + "\n"


def _page_of(location: str) -> str:
    return location.split("#", 1)[0]


def merge_search(old: dict, new: dict, changed_urls: set[str]) -> dict | None:
    """The old index with the entries of the changed pages replaced, in place; None if that is not possible."""
    if old.get("config") != new.get("config"):
        return None
    fresh: dict[str, list] = {}
    for entry in new["docs"]:
        fresh.setdefault(_page_of(entry["location"]), []).append(entry)
    if set(fresh) - changed_urls:
        return None  # a stub was indexed after all
    docs, done = [], set()
    for entry in old["docs"]:
        page = _page_of(entry["location"])
        if page not in changed_urls:
            docs.append(entry)
        elif page not in done:
            docs.extend(fresh.get(page, []))
            done.add(page)
    if set(fresh) - done:
        return None  # a page that had no entries now has some: its place in the order is unknown
    return {"config": old["config"], "docs": docs}


def write_search_index(path: Path | str, index: dict, script: bool = False) -> None:
    """As the theme's search plugin writes it; with `script`, also beside it as the offline plugin writes its
    script form (search_index.js, for pages opened from disk): `var __index = ` and the same JSON. Both are
    written as new files, never through a link into the last good site."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(index, separators=(",", ":"), default=str)
    targets = {path: text}
    if script:
        targets[path.with_name(Path(SEARCH_SCRIPT).name)] = "var __index = " + text
    for target, content in targets.items():
        target.unlink(missing_ok=True)
        target.write_text(content, encoding="utf-8")


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _nav_pages(nav) -> set[str]:
    """The pages (paths under docs/) the navigation lists."""
    out: set[str] = set()
    for item in nav if isinstance(nav, list) else []:
        value = next(iter(item.values())) if isinstance(item, dict) and len(item) == 1 else item
        if isinstance(value, str):
            out.add("docs/" + value)
        elif isinstance(value, list):
            out |= _nav_pages(value)
    return out


def _config_files(config: dict) -> set[str]:
    """Files of docs/ that the configuration itself names (extra CSS and JavaScript): never excluded."""
    out = set()
    for item in (config.get("extra_css") or []) + (config.get("extra_javascript") or []):
        path = item.get("path") if isinstance(item, dict) else item
        if isinstance(path, str):
            out.add("docs/" + path.lstrip("/"))
    return out


def share(src: Path, files: list[str], real: set[str], indexed: bool) -> Share | None:
    """What a run over the sources of `src` (`files`: paths relative to it) needs so as to render only the
    files in `real`, every other page of the navigation as a stub; None if the pages cannot be stubbed.

    Unless `indexed`, a file not in `real` needs no output: a page the navigation does not list needs no
    title either, and a static file (figure, download) is already in the last site. Such files are excluded
    from the run, so MkDocs neither renders nor copies them but still resolves the links other pages make to
    them. At hundreds of studies, most files are such files."""
    config = yaml.safe_load((src / "mkdocs.yml").read_text(encoding="utf-8"))
    if config.get("use_directory_urls", True) or "exclude_docs" in config:
        return None  # page outputs are found as <page>.html; exclusions are ours to set
    in_nav = _nav_pages(config.get("nav"))
    named = _config_files(config)
    out = Share()
    for rel in files:
        if rel == "mkdocs.yml" or rel in real:
            continue
        page = rel.endswith(".md")
        uri = rel.removeprefix("docs/")
        if not indexed and rel not in named and not (page and rel in in_nav):
            out.excluded.append(uri)
        elif page:
            stub = _stub((src / rel).read_text(encoding="utf-8"), indexed)
            if stub is None:
                return None
            out.stubs[uri] = stub
    return out


def _out(page: str) -> str:
    """Where MkDocs writes a page of the sources (docs/a/b.md -> a/b.html; use_directory_urls is off)."""
    return page.removeprefix("docs/")[:-3] + ".html"


def _files_of(site: Path) -> set[str]:
    return {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}


def _deal(src: Path, pages: list[str], parts: int) -> list[set[str]]:
    """The pages dealt into `parts` shares of about the same size: largest first, to the least loaded."""
    shares: list[set[str]] = [set() for _ in range(parts)]
    load = [0] * parts
    for page in sorted(pages, key=lambda p: (-(src / p).stat().st_size, p)):
        i = load.index(min(load))
        shares[i].add(page)
        load[i] += (src / page).stat().st_size
    return shares


def _outputs_agree(sites: list[Path], owner: dict[str, int]) -> set[str] | None:
    """The files every run wrote alike (all but the pages and the search index), or None if the runs disagree:
    such a file missing from one run or different in it, a page missing from its run, or a stub that produced
    a page."""
    listing = [_files_of(site) for site in sites]
    common = set.union(*listing) - set(owner) - SEARCH_FILES
    if any(rel not in files_of for rel in common for files_of in listing):
        return None
    for rel in common:
        first = _digest(sites[0] / rel)
        if any(_digest(site / rel) != first for site in sites[1:]):
            return None
    if any(
        rel not in listing[o] or any(rel in listing[i] for i in range(len(sites)) if i != o) for rel, o in owner.items()
    ):
        return None
    return common


def _entries_by_page(index: dict) -> tuple[list[str], dict[str, list]]:
    """The pages of a search index in its order, and each page's entries."""
    order: list[str] = []
    by_page: dict[str, list] = {}
    for entry in index["docs"]:
        page = _page_of(entry["location"])
        if page not in by_page:
            by_page[page] = []
            order.append(page)
        by_page[page].append(entry)
    return order, by_page


def _combined_index(sites: list[Path], owner: dict[str, int]) -> dict | None:
    """The search index of the whole site: the entries of each page from the run that rendered it, in the order
    every run lists the pages (the stubs keep their place); None if the runs disagree on that order."""
    indexes = [json.loads((site / SEARCH_INDEX).read_text(encoding="utf-8")) for site in sites]
    if any(ix["config"] != indexes[0]["config"] for ix in indexes[1:]):
        return None
    split = [_entries_by_page(ix) for ix in indexes]
    orders = [order for order, _ in split]
    if any(order != orders[0] for order in orders[1:]) or set(orders[0]) - set(owner):
        return None
    docs = [entry for page in orders[0] for entry in split[owner[page]][1].get(page, [])]
    return {"config": indexes[0]["config"], "docs": docs}


def build_split(
    src: Path, out_site: Path, work: Path, run_side_by_side: Callable[[list[tuple[Path, Share]]], None], parts: int
) -> bool:
    """A build from nothing as `parts` MkDocs runs side by side, each rendering a share of the pages (the rest as
    stubs that keep their place in the search index); their outputs are combined into `out_site`. False if
    they cannot be combined safely, in which case the caller builds in one run.

    `run_side_by_side([(site_dir, share), ...])` runs the MkDocs builds of src/mkdocs.yml in parallel."""
    files = sorted(source_hashes(src))
    runs = []
    for i, pages in enumerate(_deal(src, [p for p in files if p.endswith(".md")], parts)):
        part = share(src, files, pages, indexed=True)
        if part is None:
            return False
        runs.append((work / f"part-{i}" / "site", part, pages))
    run_side_by_side([(site, part) for site, part, _ in runs])
    sites = [site for site, _, _ in runs]
    owner = {_out(p): i for i, (_, _, pages) in enumerate(runs) for p in pages}
    common = _outputs_agree(sites, owner)
    index = _combined_index(sites, owner) if common is not None else None
    if common is None or index is None:
        return False
    shutil.rmtree(out_site, ignore_errors=True)
    for rel in sorted(common):
        _link_or_copy(sites[0] / rel, out_site / rel)
    for rel, i in owner.items():
        _link_or_copy(sites[i] / rel, out_site / rel)
    write_search_index(out_site / SEARCH_INDEX, index, script=(sites[0] / SEARCH_SCRIPT).is_file())
    return True


# Written by MkDocs for the whole site from the list of pages, the configuration and the build date (the
# pages' last modification). Pages excluded from an incremental run are missing from its sitemap; when the
# pages, the configuration and the date are those of the last build, its sitemap is the right one.
SITEMAPS = {"sitemap.xml", "sitemap.xml.gz"}


@dataclass
class _Change:
    """How the sources of a build differ from the last good build's (paths relative to the sources)."""

    pages: set[str]
    changed_pages: set[str]
    statics: set[str]
    changed_statics: set[str]
    removed_statics: set[str]

    def none(self) -> bool:
        return not (self.changed_pages or self.changed_statics or self.removed_statics)


def _last_good(build_dir: Path, old_site: Path, skip: set[str], stamp: str) -> dict | None:
    """The state the last good build recorded, if its site is still what it wrote, for the same date."""
    state_path = build_dir / STATE
    if not (state_path.is_file() and old_site.is_dir()):
        return None
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        state = None
    if not _is_state(state):
        print(f"review: build/{STATE} is not a record of a build; every page is rendered anew", file=sys.stderr)
        forget(build_dir)
        return None
    if _listing(old_site, skip) != state.get("site") or state.get("stamp", "") != stamp:
        return None
    return state


def _is_state(state: object) -> bool:
    """Whether `state` has the form `record` writes: sources' hashes, the site's files' size and time, a stamp."""
    if not isinstance(state, dict) or not isinstance(state.get("stamp", ""), str):
        return False
    src, site = state.get("src"), state.get("site")
    return (
        isinstance(src, dict)
        and all(isinstance(v, str) for v in src.values())
        and isinstance(site, dict)
        and all(isinstance(v, list) for v in site.values())
    )


def _since_last(
    build_dir: Path, old_site: Path, skip: set[str], stamp: str, new_hashes: dict[str, str]
) -> tuple[list[str], _Change] | None:
    """The files of the last good site and what changed since its build, or None if it cannot be reused."""
    state = _last_good(build_dir, old_site, skip, stamp)
    change = _compare(state["src"], new_hashes) if state is not None else None
    return None if state is None or change is None else (list(state["site"]), change)


def _pages(hashes: dict[str, str]) -> set[str]:
    return {p for p in hashes if p.endswith(".md")}


def _statics(hashes: dict[str, str]) -> set[str]:
    return {p for p in hashes if not p.endswith(".md") and p != "mkdocs.yml"}


def _compare(old_hashes: dict[str, str], new_hashes: dict[str, str]) -> _Change | None:
    """What changed, or None if the reuse cannot be vouched for: a changed configuration or set of pages, or
    too many pages changed for a partial run to gain."""
    if new_hashes.get("mkdocs.yml") != old_hashes.get("mkdocs.yml"):
        return None
    pages = _pages(new_hashes)
    if pages != _pages(old_hashes):
        return None
    changed_pages = {p for p in pages if new_hashes[p] != old_hashes[p]}
    if len(changed_pages) > MAX_CHANGED_SHARE * len(pages):
        return None
    statics, old_statics = _statics(new_hashes), _statics(old_hashes)
    changed_statics = {p for p in statics if new_hashes[p] != old_hashes.get(p)}
    return _Change(pages, changed_pages, statics, changed_statics, old_statics - statics)


def _theme_outputs_agree(fresh_site: Path, old_site: Path, change: _Change) -> bool:
    """Whether everything the theme wrote for the whole site came out as before (it depends on the navigation
    only), and no stub produced a page: otherwise the reuse is not safe."""
    produced = _files_of(fresh_site)
    expected_new = {_out(p) for p in change.changed_pages} | {p.removeprefix("docs/") for p in change.statics}
    unchanged_outputs = {_out(p) for p in change.pages - change.changed_pages}
    for rel in produced - expected_new - SEARCH_FILES - SITEMAPS:
        old_file = old_site / rel
        if rel in unchanged_outputs or not old_file.is_file() or _digest(old_file) != _digest(fresh_site / rel):
            return False
    return not any((fresh_site / out).exists() for out in unchanged_outputs)


def build(
    new_src: Path,
    build_dir: Path,
    old_site: Path,
    out_site: Path,
    work: Path,
    run_mkdocs: RunMkdocs,
    skip: set[str],
    stamp: str = "",
    new_hashes: dict[str, str] | None = None,
) -> tuple[int, int] | None:
    """Build `new_src` into `out_site` from the last good build: (pages re-rendered, pages), or None if a full
    build is needed instead.

    `run_mkdocs(config_path, site_dir, share)` runs MkDocs with the builder's plugin. `skip`: top-level folders
    of the site that are not this build's (the archived versions). `stamp`: what else MkDocs' output depends
    on (the build date); the last build's must be the same. `new_hashes`: source_hashes(new_src), if known."""
    new_hashes = new_hashes if new_hashes is not None else source_hashes(new_src)
    since = _since_last(build_dir, old_site, skip, stamp, new_hashes)
    if since is None:
        return None
    old_files, change = since
    if change.none():
        _link_all(old_site, out_site, old_files, set())
        return 0, len(change.pages)

    # 1. The run: changed pages and files as they are, unchanged pages of the navigation as stubs, everything
    # else excluded; the changed pages' search entries put in place in the last site's index.
    part = _changed_share(new_src, sorted(new_hashes), change, old_site)
    if part is None:
        return None
    fresh_site = work / "site"
    replaced = {_out(p) for p in change.changed_pages} | {p.removeprefix("docs/") for p in change.changed_statics}
    gone = {p.removeprefix("docs/") for p in change.removed_statics} | SEARCH_FILES
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(run_mkdocs, new_src / "mkdocs.yml", fresh_site, part)
        # Meanwhile, the new site starts as the old one's files that stay.
        _link_all(old_site, out_site, old_files, replaced | gone)
        running.result()

    # 2. Only if the theme's outputs agree with the last site's; 3. the new site: the old one's files that
    # stay (linked above), the changed pages and files, the search index.
    if not _theme_outputs_agree(fresh_site, old_site, change):
        return None
    index = _search_files(fresh_site if change.changed_pages else old_site, fresh_site)
    if index is None:
        return None
    for rel in sorted(replaced):
        if (fresh_site / rel).is_file():
            _link_or_copy(fresh_site / rel, out_site / rel)
    for path in index:
        _link_or_copy(path, out_site / path.relative_to(path.parent.parent))
    return len(change.changed_pages), len(change.pages)


def _search_files(index_site: Path, fresh_site: Path) -> list[Path] | None:
    """The search index of the new site (and its script form, if the site has the offline plugin), from the
    run when it rendered pages, else from the last site; None if there is none or if the run and the last site
    disagree on the script form (the offline plugin was switched on or off)."""
    if not (index_site / SEARCH_INDEX).is_file():
        return None  # the plugin could not put the changed pages' entries in place
    if (index_site / SEARCH_SCRIPT).is_file() != (fresh_site / SEARCH_SCRIPT).is_file():
        return None
    return [index_site / rel for rel in sorted(SEARCH_FILES) if (index_site / rel).is_file()]


def _changed_share(src: Path, files: list[str], change: _Change, old_site: Path) -> Share | None:
    """The run that renders the changed pages and files, and puts the changed pages' search entries in place
    in the last site's index."""
    part = share(src, files, change.changed_pages | change.changed_statics, indexed=False)
    if part is not None and change.changed_pages:
        part.merge_index = str(old_site / SEARCH_INDEX)
        part.merged_pages = sorted(_out(p) for p in change.changed_pages)
    return part


def _link_all(old_site: Path, out_site: Path, files: list[str], leave: set[str]) -> None:
    """`out_site` made anew from the files of the last site, those in `leave` left out."""
    shutil.rmtree(out_site, ignore_errors=True)
    for rel in files:
        if rel not in leave:
            _link_or_copy(old_site / rel, out_site / rel)
