"""`review init`: a new, empty review project that builds at once.

The project gets its data (`data/review.yaml`, commented, valid as written; an empty `data/studies/`), a
README and a Makefile naming the commands, an `mkdocs.yml` that says how to override the tool's site
configuration, and a `.gitignore`. It gets no copies of the templates or site assets: those are the tool's
own (see builder.contract.project), so that upgrading the tool upgrades the review's pages without a merge.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
from pathlib import Path

from builder.contract.project import TOOL_HOME
from builder.report.pages import environment

SKELETON = TOOL_HOME / "templates" / "new-review"


class InitError(Exception):
    """The folder cannot take a new project; nothing was written."""


def review_id(folder: Path) -> str:
    """A review id made from the folder's name: lower-case letters, digits and hyphens."""
    slug = re.sub(r"[^a-z0-9]+", "-", folder.name.lower()).strip("-")[:64].strip("-")
    return slug if slug and slug[0].isalnum() else "my-review"


def files(folder: Path, today: dt.date) -> dict[str, str]:
    """The new project's files, by path relative to its folder."""
    env = environment(SKELETON)
    context = {"id": review_id(folder), "today": today.isoformat()}
    return {
        "data/review.yaml": env.get_template("review.yaml.j2").render(**context),
        "data/studies/.gitkeep": "",
        "README.md": env.get_template("README.md.j2").render(**context),
        "Makefile": (SKELETON / "Makefile").read_text(encoding="utf-8"),
        "mkdocs.yml": (SKELETON / "mkdocs.yml").read_text(encoding="utf-8"),
        ".gitignore": (SKELETON / "gitignore").read_text(encoding="utf-8"),
    }


def init(folder: Path, today: dt.date | None = None) -> list[Path]:
    """Write a new project into `folder`, which must not exist or be empty; return the files written.
    InitError, before anything is written, for a folder that has anything in it or is not a folder.

    The project is written beside `folder` under a hidden name and renamed into place, so that a failure
    halfway (a full disk) leaves no half-written project; into an existing empty folder (which may be the
    current one) its entries are renamed one by one."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise InitError(f"{folder} exists and is not a folder; choose a new folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise InitError(f"{folder} exists and is not empty; choose a new or empty folder (nothing was written)")
    contents = files(folder, today or dt.date.today())
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.init-", dir=folder.parent))
    try:
        for rel, text in contents.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staging.chmod(0o777 & ~_umask())
        if folder.is_dir():  # an empty folder, perhaps the current one: filled, not replaced
            for entry in sorted(staging.iterdir()):
                os.rename(entry, folder / entry.name)
            staging.rmdir()
        else:
            os.rename(staging, folder)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [folder / rel for rel in contents]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
