"""The machine-readable results (`results.json`, `results.csv`): a public interface, so its shape is stable.

Numbers are rounded to 10 significant digits so that the files do not change with the last bits of
floating-point arithmetic on another machine; that is far below any reported precision.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from typing import cast

from builder import __version__
from builder.analysis.fitting import LEGACY_I2_THRESHOLD
from builder.analysis.result import AnalysisResult, MetaRegressionResult, Subgroups, input_kind
from builder.caching import store as cache
from builder.caching.outputs import Stored
from builder.contract.measures import MEASURES
from builder.contract.review import MIN_STUDIES_PER_MODERATOR
from builder.ingest.loader import ReviewData
from builder.report.escape import csv_text
from builder.report.results_schema import (
    AnalysisRecord,
    EggerRecord,
    FitRecord,
    FollowupRecord,
    HeterogeneityRecord,
    InfluenceRecord,
    InfluenceStudyRecord,
    MetaRegressionFitRecord,
    MetaRegressionRecord,
    PooledRecord,
    RankTestRecord,
    RegressionTestRecord,
    SettingsRecord,
    SmallStudyRecord,
    StudyRecord,
    SubgroupRecord,
    SubgroupsRecord,
    TrimAndFillRecord,
)

# 1.1: each analysis has "settings", every method setting in force (presets resolved).
# 1.2: each analysis lists the studies it "left_out" by the integrity rules, with the reason; its "settings" give
# "double_zero_studies" (left out of the documents of versions released before that setting, whose pages and
# files must not change).
# Optional within 1.2 (added without a new version, which would change the results.json of every released
# version rebuilt by the site): an analysis that declares one has "meta_regression"; subgroups by a declared
# characteristic have "by_label".
# Versions released with "bias_followups" (builder.releases.archive) add, without changing anything else: a primary
# analysis's "influence" (metafor's influence() and the Baujat plot's coordinates per study) and, in its
# "small_study_effects", "rank_test", "trim_and_fill", "harbord", "peters" and "odds_ratio_tests_reason". Records
# of earlier versions have none of these keys (NotRequired in results_schema), so the schema version stays.
SCHEMA_VERSION = "1.2"


def _num(value):
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return float(f"{value:.10g}")


def _study(row) -> StudyRecord:
    record: StudyRecord = {
        "id": row.study.id,
        "label": row.study.label,
        "dataset": row.dataset,
        "design": row.study.design.category,
        "inputs": {k: (int(v) if k.startswith(("events", "total")) else _num(v)) for k, v in row.inputs.items()},
        "yi": _num(row.yi),
        "vi": _num(row.vi),
        "estimable": row.estimable,
        "continuity_corrected": row.corrected,
        "weight": _num(row.weight),
    }
    kind = input_kind(row.inputs)
    if kind != "arms":  # what the study gives, where not per-arm numbers
        record["data"] = kind
    return record


def _pooled(f) -> FitRecord | None:
    """A follow-up's or subgroup's fit: the pooled estimate as in an analysis record, with its model."""
    record = _pooled_record(f)
    if record is None:
        return None
    return {
        **record,
        "model": f.model,
        "method": f.method,
        "ci_method": f.ci_method,
        "tau2": _num(f.tau2),
        "i2": _num(f.i2),
    }


def _followup(row) -> FollowupRecord:
    # Leave-one-out and cumulative rows name their study in the id (without-<id>, up-to-<id>) instead of
    # listing every contributing study, which would grow with the square of the number of studies.
    record: FollowupRecord = {
        "id": row.id,
        "label": row.label,
        "k": row.k,
        "pooled": _pooled(row.fit),
        "scale": row.scale,
        "reason": row.reason,
        "conclusion_changes": row.change,
    }
    if row.studies is not None:
        record["studies"] = row.studies
    return record


def settings(spec, sparse_data_rules: bool = True) -> SettingsRecord:
    """The method settings in force for an analysis, with its preset (if any) resolved and defaults filled in;
    null where a setting has no effect under the analysis's model. sparse_data_rules=False: as a version
    released before double_zero_studies existed wrote them, without it."""
    random_part = spec.model != "fixed"
    dichotomous = MEASURES[spec.measure].outcome_type == "dichotomous"
    record: SettingsRecord = {
        "preset": spec.preset,
        "model": spec.model,
        "pooling_method": spec.method if spec.model != "random" else "IV",
        "tau2": spec.tau2 if random_part else None,
        "tau2_ci_method": "Q-profile" if random_part else None,
        "ci_method": spec.interval,
        "prediction_interval": spec.shows_prediction_interval if random_part else False,
        "i2_switch_threshold": LEGACY_I2_THRESHOLD if spec.model == "i2-switch" else None,
        "continuity_correction": spec.continuity_correction,
        "mh_continuity_correction": spec.mh_continuity_correction if spec.method == "MH" else None,
        "level": 0.95,
    }
    if sparse_data_rules:
        record["double_zero_studies"] = spec.double_zero_studies if dichotomous else None
    return record


def _pooled_record(f) -> PooledRecord | None:
    """The pooled estimate of an analysis's record (without the model, which the record states itself)."""
    if f is None:
        return None
    return {
        "estimate": _num(f.estimate),
        "se": _num(f.se),
        "ci_low": _num(f.ci_low),
        "ci_high": _num(f.ci_high),
        "statistic": _num(f.statistic),
        "statistic_type": "t" if f.df is not None else "z",
        "df": f.df,
        "p": _num(f.p),
        "pi_low": _num(f.pi_low),
        "pi_high": _num(f.pi_high),
        "k": f.k,
    }


