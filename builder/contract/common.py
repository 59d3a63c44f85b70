"""Building blocks shared by the review file and the study files."""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
Identifier = Annotated[
    str, Field(pattern=ID_PATTERN, max_length=64, description="Lower-case letters, digits and hyphens; used in URLs.")
]


# Bounds on what the data may say: far beyond any real review, well inside what a float holds exactly.
MAX_COUNT = 1_000_000_000  # participants, events, records
MAX_MAGNITUDE = 1e12  # a mean, SD, quartile...


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number (not NaN or infinity)")
    if abs(value) > MAX_MAGNITUDE:
        raise ValueError(f"must be between -{MAX_MAGNITUDE:g} and {MAX_MAGNITUDE:g}")
    return value


FiniteFloat = Annotated[float, AfterValidator(_finite), Field(strict=True)]
# A count: a whole number written as one (not true/false, not text), from 0 to MAX_COUNT.
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
PositiveCount = Annotated[int, Field(strict=True, ge=1, le=MAX_COUNT)]
StrictInt = Annotated[int, Field(strict=True)]  # bounds given by the field

# A link: http(s) with a host, or doi:10.x/...; none of the characters that cannot appear in a URL unencoded
# (spaces, quotes, angle brackets, braces, backslash, caret, backtick, bar).
_URL = re.compile(
    r"^(https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][^\s\"<>{}|\\^`]*)?|doi:10\.[0-9]{4,9}/[^\s\"<>{}|\\^`]+)$"
)


def _safe_url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError(
            "must be an http(s) URL with a host, or a doi:10.… link, without spaces, quotes, '<', '>', braces, "
            "'|', '\\', '^' or '`' (percent-encode them)"
        )
    return value


SafeUrl = Annotated[str, AfterValidator(_safe_url)]


def _plain_label(value: str) -> str:
    if "<" in value or ">" in value:
        raise ValueError("must not contain '<' or '>': labels appear in menus and page titles as they are")
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Label = Annotated[str, AfterValidator(_plain_label), Field(max_length=120)]


# Bidirectional embeddings, overrides and isolates: they make text display in another order than it is
# stored (a label that reads one way on the page and sorts, searches and cites another; source code or a
# script line that shows other than what runs). The marks U+200E, U+200F and U+061C, which only set the
# direction of neutral characters in right-to-left text, are allowed.
BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def control_character(text: str) -> str | None:
    """Why `text` may not be stored, or None: control characters (other than tab and line feed), which
    break figures (invalid XML), lines of scripts and citations, and terminals; bidirectional controls,
    which reorder what is displayed; and unpaired surrogates."""
    for i, c in enumerate(text):
        if c in "\t\n":
            continue
        if c in BIDI_CONTROLS:
            name = unicodedata.name(c, "a bidirectional control").lower()
            return (
                f"contains the bidirectional control character U+{ord(c):04X} ({name}) at character {i + 1}, "
                "which makes text display in another order than it is written; remove it"
            )
        category = unicodedata.category(c)
        if category in ("Cc", "Cs"):
            what = "control character" if category == "Cc" else "unpaired surrogate"
            return f"contains {what} U+{ord(c):04X} at character {i + 1}; remove it"
    return None


def _check_text(value: object, where: str = "") -> None:
    if isinstance(value, BaseModel):
        return
    if isinstance(value, str):
        problem = control_character(value)
        if problem:
            raise ValueError(f"{where}: {problem}" if where else problem)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_text(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, f"{where}, a key")
            _check_text(item, f"{where}.{key}")


class Strict(BaseModel):
    """Every model rejects unknown fields, so a typo such as `evnets` is an error, not silence; and no text
    in it holds a control character."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object, info: ValidationInfo) -> object:
        # Models inside the value have checked their own text; lists and mappings of text are checked here.
        _check_text(value, "" if isinstance(value, str) else str(info.field_name))
        return value


ProvenanceKind = Literal["extracted", "inferred", "as-printed-in-review", "unverified"]


class Provenance(Strict):
    """Where a number or fact came from, and what was done to it."""

    kind: ProvenanceKind = Field(
        description="extracted: read from the cited source; inferred: derived by reasoning or arithmetic "
        "(give the reasoning); as-printed-in-review: copied from the source review without independent check; "
        "unverified: recalled but not read in a retrievable copy."
    )
    source: str = Field(min_length=3, description="Citation or URL and the table, figure or sentence.")
    url: SafeUrl | None = None
    reasoning: str | None = Field(None, description="Required when kind is inferred.")
    transformation: str | None = Field(
        None, description="Any arithmetic applied to the reported numbers, with its method."
    )
    conversion: Literal["median-iqr-to-mean-sd", "median-range-to-mean-sd", "se-to-sd", "ci-to-sd", "unit"] | None = (
        Field(
            None,
            description="Set when the values were converted from another summary or unit; sensitivity analyses "
            "leave such studies out.",
        )
    )

    @model_validator(mode="after")
    def _inferred_needs_reasoning(self) -> Provenance:
        if self.kind == "inferred" and not self.reasoning:
            raise ValueError("an inferred value needs 'reasoning' explaining how it was derived")
        return self
