"""Hostile input (issue 15), points 6 and 8: what is in data/ and around it on disk: only regular files of a
bounded size are read; faults around the data give a message, not a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from support import review, study, unchanged


class TestOnlyRegularFilesAreRead:
    """A FIFO, a device, a folder or a link out of the project in data/ is refused with its name (exit 1),
    without blocking or reading it."""

    def _run(self, project: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [os.sys.executable, "-m", "builder.cli", "-C", str(project), "check"],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def test_a_fifo(self, project):
        os.mkfifo(project / "data/studies/zz.yaml")
        proc = self._run(project)
        assert proc.returncode == 1 and "data/studies/zz.yaml: (file): is not a regular file" in proc.stderr

    def test_a_link_to_a_device(self, project):
        (project / "data/studies/zz.yaml").symlink_to("/dev/zero")
        proc = self._run(project)
        assert proc.returncode == 1 and "data/studies/zz.yaml: (file): is a link to something outside" in proc.stderr

    def test_a_link_out_of_the_project(self, project, tmp_path):
        outside = tmp_path / "elsewhere.yaml"
        shutil.copy(study(project), outside)
        study(project).unlink()
        study(project).symlink_to(outside)
        proc = self._run(project)
        assert (
            proc.returncode == 1 and "data/studies/shu-2020.yaml: (file): is a link to something outside" in proc.stderr
        )

    def test_a_folder_named_like_astudy(self, project):
        (project / "data/studies/zz.yaml").mkdir()
        proc = self._run(project)
        assert proc.returncode == 1 and "data/studies/zz.yaml: (file): is a folder" in proc.stderr

    def test_a_link_inside_the_project_is_read(self, project):
        target = project / "data/shu.yaml.txt"
        shutil.move(study(project), target)
        study(project).symlink_to(target)
        proc = self._run(project)
        assert proc.returncode == 0, proc.stderr


class TestFileSizeIsCapped:
    def test_a_huge_file_is_refused_unread(self, project, capsys):
        with study(project).open("a", encoding="utf-8") as f:
            f.write("# " + "x" * 3_000_000 + "\n")
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and "data/studies/shu-2020.yaml: (file): file is over 2,000,000 bytes" in out, out


class TestNoTraceback:
    """Point 8 of the issue: faults around the data give a message, not a traceback."""

    def test_new_study_without_a_studies_folder(self, project, capsys):
        shutil.rmtree(project / "data/studies")
        code, out = review(project, "new-study", "smith-2024", capsys=capsys)
        assert code == 0 and (project / "data/studies/smith-2024.yaml").is_file(), out

    def test_new_study_outside_a_project(self, tmp_path, capsys):
        code, out = review(tmp_path, "new-study", "smith-2024", capsys=capsys)
        assert code == 2 and "not a review project" in out

    def test_a_leftover_site_old_is_left_alone(self, project, capsys):
        (project / "site.old").mkdir()
        (project / "site.old/x").write_text("x", encoding="utf-8")
        os.chmod(project / "site.old", 0o500)
        try:
            code, out = review(project, "build", capsys=capsys)
        finally:
            os.chmod(project / "site.old", 0o700)
        assert code == 0, out
        assert (project / "site.old/x").exists() and (project / "site/index.html").is_file()
