"""A content-addressed store for build steps whose output depends only on their input bytes.

Each value is kept in `<root>/<kind>/<key>.json`, where the key hashes everything the value was computed
from plus the builder's own code (builder.caching.outputs derives it from the value's declared inputs), so an
edited study, analysis plan or builder module can never be answered from an old entry. The store lives in
the project's `build/` folder and is written by the builder only; entries not used by a build are removed
at its end, so the store holds one build's worth of values.

An entry is plain data, never code (see builder.caching.plain): two lines of ASCII JSON, a header and the
value.

    {"format": 1, "kind": "analyses", "key": "<key>", "sha256": "<digest of the second line>"}
    <the value, as its codec writes it>

A value is used only if its header is of this FORMAT, names the kind and key it was asked for, and the digest
of the value is the one it was stored with; anything else (a damaged, edited or truncated entry, one of
another format, one that cannot be decoded) is dropped with one line on stderr naming it, and the value is
made again. A missing entry is simply made again. Entries are written to a temporary file and renamed into
place, so a reader never sees half of one.

The digest detects damage and hand edits, not a forger: whoever can write the store can write a wrong value
with the right digest. It cannot make a build run code, and a wrong value is at worst a wrong page of a build
they could write anyway.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from functools import cache
from pathlib import Path

from builder import __version__, faults
from builder.caching.digest import add_files, content_digest
from builder.caching.plain import PLAIN, Codec

FORMAT = 1
SUFFIX = ".json"
MAX_ENTRY_BYTES = 64 * 2**20  # far above any entry a review makes; a bigger file is not one of ours
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError)


@cache
def builder_fingerprint() -> str:
    """A hash of the builder's version and source files: a changed builder invalidates every entry."""
    digest = hashlib.sha256(__version__.encode() + b"\0")
    package = Path(__file__).parents[1]
    add_files(digest, package.rglob("*.py"), package)
    return digest.hexdigest()


def notice(message: str) -> None:
    """One line on stderr about the cache: what was dropped or repaired, and that the build goes on."""
    print(f"review: {message}", file=sys.stderr)


class Store:
    """Values by kind and key; `Store(None)` stores nothing (every lookup misses). `shown` is how messages
    name the root (e.g. build/cache/store)."""

    def __init__(self, root: Path | None, shown: str | None = None):
        self.root = Path(root) if root is not None else None
        self.shown = shown or (str(root) if root is not None else "")
        self.used: dict[str, set[str]] = {}
        self.hits = 0
        self.misses = 0

    def _path(self, kind: str, k: str) -> Path:
        assert self.root is not None
        return self.root / kind / f"{k}{SUFFIX}"

    def _name(self, kind: str, k: str) -> str:
        return f"{self.shown}/{kind}/{k}{SUFFIX}"

    def get(self, kind: str, k: str, codec: Codec = PLAIN) -> object | None:
        """The stored value, or None (missing, or dropped with a line saying why)."""
        if self.root is None:
            return None
        self.used.setdefault(kind, set()).add(k)
        path = self._path(kind, k)
        try:
            value = self._read(path, kind, k, codec)
        except (FileNotFoundError, NotADirectoryError):
            value = None  # never stored, or its folder is not one (put repairs it)
        except _Unusable as exc:
            self._drop(path, kind, k, str(exc))
            value = None
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        return value[0]

    def _read(self, path: Path, kind: str, k: str, codec: Codec) -> tuple[object]:
        try:
            if path.stat().st_size > MAX_ENTRY_BYTES:
                raise _Unusable("larger than any entry the builder writes")
            raw = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise
        except OSError as exc:
            raise _Unusable(f"cannot be read: {exc.strerror or exc}") from exc
        head, sep, body = raw.partition(b"\n")
        try:
            header = json.loads(head)
        except _UNREADABLE as exc:
            raise _Unusable("not an entry of the store") from exc
        if not sep or not isinstance(header, dict):
            raise _Unusable("not an entry of the store")
        if header.get("format") != FORMAT:
            raise _Unusable(f"format {header.get('format')!r}, not {FORMAT}")
        if header.get("kind") != kind or header.get("key") != k:
            raise _Unusable("stored under another kind or key")
        if header.get("sha256") != content_digest(body):
            raise _Unusable("its content does not match the digest it was stored with")
        try:
            return (codec.decode(json.loads(body)),)
        except _UNREADABLE as exc:
            raise _Unusable(
                f"cannot be decoded: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from exc

    def _drop(self, path: Path, kind: str, k: str, why: str) -> None:
        notice(f"cache: dropped {self._name(kind, k)} ({why}); it is made anew")
        _remove(path)

    def keep(self, kind: str, k: str) -> None:
        """Keep an entry this build did not need to read (its output was taken whole from the last build),
        so that a later build that needs it finds it."""
        if self.root is not None:
            self.used.setdefault(kind, set()).add(k)

    def put(self, kind: str, k: str, value: object, codec: Codec = PLAIN) -> None:
        """Keep `value`; OSError (a full disk, say) if it cannot be written, with nothing half written left."""
        if self.root is None:
            return
        body = json.dumps(codec.encode(value), separators=(",", ":")).encode("ascii")
        header = {"format": FORMAT, "kind": kind, "key": k, "sha256": content_digest(body)}
        folder = self._folder(kind)
        self.used.setdefault(kind, set()).add(k)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{k}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(json.dumps(header, separators=(",", ":")).encode("ascii") + b"\n")
                faults.crash_point("store-write", fh)
                fh.write(body)
            os.replace(tmp, self._path(kind, k))  # atomic: a reader never sees half an entry
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.filename is None:
                exc.filename = str(self._path(kind, k))  # so that a full disk names the entry
            raise

    def _folder(self, kind: str) -> Path:
        """The kind's folder, made if missing; a file (or anything but a folder) in the way of it or of the
        root is removed with a line saying so: the store is the builder's own."""
        assert self.root is not None
        for folder, shown in ((self.root, self.shown), (self.root / kind, f"{self.shown}/{kind}")):
            if (folder.exists() or folder.is_symlink()) and (folder.is_symlink() or not folder.is_dir()):
                notice(f"cache: {shown} is not a folder; removed it")
                _remove(folder)
        folder = self.root / kind
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def prune(self) -> None:
        """Remove everything this build did not ask for: the entries of the kinds it used that it did not
        read or keep, and every other kind (an older builder's)."""
        if self.root is None or not self.root.is_dir() or self.root.is_symlink():
            return
        for folder in self.root.iterdir():
            keep = self.used.get(folder.name) if folder.is_dir() and not folder.is_symlink() else None
            if keep is None:
                _remove(folder)
                continue
            wanted = {f"{k}{SUFFIX}" for k in keep}
            for path in folder.iterdir():
                if path.name not in wanted:
                    _remove(path)


class _Unusable(Exception):
    """An entry that exists but may not be used; the message says why."""


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        notice(f"cache: could not remove {path.name} ({exc.strerror or exc}); it is ignored")
