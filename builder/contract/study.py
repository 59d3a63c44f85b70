"""One included study: `data/studies/<study-id>.yaml`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from .common import Count, FiniteFloat, Identifier, Label, PositiveCount, Provenance, SafeUrl, Strict, StrictInt
from .rob import RiskOfBias

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


def _not_a_page_name(value: str) -> str:
    if value == "index":
        raise ValueError("'index' is the page studies/index (the list of studies); choose another id")
    return value


class Citation(Strict):
    authors: list[str] = Field(
        min_length=1, description="Authors as 'Surname Initials'; end with 'et al' if truncated."
    )
    title: str | None = None
    journal: str | None = None
    year: StrictInt | None = Field(None, ge=1900, le=2100)
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    doi: str | None = Field(None, pattern=r"^10\.\d{4,9}/[^\s\"<>{}|\\^`]+$")
    pmid: str | None = Field(None, pattern=r"^\d{1,9}$")
    pmcid: str | None = Field(None, pattern=r"^PMC\d+$")
    url: SafeUrl | None = None
    provenance: Provenance


class Design(Strict):
    category: DesignCategory = Field(description="Our classification of the design, used by filters.")
    review_category: DesignCategory | None = Field(
        None, description="The source review's classification, mapped to the same categories, to flag differences."
    )
    as_labelled_by_review: str = Field(description="How the source review labelled the study.")
    as_reported_by_authors: str | None = Field(None, description="How the study's own authors describe it.")
    patients_counted_in: Identifier | None = Field(
        None,
        description="The study whose report already counts these patients (for a follow-up or a second "
        "report of the same cohort). Analyses and participant counts leave this study out unless an analysis "
        "keeps it by name; a follow-up-cohort is left out even without it.",
    )
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
    kind: Literal["allocated", "combined", "virtual", "historical"] = Field(
        "allocated",
        description="allocated: a real group of the study; combined: the union of other arms "
        "(list them in 'combines'); virtual: not patients at all, e.g. a control built from a literature rate; "
        "historical: patients of an earlier period or another report, not enrolled in this study. Analyses "
        "leave out a comparison with a virtual or historical arm unless they keep the study by name.",
    )
    combines: list[Identifier] = Field(default_factory=list, description="For a combined arm: the arms it unites.")
    n: PositiveCount = Field(description="Participants allocated to the arm.")
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
    """One side of a comparison: an arm (or, for pre-post data, an arm at one time point).

    Continuous values are given as the mean and SD, or as reported and converted by the builder into a mean
    and SD in the outcome's unit, with the method recorded in the dataset's provenance: the mean with its
    standard error (se) or confidence interval (ci_low, ci_high, ci_level); the CI alone (its midpoint is the
    mean); or the median with the quartiles (q1, q3), the range (minimum, maximum) or both.
    """

    arm: Identifier = Field(description="The id of an arm of this study.")
    timepoint: str | None = Field(None, description="When measured, if it differs from the dataset's time point.")
    total: PositiveCount = Field(description="Participants with data for this outcome.")
    events: Count | None = Field(None, description="Participants with the event (dichotomous outcomes).")
    mean: FiniteFloat | None = None
    sd: FiniteFloat | None = Field(None, gt=0)
    se: FiniteFloat | None = Field(
        None,
        gt=0,
        description="Standard error of the group's mean, as reported; "
        "the builder derives the SD (Cochrane Handbook 6.5.2.2).",
    )
    ci_low: FiniteFloat | None = Field(
        None,
        description="Confidence interval of the group's mean, as reported; "
        "the builder derives the SD (and the mean, if not given, as its midpoint).",
    )
    ci_high: FiniteFloat | None = None
    ci_level: FiniteFloat | None = Field(None, gt=0, lt=1, description="Level of that interval; unset: 0.95.")
    median: FiniteFloat | None = Field(
        None,
        description="Median, as reported with q1 and q3 and/or minimum and "
        "maximum; the builder estimates the mean and SD (Luo 2018, Wan 2014, "
        "Shi 2020).",
    )
    q1: FiniteFloat | None = Field(None, description="First quartile.")
    q3: FiniteFloat | None = Field(None, description="Third quartile.")
    minimum: FiniteFloat | None = None
    maximum: FiniteFloat | None = None
    as_reported: str | None = Field(None, description="The value as printed, when it was transformed.")

    @property
    def has_data(self) -> bool:
        """Whether the group carries its own numbers (events, or a continuous summary); a group of a dataset
        that reports only the comparison (`contrast`, `o_minus_e`) gives its arm and total alone."""
        return self.events is not None or any(getattr(self, name) is not None for name in CONTINUOUS_FIELDS)

    @property
    def reported_form(self) -> str | None:
        """How a continuous group was reported: 'mean-sd', 'mean-se', 'ci', 'median'; None if dichotomous or
        without data."""
        if self.events is not None or not self.has_data:
            return None
        if self.median is not None:
            return "median"
        if self.ci_low is not None or self.ci_high is not None:
            return "ci"
        if self.se is not None:
            return "mean-se"
        return "mean-sd"

    @model_validator(mode="after")
    def _consistent(self) -> Group:
        """Dichotomous or continuous, not both; events within the total; one complete continuous summary."""
        given = [name for name in CONTINUOUS_FIELDS if getattr(self, name) is not None]
        if self.events is not None and given:
            raise ValueError("give either 'events' (dichotomous) or 'mean' and 'sd' (continuous), not both")
        if self.events is not None and self.events > self.total:
            raise ValueError(f"events ({self.events}) cannot exceed total ({self.total})")
        form = self.reported_form
        if form is not None:
            _one_summary(given, SUMMARY_FIELDS[form])
            _summary_complete(self, form)
        return self


SUMMARY_FIELDS = {  # the fields of each way a continuous group can be reported (Group.reported_form)
    "mean-sd": {"mean", "sd"},
    "mean-se": {"mean", "se"},
    "ci": {"mean", "ci_low", "ci_high", "ci_level"},
    "median": {"median", "q1", "q3", "minimum", "maximum"},
}


def _one_summary(given: list[str], allowed: set[str]) -> None:
    extra = [name for name in given if name not in allowed]
    if extra:
        raise ValueError(
            f"give one summary of a continuous group: mean and sd, mean and se, a confidence "
            f"interval (ci_low, ci_high), or the median with q1 and q3 and/or minimum and maximum; "
            f"{', '.join(extra)} cannot go with {' and '.join(n for n in given if n in allowed)}"
        )


def _summary_complete(group: Group, form: str) -> None:
    if form == "mean-sd" and (group.mean is None or group.sd is None):
        raise ValueError("a continuous group needs both 'mean' and 'sd'")
    if form == "mean-se" and group.mean is None:
        raise ValueError("a standard error needs the 'mean' it belongs to")
    if form == "ci" and (group.ci_low is None or group.ci_high is None):
        raise ValueError("a confidence interval needs both 'ci_low' and 'ci_high'")
    if form == "median" and not _median_spread_complete(group):
        raise ValueError(
            "a median needs both quartiles ('q1' and 'q3'), both extremes ('minimum' and 'maximum'), or all four"
        )


def _median_spread_complete(group: Group) -> bool:
    """Both quartiles, both extremes, or all four; never one of a pair alone."""
    quartiles = (group.q1 is not None, group.q3 is not None)
    extremes = (group.minimum is not None, group.maximum is not None)
    if any(quartiles) and not all(quartiles) or any(extremes) and not all(extremes):
        return False
    return all(quartiles) or all(extremes)


CONTINUOUS_FIELDS = ("mean", "sd", "se", "ci_low", "ci_high", "ci_level", "median", "q1", "q3", "minimum", "maximum")


RATIO_MEASURES = ("OR", "RR", "HR", "ROM")  # printed on their natural scale, analysed as logs
CONTRAST_MEASURES = (*RATIO_MEASURES, "MD", "SMD", "RD", "GEN")


class Contrast(Strict):
    """A study's reported comparison of the two arms (contrast-level data, pooled by generic inverse variance):
    the effect estimate with its standard error or its confidence interval, as printed.

    Ratios (OR, RR, HR, ROM) are given on their natural scale, as papers print them, and the builder takes
    their logs; `se` is then the standard error of the log ratio, as regression software reports it. MD, SMD,
    RD and GEN are used as they are. With a confidence interval and no `se`, the standard error is the
    interval's width on the analysis scale over 2 z (a Wald interval); with both, `se` is used."""

    measure: Literal["OR", "RR", "HR", "ROM", "MD", "SMD", "RD", "GEN"] = Field(
        description="What the estimate is: OR, RR, HR or ROM (a ratio, on its natural scale, e.g. 0.72), or MD, "
        "SMD, RD or GEN (a difference, or any estimate on the scale it is pooled on). It must be the measure of "
        "the analyses that pool it."
    )
    estimate: FiniteFloat = Field(description="The effect estimate as printed (a ratio such as 0.72 for an HR).")
    se: FiniteFloat | None = Field(
        None, gt=0, description="Its standard error (of the log ratio for OR, RR, HR and ROM)."
    )
    ci_low: FiniteFloat | None = Field(None, description="Lower limit of its confidence interval, as printed.")
    ci_high: FiniteFloat | None = Field(None, description="Upper limit of its confidence interval, as printed.")
    ci_level: FiniteFloat | None = Field(None, gt=0, lt=1, description="Level of that interval; unset: 0.95.")
    adjusted_for: str | None = Field(None, description="The covariates of an adjusted estimate, as reported.")
    as_reported: str | None = Field(None, description="The result as printed, e.g. 'HR 0.72 (95% CI 0.51-1.02)'.")

    @property
    def ratio(self) -> bool:
        return self.measure in RATIO_MEASURES

    @model_validator(mode="after")
    def _consistent(self) -> Contrast:
        """A standard error or a whole interval; a positive ratio; an interval that contains the estimate."""
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("a confidence interval needs both 'ci_low' and 'ci_high'")
        if self.se is None and self.ci_low is None:
            raise ValueError(
                "a contrast needs its standard error 'se' or its confidence interval 'ci_low' and 'ci_high'"
            )
        if self.ratio:
            for name in ("estimate", "ci_low", "ci_high"):
                value = getattr(self, name)
                if value is not None and value <= 0:
                    raise ValueError(
                        f"{self.measure} is a ratio, printed on its natural scale: '{name}' must be positive "
                        f"(got {value:g}; a log ratio would be written as its exponent)"
                    )
        if self.ci_low is not None and self.ci_high is not None:
            if not self.ci_low < self.ci_high:
                raise ValueError(f"ci_low ({self.ci_low:g}) must be below ci_high ({self.ci_high:g})")
            if not self.ci_low <= self.estimate <= self.ci_high:
                raise ValueError(
                    f"the confidence interval {self.ci_low:g} to {self.ci_high:g} does not contain the estimate "
                    f"{self.estimate:g}; check the numbers (and, for a ratio, that none is a log)"
                )
        return self


