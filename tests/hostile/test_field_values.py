"""Hostile input (issue 15), points 6, 7 and 9: values of the data files: numbers read strictly, magnitudes
bounded, dates checked, all with the file, line and field."""

from __future__ import annotations

import re

import pytest
from support import edit, review, set_version, study, unchanged


class TestNumbersAreParsedStrictly:
    """YAML 1.1 readings that silently change a number are refused with the file, line and field."""

    @pytest.mark.parametrize(
        "written,message",
        [
            ("1:30", "not a plain decimal number"),
            ("012", "not a plain decimal number"),
            ("0x1d", "not a plain decimal number"),
            ("1_2", "not a plain decimal number"),
            ("yes", "valid integer"),
            ("true", "valid integer"),
            ("'12'", "valid integer"),
            ("12.0", "valid integer"),
        ],
    )
    def test_an_arm_size(self, project, capsys, written, message):
        edit(study(project), "    n: 29\n", f"    n: {written}\n")
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and re.search(r"data/studies/shu-2020\.yaml:\d+: arms\[1\]\.n: .*" + message, out), out

    def test_on_as_a_key_is_named_on(self, project, capsys):
        edit(study(project), "label: Shu 2020\n", "label: Shu 2020\non: 3\n")
        code, out = review(project, "check", capsys=capsys)
        assert code == 1 and "unknown field 'on'" in out, out


class TestMagnitudesAreBounded:
    @pytest.mark.parametrize(
        "field,old,new",
        [
            ("arms[1].n", "    n: 29\n", "    n: 1000000000000000000000000000000\n"),
            (
                "outcomes.survival.published.control.total",
                "total: 29, events: 26",
                "total: 100000000000000000000, events: 26",
            ),
        ],
    )
    def test_huge_counts(self, project, capsys, field, old, new):
        edit(study(project), old, new)
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and "data/studies/shu-2020.yaml" in out and field in out and "less than or equal" in out, out

    @pytest.mark.parametrize("p", ["1E-200000000", "0.02 (two-sided)", "2", "0.1234567890123456", "-0.1"])
    def test_a_p_value_as_printed(self, project, capsys, p):
        edit(project / "data/review.yaml", 'p: "0.02"', f'p: "{p}"')
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and re.search(r"data/review\.yaml:\d+: analyses\[1\]\.reported\.p: ", out), out

    def test_a_huge_real_number(self, project, capsys):
        edit(project / "data/review.yaml", "mh_continuity_correction: 0.5", "mh_continuity_correction: 1.0e300")
        code, out = review(project, "check", capsys=capsys)
        assert code == 1, out
        assert re.search(r"data/review\.yaml:\d+: analyses\[1\]\.mh_continuity_correction: must be between", out), out


class TestDates:
    @pytest.mark.parametrize(
        "day,message",
        [("1969-12-31", "1970-01-01 or later"), ("2026-13-45", "not a valid date"), ("2026-02-30", "not a valid date")],
    )
    def test_the_review_date(self, project, capsys, day, message):
        path = project / "data/review.yaml"
        path.write_text(re.sub(r"(?m)^date: .*$", f"date: {day}", path.read_text(encoding="utf-8")), encoding="utf-8")
        set_version(project, "1.2")
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and re.search(r"data/review\.yaml:\d+: date: .*" + message, out), out
