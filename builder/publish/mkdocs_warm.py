"""An MkDocs process started before its sources exist, so that its start-up overlaps the builder's own work.

Starting MkDocs (the interpreter, MkDocs, the theme, the search plugin, the Markdown extensions) takes a
third of a second or more, a quarter of an incremental run. `Warm()` starts `python -m builder.publish.mkdocs_warm`,
which imports all that and waits; `Warm.run(args, env)` hands it the arguments of one `mkdocs` command and
the environment to add, and it runs MkDocs' own command line with them, exactly as `python -m mkdocs ...`
would, with MkDocs' exit status and output. A warm process serves one run; `close()` ends it if no run came.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

# What a site's build imports in any case: MkDocs, the Material theme and its search plugin, the Markdown
# extensions of mkdocs.yml. A module that is missing is left for MkDocs itself to report.
PRELOAD = (
    "mkdocs.commands.build",
    "mkdocs.config.defaults",
    "mkdocs.structure.pages",
    "material",
    "material.plugins.search.plugin",
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


class Warm:
    def __init__(self):
        self._lock = threading.Lock()
        self._env = dict(os.environ)  # the process's environment; a run sends what differs from it
        try:
            self._proc: subprocess.Popen | None = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except OSError:
            self._proc = None

    def run(self, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess | None:
        """MkDocs run with `args` in the warm process, or None if it is gone or already used."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return None
        added = {k: v for k, v in env.items() if self._env.get(k) != v}
        try:
            out, err = proc.communicate(json.dumps({"args": args, "env": added}) + "\n")
        except OSError:
            proc.kill()
            proc.wait()
            return None
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.communicate()


def _main() -> int:
    import importlib

    import mkdocs.__main__ as cli_module

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    request = json.loads(line)
    os.environ.update(request["env"])
    sys.argv = ["mkdocs", *request["args"]]
    cli_module.cli(prog_name="mkdocs")  # exits with MkDocs' status
    return 0


if __name__ == "__main__":
    sys.exit(_main())
