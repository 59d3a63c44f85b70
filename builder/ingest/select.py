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
    chosen, missing = [], []
    ids = (
        spec.studies if spec.studies is not None else [sid for sid, s in studies.items() if spec.outcome in s.outcomes]
    )
    for sid in ids:
        study = studies[sid]
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
