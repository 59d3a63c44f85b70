"""The studies an analysis uses and the dataset chosen for each (or why a study has none)."""

from __future__ import annotations

from dataclasses import dataclass

from builder.contract import Analysis, Study
from builder.contract.study import Dataset


@dataclass(frozen=True)
class MissingStudy:
    study: Study
    dataset: str | None
    reason: str


def select(spec: Analysis, studies: dict[str, Study]) -> tuple[list[tuple[Study, str, Dataset]], list[MissingStudy]]:
    """The studies an analysis uses, with the dataset chosen for each, and those that lack data."""
    chosen: list[tuple[Study, str, Dataset]] = []
    missing: list[MissingStudy] = []
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
            chosen.append((study, name, datasets[name]))
    return chosen, missing


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
