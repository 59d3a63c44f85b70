"""An MkDocs process started ahead of its run behaves as `python -m mkdocs` (builder.publish.mkdocs_warm)."""

from __future__ import annotations

import subprocess
import sys

from builder.publish.mkdocs_warm import Warm


def test_a_warm_process_runs_one_mkdocs_command_like_the_command_line():
    warm = Warm()
    try:
        done = warm.run(["--version"], {})
        plain = subprocess.run([sys.executable, "-m", "mkdocs", "--version"], capture_output=True, text=True)
        assert done is not None and done.returncode == plain.returncode == 0
        # The same MkDocs (`python -m mkdocs` names itself so; the warm process says `mkdocs`).
        assert done.stdout.split(", version", 1)[1] == plain.stdout.split(", version", 1)[1]
        assert warm.run(["--version"], {}) is None  # one run per process: the caller starts MkDocs itself
    finally:
        warm.close()


def test_mkdocs_status_and_errors_come_back(tmp_path):
    warm = Warm()
    try:
        done = warm.run(["build", "--strict", "-f", str(tmp_path / "missing.yml")], {"SOURCE_DATE_EPOCH": "0"})
        assert done is not None and done.returncode != 0
        assert "missing.yml" in done.stdout + done.stderr
    finally:
        warm.close()


def test_an_unused_warm_process_is_ended():
    warm = Warm()
    proc = warm._proc
    warm.close()
    assert proc.poll() is not None and warm.run(["--version"], {}) is None
