"""Meta-regressions declared in review.yaml (`meta_regression: {moderators: [...]}`): the design matrix from the
studies' declared characteristics, the Handbook's guard of ten studies per characteristic, and the fit.

A study whose effect is estimable but that gives no value of a moderator is left out of the meta-regression, not
refused: the analysis itself keeps it, and the page and results.json name it with the reason (metafor likewise
omits studies with a missing moderator, with a warning). Refusing would let one missing characteristic stop the
build of a whole review, and `review check` warns of such studies in advance.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from builder.analysis.result import AnalysisResult, MetaRegressionResult, Term
from builder.contract.review import MIN_STUDIES_PER_MODERATOR, Characteristic, Review
from builder.contract.study import Study
from builder.stats.metareg import meta_regression


def value_of(study: Study, characteristic: str) -> float | str | None:
    given = study.characteristics.get(characteristic)
    return None if given is None else given.value


def _terms(declared: list[Characteristic], studies: list[Study]) -> tuple[list[Term], dict[str, str]]:
    """The coefficients the moderators give on these studies: a slope per continuous moderator, and per
    categorical one a dummy for each level present but the first present (the reference)."""
    terms = [Term("intercept", "Intercept", None)]
    references: dict[str, str] = {}
    for ch in declared:
        if ch.type == "continuous":
            unit = f" ({ch.unit})" if ch.unit else ""
            terms.append(Term(ch.id, f"{ch.label}{unit}: slope", ch.id))
            continue
        present = [level for level in ch.levels or [] if any(value_of(s, ch.id) == level for s in studies)]
        if not present:
            continue
        references[ch.id] = present[0]
        terms += [Term(f"{ch.id}:{lv}", f"{ch.label}: {lv} vs {present[0]}", ch.id, lv) for lv in present[1:]]
    return terms, references


def _row(study: Study, terms: list[Term]) -> list[float]:
    out = []
    for t in terms:
        if t.characteristic is None:
            out.append(1.0)
        elif t.level is None:
            out.append(float(value_of(study, t.characteristic)))  # type: ignore[arg-type]
        else:
            out.append(1.0 if value_of(study, t.characteristic) == t.level else 0.0)
    return out


def _with_values(result: AnalysisResult, declared: list[Characteristic]) -> tuple[list[int], list[tuple[int, str]]]:
    """(rows in the model, (row, reason) of estimable rows left out for a missing value)."""
    used, left_out = [], []
    for i, r in enumerate(result.rows):
        if not r.estimable:
            continue
        missing = [c.label for c in declared if value_of(r.study, c.id) is None]
        if missing:
            left_out.append((i, f"no value of {', '.join(missing)}"))
        else:
            used.append(i)
    return used, left_out


def _too_few(k: int, m: int) -> str:
    return (
        f"the Cochrane Handbook advises at least {MIN_STUDIES_PER_MODERATOR} studies per characteristic, and "
        f"this meta-regression has {k} {'study' if k == 1 else 'studies'} for {m} "
        f"{'characteristic' if m == 1 else 'characteristics'}"
    )


def compute(result: AnalysisResult, review: Review) -> MetaRegressionResult:
    plan = result.spec.meta_regression
    if plan is None:
        raise ValueError(f"analysis {result.spec.id} declares no meta-regression")
    declared = [c for m in plan.moderators if (c := review.characteristic(m)) is not None]
    used, left_out = _with_values(result, declared)
    terms, references = _terms(declared, [result.rows[i].study for i in used])
    design = [_row(result.rows[i].study, terms) for i in used]
    k, m = len(used), len(plan.moderators)
    base = MetaRegressionResult(
        list(plan.moderators), plan.test, result.spec.tau2, k, terms, references, used, design, left_out, None
    )
    below = k < MIN_STUDIES_PER_MODERATOR * m
    if below and plan.allow_few_studies is None:
        return replace(base, reason=_too_few(k, m))
    base = replace(base, few_studies=plan.allow_few_studies if below else None)
    if len(terms) < 2:
        return replace(base, reason="the moderators take a single value among these studies")
    yi = np.array([result.rows[i].yi for i in used], dtype=float)
    vi = np.array([result.rows[i].vi for i in used], dtype=float)
    try:
        fit = meta_regression(yi, vi, np.array(design), [t.id for t in terms], result.spec.tau2, plan.test)
    except (ValueError, ArithmeticError) as exc:  # not identified on these studies, or no convergence
        return replace(base, reason=str(exc))
    return replace(base, fit=fit)
