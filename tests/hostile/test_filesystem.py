"""Hostile input (issue 15), points 6 and 8: what is in data/ and around it on disk: only regular files of a
bounded size are read; faults around the data give a message, not a traceback."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from support import accepted, append, refused, review, study, unchanged, write


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


STUDIES = "data/studies"


class TestLoopsOfLinks:
    def test_a_study_file(self, project, capsys):
        (project / STUDIES / "zz1.yaml").symlink_to(project / STUDIES / "zz2.yaml")
        (project / STUDIES / "zz2.yaml").symlink_to(project / STUDIES / "zz1.yaml")
        refused(project, capsys, r"data/studies/zz1\.yaml: \(file\): cannot read file: .*loop")

    def test_a_folder_inside_studies(self, project, capsys):
        (project / STUDIES / "again").symlink_to(project / STUDIES, target_is_directory=True)
        accepted(project, capsys)  # folders in data/studies are not read


class TestDanglingLinks:
    def test_a_study_file(self, project, capsys):
        (project / STUDIES / "zz.yaml").symlink_to(project / "data/nowhere.yaml")
        refused(project, capsys, r"data/studies/zz\.yaml: \(file\): cannot read file: No such file")


class TestSpecialFiles:
    """A socket, or a link to a device, named like a study: refused unread (test_a_fifo: a FIFO)."""

    def test_a_socket(self, project, capsys):
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.bind(str(project / STUDIES / "zz.yaml"))
            refused(project, capsys, r"data/studies/zz\.yaml: \(file\): (cannot read file|is not a regular file)")
        finally:
            sock.close()

    @pytest.mark.parametrize("device", ["/dev/null", "/dev/urandom", "/dev/stdin"])
    def test_a_link_to_a_device(self, project, capsys, device):
        (project / STUDIES / "zz.yaml").symlink_to(device)
        refused(project, capsys, r"data/studies/zz\.yaml: \(file\): is a link to something outside the project")


class TestReviewFileIsNotAFile:
    @pytest.mark.parametrize("kind", ["folder", "fifo", "link-out"])
    def test_refused_unread(self, project, capsys, kind, tmp_path):
        path = project / "data/review.yaml"
        path.unlink()
        if kind == "folder":
            path.mkdir()
            message = "is a folder"
        elif kind == "fifo":
            os.mkfifo(path)
            message = "is not a regular file"
        else:
            write(tmp_path / "review.yaml", "id: x\n")
            path.symlink_to(tmp_path / "review.yaml")
            message = "is a link to something outside the project"
        refused(project, capsys, r"data/review\.yaml: \(file\): " + message)


class TestReadOnlyData:
    """data/ and versions/ read-only (a checkout on a read-only mount): check reads them and writes nothing."""

    def test_accepted(self, project, capsys):
        paths = [p for part in ("data", "versions") for p in (project / part).rglob("*")]
        try:
            for p in paths:
                os.chmod(p, 0o555 if p.is_dir() else 0o444)
            accepted(project, capsys)
        finally:
            for p in paths:
                os.chmod(p, 0o755 if p.is_dir() else 0o644)


class TestFoldersInsideStudies:
    def test_ignored(self, project, capsys):
        (project / STUDIES / "old").mkdir()
        shutil.copy(study(project), project / STUDIES / "old/shu-2020.yaml")
        accepted(project, capsys)


class TestTemplateErrors:
    """A broken template stops the build with the template and line (exit 3), never a traceback, and the
    previous site stays (test_serve.py: the preview survives the same)."""

    @pytest.mark.parametrize(
        "change,message",
        [
            (lambda t: append(t, "\n{% if %}\n"), r"templates/study\.md\.j2:\d+: syntax error in the template"),
            (lambda t: append(t, "\n{% for x in %}\n"), r"templates/study\.md\.j2:\d+: syntax error in the template"),
            (
                lambda t: write(t, "{{ nope.x }}\n" + t.read_text(encoding="utf-8")),
                r"templates/study\.md\.j2:1: UndefinedError",
            ),
            (
                lambda t: append(t, "\n{% include 'nope.j2' %}\n"),
                r"templates/study\.md\.j2:\d+: TemplateNotFound .*nope\.j2",
            ),
        ],
        ids=["if", "for", "undefined", "include"],
    )
    def test_named(self, project, capsys, change, message):
        (project / "site").mkdir()
        write(project / "site/index.html", "previous site")
        change(project / "templates/study.md.j2")
        refused(project, capsys, message, "build", code=3)

    @pytest.mark.parametrize("broken", ["\n{% if %}\n", "\n{{ x | }}\n", "\n{% endfor %}\n"])
    def test_check_finds_a_syntax_error_too(self, project, capsys, broken):
        append(project / "templates/study.md.j2", broken)
        refused(project, capsys, r"templates/study\.md\.j2:\d+: syntax error in the template", code=3)


class TestSiteSourcesUnreadable:
    """What `review check` and `review build` both refuse before rendering (exit 3)."""

    @pytest.mark.parametrize(
        "change,message",
        [
            (
                lambda p: write(p / "templates/study.md.j2", b"\xff\xfe{{ x }}"),
                r"templates/study\.md\.j2: cannot be read as UTF-8",
            ),
            (lambda p: write(p / "mkdocs.yml", "site_name: [\n"), r"mkdocs\.yml:2: not valid YAML"),
            (lambda p: write(p / "mkdocs.yml", "- a\n"), r"mkdocs\.yml: expected a mapping"),
            (
                lambda p: append(p / "mkdocs.yml", "\nx: !!python/name:os.system\n"),
                r"mkdocs\.yml:\d+: not valid YAML .*python/name",
            ),
        ],
        ids=["template-utf16", "mkdocs-syntax", "mkdocs-list", "mkdocs-tag"],
    )
    @pytest.mark.parametrize("command", ["check", "build"])
    def test_named(self, project, capsys, change, message, command):
        change(project)
        refused(project, capsys, message, command, code=3)

    @pytest.mark.parametrize("part", ["templates", "docs", "mkdocs.yml"])
    def test_a_project_without_its_own_uses_the_tools(self, project, capsys, part):
        path = project / part
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        accepted(project, capsys)


class TestUnreadableFiles:
    """A study file or review.yaml the user may not read (chmod 000; simulated, as tests may run as root,
    who reads anything): named with the reason, not a traceback."""

    @pytest.mark.parametrize("name", ["data/studies/shu-2020.yaml", "data/review.yaml"])
    def test_permission_denied(self, project, capsys, monkeypatch, name):
        from builder.ingest import yamlio

        real_open = yamlio.os.open
        target = os.path.realpath(project / name)

        def guarded(path, flags, *args):
            if os.path.realpath(path) == target:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, flags, *args)

        monkeypatch.setattr(yamlio.os, "open", guarded)
        refused(project, capsys, re.escape(name) + r": \(file\): cannot read file: Permission denied")
