"""A small review whose studies report contrast-level data, O - E and variance, and before-after data, written
from the metadat data sets pinned in tests/reference/contrast.json (see contrast_reference.R), for the tests
that check those numbers through study files, `review build` and results.json."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml
from alignment import load_reference
from conftest import ROOT

REF = load_reference("contrast")
PROV = {"kind": "extracted", "source": "metadat (R package), see tests/reference/contrast_reference.R"}

ANALYSES = {
    "hr-primary": ("death", "HR", "random", "IV", ["published"], "riley"),
    "hr-fixed": ("death", "HR", "fixed", "IV", ["published"], "riley"),
    "hr-peto": ("death", "HR", "fixed", "Peto", ["log-rank"], "pignon"),
    "hr-oe-random": ("death", "HR", "random", "IV", ["log-rank"], "pignon"),
    "change-md": ("score", "MD", "random", "IV", ["published"], "lehmann"),
    "change-smd": ("score", "SMD", "random", "IV", ["published"], "lehmann"),
    "infection-mixed": ("infection", "OR", "random", "IV", ["published"], "hahn"),
}


def _synthetic():
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "benchmarks" / "synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _study(sid: str, label: str, arms: list[dict], outcomes: dict, category: str = "rct") -> dict:
    return {
        "id": sid,
        "label": label,
        "source_table": "clinical-studies",
        "citation": {"authors": [f"{label.split()[0]} A"], "year": 2000, "provenance": PROV},
        "design": {"category": category, "as_labelled_by_review": category, "provenance": PROV},
        "registry": {"id": None, "provenance": PROV},
        "location": {"country": "Nowhere", "provenance": PROV},
        "arms": arms,
        "outcomes": outcomes,
    }


def _two_arms(n_exp: int = 50, n_ctl: int = 50) -> list[dict]:
    return [
        {"id": "exp", "label": "Treated", "role": "experimental", "n": n_exp, "provenance": PROV},
        {"id": "ctl", "label": "Control", "role": "control", "n": n_ctl, "provenance": PROV},
    ]


def _totals(n_exp: int = 50, n_ctl: int = 50) -> dict:
    return {"experimental": {"arm": "exp", "total": n_exp}, "control": {"arm": "ctl", "total": n_ctl}}


def hazard_studies() -> list[dict]:
    out = []
    for i, s in enumerate(REF["hazard"]["studies"], start=1):
        contrast = {"measure": "HR", "estimate": s["estimate"]}
        if s.get("se") is not None:
            contrast["se"] = s["se"]
        else:
            contrast.update(ci_low=s["ci_low"], ci_high=s["ci_high"], ci_level=0.95)
        ds = {**_totals(), "contrast": contrast, "provenance": PROV}
        out.append(_study(f"riley-{i}", f"Riley {i}", _two_arms(), {"death": {"published": ds}}))
    return out


def peto_studies() -> list[dict]:
    out = []
    for i, s in enumerate(REF["peto"]["studies"], start=1):
        ds = {
            **_totals(),
            "o_minus_e": {"measure": "HR", "value": s["o_minus_e"], "variance": s["v"]},
            "provenance": PROV,
        }
        out.append(_study(f"pignon-{i}", f"Pignon {i}", _two_arms(), {"death": {"log-rank": ds}}))
    return out


def pre_post_studies() -> list[dict]:
    out = []
    for i, s in enumerate(REF["pre_post"]["studies"], start=1):
        arm = [{"id": "treated", "label": "Treated", "role": "experimental", "n": s["n"], "provenance": PROV}]
        ds = {
            "design": "pre-post",
            "unit": "points",
            "experimental": {"arm": "treated", "total": s["n"], "mean": s["m_post"], "sd": s["sd_post"]},
            "control": {"arm": "treated", "total": s["n"], "mean": s["m_pre"], "sd": s["sd_pre"]},
            "provenance": PROV,
        }
        out.append(_study(f"lehmann-{i}", f"Lehmann {i}", arm, {"score": {"published": ds}}, "single-arm"))
    return out


def mixed_studies() -> list[dict]:
    out = []
    for i, s in enumerate(REF["mixed"]["studies"], start=1):
        if s["given"]:
            ds = {
                **_totals(s["n1i"], s["n2i"]),
                "contrast": {"measure": "OR", "estimate": s["or"], "ci_low": s["ci_low"], "ci_high": s["ci_high"]},
                "provenance": PROV,
            }
        else:
            ds = {
                "experimental": {"arm": "exp", "total": s["n1i"], "events": s["ai"]},
                "control": {"arm": "ctl", "total": s["n2i"], "events": s["ci"]},
                "provenance": PROV,
            }
        arms = _two_arms(s["n1i"], s["n2i"])
        out.append(_study(f"hahn-{i}", f"Hahn {i}", arms, {"infection": {"published": ds}}))
    return out


def write(out: Path) -> Path:
    """The project in `out`: the synthetic generator's assets and review settings, these studies and analyses."""
    project = _synthetic().write_project(out, studies=2, outcomes=1, seed=1)
    studies = hazard_studies() + peto_studies() + pre_post_studies() + mixed_studies()
    for f in (project / "data/studies").glob("*.yaml"):
        f.unlink()
    for s in studies:
        text = yaml.safe_dump(s, sort_keys=False, allow_unicode=True)
        (project / "data/studies" / f"{s['id']}.yaml").write_text(text, encoding="utf-8")
    ids = {prefix: [s["id"] for s in studies if s["id"].startswith(prefix + "-")] for prefix in ANALYSES_PREFIXES}
    path = project / "data/review.yaml"
    review = yaml.safe_load(path.read_text(encoding="utf-8"))
    review["outcomes"] = [
        {"id": "death", "label": "Death", "type": "dichotomous", "event": "death", "direction": "lower-is-better"},
        {"id": "score", "label": "Score", "type": "continuous", "unit": "points", "direction": "higher-is-better"},
        {
            "id": "infection",
            "label": "Infection",
            "type": "dichotomous",
            "event": "infection",
            "direction": "lower-is-better",
        },
    ]
    review["analyses"] = [
        {
            "id": aid,
            "outcome": outcome,
            "role": "primary" if aid in PRIMARY else "sensitivity",
            "title": aid,
            "measure": measure,
            "model": model,
            "method": method,
            "datasets": datasets,
            "studies": ids[prefix],
        }
        for aid, (outcome, measure, model, method, datasets, prefix) in ANALYSES.items()
    ]
    n = len(studies)
    review["flow"] = {
        "records_identified": 100 + n + 5,
        "records_excluded": 100,
        "full_texts_assessed": n + 5,
        "full_texts_excluded": 5,
        "provenance": PROV,
    }
    review["narrative"] = {"background": ["Studies that report their comparison, pinned against metafor."]}
    review["certainty"] = []
    path.write_text(yaml.safe_dump(review, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return project


ANALYSES_PREFIXES = ("riley", "pignon", "lehmann", "hahn")
PRIMARY = {"hr-primary", "change-md", "change-smd", "infection-mixed", "hr-peto"}
