"""Build the site: data -> Markdown -> MkDocs, into a staging folder swapped in only on success."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from builder.analysis import run as analysis
from builder.caching import store as cache
from builder.caching.reuse import Reuse
from builder.contract.version import Version
from builder.ingest.loader import ReviewData, data_hash, load
from builder.publish import incremental, mkdocs_hooks, mkdocs_warm
from builder.releases import archive as versions
from builder.releases import diff
from builder.report import pages
from builder.report.figures import inline
from builder.report.results_json import results_document


class BuildError(Exception):
    pass


def epoch(day: dt.date) -> str:
    return str(int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()))


def site_config(project: Path, nav: list, site_name: str) -> dict:
    config = yaml.safe_load((project / "mkdocs.yml").read_text(encoding="utf-8"))
    config["site_name"] = html.escape(site_name)  # themes print it unescaped
    config["docs_dir"] = "docs"
    config["nav"] = nav
    config.pop("site_dir", None)
    return config


def render(
    project: Path,
    data: ReviewData,
    out: Path,
    version_info: dict | None = None,
    results: list | None = None,
    store: cache.Store | None = None,
    reuse: Reuse | None = None,
) -> Path:
    """Write the Markdown sources and the MkDocs configuration into `out`; return the config file. With
    `reuse` (see builder.caching.reuse), generated files whose inputs are unchanged since the last good build are
    taken from it, and the keys of this build's files are saved beside its sources for the next one."""
    docs = out / "docs"
    shutil.copytree(project / "docs", docs)
    results = results if results is not None else analysis.run_all(data)
    if version_info is None:
        version_info = version_context(project, data, results)
    nav = pages.render_site(data, results, project / "templates", docs, version_info, store, reuse)
    if reuse is not None:
        reuse.save(out)
    config = site_config(project, nav, data.review.short_title)
    path = out / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def version_context(
    project: Path,
    data: ReviewData,
    results: list,
    archived: str | None = None,
    latest: str | None = None,
    today: dt.date | None = None,
) -> dict:
    """Which version a rendering is, the list of releases, and the changes since the previous release."""
    rels = versions.releases(project)
    this = archived or data.review.version
    earlier = [r for r in rels if Version.parse(r.version) < Version.parse(this)]
    changes = None
    if earlier:
        prev = earlier[-1]
        prev_data = load(prev.data_dir, today=today)
        changes = diff.compare(prev_data, prev.results(), data, results_document(data, results))
    return {
        "archived": archived is not None,
        "superseded": archived is not None and archived != latest,
        "latest": latest or data.review.version,
        "releases": rels,
        "changes": changes,
        "draft": not any(r.version == data.review.version for r in rels),
    }


def mkdocs_build(
    config: Path,
    site_dir: Path,
    day: dt.date,
    engine: str = "mkdocs",
    bytecode: Path | None = None,
    warm: mkdocs_warm.Warm | None = None,
) -> None:
    """Run MkDocs (or Zensical) on a configuration, then draw the figures into its pages (see inline).
    `bytecode`: where runs with builder.publish.mkdocs_hooks keep the theme's compiled templates; `warm`: an MkDocs
    process started ahead, used if it is still free."""
    env = dict(os.environ, SOURCE_DATE_EPOCH=epoch(day))
    if bytecode is not None:
        env[mkdocs_hooks.BYTECODE_ENV] = str(bytecode)
    if engine == "mkdocs":
        cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f", str(config), "-d", str(site_dir)]
    else:  # zensical reads the same configuration, and writes the site where it says (site/ beside it)
        cmd = [str(Path(sys.executable).with_name("zensical")), "build", "--clean", "-f", str(config)]
        site_dir = config.parent / "site"
    proc = warm.run(cmd[3:], env) if warm is not None and engine == "mkdocs" else None
    if proc is None or proc.returncode != 0:
        # A failure is confirmed by a plain run, so that a warm process that could not start is never taken
        # for MkDocs reporting a problem in the site.
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{engine} build failed:\n{proc.stdout}{proc.stderr}")
    try:
        inline.expand(site_dir, config.parent / "docs")
    except inline.FigureError as exc:
        raise BuildError(str(exc)) from exc


def build(
    project: Path,
    site: Path | None = None,
    today: dt.date | None = None,
    full: bool = False,
    report: dict | None = None,
) -> ReviewData:
    """Validate, compute, render and build. The previous `site/` and `build/` stay until all succeeded.

    Unless `full`, work done by the last good build is reused where its inputs are unchanged: parsed study
    files, fitted analyses, their results records and figures (build/cache/store), generated page sources,
    figures and downloads (see reuse), released versions' pages (build/cache), and the HTML of pages whose
    Markdown is unchanged (see incremental). The result is the same site, byte for byte."""
    with _cycle_collector_paused():
        warm = mkdocs_warm.Warm()  # starts while the data are loaded and the pages rendered
        try:
            return _build(Path(project).resolve(), site, today, full, report, warm)
        finally:
            warm.close()