def _heterogeneity(f) -> HeterogeneityRecord | None:
    if f is None:
        return None
    return {
        "q": _num(f.q),
        "df": f.q_df,
        "q_p": _num(f.q_p),
        "tau2": _num(f.tau2),
        "tau2_ci_low": _num(f.tau2_ci_low),
        "tau2_ci_high": _num(f.tau2_ci_high),
        "tau2_ci_method": "Q-profile" if f.tau2_ci_low is not None else None,
        "i2": _num(f.i2),
        "i2_ci_low": _num(f.i2_ci_low),
        "i2_ci_high": _num(f.i2_ci_high),
        "h2": _num(f.h2),
        "h2_ci_low": _num(f.h2_ci_low),
        "h2_ci_high": _num(f.h2_ci_high),
        "i2_basis": f.i2_basis,
        "i2_q": _num(f.i2_q),
        "h2_q": _num(f.h2_q),
    }


def analysis_record(result: AnalysisResult, sparse_data_rules: bool = True) -> AnalysisRecord:
    spec, f = result.spec, result.fit
    pooled, heterogeneity = _pooled_record(f), _heterogeneity(f)
    record: AnalysisRecord = {
        "id": spec.id,
        "outcome": spec.outcome,
        "role": spec.role,
        "title": spec.title,
        "measure": spec.measure,
        "model": f.model if f else None,
        "model_choice": "i2-switch" if spec.model == "i2-switch" else "prespecified",
        "method": f.method if f else None,
        "ci_method": f.ci_method if f else None,
        "scale": result.scale,
        "continuity_correction": spec.mh_continuity_correction if (f and f.method == "MH") else 0,
        "display_continuity_correction": spec.continuity_correction,
        "datasets": list(spec.datasets),
        "settings": settings(spec, sparse_data_rules),
        "studies": [_study(r) for r in result.rows],
        "planned_experimental_n": result.planned_experimental_n,
        "missing": [
            {"id": m.study.id, "label": m.study.label, "dataset": m.dataset, "reason": m.reason} for m in result.missing
        ],
        "left_out": [
            {
                "id": x.study.id,
                "label": x.study.label,
                "dataset": x.dataset,
                "reason": x.reason,
                "participants": x.participants,
            }
            for x in result.left_out
        ],
        "pooled": pooled,
        "heterogeneity": heterogeneity,
        "notes": list(result.notes),
    }
    if "pre-post" in result.data_kinds:
        record["settings"]["pre_post_correlation"] = spec.pre_post_correlation
    _add_followups(record, result)
    return record


def _add_followups(record: AnalysisRecord, result: AnalysisResult) -> None:
    """The optional parts of a record: follow-ups, small-study tests, subgroups and influence diagnostics."""
    followups = cast(dict, record)  # keyed by the follow-up's name, each declared in AnalysisRecord
    for key, rows in result.followups.items():
        followups[key] = [_followup(row) for row in rows]
    if result.small_study:
        record["small_study_effects"] = _small_study(result.small_study)
    if result.subgroups is not None:
        record["subgroups"] = _subgroups(result, result.subgroups)
    if result.meta_regression is not None:
        record["meta_regression"] = meta_regression_record(result, result.meta_regression)
    if result.influence:
        record["influence"] = _influence(result)


