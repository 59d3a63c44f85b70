"""Build the site: data -> Markdown -> MkDocs, into a staging folder swapped in only on success."""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import fcntl
import gc
import hashlib
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml

from builder import faults
from builder.analysis import run as analysis
from builder.caching import store as cache
from builder.caching.digest import content_digest, files_digest
from builder.caching.outputs import derive
from builder.caching.reuse import Reuse
from builder.contract import project as layout
from builder.errors import DataError
from builder.ingest.loader import ReviewData, data_hash, load
from builder.publish import incremental, mkdocs_warm
from builder.releases import archive as versions
from builder.releases import history
from builder.releases.guard import released_data_problems
from builder.report import pages
from builder.report.figures import inline
from builder.report.results_json import results_document


class BuildError(Exception):
    pass


def epoch(day: dt.date) -> str:
    return str(int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()))


def _shown(path: Path, project: Path) -> str:
    """A source file as a message names it: within the project, or within the tool's checkout."""
    for root, suffix in ((project, ""), (layout.TOOL_HOME, " (the tool's)")):
        with contextlib.suppress(ValueError):
            return path.resolve().relative_to(root.resolve()).as_posix() + suffix
    return str(path)


def source_problem(project: Path) -> str | None:
    """What stops the site's sources being used, or None: no templates at all; a template (the project's or
    the tool's) that is not UTF-8; a site configuration file (the tool's mkdocs.yml, then the project's)
    that cannot be read, is not YAML (read safely: no tags that make objects) or is not a mapping.
    `review check` and every rendering ask before anything is rendered."""
    folders = layout.template_dirs(project)
    if not folders:
        return (
            f"no page templates: {project} has no templates/, and the tool's checkout has none either "
            "(install the builder in place, with `pip install -e .`, as the Makefile does)"
        )
    for template in (t for folder in folders for t in sorted(folder.rglob("*.j2"))):
        try:
            template.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return f"{_shown(template, project)}: cannot be read as UTF-8 text ({exc})"
    for config in layout.config_files(project):
        problem = _config_problem(config, _shown(config, project))
        if problem is not None:
            return problem
    return None


def _config_problem(config: Path, name: str) -> str | None:
    try:
        loaded = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return f"{name}: cannot be read ({getattr(exc, 'strerror', None) or exc})"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name.split(' ')[0]}:{mark.line + 1}" if mark is not None else name
        return f"{where}: not valid YAML (tags that make Python objects are not read): {getattr(exc, 'problem', exc)}"
    if loaded is not None and not isinstance(loaded, dict):  # empty (only comments): no settings of its own
        return f"{name}: expected a mapping of MkDocs settings"
    return None


_PARSED: dict[str, str | None] = {}  # a template's sha256 -> its syntax error, for this process


def template_syntax_problem(project: Path) -> str | None:
    """The first template in use with a syntax error, as 'templates/NAME:LINE: ...', or None (a project's
    template replaces the tool's of that name). `review check` asks (a build finds the same error when it
    renders); each template's text is parsed once per process."""
    folders = layout.template_dirs(project)
    env = pages.environment(folders)
    in_use: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*.j2")):
            in_use.setdefault(path.relative_to(folder).as_posix(), path)
    for path in in_use.values():
        text = path.read_text(encoding="utf-8")
        key = hashlib.sha256(text.encode()).hexdigest()
        if key not in _PARSED:
            name = _shown(path, project)
            try:
                env.parse(text, name, name)
                _PARSED[key] = None
            except jinja2.TemplateSyntaxError as exc:
                _PARSED[key] = template_problem(exc, project)
        if _PARSED[key] is not None:
            return _PARSED[key]
    return None


