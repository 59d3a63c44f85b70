"""The methods page states what the analyses of this version do, worked out from their settings."""

from __future__ import annotations

import pytest
from conftest import ROOT, TODAY

from builder.analysis.run import run
from builder.ingest.loader import load
from builder.report.methods import methods_in_use, pooling_method


@pytest.fixture(scope="module")
def data():
    return load(ROOT / "data", today=TODAY)


def _spec(data, analysis_id, **update):
    spec = next(a for a in data.review.analyses if a.id == analysis_id)
    return spec.model_copy(update=update)


def test_the_settings_in_use_are_read_from_the_analyses(data):
    results = [run(spec, data) for spec in data.review.analyses]
    used = methods_in_use(results)
    assert used.measures == ["Odds Ratio", "Mean Difference"]
    assert used.mh_corrections == [0.0, 0.5]  # current methods, and the RevMan 5 reproductions
    assert used.zero_cell_corrections == [0.5]
    assert not used.peto
    assert used.i2_switch
    assert (
        used.random_effects[0] == "restricted maximum likelihood (REML) with the Hartung-Knapp-Sidik-Jonkman interval"
    )
    assert used.pre_post == []  # no before-after values are pooled in this version


def test_a_peto_analysis_is_named_peto_not_inverse_variance(data):
    peto = run(_spec(data, "survival-fixed-mh", method="Peto"), data)
    mh = run(_spec(data, "survival-fixed-mh"), data)
    assert (pooling_method(peto), pooling_method(mh)) == ("Peto", "M-H")
    used = methods_in_use([peto])
    assert used.peto and used.mh_corrections == [] and not used.i2_switch
    assert used.random_effects == []


def test_a_correction_other_than_half_is_stated_as_used(data):
    result = run(_spec(data, "survival-primary", continuity_correction=0.25), data)
    assert methods_in_use([result]).zero_cell_corrections == [0.25]


def test_the_page_promises_no_correlation_the_code_does_not_use(built):
    page = (built / "build/current/docs/methods.md").read_text(encoding="utf-8")
    assert "0.8" not in page and "we assume 0.5" not in page
    assert "Mantel-Haenszel fixed effect, no continuity correction inside the pooled estimate" in page
    assert "0.5 added to the cells of zero-cell studies inside the pooled estimate, as RevMan 5 does" in page
    assert "Peto's one-step odds ratio" not in page  # no analysis of this version uses it
