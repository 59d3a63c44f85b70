"""Checks that span files: references between the review and the studies, dates, counts, placeholders.

`cross_check` runs a list of named checks in order. Each check has one job and reports through a `_Checker`,
which knows the files and turns a path into a line and a dotted field. The order of the lists is the order of
the problems the author sees, so add a check where its problems belong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field

from builder.contract import Review, Study
from builder.contract.measures import MEASURES, measures_for
from builder.contract.placeholders import OPENING
from builder.contract.placeholders import check as check_placeholders
from builder.contract.review import BUILT_IN_SUBGROUPS, Analysis, Finding, Outcome
from builder.contract.study import Arm, Dataset, Group
from builder.errors import Problem
from builder.ingest.select import flagged, select
from builder.ingest.yamlio import Located, Path_


@dataclass
class _Checker:
    """What every check needs: the review, the studies, and a place to put problems."""

    review: Review
    review_loc: Located
    review_file: str
    studies: dict[str, tuple[Study, Located, str]]
    today: dt.date
    files: Collection[str]
    problems: list[Problem] = field(default_factory=list)

    @property
    def outcome_ids(self) -> list[str]:
        return [o.id for o in self.review.outcomes]

    @property
    def outcomes(self) -> dict[str, Outcome]:
        return {o.id: o for o in self.review.outcomes}

    def is_study(self, sid: str) -> bool:
        """A study file exists with this id (valid or not: an invalid one has reported its own problems)."""
        return sid in self.studies or sid in self.files

    def at_review(self, path: Path_, message: str, value: object = None) -> None:
        self.problems.append(
            Problem(
                self.review_file,
                self.review_loc.line_of(path),
                _dotted(path),
                message,
                None if value is None else repr(value),
            )
        )

    def at_study(self, file: str, located: Located, path: Path_, message: str, value: object = None) -> None:
        self.problems.append(
            Problem(file, located.line_of(path), _dotted(path), message, None if value is None else repr(value))
        )


def cross_check(
    review: Review,
    review_loc: Located,
    review_file: str,
    studies: dict[str, tuple[Study, Located, str]],
    today: dt.date,
    files: Collection[str] = frozenset(),
) -> list[Problem]:
    """`files` holds the names of all study files, valid or not: a reference to a file that exists but failed
    validation is not reported again (its own problems already are)."""
    checker = _Checker(review, review_loc, review_file, studies, today, files)
    for review_check in REVIEW_CHECKS:
        review_check(checker)
    for study, located, file in studies.values():
        for study_check in STUDY_CHECKS:
            study_check(checker, study, located, file)
    return checker.problems


# --- the review file ---------------------------------------------------------------------------------------


def _dates_not_in_future(c: _Checker) -> None:
    for path, day in ((("date",), c.review.date), (("living", "last_search"), c.review.living.last_search)):
        if day is not None and day > c.today:
            c.at_review(path, f"date is in the future (today is {c.today.isoformat()})", day.isoformat())


def _flow_counts_add_up(c: _Checker) -> None:
    flow = c.review.flow
    included = len(c.files or c.studies)
    expected = flow.full_texts_assessed - flow.full_texts_excluded - flow.unaccounted + flow.other_methods
    if expected != included:
        c.at_review(
            ("flow", "unaccounted"),
            f"{flow.full_texts_assessed} full texts assessed − {flow.full_texts_excluded} excluded − "
            f"{flow.unaccounted} unaccounted + {flow.other_methods} found by other methods = {expected}, "
            f"but data/studies holds {included} studies; correct the counts, or record the difference "
            "in flow.unaccounted or flow.other_methods with a note",
        )


def _previous_version_studies_exist(c: _Checker) -> None:
    for j, sid in enumerate(c.review.flow.previous_version_studies):
        if not c.is_study(sid):
            c.at_review(("flow", "previous_version_studies", j), "no study file with this id", sid)


def _outcome_ids_unique(c: _Checker) -> None:
    outcome_ids = c.outcome_ids
    for i, oid in enumerate(outcome_ids):
        if outcome_ids.index(oid) != i:
            c.at_review(("outcomes", i, "id"), "duplicate outcome id", oid)


def _analyses_consistent(c: _Checker) -> None:
    """Per analysis, in order: a unique id, a known outcome, a measure of its type, known studies."""
    seen: set[str] = set()
    for i, analysis in enumerate(c.review.analyses):
        if analysis.id in seen:
            c.at_review(("analyses", i, "id"), "duplicate analysis id", analysis.id)
        seen.add(analysis.id)
        if _analysis_outcome_known(c, i, analysis):
            _analysis_measure_fits(c, i, analysis)
            _analysis_studies_exist(c, i, analysis)
            _analysis_keeps_fit(c, i, analysis)


def _analysis_outcome_known(c: _Checker, i: int, analysis: Analysis) -> bool:
    if analysis.outcome in c.outcomes:
        return True
    c.at_review(("analyses", i, "outcome"), f"no such outcome; expected one of {c.outcome_ids}", analysis.outcome)
    return False


def _analysis_measure_fits(c: _Checker, i: int, analysis: Analysis) -> None:
    outcome = c.outcomes[analysis.outcome]
    wanted = measures_for(outcome.type)
    if analysis.measure not in wanted:
        c.at_review(
            ("analyses", i, "measure"), f"a {outcome.type} outcome takes one of {sorted(wanted)}", analysis.measure
        )


def _analysis_studies_exist(c: _Checker, i: int, analysis: Analysis) -> None:
    for key in ("studies", "exclude"):
        for j, sid in enumerate(getattr(analysis, key) or []):
            if not c.is_study(sid):
                c.at_review(("analyses", i, key, j), "no study file with this id", sid)


def _analysis_keeps_fit(c: _Checker, i: int, analysis: Analysis) -> None:
    """Each study an analysis keeps exists, is one of its studies, and would otherwise be left out."""
    valid = {sid: study for sid, (study, _, _) in c.studies.items()}
    for j, keep in enumerate(analysis.keeps):
        path = ("analyses", i, "keeps", j, "study")
        if not c.is_study(keep.study):
            c.at_review(path, "no study file with this id", keep.study)
        elif analysis.studies is not None and keep.study not in analysis.studies:
            c.at_review(path, "not one of this analysis's studies; add it to 'studies' or remove it here", keep.study)
        elif keep.study in valid and not flagged(valid[keep.study], valid):
            c.at_review(
                path,
                "nothing to keep: this study has no virtual or historical arm and its patients are not counted by "
                "another study (design category follow-up-cohort or design.patients_counted_in)",
                keep.study,
            )


def _analysis_data_fit(c: _Checker) -> None:
    """Each dataset an analysis would pool gives what its measure and method can use: per-arm numbers for a
    measure computed from arms, the same measure for a study's own estimate, 2x2 tables for Mantel-Haenszel,
    O - E and variance (or a 2x2 table, for an odds ratio) for Peto's method."""
    valid = {sid: study for sid, (study, _, _) in c.studies.items()}
    for spec in c.review.analyses:
        if spec.outcome not in c.outcomes or any(sid not in valid for sid in spec.studies or []):
            continue  # reported by _analyses_consistent, or a study file that is invalid itself
        chosen, _, _ = select(spec, valid, integrity_rules=False)
        for study, name, ds in chosen:
            problem = _data_for(spec, ds)
            if problem is not None:
                where, message = problem
                _, located, file = c.studies[study.id]
                c.at_study(file, located, ("outcomes", spec.outcome, name, *where), f"analysis '{spec.id}': {message}")


