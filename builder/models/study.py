"""One included study: `data/studies/<study-id>.yaml`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .rob import RiskOfBias
from .common import FiniteFloat, Identifier, Label, Provenance, SafeUrl, Strict

DesignCategory = Literal[
    "rct",
    "non-randomised-controlled",
    "single-arm",
    "follow-up-cohort",
    "case-series",
    "case-report",
]

DESIGN_LABELS = {
    "rct": "Randomised trial",
    "non-randomised-controlled": "Non-randomised, controlled",
    "single-arm": "Single arm",
    "follow-up-cohort": "Follow-up of another study's patients",
    "case-series": "Case series",
    "case-report": "Case report",
}


class Citation(Strict):
    authors: list[str] = Field(min_length=1, description="Authors as 'Surname Initials'; end with 'et al' if truncated.")
    title: str | None = None
    journal: str | None = None
    year: int | None = Field(None, ge=1900, le=2100)
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    doi: str | None = Field(None, pattern=r"^10\.\d{4,9}/\S+$")
    pmid: str | None = Field(None, pattern=r"^\d{1,9}$")
    pmcid: str | None = Field(None, pattern=r"^PMC\d+$")
    url: SafeUrl | None = None
    provenance: Provenance


class Design(Strict):
    category: DesignCategory = Field(description="Our classification of the design, used by filters.")
    review_category: DesignCategory | None = Field(
        None, description="The source review's classification, mapped to the same categories, to flag differences.")
    as_labelled_by_review: str = Field(description="How the source review labelled the study.")
    as_reported_by_authors: str | None = Field(None, description="How the study's own authors describe it.")
    provenance: Provenance


class Intervention(Strict):
    cell_source: str | None = Field(None, description="For example UC-MSC, AT-MSC.")
    dose: str | None = None
    route: str | None = None
    schedule: str | None = None
    provenance: Provenance


class Arm(Strict):
    id: Identifier
    label: str
    role: Literal["experimental", "control"]
    kind: Literal["allocated", "combined", "virtual"] = Field(
        "allocated", description="allocated: a real group of the study; combined: the union of other arms "
        "(list them in 'combines'); virtual: not patients at all, e.g. a control built from a literature rate.")
    combines: list[Identifier] = Field(default_factory=list, description="For a combined arm: the arms it unites.")
    n: int = Field(ge=1, description="Participants allocated to the arm.")
    intervention: Intervention | None = None
    provenance: Provenance


class Registry(Strict):
    id: str | None = Field(None, description="Trial registry identifier, or null when none was reported.")
    provenance: Provenance


class Location(Strict):
    country: str
    site: str | None = None
    provenance: Provenance


class Age(Strict):
    summary: str = Field(description="As reported, e.g. '58.8 ± 16.3 (mean ± SD, all participants)'.")
    provenance: Provenance


class Group(Strict):
    """One side of a comparison: an arm (or, for pre-post data, an arm at one time point)."""

    arm: Identifier = Field(description="The id of an arm of this study.")
    timepoint: str | None = Field(None, description="When measured, if it differs from the dataset's time point.")
    total: int = Field(ge=1, description="Participants with data for this outcome.")
    events: int | None = Field(None, ge=0, description="Participants with the event (dichotomous outcomes).")
    mean: FiniteFloat | None = None
    sd: FiniteFloat | None = Field(None, gt=0)
    as_reported: str | None = Field(None, description="The value as printed, when it was transformed.")

    @model_validator(mode="after")
    def _consistent(self) -> "Group":
        has_event = self.events is not None
        has_cont = self.mean is not None or self.sd is not None
        if has_event and has_cont:
            raise ValueError("give either 'events' (dichotomous) or 'mean' and 'sd' (continuous), not both")
        if not has_event and not has_cont:
            raise ValueError("give 'events' (dichotomous) or 'mean' and 'sd' (continuous)")
        if has_cont and (self.mean is None or self.sd is None):
            raise ValueError("a continuous group needs both 'mean' and 'sd'")
        if has_event and self.events > self.total:
            raise ValueError(f"events ({self.events}) cannot exceed total ({self.total})")
        return self


class Dataset(Strict):
    """One version of a study's data for one outcome (for example as published, or as the review analysed it)."""

    status: Literal["available", "missing"] = "available"
    design: Literal["parallel", "pre-post"] = Field(
        "parallel", description="parallel: experimental vs control arm; pre-post: one arm after vs before treatment.")
    timepoint: str | None = None
    unit: str | None = Field(None, description="Unit of continuous values, e.g. mg/L.")
    experimental: Group | None = None
    control: Group | None = None
    missing: str | None = Field(None, description="What could not be found, and where it was looked for.")
    provenance: Provenance
    note: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> "Dataset":
        if self.status == "available":
            if self.experimental is None or self.control is None:
                raise ValueError("an available dataset needs both 'experimental' and 'control'")
            if (self.experimental.events is None) != (self.control.events is None):
                raise ValueError("'experimental' and 'control' must both be dichotomous or both continuous")
            if self.experimental.mean is not None and not self.unit:
                raise ValueError("continuous data needs a 'unit'")
        else:
            if not self.missing:
                raise ValueError("a missing dataset needs 'missing': what is missing and where it was sought")
            if self.experimental is not None or self.control is not None:
                raise ValueError("a missing dataset must not carry numbers; set status to 'available'")
        return self


class Study(Strict):
    id: Identifier = Field(description="Must equal the file name without '.yaml'.")
    label: Label = Field(description="Short label shown in tables, plots and menus, e.g. 'Shu 2020'.")
    source_ref: int | None = Field(None, ge=1, description="Reference number in the source review.")
    source_table: Literal["clinical-studies", "case-reports"] = Field(
        description="Which table of the source review lists the study.")
    citation: Citation
    design: Design
    registry: Registry
    location: Location
    age: Age | None = None
    arms: list[Arm] = Field(min_length=1)
    outcomes: dict[Identifier, dict[Identifier, Dataset]] = Field(
        default_factory=dict,
        description="Outcome id -> dataset name (e.g. published, as-analysed) -> data.")
    risk_of_bias: list[RiskOfBias] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def arm(self, arm_id: str) -> Arm:
        return next(a for a in self.arms if a.id == arm_id)

    @property
    def total_n(self) -> int:
        """Real participants: combined arms would count people twice and virtual ones are not people."""
        return sum(a.n for a in self.arms if a.kind == "allocated")
