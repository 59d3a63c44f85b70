"""What a generated thing is made from, declared once; its reuse key is derived from that declaration.

A build reuses two kinds of things from earlier builds: files of the site's sources (pages, figures,
downloads: see builder.caching.reuse) and values in the store (parsed studies, fitted analyses, drawn
figures, results records: see builder.caching.store). Either is reused only when its key matches, and a key
must cover everything the thing is made from, or a stale one would be kept. So no caller writes a key:
each declares the named inputs of what it makes, and `derive` turns them into the key.

An input's value is text or bytes, a sequence of them (one per study, say), or None for an input that is not
known in this build (an analysis without a key, in a build that keeps nothing): then the key is None and the
thing is made anew, never reused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from builder.caching.plain import PLAIN, Codec
from builder.caching.store import Store, builder_fingerprint

Part = str | bytes
Value = Part | Sequence[Part | None] | None
Inputs = Mapping[str, Value]


def _feed(digest, data: Part) -> None:
    raw = data.encode() if isinstance(data, str) else data
    digest.update(len(raw).to_bytes(8, "little") + raw)  # length-prefixed: ("a", "bc") differs from ("ab", "c")


def derive(kind: str, inputs: Inputs) -> str | None:
    """The key of a `kind` of thing made from `inputs`, or None if any input is unknown. The key covers the
    builder's own code, the kind, each input's name and each value; the order of the names does not matter."""
    digest = hashlib.sha256(builder_fingerprint().encode())
    _feed(digest, kind)
    for name in sorted(inputs):
        value = inputs[name]
        if value is None:
            return None
        _feed(digest, name)
        if isinstance(value, str | bytes):
            _feed(digest, b"\x01")
            _feed(digest, value)
            continue
        _feed(digest, len(value).to_bytes(8, "little"))
        for part in value:
            if part is None:
                return None
            _feed(digest, part)
    return digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Output:
    """A generated file of the site's sources: its path under docs/, what it is made from and how to make it.

    `inputs` None declares a file that is always made (a page that shows the whole review, for which a key
    would cost as much as the page); otherwise the file is reusable under `derive(kind, inputs)`, and `make`
    must read nothing its inputs do not cover."""

    path: str
    make: Callable[[], str]
    kind: str = ""
    inputs: Inputs | None = None

    @property
    def key(self) -> str | None:
        return None if self.inputs is None else derive(self.kind or self.path, self.inputs)


@dataclass(frozen=True)
class Stored:
    """A value kept in the store under its kind (the store's folder) and the key derived from what it is made
    from, as plain data its `codec` writes and reads (see builder.caching.plain). Without a store or a key,
    nothing is read or kept."""

    kind: str
    inputs: Inputs
    codec: Codec = field(default=PLAIN, compare=False)

    @cached_property
    def key(self) -> str | None:
        return derive(self.kind, self.inputs)

    def get(self, store: Store | None) -> object | None:
        """The value an earlier build kept, or None."""
        return None if store is None or self.key is None else store.get(self.kind, self.key, self.codec)

    def put(self, store: Store | None, value: object) -> None:
        if store is not None and self.key is not None:
            store.put(self.kind, self.key, value, self.codec)

    def keep(self, store: Store | None) -> None:
        """Keep the entry for a later build although this one does not read it (see Store.keep)."""
        if store is not None and self.key is not None:
            store.keep(self.kind, self.key)
