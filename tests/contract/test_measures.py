"""The effect-measure registry: complete for the data model, and each function it names checked against one
pinned metafor value (tests/reference/*.json; no R needed)."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest
from alignment import CLOSED_FORM, load_reference

from builder.contract import Analysis, Outcome
from builder.contract.measures import MEASURES, mantel_haenszel_measures, measures_for

EFFECTS = load_reference("effects")  # escalc for RR, RD, MD, SMD, ROM; rma.mh for RR and RD
METAFOR = load_reference("metafor")  # escalc and rma.mh for OR


def arms(reference: dict, dataset: str) -> tuple:
    x = reference["datasets"][dataset]["inputs"]
    if "ai" in x:
        return x["ai"], x["n1i"], x["ci"], x["n2i"]
    return x["m1i"], x["sd1i"], x["n1i"], x["m2i"], x["sd2i"], x["n2i"]


def named(entries: list[dict], name: str) -> dict:
    (entry,) = [e for e in entries if e["name"] == name]
    return entry


# (reference, entry list, entry name, the continuity correction metafor used for the effect sizes)
ESCALC = {
    "OR": (METAFOR, "cases", "bcg/FE/z", 0.5),
    "RR": (EFFECTS, "escalc", "bcg/RR/add0.5", 0.5),
    "RD": (EFFECTS, "escalc", "bcg/RD/add0.5", 0.5),
    "MD": (EFFECTS, "escalc", "normand1999/MD", None),
    "SMD": (EFFECTS, "escalc", "normand1999/SMD", None),
    "ROM": (EFFECTS, "escalc", "normand1999/ROM", None),
}
MH = {
    "OR": (METAFOR, "bcg/MH/cc0.5"),
    "RR": (EFFECTS, "bcg/MH/RR/cc0.5"),
    "RD": (EFFECTS, "bcg/MH/RD/cc0.5"),
}


def test_every_measure_the_data_model_accepts_is_registered():
    accepted = get_args(Analysis.model_fields["measure"].annotation)
    assert set(accepted) == set(MEASURES) == {"OR", "RR", "RD", "MD", "SMD", "ROM", "HR", "GEN"}
    assert all(code == m.code for code, m in MEASURES.items())


def test_each_outcome_type_takes_its_measures():
    assert set(get_args(Outcome.model_fields["type"].annotation)) == {m.outcome_type for m in MEASURES.values()}
    assert measures_for("dichotomous") == {"OR", "RR", "RD", "HR"}
    assert measures_for("continuous") == {"MD", "SMD", "ROM", "GEN"}
    assert mantel_haenszel_measures() == ["OR", "RR", "RD"]


def test_scales_labels_and_metafor_names():
    assert {c for c, m in MEASURES.items() if m.scale == "log"} == {"OR", "RR", "ROM", "HR"}
    assert MEASURES["SMD"].label == "Std. Mean Difference" and MEASURES["OR"].label == "Odds Ratio"
    # every case of the pinned references was computed by metafor under one of the registered names
    pinned = {e["measure"] for e in EFFECTS["escalc"]} | {d["measure"] for d in METAFOR["datasets"].values()}
    assert {m.metafor for m in MEASURES.values()} <= pinned


def test_every_per_arm_function_is_pinned_here():
    assert set(ESCALC) == {c for c, m in MEASURES.items() if m.effect_sizes is not None}
    assert set(MH) == set(mantel_haenszel_measures())
    for code in ("HR", "GEN"):  # studies give their estimates (contrast-level data)
        assert MEASURES[code].effect_sizes is None and MEASURES[code].mantel_haenszel is None


@pytest.mark.parametrize("code", sorted(ESCALC))
def test_effect_sizes_match_escalc(code):
    reference, entries, name, add = ESCALC[code]
    entry = named(reference[entries], name)
    cells = arms(reference, entry["dataset"])
    function = MEASURES[code].effect_sizes
    es = function(*cells, add=add) if add is not None else function(*cells)
    assert es.estimable.all()
    for ours, ref in ((es.yi, entry["yi"]), (es.vi, entry["vi"])):
        ref = np.array(ref, dtype=float)
        assert ours.shape == ref.shape
        assert all(CLOSED_FORM.ok(a, e) for a, e in zip(ours, ref)), (code, ours, ref)


@pytest.mark.parametrize("code", sorted(MH))
def test_mantel_haenszel_matches_rma_mh(code):
    reference, name = MH[code]
    case = named(reference["cases"], name)
    measure = MEASURES[code]
    cells = arms(reference, case["dataset"])
    fit = measure.mantel_haenszel(*cells, display=measure.effect_sizes(*cells, add=0.5), add=case["mh_cc"])
    for ours, ref in ((fit.estimate, case["estimate"]), (fit.se, case["se"]), (fit.q, case["QE"])):
        assert CLOSED_FORM.ok(ours, ref), (code, ours, ref)
