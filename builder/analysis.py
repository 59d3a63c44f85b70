"""Turn an analysis plan from review.yaml plus the study files into fitted results."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np

from . import cache
from .loader import ReviewData
from .models import Analysis, Outcome, Study
from .models.study import Dataset
from .stats import (Fit, fixed_iv, log_odds_ratio, log_ratio_of_means, log_risk_ratio, mantel_haenszel_or,
                    mantel_haenszel_rd, mantel_haenszel_rr, mean_difference, peto_log_odds_ratio, peto_or,
                    random_effects, risk_difference, standardised_mean_difference)
from .stats.effects import EffectSizes

LEGACY_I2_THRESHOLD = 50.0
RATIO_MEASURES = {"OR", "RR", "ROM"}   # pooled on the log scale


@dataclass(frozen=True)
class StudyRow:
    study: Study
    dataset: str
    data: Dataset
    inputs: dict[str, float]
    yi: float | None
    vi: float | None
    corrected: bool
    weight: float | None           # percent of the pooled estimate; None where not estimable

    @property
    def estimable(self) -> bool:
        return self.yi is not None


@dataclass(frozen=True)
class MissingStudy:
    study: Study
    dataset: str | None
    reason: str


@dataclass(frozen=True)
class AnalysisResult:
    spec: Analysis
    outcome: Outcome
    rows: list[StudyRow]
    missing: list[MissingStudy]
    fit: Fit | None
    fixed_first: Fit | None = None          # the fixed-effect fit an I²-switch rule looked at
    notes: list[str] = field(default_factory=list)
    followups: dict = field(default_factory=dict)   # sensitivity, leave_one_out, cumulative (primary analyses)
    small_study: dict = field(default_factory=dict)  # primary analyses: Egger's test and funnel data, or why not
    subgroups: object | None = None                  # subgroups.Subgroups when the analysis declares subgroups
    key: str | None = None     # content key of everything the numbers depend on (set when run with a cache)

    @property
    def scale(self) -> str:
        return "log" if self.spec.measure in RATIO_MEASURES else "identity"

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
        n = sum(r.study.arm(r.data.experimental.arm).n for r in self.rows)
        return n + sum(a.n for m in self.missing for a in m.study.arms
                       if a.role == "experimental" and a.kind == "allocated")

    def totals(self) -> dict[str, int]:
        keys = ("events_exp", "total_exp", "events_ctrl", "total_ctrl") if self.dichotomous \
            else ("total_exp", "total_ctrl")
        return {k: int(sum(r.inputs[k] for r in self.rows)) for k in keys}


def select(spec: Analysis, data: ReviewData) -> tuple[list[tuple[Study, str, Dataset]], list[MissingStudy]]:
    """The studies an analysis uses, with the dataset chosen for each, and those that lack data."""
    chosen, missing = [], []
    ids = spec.studies if spec.studies is not None else [
        sid for sid, s in data.studies.items() if spec.outcome in s.outcomes]
    for sid in ids:
        study = data.studies[sid]
        if sid in spec.exclude or (spec.designs is not None and study.design.category not in spec.designs):
            continue
        datasets = study.outcomes.get(spec.outcome, {})
        name = next((n for n in spec.datasets if n in datasets), None)
        if name is None:
            other = next(((n, d) for n, d in datasets.items() if d.status == "missing"), None)
            reason = f"no {' or '.join(spec.datasets)} data for this outcome"
            if other is not None:
                reason += f" (the {other[0]} values are missing too; see the study's page)"
            missing.append(MissingStudy(study, None, reason))
        elif datasets[name].status == "missing":
            missing.append(MissingStudy(study, name, datasets[name].missing or "data not found"))
        else:
            chosen.append((study, name, datasets[name]))
    return chosen, missing


def _inputs(ds: Dataset) -> dict[str, float]:
    e, c = ds.experimental, ds.control
    if e.events is not None:
        return {"events_exp": e.events, "total_exp": e.total, "events_ctrl": c.events, "total_ctrl": c.total}
    return {"mean_exp": e.mean, "sd_exp": e.sd, "total_exp": e.total,
            "mean_ctrl": c.mean, "sd_ctrl": c.sd, "total_ctrl": c.total}


DICHOTOMOUS = {"OR": log_odds_ratio, "RR": log_risk_ratio, "RD": risk_difference}
CONTINUOUS = {"MD": mean_difference, "SMD": standardised_mean_difference, "ROM": log_ratio_of_means}
MH = {"OR": mantel_haenszel_or, "RR": mantel_haenszel_rr, "RD": mantel_haenszel_rd}


def effect_sizes(spec: Analysis, inputs: list[dict[str, float]]) -> EffectSizes:
    col = {k: [i[k] for i in inputs] for k in inputs[0]}
    if spec.method == "Peto":
        return peto_log_odds_ratio(col["events_exp"], col["total_exp"], col["events_ctrl"], col["total_ctrl"])
    if spec.measure in DICHOTOMOUS:
        return DICHOTOMOUS[spec.measure](col["events_exp"], col["total_exp"], col["events_ctrl"], col["total_ctrl"],
                                         add=spec.continuity_correction)
    if spec.measure in CONTINUOUS:
        return CONTINUOUS[spec.measure](col["mean_exp"], col["sd_exp"], col["total_exp"],
                                        col["mean_ctrl"], col["sd_ctrl"], col["total_ctrl"])
    raise NotImplementedError(f"measure {spec.measure} from per-arm data is not available")


def _fixed(spec: Analysis, es: EffectSizes, inputs: list[dict[str, float]]) -> Fit:
    if spec.method in ("MH", "Peto"):
        col = {k: [i[k] for i in inputs] for k in inputs[0]}
        cells = (col["events_exp"], col["total_exp"], col["events_ctrl"], col["total_ctrl"])
        if spec.method == "Peto":
            return peto_or(*cells, display=es)
        return MH[spec.measure](*cells, es, add=spec.mh_continuity_correction)
    return fixed_iv(es)


def _random(spec: Analysis, es: EffectSizes, ci_method: str, tau2_interval: bool = True) -> Fit:
    """The random-effects fit, without its prediction interval where the analysis asks for none."""
    f = random_effects(es, spec.tau2, ci_method, tau2_interval=tau2_interval)
    if not spec.shows_prediction_interval and f.pi_low is not None:
        f = replace(f, pi_low=None, pi_high=None)
    return f


def fit(spec: Analysis, es: EffectSizes, inputs: list[dict[str, float]],
        tau2_interval: bool = True) -> tuple[Fit, Fit | None, list[str]]:
    """The analysis's model on these effect sizes: (fit, the fixed-effect fit an I² switch looked at, notes).

    tau2_interval=False skips the Q-profile interval of tau², which follow-up refits do not report."""
    notes = []
    if spec.model == "fixed":
        return _fixed(spec, es, inputs), None, notes
    if spec.model == "random":
        try:
            return _random(spec, es, spec.interval, tau2_interval), None, notes
        except ValueError:
            if spec.interval != "hksj":
                raise
            notes.append("The study estimates agree exactly, which leaves the Hartung-Knapp-Sidik-Jonkman "
                         "interval with zero width; the ad hoc variant, never narrower than Wald's, is used.")
            return _random(spec, es, "hksj-adhoc", tau2_interval), None, notes
    first = _fixed(spec, es, inputs)
    i2 = first.i2 or 0.0
    if i2 > LEGACY_I2_THRESHOLD:
        notes.append(f"I² of the fixed-effect model was {i2:.0f}% (> {LEGACY_I2_THRESHOLD:.0f}%), "
                     "so the legacy rule switched to random effects.")
        return _random(spec, es, spec.ci_method or "wald", tau2_interval), first, notes
    notes.append(f"I² of the fixed-effect model was {i2:.0f}% (≤ {LEGACY_I2_THRESHOLD:.0f}%), "
                 "so the legacy rule kept the fixed-effect model.")
    return first, first, notes


def run(spec: Analysis, data: ReviewData) -> AnalysisResult:
    outcome = data.review.outcome(spec.outcome)
    chosen, missing = select(spec, data)
    if not chosen:
        return AnalysisResult(spec, outcome, [], missing, None)
    units = sorted({ds.unit or "no unit" for _, _, ds in chosen}) if outcome.type == "continuous" else []
    if len(units) > 1:   # the loader reports this with file and line (derive.check_units); never pool it
        raise ValueError(f"analysis '{spec.id}' would pool values in different units: {', '.join(units)}")
    inputs = [_inputs(ds) for _, _, ds in chosen]
    es = effect_sizes(spec, inputs)
    estimable = int(es.estimable.sum())
    result_fit, first, notes = (None, None, []) if estimable == 0 else fit(spec, es, inputs)
    if result_fit is not None and result_fit.note:
        notes.append(result_fit.note[0].upper() + result_fit.note[1:] + ".")
    rows = []
    for i, (study, name, ds) in enumerate(chosen):
        ok = bool(es.estimable[i])
        weight = None
        if result_fit is not None and np.isfinite(result_fit.weights[i]):
            weight = float(result_fit.weights[i])
        rows.append(StudyRow(study, name, ds, inputs[i], float(es.yi[i]) if ok else None,
                             float(es.vi[i]) if ok else None, bool(es.corrected[i]), weight))
    result = AnalysisResult(spec, outcome, rows, missing, result_fit, first, notes)
    if spec.subgroups and result_fit is not None:
        from . import subgroups
        result = replace(result, subgroups=subgroups.compute(result))
    return result


def _analysis_key(spec: Analysis, outcome: Outcome, chosen, memo: dict | None = None) -> str:
    """Everything an analysis's numbers depend on: its plan, its outcome, and for each study used the dataset
    and the study fields the follow-ups and subgroups read (label, year, design, risk of bias, country, arms).
    Editing another outcome of the same study, or any other field, leaves the key unchanged.

    `memo` keeps each study's and dataset's part for the other analyses of the same build: a study is in
    every analysis of its outcomes, and serialising it again for each was most of the time of restoring a
    large review's analyses."""
    from .sensitivity import high_risk
    memo = {} if memo is None else memo
    parts = [spec.model_dump_json(), outcome.model_dump_json()]
    for study, name, ds in chosen:
        if study.id not in memo:
            memo[study.id] = json.dumps([study.id, study.label, study.citation.year, study.design.category,
                                         high_risk(study), study.location.country]) \
                + "".join(arm.model_dump_json() for arm in study.arms)
        if id(ds) not in memo:
            memo[id(ds)] = (ds, ds.model_dump_json())     # the dataset is held, so its id stays its own
        parts.extend((memo[study.id], name, memo[id(ds)][1]))
    return cache.key("analysis", *parts)


