"""Turn an analysis plan from review.yaml plus the study files into fitted results."""

from __future__ import annotations

import functools
import importlib
import json
import pkgutil
from dataclasses import replace

import numpy as np

import builder.analysis
import builder.stats
from builder.analysis import diagnostics, metareg, sensitivity, subgroups
from builder.analysis.fitting import effect_sizes, fit, inputs_of
from builder.analysis.result import AnalysisResult, StudyRow
from builder.analysis.sensitivity import high_risk
from builder.caching import store as cache
from builder.caching.outputs import Stored
from builder.caching.plain import Codec, dataclasses_of
from builder.contract import Analysis, Outcome
from builder.ingest.derive import has_unit
from builder.ingest.loader import ReviewData
from builder.ingest.select import select
from builder.stats import EffectSizes, Fit


def run(spec: Analysis, data: ReviewData) -> AnalysisResult:
    """One analysis of the plan: its studies' effect sizes and the model it asks for (no follow-ups)."""
    outcome = data.review.outcome(spec.outcome)
    chosen, missing, left_out = select(spec, data.studies, data.integrity_rules)
    if not chosen:
        return AnalysisResult(spec, outcome, [], missing, None, left_out=left_out)
    units = (
        sorted({ds.unit or "no unit" for _, _, ds in chosen if has_unit(ds)}) if outcome.type == "continuous" else []
    )
    if len(units) > 1:  # the loader reports this with file and line (derive.check_units); never pool it
        raise ValueError(f"analysis '{spec.id}' would pool values in different units: {', '.join(units)}")
    inputs = [inputs_of(ds) for _, _, ds in chosen]
    es = effect_sizes(spec, inputs)
    estimable = int(es.estimable.sum())
    result_fit, first, notes = (None, None, []) if estimable == 0 else _fit_or_note(spec, es, inputs)
    if result_fit is not None and result_fit.note:
        notes.append(result_fit.note[0].upper() + result_fit.note[1:] + ".")
    rows = _study_rows(chosen, inputs, es, result_fit)
    result = AnalysisResult(spec, outcome, rows, missing, result_fit, first, notes, left_out=left_out)
    if spec.subgroups and result_fit is not None:
        result = replace(result, subgroups=subgroups.compute(result, data.review))
    if spec.meta_regression and result_fit is not None:
        result = replace(result, meta_regression=metareg.compute(result, data.review))
    return result


def _fit_or_note(spec: Analysis, es: EffectSizes, inputs: list[dict[str, float]]) -> tuple:
    """The analysis's fit, or none with the reason where pooling 2x2 tables has nothing to pool although some
    study has an estimate of its own: a Mantel-Haenszel risk ratio without events in one group of any study, a
    risk difference whose every study is 0% vs 0% or 100% vs 100% (variance 0)."""
    try:
        return fit(spec, es, inputs)
    except ValueError as exc:
        if spec.method not in ("MH", "Peto"):
            raise
        return None, None, [f"No pooled result: {exc}."]


def _study_rows(chosen, inputs: list[dict[str, float]], es: EffectSizes, result_fit: Fit | None) -> list[StudyRow]:
    """A row per chosen study: its inputs, effect size where estimable, and percent weight where pooled."""
    weights = result_fit.weights if result_fit is not None else None
    rows = []
    for i, (study, name, ds) in enumerate(chosen):
        ok = bool(es.estimable[i])
        weight = float(weights[i]) if weights is not None and np.isfinite(weights[i]) else None
        yi, vi = (float(es.yi[i]), float(es.vi[i])) if ok else (None, None)
        rows.append(StudyRow(study, name, ds, inputs[i], yi, vi, bool(es.corrected[i]), weight))
    return rows


@functools.cache
def _codec() -> Codec:
    """The plain-data form of stored analyses: builtins, arrays and the result types of the statistics and of
    the analysis layer (every dataclass their modules define, so a new follow-up's result is kept as well)."""
    modules = [
        importlib.import_module(info.name)
        for package in (builder.stats, builder.analysis)
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + ".")
    ]
    return Codec(dataclasses_of(*modules))


