"""The review itself: `data/review.yaml`."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from builder.stats.effects import PRE_POST_R_DEFAULT

from .common import Count, FiniteFloat, Identifier, Label, PositiveCount, Provenance, SafeUrl, Strict
from .measures import MEASURES, Measure, mantel_haenszel_measures
from .study import Citation, DesignCategory
from .version import PATTERN as VERSION_PATTERN

NUMBER = r"^[-−]?\d{1,12}(\.\d{1,12})?$"
# A P value as printed: a decimal from 0 to 1, optionally after '<' (no exponents: '1E-200000000' would be
# a number too small for any computation to compare with).
P_VALUE = r"^([<>≤] ?)?(0(\.\d{1,12})?|1(\.0{1,12})?|\.\d{1,12})$"
EVENTS = r"^\d{1,10} ?/ ?\d{1,10}$"
EARLIEST_DATE = dt.date(1970, 1, 1)
DoubleZero = Literal["keep", "keep-in-rd", "drop"]


def _not_before_1970(day: dt.date) -> dt.date:
    if day < EARLIEST_DATE:
        raise ValueError("must be 1970-01-01 or later: the pages are stamped with this date as a Unix time")
    return day


# Names of generated figures and page sections an analysis id would take over (see builder.report.pages).
_GENERATED_PREFIXES = ("prisma-flow", "timeline-", "rob-")
_GENERATED_SUFFIXES = (
    "-leave-one-out",
    "-cumulative",
    "-funnel",
    "-baujat",
    "-influence",
    "-subgroups",
    "-sensitivity",
    "-over-time",
    "-small-study-effects",
    "-meta-regression",
    "-bubble",
)

# Subgroups the builder knows without a declaration: what every study file says (see builder.analysis.subgroups).
BUILT_IN_SUBGROUPS = ("design", "country", "cell-source")
# The Cochrane Handbook (10.11.4) advises against meta-regression with fewer than ten studies per characteristic.
MIN_STUDIES_PER_MODERATOR = 10


def _free_analysis_id(value: str) -> str:
    if value == "prisma-flow" or value.startswith(_GENERATED_PREFIXES):
        raise ValueError(
            f"'{value}' is the name of a generated figure (prisma-flow, timeline-<outcome>, rob-<tool>); "
            "choose another id"
        )
    for suffix in _GENERATED_SUFFIXES:
        if value.endswith(suffix):
            raise ValueError(
                f"an id ending in '{suffix}' is the name of a generated figure or section of another analysis; "
                "choose another id"
            )
    return value


def _yaml(value) -> str:
    """A setting's value as it is written in review.yaml."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Question(Strict):
    population: str
    intervention: str
    comparator: str
    outcomes: str


class Outcome(Strict):
    id: Identifier
    label: Label
    type: Literal["dichotomous", "continuous"]
    event: str | None = Field(None, description="For dichotomous outcomes: what counts as an event.")
    unit: str | None = Field(
        None,
        description="For continuous outcomes: the unit analyses must share. Values "
        "reported in another unit are converted to it where the factor is fixed (see "
        "'analyte').",
    )
    analyte: str | None = Field(
        None,
        description="For unit conversions of a laboratory outcome: CRP, D-dimer or "
        "IL-6. Unset: the outcome id is tried as the analyte's name.",
    )
    direction: Literal["higher-is-better", "lower-is-better"] = Field(
        description="Which direction of the outcome benefits patients; sets the 'Favours' labels."
    )
    description: str | None = None

    @model_validator(mode="after")
    def _type_fields(self) -> Outcome:
        if self.type == "dichotomous" and not self.event:
            raise ValueError("a dichotomous outcome needs 'event' (what counts as an event)")
        return self


