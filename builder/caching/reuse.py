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
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from builder.caching.outputs import Output

KEYS = "render-keys.json"


class Reuse:
    """The keys of this build's generated files, and the last good build's files to take when keys match."""

    def __init__(self, previous: Path | None, docs: Path):
        """`previous`: the sources of the last good build (a folder with docs/ and KEYS), or None to reuse
        nothing; `docs`: where this build writes its pages."""
        self.previous = previous
        self.docs = docs
        self.keys: dict[str, str] = {}
        self.taken = 0
        self._old: dict[str, str] = {}
        if previous is not None:
            try:
                loaded = json.loads((previous / KEYS).read_text(encoding="utf-8"))
                self._old = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._old = {}

    def take(self, rel: str, key: str | None) -> bool:
        """Record that docs/`rel` is made from `key`; True if the last build's file for the same key was
        taken (the caller then writes nothing), False if the caller must write it."""
        if key is None:
            return False
        self.keys[rel] = key
        if self.previous is None or self._old.get(rel) != key:
            return False
        source, target = self.previous / "docs" / rel, self.docs / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            try:
                shutil.copyfile(source, target)
            except OSError:
                return False
        self.taken += 1
        return True

    def write(self, output: Output) -> None:
        """Write `output` into docs/, taken from the last good build if made from the same inputs."""
        if self.take(output.path, output.key):
            return
        path = self.docs / output.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a new file: never write through a link to the last build's sources
        path.write_text(output.make(), encoding="utf-8")

    def save(self, root: Path) -> None:
        """Write the keys into `root` (the sources' folder that becomes build/current)."""
        (root / KEYS).write_text(json.dumps(self.keys, sort_keys=True, indent=0), encoding="utf-8")
