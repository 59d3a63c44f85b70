"""Released versions: frozen snapshots of the data and results in versions/<version>/.

A release copies data/ and writes results.json and a manifest; old versions are rebuilt from their own
snapshot, and the build refuses to publish a version whose recomputed numbers differ from its archive.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from builder import __version__
from builder.analysis import run as analysis
from builder.contract import project as layout
from builder.contract.version import Version, VersionError
from builder.ingest.loader import ReviewData, data_hash, load, load_review_only, study_files
from builder.report.results_json import results_document, to_json


class ReleaseError(Exception):
    pass


@dataclass(frozen=True)
class Release:
    version: str
    folder: Path
    manifest: dict

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def results(self) -> dict:
        path = self.folder / "results.json"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ReleaseError(f"versions/{self.version}/results.json cannot be read: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("analyses"), list):
            raise ReleaseError(f"versions/{self.version}/results.json is not a results document (no 'analyses')")
        return document

    @property
    def date(self) -> dt.date:
        """The release date: stamped in the manifest by `review release`; a manifest without one falls back
        on the date in the archived review.yaml."""
        if self.manifest.get("date"):
            return dt.date.fromisoformat(self.manifest["date"])
        review = load_review_only(self.data_dir)
        if review is None:
            raise ReleaseError(f"versions/{self.version}: no date in manifest.json nor a valid data/review.yaml")
        return review.date


def _looks_like_version(name: str) -> bool:
    try:
        Version.parse(name)
    except VersionError:
        return False
    return True


def _manifest(path: Path) -> dict:
    name = f"versions/{path.parent.name}/manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # RecursionError: [[[[...
        raise ReleaseError(f"{name} cannot be read: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ReleaseError(f"{name} is not a JSON object")
    for key in ("version", "data_hash"):
        if not isinstance(manifest.get(key), str):
            raise ReleaseError(f"{name} has no '{key}' (text)")
    if manifest.get("date") is not None:
        try:
            dt.date.fromisoformat(manifest["date"])
        except (TypeError, ValueError) as exc:
            raise ReleaseError(f"{name}: 'date' is not a date (YYYY-MM-DD)") from exc
    try:
        Version.parse(manifest["version"])
    except VersionError as exc:
        raise ReleaseError(f"{name}: {exc}") from exc
    if manifest["version"] != path.parent.name:
        raise ReleaseError(f"{name} says version {manifest['version']}, but its folder is {path.parent.name}")
    return manifest


def releases(project: Path) -> list[Release]:
    """Every archived version, oldest first; ReleaseError names a manifest that cannot be read."""
    root = project / "versions"
    if root.exists() and not root.is_dir():
        raise ReleaseError("versions is not a folder; it holds the released versions, one folder each")
    out = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.name.startswith("."):
            continue  # an unfinished release (.1.2.tmp) is not a release
        if not folder.is_dir():
            if _looks_like_version(folder.name):
                raise ReleaseError(f"versions/{folder.name} is a file; a released version is a folder")
            continue  # a README or the like
        if not (folder / "manifest.json").is_file():
            raise ReleaseError(f"versions/{folder.name} has no manifest.json")
        manifest = _manifest(folder / "manifest.json")
        out.append(Release(manifest["version"], folder, manifest))
    return sorted(out, key=lambda r: Version.parse(r.version))


def _digests(folder: Path) -> dict[str, str]:
    """sha256 of every file of a release folder but its manifest, by path within it."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def check_integrity(rel: Release) -> None:
    """The release's files are as released, or ReleaseError naming the release and the file.

    A manifest written by this version of `review release` lists the sha256 of every file (data/ and
    results.json): all are checked, and a file added or removed is named. Older manifests (1.0, 1.1) hold
    only `data_hash`, the fingerprint of review.yaml and the study files: those are checked; their
    results.json is checked by recomputing its numbers (see verify), which the build does whenever the
    file's content is new to it."""
    where = f"versions/{rel.version}"
    files = rel.manifest.get("files")
    if files is not None:
        if not isinstance(files, dict):
            raise ReleaseError(f"{where}/manifest.json: 'files' is not a mapping of paths to digests")
        found = _digests(rel.folder)
        for path in sorted(set(files) | set(found)):
            if path not in found:
                raise ReleaseError(f"{where}/{path} is missing; the manifest lists it")
            if path not in files:
                raise ReleaseError(f"{where}/{path} was added after the release; the manifest does not list it")
            if files[path] != found[path]:
                raise ReleaseError(f"{where}/{path} was changed after the release (its sha256 differs)")
    rel.results()  # readable, and a results document
    snapshot = [rel.data_dir / "review.yaml", *study_files(rel.data_dir / "studies")]
    try:
        fingerprint = data_hash([p for p in snapshot if p.is_file()], rel.folder)
    except OSError as exc:
        raise ReleaseError(f"{where}/data cannot be read: {exc}") from exc
    if fingerprint != rel.manifest["data_hash"]:
        raise ReleaseError(f"{where}/data was changed after release (its fingerprint differs from the manifest)")