class OMinusE(Strict):
    """Peto's statistics as a study reports them (RevMan's "O - E and Variance" data): the observed minus the
    expected number of events in the experimental arm, and its variance, from a log-rank test (a log hazard
    ratio) or from a 2x2 table (a log odds ratio). Pooled by Peto's method: Σ (O - E) / Σ V."""

    measure: Literal["OR", "HR"] = Field(description="HR for a log-rank O - E; OR for one from a 2x2 table.")
    value: FiniteFloat = Field(description="O - E: observed minus expected events in the experimental arm.")
    variance: FiniteFloat = Field(gt=0, description="V: the variance of O - E.")
    as_reported: str | None = Field(None, description="The result as printed.")


class Dataset(Strict):
    """One version of a study's data for one outcome (for example as published, or as the review analysed it)."""

    status: Literal["available", "missing"] = "available"
    design: Literal["parallel", "pre-post"] = Field(
        "parallel", description="parallel: experimental vs control arm; pre-post: one arm after vs before treatment."
    )
    timepoint: str | None = None
    unit: str | None = Field(None, description="Unit of continuous values, e.g. mg/L.")
    experimental: Group | None = None
    control: Group | None = None
    contrast: Contrast | None = Field(
        None,
        description="For a study that reports only the comparison (an adjusted OR, a hazard ratio, an MD from "
        "ANCOVA): the estimate with its SE or CI. The groups then give their arm and total alone.",
    )
    o_minus_e: OMinusE | None = Field(
        None,
        description="For a study that reports O - E and its variance (Peto's method). The groups then give their "
        "arm and total alone.",
    )
    missing: str | None = Field(None, description="What could not be found, and where it was looked for.")
    provenance: Provenance
    note: str | None = None

    @property
    def reported(self) -> Contrast | OMinusE | None:
        """The study's own estimate of the comparison, when it gives one instead of per-arm numbers."""
        return self.contrast if self.contrast is not None else self.o_minus_e

    @model_validator(mode="after")
    def _complete(self) -> Dataset:
        if self.status != "available":
            if not self.missing:
                raise ValueError("a missing dataset needs 'missing': what is missing and where it was sought")
            if any(x is not None for x in (self.experimental, self.control, self.contrast, self.o_minus_e)):
                raise ValueError("a missing dataset must not carry numbers; set status to 'available'")
            return self
        if self.experimental is None or self.control is None:
            raise ValueError("an available dataset needs both 'experimental' and 'control'")
        if self.reported is not None:
            _groups_without_data(self)
        else:
            _groups_with_data(self.experimental, self.control)
            if self.experimental.events is None and not self.unit:
                raise ValueError("continuous data needs a 'unit'")
        return self


