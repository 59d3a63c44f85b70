"""Shared fixtures: a private copy of the project, and one site built from it for the whole session; and the
markers each test gets from what it needs (see pyproject.toml: build, browser, r, slow)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT_PARTS = ("data", "templates", "docs", "mkdocs.yml", "versions")
TODAY = dt.date(2026, 12, 1)  # fixed so that "dates in the future" checks do not depend on the calendar


def copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        src = ROOT / part
        if not src.exists():
            continue
        if src.is_dir():
            shutil.copytree(src, dest / part)
        else:
            shutil.copy2(src, dest / part)
    return dest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """A project copy with its site built once; tests must not modify it."""
    from builder.publish.build import build

    project = copy_project(tmp_path_factory.mktemp("built") / "project")
    build(project, today=TODAY)
    return project


# Tests that build a site themselves (not only through the `built` fixture), by module.
BUILDS = {
    "publish",
    "test_versions.py",
    "test_forest.py",
    "test_followplots.py",
    "test_inline.py",
    "test_narrative.py",
    "test_r_scripts.py",
    "test_sof.py",
    "test_synthetic_outcomes.py",
}
# The few tests that take seconds each: a real browser, R, and the byte-for-byte rebuild comparisons.
SLOW = {"test_browser.py", "test_r_scripts.py", "test_incremental.py", "test_site.py"}


def pytest_collection_modifyitems(items):
    for item in items:
        path = Path(str(item.fspath))
        if "built" in item.fixturenames or path.name in BUILDS or path.parent.name in BUILDS:
            item.add_marker(pytest.mark.build)
        if path.name == "test_browser.py":
            item.add_marker(pytest.mark.browser)
        if path.name == "test_r_scripts.py":
            item.add_marker(pytest.mark.r)
        if path.name in SLOW:
            item.add_marker(pytest.mark.slow)