class ReportedResult(Strict):
    """A result as printed by the source review, kept to compare with our reproduction."""

    estimate: str = Field(pattern=NUMBER, description="As printed, in quotes to keep its decimals: '2.87'.")
    ci_low: str = Field(pattern=NUMBER)
    ci_high: str = Field(pattern=NUMBER)
    p: str = Field(
        pattern=P_VALUE,
        description="As printed, a decimal from 0 to 1, e.g. '0.02' or '< 0.00001' (no words, no exponent).",
    )
    q_p: str | None = Field(None, pattern=P_VALUE, description="P of the test for heterogeneity, as printed.")
    i2: FiniteFloat | None = Field(None, ge=0, le=100)
    k: PositiveCount | None = None
    participants: PositiveCount | None = None
    events_experimental: str | None = Field(None, pattern=EVENTS, description="As printed: events/total, '67/74'.")
    events_control: str | None = Field(None, pattern=EVENTS)
    percent_experimental: str | None = Field(None, pattern=NUMBER, description="Event rate as printed, in percent.")
    percent_control: str | None = Field(None, pattern=NUMBER)
    model: str | None = None
    provenance: Provenance


# Named bundles of method settings. An analysis with `preset` gets these values for the fields it leaves out;
# a field it sets to another value is a validation error (see Analysis._apply_preset).
PRESETS: dict[str, dict[str, object]] = {
    # Review Manager 5, as the source review used it: DerSimonian-Laird tau² with a Wald (normal) interval and
    # no prediction interval for random effects; 0.5 added to every cell of a study with a zero cell, both for
    # the study's own estimate and inside the Mantel-Haenszel pooled estimate; studies with no events (or only
    # events) in both arms left out of risk ratios and kept in risk differences (Cochrane Handbook 5.1, 16.9.3).
    "revman5": {
        "tau2": "DL",
        "ci_method": "wald",
        "prediction_interval": False,
        "continuity_correction": 0.5,
        "mh_continuity_correction": 0.5,
        "double_zero_studies": "keep-in-rd",
    },
}


class Keep(Strict):
    """A study an analysis keeps on purpose although the integrity rules would leave it out."""

    study: Identifier
    reason: str = Field(min_length=10, description="Why this analysis keeps it, e.g. to reproduce the source review.")


class Characteristic(Strict):
    """A study characteristic the review may split analyses by (`subgroups`) or regress on (`meta_regression`);
    declared once here, and given in each study file under `characteristics` with its provenance."""

    id: Identifier = Field(description="How study files and analyses name it; not design, country or cell-source.")
    label: Label = Field(description="Shown in tables and plots, e.g. 'Follow-up'.")
    type: Literal["continuous", "categorical"] = Field(
        description="continuous: a number (a moderator with one coefficient, its slope); categorical: one of "
        "'levels' (a moderator coded against its first level, or a subgroup per level)."
    )
    unit: str | None = Field(None, description="Of a continuous characteristic, e.g. days.")
    levels: list[Label] | None = Field(
        None,
        description="Of a categorical characteristic: its values, at least two, in the order tables show them. "
        "The first present among an analysis's studies is the reference of the meta-regression.",
    )
    description: str | None = None

    @model_validator(mode="after")
    def _type_fields(self) -> Characteristic:
        if self.id in BUILT_IN_SUBGROUPS:
            raise ValueError(f"'{self.id}' is a built-in subgroup (from every study file); choose another id")
        if self.type == "categorical":
            if not self.levels or len(self.levels) < 2:
                raise ValueError("a categorical characteristic needs 'levels', at least two")
            slugs = [re.sub(r"[^a-z0-9]+", "-", v.lower()).strip("-") for v in self.levels]
            repeated = sorted({v for v, slug in zip(self.levels, slugs) if slugs.count(slug) > 1})
            if repeated:
                raise ValueError(
                    f"levels must differ in their letters and digits (they name the subgroups' links); "
                    f"these do not: {', '.join(repeated)}"
                )
        elif self.levels is not None:
            raise ValueError("a continuous characteristic has no 'levels' (give its 'unit' instead)")
        return self