def site_config(project: Path, nav: list, site_name: str) -> dict:
    config = layout.site_config(project)
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
    schemas: Path | None = None,
) -> Path:
    """Write the Markdown sources and the MkDocs configuration into `out`; return the config file. With
    `reuse` (see builder.caching.reuse), generated files whose inputs are unchanged since the last good build are
    taken from it, and the keys of this build's files are saved beside its sources for the next one. `schemas`:
    the JSON Schemas a released version was archived with, published in place of the current ones."""
    problem = source_problem(project)
    if problem is not None:
        raise BuildError(problem)
    docs = out / "docs"
    docs.mkdir(parents=True)
    for folder in layout.docs_dirs(project):  # the tool's assets, then the project's own files
        shutil.copytree(folder, docs, dirs_exist_ok=True)
    if schemas is not None:
        shutil.rmtree(docs / "schema", ignore_errors=True)
        shutil.copytree(schemas, docs / "schema")
    results = results if results is not None else analysis.run_all(data)
    if version_info is None:
        version_info = version_context(project, data, results)
    try:
        nav = pages.render_site(data, results, layout.template_dirs(project), docs, version_info, store, reuse)
    except jinja2.TemplateError as exc:
        raise BuildError(template_problem(exc, project)) from exc
    if reuse is not None:
        reuse.save(out)
    config = site_config(project, nav, data.review.short_title)
    path = out / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def template_problem(exc: jinja2.TemplateError, project: Path) -> str:
    """A template's error as 'templates/NAME:LINE: what', from the error or the template's frame in its
    traceback (Jinja puts one there for the line of the template that failed)."""
    where = getattr(exc, "filename", None) or getattr(exc, "name", None)
    line = getattr(exc, "lineno", None)
    if line is None:
        frame = next((f for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename.endswith(".j2")), None)
        if frame is not None:
            where, line = frame.filename, frame.lineno
    shown = str(where or "a template")
    if where and os.path.isabs(where):
        shown = _shown(Path(where), project)
    elif where and "/" not in str(where):  # a template's name, as the loader knows it
        shown = f"templates/{where}"
    kind = "syntax error" if isinstance(exc, jinja2.TemplateSyntaxError) else type(exc).__name__
    where = f"{shown}:{line}" if line is not None else str(shown)
    return f"{where}: {kind} in the template: {exc.message or exc}"


def version_context(
    project: Path,
    data: ReviewData,
    results: list,
    archived: str | None = None,
    latest: str | None = None,
    today: dt.date | None = None,
    url: str | None = None,
) -> dict:
    """Which version a rendering is, the list of releases, the history of the versions up to this one (each
    with what changed from the one before), and the site's address: `url` is the latest review.yaml's, which
    archived versions' citations use too (it is the site's configuration, not part of a version)."""
    rels = versions.releases(project)
    entries = history.history(rels, data, results_document(data, results), today)
    return {
        "archived": archived is not None,
        "superseded": archived is not None and archived != latest,
        "latest": latest or data.review.version,
        "releases": rels,
        "history": entries,
        "changes": entries[-1].changes,
        "draft": not entries[-1].released,
        "date": entries[-1].date,  # this version's release date, or its review.yaml date before release
        "url": url if archived is not None else data.review.url,
        # whether the data page documents results.json's JSON Schema: versions released before it had one
        # keep their pages as released
        "results_schema": archived is None
        or any(r.manifest.get("results_schema") for r in rels if r.version == archived),
        # whether the pages offer a meta script beside metafor's: likewise only from the release that had them
        "meta_scripts": archived is None or any(r.manifest.get("meta_scripts") for r in rels if r.version == archived),
    }


def mkdocs_build(
    config: Path,
    site_dir: Path,
    day: dt.date,
    engine: str = "mkdocs",
    warm: mkdocs_warm.Warm | None = None,
    share: incremental.Share | None = None,
    in_process: bool = False,
) -> None:
    """Run MkDocs (or Zensical) on a configuration, then draw the figures into its pages (see inline).
    MkDocs runs through its Python API, in this process if `in_process`, else in a process of its own (see
    mkdocs_warm): `warm`, a process started ahead, if it is still free. `share`: the part of the site to
    render, by the builder's plugin (see incremental)."""
    env = {"SOURCE_DATE_EPOCH": epoch(day)}
    if engine == "mkdocs":
        _run_mkdocs(config, site_dir, env, None if in_process else warm, share, in_process)
    else:  # zensical runs no MkDocs plugin; it reads the same configuration, and writes site/ beside it
        cmd = [str(Path(sys.executable).with_name("zensical")), "build", "--clean", "-f", str(config)]
        proc = subprocess.run(cmd, env=dict(os.environ, **env), capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"{engine} build failed:\n{proc.stdout}{proc.stderr}")
        site_dir = config.parent / "site"
    try:
        inline.expand(site_dir, config.parent / "docs")
    except inline.FigureError as exc:
        raise BuildError(str(exc)) from exc