INFLUENCE_RULE = (
    "influential when |dffits| > 3 sqrt(p / (k - p)), or the chi-square(p) distribution function at Cook's distance "
    "> 0.5, or hat > 3 p / k, or |dfbetas| > 1, with p = 1 (metafor's influence())"
)


def _influence(result: AnalysisResult) -> InfluenceRecord:
    """The case diagnostics of a primary analysis, one entry per study (null measures where not estimable)."""
    s = result.influence
    d = s["influence"]
    studies: list[InfluenceStudyRecord] = []
    if d is not None:
        for i, row in enumerate(result.rows):
            studies.append(
                {
                    "id": row.study.id,
                    "rstudent": _num(d.rstudent[i]),
                    "dffits": _num(d.dffits[i]),
                    "cook_distance": _num(d.cook[i]),
                    "cov_ratio": _num(d.cov_ratio[i]),
                    "tau2_deleted": _num(d.tau2_deleted[i]),
                    "q_deleted": _num(d.q_deleted[i]),
                    "hat": _num(d.hat[i]),
                    "weight": _num(d.weight[i]),
                    "dfbetas": _num(d.dfbetas[i]),
                    "estimate_deleted": _num(d.estimate_deleted[i]),
                    "influential": bool(d.flagged[i]),
                    "baujat_x": _num(d.baujat_x[i]),
                    "baujat_y": _num(d.baujat_y[i]),
                }
            )
    return {
        "k": s["k"],
        "reason": s["reason"],
        "rule": INFLUENCE_RULE if d is not None else None,
        "influential": [row["id"] for row in studies if row["influential"]],
        "studies": studies,
    }


def meta_regression_record(result: AnalysisResult, mr: MetaRegressionResult) -> MetaRegressionRecord:
    """The meta-regression's settings, the studies in it and those left out, and the fit (null, with the reason,
    where there is none). Coefficients are on the analysis scale (log for ratio measures)."""
    f = mr.fit
    record: MetaRegressionRecord = {
        "moderators": list(mr.moderators),
        "test": "z" if mr.test == "z" else "knha",
        "tau2_method": mr.method,
        "k": mr.k,
        "studies": [result.rows[i].study.id for i in mr.studies],
        "left_out": [
            {"id": result.rows[i].study.id, "label": result.rows[i].study.label, "reason": why}
            for i, why in mr.left_out
        ],
        "reference_levels": dict(mr.reference_levels),
        "guard": {"min_studies_per_moderator": MIN_STUDIES_PER_MODERATOR, "overridden_because": mr.few_studies},
        "reason": mr.reason,
        "fit": None,
    }
    if f is None:
        return record
    fit: MetaRegressionFitRecord = {
        "coefficients": [
            {
                "term": t.id,
                "label": t.label,
                "characteristic": t.characteristic,
                "level": t.level,
                "estimate": _num(c.estimate),
                "se": _num(c.se),
                "statistic": _num(c.statistic),
                "p": _num(c.p),
                "ci_low": _num(c.ci_low),
                "ci_high": _num(c.ci_high),
            }
            for t, c in zip(mr.terms, f.coefficients)
        ],
        "statistic_type": "t" if f.df is not None else "z",
        "df": f.df,
        "test_of_moderators": {
            "statistic": _num(f.qm),
            "statistic_type": "F" if f.df is not None else "chi2",
            "df": f.qm_df,
            "df2": f.df,
            "p": _num(f.qm_p),
        },
        "residual_heterogeneity": {
            "qe": _num(f.qe),
            "df": f.qe_df,
            "qe_p": _num(f.qe_p),
            "tau2": _num(f.tau2),
            "i2": _num(f.i2),
            "h2": _num(f.h2),
        },
        "tau2_without_moderators": _num(f.tau2_re),
        "r2": _num(f.r2),
        "level": f.level,
    }
    record["fit"] = fit
    return record


