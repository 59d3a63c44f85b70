"""Placeholders editors may write in the review's prose, and the check that each names something real.

Grammar of a placeholder, written in double square brackets:
  [[<analysis-id>.<field>]]          a computed result (see RESULT_FIELDS), exactly as in results.json
  [[printed:<analysis-id>.<field>]]  a value as the source review printed it (its `reported` block)
  [[flow:<field>]]                   a PRISMA count; `full_texts_included` is computed
  [[count:<what>]]                   studies, clinical-studies or case-reports, counted from data/studies;
                                     source-studies etc. count only those the source review included
  [[study:<study-id>.n]]             the real participants of a study (combined and virtual arms excluded)
builder.report.narrative fills them from the results.
"""

from __future__ import annotations

import re

PLACEHOLDER = re.compile(r"\[\[([a-z]+:)?([a-z0-9-]+)(?:\.([a-z0-9_]+))?\]\]")

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


def check(text: str, review, study_ids: set[str]) -> list[str]:
    """Problems with the placeholders of one text (unknown analysis, field, study...)."""
    problems = []
    analyses = {a.id: a for a in review.analyses}
    for m in PLACEHOLDER.finditer(text):
        kind, name, field = m.groups()
        token = m.group(0)
        if kind is None:
            if name not in analyses:
                problems.append(f"{token}: no analysis '{name}'")
            elif field not in RESULT_FIELDS:
                problems.append(f"{token}: unknown field; expected one of {', '.join(RESULT_FIELDS)}")
        elif kind == "printed:":
            if name not in analyses or analyses[name].reported is None:
                problems.append(f"{token}: no analysis '{name}' with a 'reported' block")
            elif field not in PRINTED_FIELDS or getattr(analyses[name].reported, field) is None:
                problems.append(f"{token}: the reported block has no '{field}'")
        elif kind == "flow:":
            if name not in FLOW_FIELDS or field:
                problems.append(f"{token}: expected one of flow:{', flow:'.join(FLOW_FIELDS)}")
        elif kind == "count:":
            if name not in COUNTS or field:
                problems.append(f"{token}: expected one of count:{', count:'.join(COUNTS)}")
        elif kind == "study:":
            if name not in study_ids or field != "n":
                problems.append(f"{token}: expected study:<study-id>.n with an existing study")
        else:
            problems.append(f"{token}: unknown placeholder kind '{kind}'")
    return problems
