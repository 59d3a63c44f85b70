"""The R script published beside each analysis runs with metafor and prints the numbers on the site.

R is not a dependency of the builder: where Rscript with metafor is missing, these tests are skipped with
that reason (`apt-get install r-cran-metafor` provides it).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("Rscript") is None
    or subprocess.run(["Rscript", "-e", "library(metafor)"], capture_output=True).returncode != 0,
    reason="Rscript with metafor is not installed",
)


def test_every_published_script_reproduces_its_analysis(built, tmp_path):
    doc = json.loads((built / "site/results.json").read_text(encoding="utf-8"))
    # R writes Rplots.pdf beside a script that draws (baujat): run a copy, never in the shared built site
    downloads = Path(shutil.copytree(built / "site/downloads", tmp_path / "downloads"))
    checked = influenced = 0
    for a in doc["analyses"]:
        script = downloads / f"{a['id']}.R"
        if a["pooled"] is None:
            assert not script.exists()
            continue
        proc = subprocess.run(["Rscript", script.name], cwd=downloads, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        m = re.search(r"estimate (\S+) \[(\S+), (\S+)\], p = (\S+)", proc.stdout)
        assert m, proc.stdout
        back = math.exp if a["scale"] == "log" else (lambda v: v)
        for printed, key in zip(m.groups()[:3], ("estimate", "ci_low", "ci_high")):
            assert float(printed) == pytest.approx(back(a["pooled"][key]), rel=1e-3, abs=1e-4), (a["id"], key)
        assert float(m.group(4)) == pytest.approx(a["pooled"]["p"], rel=1e-3)
        if a.get("influence", {}).get("studies"):  # the studies metafor's influence() flags are the site's
            flagged = re.search(r"^influential: (.*)$", proc.stdout, re.M)
            assert flagged, proc.stdout
            labels = {s["id"]: s["label"] for s in a["studies"]}
            assert flagged.group(1) == "; ".join(labels[i] for i in a["influence"]["influential"]), a["id"]
            influenced += 1
        checked += 1
    assert checked >= 7
    assert influenced >= 1