class MetaRegressionPlan(Strict):
    """A mixed-effects meta-regression of the analysis's effect sizes on study characteristics."""

    moderators: list[Identifier] = Field(
        min_length=1, description="Ids of characteristics declared under the review's 'characteristics'."
    )
    test: Literal["knha", "z"] = Field(
        "knha",
        description="knha (default): the Knapp-Hartung adjustment, t tests and an F test of the moderators; "
        "z: normal tests and a chi² test, metafor's default.",
    )
    allow_few_studies: str | None = Field(
        None,
        min_length=10,
        description=f"Why the meta-regression is fitted although it has fewer than {MIN_STUDIES_PER_MODERATOR} "
        "studies per moderator, which the Cochrane Handbook advises against; shown with the result. Unset: such "
        "a meta-regression is not fitted, and the page says why.",
    )

    @model_validator(mode="after")
    def _distinct(self) -> MetaRegressionPlan:
        repeated = sorted({m for m in self.moderators if self.moderators.count(m) > 1})
        if repeated:
            raise ValueError(f"a moderator is listed twice: {', '.join(repeated)}")
        return self


class Analysis(Strict):
    id: Annotated[Identifier, AfterValidator(_free_analysis_id)] = Field(
        description="Stable id; part of the result's permalink. Never reuse or rename. Names of generated "
        "figures (prisma-flow, timeline-…, rob-…, …-funnel, …-cumulative, …-leave-one-out) are taken."
    )
    outcome: Identifier
    role: Literal["primary", "reproduction", "sensitivity"]
    title: str
    description: str | None = None
    measure: Measure
    model: Literal["fixed", "random", "i2-switch"] = Field(
        description="i2-switch reproduces legacy practice: fixed effect when I² ≤ 50%, random effects above. "
        "It is offered only to reproduce published analyses."
    )
    method: Literal["MH", "IV", "Peto"] = Field(
        "IV",
        description="Pooling for the fixed-effect model: Mantel-Haenszel (MH), inverse variance (IV), or "
        "Peto's odds ratio (rare events in balanced arms).",
    )
    tau2: Literal["REML", "DL", "PM", "ML", "HE", "SJ", "EB"] = Field(
        "REML", description="Estimator of tau² for random effects (REML, the Cochrane default, when unset)."
    )
    ci_method: Literal["wald", "hksj", "hksj-adhoc"] | None = Field(
        None,
        description="Interval for the pooled effect. Unset: HKSJ for random effects (Cochrane's current "
        "recommendation), Wald for fixed effect. hksj-adhoc never gives an interval narrower than Wald's.",
    )
    continuity_correction: FiniteFloat = Field(
        0.5, ge=0, description="Added to every cell of a study with a zero cell, for its own estimate."
    )
    mh_continuity_correction: FiniteFloat = Field(
        0.0,
        ge=0,
        description="Added to zero-cell studies inside the Mantel-Haenszel pooled estimate "
        "(0 as current guidance says; 0.5 reproduces RevMan 5).",
    )
    double_zero_studies: DoubleZero = Field(
        "keep",
        description="Studies with no events, or only events, in both arms (double-zero studies). keep (metafor's "
        "default): they count in Mantel-Haenszel risk ratios and risk differences and in inverse-variance risk "
        "differences, whose value for them is 0; keep-in-rd (RevMan 5, the revman5 preset): in risk differences "
        "only; drop: in no pooled estimate (this builder before version 1.2). Odds ratios and inverse-variance "
        "risk ratios never use them: they are 'Not estimable'.",
    )
    datasets: list[Identifier] = Field(
        default_factory=lambda: ["published"],
        description="Dataset names to use, in order of preference: the first a study has is used.",
    )
    studies: list[Identifier] | None = Field(None, description="Only these studies (default: every study with data).")
    exclude: list[Identifier] = Field(default_factory=list)
    designs: list[DesignCategory] | None = Field(None, description="Only studies of these design categories.")
    keeps: list[Keep] = Field(
        default_factory=list,
        description="Studies kept on purpose, each with its reason, although they would be left out by "
        "default: a comparison with a virtual or historical arm, or a cohort whose patients another study "
        "already counts (design category follow-up-cohort or design.patients_counted_in).",
    )
    reported: ReportedResult | None = None
    subgroups: Identifier | None = Field(
        None,
        description="Split the forest plot into subgroups by a study characteristic, with a subtotal per "
        "subgroup and the test for subgroup differences: design (the design category), country (of the study's "
        "location), cell-source (of the experimental arm's intervention), or the id of a categorical "
        "characteristic declared under the review's 'characteristics'.",
    )
    meta_regression: MetaRegressionPlan | None = Field(
        None,
        description="A mixed-effects meta-regression on declared study characteristics, with the analysis's "
        "tau² estimator (REML unless set), whatever its pooling model.",
    )
    preset: Literal["revman5"] | None = Field(
        None,
        description="A named set of method settings. revman5 reproduces Review Manager 5: tau2 DL, "
        "ci_method wald, prediction_interval false, continuity_correction 0.5, mh_continuity_correction 0.5 and "
        "double_zero_studies keep-in-rd. "
        "The model (fixed, random or i2-switch) and the pooling method are still chosen here. A setting the "
        "preset fixes may be repeated with the same value, but a different value is an error: drop the preset "
        "and write every setting out instead, so that a result labelled with a preset is computed as it says.",
    )
    pre_post_correlation: FiniteFloat = Field(
        PRE_POST_R_DEFAULT,
        gt=-1,
        lt=1,
        description="For before-after data in one arm (dataset design pre-post): the correlation assumed between "
        "the two measurements of the same patients, which sets the variance of the change (MD, ROM) and the SD "
        "that standardises it (SMD). Unset: 0.5; the sensitivity panel repeats the analysis with 0 (the two time "
        "points as independent groups) and 0.8.",
    )
    prediction_interval: bool | None = Field(
        None,
        description="Report the 95% prediction interval of a random-effects result (three or more "
        "studies). Unset: yes, as current Cochrane guidance recommends; the revman5 preset: no.",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data):
        if not isinstance(data, dict) or data.get("preset") not in PRESETS:
            return data  # not a mapping, no preset, or an unknown one (the Literal reports it)
        name = data["preset"]
        out = dict(data)
        for key, value in PRESETS[name].items():
            if data.get(key) is not None and data[key] != value:  # null counts as unset
                raise ValueError(
                    f"the preset '{name}' sets {key} to {_yaml(value)}, but this analysis sets "
                    f"{key}: {_yaml(data[key])}; remove '{key}' to use the preset, or remove "
                    f"'preset' and write every setting out"
                )
            out[key] = value
        return out

    @model_validator(mode="after")
    def _measure_method(self) -> Analysis:
        if self.method == "MH" and MEASURES[self.measure].mantel_haenszel is None:
            *first, last = mantel_haenszel_measures()
            raise ValueError(f"Mantel-Haenszel applies to {', '.join(first)} and {last}, not {self.measure}")
        if self.method == "Peto" and (self.measure not in ("OR", "HR") or self.model != "fixed"):
            raise ValueError(
                "Peto's method gives a fixed-effect odds ratio (or hazard ratio, from O - E and variance): "
                "use measure OR or HR and model fixed"
            )
        if self.model == "fixed" and self.ci_method not in (None, "wald"):
            raise ValueError("the Hartung-Knapp-Sidik-Jonkman interval applies to random-effects models only")
        return self

    def keeps_double_zero(self, measure: str | None = None) -> bool:
        """Whether double-zero studies count in this analysis's pooled estimate of `measure` (default: its own;
        a sensitivity row asks for the risk difference). Never for odds ratios, nor for inverse-variance risk
        ratios, whose per-study estimate is not defined for them."""
        code = measure or self.measure
        if code == "RD":
            return self.double_zero_studies in ("keep", "keep-in-rd")
        return code == "RR" and self.method == "MH" and self.double_zero_studies == "keep"

    @property
    def shows_prediction_interval(self) -> bool:
        """Whether a random-effects result reports its prediction interval (when it has one)."""
        return self.prediction_interval is not False

    @property
    def interval(self) -> str:
        """The CI method in force: as set, or the current default for the model."""
        if self.ci_method is not None:
            return self.ci_method
        return "hksj" if self.model == "random" else "wald"


