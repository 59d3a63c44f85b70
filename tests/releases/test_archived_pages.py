"""Released versions keep their published numbers and pages, byte for byte, while the builder changes; and the
1.2 draft's survival sensitivity rows are metafor's (tests/reference/sparse.json).

archived_pages.json holds the sha256 of every file of site/v1.0 and site/v1.1 but the theme's assets and the
JSON Schema of the current data model (which every change of the data model rewrites), as the build of main
wrote them before double-zero studies could count in a pooled estimate. A released version's pages also name
the latest version, so the digests hold only while that is the version they were taken with; to take them
again after a new version (from a site built before the change under test):

    python tests/releases/test_archived_pages.py site LATEST > tests/releases/archived_pages.json
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SKIPPED = ("assets", "schema")  # the theme's files; the current data model's JSON Schema


def digests(site: Path, version: str) -> dict[str, str]:
    folder = site / f"v{version}"
    return {
        p.relative_to(site).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] not in SKIPPED
    }


def _pinned() -> dict:
    return json.loads((HERE / "archived_pages.json").read_text(encoding="utf-8"))


def _latest(project: Path) -> str:
    import yaml

    return str(yaml.safe_load((project / "data/review.yaml").read_text(encoding="utf-8"))["version"])


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_released_versions_pages_are_unchanged(built, version):
    pinned = _pinned()
    if _latest(built) != pinned["latest"]:
        pytest.skip(f"the digests were taken with {pinned['latest']} as the latest version; take them again")
    expected = {path: digest for path, digest in pinned["files"].items() if path.startswith(f"v{version}/")}
    found = digests(built / "site", version)
    changed = sorted(p for p in set(expected) | set(found) if expected.get(p) != found.get(p))
    assert not changed, f"pages of released version {version} changed: {changed[:10]}"


def _survival_primary(document: dict) -> dict:
    return next(a for a in document["analyses"] if a["id"] == "survival-primary")


def test_released_versions_still_leave_double_zero_studies_out(built):
    """Version 1.1 (8 studies, 2 with everybody alive in both arms) as released: the risk difference of its
    panel is rma.mh's with drop00 = c(TRUE, TRUE), and the rows and settings of 1.2 are absent."""
    from alignment import load_reference

    ref = load_reference("sparse")["datasets"]["msc_survival_all"]["mh"]["RD_drop"]
    a = _survival_primary(json.loads((built / "site/v1.1/results.json").read_text(encoding="utf-8")))
    panel = {row["id"]: row for row in a["sensitivity"]}
    assert "risk-ratio" not in panel and "treatment-arm-correction" not in panel
    assert "double_zero_studies" not in a["settings"]
    rd = panel["risk-difference"]
    assert rd["k"] == ref["k"] == 6
    assert math.isclose(rd["pooled"]["estimate"], ref["beta"], rel_tol=1e-9)


# results.json rounds to 10 significant digits; Mantel-Haenszel fits are closed-form (see alignment.CLOSED_FORM)
RESULTS_JSON = 1e-9


@pytest.mark.parametrize("row_id, key", [("risk-ratio", "RR"), ("risk-difference", "RD")])
def test_the_draft_survival_rows_are_metafors(built, row_id, key):
    """The 1.2 draft's "Risk ratio / Risk difference (Mantel-Haenszel)" rows of the primary survival analysis
    keep Meng 2020 (everybody alive in both arms), as metafor's rma.mh does."""
    from alignment import load_reference

    ref = load_reference("sparse")["datasets"]["msc_survival_v1_2"]
    a = _survival_primary(json.loads((built / "site/results.json").read_text(encoding="utf-8")))
    # the R script's copy of the study data is the data the site pooled
    inputs = [s["inputs"] for s in a["studies"]]
    assert [s["id"] for s in a["studies"]] == ref["inputs"]["study"]
    for mine, theirs in (("events_exp", "ai"), ("total_exp", "n1i"), ("events_ctrl", "ci"), ("total_ctrl", "n2i")):
        assert [i[mine] for i in inputs] == ref["inputs"][theirs]
    row = next(r for r in a["sensitivity"] if r["id"] == row_id)
    mh = ref["mh"][key]
    assert row["k"] == mh["k"] == 6
    for ours, theirs in (("estimate", "beta"), ("se", "se"), ("ci_low", "ci_lb"), ("ci_high", "ci_ub"), ("p", "pval")):
        assert math.isclose(row["pooled"][ours], mh[theirs], rel_tol=RESULTS_JSON), ours


if __name__ == "__main__":
    site, latest = Path(sys.argv[1]), sys.argv[2]
    files = {**digests(site, "1.0"), **digests(site, "1.1")}
    print(json.dumps({"latest": latest, "files": files}, indent=1, sort_keys=True))