def _run_mkdocs(
    config: Path,
    site_dir: Path,
    env: dict[str, str],
    warm: mkdocs_warm.Warm | None,
    share: incremental.Share | None,
    in_process: bool,
) -> None:
    request = {
        "config": str(config),
        "site_dir": str(site_dir),
        "env": env,
        "share": share.to_json() if share is not None else None,
    }
    if in_process:
        outcome: mkdocs_warm.Outcome | None = mkdocs_warm.build_site(request)
    else:
        outcome = warm.run(request) if warm is not None else None
    if outcome is None:  # no warm process, or one that gave no answer
        outcome = mkdocs_warm.run_fresh(request)
    if not outcome.ok:
        raise BuildError(f"mkdocs build failed:\n{outcome.log}")


Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    """Progress messages go nowhere unless the caller asks for them (the command line prints them)."""


def build(
    project: Path,
    site: Path | None = None,
    today: dt.date | None = None,
    full: bool = False,
    report: dict | None = None,
    progress: Progress = _quiet,
) -> ReviewData:
    """Validate, compute, render and build. The previous `site/` and `build/` stay until all succeeded.

    Unless `full`, work done by the last good build is reused where its inputs are unchanged: parsed study
    files, fitted analyses, their results records and figures (build/cache/store), generated page sources,
    figures and downloads (see reuse), released versions' pages (build/cache), and the HTML of pages whose
    Markdown is unchanged (see incremental). The result is the same site, byte for byte. `progress` is told,
    in a few words, of each long step as it starts."""
    project = Path(project).resolve()
    site = check_site(project, site or project / "site")
    with _locked(_build_folder(project)), _cycle_collector_paused():
        # A build that will likely reuse the last good site runs MkDocs once, on a few pages, in this process:
        # measured faster than a process started ahead, whose start-up competes with the builder's own work.
        # Otherwise MkDocs runs in processes, side by side, the first one started while the data are loaded.
        warm = mkdocs_warm.Warm() if full or not incremental.has_state(project / "build") else None
        try:
            return _build(project, site, today, full, report, warm, progress)
        finally:
            if warm is not None:
                warm.close()


def _build_folder(project: Path) -> Path:
    """build/, made if missing; BuildError if something else has that name (it is not removed: it may be
    a user's file)."""
    folder = project / "build"
    if (folder.exists() or folder.is_symlink()) and not folder.is_dir():  # a link to a folder is one
        raise BuildError(
            f"{folder.name}/ is not a folder: the builder keeps its cache and its state there. "
            "Move the file away (or remove it) and build again."
        )
    folder.mkdir(exist_ok=True)
    return folder


LOCK = ".lock"


@contextlib.contextmanager
def _locked(build_dir: Path):
    """This project's builds one at a time: an exclusive lock (flock) on build/.lock for the whole build.

    A second build waits for the first, saying so, rather than failing: what it builds is the data as they
    are when it starts, which is what whoever started it asked for, and the first build's cache makes it
    quick. The kernel releases the lock when a build ends however it ends, so a killed build never leaves a
    stale lock behind."""
    path = build_dir / LOCK
    if path.is_symlink() or (path.exists() and not path.is_file()):
        cache.notice(f"build/{LOCK} is not a file; removed it")
        _remove(path)
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip()
            print(
                f"review: another build of this project is running{f' (process {holder})' if holder else ''}; "
                "waiting for it to finish ...",
                file=sys.stderr,
                flush=True,
            )
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


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


@dataclass
class _Build:
    """One build's settings and the folders it works in."""

    project: Path
    site: Path
    today: dt.date | None
    full: bool
    store: cache.Store
    warm: mkdocs_warm.Warm | None
    data: ReviewData
    staging: Path
    say: Progress = _quiet

    @property
    def build_dir(self) -> Path:
        return self.project / "build"

    @property
    def day(self) -> dt.date:
        return self.data.review.date


def _build(
    project: Path,
    site: Path | None,
    today: dt.date | None,
    full: bool,
    report: dict | None,
    warm: mkdocs_warm.Warm | None,
    progress: Progress = _quiet,
) -> ReviewData:
    build_dir = project / "build"
    _cache_folder(build_dir)
    store = cache.Store(None if full else build_dir / "cache" / "store", "build/cache/store")
    progress("Validating data/ ...")
    data = load(project / "data", today=today, store=store)
    _check_not_released(project, data)
    for stale in build_dir.glob(".staging-*"):  # a killed build's (builds hold the lock: none is running)
        _remove(stale)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=build_dir))
    run = _Build(project, Path(site or project / "site"), today, full, store, warm, data, staging, progress)
    try:
        _build_staged(run, report)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return data