@contextlib.contextmanager
def _cycle_collector_paused():
    """Python's cycle collector off for the duration of a build. A build allocates hundreds of thousands of
    small objects that stay alive until it ends (studies, results, pages); the collector would walk them
    again and again to find almost no cycles: at 500 studies it took a third of the time of loading the
    cached studies and of rendering the pages. Memory is still freed by reference counting as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(
    project: Path, site: Path | None, today: dt.date | None, full: bool, report: dict | None, warm: mkdocs_warm.Warm
) -> ReviewData:
    site = Path(site or project / "site").resolve()
    build_dir = project / "build"
    store = cache.Store(None if full else build_dir / "cache" / "store")
    data = load(project / "data", today=today, store=store)
    for rel in versions.releases(project):
        if rel.version == data.review.version and rel.manifest["data_hash"] != data.data_hash:
            raise BuildError(
                f"data/ differs from released version {rel.version}, whose numbers must not change: "
                "set a new version (and what triggered it) in data/review.yaml before building"
            )
    build_dir.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=build_dir))
    try:
        results = analysis.run_all(data, store)
        kept = Reuse(None if full else build_dir / "current", staging / "src" / "docs")
        config = render(
            project, data, staging / "src", version_context(project, data, results, today=today), results, store, kept
        )
        rels = versions.releases(project)
        archived = {f"v{rel.version}" for rel in rels}  # site folders that are not the latest version's
        src_hashes = incremental.source_hashes(staging / "src")
        bytecode = None if full else build_dir / "cache" / "theme-bytecode"
        reused = (
            None
            if full
            else incremental.build(
                staging / "src",
                build_dir,
                site,
                staging / "site",
                staging / "inc",
                lambda cfg, out: mkdocs_build(cfg, out, data.review.date, bytecode=bytecode, warm=warm),
                archived,
                epoch(data.review.date),
                src_hashes,
            )
        )
        # MkDocs runs do not depend on each other: each starts as soon as its sources are written, one per
        # core, while the released versions' sources are still being prepared.
        if report is not None:
            report["pages"] = reused  # (re-rendered, of) when the last build's pages were reused
            report["sources_kept"] = (kept.taken, len(kept.keys))  # generated files taken from the last build
        archives = []  # (version, folder with its pages, cache folder to fill or None)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            runs = []
            if reused is None:
                shutil.rmtree(staging / "site", ignore_errors=True)
                if not _split_build(staging, data.review.date, bytecode, warm):
                    runs.append(pool.submit(mkdocs_build, config, staging / "site", data.review.date, warm=warm))
            for rel in rels:
                # A released version's pages depend only on its snapshot, the builder, the templates and which
                # version is the latest: reuse them from the cache when none of these changed.
                key = _archive_key(project, rel, data.review.version, [r.version for r in rels])
                cached = build_dir / "cache" / f"v{rel.version}-{key}"
                if cached.is_dir() and not full:
                    archives.append((rel.version, cached, None))
                    continue
                # Old versions are rebuilt from their own snapshot, and must reproduce their archived numbers.
                old = load(rel.data_dir, today=today, store=store)
                old_results = analysis.run_all(old, store)
                try:
                    versions.verify(rel, old, results_document(old, old_results))
                except versions.ReleaseError as exc:
                    raise BuildError(str(exc)) from exc
                info = version_context(
                    project, old, old_results, archived=rel.version, latest=data.review.version, today=today
                )
                cfg = render(project, old, staging / f"src-v{rel.version}", info, old_results, store)
                runs.append(pool.submit(mkdocs_build, cfg, staging / f"site-v{rel.version}", old.review.date))
                archives.append((rel.version, staging / f"site-v{rel.version}", cached))
        for run in runs:  # all have finished; the first failure is reported
            run.result()
        for version, folder, cached in archives:
            shutil.copytree(folder, staging / "site" / f"v{version}")
            if cached is not None:
                for stale in (build_dir / "cache").glob(f"v{version}-*"):
                    shutil.rmtree(stale, ignore_errors=True)
                shutil.copytree(folder, cached)
        incremental.forget(build_dir)
        _swap(staging / "src", build_dir / "current")
        _swap(staging / "site", site)
        incremental.record(build_dir, src_hashes, site, archived, epoch(data.review.date))
        store.prune()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return data


# From this many pages a build from nothing runs MkDocs as one process per core, each rendering a share of
# the pages (see incremental.build_split): a process costs about 1.5 s to start, a page tens of milliseconds.
SPLIT_MIN_PAGES = 100


def _split_build(
    staging: Path, day: dt.date, bytecode: Path | None = None, warm: mkdocs_warm.Warm | None = None
) -> bool:
    """The latest version's site built by several MkDocs runs side by side, when it is large enough to gain."""
    cores = os.cpu_count() or 1
    if cores < 2 or sum(1 for _ in (staging / "src" / "docs").rglob("*.md")) < SPLIT_MIN_PAGES:
        return False

    def side_by_side(runs: list[tuple[Path, Path]]) -> None:
        with ThreadPoolExecutor(max_workers=len(runs)) as pool:
            futures = [pool.submit(mkdocs_build, cfg, out, day, bytecode=bytecode, warm=warm) for cfg, out in runs]
        for future in futures:
            future.result()

    if incremental.build_split(staging / "src", staging / "site", staging / "split", side_by_side, cores):
        return True
    shutil.rmtree(staging / "site", ignore_errors=True)
    return False


def _archive_key(project: Path, rel, latest: str, all_versions: list[str]) -> str:
    digest = hashlib.sha256()
    snapshot = data_hash(sorted(rel.data_dir.rglob("*.yaml")), rel.folder)  # the files as they are now
    digest.update(json.dumps([snapshot, cache.builder_fingerprint(), latest, all_versions]).encode())
    for part in ("templates", "docs", "mkdocs.yml"):
        root = project / part
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            digest.update(path.relative_to(project).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _swap(new: Path, target: Path) -> None:
    """Replace `target` with `new` by renames, so a reader never sees a half-written folder for long."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    shutil.move(str(new), str(target))
    shutil.rmtree(old, ignore_errors=True)