def _groups_with_data(experimental: Group, control: Group) -> None:
    for side, group in (("experimental", experimental), ("control", control)):
        if not group.has_data:
            raise ValueError(
                f"'{side}' gives no data: give 'events' (dichotomous) or 'mean' and 'sd' (continuous), or give "
                "the study's estimate of the comparison in 'contrast' (or 'o_minus_e')"
            )
    if (experimental.events is None) != (control.events is None):
        raise ValueError("'experimental' and 'control' must both be dichotomous or both continuous")


def _groups_without_data(ds: Dataset) -> None:
    if ds.contrast is not None and ds.o_minus_e is not None:
        raise ValueError("give the comparison once: 'contrast' or 'o_minus_e', not both")
    if ds.design == "pre-post":
        raise ValueError("a reported comparison ('contrast', 'o_minus_e') is of two arms: design must be parallel")
    name = "contrast" if ds.contrast is not None else "o_minus_e"
    for side, group in (("experimental", ds.experimental), ("control", ds.control)):
        if group is not None and group.has_data:
            raise ValueError(
                f"with '{name}', '{side}' gives its arm and total only (the numbers are the study's "
                f"estimate in '{name}'); remove its events or summary, or remove '{name}'"
            )
    if ds.contrast is not None and ds.contrast.measure in ("MD", "GEN") and not ds.unit:
        raise ValueError(f"a {ds.contrast.measure} contrast needs the 'unit' it is in")