def _data_for(spec: Analysis, ds: Dataset) -> tuple[Path_, str] | None:
    """Why this analysis cannot pool this dataset (the field to point at and the message), or None."""
    if ds.contrast is not None:
        if spec.method in ("MH", "Peto"):
            method = "Mantel-Haenszel" if spec.method == "MH" else "Peto's method"
            return ("contrast",), f"{method} cannot pool a reported estimate; use method IV (inverse variance)"
        if ds.contrast.measure != spec.measure:
            return ("contrast", "measure"), f"the analysis pools {spec.measure}, not {ds.contrast.measure}"
        return None
    if ds.o_minus_e is not None:
        if spec.method == "MH":
            return ("o_minus_e",), "Mantel-Haenszel cannot pool O - E and variance; use method Peto or IV"
        if ds.o_minus_e.measure != spec.measure:
            return ("o_minus_e", "measure"), f"the analysis pools {spec.measure}, not {ds.o_minus_e.measure}"
        return None
    if MEASURES[spec.measure].effect_sizes is None or (spec.method == "Peto" and spec.measure != "OR"):
        return (), (
            f"{spec.measure} cannot be computed from per-arm numbers: give the study's estimate in 'contrast'"
            + (" or 'o_minus_e'" if spec.measure == "HR" else "")
        )
    return None


