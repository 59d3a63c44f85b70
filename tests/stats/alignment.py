"""Shared by the metafor alignment tests: loading a pinned reference and the tolerance rule."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

REFERENCE_DIR = Path(__file__).parents[1] / "reference"


def load_reference(name: str) -> dict:
    """tests/reference/<name>.json, as written by the R script beside it."""
    return json.loads((REFERENCE_DIR / f"{name}.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Tol:
    """|actual - expected| <= atol + rtol * |expected|."""

    rtol: float
    atol: float

    def ok(self, actual: float, expected: float) -> bool:
        return abs(actual - expected) <= self.atol + self.rtol * abs(expected)