class CharacteristicValue(Strict):
    """The study's value of a characteristic the review declares (review.yaml, `characteristics`)."""

    value: FiniteFloat | Label = Field(
        description="A number for a continuous characteristic (in its unit); one of the levels, as text, for a "
        "categorical one."
    )
    provenance: Provenance
    note: str | None = None


class Study(Strict):
    id: Annotated[Identifier, AfterValidator(_not_a_page_name)] = Field(
        description="Must equal the file name without '.yaml'; not 'index' (the page listing the studies)."
    )
    label: Label = Field(description="Short label shown in tables, plots and menus, e.g. 'Shu 2020'.")
    source_ref: StrictInt | None = Field(None, ge=1, le=100_000, description="Reference number in the source review.")
    source_table: Literal["clinical-studies", "case-reports"] = Field(
        description="Which table of the source review lists the study."
    )
    citation: Citation
    design: Design
    registry: Registry
    location: Location
    age: Age | None = None
    arms: list[Arm] = Field(min_length=1)
    outcomes: dict[Identifier, dict[Identifier, Dataset]] = Field(
        default_factory=dict, description="Outcome id -> dataset name (e.g. published, as-analysed) -> data."
    )
    risk_of_bias: list[RiskOfBias] = Field(default_factory=list)
    characteristics: dict[Identifier, CharacteristicValue] = Field(
        default_factory=dict,
        description="Characteristic id (declared in review.yaml) -> the study's value. A study without a value "
        "is left out of meta-regressions on it and shown as 'Not reported' in subgroups by it.",
    )
    notes: list[str] = Field(default_factory=list)

    def arm(self, arm_id: str) -> Arm:
        return next(a for a in self.arms if a.id == arm_id)

    @property
    def total_n(self) -> int:
        """Real participants: combined arms would count people twice, virtual ones are not people and
        historical ones were not enrolled in the study."""
        return sum(a.n for a in self.arms if a.kind == "allocated")

    @property
    def counts_patients_again(self) -> bool:
        """Whether the study's patients are already counted by another study (a follow-up or a duplicate)."""
        return self.design.category == "follow-up-cohort" or self.design.patients_counted_in is not None
