"""Hostile input (issue 15): placeholders (`[[...]]`) that misuse the grammar. Each is refused by `review check`
with the file, line, field and the placeholder as written (exit 1); none reaches a page unfilled."""

from __future__ import annotations

import pytest
from support import edit, refused

REVIEW = r"data/review\.yaml"
FLOW = "[[flow:full_texts_assessed]]"
PRINTED = "[[printed:survival-reproduction.estimate]]"


class TestUnknownPlaceholderNames:
    @pytest.mark.parametrize(
        "written,message",
        [
            ("[[flow:nope]]", r"\[\[flow:nope\]\]: expected one of flow:records_identified"),
            ("[[nope.k]]", r"\[\[nope\.k\]\]: no analysis 'nope'"),
            ("[[survival-primary.nope]]", r"\[\[survival-primary\.nope\]\]: unknown field"),
            ("[[study:nope.n]]", r"\[\[study:nope\.n\]\]: "),
            ("[[count:nope]]", r"\[\[count:nope\]\]: "),
        ],
    )
    def test_refused(self, project, capsys, written, message):
        edit(project / "data/review.yaml", FLOW, written)
        refused(project, capsys, REVIEW + r":\d+: flow\.unaccounted_note: " + message)


class TestPlaceholdersOutsideTheGrammar:
    @pytest.mark.parametrize(
        "written",
        [
            "[[flow:full_texts_assessed",
            "[[flow:[[flow:full_texts_assessed]]]]",
            "[[]]",
            "[[ flow:full_texts_assessed ]]",
            "[[Flow:full_texts_assessed]]",
            "[[flow:full_texts_assessed]",
            "[[javascript:alert(1)]]",
        ],
    )
    def test_refused(self, project, capsys, written):
        edit(project / "data/review.yaml", FLOW, written)
        refused(
            project, capsys, REVIEW + r":\d+: flow\.unaccounted_note: .*(not a placeholder|unknown placeholder kind)"
        )


class TestPrintedPlaceholders:
    @pytest.mark.parametrize(
        "written,message",
        [
            ("[[printed:nope.estimate]]", "no analysis 'nope' with a 'reported' block"),
            ("[[printed:survival-reproduction.javascript]]", "the reported block has no 'javascript'"),
            ("[[printed:survival-primary.estimate]]", "with a 'reported' block"),
        ],
    )
    def test_refused(self, project, capsys, written, message):
        edit(project / "data/review.yaml", PRINTED, written)
        refused(project, capsys, REVIEW + r":\d+: narrative\.summary\[0\]: .*" + message)


class TestPlaceholdersWhereNoneAreFilled:
    def test_in_an_analysis_title(self, project, capsys):
        edit(
            project / "data/review.yaml",
            "title: Overall survival, current methods, published values",
            'title: "Overall survival of [[survival-primary.k]] studies"',
        )
        refused(project, capsys, REVIEW + r":\d+: analyses\[0\]\.title: placeholders are filled only in narrative")


class TestOverlongPlaceholders:
    def test_refused_without_repeating_it(self, project, capsys):
        edit(project / "data/review.yaml", FLOW, "[[" + "a" * 10_000 + "]]")
        out = refused(project, capsys, REVIEW + r":\d+: flow\.unaccounted_note: .*too long for a placeholder")
        assert "a" * 200 not in out