def _subgroups(result: AnalysisResult, s: Subgroups) -> SubgroupsRecord:
    groups: list[SubgroupRecord] = []
    for g in s.groups:
        f = g.fit
        groups.append(
            {
                "id": g.id,
                "label": g.label,
                "studies": [result.rows[i].study.id for i in g.rows],
                "weight": _num(sum(result.rows[i].weight or 0.0 for i in g.rows)),
                "pooled": _pooled(f),
                "heterogeneity": None
                if f is None
                else {"q": _num(f.q), "df": f.q_df, "q_p": _num(f.q_p), "tau2": _num(f.tau2), "i2": _num(f.i2)},
            }
        )
    record: SubgroupsRecord = {
        "by": s.by,
        "groups": groups,
        "test_for_subgroup_differences": {"q": _num(s.q), "df": s.df, "p": _num(s.p), "i2": _num(s.i2)},
    }
    if s.label is not None:
        record["by_label"] = s.label
    return record


def _small_study(s: dict) -> SmallStudyRecord:
    e = s["egger"]
    test: EggerRecord | None = (
        None
        if e is None
        else {
            "test": "Egger (regression on the standard error)",
            "statistic": _num(e.statistic),
            "statistic_type": "t" if e.df is not None else "z",
            "df": e.df,
            "p": _num(e.p),
            "slope": _num(e.slope),
            "slope_se": _num(e.slope_se),
            "limit_estimate": _num(e.limit_estimate),
            "limit_se": _num(e.limit_se),
            "limit_ci_low": _num(e.limit_ci_low),
            "limit_ci_high": _num(e.limit_ci_high),
            "tau2": _num(e.tau2),
        }
    )
    record: SmallStudyRecord = {"k": s["k"], "egger": test, "reason": s["reason"]}
    if "rank_test" in s:  # a version with the small-study tests beside Egger's
        record["rank_test"] = _rank_test(s["rank_test"])
        filled = s["trim_and_fill"]
        record["trim_and_fill"] = {
            "reason": s["trim_and_fill_reason"],
            "L0": _trim_and_fill(filled.get("L0")),
            "R0": _trim_and_fill(filled.get("R0")),
        }
        record["harbord"] = _regression_test(s["harbord"])
        record["peters"] = _regression_test(s["peters"])
        record["odds_ratio_tests_reason"] = s["odds_ratio_tests_reason"]
    return record


def _rank_test(t) -> RankTestRecord | None:
    if t is None:
        return None
    return {
        "test": "Begg and Mazumdar (rank correlation)",
        "tau": _num(t.tau),
        "p": _num(t.p),
        "p_method": "exact" if t.exact else "normal approximation",
        "k": t.k,
    }


def _trim_and_fill(t) -> TrimAndFillRecord | None:
    if t is None:
        return None
    return {
        "estimator": t.estimator,
        "side": t.side,
        "k0": t.k0,
        "se_k0": _num(t.se_k0),
        "p_k0": _num(t.p_k0),
        "filled": [{"yi": _num(y), "vi": _num(v)} for y, v in zip(t.yi_filled, t.vi_filled)],
        "adjusted": _pooled(t.adjusted),
    }


def _regression_test(t) -> RegressionTestRecord | None:
    if t is None:
        return None
    return {
        "test": t.name,
        "statistic": _num(t.statistic),
        "statistic_type": "t",
        "df": t.df,
        "p": _num(t.p),
        "slope": _num(t.slope),
        "slope_se": _num(t.slope_se),
        "limit_estimate": _num(t.limit_estimate),
        "limit_ci_low": _num(t.limit_ci_low),
        "limit_ci_high": _num(t.limit_ci_high),
        "k": t.k,
    }


class Record(dict):
    """One analysis of the document, with its line of results.json and its rows of results.csv written once:
    a build keeps them (see _record) and writes the files from them."""

    __slots__ = ("line", "csv")

    def __init__(self, record: Mapping[str, object]):
        super().__init__(record)
        self.line = _dump(self)
        self.csv = _csv_rows(self)


def stored_record(result: AnalysisResult) -> Stored:
    """An analysis's record as kept in the store: made from the analysis (its key) plus what the record adds
    to it, the studies listed as missing and the participants planned."""
    return Stored(
        "records",
        {
            "analysis": result.key,
            "missing": json.dumps([[m.study.id, m.study.label, m.dataset, m.reason] for m in result.missing]),
            "left out": json.dumps(
                [[x.study.id, x.study.label, x.dataset, x.reason, x.participants] for x in result.left_out]
            ),
            "planned experimental participants": json.dumps(result.planned_experimental_n),
        },
    )