def _characteristic_ids_unique(c: _Checker) -> None:
    ids = [ch.id for ch in c.review.characteristics]
    for i, cid in enumerate(ids):
        if ids.index(cid) != i:
            c.at_review(("characteristics", i, "id"), "duplicate characteristic id", cid)


def _characteristics_named_exist(c: _Checker) -> None:
    """Analyses split by a built-in or declared categorical characteristic and regress on declared ones."""
    declared = {ch.id: ch for ch in c.review.characteristics}
    categorical = [cid for cid, ch in declared.items() if ch.type == "categorical"]
    for i, analysis in enumerate(c.review.analyses):
        by = analysis.subgroups
        if by is not None and by not in BUILT_IN_SUBGROUPS and by not in categorical:
            what = "a continuous characteristic, which has no subgroups" if by in declared else "not declared"
            listed = f" ({', '.join(categorical)})" if categorical else ""
            c.at_review(
                ("analyses", i, "subgroups"),
                f"{what}; expected one of {', '.join(BUILT_IN_SUBGROUPS)} or a categorical characteristic "
                f"declared under 'characteristics'{listed}",
                by,
            )
        _moderators_declared(c, i, analysis, list(declared))


def _moderators_declared(c: _Checker, i: int, analysis: Analysis, declared: list[str]) -> None:
    plan = analysis.meta_regression
    for j, moderator in enumerate(plan.moderators if plan else []):
        if moderator not in declared:
            known = f"; declared: {', '.join(declared)}" if declared else " (the review declares none)"
            c.at_review(
                ("analyses", i, "meta_regression", "moderators", j),
                "not a characteristic declared under 'characteristics'" + known,
                moderator,
            )


def _certainty_references_exist(c: _Checker) -> None:
    outcome_ids = c.outcome_ids
    analyses = {a.id: a for a in c.review.analyses}
    for i, rating in enumerate(c.review.certainty):
        if rating.outcome not in outcome_ids:
            c.at_review(("certainty", i, "outcome"), f"no such outcome; expected one of {outcome_ids}", rating.outcome)
        target = analyses.get(rating.analysis)
        if target is None:
            c.at_review(("certainty", i, "analysis"), "no such analysis", rating.analysis)
        elif target.outcome != rating.outcome:
            c.at_review(
                ("certainty", i, "analysis"),
                f"this analysis is of '{target.outcome}', not '{rating.outcome}'",
                rating.analysis,
            )


def _audit_references_exist(c: _Checker) -> None:
    analysis_ids = {a.id for a in c.review.analyses}
    for i, finding in enumerate(c.review.narrative.audit):
        for j, ref in enumerate(finding.studies):
            if ref not in c.files and ref not in c.studies:
                c.at_review(("narrative", "audit", i, "studies", j), "no such study", ref)
        for j, ref in enumerate(finding.analyses):
            if ref not in analysis_ids and ref not in c.studies:
                c.at_review(("narrative", "audit", i, "analyses", j), "no such analysis", ref)


def _placeholders_resolve(c: _Checker) -> None:
    known_studies = set(c.studies) | set(c.files)
    for path, text in _prose(c.review):
        for message in check_placeholders(text, c.review, known_studies):
            c.at_review(path, message)


def _no_placeholders_elsewhere(c: _Checker) -> None:
    """A placeholder in a text that is never filled (a title, a GRADE reason...) would be printed as is."""
    prose = {path for path, _ in _prose(c.review)}
    for path, text in _strings(c.review_loc.data, ()):
        if OPENING in text and path not in prose:
            c.at_review(
                path,
                "placeholders are filled only in narrative texts and the flow notes; here '[[' would be printed "
                "as is (write the number, or move the sentence into the narrative)",
                text if len(text) <= 80 else text[:77] + "...",
            )


