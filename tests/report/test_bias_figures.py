"""The figures of the influence and small-study follow-ups and the weighted risk-of-bias bars, drawn from made-up
inputs: what each shows and says in words."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np

from builder.contract.rob import TOOLS
from builder.report.figures import baujat, followplot, robfig
from builder.stats import EffectSizes, random_effects
from builder.stats.followups import funnel_data


def _assessment(judgement: str, overall: str):
    domains = [SimpleNamespace(domain=d, judgement=judgement) for d in TOOLS["rob2"].domains]
    return SimpleNamespace(domains=domains, overall=overall)


def _widths(svg: str, cls: str) -> list[float]:
    return [float(w) for w in re.findall(rf'width="([0-9.]+)" height="20" class="{cls}"', svg)]


def test_weighted_bars_give_each_study_its_weight():
    assessments = [_assessment("low", "low"), _assessment("high", "high")]
    svg = robfig.summary_bars("rob2", assessments, weights=[75.0, 25.0], ident="w")
    bar = 360.0  # the width of a full bar
    rows = len(TOOLS["rob2"].domains) + 1  # and Overall
    assert _widths(svg, "j-low") == [0.75 * bar] * rows
    assert _widths(svg, "j-high") == [0.25 * bar] * rows
    assert "low 75.0% of the weight, high 25.0% of the weight" in svg
    assert 'id="w-title"' in svg


def test_unweighted_bars_are_unchanged_by_the_weighted_option():
    assessments = [_assessment("low", "low"), _assessment("high", "high")]
    plain = robfig.summary_bars("rob2", assessments)
    assert _widths(plain, "j-low") == [180.0] * (len(TOOLS["rob2"].domains) + 1)
    assert "low 1 of 2" in plain


def test_baujat_marks_influential_studies_apart_and_numbers_each_once():
    points = [
        baujat.Point(11, "A 2020", 0.1, 0.05, False),
        baujat.Point(12, "B 2021", 2.5, 1.8, True),
        baujat.Point(13, "C 2022", 0.1, 0.05, False),  # on top of A: its number is left out
    ]
    svg = baujat.render("Baujat plot: test", "desc", points, "bj", "Contribution to Q")
    assert svg.count('class="pt-flag"') == 2  # B and the legend's
    assert svg.count('class="pt"') == 3  # A, C and the legend's
    numbers = re.findall(r">(1[123])</text>", svg)
    assert sorted(numbers) == ["11", "12"]  # A is written first: C sorts after it by number
    text = baujat.describe(points, "Contribution to Q")
    assert "B 2021 contributes most" in text and "Flagged as influential: B 2021" in text


def test_funnel_without_filled_studies_has_no_legend():
    yi = np.array([0.1, 0.3, -0.2, 0.5, 0.0])
    vi = np.array([0.04, 0.09, 0.05, 0.2, 0.1])
    es = EffectSizes(yi, vi, np.ones(5, bool), np.zeros(5, bool))
    fit = random_effects(es, "REML", "wald")
    data = funnel_data(es, fit)
    plain = followplot.funnel("F", "d", data, "identity", "f", "Mean difference")
    assert "pt-fill" not in plain and "adjusted estimate" not in plain
    filled = followplot.funnel(
        "F", "d", data, "identity", "f", "Mean difference", filled=followplot.Filled([0.9], [0.3], 0.2, "L0")
    )
    assert filled.count('class="pt-fill"') == 2 and "filled (L0)" in filled and 'class="adj"' in filled
