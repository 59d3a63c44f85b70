"""MkDocs run through its Python API in a process of its own, started before its sources exist so that its
start-up overlaps the builder's own work.

Starting MkDocs (the interpreter, MkDocs, the theme, the search plugin, the Markdown extensions) takes a
third of a second or more, a quarter of an incremental run. `Warm()` starts `python -m builder.publish.mkdocs_warm`,
which imports all that and waits; `Warm.run(request)` hands it one build (`request`: see `build_site`) and
returns its `Outcome`. A warm process serves one run; `close()` ends it if no run came. `run_fresh(request)`
runs one build the same way in a new process: runs of their own process can go side by side on several cores,
which runs in the builder's process could not (MkDocs is pure Python and holds the interpreter's lock).

The process answers with one JSON line: whether MkDocs built the site, and what it logged. A process that
gives no answer (it could not start, or died) is not taken for MkDocs reporting a problem in the site: the
caller runs the build again in a fresh process.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass

# What a site's build imports in any case: MkDocs, the Material theme and its search and offline plugins, the Markdown
# extensions of mkdocs.yml. A module that is missing is left for MkDocs itself to report.
PRELOAD = (
    "mkdocs.commands.build",
    "mkdocs.config.defaults",
    "mkdocs.structure.pages",
    "builder.publish.mkdocs_plugin",
    "material",
    "material.plugins.search.plugin",
    "material.plugins.offline.plugin",
    "markdown.extensions.toc",
    "markdown.extensions.tables",
    "markdown.extensions.md_in_html",
    "markdown.extensions.attr_list",
    "markdown.extensions.admonition",
    "markdown.extensions.footnotes",
    "markdown.extensions.def_list",
    "markdown.extensions.abbr",
    "pymdownx.superfences",
    "pymdownx.details",
    "pymdownx.tabbed",
)


@dataclass
class Outcome:
    ok: bool
    log: str  # MkDocs' warnings and errors, and why it stopped


class Warm:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        try:
            self._proc: subprocess.Popen | None = _start()
        except OSError:
            self._proc = None

    def run(self, request: dict) -> Outcome | None:
        """The build `request` run in the warm process, or None if it is gone, already used or gave no answer."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return None
        return _ask(proc, request)[0]

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.communicate()


def run_fresh(request: dict) -> Outcome:
    """The build `request` run in a new process."""
    proc = _start()
    outcome, err = _ask(proc, request)
    if outcome is None:
        return Outcome(False, f"the MkDocs process gave no answer (exit status {proc.returncode}):\n{err}")
    return outcome


def _start() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", __name__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ask(proc: subprocess.Popen, request: dict) -> tuple[Outcome | None, str]:
    """The process's answer to `request` (None if it gave none), and what it wrote to stderr."""
    try:
        out, err = proc.communicate(json.dumps(request) + "\n")
    except OSError:
        proc.kill()
        proc.wait()
        return None, ""
    lines = out.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return None, err
    return Outcome(bool(answer["ok"]), answer["log"] + err), err


def build_site(request: dict) -> Outcome:
    """One MkDocs build, strict, through its Python API: `request["config"]` (the configuration file) into
    `request["site_dir"]`, with the environment variables of `request["env"]` set, and, if
    `request["share"]` (a builder.publish.incremental.Share as JSON), the builder's plugin added."""
    from mkdocs.commands import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    from builder.publish.incremental import Share
    from builder.publish.mkdocs_plugin import NAME, SharePlugin

    env = request.get("env") or {}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s - %(message)s"))
    logger = logging.getLogger("mkdocs")
    logger.addHandler(handler)
    try:
        config = load_config(request["config"], site_dir=request["site_dir"], strict=True)
        if request.get("share") is not None:
            config.plugins[NAME] = SharePlugin(Share(**request["share"]))
        config.plugins.on_startup(command="build", dirty=False)
        try:
            build.build(config)
        finally:
            config.plugins.on_shutdown()
    except MkDocsException as exc:
        return Outcome(False, log.getvalue() + f"{type(exc).__name__}: {exc}\n")
    except Exception:  # a theme, extension or plugin that failed: MkDocs' verdict too, with where it failed
        return Outcome(False, log.getvalue() + traceback.format_exc())
    finally:
        logger.removeHandler(handler)
        for name, value in saved.items():  # as they were, when run in the builder's own process
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return Outcome(True, log.getvalue())


def _main() -> int:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    outcome = build_site(json.loads(line))
    sys.stdout.write("\n" + json.dumps({"ok": outcome.ok, "log": outcome.log}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
