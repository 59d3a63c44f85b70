"""What an analysis produces: its study rows, the pooled fit, follow-ups and subgroups (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from builder.contract import Analysis, Outcome, Study
from builder.contract.measures import MEASURES, EffectMeasure
from builder.contract.study import Dataset, Group
from builder.ingest.select import LeftOut, MissingStudy
from builder.stats import Fit
from builder.stats.metareg import MetaRegression


def arms(ds: Dataset) -> tuple[Group, Group]:
    """The experimental and control groups of a dataset with data (the data model requires both there)."""
    if ds.experimental is None or ds.control is None:
        raise ValueError("a dataset without data has no groups to analyse")
    return ds.experimental, ds.control


InputKind = Literal["o-e", "contrast", "pre-post", "arms"]


def input_kind(inputs: dict[str, float]) -> InputKind:
    """What a study's inputs are: 'o-e', 'contrast', 'pre-post' or 'arms' (see AnalysisResult.data_kinds)."""
    if "o_minus_e" in inputs:
        return "o-e"
    if "yi" in inputs:
        return "contrast"
    return "pre-post" if "pre_post" in inputs else "arms"


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
    label: str | None = None  # of a declared characteristic (built-in subgroups have theirs in subgroups.BY_LABELS)


@dataclass(frozen=True)
class Term:
    """One coefficient of a meta-regression: the intercept, a continuous moderator's slope, or a level of a
    categorical moderator against its reference level."""

    id: str  # "intercept", the characteristic id, or "<characteristic id>:<level>"
    label: str
    characteristic: str | None
    level: str | None = None


@dataclass(frozen=True)
class MetaRegressionResult:
    """A meta-regression declared by an analysis: the fit, or the reason there is none."""

    moderators: list[str]  # characteristic ids, as declared by the analysis
    test: str  # "knha" or "z"
    method: str  # the tau² estimator
    k: int  # studies with an estimable effect and a value of every moderator
    terms: list[Term]
    reference_levels: dict[str, str]  # categorical moderator -> its reference level
    studies: list[int]  # indices into the analysis's rows of the studies in the model
    design: list[list[float]]  # the design matrix, a row per study in the model
    left_out: list[tuple[int, str]]  # (row index, reason) of estimable studies without a moderator's value
    fit: MetaRegression | None
    reason: str | None = None  # why there is no fit
    few_studies: str | None = None  # the analysis's reason for fitting below the guard, when it did


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
    meta_regression: MetaRegressionResult | None = None  # when the analysis declares one
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

    @property
    def data_kinds(self) -> set[str]:
        """What the studies give: 'arms' (per-arm numbers of two groups), 'pre-post' (one arm before and after),
        'contrast' (the study's estimate with its standard error) and 'o-e' (O - E and its variance)."""
        return {input_kind(r.inputs) for r in self.rows}

    @property
    def reports_events(self) -> bool:
        """Whether every study gives its events (not only its estimate of the comparison)."""
        return self.dichotomous and all("events_exp" in r.inputs for r in self.rows)

    def totals(self) -> dict[str, int]:
        """Participants of each arm, and events where every study gives them."""
        keys = (
            ("events_exp", "total_exp", "events_ctrl", "total_ctrl")
            if self.reports_events
            else ("total_exp", "total_ctrl")
        )
        return {k: int(sum(r.inputs[k] for r in self.rows)) for k in keys}
