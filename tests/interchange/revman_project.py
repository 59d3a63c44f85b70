"""Helpers of the interchange tests: a minimal review project without studies, as a new review starts (review.yaml with no outcomes yet)."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "revman"

MINIMAL_REVIEW = """\
# A new review: every required field, no outcomes, analyses or studies yet.
id: new-review
title: A new review
short_title: New review
version: "0.1"
date: 2026-11-30
living:
  last_search: 2026-11-01
  next_update: When a new trial reports.
  trigger: First version.
authors:
  - A Reviewer
source_review:
  authors: [A Reviewer]
  title: The review's protocol
  provenance:
    kind: extracted
    source: The protocol, title page.
question:
  population: Adults after myocardial infarction.
  intervention: The intervention.
  comparator: The control.
  outcomes: Mortality.
# The outcomes the review pools.
outcomes: []
flow:
  records_identified: 12
  records_excluded: 0
  full_texts_assessed: 12
  full_texts_excluded: 0
  provenance:
    kind: extracted
    source: The search log.
# The analysis plan.
analyses: []
experimental_label: Experimental
control_label: Control
"""


def minimal_project(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for part in ("templates", "docs"):
        shutil.copytree(ROOT / part, dest / part)
    shutil.copy2(ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    (dest / "data").mkdir()
    (dest / "data" / "review.yaml").write_text(MINIMAL_REVIEW, encoding="utf-8")
    return dest


# A review.yaml as `review init` writes one: a placeholder outcome and analysis still saying TODO, PRISMA counts
# all zero (valid here with a source review and a search date, which this branch's data model still requires).
INIT_LIKE_REVIEW = """\
# The review: written by `review init`.
id: new-review
title: "TODO Title of the review: a living systematic review"
short_title: TODO Short title
version: "0.1"
date: 2026-11-30
living:
  last_search: 2026-11-01
  next_update: TODO When the next update is planned.
  trigger: The review was set up; no study has been included yet.
authors:
  - TODO Author Name
source_review:
  authors: [TODO Author]
  provenance: {kind: unverified, source: TODO where this citation was read}
question:
  population: TODO Who the participants are.
  intervention: TODO What the experimental arms receive.
  comparator: TODO What the control arms receive.
  outcomes: TODO The outcomes, in words.
experimental_label: Intervention
control_label: Control
# The outcomes; each has a page.
outcomes:
  - id: primary-outcome
    label: TODO Primary outcome
    type: dichotomous
    event: TODO what counts as an event, e.g. death by day 28
    direction: lower-is-better
# The PRISMA 2020 counts. All zero until the first search.
flow:
  records_identified: 0
  records_excluded: 0
  # records_excluded_reasons: {Reason: count, ...}
  full_texts_assessed: 0
  full_texts_excluded: 0
  other_methods: 0
  provenance:
    kind: unverified
    source: TODO the screening records these counts come from
# The analysis plan.
analyses:
  - id: primary-outcome-primary
    outcome: primary-outcome
    role: primary
    title: TODO Primary outcome, random effects
    measure: OR
    model: random
# Prose of the site's pages.
narrative:
  background:
    - TODO Why this review is needed, in a few paragraphs.
certainty: []
"""


def init_like_project(dest: Path) -> Path:
    project = minimal_project(dest)
    (project / "data" / "review.yaml").write_text(INIT_LIKE_REVIEW, encoding="utf-8")
    return project
