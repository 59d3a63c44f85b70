"""The history of the review: every release with its date, what triggered it, what changed from the release
before (see diff) and whether a conclusion changed; the versions page shows it whole, so that no change
is lost when the next version is released."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from builder.contract.version import Version
from builder.ingest.loader import ReviewData, load
from builder.releases.archive import Release
from builder.releases.diff import Diff, compare


@dataclass(frozen=True)
class Entry:
    version: str
    date: dt.date  # the release date; for a version not released yet, the date in its review.yaml
    trigger: str
    released: bool
    changes: Diff | None  # from the version before; None for the first

    @property
    def conclusions(self) -> list[str]:
        return self.changes.conclusions() if self.changes is not None else []

    @property
    def conclusion_changed(self) -> bool:
        """A primary result crossed no effect or flipped direction, or a GRADE rating moved."""
        return self.changes is not None and self.changes.primary_conclusion_changed

    @property
    def anchor(self) -> str:
        return "version-" + self.version.replace(".", "-")


def history(releases: list[Release], data: ReviewData, document: dict, today: dt.date | None = None) -> list[Entry]:
    """Every release older than `data`'s version, oldest first, then `data`'s version itself (released or
    not): each compared with the one before it, from the archived data and results.json."""
    this = Version.parse(data.review.version)
    snapshots = [
        (load(r.data_dir, today=today), r.results(), r.date, True) for r in releases if Version.parse(r.version) < this
    ]
    own = next((r for r in releases if r.version == data.review.version), None)
    snapshots.append((data, document, own.date if own else data.review.date, own is not None))
    entries: list[Entry] = []
    for i, (snap, doc, day, released) in enumerate(snapshots):
        changes = compare(snapshots[i - 1][0], snapshots[i - 1][1], snap, doc) if i else None
        entries.append(Entry(snap.review.version, day, snap.review.living.trigger, released, changes))
    return entries