def _record(result: AnalysisResult, store: cache.Store | None, sparse_data_rules: bool = True) -> Record:
    """The analysis's record, from the store when an earlier build wrote it (its key, the analysis's, tells a
    version released before the sparse-data rules apart)."""
    entry = stored_record(result) if store is not None and result.key is not None else None
    found = entry.get(store) if entry is not None else None
    if isinstance(found, dict) and all(isinstance(k, str) for k in found):
        return Record(found)  # kept as plain data: its line and CSV rows are written again from it
    record = Record(analysis_record(result, sparse_data_rules))
    if entry is not None:
        entry.put(store, dict(record))  # the record's fields; its line and CSV rows are made again from them
    return record


def results_document(data: ReviewData, results: list[AnalysisResult], store: cache.Store | None = None) -> dict:
    # a dict, not a ResultsDocument: its analyses are Records (dicts that carry their serialised form)
    """The content of results.json. With a store, the records of analyses unchanged since an earlier build
    are read from it instead of being written again."""
    review = data.review
    return {
        "schema_version": SCHEMA_VERSION,
        "review": {
            "id": review.id,
            "title": review.title,
            "version": review.version,
            "date": review.date.isoformat(),
            "data_hash": data.data_hash,
            "builder_version": __version__,
        },
        "analyses": [_record(r, store, data.sparse_data_rules) for r in results],
    }


def to_json(document: dict) -> str:
    """The document with sorted keys, one analysis per line: compact enough for hundreds of studies (and
    written by json's C encoder, which indentation would switch off), yet a diff still shows which analyses
    changed."""
    parts = []
    for key in sorted(document):
        value = document[key]
        if isinstance(value, list):
            items = ",\n".join("  " + (item.line if isinstance(item, Record) else _dump(item)) for item in value)
            parts.append(f"{_dump(key)}:[\n{items}\n]" if value else f"{_dump(key)}:[]")
        else:
            parts.append(f"{_dump(key)}:{_dump(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _dump(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


CSV_COLUMNS = [
    "analysis_id",
    "outcome",
    "role",
    "measure",
    "model",
    "method",
    "ci_method",
    "scale",
    "row_type",
    "study_id",
    "label",
    "dataset",
    "events_exp",
    "total_exp",
    "events_ctrl",
    "total_ctrl",
    "mean_exp",
    "sd_exp",
    "mean_ctrl",
    "sd_ctrl",
    "yi",
    "vi",
    "weight",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "statistic",
    "df",
    "p",
    "pi_low",
    "pi_high",
    "q",
    "q_df",
    "q_p",
    "tau2",
    "i2",
    "h2",
]


CSV_INPUTS = {"events_exp", "total_exp", "events_ctrl", "total_ctrl", "mean_exp", "sd_exp", "mean_ctrl", "sd_ctrl"}


def to_csv(document: dict) -> str:
    """One row per study per analysis, and one 'pooled' row per analysis."""
    out = io.StringIO()
    csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n").writeheader()
    for a in document["analyses"]:
        out.write(a.csv if isinstance(a, Record) else _csv_rows(a))
    return out.getvalue()


def _csv_rows(a: dict) -> str:
    """The rows of results.csv for one analysis record."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    base = {k: csv_text(a[k]) for k in ("outcome", "role", "measure", "model", "method", "ci_method", "scale")}
    base["analysis_id"] = csv_text(a["id"])
    for s in a["studies"]:
        writer.writerow(
            {
                **base,
                "row_type": "study",
                "study_id": csv_text(s["id"]),
                "label": csv_text(s["label"]),
                "dataset": csv_text(s["dataset"]),
                # a study that reports its comparison has inputs without a column here (sei, o_minus_e, v):
                # its yi and vi are the row's own
                **{k: v for k, v in s["inputs"].items() if k in CSV_INPUTS},
                "yi": s["yi"],
                "vi": s["vi"],
                "weight": s["weight"],
            }
        )
    if a["pooled"]:
        h = a["heterogeneity"]
        writer.writerow(
            {
                **base,
                "row_type": "pooled",
                **{
                    k: a["pooled"][k]
                    for k in ("estimate", "se", "ci_low", "ci_high", "statistic", "df", "p", "pi_low", "pi_high")
                },
                "q": h["q"],
                "q_df": h["df"],
                "q_p": h["q_p"],
                "tau2": h["tau2"],
                "i2": h["i2"],
                "h2": h["h2"],
            }
        )
    return out.getvalue()
