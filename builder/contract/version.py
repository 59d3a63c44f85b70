"""Version numbers of the review, ordered as numbers: 1.10 comes after 1.9, never before 1.2.

Only the canonical form is a version: two or three whole numbers separated by dots, without leading zeros, so
that one number has one spelling ("01.1" is refused, not taken for 1.1). Trailing zeros do not make another
version: 1.1.0 equals 1.1, so it can never be released as if it were newer.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

PATTERN = r"^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})(\.(0|[1-9][0-9]{0,5}))?$"
_FORM = re.compile(PATTERN)


class VersionError(ValueError):
    pass


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    parts: tuple[int, ...]

    @classmethod
    def parse(cls, text: object) -> Version:
        """`text` as review.yaml and the manifests write it; VersionError if it is not in canonical form."""
        if not isinstance(text, str) or not _FORM.match(text):
            raise VersionError(
                f"{text!r} is not a version number: two or three whole numbers separated by dots, without "
                "leading zeros (for example 1.2 or 1.2.1)"
            )
        return cls(tuple(int(p) for p in text.split(".")))

    def _key(self) -> tuple[int, ...]:
        parts = list(self.parts)
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        return tuple(parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return ".".join(str(p) for p in self.parts)