def _restore(spec: Analysis, data: ReviewData, chosen, missing, saved: dict, saved_key: str) -> AnalysisResult:
    rows = [StudyRow(study, name, ds, _inputs(ds), *numbers)
            for (study, name, ds), numbers in zip(chosen, saved["rows"])]
    return AnalysisResult(spec, data.review.outcome(spec.outcome), rows, missing, saved["fit"], saved["first"],
                          list(saved["notes"]), dict(saved["followups"]), dict(saved["small_study"]),
                          saved["subgroups"], saved_key)


def run_all(data: ReviewData, store: cache.Store | None = None) -> list[AnalysisResult]:
    """Every analysis of the plan, with the follow-ups of primary analyses. With a `store`, an analysis whose
    key (see _analysis_key) is unchanged since an earlier build is restored instead of refitted."""
    from . import sensitivity
    results = []
    memo: dict = {}
    for spec in data.review.analyses:
        k = None
        if store is not None:
            chosen, missing = select(spec, data)
            k = _analysis_key(spec, data.review.outcome(spec.outcome), chosen, memo)
            saved = store.get("analyses", k)
            if saved is not None and len(saved["rows"]) == len(chosen):
                results.append(_restore(spec, data, chosen, missing, saved, k))
                continue
        r = run(spec, data)
        if r.spec.role == "primary" and r.fit is not None:
            r.followups.update(sensitivity=sensitivity.panel(r), leave_one_out=sensitivity.leave_one_out(r),
                               cumulative=sensitivity.cumulative(r))
            r.small_study.update(sensitivity.small_study(r))
        if k is not None:
            store.put("analyses", k, {"rows": [(x.yi, x.vi, x.corrected, x.weight) for x in r.rows], "fit": r.fit,
                                      "first": r.fixed_first, "notes": r.notes, "followups": r.followups,
                                      "small_study": r.small_study, "subgroups": r.subgroups})
            r = replace(r, key=k)
        results.append(r)
    return results
