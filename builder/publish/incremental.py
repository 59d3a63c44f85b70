"""Run MkDocs on a share of the pages only: to rebuild just the pages whose Markdown changed since the last good
build (reusing the rest of its output), and to build a large site from nothing as several runs side by side
(build_split).

MkDocs always renders every page, which at hundreds of studies takes most of a build. When the configuration
(and with it the navigation) and the set of pages are unchanged, a page's HTML depends only on its own
Markdown, the configuration and the titles of the other pages. So this module:

1. compares the new Markdown sources with those of the last good build (recorded in `build/site-state.json`
   together with the size and modification time of every file that build wrote, so a site edited or
   damaged by hand is never reused);
2. runs MkDocs on a copy of the sources in which every unchanged page of the navigation is a stub: its first
   heading only (so its title, shown in the navigation of the other pages, stays the same), excluded from
   search and drawn with an empty template, so MkDocs writes nothing for it; the other unchanged files are
   excluded from the run (MkDocs still resolves links to them);
3. assembles the new site from the old one (hard links, no copying) with the changed pages and files
   replaced, and the changed pages' entries replaced in the search index.

Anything it cannot vouch for (a changed configuration, navigation or set of pages; most pages changed; a
theme file that comes out differently) returns None, and the caller runs the full build. A test builds
the same sources both ways and compares every byte.

build_split uses the same stubs, kept in the search index so that each run lists every page in the order a
single run would: each run renders its share of the pages, and the shares are combined, with the same
checks and the same fallback to one run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

STATE = "site-state.json"
STUB_TEMPLATE = "incremental-stub.html"
MAX_CHANGED_SHARE = 0.4  # above this, a full build costs about the same and is simpler
SEARCH_INDEX = "search/search_index.json"
_FRONT_MATTER = re.compile(r"\A---\n(.*?\n)---\n", re.S)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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


def forget(build_dir: Path) -> None:
    (build_dir / STATE).unlink(missing_ok=True)


def _stub(markdown: str, indexed: bool = False) -> str | None:
    """A page that keeps the original's title and nothing else, or None if the title cannot be kept.
    `indexed`: leave it in the search index (its title only), which marks the page's place in the index."""
    meta, body = {}, markdown
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


def _merge_search(old: dict, new: dict, changed_urls: set[str]) -> dict | None:
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


def _exclusions(excluded: list[str], files: list[str]) -> str:
    """`exclude_docs` patterns for the `excluded` files ("/dir/name.ext") among `files` (paths under docs/):
    files of one folder and extension that are mostly excluded get one pattern for them all and an exception
    for each of the others, as MkDocs matches every file against every pattern and hundreds of patterns cost
    it a third of a second. (Patterns name an extension so that they never exclude a folder, which no
    exception could undo.)"""
    groups: dict[tuple[str, str], list[str]] = {}
    for path in files:
        rel = "/" + path.removeprefix("docs/")
        folder, name = rel.rsplit("/", 1)
        groups.setdefault((folder, name.rsplit(".", 1)[1] if "." in name else ""), []).append(rel)
    out = set(excluded)
    lines = []
    for (folder, ext), members in sorted(groups.items()):
        inside = [m for m in members if m in out]
        others = [m for m in members if m not in out]
        if ext and len(inside) > len(others) + 1:
            lines.append(f"{folder}/*.{ext}")
            lines.extend(f"!{m}" for m in others)
        else:
            lines.extend(inside)
    return "\n".join(lines) + "\n"


def _config_files(config: dict) -> set[str]:
    """Files of docs/ that the configuration itself names (extra CSS and JavaScript): never excluded."""
    out = set()
    for item in (config.get("extra_css") or []) + (config.get("extra_javascript") or []):
        path = item.get("path") if isinstance(item, dict) else item
        if isinstance(path, str):
            out.add("docs/" + path.lstrip("/"))
    return out


def _stubbed_sources(src: Path, files: list[str], real: set[str], work: Path, indexed: bool) -> Path | None:
    """Write into `work` the sources of `src` (`files`: paths relative to it) with every page not in `real` made
    a stub; return the configuration to build, or None if the pages cannot be stubbed.

    Unless `indexed`, a file not in `real` needs no output: a page the navigation does not list needs no
    title either, and a static file (figure, download) is already in the last site. Such files are linked as
    they are and excluded from the build (`exclude_docs`), so MkDocs neither renders nor copies them but still
    resolves the links other pages make to them. At hundreds of studies, most files are such files."""
    shutil.rmtree(work, ignore_errors=True)
    config = yaml.safe_load((src / "mkdocs.yml").read_text(encoding="utf-8"))
    if (
        not isinstance(config.get("theme"), dict)
        or "custom_dir" in config["theme"]
        or config.get("use_directory_urls", True)
        or "exclude_docs" in config
    ):
        return None  # page outputs are found as <page>.html; exclusions are ours to set
    in_nav = _nav_pages(config.get("nav"))
    named = _config_files(config)
    excluded = []
    for rel in files:
        if rel == "mkdocs.yml":
            continue
        dst = work / rel
        page = rel.endswith(".md")
        if not indexed and rel not in real and rel not in named and not (page and rel in in_nav):
            _link_or_copy(src / rel, dst)
            excluded.append("/" + rel.removeprefix("docs/"))
        elif page and rel not in real:
            stub = _stub((src / rel).read_text(encoding="utf-8"), indexed)
            if stub is None:
                return None
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(stub, encoding="utf-8")
        else:
            _link_or_copy(src / rel, dst)
    if excluded:
        config["exclude_docs"] = _exclusions(excluded, [r for r in files if r != "mkdocs.yml"])
    config["hooks"] = [str(Path(__file__).with_name("mkdocs_hooks.py"))]
    config["theme"]["custom_dir"] = "stub-theme"
    (work / "stub-theme").mkdir(parents=True, exist_ok=True)
    (work / "stub-theme" / STUB_TEMPLATE).write_text("", encoding="utf-8")
    config_path = work / "mkdocs.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return config_path


