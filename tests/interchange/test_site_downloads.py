"""The site offers each analysis's meta script beside its metafor script, from this version on: the versions
released before keep their pages and downloads as they were."""

from __future__ import annotations

from pathlib import Path


def test_meta_scripts_in_the_latest_version_only(built: Path):
    site = built / "site"
    latest = sorted(p.name for p in (site / "downloads").glob("*.meta.R"))
    assert latest and all((site / "downloads" / n.replace(".meta.R", ".R")).is_file() for n in latest)
    page = (site / "outcomes" / "survival.html").read_text(encoding="utf-8")
    assert 'with meta: <a href="../downloads/survival-primary.meta.R">script</a>' in page
    for version in ("v1.0", "v1.1"):
        assert not list((site / version / "downloads").glob("*.meta.R"))
        assert "with meta:" not in (site / version / "outcomes" / "survival.html").read_text(encoding="utf-8")


def test_meta_script_names_its_settings(built: Path):
    text = (built / "site" / "downloads" / "survival-primary.meta.R").read_text(encoding="utf-8")
    assert "library(meta)" in text and 'read.csv("survival-primary.csv")' in text
    assert 'method.tau = "REML"' in text and 'method.random.ci = "HK"' in text and "prediction = TRUE" in text
    legacy = (built / "site" / "downloads" / "survival-reproduction.meta.R").read_text(encoding="utf-8")
    assert "use_random <- m$I2 > 0.5" in legacy and 'method = "MH"' in legacy
