"""Version numbers of the review, ordered as numbers: 1.10 comes after 1.9, never before 1.2."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Version:
    parts: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> Version:
        """`text` as review.yaml writes it (digits separated by dots; the data model checks the form)."""
        return cls(tuple(int(p) for p in text.split(".")))

    def __str__(self) -> str:
        return ".".join(str(p) for p in self.parts)
