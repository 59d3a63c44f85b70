"""The studies an analysis uses and the dataset chosen for each (or why a study has none, or why it is left
out).

Integrity by default: a comparison with a virtual or historical arm, and a cohort whose patients another
study already counts, stay out of every analysis (and so of its participant count) unless the analysis keeps
the study by name (`keeps`, with a reason). Reproductions of the source review keep what it pooled that way."""

from __future__ import annotations

from dataclasses import dataclass

from builder.contract import Analysis, Study
from builder.contract.study import Dataset


@dataclass(frozen=True)
class MissingStudy:
    study: Study
    dataset: str | None
    reason: str


@dataclass(frozen=True)
class LeftOut:
    """A study the analysis names but leaves out, because counting it would mislead, and why."""

    study: Study
    dataset: str | None
    reason: str
    participants: int  # what its comparison would have added to the analysis's participant count


def select(
    spec: Analysis, studies: dict[str, Study], integrity_rules: bool = True
) -> tuple[list[tuple[Study, str, Dataset]], list[MissingStudy], list[LeftOut]]:
    """The studies an analysis uses, with the dataset chosen for each; those that lack data; and those left
    out by the integrity rules (see the module's docstring; without them, none is left out)."""
    chosen: list[tuple[Study, str, Dataset]] = []
    missing: list[MissingStudy] = []
    left_out: list[LeftOut] = []
    kept = {k.study for k in spec.keeps}
    ids = (
        spec.studies if spec.studies is not None else [sid for sid, s in studies.items() if spec.outcome in s.outcomes]
    )
    for sid in ids:
        study = studies[sid]
        if not _included(spec, study):
            continue
        datasets = study.outcomes.get(spec.outcome, {})
        name = next((n for n in spec.datasets if n in datasets), None)
        if name is None:
            missing.append(MissingStudy(study, None, _no_dataset(spec, datasets)))
        elif datasets[name].status == "missing":
            missing.append(MissingStudy(study, name, datasets[name].missing or "data not found"))
        else:
            ds = datasets[name]
            reason = integrity_reason(study, ds, studies) if integrity_rules and sid not in kept else None
            if reason is None:
                chosen.append((study, name, ds))
            else:
                left_out.append(LeftOut(study, name, reason, _compared(ds)))
    return chosen, missing, left_out


def _compared(ds: Dataset) -> int:
    """The participants a dataset's comparison counts (virtual ones included)."""
    return sum(g.total for g in (ds.experimental, ds.control) if g is not None)


def integrity_reason(study: Study, ds: Dataset | None, studies: dict[str, Study]) -> str | None:
    """Why a study's comparison must stay out of an analysis that does not keep it by name, or None."""
    if study.counts_patients_again:
        other = studies.get(study.design.patients_counted_in or "")
        whose = other.label if other is not None else "another study"
        what = "a follow-up" if study.design.category == "follow-up-cohort" else "another report"
        return f"its patients are already counted in {whose} ({what} of the same cohort)"
    for side in ("experimental", "control"):
        group = getattr(ds, side, None) if ds is not None else None
        if group is None:
            continue
        arm = next((a for a in study.arms if a.id == group.arm), None)
        if arm is not None and arm.kind == "virtual":
            return f"its {side} arm, “{arm.label}”, is virtual: not a group of patients"
        if arm is not None and arm.kind == "historical":
            return f"its {side} arm, “{arm.label}”, is a historical control: not enrolled in the study"
    return None


def flagged(study: Study, studies: dict[str, Study]) -> bool:
    """Whether any of the study's comparisons would be left out by default (for checking `keeps`)."""
    if integrity_reason(study, None, studies) is not None:
        return True
    return any(a.kind in ("virtual", "historical") for a in study.arms)


def _included(spec: Analysis, study: Study) -> bool:
    """Not excluded by the analysis, and of a design it takes."""
    if study.id in spec.exclude:
        return False
    return spec.designs is None or study.design.category in spec.designs


def _no_dataset(spec: Analysis, datasets: dict[str, Dataset]) -> str:
    """Why a study has none of the datasets the analysis asks for."""
    reason = f"no {' or '.join(spec.datasets)} data for this outcome"
    other = next((n for n, d in datasets.items() if d.status == "missing"), None)
    if other is not None:
        reason += f" (the {other} values are missing too; see the study's page)"
    return reason
