"""Released versions: frozen snapshots of the data and results in versions/<version>/.

A release copies data/ and writes results.json and a manifest; old versions are rebuilt from their own
snapshot, and the build refuses to publish a version whose recomputed numbers differ from its archive.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from builder import __version__
from builder.analysis import run as analysis
from builder.contract.version import Version
from builder.ingest.loader import ReviewData, load, load_review_only
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
        return json.loads((self.folder / "results.json").read_text(encoding="utf-8"))

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


def releases(project: Path) -> list[Release]:
    """Every archived version, oldest first."""
    root = project / "versions"
    out = []
    for folder in root.glob("*/manifest.json") if root.exists() else []:
        manifest = json.loads(folder.read_text(encoding="utf-8"))
        out.append(Release(manifest["version"], folder.parent, manifest))
    return sorted(out, key=lambda r: Version.parse(r.version))


def release(project: Path, version: str, today: dt.date | None = None) -> Release:
    """Freeze data/ as `version`: its data, results.json, a manifest stamped with the release date (`today`,
    by default the day it runs) and the release metadata (CITATION.cff, .zenodo.json; see metadata)."""
    from builder.releases import metadata

    day = today or dt.date.today()
    data = load(project / "data", today=day)  # a version dated after its release is refused
    if data.review.version != version:
        raise ReleaseError(
            f"data/review.yaml says version {data.review.version}; set it to {version} "
            "(and update living.trigger and date) before releasing"
        )
    folder = project / "versions" / version
    if folder.exists():
        raise ReleaseError(
            f"version {version} is already released (versions/{version}); released versions "
            "never change: choose a new version number"
        )
    earlier = releases(project)
    if earlier and Version.parse(earlier[-1].version) >= Version.parse(version):
        raise ReleaseError(f"version {version} must be newer than the last release, {earlier[-1].version}")
    document = results_document(data, analysis.run_all(data))
    tmp = folder.with_name(f".{version}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(project / "data", tmp / "data")
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
        "builder_version": __version__,
        "integrity_rules": True,  # computed leaving out virtual arms and double-counted cohorts by default
        "previous": previous,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.rename(folder)
    return Release(version, folder, manifest)


def as_released(rel: Release, data: ReviewData) -> ReviewData:
    """A snapshot's data with the rules its release was computed under: a version released before the
    integrity rules (no "integrity_rules" in its manifest) pooled every study its analyses named."""
    return replace(data, integrity_rules=bool(rel.manifest.get("integrity_rules", False)))


def verify(rel: Release, data: ReviewData, document: dict) -> None:
    """The numbers recomputed from a snapshot must equal its archived results.json."""
    archived = {a["id"]: a for a in rel.results()["analyses"]}
    if data.data_hash != rel.manifest["data_hash"]:
        raise ReleaseError(f"versions/{rel.version}/data was changed after release (its fingerprint differs)")
    for a in document["analyses"]:
        old = archived.get(a["id"])
        if old is None or (old["pooled"] is None) != (a["pooled"] is None):
            raise ReleaseError(f"version {rel.version}: analysis {a['id']} no longer matches its archive")
        if a["pooled"] is None:
            continue
        for key in ("estimate", "ci_low", "ci_high", "p"):
            x, y = old["pooled"][key], a["pooled"][key]
            if not math.isclose(x, y, rel_tol=1e-8, abs_tol=1e-12):
                raise ReleaseError(
                    f"version {rel.version}: {a['id']} {key} recomputes as {y}, archived {x}; "
                    "the builder changed a released number"
                )