def _strings(value: object, path: Path_) -> Iterator[tuple[Path_, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


def _prose(review: Review) -> Iterator[tuple[Path_, str]]:
    """Every text of the review that may hold placeholders, with its path, in the order of the file."""
    if review.flow.unaccounted_note:
        yield ("flow", "unaccounted_note"), review.flow.unaccounted_note
    if review.flow.other_methods_note:
        yield ("flow", "other_methods_note"), review.flow.other_methods_note
    for i, analysis in enumerate(review.analyses):
        if analysis.description:
            yield ("analyses", i, "description"), analysis.description
    narrative = review.narrative
    for key in ("background", "summary", "limitations"):
        for i, text in enumerate(getattr(narrative, key)):
            yield ("narrative", key, i), text
    if narrative.audit_intro:
        yield ("narrative", "audit_intro"), narrative.audit_intro
    for i, finding in enumerate(narrative.audit):
        yield from _finding_prose(i, finding)


def _finding_prose(i: int, finding: Finding) -> Iterator[tuple[Path_, str]]:
    yield ("narrative", "audit", i, "finding"), finding.finding
    if finding.consequence:
        yield ("narrative", "audit", i, "consequence"), finding.consequence


REVIEW_CHECKS: tuple[Callable[[_Checker], None], ...] = (
    _dates_not_in_future,
    _flow_counts_add_up,
    _previous_version_studies_exist,
    _outcome_ids_unique,
    _analyses_consistent,
    _analysis_data_fit,
    _characteristic_ids_unique,
    _characteristics_named_exist,
    _certainty_references_exist,
    _audit_references_exist,
    _placeholders_resolve,
    _no_placeholders_elsewhere,
)


# --- each study file ---------------------------------------------------------------------------------------


def _arms_consistent(c: _Checker, study: Study, located: Located, file: str) -> None:
    """Per arm, in order: a unique id, and a combined arm made of this study's allocated arms."""
    arms = {a.id: a for a in study.arms}
    arm_ids = [a.id for a in study.arms]
    for j, arm in enumerate(study.arms):
        if arm_ids.index(arm.id) != j:
            c.at_study(file, located, ("arms", j, "id"), "duplicate arm id", arm.id)
        _arm_combines_fit(c, located, file, j, arm, arms)


def _arm_combines_fit(c: _Checker, located: Located, file: str, j: int, arm: Arm, arms: dict[str, Arm]) -> None:
    if arm.kind != "combined":
        if arm.combines:
            c.at_study(
                file, located, ("arms", j, "combines"), "only an arm of kind 'combined' lists the arms it combines"
            )
        return
    parts = [arms[a] for a in arm.combines if a in arms]
    if len(arm.combines) < 2 or len(parts) < len(arm.combines) or any(p.kind != "allocated" for p in parts):
        c.at_study(
            file,
            located,
            ("arms", j, "combines"),
            "a combined arm lists two or more allocated arms of this study",
            arm.combines,
        )
    elif sum(p.n for p in parts) != arm.n:
        c.at_study(
            file,
            located,
            ("arms", j, "n"),
            f"a combined arm has the participants of its arms ({sum(p.n for p in parts)})",
            arm.n,
        )


def _datasets_fit_outcomes(c: _Checker, study: Study, located: Located, file: str) -> None:
    """Each outcome is one of the review's; each available dataset's groups fit its arms and outcome type."""
    outcomes = c.outcomes
    arms = {a.id: a for a in study.arms}
    for oid, datasets in study.outcomes.items():
        outcome = outcomes.get(oid)
        if outcome is None:
            c.at_study(
                file, located, ("outcomes", oid), f"no such outcome in review.yaml; expected one of {c.outcome_ids}"
            )
            continue
        for name, ds in datasets.items():
            if ds.status == "available":
                _dataset_consistent(c, located, file, ("outcomes", oid, name), ds, outcome.type, arms)


def _dataset_consistent(
    c: _Checker, located: Located, file: str, base: Path_, ds: Dataset, outcome_type: str, arms: dict[str, Arm]
) -> None:
    for side in ("experimental", "control"):
        group = getattr(ds, side)
        if group is not None:
            _group_consistent(c, located, file, base + (side,), group, outcome_type, arms, ds.reported is None)
    _reported_fits_outcome(c, located, file, base, ds, outcome_type)
    if ds.design == "pre-post" and ds.experimental is not None and ds.control is not None:
        if ds.experimental.arm != ds.control.arm:
            c.at_study(
                file,
                located,
                base + ("design",),
                "pre-post data compares one arm with itself: experimental.arm and control.arm must be the same arm",
            )


def _reported_fits_outcome(
    c: _Checker, located: Located, file: str, base: Path_, ds: Dataset, outcome_type: str
) -> None:
    """A reported comparison is of a measure the outcome's type takes (an HR of a dichotomous outcome...)."""
    reported = ds.reported
    if reported is None:
        return
    wanted = measures_for(outcome_type)
    if reported.measure not in wanted:
        name = "contrast" if ds.contrast is not None else "o_minus_e"
        c.at_study(
            file,
            located,
            base + (name, "measure"),
            f"outcome '{base[1]}' is {outcome_type}: its measures are {sorted(wanted)}",
            reported.measure,
        )


def _group_consistent(
    c: _Checker,
    located: Located,
    file: str,
    path: Path_,
    group: Group,
    outcome_type: str,
    arms: dict[str, Arm],
    needs_data: bool = True,
) -> None:
    oid = path[1]
    arm = arms.get(group.arm)
    if arm is None:
        c.at_study(file, located, path + ("arm",), f"not an arm of this study; expected one of {list(arms)}", group.arm)
    elif group.total > arm.n:
        c.at_study(
            file, located, path + ("total",), f"more participants than arm '{arm.id}' has ({arm.n})", group.total
        )
    if not needs_data:
        return
    if outcome_type == "dichotomous" and group.events is None:
        c.at_study(file, located, path, f"outcome '{oid}' is dichotomous: expected 'events' and 'total'")
    if outcome_type == "continuous" and group.reported_form is None:
        c.at_study(file, located, path, f"outcome '{oid}' is continuous: expected 'mean', 'sd' and 'total'")


def _counted_in_exists(c: _Checker, study: Study, located: Located, file: str) -> None:
    """design.patients_counted_in names another study of the review."""
    other = study.design.patients_counted_in
    if other is None:
        return
    if other == study.id:
        c.at_study(file, located, ("design", "patients_counted_in"), "names this study itself", other)
    elif not c.is_study(other):
        c.at_study(file, located, ("design", "patients_counted_in"), "no study file with this id", other)


def _characteristic_values_fit(c: _Checker, study: Study, located: Located, file: str) -> None:
    """Each value is of a declared characteristic: a number for a continuous one, a level for a categorical one."""
    declared = {ch.id: ch for ch in c.review.characteristics}
    for cid, given in study.characteristics.items():
        ch = declared.get(cid)
        path: Path_ = ("characteristics", cid)
        if ch is None:
            known = f"declared: {', '.join(declared)}" if declared else "review.yaml declares none"
            c.at_study(file, located, path, f"not a characteristic declared in review.yaml ({known})", cid)
        elif ch.type == "continuous" and not isinstance(given.value, float):
            unit = f" in {ch.unit}" if ch.unit else ""
            c.at_study(file, located, path + ("value",), f"'{cid}' is continuous: expected a number{unit}", given.value)
        elif ch.type == "categorical" and given.value not in (ch.levels or []):
            hint = " (write the level as text, in quotes)" if isinstance(given.value, float) else ""
            c.at_study(
                file,
                located,
                path + ("value",),
                f"'{cid}' is categorical: expected one of its levels {ch.levels}{hint}",
                given.value,
            )


STUDY_CHECKS: tuple[Callable[[_Checker, Study, Located, str], None], ...] = (
    _arms_consistent,
    _counted_in_exists,
    _datasets_fit_outcomes,
    _characteristic_values_fit,
)


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
