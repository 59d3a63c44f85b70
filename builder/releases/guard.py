"""What the data may not do to released versions, checked by `review check` and `review build` alike: the
working data may not differ from a released version while it still carries that version's number."""

from __future__ import annotations

import re
from pathlib import Path

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
    """A problem if data/ differs from the released version whose number data/review.yaml still gives."""
    version = data.review.version
    for rel in releases(project):
        if rel.version == version and rel.manifest["data_hash"] != data.data_hash:
            return [
                Problem(
                    "data/review.yaml",
                    _version_line(project / "data" / "review.yaml"),
                    "version",
                    f"data/ differs from released version {version}, whose numbers must not change: set a new "
                    "version (and what triggered it in living.trigger) before building",
                    repr(version),
                )
            ]
    return []
