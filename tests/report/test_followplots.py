"""The leave-one-out and cumulative plots, read back from the SVG on the outcome page: one row per refit with its
numbers, squares where the estimates are, and the estimate from every study as the reference line."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from conftest import TODAY

from builder.analysis import run as analysis
from builder.ingest.loader import load
from builder.report import fmt
from builder.report.figures import forest

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def primary(built):
    data = load(built / "data", today=TODAY)
    return next(r for r in analysis.run_all(data) if r.spec.id == "survival-primary")


def page_svg(built, ident: str) -> ET.Element:
    html = (built / "site/outcomes/survival.html").read_text(encoding="utf-8")
    match = re.search(r'<svg[^>]*aria-labelledby="' + ident + r"-title.*?</svg>", html, re.S)
    assert match, ident
    return ET.fromstring(match.group(0))


def rows_of(root: ET.Element) -> dict[float, list[str]]:
    """Texts grouped by their baseline: one entry per row of the plot."""
    out: dict[float, list[str]] = {}
    for t in root.iter(SVG + "text"):
        out.setdefault(float(t.get("y")), []).append(t.text or "")
    return out


def to_x(root: ET.Element):
    """The axis's own mapping, recovered from its tick labels 1 and 10 (a log axis)."""
    ticks = {t.text: float(t.get("x")) for t in root.iter(SVG + "text") if t.text in ("1", "10")}
    return lambda v: ticks["1"] + math.log10(math.exp(v)) * (ticks["10"] - ticks["1"])


@pytest.mark.parametrize("key,slug", [("leave_one_out", "leave-one-out"), ("cumulative", "cumulative")])
def test_each_refit_is_a_row_with_its_numbers(built, primary, key, slug):
    root = page_svg(built, f"survival-primary-{slug}-plot")
    lines = list(rows_of(root).values())
    refits = primary.followups[key]
    for row in refits:
        line = next(texts for texts in lines if texts[0] == row.label)
        if row.fit is None:
            assert line[1] in ("Not estimable", "No estimable study yet")
        else:
            assert line[1] == fmt.estimate_ci(row.fit.estimate, row.fit.ci_low, row.fit.ci_high, "log")
    f = primary.fit
    assert ["All studies", fmt.estimate_ci(f.estimate, f.ci_low, f.ci_high, "log")] in lines
    assert len(root.findall(f"{SVG}rect[@class='sq']")) == sum(1 for r in refits if r.fit is not None)


def test_squares_sit_at_the_estimates_and_the_reference_line_at_the_pooled_one(built, primary):
    root = page_svg(built, "survival-primary-leave-one-out-plot")
    x = to_x(root)
    ref = root.find(f"{SVG}line[@class='ref']")
    assert float(ref.get("x1")) == pytest.approx(x(primary.fit.estimate), abs=0.05)
    centres = [float(r.get("x")) + float(r.get("width")) / 2 for r in root.findall(f"{SVG}rect[@class='sq']")]
    shown = [r.fit for r in primary.followups["leave_one_out"] if r.fit is not None]
    lo, hi, _ = forest.axis_for([abs(v) for f in shown + [primary.fit] for v in (f.ci_low, f.ci_high)], "log")
    for centre, f in zip(centres, shown):
        assert lo <= f.estimate <= hi
        assert centre == pytest.approx(x(f.estimate), abs=0.05)
    # Without Bowdish 2023 the estimate is 3.62 (version 1.0's studies, less the virtual control and the
    # duplicate cohort): the largest of the refits
    assert max(centres) == pytest.approx(x(math.log(3.62)), abs=1.0)


def test_plots_have_alt_text_and_a_download(built, primary):
    root = page_svg(built, "survival-primary-cumulative-plot")
    desc = root.find(f"{SVG}desc").text
    assert desc.startswith("Overall survival, cumulative meta-analysis by publication year:")
    assert "2.09 [0.54, 8.15]" in desc
    assert (built / "site/figures/survival-primary-leave-one-out.svg").is_file()
    assert (built / "site/figures/survival-primary-cumulative.svg").is_file()