def _cache_folder(build_dir: Path) -> Path:
    """build/cache, made if missing, without what an interrupted build left in it; anything but a folder of
    that name is removed with a line saying so (build/ is the builder's own)."""
    folder = build_dir / "cache"
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        cache.notice("cache: build/cache is not a folder; removed it")
        _remove(folder)
    folder.mkdir(exist_ok=True)
    for partial in folder.glob(".*" + PARTIAL):
        _remove(partial)
    if (folder / "theme-bytecode").exists():  # an older builder's compiled theme templates: code, never read
        _remove(folder / "theme-bytecode")
    return folder


def _check_not_released(project: Path, data: ReviewData) -> None:
    """Every release is as released (see archive.check_integrity: BuildError naming the release and the
    file), and data/ is one of them or a version greater than all (see guard: DataError)."""
    try:
        for rel in versions.releases(project):
            versions.check_integrity(rel)
    except versions.ReleaseError as exc:
        raise BuildError(str(exc)) from exc
    problems = released_data_problems(project, data)
    if problems:
        raise DataError(problems)


def _build_staged(run: _Build, report: dict | None) -> None:
    """Everything built into the staging folder, then swapped in: the sources and the site of the latest
    version, and the sites of the released versions under it."""
    n, k = len(run.data.review.analyses), len(run.data.studies)
    run.say(f"Computing {n} {_plural(n, 'analysis', 'analyses')} of {k} {_plural(k, 'study', 'studies')} ...")
    results = analysis.run_all(run.data, run.store)
    run.say(f"Rendering the pages of version {run.data.review.version} ...")
    kept = Reuse(None if run.full else run.build_dir / "current", run.staging / "src" / "docs")
    info = version_context(run.project, run.data, results, today=run.today)
    config = render(run.project, run.data, run.staging / "src", info, results, run.store, kept)
    rels = versions.releases(run.project)
    archived = {f"v{rel.version}" for rel in rels}  # site folders that are not the latest version's
    src_hashes = incremental.source_hashes(run.staging / "src")
    reused = None if run.full else _reuse_pages(run, archived, src_hashes)
    if report is not None:
        report["pages"] = reused  # (re-rendered, of) when the last build's pages were reused
        report["sources_kept"] = (kept.taken, len(kept.keys))  # generated files taken from the last build
    # MkDocs runs do not depend on each other: each starts as soon as its sources are written, one per core,
    # while the released versions' sources are still being prepared.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        runs = []
        if reused is None:
            run.say(f"Running MkDocs on the pages of version {run.data.review.version} ...")
            shutil.rmtree(run.staging / "site", ignore_errors=True)
            if not _split_build(run.staging, run.day, run.warm):
                runs.append(pool.submit(mkdocs_build, config, run.staging / "site", run.day, warm=run.warm))
        archives = [_archive(run, rel, [r.version for r in rels], pool, runs) for rel in rels]
    for future in runs:  # all have finished; the first failure is reported
        future.result()
    run.say("Publishing the new site ...")
    _publish(run, archives, src_hashes, archived)


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _reuse_pages(run: _Build, archived: set[str], src_hashes: dict[str, str]) -> tuple[int, int] | None:
    """The latest version's site from the last good one and a run of MkDocs on the changed pages only."""
    if incremental.has_state(run.build_dir):
        run.say("Looking for the pages that changed since the last build ...")
    return incremental.build(
        run.staging / "src",
        run.build_dir,
        run.site,
        run.staging / "site",
        run.staging / "inc",
        lambda cfg, out, share: mkdocs_build(cfg, out, run.day, share=share, in_process=True),
        archived,
        epoch(run.day),
        src_hashes,
    )


