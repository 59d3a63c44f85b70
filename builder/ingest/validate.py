"""Checks that span files: references between the review and the studies, units, dates."""

from __future__ import annotations

import datetime as dt

from builder.contract import Review, Study
from builder.contract.measures import measures_for
from builder.errors import Problem
from builder.ingest.yamlio import Located


def cross_check(
    review: Review,
    review_loc: Located,
    review_file: str,
    studies: dict[str, tuple[Study, Located, str]],
    today: dt.date,
    files: set[str] = frozenset(),
) -> list[Problem]:
    """`files` holds the names of all study files, valid or not: a reference to a file that exists but failed
    validation is not reported again (its own problems already are)."""
    problems: list[Problem] = []

    def at_review(path: tuple, message: str, value=None):
        problems.append(
            Problem(
                review_file, review_loc.line_of(path), _dotted(path), message, None if value is None else repr(value)
            )
        )

    for path, day in ((("date",), review.date), (("living", "last_search"), review.living.last_search)):
        if day > today:
            at_review(path, f"date is in the future (today is {today.isoformat()})", day.isoformat())

    flow = review.flow
    included = len(files or studies)
    expected = flow.full_texts_assessed - flow.full_texts_excluded - flow.unaccounted + flow.other_methods
    if expected != included:
        at_review(
            ("flow", "unaccounted"),
            f"{flow.full_texts_assessed} full texts assessed − {flow.full_texts_excluded} excluded − "
            f"{flow.unaccounted} unaccounted + {flow.other_methods} found by other methods = {expected}, "
            f"but data/studies holds {included} studies; correct the counts, or record the difference "
            "in flow.unaccounted or flow.other_methods with a note",
        )
    for j, sid in enumerate(flow.previous_version_studies):
        if sid not in studies and sid not in files:
            at_review(("flow", "previous_version_studies", j), "no study file with this id", sid)

    outcome_ids = [o.id for o in review.outcomes]
    for i, oid in enumerate(outcome_ids):
        if outcome_ids.index(oid) != i:
            at_review(("outcomes", i, "id"), "duplicate outcome id", oid)
    outcomes = {o.id: o for o in review.outcomes}

    seen: set[str] = set()
    for i, analysis in enumerate(review.analyses):
        if analysis.id in seen:
            at_review(("analyses", i, "id"), "duplicate analysis id", analysis.id)
        seen.add(analysis.id)
        outcome = outcomes.get(analysis.outcome)
        if outcome is None:
            at_review(("analyses", i, "outcome"), f"no such outcome; expected one of {outcome_ids}", analysis.outcome)
            continue
        wanted = measures_for(outcome.type)
        if analysis.measure not in wanted:
            at_review(
                ("analyses", i, "measure"), f"a {outcome.type} outcome takes one of {sorted(wanted)}", analysis.measure
            )
        for key in ("studies", "exclude"):
            for j, sid in enumerate(getattr(analysis, key) or []):
                if sid not in studies and sid not in files:
                    at_review(("analyses", i, key, j), "no study file with this id", sid)

    analysis_ids = {a.id: a for a in review.analyses}
    for i, c in enumerate(review.certainty):
        if c.outcome not in outcomes:
            at_review(("certainty", i, "outcome"), f"no such outcome; expected one of {outcome_ids}", c.outcome)
        target = analysis_ids.get(c.analysis)
        if target is None:
            at_review(("certainty", i, "analysis"), "no such analysis", c.analysis)
        elif target.outcome != c.outcome:
            at_review(
                ("certainty", i, "analysis"), f"this analysis is of '{target.outcome}', not '{c.outcome}'", c.analysis
            )

    from builder.contract.placeholders import check as check_placeholders

    narrative = review.narrative
    texts = [
        (("narrative", key, i), t)
        for key in ("background", "summary", "limitations")
        for i, t in enumerate(getattr(narrative, key))
    ]
    if narrative.audit_intro:
        texts.append((("narrative", "audit_intro"), narrative.audit_intro))
    if review.flow.unaccounted_note:
        texts.append((("flow", "unaccounted_note"), review.flow.unaccounted_note))
    if review.flow.other_methods_note:
        texts.append((("flow", "other_methods_note"), review.flow.other_methods_note))
    for i, finding in enumerate(narrative.audit):
        texts.append((("narrative", "audit", i, "finding"), finding.finding))
        if finding.consequence:
            texts.append((("narrative", "audit", i, "consequence"), finding.consequence))
        for key in ("studies", "analyses"):
            known = files if key == "studies" else {a.id for a in review.analyses}
            for j, ref in enumerate(getattr(finding, key)):
                if ref not in known and ref not in studies:
                    at_review(
                        ("narrative", "audit", i, key, j),
                        "no such study" if key == "studies" else "no such analysis",
                        ref,
                    )
    for path, text in texts:
        for message in check_placeholders(text, review, set(studies) | set(files)):
            at_review(path, message)

    for study, located, file in studies.values():
        arms = {a.id: a for a in study.arms}
        arm_ids = [a.id for a in study.arms]
        for j, arm in enumerate(study.arms):
            if arm_ids.index(arm.id) != j:
                problems.append(
                    Problem(file, located.line_of(("arms", j, "id")), f"arms[{j}].id", "duplicate arm id", repr(arm.id))
                )
            if arm.kind == "combined":
                parts = [arms.get(a) for a in arm.combines]
                if len(arm.combines) < 2 or None in parts or any(p.kind != "allocated" for p in parts):
                    problems.append(
                        Problem(
                            file,
                            located.line_of(("arms", j, "combines")),
                            f"arms[{j}].combines",
                            "a combined arm lists two or more allocated arms of this study",
                            repr(arm.combines),
                        )
                    )
                elif sum(p.n for p in parts) != arm.n:
                    problems.append(
                        Problem(
                            file,
                            located.line_of(("arms", j, "n")),
                            f"arms[{j}].n",
                            f"a combined arm has the participants of its arms ({sum(p.n for p in parts)})",
                            repr(arm.n),
                        )
                    )
            elif arm.combines:
                problems.append(
                    Problem(
                        file,
                        located.line_of(("arms", j, "combines")),
                        f"arms[{j}].combines",
                        "only an arm of kind 'combined' lists the arms it combines",
                    )
                )
        for oid, datasets in study.outcomes.items():
            outcome = outcomes.get(oid)
            if outcome is None:
                problems.append(
                    Problem(
                        file,
                        located.line_of(("outcomes", oid)),
                        f"outcomes.{oid}",
                        f"no such outcome in review.yaml; expected one of {outcome_ids}",
                    )
                )
                continue
            for name, ds in datasets.items():
                base = ("outcomes", oid, name)
                if ds.status != "available":
                    continue
                for side in ("experimental", "control"):
                    group = getattr(ds, side)
                    path = base + (side,)
                    field = ".".join(map(str, path))
                    arm = arms.get(group.arm)
                    if arm is None:
                        problems.append(
                            Problem(
                                file,
                                located.line_of(path + ("arm",)),
                                field + ".arm",
                                f"not an arm of this study; expected one of {list(arms)}",
                                repr(group.arm),
                            )
                        )
                    elif group.total > arm.n:
                        problems.append(
                            Problem(
                                file,
                                located.line_of(path + ("total",)),
                                field + ".total",
                                f"more participants than arm '{arm.id}' has ({arm.n})",
                                repr(group.total),
                            )
                        )
                    if outcome.type == "dichotomous" and group.events is None:
                        problems.append(
                            Problem(
                                file,
                                located.line_of(path),
                                field,
                                f"outcome '{oid}' is dichotomous: expected 'events' and 'total'",
                            )
                        )
                    if outcome.type == "continuous" and group.reported_form is None:
                        problems.append(
                            Problem(
                                file,
                                located.line_of(path),
                                field,
                                f"outcome '{oid}' is continuous: expected 'mean', 'sd' and 'total'",
                            )
                        )
                if ds.design == "pre-post" and ds.experimental.arm != ds.control.arm:
                    problems.append(
                        Problem(
                            file,
                            located.line_of(base + ("design",)),
                            ".".join(base) + ".design",
                            "pre-post data compares one arm with itself: experimental.arm and "
                            "control.arm must be the same arm",
                        )
                    )
    return problems


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
