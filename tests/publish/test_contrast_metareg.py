"""An analysis whose studies give contrast-level estimates, with a declared meta-regression: its published metafor
script (the yi and vi template) refits the meta-regression and the influence diagnostics the site shows.

The project is metareg_project's curtis1998 experiments, every other one rewritten as a contrast-level ratio of
means (its log ratio and standard error, computed from its arms as metafor's escalc does), so that the script
assembles yi and vi from both kinds of rows."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import metareg_project as mp
import pytest
from conftest import TODAY

from builder.publish.build import build

ANALYSES = {"biomass-time": {"role": "primary", "meta_regression": {"moderators": ["time"]}}}
METHOD = {"biomass-method": {"role": "primary", "meta_regression": {"moderators": ["method"]}}}
K = 30


def _as_contrast(study: dict) -> None:
    ds = study["outcomes"]["biomass"]["published"]
    e, c = ds["experimental"], ds["control"]
    yi = math.log(e["mean"] / c["mean"])
    vi = e["sd"] ** 2 / (e["total"] * e["mean"] ** 2) + c["sd"] ** 2 / (c["total"] * c["mean"] ** 2)
    ds["experimental"] = {"arm": e["arm"], "total": e["total"]}
    ds["control"] = {"arm": c["arm"], "total": c["total"]}
    ds["contrast"] = {"measure": "ROM", "estimate": math.exp(yi), "se": math.sqrt(vi)}


def _edit(review: dict, studies: list[dict]) -> None:
    for s in studies[::2]:
        _as_contrast(s)


def _site(out: Path, analyses: dict) -> Path:
    project = mp.write(out, analyses, k=K, assets=True, edit=_edit)
    build(project, site=project / "site", today=TODAY)
    return project / "site"


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> dict[str, Path]:
    return {
        "biomass-time": _site(tmp_path_factory.mktemp("time"), ANALYSES),
        "biomass-method": _site(tmp_path_factory.mktemp("method"), METHOD),
    }


def _results(site: Path, aid: str) -> dict:
    doc = json.loads((site / "results.json").read_text(encoding="utf-8"))
    return next(a for a in doc["analyses"] if a["id"] == aid)


def test_script_of_contrast_data_carries_the_meta_regression(sites: dict[str, Path]):
    for aid, site in sites.items():
        a = _results(site, aid)
        assert a["meta_regression"]["fit"] is not None and a.get("influence", {}).get("studies")
        text = (site / "downloads" / f"{aid}.R").read_text(encoding="utf-8")
        assert "d$vi <- d$sei^2" in text  # the yi template, not the per-arm one
        column = "mod_" + aid.removeprefix("biomass-")
        assert f"mr <- rma(yi, vi, data = d, mods = ~ {column}, " in text
        assert 'test = "knha"' in text and "influence(fit)" in text
        header = (site / "downloads" / f"{aid}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header.endswith("," + column)
    method = (sites["biomass-method"] / "downloads" / "biomass-method.R").read_text(encoding="utf-8")
    assert 'd$mod_method <- droplevels(factor(d$mod_method, levels = c("GC", "GH", "OTC")))' in method


R_MISSING = (
    shutil.which("Rscript") is None
    or subprocess.run(["Rscript", "-e", "library(metafor)"], capture_output=True).returncode != 0
)


@pytest.mark.r
@pytest.mark.skipif(R_MISSING, reason="Rscript with metafor is not installed")
def test_published_script_of_contrast_data_prints_the_sites_numbers(sites: dict[str, Path], tmp_path: Path):
    for aid, site in sites.items():
        a = _results(site, aid)
        downloads = shutil.copytree(site / "downloads", tmp_path / aid)  # R writes Rplots.pdf beside the script
        proc = subprocess.run(["Rscript", f"{aid}.R"], cwd=downloads, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        m = re.search(r"meta-regression QM (\S+), p = (\S+), tau2 (\S+), R2 (\S+)", proc.stdout)
        assert m, proc.stdout
        fit = a["meta_regression"]["fit"]
        # printed to 4 decimals (QM, R2), 4 significant digits (p) and 6 (tau2)
        assert float(m.group(1)) == pytest.approx(fit["test_of_moderators"]["statistic"], abs=1e-4), aid
        assert float(m.group(2)) == pytest.approx(fit["test_of_moderators"]["p"], rel=1e-3), aid
        assert float(m.group(3)) == pytest.approx(fit["residual_heterogeneity"]["tau2"], rel=1e-5, abs=1e-9), aid
        assert fit["tau2_without_moderators"] > 1e-10  # else metafor's R2 is of rounding noise (test_metareg_site)
        assert float(m.group(4)) == pytest.approx(fit["r2"], abs=1e-4), aid
        flagged = re.search(r"^influential: (.*)$", proc.stdout, re.M)
        assert flagged and a["influence"]["influential"], proc.stdout  # one study of the 30 is flagged
        labels = {s["id"]: s["label"] for s in a["studies"]}
        assert flagged.group(1) == "; ".join(labels[i] for i in a["influence"]["influential"]), aid
