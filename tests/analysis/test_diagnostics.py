"""The influence and small-study follow-ups of an analysis: when they apply, and the reason given when they do not.
Their numbers are pinned against metafor in tests/stats/test_followups_alignment.py and
tests/publish/test_followups_project.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, TODAY
from followups_project import write_project

from builder.analysis import diagnostics
from builder.analysis.run import run
from builder.ingest.loader import load
from builder.report.views import influence_view, small_study_view


@pytest.fixture(scope="module")
def trials(tmp_path_factory):
    return load(write_project(tmp_path_factory.mktemp("egger2001") / "project") / "data", today=TODAY)


def _run(data, **changes):
    spec = data.review.analyses[0].model_copy(update=changes)
    return run(spec, data)


def test_the_random_effects_primary_gets_every_follow_up(trials):
    result = _run(trials)
    inf = diagnostics.influence_of(result)
    assert inf["reason"] is None and inf["influence"].k == 16
    tests = diagnostics.bias_tests(result)
    assert set(tests["trim_and_fill"]) == {"L0", "R0"} and tests["trim_and_fill_reason"] is None
    assert tests["rank_test"] is not None and tests["harbord"] is not None and tests["peters"] is not None


def test_mantel_haenszel_has_no_residuals_to_diagnose(trials):
    result = _run(trials, model="fixed", method="MH", ci_method=None)
    inf = diagnostics.influence_of(result)
    assert inf["influence"] is None and "Mantel-Haenszel" in inf["reason"]
    tests = diagnostics.bias_tests(result)
    assert tests["trim_and_fill"] == {} and "inverse-variance" in tests["trim_and_fill_reason"]
    assert tests["rank_test"] is not None  # Begg's test needs only the effect sizes
    assert tests["harbord"] is not None  # and Harbord's only the 2x2 tables
    result.influence.update(inf)
    assert influence_view(result) == {"reason": inf["reason"], "k": 16}


def test_the_fixed_effect_inverse_variance_model_is_diagnosed(trials):
    result = _run(trials, model="fixed", method="IV", ci_method=None)
    assert diagnostics.influence_of(result)["influence"] is not None
    assert diagnostics.bias_tests(result)["trim_and_fill"]["L0"] is not None


def test_odds_ratio_tests_are_for_odds_ratios(trials):
    result = _run(trials, measure="RR")
    tests = diagnostics.bias_tests(result)
    assert tests["harbord"] is None and tests["peters"] is None
    assert "odds ratios" in tests["odds_ratio_tests_reason"]
    result.small_study.update({"k": 16, "egger": None, "funnel": None, "reason": "x"}, **tests)
    assert small_study_view(result) == {"reason": "x", "k": 16}  # no funnel: nothing drawn


def test_fewer_than_ten_studies_keep_the_bias_tests_back_but_not_influence(tmp_path: Path):
    data = load(ROOT / "data", today=TODAY)
    result = run(next(a for a in data.review.analyses if a.id == "survival-primary"), data)
    assert diagnostics.bias_tests(result) == {}
    inf = diagnostics.influence_of(result)
    assert inf["k"] == 5 and inf["influence"] is not None


def test_two_studies_are_too_few_for_influence(trials):
    ids = [s for s in trials.review.analyses[0].studies][:2]
    result = _run(trials, studies=ids)
    inf = diagnostics.influence_of(result)
    assert inf["influence"] is None and "at least 3" in inf["reason"]


def test_reusing_the_leave_one_out_refits_changes_nothing(trials):
    """influence_of takes the sensitivity panel's leave-one-out refits instead of refitting: the same numbers."""
    from builder.analysis.fitting import effect_sizes_of
    from builder.analysis.run import run_all
    from builder.stats.influence import influence

    result = run_all(trials)[0]
    reused = result.influence["influence"]
    fresh = influence(effect_sizes_of(result), result.fit)
    for name in ("rstudent", "dffits", "cook", "cov_ratio", "tau2_deleted", "q_deleted", "dfbetas", "baujat_y"):
        np.testing.assert_array_equal(getattr(reused, name), getattr(fresh, name), err_msg=name)


def test_the_adjusted_estimate_reports_a_prediction_interval_only_where_the_analysis_does(trials):
    shown = diagnostics.bias_tests(_run(trials))["trim_and_fill"]["L0"].adjusted
    hidden = diagnostics.bias_tests(_run(trials, prediction_interval=False))["trim_and_fill"]["L0"].adjusted
    assert shown.pi_low is not None and hidden.pi_low is None
    assert hidden.estimate == shown.estimate


def test_a_study_that_gives_only_its_odds_ratio_keeps_harbord_and_peters_back(tmp_path: Path):
    """Contrast-level data (the study's own estimate and SE) have no 2x2 table for the score-based tests; the
    influence diagnostics, trim-and-fill and Begg's test use the effect sizes and still apply."""
    import yaml

    project = write_project(tmp_path / "project")
    path = project / "data" / "studies" / "trial-01.yaml"
    study = yaml.safe_load(path.read_text(encoding="utf-8"))
    published = study["outcomes"]["mortality"]["published"]
    for group in ("experimental", "control"):
        published[group].pop("events")
    published["contrast"] = {"measure": "OR", "estimate": 0.5, "se": 0.6}
    path.write_text(yaml.safe_dump(study), encoding="utf-8")
    result = _run(load(project / "data", today=TODAY))
    assert "contrast" in result.data_kinds
    tests = diagnostics.bias_tests(result)
    assert tests["harbord"] is None and tests["peters"] is None and "2x2" in tests["odds_ratio_tests_reason"]
    assert tests["rank_test"] is not None and tests["trim_and_fill"]["L0"] is not None
    assert diagnostics.influence_of(result)["influence"] is not None