def _archive(run: _Build, rel, all_versions: list[str], pool: ThreadPoolExecutor, runs: list) -> tuple:
    """(version, folder with its pages, cache entry to fill or None) of a released version; its MkDocs run,
    if it needs one, submitted to `pool` and added to `runs`.

    A released version's pages depend only on its snapshot, the builder, the templates and which version is
    the latest: they are reused from the cache when none of these changed and the cached pages are, file
    for file, the ones that were stored (see ArchiveEntry)."""
    latest = run.data.review.version
    entry = ArchiveEntry(
        run.build_dir / "cache", rel.version, _archive_key(run.project, rel, latest, all_versions, run.data.review.url)
    )
    if not run.full and entry.usable():
        run.say(f"Released version {rel.version}: unchanged, reused from the last build")
        return rel.version, entry.folder, None
    run.say(f"Building released version {rel.version} from its archived data ...")
    # Old versions are rebuilt from their own snapshot, and must reproduce their archived numbers.
    old = versions.as_released(rel, load(rel.data_dir, today=run.today, store=run.store))
    old_results = analysis.run_all(old, run.store)
    try:
        versions.verify(rel, old, results_document(old, old_results))
    except versions.ReleaseError as exc:
        raise BuildError(str(exc)) from exc
    info = version_context(
        run.project, old, old_results, archived=rel.version, latest=latest, today=run.today, url=run.data.review.url
    )
    src = run.staging / f"src-v{rel.version}"
    cfg = render(run.project, old, src, info, old_results, run.store, schemas=versions.frozen_schemas(rel))
    runs.append(pool.submit(mkdocs_build, cfg, run.staging / f"site-v{rel.version}", old.review.date))
    return rel.version, run.staging / f"site-v{rel.version}", entry


def _publish(run: _Build, archives: list[tuple], src_hashes: dict[str, str], archived: set[str]) -> None:
    """The released versions put under the latest's site (and in the cache), then the sources and the site
    swapped in, and what was built recorded for the next build."""
    for version, folder, entry in archives:
        shutil.copytree(folder, run.staging / "site" / f"v{version}")
        if entry is not None:
            entry.keep(folder)
    incremental.forget(run.build_dir)
    _swap(run.staging / "src", run.build_dir / "current")
    faults.crash_point("sources-swapped")
    _swap(run.staging / "site", run.site)
    try:
        incremental.record(run.build_dir, src_hashes, run.site, archived, epoch(run.day))
    except OSError as exc:  # the site is in place; without the record the next build renders every page
        cache.notice(
            f"could not record what this build wrote ({exc.strerror or exc}); the next build renders every page"
        )
    run.store.prune()


PARTIAL = ".partial"
ARCHIVE_FORMAT = 1


class ArchiveEntry:
    """A released version's built pages in the cache: the folder build/cache/v<version>-<key>/ and, beside
    it, v<version>-<key>.json listing every file with its SHA-256 digest (and the format, version and key).

    The pages are copied into a hidden folder, renamed into place, and only then is the list written: a
    copy that was interrupted or ran out of disk has no list, or files that do not match it, and is never
    used. Before use every file is checked against the list; an entry with a file missing, extra, changed
    (a zero-byte file, an edit) or without a readable list is dropped with one line saying so, and the
    version's pages are built again."""

    def __init__(self, cache_dir: Path, version: str, key: str):
        self.cache_dir, self.version, self.key = cache_dir, version, key
        self.folder = cache_dir / f"v{version}-{key}"
        self.listing = cache_dir / f"v{version}-{key}.json"

    def usable(self) -> bool:
        if not (self.folder.exists() or self.listing.exists()):
            return False
        why = self._fault()
        if why is None:
            return True
        cache.notice(
            f"cache: dropped build/cache/{self.folder.name} ({why}); version {self.version}'s pages are built anew"
        )
        _remove(self.folder)
        _remove(self.listing)
        return False

    def _fault(self) -> str | None:
        """What is wrong with the entry, or None if every file is the one stored."""
        try:
            listing = json.loads(self.listing.read_text(encoding="ascii"))
        except FileNotFoundError:
            return "its list of files is missing: the copy was interrupted"
        except (OSError, ValueError, RecursionError):
            return "its list of files cannot be read"
        if not isinstance(listing, dict) or listing.get("format") != ARCHIVE_FORMAT:
            return f"its list of files is not of format {ARCHIVE_FORMAT}"
        files = listing.get("files")
        if listing.get("key") != self.key or listing.get("version") != self.version or not isinstance(files, dict):
            return "its list of files is of another entry"
        return _tree_fault(self.folder, files)

    def keep(self, folder: Path) -> None:
        """Store the pages built in `folder` as this entry, in place of any older entry of the version."""
        for stale in self.cache_dir.glob(f"v{self.version}-*"):
            _remove(stale)
        partial = self.cache_dir / f".{self.folder.name}{PARTIAL}"
        _remove(partial)
        files = {}
        sources = sorted(p for p in folder.rglob("*") if p.is_file())
        for i, path in enumerate(sources):
            rel = path.relative_to(folder).as_posix()
            (partial / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, partial / rel)
            files[rel] = content_digest((partial / rel).read_bytes())  # what was written, not what was meant
            if i == len(sources) // 2:
                faults.crash_point("archive-copy")
        os.rename(partial, self.folder)
        listing = {"format": ARCHIVE_FORMAT, "version": self.version, "key": self.key, "files": files}
        _write_atomically(self.listing, json.dumps(listing, sort_keys=True, indent=0))


