"""A review project of the 16 trials of metadat's dat.egger2001 (magnesium after myocardial infarction), written
for the tests of the influence and small-study follow-ups: the repository's review.yaml with its outcomes, plan,
flow and prose replaced, and one study file per trial with the 2x2 table tests/reference/followups.json holds."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from alignment import load_reference
from conftest import ROOT

TRIALS = load_reference("followups")["datasets"]["egger2001"]

PROVENANCE = {"kind": "extracted", "source": "metadat dat.egger2001 (Egger et al. 2001)"}


def _study(i: int) -> dict:
    inputs = TRIALS["inputs"]
    n1, n2 = int(inputs["n1i"][i]), int(inputs["n2i"][i])
    sid = f"trial-{i + 1:02d}"
    return {
        "id": sid,
        "label": f"{inputs['study'][i]} {i + 1}",
        "source_table": "clinical-studies",
        "source_ref": i + 1,
        "citation": {
            "authors": ["Investigators"],
            "title": f"Trial {i + 1} of magnesium after myocardial infarction",
            "journal": "A journal",
            "year": 1980 + i,
            "provenance": PROVENANCE,
        },
        "design": {"category": "rct", "as_labelled_by_review": "randomised trial", "provenance": PROVENANCE},
        "registry": {"id": None, "provenance": PROVENANCE},
        "location": {"country": "United Kingdom", "provenance": PROVENANCE},
        "arms": [
            {"id": "mg", "label": "Magnesium", "role": "experimental", "n": n1, "provenance": PROVENANCE},
            {"id": "ctl", "label": "Control", "role": "control", "n": n2, "provenance": PROVENANCE},
        ],
        "outcomes": {
            "mortality": {
                "published": {
                    "experimental": {"arm": "mg", "total": n1, "events": int(inputs["ai"][i])},
                    "control": {"arm": "ctl", "total": n2, "events": int(inputs["ci"][i])},
                    "provenance": PROVENANCE,
                }
            }
        },
    }


def write_project(folder: Path) -> Path:
    """A review of the 16 trials: the repository's review.yaml with its outcomes, plan, flow and prose replaced."""
    for part in ("templates", "docs"):
        shutil.copytree(ROOT / part, folder / part)
    (folder / "mkdocs.yml").write_bytes((ROOT / "mkdocs.yml").read_bytes())
    review = yaml.safe_load((ROOT / "data" / "review.yaml").read_text(encoding="utf-8"))
    k = len(TRIALS["inputs"]["ai"])
    review.update(
        outcomes=[
            {
                "id": "mortality",
                "label": "Mortality",
                "type": "dichotomous",
                "event": "dead at the end of follow-up",
                "direction": "lower-is-better",
            }
        ],
        analyses=[
            {
                "id": "mortality-primary",
                "outcome": "mortality",
                "role": "primary",
                "title": "Mortality, random effects",
                "measure": "OR",
                "model": "random",
                "tau2": "REML",
                "ci_method": "hksj",
                "datasets": ["published"],
                "studies": [f"trial-{i + 1:02d}" for i in range(k)],
            }
        ],
        flow={
            "records_identified": 100,
            "records_excluded": 100 - k,
            "full_texts_assessed": k,
            "full_texts_excluded": 0,
            "provenance": PROVENANCE,
        },
        narrative={},
        certainty=[],
    )
    (folder / "data" / "studies").mkdir(parents=True)
    (folder / "data" / "review.yaml").write_text(yaml.safe_dump(review, allow_unicode=True), encoding="utf-8")
    for i in range(k):
        (folder / "data" / "studies" / f"trial-{i + 1:02d}.yaml").write_text(
            yaml.safe_dump(_study(i), allow_unicode=True), encoding="utf-8"
        )
    return folder
