"""What the data may not do to released versions, checked by `review check` and `review build` alike: the
working data may not differ from a released version while it still carries that version's number."""

from __future__ import annotations

import re
from pathlib import Path

from builder.contract.version import Version
from builder.errors import Problem
from builder.ingest.loader import ReviewData
from builder.releases.archive import releases

_VERSION_LINE = re.compile(r"^version\s*:")


def _version_line(review_file: Path) -> int | None:
    try:
        lines = review_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return next((i for i, line in enumerate(lines, 1) if _VERSION_LINE.match(line)), None)


def released_data_problems(project: Path, data: ReviewData) -> list[Problem]:
    """A problem if data/ differs from the released version whose number data/review.yaml still gives, or
    if that number is below the latest release without being one (versions compare as Version: 1.1.0 is
    1.1, and "0.9" may not follow 1.1)."""
    version = data.review.version
    rels = releases(project)
    current = Version.parse(version)
    for rel in rels:
        if Version.parse(rel.version) == current and rel.manifest["data_hash"] != data.data_hash:
            return [
                Problem(
                    "data/review.yaml",
                    _version_line(project / "data" / "review.yaml"),
                    "version",
                    f"data/ differs from released version {rel.version}, whose numbers must not change: set a new "
                    "version (and what triggered it in living.trigger) before building",
                    repr(version),
                )
            ]
    released = any(Version.parse(rel.version) == current for rel in rels)
    if rels and not released and current < Version.parse(rels[-1].version):
        return [
            Problem(
                "data/review.yaml",
                _version_line(project / "data" / "review.yaml"),
                "version",
                f"must be greater than every released version; the latest is {rels[-1].version}",
                repr(version),
            )
        ]
    return []
