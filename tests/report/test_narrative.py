"""Narrative pages may only state numbers that come from the results: each one is checked here."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser

import pytest
import yaml

NARRATIVE_PAGES = ("index.html", "background.html", "audit.html", "limitations.html")


class _Article(HTMLParser):
    """Splits the article of a page into checked numbers (span.stat) and the remaining text."""

    def __init__(self):
        super().__init__()
        self.depth = 0  # inside <article>
        self.skip = 0  # inside the status bar or a figure
        self.stat: list | None = None
        self.stats: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "article":
            self.depth += 1
        if self.depth and (tag == "svg" or "status-bar" in (attrs.get("class") or "")):
            self.skip += 1
        if self.depth and tag == "span" and attrs.get("class") == "stat":
            self.stat = [attrs["data-source"], ""]

    def handle_endtag(self, tag):
        if tag == "article":
            self.depth -= 1
        if self.skip and tag in ("svg", "p"):
            self.skip -= 1
        if tag == "span" and self.stat is not None:
            self.stats.append((self.stat[0], self.stat[1]))
            self.stat = None

    def handle_data(self, data):
        if self.stat is not None:
            self.stat[1] += data
        elif self.depth and not self.skip:
            self.text.append(data)


def _num(value: float) -> str:
    return f"{value:.2f}".replace("-", "−")


def _p(p: float) -> str:
    if p < 1e-5:
        return "< 0.00001"
    for digits in (2, 3, 4, 5):
        if p >= 10**-digits:
            return f"{p:.{digits}f}"
    return f"{p:.5f}"


def expected(source: str, results: dict, review: dict, studies: dict) -> str:
    """An independent reading of results.json, review.yaml and the study files for one placeholder."""
    kind, _, rest = source.partition(":")
    name, _, field = rest.partition(".")
    if kind == "result":
        a = next(a for a in results["analyses"] if a["id"] == name)
        pooled, het = a["pooled"], a["heterogeneity"]
        back = math.exp if a["scale"] == "log" else (lambda v: v)
        if field in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
            return _num(back(pooled[field]))
        if field == "p":
            return _p(pooled["p"])
        if field == "q_p":
            return _num(het["q_p"])
        if field == "i2":
            return f"{het['i2']:.0f}%"
        if field == "k":
            return str(len(a["studies"]))
        sums = {
            k: sum(s["inputs"][k] for s in a["studies"])
            for k in ("events_exp", "total_exp", "events_ctrl", "total_ctrl")
        }
        if field == "participants":
            return str(sums["total_exp"] + sums["total_ctrl"])
        if field in sums:
            return str(sums[field])
        if field in ("randomised_k", "randomised_participants", "pct_randomised"):
            rct = [s for s in a["studies"] if s["design"] == "rct"]
            n = sum(s["inputs"]["total_exp"] + s["inputs"]["total_ctrl"] for s in rct)
            if field == "randomised_k":
                return str(len(rct))
            if field == "randomised_participants":
                return str(n)
            return f"{100 * n / (sums['total_exp'] + sums['total_ctrl']):.0f}"
        if field == "left_out_k":
            return str(len(a["left_out"]))
        if field == "left_out_participants":
            return str(sum(x["participants"] for x in a["left_out"]))
        if field.startswith("pct_"):
            side = field[4:]
            return f"{100 * sums['events_' + side] / sums['total_' + side]:.1f}"
        if field == "planned_experimental_n":
            return str(a["planned_experimental_n"])
        if field == "conclusion":
            outside = pooled["ci_low"] > 0 or pooled["ci_high"] < 0
            return f"the interval {'excludes' if outside else 'includes'} no effect"
    if kind == "printed":
        spec = next(a for a in review["analyses"] if a["id"] == name)
        return str(spec["reported"][field]).replace("-", "−")
    if kind == "flow":
        flow = review["flow"]
        if name == "full_texts_included":
            return str(flow["full_texts_assessed"] - flow["full_texts_excluded"])
        return str(flow[name])
    if kind == "count":
        only_source = name.startswith("source-")
        wanted = {"studies": None, "clinical-studies": "clinical-studies", "case-reports": "case-reports"}[
            name.removeprefix("source-")
        ]
        return str(
            sum(
                1
                for s in studies.values()
                if wanted in (None, s["source_table"]) and (not only_source or s.get("source_ref"))
            )
        )
    if kind == "study":
        return str(sum(a["n"] for a in studies[name]["arms"] if a.get("kind", "allocated") == "allocated"))
    raise AssertionError(f"unknown placeholder {source}")


@pytest.fixture(scope="module")
def sources(built):
    results = json.loads((built / "site/results.json").read_text(encoding="utf-8"))
    review = yaml.safe_load((built / "data/review.yaml").read_text(encoding="utf-8"))
    studies = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in (built / "data/studies").glob("*.yaml")}
    return results, review, studies


@pytest.mark.parametrize("page", NARRATIVE_PAGES)
def test_every_number_in_the_narrative_matches_the_results(built, sources, page):
    parser = _Article()
    parser.feed((built / "site" / page).read_text(encoding="utf-8"))
    for source, shown in parser.stats:
        assert shown == expected(source, *sources), f"{page}: {source} shows {shown}"
    if page != "index.html":
        assert parser.stats or page in ("limitations.html",), f"{page} states no checked number"


@pytest.mark.parametrize("page", ("background.html", "audit.html", "limitations.html"))
def test_narrative_states_no_unchecked_number(built, page):
    """Decimals and percentages in prose must come from placeholders; '95%' (the CI level) is the exception."""
    parser = _Article()
    parser.feed((built / "site" / page).read_text(encoding="utf-8"))
    text = " ".join(parser.text)
    loose = [
        m.group(0)
        for m in re.finditer(r"(?<![\w.])\d+\.\d+|(?<![\w.])\d+(?:\.\d+)?\s?%", text)
        if not m.group(0).startswith("95")
    ]
    assert loose == []


def test_the_checker_catches_a_wrong_number(built, sources):
    results, review, studies = sources
    assert expected("result:survival-reproduction.estimate", results, review, studies) == "2.87"
    assert expected("result:survival-reproduction.pct_exp", results, review, studies) == "90.5"
    assert expected("printed:survival-reproduction.percent_experimental", results, review, studies) == "90.3"
    assert expected("count:source-clinical-studies", results, review, studies) == "13"
    assert expected("count:clinical-studies", results, review, studies) == "14"


def test_counts_and_shares_in_text_are_computed(built, sources):
    """The primary survival analysis's description and the summary state its studies, participants and
    randomised share from the data (version 1.2: 6 studies, 345 participants, 287 randomised)."""
    results, review, studies = sources
    assert expected("result:survival-primary.k", *sources) == "6"
    assert expected("result:survival-primary.participants", *sources) == "345"
    assert expected("result:survival-primary.randomised_participants", *sources) == "287"
    assert expected("result:survival-primary.pct_randomised", *sources) == "83"
    assert expected("result:survival-primary.left_out_participants", *sources) == "60"
    description = next(a for a in review["analyses"] if a["id"] == "survival-primary")["description"]
    assert "seven" not in description and "[[survival-primary.k]]" in description
    parser = _Article()
    parser.feed((built / "site/outcomes/survival.html").read_text(encoding="utf-8"))
    shown = dict(parser.stats)
    assert shown["result:survival-primary.k"] == "6"
    assert shown["result:survival-primary.pct_randomised"] == "83"
    for source, value in parser.stats:
        assert value == expected(source, *sources), source
