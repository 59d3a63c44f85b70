"""Things the data may contain but probably should not, reported by `review check` as warnings: text left
from the `review new-study` template, studies no analysis uses, and studies a meta-regression will leave out
because they give no value of one of its characteristics."""

from __future__ import annotations

from pathlib import Path

from builder.errors import Problem
from builder.ingest.loader import ReviewData, study_files
from builder.ingest.select import select


def _todo_lines(path: Path, root: Path) -> list[Problem]:
    """Lines whose value (not a comment) still says TODO."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    out = []
    for number, line in enumerate(lines, 1):
        value = line.split(" #", 1)[0]
        if not value.lstrip().startswith("#") and "TODO" in value:
            field = value.split(":", 1)[0].strip(" -") if ":" in value else _list_of(lines, number - 1)
            out.append(Problem(path.relative_to(root).as_posix(), number, field, "still says TODO", value.strip()))
    return out


def _list_of(lines: list[str], index: int) -> str:
    """The key of the list an item line (`  - text`) belongs to: the nearest line above, indented less, that
    names a key; '' if there is none."""
    indent = len(lines[index]) - len(lines[index].lstrip())
    for line in reversed(lines[:index]):
        stripped = line.lstrip()
        if stripped and not stripped.startswith("#") and len(line) - len(stripped) < indent and ":" in stripped:
            return stripped.split(":", 1)[0].strip(" -")
    return ""


def unused_data(data: ReviewData) -> list[tuple[str, str]]:
    """(study id, outcome id) of every study with data available for an outcome that no analysis pools: the
    study's id is missing from the analyses' `studies`, or every analysis excludes it."""
    pooled: set[tuple[str, str]] = set()
    for spec in data.review.analyses:
        chosen, *_ = select(spec, data.studies, data.integrity_rules)
        pooled.update((study.id, spec.outcome) for study, _, _ in chosen)
    return [
        (sid, oid)
        for sid, study in data.studies.items()
        for oid, datasets in study.outcomes.items()
        if any(ds.status == "available" for ds in datasets.values()) and (sid, oid) not in pooled
    ]


def missing_characteristics(data: ReviewData) -> list[tuple[str, str, str]]:
    """(study id, characteristic id, analysis id) for each study an analysis pools that gives no value of a
    moderator of the analysis's meta-regression (builder.analysis.metareg leaves it out of the model)."""
    out = []
    for spec in data.review.analyses:
        if spec.meta_regression is None:
            continue
        chosen, *_ = select(spec, data.studies, data.integrity_rules)
        for study, _, _ in chosen:
            out += [(study.id, m, spec.id) for m in spec.meta_regression.moderators if m not in study.characteristics]
    return out


def advice(project: Path, data: ReviewData) -> list[Problem]:
    files = [project / "data" / "review.yaml", *study_files(project / "data" / "studies")]
    found = [p for path in files for p in _todo_lines(path, project)]
    for sid, oid in unused_data(data):
        found.append(
            Problem(
                f"data/studies/{sid}.yaml",
                None,
                f"outcomes.{oid}",
                f"no analysis pools these data: add '{sid}' to the `studies` of an analysis of '{oid}' in "
                "data/review.yaml, or remove it from its `exclude`",
            )
        )
    for sid, cid, aid in missing_characteristics(data):
        found.append(
            Problem(
                f"data/studies/{sid}.yaml",
                None,
                "characteristics",
                f"no value of '{cid}', a moderator of the meta-regression of analysis '{aid}': the study is left "
                f"out of that meta-regression; add characteristics.{cid} with its value and provenance",
            )
        )
    return found
