"""Validation problems, reported all at once with file, line, field, value and expectation."""

from __future__ import annotations

from dataclasses import dataclass

MAX_SHOWN = 200  # characters of a value a problem repeats: a 10,000-character value would bury the message


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str
    value: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.field or '(file)'}: {self.message}"
        if self.value is not None:
            shown = self.value if len(self.value) <= MAX_SHOWN else self.value[: MAX_SHOWN - 1] + "…"
            text += f" (got {shown})"
        return text


class DataError(Exception):
    """Raised when the data does not validate; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
