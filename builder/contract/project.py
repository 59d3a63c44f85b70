"""The files of a review project, and the tool's own site files that a project need not carry.

A project holds its data (`data/`, `versions/`). The page templates, the site's assets (`docs/`) and the
site configuration (`mkdocs.yml`) are the tool's own, read from the checkout the builder runs from, so that
upgrading the tool upgrades every review's pages without a merge. A project may still carry any of them:
a template file in its `templates/` replaces the tool's template of that name, a file in its `docs/` is
added to the site (or replaces the tool's file of that path), and a key in its `mkdocs.yml` replaces the
tool's key. The review this repository publishes carries the tool's own files, so for it nothing changes.
"""

from __future__ import annotations

from pathlib import Path

import yaml

# The checkout the builder runs from (the Makefile installs it in place, with `pip install -e .`).
TOOL_HOME = Path(__file__).resolve().parents[2]


def _is(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _layers(project: Path, name: str, project_first: bool) -> list[Path]:
    """The folders named `name` that feed the site: the project's and the tool's, each if it exists."""
    own, tool = project / name, TOOL_HOME / name
    layers = [own] if own.is_dir() else []
    if tool.is_dir() and not (layers and _is(own, tool)):
        layers.insert(len(layers) if project_first else 0, tool)
    return layers


def template_dirs(project: Path) -> list[Path]:
    """Where templates are looked up, in order: the project's own `templates/`, then the tool's."""
    return _layers(project, "templates", project_first=True)


def docs_dirs(project: Path) -> list[Path]:
    """The folders copied into the site's sources, in order, a later one's files replacing an earlier one's:
    the tool's `docs/`, then the project's."""
    return _layers(project, "docs", project_first=False)


def config_files(project: Path) -> list[Path]:
    """The site configuration files, in order, a later one's keys replacing an earlier one's."""
    own, tool = project / "mkdocs.yml", TOOL_HOME / "mkdocs.yml"
    files = [tool] if tool.is_file() else []
    if own.is_file() and not (files and _is(own, tool)):
        files.append(own)
    return files


def site_config(project: Path) -> dict:
    """The MkDocs configuration before the builder adds the navigation: the tool's, then the project's keys."""
    config: dict = {}
    for path in config_files(project):
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        config.update(loaded if isinstance(loaded, dict) else {})
    return config


def site_files(project: Path) -> list[tuple[Path, list[Path]]]:
    """Every file besides the data that a site is made from, as (base, files), for hashing each file's path
    relative to its base (templates/..., docs/..., mkdocs.yml) and its content."""
    out = [(root.parent, sorted(p for p in root.rglob("*") if p.is_file())) for root in template_dirs(project)]
    out += [(root.parent, sorted(p for p in root.rglob("*") if p.is_file())) for root in docs_dirs(project)]
    out += [(path.parent, [path]) for path in config_files(project)]
    return out
