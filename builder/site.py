"""Build the site: data -> Markdown -> MkDocs, into a staging folder swapped in only on success."""

from __future__ import annotations

import datetime as dt
import html
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from . import analysis, pages
from .loader import ReviewData, load


class BuildError(Exception):
    pass


def epoch(day: dt.date) -> str:
    return str(int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp()))


def site_config(project: Path, nav: list, site_name: str) -> dict:
    config = yaml.safe_load((project / "mkdocs.yml").read_text(encoding="utf-8"))
    config["site_name"] = html.escape(site_name)   # themes print it unescaped
    config["docs_dir"] = "docs"
    config["nav"] = nav
    config.pop("site_dir", None)
    return config


def render(project: Path, data: ReviewData, out: Path) -> Path:
    """Write the Markdown sources and the MkDocs configuration into `out`; return the config file."""
    docs = out / "docs"
    shutil.copytree(project / "docs", docs)
    results = analysis.run_all(data)
    nav = pages.render_site(data, results, project / "templates", docs)
    config = site_config(project, nav, data.review.short_title)
    path = out / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def mkdocs_build(config: Path, site_dir: Path, day: dt.date, engine: str = "mkdocs") -> None:
    env = dict(os.environ, SOURCE_DATE_EPOCH=epoch(day))
    if engine == "mkdocs":
        cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f", str(config),
               "-d", str(site_dir)]
    else:  # zensical reads the same configuration
        cmd = [str(Path(sys.executable).with_name("zensical")), "build", "--clean", "-f", str(config)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{engine} build failed:\n{proc.stdout}{proc.stderr}")


def build(project: Path, site: Path | None = None, today: dt.date | None = None) -> ReviewData:
    """Validate, compute, render and build. The previous `site/` and `build/` stay until all succeeded."""
    project = Path(project).resolve()
    site = Path(site or project / "site").resolve()
    data = load(project / "data", today=today)
    build_dir = project / "build"
    build_dir.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=build_dir))
    try:
        config = render(project, data, staging / "src")
        mkdocs_build(config, staging / "site", data.review.date)
        _swap(staging / "src", build_dir / "current")
        _swap(staging / "site", site)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return data


def _swap(new: Path, target: Path) -> None:
    """Replace `target` with `new` by renames, so a reader never sees a half-written folder for long."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    shutil.move(str(new), str(target))
    shutil.rmtree(old, ignore_errors=True)