class Finding(Strict):
    """One discrepancy between the source review and its sources, for the audit page."""

    id: Identifier
    title: str
    studies: list[Identifier] = Field(default_factory=list)
    finding: str = Field(
        description="What differs. Numbers are written as placeholders such as "
        "[[survival-primary.estimate]] so they always agree with the results."
    )
    consequence: str | None = Field(None, description="Its effect on the results, with placeholders.")
    analyses: list[Identifier] = Field(default_factory=list, description="Analyses that show the effect.")
    evidence: list[Provenance] = Field(min_length=1)


class Narrative(Strict):
    """Prose pages. Any number in them is a placeholder filled from the results, never typed."""

    background: list[str] = Field(default_factory=list, description="Paragraphs.")
    summary: list[str] = Field(default_factory=list, description="Paragraphs of the results summary.")
    limitations: list[str] = Field(default_factory=list)
    audit_intro: str | None = None
    audit: list[Finding] = Field(default_factory=list)


GRADE_LEVELS = ("very-low", "low", "moderate", "high")

FACT_QUANTITIES = {
    "share-randomised": "a share of participants in randomised trials",
    "studies": "a number of studies",
    "participants": "a number of participants",
}


class Fact(Strict):
    """A checkable fact a GRADE reason rests on, computed from the rated analysis at every build; when the
    data contradict it, the Summary of findings asks for a reassessment."""

    quantity: Literal["share-randomised", "studies", "participants"] = Field(
        description="share-randomised: percent of the analysis's participants in randomised trials; studies; "
        "participants."
    )
    below: FiniteFloat | None = Field(None, description="The reason holds while the quantity is below this.")
    at_least: FiniteFloat | None = Field(None, description="The reason holds while the quantity is at least this.")

    @model_validator(mode="after")
    def _one_bound(self) -> Fact:
        if (self.below is None) == (self.at_least is None):
            raise ValueError("give one bound: 'below' or 'at_least'")
        return self

    @property
    def text(self) -> str:
        bound = f"below {self.below:g}" if self.below is not None else f"at least {self.at_least:g}"
        unit = "%" if self.quantity == "share-randomised" else ""
        return f"{FACT_QUANTITIES[self.quantity]} {bound}{unit}"

    def holds(self, value: float) -> bool:
        return value < self.below if self.below is not None else value >= (self.at_least or 0.0)


