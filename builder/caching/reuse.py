"""Generated sources kept from the last good build when what they are made from is unchanged.

After one study is corrected, most of a large review's pages come out of Jinja exactly as before: the pages of
the other studies, the outcomes the correction does not touch, their figures and downloads. Rendering them
only to find that is most of the time of such a rebuild. So each generated file is declared as an Output
(builder.caching.outputs: its path, its named inputs, how to make it; the report layer declares them in
builder.report.pages), written with the key derived from its inputs, and the keys are kept beside the
sources, in build/current. A file whose key is the one the last good build recorded is hard-linked from that
build's sources instead of being rendered again.

A declaration must name everything the file is made from, or a stale file would be kept: each Output's
`make` renders from a context holding only what its inputs cover, and the tests compare incremental builds
with builds from nothing, byte for byte. A build with `--full` reuses nothing but records the keys for the next one.

Beside each key the record keeps the digest of the file written under it (builder.caching.digest), and a
file is taken only if it still has that digest: a file of the last build's sources edited, emptied or
truncated since is made again, with one line saying so. A record of another format, or one that cannot be
read, is dropped whole, with one line: every file is made again.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from builder.caching.digest import content_digest
from builder.caching.outputs import Output

KEYS = "render-keys.json"
FORMAT = 1


def _notice(message: str) -> None:
    print(f"review: {message}", file=sys.stderr)


def _recorded(previous: Path) -> dict[str, list[str]]:
    """The last good build's files: path -> [key, digest of the file written]; {} if there is no readable
    record of this FORMAT (and a line saying so if there is a record of another form)."""
    path = previous / KEYS
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, RecursionError):
        loaded = None
    files = loaded.get("files") if isinstance(loaded, dict) and loaded.get("format") == FORMAT else None
    if isinstance(files, dict) and all(
        isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v) for v in files.values()
    ):
        return files
    _notice(f"cache: dropped build/current/{KEYS} (not a record of format {FORMAT}); every generated file is made anew")
    return {}


class Reuse:
    """The keys of this build's generated files, and the last good build's files to take when keys match."""

    def __init__(self, previous: Path | None, docs: Path):
        """`previous`: the sources of the last good build (a folder with docs/ and KEYS), or None to reuse
        nothing; `docs`: where this build writes its pages."""
        self.previous = previous
        self.docs = docs
        self.keys: dict[str, str] = {}
        self.digests: dict[str, str] = {}
        self.taken = 0
        self._old = _recorded(previous) if previous is not None else {}

    def take(self, rel: str, key: str | None) -> bool:
        """Record that docs/`rel` is made from `key`; True if the last build's file for the same key was
        taken (the caller then writes nothing), False if the caller must write it."""
        if key is None:
            return False
        self.keys[rel] = key
        old = self._old.get(rel)
        if self.previous is None or old is None or old[0] != key:
            return False
        source, target = self.previous / "docs" / rel, self.docs / rel
        try:
            digest = content_digest(source.read_bytes())
        except OSError:
            return False  # gone: made anew, as after a build that kept nothing
        if digest != old[1]:
            _notice(f"cache: dropped build/current/docs/{rel} (not the file stored under its key); it is made anew")
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            try:
                shutil.copyfile(source, target)
            except OSError:
                return False
        self.digests[rel] = digest
        self.taken += 1
        return True

    def write(self, output: Output) -> None:
        """Write `output` into docs/, taken from the last good build if made from the same inputs."""
        if self.take(output.path, output.key):
            return
        path = self.docs / output.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a new file: never write through a link to the last build's sources
        text = output.make()
        path.write_text(text, encoding="utf-8")
        if output.path in self.keys:
            self.digests[output.path] = content_digest(text.encode("utf-8"))

    def save(self, root: Path) -> None:
        """Write the keys and digests into `root` (the sources' folder that becomes build/current)."""
        files = {rel: [key, self.digests[rel]] for rel, key in self.keys.items() if rel in self.digests}
        record = {"format": FORMAT, "files": files}
        (root / KEYS).write_text(json.dumps(record, sort_keys=True, indent=0), encoding="utf-8")
