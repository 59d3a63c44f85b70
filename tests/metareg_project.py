"""A review project made of metadat's curtis1998 (pinned in tests/reference/metareg.json): 102 experiments on
plant biomass under elevated CO2, each with its per-arm means, SDs and sizes and two declared characteristics,
time (days of exposure, continuous) and method (GC, GH or OTC, categorical). Used by the tests that take
meta-regression through the YAML -> results.json path and the site build."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from alignment import load_reference

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = load_reference("metareg")
CURTIS = REFERENCE["datasets"]["curtis1998"]
PROVENANCE = {"kind": "extracted", "source": "metadat dat.curtis1998 (Curtis and Wang 1998)"}

BASE_ANALYSIS = {
    "outcome": "biomass",
    "measure": "ROM",
    "model": "random",
    "tau2": "REML",
}

# id -> what the analysis adds to BASE_ANALYSIS
ANALYSES: dict[str, dict] = {
    "biomass-time": {"role": "primary", "meta_regression": {"moderators": ["time"]}},
    "biomass-time-z": {"role": "sensitivity", "meta_regression": {"moderators": ["time"], "test": "z"}},
    "biomass-method": {"role": "sensitivity", "subgroups": "method", "meta_regression": {"moderators": ["method"]}},
    "biomass-method-z": {"role": "sensitivity", "meta_regression": {"moderators": ["method"], "test": "z"}},
    "biomass-time-method": {"role": "sensitivity", "meta_regression": {"moderators": ["time", "method"]}},
    "biomass-time-method-z": {
        "role": "sensitivity",
        "meta_regression": {"moderators": ["time", "method"], "test": "z"},
    },
}


def study_id(i: int) -> str:
    return f"exp-{CURTIS['study'][i]}"


def _study(i: int, characteristics: bool = True) -> dict:
    group = {"mean": "m1i", "sd": "sd1i", "total": "n1i"}
    study: dict = {
        "id": study_id(i),
        "label": f"Experiment {CURTIS['study'][i]}",
        "source_table": "clinical-studies",
        "citation": {"authors": ["Curtis PS", "Wang X"], "year": 1998, "provenance": PROVENANCE},
        "design": {"category": "rct", "as_labelled_by_review": "experiment", "provenance": PROVENANCE},
        "registry": {"id": None, "provenance": PROVENANCE},
        "location": {"country": "Not reported", "provenance": PROVENANCE},
        "arms": [
            {
                "id": "elevated",
                "label": "Elevated CO2",
                "role": "experimental",
                "n": CURTIS["n1i"][i],
                "provenance": PROVENANCE,
            },
            {
                "id": "ambient",
                "label": "Ambient CO2",
                "role": "control",
                "n": CURTIS["n2i"][i],
                "provenance": PROVENANCE,
            },
        ],
        "outcomes": {
            "biomass": {
                "published": {
                    "unit": "g",
                    "experimental": {"arm": "elevated", **{k: CURTIS[v][i] for k, v in group.items()}},
                    "control": {
                        "arm": "ambient",
                        "mean": CURTIS["m2i"][i],
                        "sd": CURTIS["sd2i"][i],
                        "total": CURTIS["n2i"][i],
                    },
                    "provenance": PROVENANCE,
                }
            }
        },
    }
    if characteristics:
        study["characteristics"] = {
            "time": {"value": CURTIS["time"][i], "provenance": PROVENANCE},
            "method": {"value": CURTIS["method"][i], "provenance": PROVENANCE},
        }
    return study


def review(analyses: dict[str, dict] | None = None, k: int | None = None) -> dict:
    n = len(CURTIS["study"]) if k is None else k
    return {
        "id": "curtis-review",
        "title": "Elevated CO2 and woody plant biomass: a test review",
        "short_title": "CO2 and biomass",
        "version": "1.0",
        "date": "2026-11-01",
        "living": {"last_search": "2026-10-01", "next_update": "never", "trigger": "a test"},
        "authors": ["Test author"],
        "source_review": {"authors": ["Curtis PS", "Wang X"], "year": 1998, "provenance": PROVENANCE},
        "question": {
            "population": "woody plants",
            "intervention": "elevated CO2",
            "comparator": "ambient CO2",
            "outcomes": "biomass",
        },
        "outcomes": [
            {
                "id": "biomass",
                "label": "Total biomass",
                "type": "continuous",
                "unit": "g",
                "direction": "higher-is-better",
            }
        ],
        "flow": {
            "records_identified": n,
            "records_excluded": 0,
            "full_texts_assessed": n,
            "full_texts_excluded": 0,
            "provenance": PROVENANCE,
        },
        "characteristics": [
            {"id": "time", "label": "Exposure", "type": "continuous", "unit": "days"},
            {"id": "method", "label": "Method", "type": "categorical", "levels": ["GC", "GH", "OTC"]},
        ],
        "analyses": [
            {"id": aid, "title": aid.replace("-", " ").capitalize(), **BASE_ANALYSIS, **extra}
            for aid, extra in (ANALYSES if analyses is None else analyses).items()
        ],
        "experimental_label": "Elevated",
        "control_label": "Ambient",
    }


def write(
    out: Path, analyses: dict[str, dict] | None = None, k: int | None = None, assets: bool = False, edit=None
) -> Path:
    """The project in `out`: the first `k` experiments (all by default); `edit(review, studies)` may change the
    dicts before they are written."""
    n = len(CURTIS["study"]) if k is None else k
    rev = review(analyses, n)
    studies = [_study(i) for i in range(n)]
    if edit is not None:
        edit(rev, studies)
    (out / "data" / "studies").mkdir(parents=True)
    (out / "data" / "review.yaml").write_text(yaml.safe_dump(rev, sort_keys=False), encoding="utf-8")
    for s in studies:
        (out / "data" / "studies" / f"{s['id']}.yaml").write_text(yaml.safe_dump(s, sort_keys=False), encoding="utf-8")
    if assets:
        for name in ("templates", "docs", "mkdocs.yml"):
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, out / name, dirs_exist_ok=True)
            else:
                shutil.copy2(src, out / name)
    return out
