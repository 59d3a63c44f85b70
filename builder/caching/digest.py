"""The one way the builder hashes files and bytes: SHA-256 over each file's path (relative to a root) and its
content, in path order. Released versions' manifests record `data_hash` in this form, so it never changes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def add_files(digest: hashlib._Hash, files: Iterable[Path], root: Path) -> None:
    """Feed `digest` each file's path relative to `root` and its bytes, each followed by a NUL, in path order."""
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")


def files_digest(files: Iterable[Path], root: Path) -> str:
    digest = hashlib.sha256()
    add_files(digest, files, root)
    return digest.hexdigest()


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