class GradeStep(Strict):
    domain: Literal[
        "risk-of-bias",
        "inconsistency",
        "indirectness",
        "imprecision",
        "publication-bias",
        "large-effect",
        "dose-response",
        "plausible-confounding",
    ]
    levels: int = Field(ge=1, le=2)
    reason: str = Field(min_length=10)
    rests_on: list[Fact] = Field(default_factory=list, description="Checkable facts the reason rests on.")


class Certainty(Strict):
    """GRADE certainty of the evidence for one outcome; the rating is computed from the steps, never typed."""

    outcome: Identifier
    analysis: Identifier = Field(description="The analysis whose result the Summary of findings reports.")
    start: Literal["high", "low"] = Field(description="high for randomised trials, low for non-randomised.")
    start_reason: str
    start_rests_on: list[Fact] = Field(
        default_factory=list, description="Checkable facts the start reason rests on, e.g. share-randomised below 50."
    )
    downgrades: list[GradeStep] = Field(default_factory=list)
    upgrades: list[GradeStep] = Field(default_factory=list)
    comment: str | None = None

    @model_validator(mode="after")
    def _directions(self) -> Certainty:
        for step in self.downgrades:
            if step.domain in ("large-effect", "dose-response", "plausible-confounding"):
                raise ValueError(f"'{step.domain}' can only raise certainty; list it under upgrades")
        for step in self.upgrades:
            if step.domain not in ("large-effect", "dose-response", "plausible-confounding"):
                raise ValueError(f"'{step.domain}' can only lower certainty; list it under downgrades")
        return self

    @property
    def rating(self) -> str:
        level = (
            GRADE_LEVELS.index(self.start)
            - sum(s.levels for s in self.downgrades)
            + sum(s.levels for s in self.upgrades)
        )
        return GRADE_LEVELS[max(0, min(level, len(GRADE_LEVELS) - 1))]


