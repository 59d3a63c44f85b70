"""Subgroup analyses declared in review.yaml (`subgroups: design`, ...): a fit per subgroup with the analysis's
own model, and the test for subgroup differences, as RevMan prints them under a forest plot."""

from __future__ import annotations

import re

import numpy as np

from builder.analysis.fitting import refit  # the same refit as every sensitivity row (Mantel-Haenszel needs the cells)
from builder.analysis.result import AnalysisResult, Subgroup, Subgroups, arms
from builder.contract.study import DESIGN_LABELS, Study
from builder.stats import fixed_iv
from builder.stats.effects import EffectSizes
from builder.stats.followups import subgroups as subgroup_test

BY_LABELS = {"design": "design", "country": "country", "cell-source": "cell source", "listed": "subgroup"}
NOT_REPORTED = "Not reported"
NOT_LISTED = "Not listed"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "none"


def key(study: Study, by: str, experimental_arm: str, listed: dict[str, str] | None = None) -> tuple[str, str]:
    """(id, label) of the study's subgroup; `listed` maps study ids to labels for `subgroups: listed`."""
    if by == "listed":
        label = (listed or {}).get(study.id, NOT_LISTED)
        return _slug(label), label
    if by == "design":
        return study.design.category, DESIGN_LABELS[study.design.category]
    if by == "country":
        return _slug(study.location.country), study.location.country
    arm = study.arm(experimental_arm)
    source = arm.intervention.cell_source if arm.intervention and arm.intervention.cell_source else NOT_REPORTED
    return _slug(source), source


def _ordered(order: list[tuple[str, str]], result: AnalysisResult) -> list[tuple[str, str]]:
    """Subgroups by design in the order of the categories; listed ones as listed, then 'Not listed'; others as
    they first appear."""
    if result.spec.subgroups == "design":
        return sorted(order, key=lambda k: list(DESIGN_LABELS).index(k[0]))
    if result.spec.subgroups == "listed":
        position = {g.label: i for i, g in enumerate(result.spec.listed_subgroups)}
        return sorted(order, key=lambda k: position.get(k[1], len(position)))
    return order


def compute(result: AnalysisResult) -> Subgroups:
    by = result.spec.subgroups
    if by is None:
        raise ValueError(f"analysis {result.spec.id} declares no subgroups")
    listed = {sid: g.label for g in result.spec.listed_subgroups for sid in g.studies}
    keys = [key(r.study, by, arms(r.data)[0].arm, listed) for r in result.rows]
    order = _ordered(list(dict.fromkeys(keys)), result)
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
    return Subgroups(by, groups, q, df, p, i2)