def _analysis_entry(
    spec: Analysis,
    outcome: Outcome,
    chosen,
    memo: dict | None = None,
    sparse_data_rules: bool = True,
    declared: list | None = None,
    bias_followups: bool = True,
) -> Stored:
    """The stored numbers of an analysis, declared with everything they depend on: its plan, its outcome, and
    for each study used the dataset and the study fields the follow-ups and subgroups read (label, year,
    design, risk of bias, country, arms). Editing another outcome of the same study, or any other field,
    leaves the key unchanged.

    `memo` keeps each study's and dataset's part for the other analyses of the same build: a study is in
    every analysis of its outcomes, and serialising it again for each was most of the time of restoring a
    large review's analyses."""
    memo = {} if memo is None else memo
    studies: list[str] = []
    for study, name, ds in chosen:
        if study.id not in memo:
            memo[study.id] = json.dumps(
                [
                    study.id,
                    study.label,
                    study.citation.year,
                    study.design.category,
                    high_risk(study),
                    study.location.country,
                ]
            ) + "".join(arm.model_dump_json() for arm in study.arms)
            if study.characteristics:  # read by subgroups and meta-regressions on declared characteristics
                memo[study.id] += json.dumps({k: v.value for k, v in sorted(study.characteristics.items())})
        if id(ds) not in memo:
            memo[id(ds)] = (ds, ds.model_dump_json())  # the dataset is held, so its id stays its own
        studies.extend((memo[study.id], name, memo[id(ds)][1]))
    made_from = {"plan": spec.model_dump_json(), "outcome": outcome.model_dump_json(), "studies and datasets": studies}
    if not sparse_data_rules:  # a version released before them: no treatment-arm correction row (see run_all)
        made_from["sparse data rules"] = "off"
    if not bias_followups:  # a version released before the influence and small-study follow-ups
        made_from["bias follow-ups"] = "off"
    if declared:  # the characteristics the plan names, whose levels order subgroups and code moderators
        made_from["characteristics"] = json.dumps([c.model_dump(mode="json") for c in declared])
    return Stored("analyses", made_from, _codec())


def _declared(spec: Analysis, data: ReviewData) -> list:
    """The declared characteristics an analysis splits by or regresses on."""
    named = [spec.subgroups, *(spec.meta_regression.moderators if spec.meta_regression else [])]
    return [c for c in data.review.characteristics if c.id in named]


def _restore(
    spec: Analysis, data: ReviewData, chosen, missing, left_out, saved: dict, saved_key: str
) -> AnalysisResult:
    rows = [
        StudyRow(study, name, ds, inputs_of(ds), *numbers) for (study, name, ds), numbers in zip(chosen, saved["rows"])
    ]
    return AnalysisResult(
        spec,
        data.review.outcome(spec.outcome),
        rows,
        missing,
        saved["fit"],
        saved["first"],
        list(saved["notes"]),
        dict(saved["followups"]),
        dict(saved["small_study"]),
        saved["subgroups"],
        saved_key,
        left_out,
        saved["meta_regression"],
        dict(saved["influence"]),
    )


# What run_all keeps of an analysis (and _restore reads): an entry without one of these is refitted.
_SAVED = {"rows", "fit", "first", "notes", "followups", "small_study", "subgroups", "meta_regression", "influence"}


def _fits(saved: object, chosen: list) -> bool:
    """Whether a stored entry has the form run_all writes, with a row per chosen study."""
    return (
        isinstance(saved, dict)
        and set(saved) == _SAVED  # exactly the form written: an entry of another form is refitted
        and isinstance(saved["rows"], list)
        and len(saved["rows"]) == len(chosen)
        and all(isinstance(row, tuple) and len(row) == 4 for row in saved["rows"])
    )


def run_all(data: ReviewData, store: cache.Store | None = None) -> list[AnalysisResult]:
    """Every analysis of the plan, with the follow-ups of primary analyses. With a `store`, an analysis whose
    key (see _analysis_entry) is unchanged since an earlier build is restored instead of refitted."""
    results = []
    memo: dict = {}
    for spec in data.review.analyses:
        entry = None
        if store is not None:
            chosen, missing, left_out = select(spec, data.studies, data.integrity_rules)
            entry = _analysis_entry(
                spec,
                data.review.outcome(spec.outcome),
                chosen,
                memo,
                data.sparse_data_rules,
                _declared(spec, data),
                data.bias_followups,
            )
            saved = entry.get(store)
            if isinstance(saved, dict) and _fits(saved, chosen) and entry.key is not None:
                results.append(_restore(spec, data, chosen, missing, left_out, saved, entry.key))
                continue
        r = run(spec, data)
        if r.spec.role == "primary" and r.fit is not None:
            r.followups.update(
                sensitivity=sensitivity.panel(r, data.sparse_data_rules),
                leave_one_out=sensitivity.leave_one_out(r),
                cumulative=sensitivity.cumulative(r),
            )
            r.small_study.update(sensitivity.small_study(r))
            if data.bias_followups:
                r.small_study.update(diagnostics.bias_tests(r))
                r.influence.update(diagnostics.influence_of(r))
        if entry is not None and entry.key is not None:
            entry.put(
                store,
                {
                    "rows": [(x.yi, x.vi, x.corrected, x.weight) for x in r.rows],
                    "fit": r.fit,
                    "first": r.fixed_first,
                    "notes": r.notes,
                    "followups": r.followups,
                    "small_study": r.small_study,
                    "subgroups": r.subgroups,
                    "meta_regression": r.meta_regression,
                    "influence": r.influence,
                },
            )
            r = replace(r, key=entry.key)
        results.append(r)
    return results
