"""Subgroup analyses declared in review.yaml (`subgroups: design`, ...): a fit per subgroup with the analysis's
own model, and the test for subgroup differences, as RevMan prints them under a forest plot. Subgroups are by a
built-in characteristic (design, country, cell source) or by a categorical characteristic the review declares,
in the order of its levels; a study without a value of it is in the subgroup "Not reported"."""

from __future__ import annotations

import re

import numpy as np

from builder.analysis.fitting import refit  # the same refit as every sensitivity row (Mantel-Haenszel needs the cells)
from builder.analysis.result import AnalysisResult, Subgroup, Subgroups, arms
from builder.contract.review import Characteristic, Review
from builder.contract.study import DESIGN_LABELS, Study
from builder.stats import fixed_iv
from builder.stats.effects import EffectSizes
from builder.stats.followups import subgroups as subgroup_test

BY_LABELS = {"design": "design", "country": "country", "cell-source": "cell source"}
NOT_REPORTED = "Not reported"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "none"


def key(study: Study, by: str, experimental_arm: str, declared: Characteristic | None = None) -> tuple[str, str]:
    """(id, label) of the study's subgroup; `declared` is the characteristic `by` names, if not a built-in one."""
    if declared is not None:
        given = study.characteristics.get(declared.id)
        return (_slug(str(given.value)), str(given.value)) if given is not None else (_slug(NOT_REPORTED), NOT_REPORTED)
    if by == "design":
        return study.design.category, DESIGN_LABELS[study.design.category]
    if by == "country":
        return _slug(study.location.country), study.location.country
    arm = study.arm(experimental_arm)
    source = arm.intervention.cell_source if arm.intervention and arm.intervention.cell_source else NOT_REPORTED
    return _slug(source), source


def _order(keys: list[tuple[str, str]], by: str, declared: Characteristic | None) -> list[tuple[str, str]]:
    """The subgroups in order of first appearance; design categories and declared levels in their own order."""
    order = list(dict.fromkeys(keys))
    if by == "design":
        order.sort(key=lambda k: list(DESIGN_LABELS).index(k[0]))
    elif declared is not None:
        levels = list(declared.levels or [])
        order.sort(key=lambda k: levels.index(k[1]) if k[1] in levels else len(levels))
    return order


def compute(result: AnalysisResult, review: Review | None = None) -> Subgroups:
    by = result.spec.subgroups
    if by is None:
        raise ValueError(f"analysis {result.spec.id} declares no subgroups")
    declared = review.characteristic(by) if review is not None and by not in BY_LABELS else None
    keys = [key(r.study, by, arms(r.data)[0].arm, declared) for r in result.rows]
    order = _order(keys, by, declared)
    groups = []
    for gid, label in order:
        mask = np.array([k[0] == gid for k in keys])
        groups.append(Subgroup(gid, label, [i for i, k in enumerate(mask) if k], refit(result, mask)))
    # The test compares the subgroup estimates with their standard errors (a fixed-effect meta-analysis of them,
    # as RevMan and meta do); each enters the engine's test as a group of one, so its own fit is left as it is.
    fitted = [g.fit for g in groups if g.fit is not None]
    estimates = EffectSizes(
        np.array([f.estimate for f in fitted]),
        np.array([f.se for f in fitted]) ** 2,
        np.ones(len(fitted), dtype=bool),
        np.zeros(len(fitted), dtype=bool),
    )
    try:
        test = subgroup_test(estimates, list(range(len(fitted))), fixed_iv)
        q, df, p, i2 = test.q, test.df, test.p, test.i2
    except ValueError:  # a subgroup estimate with a standard error of 0
        q = df = p = i2 = None
    return Subgroups(by, groups, q, df, p, i2, declared.label if declared is not None else None)