def _tree_fault(folder: Path, files: dict) -> str | None:
    """How the files under `folder` differ from `files` (path -> SHA-256), or None if they do not."""
    if not folder.is_dir() or folder.is_symlink():
        return "its pages are missing"
    present = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file() or p.is_symlink()}
    missing, extra = sorted(set(files) - set(present)), sorted(set(present) - set(files))
    if missing:
        return f"{len(missing)} of its {len(files)} files missing, {missing[0]} first"
    if extra:
        return f"{extra[0]} is not one of its files"
    for rel in sorted(files):
        path = present[rel]
        try:
            same = not path.is_symlink() and content_digest(path.read_bytes()) == files[rel]
        except OSError:
            same = False
        if not same:
            return f"{rel} is not the file stored ({path.stat().st_size if path.is_file() else 0} bytes)"
    return None


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# From this many pages a build from nothing runs MkDocs as one process per core, each rendering a share of
# the pages (see incremental.build_split): a process costs about 1.5 s to start, a page tens of milliseconds.
SPLIT_MIN_PAGES = 100


def _split_build(staging: Path, day: dt.date, warm: mkdocs_warm.Warm | None = None) -> bool:
    """The latest version's site built by several MkDocs runs side by side, when it is large enough to gain."""
    cores = os.cpu_count() or 1
    if cores < 2 or sum(1 for _ in (staging / "src" / "docs").rglob("*.md")) < SPLIT_MIN_PAGES:
        return False
    config = staging / "src" / "mkdocs.yml"

    def side_by_side(runs: list[tuple[Path, incremental.Share]]) -> None:
        with ThreadPoolExecutor(max_workers=len(runs)) as pool:
            futures = [pool.submit(mkdocs_build, config, out, day, warm=warm, share=share) for out, share in runs]
        for future in futures:
            future.result()

    if incremental.build_split(staging / "src", staging / "site", staging / "split", side_by_side, cores):
        return True
    shutil.rmtree(staging / "site", ignore_errors=True)
    return False


def _archive_key(project: Path, rel, latest: str, all_versions: list[str], url: str | None) -> str:
    """The key of a released version's pages (see outputs.derive): what they are made from."""
    key = derive(
        "released site",
        {
            "snapshot": data_hash(sorted(rel.data_dir.rglob("*.yaml")), rel.folder),  # the files as they are now
            "manifest": json.dumps(rel.manifest, sort_keys=True),  # its release date is cited
            # an edited archive is verified against its snapshot again, not served from the cache
            "results.json": (rel.folder / "results.json").read_bytes(),
            "latest": latest,
            "releases": json.dumps(all_versions),
            "url": json.dumps(url),
            # the templates, docs/ and mkdocs.yml the site is made with, the project's and the tool's
            "site files": [files_digest(files, root) for root, files in layout.site_files(project)],
        },
    )
    assert key is not None  # every input is known
    return key


class SitePathError(Exception):
    """The site folder asked for may not be written (exit 2, before anything is touched)."""


# What `review build --site` may never write into, replace or contain: the project's sources and its build.
PROTECTED = ("data", "versions", "templates", "docs", "builder", "build", "tests", "benchmarks", ".git", ".venv")


