"""Placeholders editors may write in the review's prose, and the check that each names something real.

Grammar of a placeholder, written in double square brackets:
  [[<analysis-id>.<field>]]          a computed result (see RESULT_FIELDS), exactly as in results.json;
                                     randomised_k, randomised_participants and pct_randomised count the
                                     studies of design rct, left_out_k and left_out_participants what the
                                     integrity rules left out
  [[printed:<analysis-id>.<field>]]  a value as the source review printed it (its `reported` block)
  [[flow:<field>]]                   a PRISMA count; `full_texts_included` is computed
  [[count:<what>]]                   studies, clinical-studies or case-reports, counted from data/studies;
                                     source-studies etc. count only those the source review included
  [[study:<study-id>.n]]             the real participants of a study (combined, virtual and historical arms excluded)
builder.report.narrative fills them from the results.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from builder.contract.review import Analysis, Review

# Names are analysis, study and count ids (hyphens) or flow fields (underscores); fields use underscores.
PLACEHOLDER = re.compile(r"\[\[([a-z]+:)?([a-z0-9_-]+)(?:\.([a-z0-9_]+))?\]\]")
OPENING = "[["  # every occurrence must start a PLACEHOLDER: anything else would be printed as is

RESULT_FIELDS = (
    "estimate",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "p",
    "i2",
    "tau2",
    "q_p",
    "k",
    "participants",
    "events_exp",
    "total_exp",
    "events_ctrl",
    "total_ctrl",
    "pct_exp",
    "pct_ctrl",
    "continuity_correction",
    "randomised_k",
    "randomised_participants",
    "pct_randomised",
    "left_out_k",
    "left_out_participants",
    "planned_experimental_n",
    "conclusion",
)
PRINTED_FIELDS = (
    "estimate",
    "ci_low",
    "ci_high",
    "p",
    "q_p",
    "i2",
    "k",
    "participants",
    "events_experimental",
    "events_control",
    "percent_experimental",
    "percent_control",
)
FLOW_FIELDS = (
    "records_identified",
    "records_excluded",
    "full_texts_assessed",
    "full_texts_excluded",
    "full_texts_included",
)
COUNTS = (
    "studies",
    "clinical-studies",
    "case-reports",
    "source-studies",
    "source-clinical-studies",
    "source-case-reports",
)  # source-*: only the studies the source review included


def check(text: str, review: Review, study_ids: set[str]) -> list[str]:
    """Problems with the placeholders of one text (unknown analysis, field, study...)."""
    problems = unparsed(text)
    analyses = {a.id: a for a in review.analyses}
    for m in PLACEHOLDER.finditer(text):
        kind, name, field = m.groups()
        if len(m.group(0)) > 160:  # ids have at most 64 characters: this is no placeholder, and is not repeated
            problems.append(f"{m.group(0)[:40]}...]]: too long for a placeholder (ids have at most 64 characters)")
            continue
        check_one = _CHECKS.get(kind)
        if check_one is None:
            problems.append(f"{m.group(0)}: unknown placeholder kind '{kind}'")
            continue
        problem = check_one(name, field, analyses, study_ids)
        if problem:
            problems.append(f"{m.group(0)}: {problem}")
    return problems


def unparsed(text: str) -> list[str]:
    """Problems for each '[[' of a text that does not start a placeholder of the grammar above: a typo
    (capitals, spaces, a missing bracket) that would otherwise reach the page unfilled."""
    problems, start = [], text.find(OPENING)
    while start != -1:
        m = PLACEHOLDER.match(text, start)
        if m is None:
            end = text.find("]]", start)
            shown = text[start : end + 2] if 0 <= end - start < 60 else text[start : start + 30] + "..."
            problems.append(
                f"{shown}: not a placeholder; expected [[<analysis-id>.<field>]], [[printed:<analysis-id>.<field>]], "
                "[[flow:<field>]], [[count:<what>]] or [[study:<study-id>.n]] (lower case, no spaces)"
            )
            start = text.find(OPENING, start + 1)
        else:
            start = text.find(OPENING, m.end())
    return problems


# Each kind's check: (name, field, the analyses by id, the study ids) -> the problem, or None.


def _result(name: str, field: str | None, analyses: dict[str, Analysis], study_ids: set[str]) -> str | None:
    if name not in analyses:
        return f"no analysis '{name}'"
    if field not in RESULT_FIELDS:
        return f"unknown field; expected one of {', '.join(RESULT_FIELDS)}"
    return None


def _printed(name: str, field: str | None, analyses: dict[str, Analysis], study_ids: set[str]) -> str | None:
    reported = analyses[name].reported if name in analyses else None
    if reported is None:
        return f"no analysis '{name}' with a 'reported' block"
    if field not in PRINTED_FIELDS or getattr(reported, field) is None:
        return f"the reported block has no '{field}'"
    return None


def _flow(name: str, field: str | None, analyses: dict[str, Analysis], study_ids: set[str]) -> str | None:
    if name not in FLOW_FIELDS or field:
        return f"expected one of flow:{', flow:'.join(FLOW_FIELDS)}"
    return None


def _count(name: str, field: str | None, analyses: dict[str, Analysis], study_ids: set[str]) -> str | None:
    if name not in COUNTS or field:
        return f"expected one of count:{', count:'.join(COUNTS)}"
    return None


def _study(name: str, field: str | None, analyses: dict[str, Analysis], study_ids: set[str]) -> str | None:
    if name not in study_ids or field != "n":
        return "expected study:<study-id>.n with an existing study"
    return None


_CHECKS: dict[str | None, Callable[[str, str | None, dict[str, Analysis], set[str]], str | None]] = {
    None: _result,
    "printed:": _printed,
    "flow:": _flow,
    "count:": _count,
    "study:": _study,
}
