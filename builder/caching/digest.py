"""The one way the builder hashes files and bytes: SHA-256 over each file's path (relative to a root) and its
content, in path order. Released versions' manifests record `data_hash` in this form, so it never changes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path


def add_files(
    digest: hashlib._Hash, files: Iterable[Path], root: Path, read: Callable[[Path], bytes] = Path.read_bytes
) -> None:
    """Feed `digest` each file's path relative to `root` and its bytes (as `read` gives them), each followed
    by a NUL, in path order."""
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(read(path) + b"\0")


def files_digest(files: Iterable[Path], root: Path, read: Callable[[Path], bytes] = Path.read_bytes) -> str:
    digest = hashlib.sha256()
    add_files(digest, files, root, read)
    return digest.hexdigest()


def named_files_digest(files: dict[str, Path]) -> str:
    """The digest of files that lie in several folders, each under the name it is known by (in name order)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].read_bytes() + b"\0")
    return digest.hexdigest()


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
