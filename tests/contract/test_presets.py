"""The "revman5" preset of an analysis: what it sets, how it meets explicit settings, and results.json."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TODAY
from pydantic import ValidationError

from builder.analysis import run as analysis
from builder.contract.review import PRESETS, Analysis
from builder.errors import DataError
from builder.ingest.loader import load
from builder.report import results_json as results

BASE = dict(id="a", outcome="survival", role="reproduction", title="t", measure="OR", model="i2-switch", method="MH")

# How data/review.yaml spells out the source review's RevMan 5 analysis of survival today.
SPELLED_OUT = "    model: i2-switch\n    method: MH\n    tau2: DL\n    mh_continuity_correction: 0.5\n"


def test_revman5_sets_dl_wald_no_prediction_interval_and_half_cell_corrections():
    spec = Analysis.model_validate({**BASE, "preset": "revman5"})
    assert (spec.tau2, spec.ci_method, spec.interval) == ("DL", "wald", "wald")
    assert spec.prediction_interval is False and not spec.shows_prediction_interval
    assert (spec.continuity_correction, spec.mh_continuity_correction) == (0.5, 0.5)
    assert (spec.model, spec.method) == ("i2-switch", "MH")  # still chosen by the analysis
    # RevMan leaves double-zero studies out of risk ratios and keeps them in risk differences (Handbook 5.1, 16.9.3)
    assert spec.double_zero_studies == "keep-in-rd"
    assert spec.keeps_double_zero("RD") and not spec.keeps_double_zero("RR") and not spec.keeps_double_zero("OR")


def test_without_a_preset_the_current_defaults_hold():
    spec = Analysis.model_validate({**BASE, "model": "random"})
    assert (spec.preset, spec.tau2, spec.interval, spec.mh_continuity_correction) == (None, "REML", "hksj", 0.0)
    assert spec.shows_prediction_interval


@pytest.mark.parametrize("key", sorted(PRESETS["revman5"]))
def test_repeating_a_preset_value_is_allowed_and_null_counts_as_unset(key):
    value = PRESETS["revman5"][key]
    assert getattr(Analysis.model_validate({**BASE, "preset": "revman5", key: value}), key) == value
    assert getattr(Analysis.model_validate({**BASE, "preset": "revman5", key: None}), key) == value


@pytest.mark.parametrize(
    "key, other",
    [
        ("tau2", "REML"),
        ("ci_method", "hksj"),
        ("prediction_interval", True),
        ("mh_continuity_correction", 0.0),
        ("continuity_correction", 0.25),
        ("double_zero_studies", "keep"),
    ],
)
def test_a_setting_that_contradicts_the_preset_is_an_error(key, other):
    with pytest.raises(ValidationError, match=f"the preset 'revman5' sets {key} to .*this analysis sets {key}"):
        Analysis.model_validate({**BASE, "model": "random", "preset": "revman5", key: other})


def test_an_unknown_preset_is_an_error():
    with pytest.raises(ValidationError, match="revman5"):
        Analysis.model_validate({**BASE, "preset": "revman6"})


def _with_preset(project: Path, block: str) -> None:
    path = project / "data/review.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  - id: survival-reproduction\n")
    at = text.index(SPELLED_OUT, start)
    path.write_text(text[:at] + block + text[at + len(SPELLED_OUT) :], encoding="utf-8")


def test_the_preset_reproduces_the_spelled_out_revman5_analysis(project):
    before = load(project / "data", today=TODAY)
    _with_preset(project, "    model: i2-switch\n    method: MH\n    preset: revman5\n")
    after = load(project / "data", today=TODAY)
    old, new = (next(a for a in d.review.analyses if a.id == "survival-reproduction") for d in (before, after))
    assert old.preset is None and new.preset == "revman5"
    r_old, r_new = analysis.run(old, before), analysis.run(new, after)
    for name in ("estimate", "se", "ci_low", "ci_high", "p", "q", "q_p", "i2", "model", "method", "ci_method"):
        assert getattr(r_new.fit, name) == getattr(r_old.fit, name), name
    record = results.analysis_record(r_new)
    assert record["settings"] == {
        "preset": "revman5",
        "model": "i2-switch",
        "pooling_method": "MH",
        "tau2": "DL",
        "tau2_ci_method": "Q-profile",
        "ci_method": "wald",
        "prediction_interval": False,
        "i2_switch_threshold": 50.0,
        "continuity_correction": 0.5,
        "mh_continuity_correction": 0.5,
        "double_zero_studies": "keep-in-rd",
        "level": 0.95,
    }
    assert results.analysis_record(r_old)["settings"]["preset"] is None


def test_a_random_effects_analysis_under_the_preset_has_no_prediction_interval(project):
    data = load(project / "data", today=TODAY)
    primary = next(a for a in data.review.analyses if a.id == "survival-primary")
    assert analysis.run(primary, data).fit.pi_low is not None
    legacy = Analysis.model_validate(
        {**primary.model_dump(exclude_unset=True, exclude={"tau2", "ci_method"}), "preset": "revman5"}
    )
    fit = analysis.run(legacy, data).fit
    assert (fit.model, fit.method, fit.ci_method, fit.pi_low, fit.pi_high) == ("random", "DL", "wald", None, None)
    assert results.analysis_record(analysis.run(legacy, data))["pooled"]["pi_low"] is None


def test_a_conflict_in_review_yaml_names_file_line_and_field(project):
    _with_preset(project, "    model: i2-switch\n    method: MH\n    preset: revman5\n    tau2: REML\n")
    with pytest.raises(DataError) as info:
        load(project / "data", today=TODAY)
    [problem] = info.value.problems
    lines = (project / "data/review.yaml").read_text(encoding="utf-8").splitlines()
    assert problem.file == "data/review.yaml"
    assert lines[problem.line - 1].strip() == "- id: survival-reproduction"
    assert "sets tau2 to DL" in problem.message and "tau2: REML" in problem.message
