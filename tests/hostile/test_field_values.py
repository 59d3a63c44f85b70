"""Hostile input (issue 15), points 6, 7 and 9: values of the data files: numbers read strictly, magnitudes
bounded, dates checked, all with the file, line and field."""

from __future__ import annotations

import re

import pytest
from support import accepted, edit, refused, review, set_version, study, unchanged, yaml_string


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


REVIEW = r"data/review\.yaml"
STUDY = r"data/studies/shu-2020\.yaml"
MHCC = "mh_continuity_correction: 0.5"
CITATION_URL = "  url: https://stemcellres.biomedcentral.com/articles/10.1186/s13287-020-01875-5\n"


def _date(project, text: str) -> None:
    path = project / "data/review.yaml"
    path.write_text(re.sub(r"(?m)^date: .*$", f"date: {text}", path.read_text(encoding="utf-8")), encoding="utf-8")


class TestNotANumber:
    """NaN and infinity, however written, never reach a model."""

    @pytest.mark.parametrize(
        "written,message",
        [
            (".nan", "(greater than or equal to 0|finite)"),
            (".NaN", "(greater than or equal to 0|finite)"),
            (".inf", "must be a finite number"),
            ("-.inf", "(greater than or equal to 0|finite)"),
            ("1e400", "must be a finite number"),
            ('"NaN"', "Input should be a valid number"),
            ('"inf"', "Input should be a valid number"),
        ],
    )
    def test_a_real_number(self, project, capsys, written, message):
        edit(project / "data/review.yaml", MHCC, f"mh_continuity_correction: {written}")
        refused(project, capsys, REVIEW + r":\d+: analyses\[1\]\.mh_continuity_correction: .*" + message)

    @pytest.mark.parametrize("written", [".nan", ".inf", "1e400"])
    def test_a_count(self, project, capsys, written):
        edit(study(project), "    n: 29\n", f"    n: {written}\n")
        refused(project, capsys, STUDY + r":\d+: arms\[1\]\.n: Input should be a valid integer")


class TestHugeIntegerInARealField:
    def test_refused_and_not_repeated_in_full(self, project, capsys):
        edit(project / "data/review.yaml", MHCC, "mh_continuity_correction: " + "9" * 400)
        out = refused(project, capsys, REVIEW + r":\d+: analyses\[1\]\.mh_continuity_correction: ")
        assert "9" * 250 not in out and "…" in out


class TestWrongScalarTypes:
    @pytest.mark.parametrize(
        "path,old,new,field,message",
        [
            (
                "data/review.yaml",
                MHCC,
                "mh_continuity_correction: yes",
                r"analyses\[1\]\.mh_continuity_correction",
                "valid number",
            ),
            (
                "data/review.yaml",
                MHCC,
                'mh_continuity_correction: "0.5"',
                r"analyses\[1\]\.mh_continuity_correction",
                "valid number",
            ),
            ("data/studies/shu-2020.yaml", "    n: 29\n", "    n: 29.5\n", r"arms\[1\]\.n", "valid integer"),
            ("data/studies/shu-2020.yaml", "year: 2020", 'year: "2020"', r"citation\.year", "valid integer"),
            ("data/studies/shu-2020.yaml", "source_ref: 15", "source_ref: [15]", "source_ref", "valid"),
        ],
    )
    def test_refused(self, project, capsys, path, old, new, field, message):
        edit(project / path, old, new)
        refused(project, capsys, re.escape(path) + rf":\d+: {field}: .*{message}")


class TestWrongContainerTypes:
    @pytest.mark.parametrize(
        "old,new,field,message",
        [
            ("label: Shu 2020", "label: {a: 1}", "label", "valid string"),
            ("label: Shu 2020", "label: [Shu, 2020]", "label", "valid string"),
            (
                "  authors: [Shu L, Niu C, Li R, Huang T, Wang Y, Huang M, et al]",
                "  authors: Shu L",
                r"citation\.authors",
                "valid list",
            ),
            (
                "  authors: [Shu L, Niu C, Li R, Huang T, Wang Y, Huang M, et al]",
                "  authors: []",
                r"citation\.authors",
                "at least 1 item",
            ),
            (
                "  authors: [Shu L, Niu C, Li R, Huang T, Wang Y, Huang M, et al]",
                "  authors: [{a: 1}]",
                r"citation\.authors\[0\]",
                "valid string",
            ),
        ],
    )
    def test_refused(self, project, capsys, old, new, field, message):
        edit(study(project), old, new)
        refused(project, capsys, STUDY + rf":\d+: {field}: .*{message}")