def _out(page: str) -> str:
    """Where MkDocs writes a page of the sources (docs/a/b.md -> a/b.html; use_directory_urls is off)."""
    return page.removeprefix("docs/")[:-3] + ".html"


def build_split(src: Path, out_site: Path, work: Path, run_side_by_side, parts: int) -> bool:
    """A build from nothing as `parts` MkDocs runs side by side, each rendering a share of the pages (the rest as
    stubs that keep their place in the search index); their outputs are combined into `out_site`. False if
    they cannot be combined safely, in which case the caller builds in one run.

    `run_side_by_side([(config_path, site_dir), ...])` runs the MkDocs builds in parallel."""
    files = sorted(source_hashes(src))
    pages = [p for p in files if p.endswith(".md")]
    shares: list[set[str]] = [set() for _ in range(parts)]
    load = [0] * parts
    for page in sorted(pages, key=lambda p: (-(src / p).stat().st_size, p)):  # largest first, to the least loaded
        i = load.index(min(load))
        shares[i].add(page)
        load[i] += (src / page).stat().st_size
    runs = []
    for i, share in enumerate(shares):
        config = _stubbed_sources(src, files, share, work / f"part-{i}", indexed=True)
        if config is None:
            return False
        runs.append((config, work / f"part-{i}" / "site"))
    run_side_by_side(runs)
    sites = [site for _, site in runs]
    owner = {_out(p): i for i, share in enumerate(shares) for p in share}

    # Every file but the pages and the search index must come out the same from every run.
    listing = [{p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()} for site in sites]
    common = set.union(*listing) - set(owner) - {SEARCH_INDEX}
    if any(rel not in files_of for rel in common for files_of in listing):
        return False
    for rel in common:
        first = _digest(sites[0] / rel)
        if any(_digest(site / rel) != first for site in sites[1:]):
            return False
    if any(rel not in listing[owner[rel]] for rel in owner) or any(
        rel in listing[i] for rel, o in owner.items() for i in range(parts) if i != o
    ):
        return False  # a page missing from its run, or a stub that produced a page

    # The search index: the entries of each page from the run that rendered it, in the order every run
    # lists the pages (the stubs keep their place).
    indexes = [json.loads((site / SEARCH_INDEX).read_text(encoding="utf-8")) for site in sites]
    if any(ix["config"] != indexes[0]["config"] for ix in indexes[1:]):
        return False
    by_page = [{} for _ in sites]
    orders = []
    for i, ix in enumerate(indexes):
        order: list[str] = []
        for entry in ix["docs"]:
            page = _page_of(entry["location"])
            if page not in by_page[i]:
                by_page[i][page] = []
                order.append(page)
            by_page[i][page].append(entry)
        orders.append(order)
    if any(order != orders[0] for order in orders[1:]) or set(orders[0]) - set(owner):
        return False
    docs = [entry for page in orders[0] for entry in by_page[owner[page]].get(page, [])]

    shutil.rmtree(out_site, ignore_errors=True)
    for rel in sorted(common):
        _link_or_copy(sites[0] / rel, out_site / rel)
    for rel, i in owner.items():
        _link_or_copy(sites[i] / rel, out_site / rel)
    target = out_site / SEARCH_INDEX
    target.parent.mkdir(parents=True, exist_ok=True)
    # As the theme's search plugin writes it.
    target.write_text(
        json.dumps({"config": indexes[0]["config"], "docs": docs}, separators=(",", ":"), default=str), encoding="utf-8"
    )
    return True


# Written by MkDocs for the whole site from the list of pages, the configuration and the build date (the
# pages' last modification). Pages excluded from an incremental run are missing from its sitemap; when the
# pages, the configuration and the date are those of the last build, its sitemap is the right one.
SITEMAPS = {"sitemap.xml", "sitemap.xml.gz"}


