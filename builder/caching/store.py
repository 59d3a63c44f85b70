"""A content-addressed store for build steps whose output depends only on their input bytes.

Each value is kept in `<root>/<kind>/<key>.pickle`, where the key hashes everything the value was computed
from plus the builder's own code (builder.caching.outputs derives it from the value's declared inputs), so an
edited study, analysis plan or builder module can never be answered from an old entry. The store lives in the project's `build/` folder and is written by the builder only; a
missing, unreadable or stale entry is simply computed again. Entries not used by a build are removed at its
end, so the store holds one build's worth of values.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from functools import cache
from pathlib import Path

from builder import __version__
from builder.caching.digest import add_files


@cache
def builder_fingerprint() -> str:
    """A hash of the builder's version and source files: a changed builder invalidates every entry."""
    digest = hashlib.sha256(__version__.encode() + b"\0")
    package = Path(__file__).parents[1]
    add_files(digest, package.rglob("*.py"), package)
    return digest.hexdigest()


class Store:
    """Values by kind and key; `Store(None)` stores nothing (every lookup misses)."""

    def __init__(self, root: Path | None):
        self.root = Path(root) if root is not None else None
        self.used: dict[str, set[str]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, kind: str, k: str) -> object | None:
        """The stored value, or None."""
        if self.root is None:
            return None
        self.used.setdefault(kind, set()).add(k)
        try:
            with open(self.root / kind / f"{k}.pickle", "rb") as fh:
                value = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return value

    def keep(self, kind: str, k: str) -> None:
        """Keep an entry this build did not need to read (its output was taken whole from the last build),
        so that a later build that needs it finds it."""
        if self.root is not None:
            self.used.setdefault(kind, set()).add(k)

    def put(self, kind: str, k: str, value: object) -> None:
        if self.root is None:
            return
        folder = self.root / kind
        folder.mkdir(parents=True, exist_ok=True)
        self.used.setdefault(kind, set()).add(k)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / f"{k}.pickle")  # atomic: a reader never sees half an entry

    def prune(self) -> None:
        """Remove the entries of every kind this build used that it did not ask for."""
        if self.root is None:
            return
        for kind, keep in self.used.items():
            for path in (self.root / kind).glob("*"):
                if path.stem not in keep:
                    path.unlink(missing_ok=True)