class TestRequiredFieldsMissingOrNull:
    @pytest.mark.parametrize("new", ["label: ~", "label: null", "label:", "xlabel: Shu 2020"])
    def test_refused(self, project, capsys, new):
        edit(study(project), "label: Shu 2020", new)
        out = refused(project, capsys, STUDY + r":\d+: label: ")
        assert "required field is missing" in out or "valid string" in out


class TestLabelShape:
    @pytest.mark.parametrize(
        "label,message",
        [
            ('""', "must not be empty"),
            ('"   "', "must not be empty"),
            ("x" * 121, "at most 120"),
            ("Shu <b>2020</b>", "must not contain '<' or '>'"),
            ("Shu > 2020", "must not contain '<' or '>'"),
        ],
    )
    def test_refused(self, project, capsys, label, message):
        edit(study(project), "label: Shu 2020", f"label: {label}")
        refused(project, capsys, STUDY + r":2: label: .*" + re.escape(message))


BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


class TestBidiControlsInLabels:
    """A label that reads 'Shu 2020' on the page but is stored (sorted, searched, cited) otherwise."""

    @pytest.mark.parametrize("char", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
    def test_refused_with_the_character(self, project, capsys, char):
        edit(study(project), "label: Shu 2020", "label: " + yaml_string(f"Shu {char}0202"))
        refused(
            project, capsys, STUDY + rf":2: label: contains the bidirectional control character U\+{ord(char):04X} \("
        )

    def test_direction_marks_are_allowed(self, project, capsys):
        edit(study(project), "label: Shu 2020", "label: " + yaml_string("Shu 2020 \u200f\u200e"))
        accepted(project, capsys)


class TestBidiControlsInFreeText:
    @pytest.mark.parametrize(
        "path,old,field",
        [
            ("data/studies/shu-2020.yaml", "  - The dose of UC-MSC", r"notes: notes\[1\]"),
            ("data/review.yaml", "short_title: MSC therapy for COVID-19", "short_title"),
        ],
    )
    def test_refused(self, project, capsys, path, old, field):
        if old.startswith("  - "):
            edit(project / path, old, "  - " + yaml_string("a \u202eb") + "\n" + old)
        else:
            key = old.split(":")[0]
            edit(project / path, old, f"{key}: " + yaml_string("MSC \u2067therapy"))
        refused(project, capsys, re.escape(path) + rf":\d+: {field}: .*bidirectional control character")


class TestUrlsThatAreNotWebAddresses:
    @pytest.mark.parametrize(
        "url",
        [
            "javascript:alert(1)",
            '" JaVaScRiPt:alert(1)"',
            '"data:text/html,<script>alert(1)</script>"',
            "file:///etc/passwd",
            "vbscript:msgbox",
            "//attacker.example/x",
            "https://good.example@attacker.example/",
            "http:/no-host",
            "ftp://example.org/x",
            '"https://example.org/a b"',
            "https://example.org/){onmouseover=alert(1)}",
        ],
    )
    def test_refused(self, project, capsys, url):
        edit(study(project), CITATION_URL, f"  url: {url}\n")
        refused(project, capsys, STUDY + r":13: citation\.url: must be an http\(s\) URL with a host")


class TestMalformedDois:
    @pytest.mark.parametrize("doi", ['"javascript:alert(1)"', "https://doi.org/10.1/x", '"10.1186/a b"', "11.1186/x"])
    def test_refused(self, project, capsys, doi):
        edit(study(project), "doi: 10.1186/s13287-020-01875-5", f"doi: {doi}")
        refused(project, capsys, STUDY + r":12: citation\.doi: ")


class TestStudyIdShape:
    @pytest.mark.parametrize(
        "new,message",
        [
            ("id: shu-2021", "the id must equal the file name 'shu-2020'"),
            ("id: Shu-2020", "does not match the expected pattern"),
            ("id: shu_2020", "does not match the expected pattern"),
            ("id: -shu", "does not match the expected pattern"),
            ("id: 2020", "valid string"),
        ],
    )
    def test_refused(self, project, capsys, new, message):
        edit(study(project), "id: shu-2020", new)
        refused(project, capsys, STUDY + r":1: id: .*" + re.escape(message))


class TestReferencesAcrossFiles:
    def test_an_unknown_study_in_an_analysis(self, project, capsys):
        edit(project / "data/review.yaml", "studies: [", "studies: [no-such-study, ")
        refused(project, capsys, REVIEW + r":\d+: analyses\[0\]\.studies\[0\]: no study file with this id")

    def test_a_duplicate_analysis_id(self, project, capsys):
        edit(project / "data/review.yaml", "  - id: survival-fixed-mh\n", "  - id: survival-primary\n")
        refused(project, capsys, REVIEW + r":\d+: analyses\[\d+\]\.id: duplicate analysis id")

    def test_an_unknown_outcome(self, project, capsys):
        edit(project / "data/review.yaml", "    outcome: survival\n", "    outcome: survivl\n")
        refused(project, capsys, REVIEW + r":\d+: analyses\[0\]\.outcome: no such outcome")


class TestCountsThatContradictEachOther:
    def test_more_events_than_participants(self, project, capsys):
        edit(study(project), "total: 29, events: 26", "total: 29, events: 30")
        refused(
            project, capsys, STUDY + r":\d+: outcomes\.survival\.published\.control: events \(30\) cannot exceed total"
        )


class TestDateForms:
    @pytest.mark.parametrize(
        "written,message",
        [
            ("2099-01-01", "date is in the future"),
            ("01/12/2026", "valid date"),
            ("2026-12-01T10:00:00Z", "zero time"),
            ("yesterday", "valid date"),
            ("20261201", "(valid date|date)"),
        ],
    )
    def test_refused(self, project, capsys, written, message):
        _date(project, written)
        refused(project, capsys, REVIEW + r":7: date: .*" + message)

    def test_a_quoted_date_is_read(self, project, capsys):
        _date(project, '"2026-12-01"')
        accepted(project, capsys)


class TestVersionFieldTypes:
    @pytest.mark.parametrize("written", ["1.2", "2", "", "[1, 2]"])
    def test_refused(self, project, capsys, written):
        path = project / "data/review.yaml"
        path.write_text(
            path.read_text(encoding="utf-8").replace('version: "1.2"', f"version: {written}", 1), encoding="utf-8"
        )
        refused(project, capsys, REVIEW + r":6: version: ")


class TestNumbersAsPrinted:
    """The `reported` block copies numbers as the source printed them: text of a fixed form, never a formula,
    a link or a float that YAML rounded."""

    @pytest.mark.parametrize(
        "written,message",
        [
            ('"NaN"', "pattern"),
            ('"inf"', "pattern"),
            ('"1e999"', "pattern"),
            ("2.87", "valid string"),
            ('"javascript:alert(1)"', "pattern"),
            ('"=1+1"', "pattern"),
            ('"2.87<script>"', "pattern"),
        ],
    )
    def test_an_estimate(self, project, capsys, written, message):
        edit(project / "data/review.yaml", 'estimate: "2.87"', f"estimate: {written}")
        refused(project, capsys, REVIEW + r":\d+: analyses\[1\]\.reported\.estimate: .*" + message)

    @pytest.mark.parametrize(
        "old,new,field,message",
        [
            ("i2: 0\n", "i2: 200\n", "i2", "less than or equal to 100"),
            ("i2: 0\n", "i2: -1\n", "i2", "greater than or equal to 0"),
            ("k: 7\n", "k: -7\n", "k", "greater than or equal to 1"),
            ("k: 7\n", "k: 7.5\n", "k", "valid integer"),
        ],
    )
    def test_bounds(self, project, capsys, old, new, field, message):
        edit(project / "data/review.yaml", old, new)
        refused(project, capsys, REVIEW + rf":\d+: analyses\[1\]\.reported\.{field}: .*{message}")


class TestYears:
    @pytest.mark.parametrize(
        "year,message",
        [("99999999999999999999", "less than or equal"), ("-5", "greater than or equal"), ("2020.5", "valid integer")],
    )
    def test_refused(self, project, capsys, year, message):
        edit(study(project), "year: 2020", f"year: {year}")
        refused(project, capsys, STUDY + r":9: citation\.year: .*" + message)
