"""The shape of results.json, declared once: a TypedDict per record, which the functions of results_json that
write the records return (mypy checks each dict they write against it: a key left out or not declared here is
a type error), and from which `review schema` exports docs/schema/results.schema.json (JSON Schema 2020-12).

To add a field to results.json: declare it in the record's TypedDict below, with its type and meaning, and
write it where results_json fills that record; `make schema` then rewrites the JSON Schema. A record that
may lack a key declares it NotRequired. Enumerations that the data model or the measure registry already
lists (measures, scales, models, methods, tau² estimators, CI methods, designs) are taken from there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal, NotRequired, get_args

from pydantic import ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict

from builder.contract.measures import Measure, Scale
from builder.contract.review import Analysis
from builder.contract.study import DesignCategory

SCHEMA_NAME = "results.schema.json"
STRICT = ConfigDict(extra="forbid")


def _choices(field: str) -> list[str]:
    """The values an analysis setting may take in review.yaml, from the data model (None left out)."""
    args = get_args(Analysis.model_fields[field].annotation)  # Literal[...], or Literal[...] | None
    return [a for a in args if isinstance(a, str)] or [v for a in args for v in get_args(a) if isinstance(v, str)]


def _one_of(values: list[str], description: str, nullable: bool = False):
    """A string field restricted to `values` (or null), with its meaning."""
    enum: list = [*values, None] if nullable else list(values)
    return Field(description=description, json_schema_extra={"enum": enum})


POOLING = _choices("method")  # MH, IV, Peto
TAU2 = _choices("tau2")  # REML, DL, ...
CI_METHODS = _choices("ci_method")  # wald, hksj, hksj-adhoc
MODEL_SETTINGS = _choices("model")  # fixed, random, i2-switch
ROLES = _choices("role")

Number = float | None  # rounded to 10 significant digits; null where not defined (or not finite)
FittedMethod = Annotated[
    str | None,
    _one_of(POOLING + TAU2, "MH, IV or Peto for fixed effect; the tau² estimator for random effects.", True),
]
FittedModel = Annotated[str | None, _one_of(["fixed", "random"], "The model whose result is reported.", True)]
ScaleName = Annotated[
    str, _one_of(list(get_args(Scale)), "log for ratio measures (estimates are logs), else identity.")
]
CIMethod = Annotated[str | None, _one_of(CI_METHODS, "Interval of the pooled effect.", True)]


@with_config(STRICT)
class StudyRecord(TypedDict):
    id: str
    label: str
    dataset: str
    design: DesignCategory
    inputs: Annotated[
        dict[str, float],
        Field(
            description="The study's numbers as the analysis used them: events_exp, total_exp, events_ctrl, "
            "total_ctrl (dichotomous) or mean_exp, sd_exp, total_exp, mean_ctrl, sd_ctrl, total_ctrl; yi and sei "
            "for a reported estimate, o_minus_e and v for O - E data, pre_post 1 for before-after data."
        ),
    ]
    yi: Annotated[Number, Field(description="Effect size on the analysis scale.")]
    vi: Annotated[Number, Field(description="Its sampling variance.")]
    estimable: bool
    continuity_corrected: bool
    weight: Annotated[Number, Field(description="Percent of the pooled estimate; null where not estimable.")]
    data: NotRequired[
        Annotated[
            Literal["contrast", "o-e", "pre-post"],
            Field(
                description="What the study gives where it is not per-arm numbers: its own estimate of the "
                "comparison, O - E and variance, or one arm before and after."
            ),
        ]
    ]


@with_config(STRICT)
class PooledRecord(TypedDict):
    estimate: Annotated[Number, Field(description="On the analysis scale (log for ratio measures).")]
    se: Number
    ci_low: Number
    ci_high: Number
    statistic: Number
    statistic_type: Literal["t", "z"]
    df: Annotated[int | None, Field(description="Degrees of freedom of a t statistic; null for z.")]
    p: Number
    pi_low: Annotated[Number, Field(description="95% prediction interval, where reported.")]
    pi_high: Number
    k: Annotated[int, Field(description="Studies with an estimable effect.")]


@with_config(STRICT)
class FitRecord(PooledRecord):
    """A follow-up's or subgroup's pooled estimate, which states its own model."""

    model: FittedModel
    method: FittedMethod
    ci_method: CIMethod
    tau2: Number
    i2: Number


@with_config(STRICT)
class HeterogeneityRecord(TypedDict):
    q: Number
    df: int | None
    q_p: Number
    tau2: Number
    tau2_ci_low: Number
    tau2_ci_high: Number
    tau2_ci_method: Literal["Q-profile"] | None
    i2: Annotated[Number, Field(description="Percent, as metafor reports it (see i2_basis).")]
    i2_ci_low: Number
    i2_ci_high: Number
    h2: Number
    h2_ci_low: Number
    h2_ci_high: Number
    i2_basis: Annotated[Literal["Q", "tau2"] | None, Field(description="What I² and H² were computed from.")]
    i2_q: Annotated[Number, Field(description="I² from Cochran's Q, as RevMan reports it.")]
    h2_q: Number


@with_config(STRICT)
class SettingsRecord(TypedDict):
    preset: Annotated[str | None, _one_of(_choices("preset"), "The named set of settings used.", True)]
    model: Annotated[str, _one_of(MODEL_SETTINGS, "The model as planned.")]
    pooling_method: Annotated[str, _one_of(POOLING, "IV for random effects.")]
    tau2: Annotated[str | None, _one_of(TAU2, "The tau² estimator; null without a random-effects part.", True)]
    tau2_ci_method: Literal["Q-profile"] | None
    ci_method: Annotated[str, _one_of(CI_METHODS, "Interval of the pooled effect.")]
    prediction_interval: bool
    i2_switch_threshold: Number
    continuity_correction: float
    mh_continuity_correction: Number
    level: float
    double_zero_studies: NotRequired[
        Annotated[
            str | None,
            _one_of(
                _choices("double_zero_studies"),
                "Studies with no events or only events in both arms: kept, kept in risk differences only, or "
                "dropped; null for continuous outcomes. Absent in versions released before the setting.",
                True,
            ),
        ]
    ]
    pre_post_correlation: NotRequired[
        Annotated[
            float,
            Field(description="Correlation assumed between before and after values; only with before-after data."),
        ]
    ]


@with_config(STRICT)
class FollowupRecord(TypedDict):
    id: str
    label: str
    k: int
    studies: NotRequired[
        Annotated[list[str], Field(description="Labels of the contributing studies, where the id does not say.")]
    ]
    pooled: FitRecord | None
    scale: Annotated[str | None, _one_of(list(get_args(Scale)), "Where it differs from the analysis's scale.", True)]
    reason: Annotated[str | None, Field(description="Why there is no result.")]
    conclusion_changes: Annotated[str | None, Field(description="How the conclusion differs from the primary.")]


@with_config(STRICT)
class MissingRecord(TypedDict):
    id: str
    label: str
    dataset: str | None
    reason: str


@with_config(STRICT)
class LeftOutRecord(TypedDict):
    id: str
    label: str
    dataset: str | None
    reason: str
    participants: int


@with_config(STRICT)
class SubgroupHeterogeneityRecord(TypedDict):
    q: Number
    df: int | None
    q_p: Number
    tau2: Number
    i2: Number


@with_config(STRICT)
class SubgroupRecord(TypedDict):
    id: str
    label: str
    studies: list[str]
    weight: Number
    pooled: FitRecord | None
    heterogeneity: SubgroupHeterogeneityRecord | None


@with_config(STRICT)
class SubgroupTestRecord(TypedDict):
    q: Number
    df: int | None
    p: Number
    i2: Number


@with_config(STRICT)
class SubgroupsRecord(TypedDict):
    by: Annotated[str, Field(description="The study characteristic the subgroups are formed by.")]
    by_label: NotRequired[Annotated[str, Field(description="The label of a characteristic review.yaml declares.")]]
    groups: list[SubgroupRecord]
    test_for_subgroup_differences: SubgroupTestRecord


@with_config(STRICT)
class EggerRecord(TypedDict):
    test: str
    statistic: Number
    statistic_type: Literal["t", "z"]
    df: int | None
    p: Number
    slope: Number
    slope_se: Number
    limit_estimate: Number
    limit_se: Number
    limit_ci_low: Number
    limit_ci_high: Number
    tau2: Number


@with_config(STRICT)
class RankTestRecord(TypedDict):
    test: str
    tau: Annotated[Number, Field(description="Kendall's tau-b of the standardised estimates and their variances.")]
    p: Number
    p_method: Literal["exact", "normal approximation"]
    k: int


@with_config(STRICT)
class FilledStudyRecord(TypedDict):
    yi: Number
    vi: Number


@with_config(STRICT)
class TrimAndFillRecord(TypedDict):
    estimator: Literal["L0", "R0"]
    side: Annotated[Literal["left", "right"], Field(description="The side of the funnel studies are filled in on.")]
    k0: Annotated[int, Field(description="The number of studies filled in.")]
    se_k0: Number
    p_k0: Annotated[Number, Field(description="R0 only: P of k0 or more with no study missing.")]
    filled: list[FilledStudyRecord]
    adjusted: Annotated[
        FitRecord | None, Field(description="The analysis's model refitted with the filled studies; null if k0 is 0.")
    ]


@with_config(STRICT)
class TrimAndFillSetRecord(TypedDict):
    reason: Annotated[str | None, Field(description="Why an estimator has no result.")]
    L0: TrimAndFillRecord | None
    R0: TrimAndFillRecord | None


@with_config(STRICT)
class RegressionTestRecord(TypedDict):
    test: str
    statistic: Number
    statistic_type: Literal["t"]
    df: int
    p: Number
    slope: Number
    slope_se: Number
    limit_estimate: Number
    limit_ci_low: Number
    limit_ci_high: Number
    k: int


@with_config(STRICT)
class SmallStudyRecord(TypedDict):
    k: int
    egger: EggerRecord | None
    reason: Annotated[str | None, Field(description="Why there is no test.")]
    rank_test: NotRequired[
        Annotated[RankTestRecord | None, Field(description="Begg and Mazumdar's test (from version 1.2).")]
    ]
    trim_and_fill: NotRequired[
        Annotated[TrimAndFillSetRecord, Field(description="Duval and Tweedie's trim-and-fill (from version 1.2).")]
    ]
    harbord: NotRequired[
        Annotated[RegressionTestRecord | None, Field(description="Harbord's test, odds ratios (from version 1.2).")]
    ]
    peters: NotRequired[
        Annotated[RegressionTestRecord | None, Field(description="Peters' test, odds ratios (from version 1.2).")]
    ]
    odds_ratio_tests_reason: NotRequired[
        Annotated[str | None, Field(description="Why Harbord's and Peters' tests are missing.")]
    ]


@with_config(STRICT)
class InfluenceStudyRecord(TypedDict):
    id: str
    rstudent: Annotated[Number, Field(description="Externally standardised residual.")]
    dffits: Number
    cook_distance: Number
    cov_ratio: Number
    tau2_deleted: Annotated[Number, Field(description="tau² with the study left out.")]
    q_deleted: Annotated[Number, Field(description="Cochran's Q with the study left out.")]
    hat: Number
    weight: Annotated[Number, Field(description="Percent.")]
    dfbetas: Number
    estimate_deleted: Annotated[Number, Field(description="The pooled estimate with the study left out.")]
    influential: Annotated[bool, Field(description="Flagged by metafor's rule (see the record's rule).")]
    baujat_x: Annotated[Number, Field(description="Baujat plot: the study's contribution to Q.")]
    baujat_y: Annotated[Number, Field(description="Baujat plot: its influence on the pooled result.")]


@with_config(STRICT)
class InfluenceRecord(TypedDict):
    k: int
    reason: Annotated[str | None, Field(description="Why there are no diagnostics.")]
    rule: str | None
    influential: Annotated[list[str], Field(description="Ids of the studies flagged as influential.")]
    studies: list[InfluenceStudyRecord]


@with_config(STRICT)
class MetaRegressionLeftOutRecord(TypedDict):
    id: str
    label: str
    reason: Annotated[str, Field(description="Why the study is not in the meta-regression, e.g. no value.")]


@with_config(STRICT)
class MetaRegressionGuardRecord(TypedDict):
    min_studies_per_moderator: int
    overridden_because: Annotated[
        str | None, Field(description="The analysis's reason for fitting with fewer studies; null if it did not.")
    ]


@with_config(STRICT)
class CoefficientRecord(TypedDict):
    term: Annotated[str, Field(description="intercept, a characteristic id, or <characteristic id>:<level>.")]
    label: str
    characteristic: str | None
    level: Annotated[str | None, Field(description="Of a categorical moderator, against its reference level.")]
    estimate: Number
    se: Number
    statistic: Number
    p: Number
    ci_low: Number
    ci_high: Number


@with_config(STRICT)
class ModeratorTestRecord(TypedDict):
    statistic: Annotated[Number, Field(description="F = QM / m under Knapp-Hartung, QM (chi²) under z.")]
    statistic_type: Literal["F", "chi2"]
    df: int
    df2: Annotated[int | None, Field(description="The F test's denominator df, k - p; null for chi².")]
    p: Number


@with_config(STRICT)
class ResidualHeterogeneityRecord(TypedDict):
    qe: Number
    df: int
    qe_p: Number
    tau2: Number
    i2: Number
    h2: Number


@with_config(STRICT)
class MetaRegressionFitRecord(TypedDict):
    coefficients: list[CoefficientRecord]
    statistic_type: Literal["t", "z"]
    df: Annotated[int | None, Field(description="k - p for the t tests; null for z.")]
    test_of_moderators: ModeratorTestRecord
    residual_heterogeneity: ResidualHeterogeneityRecord
    tau2_without_moderators: Number
    r2: Annotated[Number, Field(description="Percent of tau² accounted for (metafor's pseudo-R²).")]
    level: float


@with_config(STRICT)
class MetaRegressionRecord(TypedDict):
    moderators: list[str]
    test: Literal["knha", "z"]
    tau2_method: Annotated[str, _one_of(TAU2, "The tau² estimator of the mixed-effects model.")]
    k: Annotated[int, Field(description="Studies in the model: estimable, with a value of every moderator.")]
    studies: list[str]
    left_out: list[MetaRegressionLeftOutRecord]
    reference_levels: dict[str, str]
    guard: MetaRegressionGuardRecord
    reason: Annotated[str | None, Field(description="Why there is no fit.")]
    fit: MetaRegressionFitRecord | None


@with_config(STRICT)
class AnalysisRecord(TypedDict):
    id: Annotated[str, Field(description="Stable id of the analysis; the anchor of its result on the site.")]
    outcome: str
    role: Annotated[str, _one_of(ROLES, "primary, reproduction or sensitivity.")]
    title: str
    measure: Measure
    model: FittedModel
    model_choice: Literal["prespecified", "i2-switch"]
    method: FittedMethod
    ci_method: CIMethod
    scale: ScaleName
    continuity_correction: Annotated[float, Field(description="Added to zero cells inside the pooled estimate.")]
    display_continuity_correction: Annotated[float, Field(description="Added to zero cells for each study's own.")]
    datasets: list[str]
    settings: SettingsRecord
    studies: list[StudyRecord]
    planned_experimental_n: int
    missing: list[MissingRecord]
    left_out: list[LeftOutRecord]
    pooled: PooledRecord | None
    heterogeneity: HeterogeneityRecord | None
    notes: list[str]
    sensitivity: NotRequired[list[FollowupRecord]]
    leave_one_out: NotRequired[list[FollowupRecord]]
    cumulative: NotRequired[list[FollowupRecord]]
    small_study_effects: NotRequired[SmallStudyRecord]
    subgroups: NotRequired[SubgroupsRecord]
    meta_regression: NotRequired[MetaRegressionRecord]
    influence: NotRequired[
        Annotated[InfluenceRecord, Field(description="metafor's influence() of a primary analysis (from 1.2).")]
    ]


@with_config(STRICT)
class ReviewRecord(TypedDict):
    id: str
    title: str
    version: str
    date: Annotated[str, Field(description="The version's date, YYYY-MM-DD.")]
    data_hash: Annotated[str, Field(description="SHA-256 of the data files the numbers were computed from.")]
    builder_version: str


@with_config(STRICT)
class ResultsDocument(TypedDict):
    schema_version: str
    review: ReviewRecord
    analyses: list[AnalysisRecord]


def results_schema(schema_version: str) -> dict:
    """The JSON Schema of results.json, whose schema_version is `schema_version`."""
    schema = TypeAdapter(ResultsDocument).json_schema(mode="serialization")
    schema["properties"]["schema_version"] = {
        "const": schema_version,
        "description": "The version of this format; a reader can rely on the shape this schema gives for it.",
    }
    return {
        **schema,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "results.json of the living review",
        "description": "Every analysis of one version of the review with its settings, study inputs, weights and "
        "pooled results. Numbers are rounded to 10 significant digits; null where not defined.",
    }


def schema_text(schema_version: str) -> str:
    return json.dumps(results_schema(schema_version), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(folder: Path, schema_version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SCHEMA_NAME
    path.write_text(schema_text(schema_version), encoding="utf-8")
    return path
