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