def build(
    new_src: Path,
    build_dir: Path,
    old_site: Path,
    out_site: Path,
    work: Path,
    run_mkdocs,
    skip: set[str],
    stamp: str = "",
    new_hashes: dict[str, str] | None = None,
) -> tuple[int, int] | None:
    """Build `new_src` into `out_site` from the last good build: (pages re-rendered, pages), or None if a full
    build is needed instead.

    `run_mkdocs(config_path, site_dir)` runs MkDocs as the full build does. `skip`: top-level folders of the
    site that are not this build's (the archived versions). `stamp`: what else MkDocs' output depends on
    (the build date); the last build's must be the same. `new_hashes`: source_hashes(new_src), if known."""
    state_path = build_dir / STATE
    if not (state_path.is_file() and old_site.is_dir()):
        return None
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if _listing(old_site, skip) != state.get("site") or state.get("stamp", "") != stamp:
        return None  # the site is not what the last build wrote, or not for the same date
    old_hashes = state["src"]
    new_hashes = new_hashes if new_hashes is not None else source_hashes(new_src)
    if new_hashes.get("mkdocs.yml") != old_hashes.get("mkdocs.yml"):
        return None
    pages = {p for p in new_hashes if p.endswith(".md")}
    if pages != {p for p in old_hashes if p.endswith(".md")}:
        return None
    changed_pages = {p for p in pages if new_hashes[p] != old_hashes[p]}
    if len(changed_pages) > MAX_CHANGED_SHARE * len(pages):
        return None
    statics = {p for p in new_hashes if not p.endswith(".md") and p != "mkdocs.yml"}
    old_statics = {p for p in old_hashes if not p.endswith(".md") and p != "mkdocs.yml"}
    changed_statics = {p for p in statics if new_hashes[p] != old_hashes.get(p)}
    removed_statics = old_statics - statics

    if not changed_pages and not changed_statics and not removed_statics:
        shutil.rmtree(out_site, ignore_errors=True)
        for rel in state["site"]:
            _link_or_copy(old_site / rel, out_site / rel)
        return 0, len(pages)

    # 1. The sources MkDocs sees: changed pages and files as they are, unchanged pages of the navigation as
    # stubs, everything else excluded.
    config_path = _stubbed_sources(new_src, sorted(new_hashes), changed_pages | changed_statics, work, indexed=False)
    if config_path is None:
        return None
    fresh_site = work / "site"
    page_html = {p: p[:-3] + ".html" for p in pages}
    replaced = {page_html[p].removeprefix("docs/") for p in changed_pages}
    replaced |= {p.removeprefix("docs/") for p in changed_statics}
    gone = {p.removeprefix("docs/") for p in removed_statics} | {SEARCH_INDEX}
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(run_mkdocs, config_path, fresh_site)
        # Meanwhile (MkDocs is another process), the new site starts as the old one's files that stay.
        shutil.rmtree(out_site, ignore_errors=True)
        for rel in state["site"]:
            if rel not in replaced and rel not in gone:
                _link_or_copy(old_site / rel, out_site / rel)
        running.result()

    # 2. Everything the theme writes for the whole site must come out as before (it depends on the
    # navigation only); otherwise the reuse is not safe.
    produced = {p.relative_to(fresh_site).as_posix() for p in fresh_site.rglob("*") if p.is_file()}
    expected_new = {page_html[p] for p in changed_pages} | {p.removeprefix("docs/") for p in statics}
    unchanged_outputs = {page_html[p].removeprefix("docs/") for p in pages - changed_pages}
    theme_outputs = produced - {p.removeprefix("docs/") for p in expected_new} - {SEARCH_INDEX} - SITEMAPS
    for rel in theme_outputs:
        old_file = old_site / rel
        if rel in unchanged_outputs or not old_file.is_file() or _digest(old_file) != _digest(fresh_site / rel):
            return None
    if any((fresh_site / out).exists() for out in unchanged_outputs):
        return None  # a stub produced a page after all

    # 3. The new site: the old one's files that stay (linked above), the changed pages and files, the search
    # index with the changed pages' entries replaced.
    for rel in sorted(replaced):
        if (fresh_site / rel).is_file():
            _link_or_copy(fresh_site / rel, out_site / rel)
    if changed_pages:
        old_index = json.loads((old_site / SEARCH_INDEX).read_text(encoding="utf-8"))
        new_index = json.loads((fresh_site / SEARCH_INDEX).read_text(encoding="utf-8"))
        merged = _merge_search(old_index, new_index, {page_html[p].removeprefix("docs/") for p in changed_pages})
        if merged is None:
            return None
        # As the theme's search plugin writes it.
        (out_site / SEARCH_INDEX).parent.mkdir(parents=True, exist_ok=True)
        (out_site / SEARCH_INDEX).write_text(json.dumps(merged, separators=(",", ":"), default=str), encoding="utf-8")
    else:
        _link_or_copy(old_site / SEARCH_INDEX, out_site / SEARCH_INDEX)
    return len(changed_pages), len(pages)