class Flow(Strict):
    """PRISMA counts typed by the reviewers; counts of included studies are derived from data/studies."""

    records_identified: Count
    records_excluded: Count
    records_excluded_reasons: dict[str, Count] = Field(default_factory=dict)
    full_texts_assessed: Count
    full_texts_excluded: Count
    full_texts_excluded_reasons: dict[str, Count] = Field(default_factory=dict)
    unaccounted: Count = Field(
        0,
        description="Reports the published counts leave unexplained: full texts "
        "assessed minus those excluded minus the studies in data/studies. Must be stated.",
    )
    unaccounted_note: str | None = None
    other_methods: Count = Field(
        0,
        description="Studies identified by other methods than the database search "
        "(registers, citation searching, hand searching) and included.",
    )
    other_methods_note: str | None = Field(None, description="How those studies were found.")
    previous_version_studies: list[Identifier] = Field(
        default_factory=list,
        description="Studies of the previous version, only for a review whose earlier "
        "versions are not archived in versions/ (otherwise they are read from the archive).",
    )
    provenance: Provenance

    @model_validator(mode="after")
    def _reasons_add_up(self) -> Flow:
        for total, reasons, name in (
            (self.records_excluded, self.records_excluded_reasons, "records_excluded"),
            (self.full_texts_excluded, self.full_texts_excluded_reasons, "full_texts_excluded"),
        ):
            if reasons and sum(reasons.values()) != total:
                raise ValueError(f"the reasons for {name} add up to {sum(reasons.values())}, not {total}")
        if self.records_identified - self.records_excluded != self.full_texts_assessed:
            raise ValueError(
                f"records_identified ({self.records_identified}) minus records_excluded "
                f"({self.records_excluded}) should equal full_texts_assessed "
                f"({self.full_texts_assessed})"
            )
        if self.other_methods and not self.other_methods_note:
            raise ValueError("studies identified by other methods need 'other_methods_note' saying how they were found")
        if self.unaccounted and not self.unaccounted_note:
            raise ValueError("unaccounted reports need 'unaccounted_note' saying why the counts do not add up")
        return self


class Living(Strict):
    last_search: dt.date | None = Field(
        description="The date of the latest search of the literature; null while the review has not yet searched."
    )
    next_update: str = Field(description="When the next update is planned, e.g. 'when a new trial reports'.")
    trigger: str = Field(description="What triggered this version.")


class Review(Strict):
    id: Identifier
    title: str
    short_title: Label
    version: str = Field(
        pattern=VERSION_PATTERN,
        description="Two or three whole numbers separated by dots, without leading zeros: 1.2, 1.2.1.",
    )
    date: Annotated[dt.date, AfterValidator(_not_before_1970)]
    living: Living
    authors: list[str] = Field(min_length=1)
    source_review: Citation | None = Field(
        None, description="The published review this one re-analyses or updates, if any; omit for a new review."
    )
    question: Question
    outcomes: list[Outcome] = Field(min_length=1)
    flow: Flow
    characteristics: list[Characteristic] = Field(
        default_factory=list,
        description="Study characteristics analyses may use as subgroups or meta-regression moderators.",
    )
    analyses: list[Analysis] = Field(min_length=1)
    narrative: Narrative = Field(default_factory=Narrative)
    certainty: list[Certainty] = Field(default_factory=list, description="GRADE, one entry per outcome.")
    url: SafeUrl | None = None
    experimental_label: str = Field("MSC", description="Short name of the intervention in plots ('Favours MSC').")
    control_label: str = Field("Control", description="Short name of the comparator in plots.")

    def outcome(self, outcome_id: str) -> Outcome:
        return next(o for o in self.outcomes if o.id == outcome_id)

    def characteristic(self, characteristic_id: str) -> Characteristic | None:
        return next((c for c in self.characteristics if c.id == characteristic_id), None)