def check_site(project: Path, site: Path) -> Path:
    """The site folder, resolved (links followed), or SitePathError saying why it may not be used: it is, holds
    or lies inside the project's sources, build/ or the project itself; it is a file; or it is a folder with
    files that is not a site (no index.html), which replacing it would destroy."""
    shown = str(site)
    try:
        resolved = Path(site).resolve()
    except (OSError, RuntimeError) as exc:  # a loop of links (RuntimeError), a name too long...
        raise SitePathError(f"--site {shown}: cannot be used ({exc}); choose a new folder, e.g. site") from None
    if resolved == project or project.is_relative_to(resolved):
        raise SitePathError(
            f"--site {shown}: refusing to build into {'the project folder' if resolved == project else 'a folder that holds the project'}; "
            "choose a new folder, e.g. site"
        )
    for name in PROTECTED:
        source = (project / name).resolve()
        if resolved == source or resolved.is_relative_to(source) or source.is_relative_to(resolved):
            raise SitePathError(
                f"--site {shown}: refusing to build into {name}/, which is part of the project; "
                "the site would replace it. Choose a new folder, e.g. site"
            )
    if resolved.exists() and not resolved.is_dir():
        raise SitePathError(f"--site {shown}: refusing to replace a file with the site; choose a folder")
    if resolved.is_dir() and any(resolved.iterdir()) and not (resolved / "index.html").is_file():
        raise SitePathError(
            f"--site {shown}: refusing to replace {resolved.name}/, which is not a site (it has files but no "
            "index.html); choose a new or empty folder"
        )
    return resolved


def _swap(new: Path, target: Path) -> None:
    """Replace the folder `target` with `new`, removing nothing but the previous `target`.

    `new` is first moved (or copied, from another file system) beside `target`, then the two are exchanged
    in one step (renameat2 with RENAME_EXCHANGE), so that `target` holds at every moment the old or the new
    folder; the old one, now beside it, is then removed. Where the exchange is not available, the old folder
    is moved aside and the new one renamed in; a crash between the two leaves the old one aside, and the next
    swap (see _recover) puts it back before anything else. Leftovers of a crash are only ever these hidden
    siblings, `.<name>.swap-new` and `.<name>.swap-old`; one that cannot be removed is left with a line
    saying so, and the swap uses another name."""
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    _recover(target)
    staged = _free(parent / f".{target.name}.swap-new")
    _copy_beside(new, staged)
    if not _present(target):
        os.rename(staged, target)
        return
    faults.crash_point(f"swap-staged:{target.name}")
    try:
        _exchange(staged, target)
    except OSError:  # no atomic exchange on this system or file system
        aside = _free(parent / f".{target.name}.swap-old")
        os.rename(target, aside)
        faults.crash_point(f"swap-aside:{target.name}")
        os.rename(staged, target)
        _remove_leftover(aside)
        return
    faults.crash_point(f"swap-exchanged:{target.name}")
    _remove_leftover(staged)  # the previous folder


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _leftovers(target: Path) -> list[Path]:
    """What interrupted swaps of `target` left beside it, the newest first."""
    prefix = f".{target.name}.swap-"
    found = [p for p in target.parent.iterdir() if p.name.startswith(prefix)] if target.parent.is_dir() else []
    return sorted(found, key=lambda p: p.lstat().st_mtime_ns, reverse=True)


def _recover(target: Path) -> None:
    """After a crash: the previous folder put back if it was moved aside and nothing replaced it, then every
    leftover of an interrupted swap removed (a copy half made, or the previous folder after the exchange)."""
    leftovers = _leftovers(target)
    if not _present(target):
        aside = next((p for p in leftovers if ".swap-old" in p.name and p.is_dir() and not p.is_symlink()), None)
        if aside is not None:
            os.rename(aside, target)
            cache.notice(f"put {target.name}/ back from {aside.name}, where an interrupted build had left it")
            leftovers.remove(aside)
    for leftover in leftovers:
        _remove_leftover(leftover)


def _free(path: Path) -> Path:
    """`path`, or the first of path-2, path-3, ... that does not exist (a leftover that could not be removed
    keeps its name)."""
    candidate, n = path, 1
    while _present(candidate):
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _remove_leftover(path: Path) -> None:
    """Remove what a swap left beside its target; if that fails, say so in one line and go on (the site is
    in place; the leftover is only taking room)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        cache.notice(
            f"could not remove {path.name}, left beside {path.name.split('.')[1]}/ by an earlier build "
            f"({exc.strerror or exc}); it is not part of the site: remove it by hand"
        )


def _copy_beside(new: Path, staged: Path) -> None:
    try:
        os.rename(new, staged)
    except OSError:  # another file system: copied under the staged name, which only swaps remove
        shutil.copytree(new, staged, symlinks=True)


def _remove(path: Path) -> None:
    """Remove a folder or a file of the builder's own (in build/), as far as possible."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _exchange(a: Path, b: Path) -> None:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); OSError where that is not possible."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(b))