def _check_new_version(project: Path, version: str) -> list[Release]:
    """The releases so far, or ReleaseError if `version` is not a version number, or not greater than every
    release (checked before the data are read: the number typed is what is wrong)."""
    try:
        wanted = Version.parse(version)
    except VersionError as exc:
        raise ReleaseError(str(exc)) from None
    earlier = releases(project)
    same = next((r.version for r in earlier if Version.parse(r.version) == wanted), None)
    if same is not None or (project / "versions" / version).exists():
        raise ReleaseError(
            f"version {version} is already released (versions/{same or version}); released versions never "
            "change: choose a new version number"
        )
    if earlier and Version.parse(earlier[-1].version) > wanted:
        raise ReleaseError(f"version {version} must be newer than the last release, {earlier[-1].version}")
    return earlier


def _check_copyable(data_dir: Path, project: Path) -> None:
    """ReleaseError naming the first entry of data/ that a snapshot cannot hold: a FIFO, socket or device,
    a link to a folder (which may loop), or a link to nothing. Hidden and backup files are not copied."""
    for folder, dirs, files in os.walk(data_dir):
        for name in sorted(dirs + files):
            path = Path(folder) / name
            if name.startswith(".") or name.endswith("~"):
                continue
            shown = path.relative_to(project).as_posix()
            if path.is_symlink() and (path.is_dir() or not path.exists()):
                raise ReleaseError(f"{shown} is a link to a folder or to nothing; a release copies only files")
            if not path.is_symlink() and not (path.is_dir() or path.is_file()):
                raise ReleaseError(f"{shown} is not a regular file (a FIFO, socket or device); remove it")


