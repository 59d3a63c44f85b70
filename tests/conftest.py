"""Shared fixtures: a private copy of the project, and one site built from it for the whole session."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT_PARTS = ("data", "templates", "docs", "mkdocs.yml", "versions")
TODAY = dt.date(2026, 11, 25)  # fixed so that "dates in the future" checks do not depend on the calendar


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
