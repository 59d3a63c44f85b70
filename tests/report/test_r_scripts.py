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


def test_mantel_haenszel_random_script_takes_tau2_from_the_mh_q(tmp_path):
    """RevMan's "M-H, Random" (method MH, tau2 DL, Wald interval; what `review import` writes for it): the script
    computes tau² from the Mantel-Haenszel Q as the site does. On these trials plain DerSimonian-Laird gives tau²
    0.3457 and OR 1.9871 against the site's 0.361 and 2.0033, so the 1e-3 tolerance tells them apart."""
    from conftest import TODAY, copy_project

    from builder.analysis.run import run_all
    from builder.contract.project import template_dirs
    from builder.ingest.loader import load
    from builder.report.pages import analysis_scripts, environment

    project = copy_project(tmp_path / "project")
    review = project / "data/review.yaml"
    text = review.read_text(encoding="utf-8")
    fixed = "  - id: survival-fixed-mh\n"
    start = text.index(fixed)
    block = text[start : text.index("  - id:", start + len(fixed))]
    assert "    model: fixed\n" in block
    random = block.replace("    model: fixed\n", "    model: random\n    tau2: DL\n    ci_method: wald\n")
    review.write_text(text.replace(block, random), encoding="utf-8")
    data = load(project / "data", today=TODAY)
    result = next(r for r in run_all(data) if r.spec.id == "survival-fixed-mh")
    assert (result.spec.model, result.spec.method, result.spec.tau2, result.spec.interval) == (
        "random",
        "MH",
        "DL",
        "wald",
    )
    out = tmp_path / "downloads"
    out.mkdir()
    for name, body in analysis_scripts(environment(template_dirs(project)), result, data.review).items():
        (out / name).write_text(body, encoding="utf-8")
    proc = subprocess.run(["Rscript", "survival-fixed-mh.R"], cwd=out, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"estimate (\S+) \[(\S+), (\S+)\], p = (\S+)", proc.stdout)
    assert m, proc.stdout
    f = result.fit
    for printed, ours in zip(m.groups()[:3], (f.estimate, f.ci_low, f.ci_high)):
        assert float(printed) == pytest.approx(math.exp(ours), rel=1e-3, abs=1e-4)
    assert float(m.group(4)) == pytest.approx(f.p, rel=1e-3)
    q = re.search(r"^Mantel-Haenszel Q (\S+) \(df = (\d+)\), tau2 (\S+)$", proc.stdout, re.M)
    assert q, proc.stdout
    assert float(q.group(1)) == pytest.approx(f.heterogeneity.q, rel=1e-3)
    assert int(q.group(2)) == f.heterogeneity.q_df
    assert float(q.group(3)) == pytest.approx(f.heterogeneity.tau2, rel=1e-4)  # six digits printed
