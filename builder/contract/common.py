"""Building blocks shared by the review file and the study files."""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
Identifier = Annotated[
    str, Field(pattern=ID_PATTERN, max_length=64, description="Lower-case letters, digits and hyphens; used in URLs.")
]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number (not NaN or infinity)")
    return value


FiniteFloat = Annotated[float, AfterValidator(_finite)]

_URL = re.compile(r"^(https?://\S+|doi:\S+)$")


def _safe_url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError("must be an http(s) URL or a doi: link")
    return value


SafeUrl = Annotated[str, AfterValidator(_safe_url)]


def _plain_label(value: str) -> str:
    if "<" in value or ">" in value:
        raise ValueError("must not contain '<' or '>': labels appear in menus and page titles as they are")
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Label = Annotated[str, AfterValidator(_plain_label), Field(max_length=120)]


class Strict(BaseModel):
    """Every model rejects unknown fields, so a typo such as `evnets` is an error, not silence."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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
