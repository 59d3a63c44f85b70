"""Shared by the hostile-input battery (issue 15): the `unchanged` check, running `review` in this process,
and small edits of a project copy (see tests/conftest.py's `project` fixture for the copy itself)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from pathlib import Path

from builder.cli import main


def tree(root: Path) -> dict[str, str]:
    """Every entry under `root`: a file's digest, a link's target, or 'dir'."""
    if not root.exists() and not root.is_symlink():
        return {}
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_dir():
            out[rel] = "dir"
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[rel] = "special"
    return out


def state(project: Path) -> dict:
    return {part: tree(project / part) for part in ("site", "data", "versions")}


@contextlib.contextmanager
def unchanged(project: Path):
    """site/, data/ and versions/ are exactly as they were, byte for byte, after the block."""
    before = state(project)
    yield
    assert state(project) == before


def review(project: Path, *args: str, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["-C", str(project), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def study(project: Path, name: str = "shu-2020") -> Path:
    return project / "data/studies" / f"{name}.yaml"


def set_version(project: Path, version: str) -> None:
    path = project / "data/review.yaml"
    path.write_text(
        re.sub(r'(?m)^version: ".*"$', f'version: "{version}"', path.read_text(encoding="utf-8")), encoding="utf-8"
    )


def change_data(project: Path) -> None:
    edit(study(project), "    n: 29\n", "    n: 30\n")


def yaml_string(text: str) -> str:
    """`text` as a YAML double-quoted string (JSON's escapes are YAML's)."""
    return json.dumps(text)


def make_site(project: Path) -> Path:
    """A stand-in for a previous site in site/ (refusals happen before anything is built)."""
    (project / "site").mkdir()
    (project / "site/index.html").write_text("previous good site", encoding="utf-8")
    return project


def refused(project: Path, capsys, pattern: str, *args: str, code: int = 1) -> str:
    """`review ARGS` (default: check) exits with `code`, says something matching `pattern` (a regex), shows
    no traceback, and leaves site/, data/ and versions/ as they were."""
    with unchanged(project):
        got, out = review(project, *(args or ("check",)), capsys=capsys)
    assert got == code, out
    assert re.search(pattern, out), out
    assert "Traceback" not in out, out
    return out


def accepted(project: Path, capsys, *args: str) -> str:
    """`review ARGS` (default: check) succeeds; for check, without changing anything."""
    with unchanged(project):
        got, out = review(project, *(args or ("check",)), capsys=capsys)
    assert got == 0, out
    return out


def write(path: Path, text: str | bytes) -> None:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def append(path: Path, text: str) -> None:
    write(path, path.read_text(encoding="utf-8") + text)
