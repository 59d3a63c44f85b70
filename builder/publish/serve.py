"""`review serve`: MkDocs' live-reload server, plus a watcher that re-renders when the data changes."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from builder.errors import DataError
from builder.ingest.loader import load
from builder.publish.build import render

WATCHED = ("data", "templates", "docs", "mkdocs.yml")


def _signature(project: Path) -> tuple:
    items = []
    for name in WATCHED:
        root = project / name
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        items += [(str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths]
    return tuple(items)


def _sync(new: Path, target: Path) -> None:
    """Copy changed files into `target` and delete the ones that went away, so the server sees edits."""
    seen = set()
    for path in sorted(new.rglob("*")):
        rel = path.relative_to(new)
        seen.add(rel)
        dest = target / rel
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        elif not dest.exists() or dest.read_bytes() != path.read_bytes():
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(path.read_bytes())
    for path in sorted(target.rglob("*"), reverse=True):
        if path.relative_to(target) not in seen:
            path.unlink() if path.is_file() else path.rmdir()


def _render_into(project: Path, target: Path) -> bool:
    try:
        data = load(project / "data")
    except DataError as exc:
        print("The data has problems; the preview keeps the last good version:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return False
    with tempfile.TemporaryDirectory() as tmp:
        render(project, data, Path(tmp) / "src")
        target.mkdir(parents=True, exist_ok=True)
        _sync(Path(tmp) / "src", target)
    return True


def serve(project: Path, dev_addr: str) -> int:
    target = project / "build" / "serve"
    if not _render_into(project, target):
        return 1
    server = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "-f", str(target / "mkdocs.yml"), "-a", dev_addr, "--livereload"]
    )
    signature = _signature(project)
    try:
        while server.poll() is None:
            time.sleep(1.0)
            current = _signature(project)
            if current != signature:
                signature = current
                if _render_into(project, target):
                    print("Re-rendered from data/ and templates/.", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        server.terminate()
        server.wait()
    return 0
