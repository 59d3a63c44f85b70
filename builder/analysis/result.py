"""What an analysis produces: its study rows, the pooled fit, follow-ups and subgroups (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field

from builder.contract import Analysis, Outcome, Study
from builder.contract.measures import MEASURES, EffectMeasure
from builder.contract.study import Dataset, Group
from builder.ingest.select import LeftOut, MissingStudy
from builder.stats import Fit


def arms(ds: Dataset) -> tuple[Group, Group]:
    """The experimental and control groups of a dataset with data (the data model requires both there)."""
    if ds.experimental is None or ds.control is None:
        raise ValueError("a dataset without data has no groups to analyse")
    return ds.experimental, ds.control


@dataclass(frozen=True)
class Subgroup:
    id: str  # stable: the design category, or the label in lower case with hyphens
    label: str
    rows: list[int]  # indices into the analysis's rows, in their order
    fit: Fit | None  # None where no study of the subgroup is estimable, or the model is undefined for it


@dataclass(frozen=True)
class Subgroups:
    by: str
    groups: list[Subgroup]
    q: float | None  # test for subgroup differences; None with fewer than two subgroups with a fit
    df: int | None
    p: float | None
    i2: float | None


@dataclass(frozen=True)
class StudyRow:
    study: Study
    dataset: str
    data: Dataset
    inputs: dict[str, float]
    yi: float | None
    vi: float | None
    corrected: bool
    weight: float | None  # percent of the pooled estimate; None where not estimable

    @property
    def estimable(self) -> bool:
        return self.yi is not None

    @property
    def unverified(self) -> bool:
        """The values were recalled, not read in a retrievable copy (provenance kind `unverified`)."""
        return self.data.provenance.kind == "unverified"


@dataclass(frozen=True)
class AnalysisResult:
    spec: Analysis
    outcome: Outcome
    rows: list[StudyRow]
    missing: list[MissingStudy]
    fit: Fit | None
    fixed_first: Fit | None = None  # the fixed-effect fit an I²-switch rule looked at
    notes: list[str] = field(default_factory=list)
    followups: dict = field(default_factory=dict)  # sensitivity, leave_one_out, cumulative (primary analyses)
    small_study: dict = field(default_factory=dict)  # primary analyses: Egger's test and funnel data, or why not
    subgroups: Subgroups | None = None  # when the analysis declares subgroups
    key: str | None = None  # content key of everything the numbers depend on (set when run with a cache)
    left_out: list[LeftOut] = field(default_factory=list)  # named but left out by the integrity rules
    influence: dict = field(default_factory=dict)  # primary analyses: case diagnostics, or why not (diagnostics)

    @property
    def effect_measure(self) -> EffectMeasure:
        return MEASURES[self.spec.measure]

    @property
    def scale(self) -> str:
        return self.effect_measure.scale

    @property
    def model(self) -> str | None:
        return self.fit.model if self.fit else None

    @property
    def participants(self) -> int:
        return sum(int(r.inputs["total_exp"] + r.inputs["total_ctrl"]) for r in self.rows)

    @property
    def dichotomous(self) -> bool:
        return self.outcome.type == "dichotomous"

    @property
    def planned_experimental_n(self) -> int:
        """Participants in the experimental arms of every planned study, with data or not."""
        n = sum(r.study.arm(arms(r.data)[0].arm).n for r in self.rows)
        return n + sum(
            a.n for m in self.missing for a in m.study.arms if a.role == "experimental" and a.kind == "allocated"
        )

    def totals(self) -> dict[str, int]:
        keys = (
            ("events_exp", "total_exp", "events_ctrl", "total_ctrl")
            if self.dichotomous
            else ("total_exp", "total_ctrl")
        )
        return {k: int(sum(r.inputs[k] for r in self.rows)) for k in keys}