def release(project: Path, version: str, today: dt.date | None = None) -> Release:
    """Freeze data/ as `version`: its data, results.json, a manifest stamped with the release date (`today`,
    by default the day it runs) and the release metadata (CITATION.cff, .zenodo.json; see metadata)."""
    from builder.releases import metadata

    day = today or dt.date.today()
    earlier = _check_new_version(project, version)
    data = load(project / "data", today=day)  # a version dated after its release is refused
    if data.review.version != version:
        same = Version.parse(data.review.version) == Version.parse(version)
        raise ReleaseError(
            f"data/review.yaml says version {data.review.version}; "
            + (
                f"release it as {data.review.version} ({version} is the same number written differently)"
                if same
                else f"set it to {version} (and update living.trigger and date) before releasing"
            )
        )
    folder = project / "versions" / version
    _check_copyable(project / "data", project)
    document = results_document(data, analysis.run_all(data))
    tmp = folder.with_name(f".{version}.tmp")
    if tmp.is_symlink() or tmp.is_file():  # what an interrupted release or a stray copy left in its place
        tmp.unlink()
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(project / "data", tmp / "data", ignore=shutil.ignore_patterns(".*", "*~"))  # editors' files
    schema = editor_schemas(project)
    if schema is not None:  # the schemas of this version's data model, served with its pages from now on
        shutil.copytree(schema, tmp / "schema")
    (tmp / "results.json").write_text(to_json(document), encoding="utf-8")
    previous = earlier[-1].version if earlier else None
    (tmp / "CITATION.cff").write_text(metadata.citation_cff(data.review, day, data.review.url), encoding="utf-8")
    (tmp / ".zenodo.json").write_text(
        metadata.zenodo_json(data.review, day, data.review.url, previous), encoding="utf-8"
    )
    manifest = {
        "version": version,
        "date": day.isoformat(),
        "data_hash": data.data_hash,
        "files": _digests(tmp),
        "builder_version": __version__,
        "integrity_rules": True,  # computed leaving out virtual arms and double-counted cohorts by default
        "meta_scripts": True,  # its pages offer an R script for meta beside metafor's
        "results_schema": True,  # its data page documents results.json's JSON Schema (docs/schema/)
        # computed with each analysis's double_zero_studies setting and the treatment-arm correction row (1.2)
        "sparse_data_rules": True,
        "bias_followups": True,  # shows influence diagnostics, trim-and-fill and the other small-study tests
        "previous": previous,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.rename(folder)
    return Release(version, folder, manifest)


def editor_schemas(project: Path) -> Path | None:
    """The folder of JSON Schemas the site publishes under schema/ (the project's docs/schema, else the
    tool's), or None."""
    for folder in reversed(layout.docs_dirs(project)):
        if (folder / "schema").is_dir():
            return folder / "schema"
    return None


def frozen_schemas(rel: Release) -> Path | None:
    """The schemas archived with a release, which its pages publish instead of the current ones; None for a
    version released before releases kept them (1.0 and 1.1)."""
    folder = rel.folder / "schema"
    return folder if folder.is_dir() else None


def as_released(rel: Release, data: ReviewData) -> ReviewData:
    """A snapshot's data with the rules its release was computed under: a version released before the
    integrity rules (no "integrity_rules" in its manifest) pooled every study its analyses named; one released
    before the sparse-data rules (no "sparse_data_rules") left studies with no events or only events in both
    arms out of every pooled estimate and had no treatment-arm continuity correction row; one released before
    the influence and small-study follow-ups (no "bias_followups") shows none of them."""
    data = replace(
        data,
        integrity_rules=bool(rel.manifest.get("integrity_rules", False)),
        bias_followups=bool(rel.manifest.get("bias_followups", False)),
    )
    if rel.manifest.get("sparse_data_rules", False):
        return data
    analyses = [a.model_copy(update={"double_zero_studies": "drop"}) for a in data.review.analyses]
    return replace(data, review=data.review.model_copy(update={"analyses": analyses}), sparse_data_rules=False)


def verify(rel: Release, data: ReviewData, document: dict) -> None:
    """The numbers recomputed from a snapshot must equal its archived results.json."""
    archived = {a.get("id"): a for a in rel.results()["analyses"] if isinstance(a, dict)}
    if data.data_hash != rel.manifest["data_hash"]:
        raise ReleaseError(f"versions/{rel.version}/data was changed after release (its fingerprint differs)")
    where = f"versions/{rel.version}/results.json"
    for a in document["analyses"]:
        old = archived.get(a["id"])
        try:
            if old is None or (old["pooled"] is None) != (a["pooled"] is None):
                raise ReleaseError(f"{where}: analysis {a['id']} no longer matches the archive")
            if a["pooled"] is None:
                continue
            for key in ("estimate", "ci_low", "ci_high", "p"):
                x, y = old["pooled"][key], a["pooled"][key]
                if not isinstance(x, (int, float)) or not math.isclose(x, y, rel_tol=1e-8, abs_tol=1e-12):
                    raise ReleaseError(
                        f"{where}: {a['id']} {key} is archived as {x!r} but recomputes as {y}; the archive "
                        "was edited, or the builder changed a released number"
                    )
        except (KeyError, TypeError) as exc:
            raise ReleaseError(f"{where}: the record of {a['id']} is damaged (no {exc})") from exc
