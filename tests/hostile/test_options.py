"""Hostile input (issue 15), the command line: unknown options and commands, -C and --site that point where they
must not, bad study ids for `new-study`, and version numbers and dates for `release` and `diff` that are odd,
older, equal or spelled otherwise. Each is refused (exit 2) before anything is read or written, with what
was wrong; site/, data/ and versions/ are unchanged."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil

import pytest
from support import make_site, refused, review, unchanged, write


class TestUnknownOptionsAndCommands:
    @pytest.mark.parametrize(
        "args,message",
        [
            (["build", "--frobnicate"], "unrecognized arguments: --frobnicate"),
            (["frobnicate"], "invalid choice: 'frobnicate'"),
            ([], "a command is required"),
            (["check", "extra"], "unrecognized arguments: extra"),
            (["build", "--full=yes"], "ignored explicit argument"),
            (["release"], "the following arguments are required: version"),
            (["--site", "x", "build"], "invalid choice: 'x'"),
        ],
    )
    def test_refused(self, project, capsys, args, message):
        with unchanged(project):
            code, out = review(project, *args, capsys=capsys)
        assert code == 2 and message in out, out


class TestProjectFolder:
    @pytest.mark.parametrize("kind", ["missing", "a file"])
    def test_refused(self, project, capsys, tmp_path, kind):
        target = tmp_path / "elsewhere"
        if kind == "a file":
            write(target, "x")
        with unchanged(project):
            code, out = review(target, "check", capsys=capsys)
        assert code == 2 and f"-C {target}: no such folder" in out, out


class TestSiteOptionEdgeCases:
    """--site values the path checks of test_site_path.py do not cover: empty, a loop of links, a file, the
    file-system root, a path into the sources through '..'."""

    @pytest.mark.parametrize(
        "make,message",
        [
            (lambda p: "", "give a folder"),
            (lambda p: _loop(p), "cannot be used"),
            (lambda p: _file(p), "refusing to replace a file"),
            (lambda p: "/", "refusing to build into a folder that holds the project"),
            (lambda p: str(p / "site/../data"), "refusing to build into data/"),
            (lambda p: str(p / "site/../../" / p.name / "versions"), "refusing to build into versions/"),
            (lambda p: str(p / "docs/schema/new"), "refusing to build into docs/"),
        ],
    )
    def test_refused(self, project, capsys, make, message):
        make_site(project)
        site = make(project)
        refused(project, capsys, message, "build", "--site", site, code=2)


def _loop(project):
    os.symlink(project / "loop-b", project / "loop-a")
    os.symlink(project / "loop-a", project / "loop-b")
    return str(project / "loop-a")


def _file(project):
    write(project / "notes.txt", "mine")
    return str(project / "notes.txt")


class TestNewStudyIds:
    @pytest.mark.parametrize(
        "sid,message",
        [
            ("Smith-2024", "is not a valid study id"),
            ("../x", "is not a valid study id"),
            ("a/b", "is not a valid study id"),
            ("", "is not a valid study id"),
            ("x" * 65, "is not a valid study id"),
            ("smith 2024", "is not a valid study id"),
            ("smith_2024", "is not a valid study id"),
            (".hidden", "is not a valid study id"),
            ("smith\n2024", "is not a valid study id"),
            ("smíth", "is not a valid study id"),
            ("index", "'index' is the page studies/index"),
            ("-x", "the following arguments are required"),
        ],
    )
    def test_refused(self, project, capsys, sid, message):
        before = sorted(p.name for p in (project / "data/studies").iterdir())
        refused(project, capsys, message, "new-study", sid, code=2)
        assert sorted(p.name for p in (project / "data/studies").iterdir()) == before


class TestNewStudyOverExistingFiles:
    def test_an_existing_study(self, project, capsys):
        refused(project, capsys, "data/studies/shu-2020.yaml already exists", "new-study", "shu-2020", code=2)

    def test_a_dangling_link(self, project, capsys, tmp_path):
        (project / "data/studies/zz-new.yaml").symlink_to(tmp_path / "nowhere")
        refused(project, capsys, "already exists", "new-study", "zz-new", code=2)
        assert not (tmp_path / "nowhere").exists()


class TestReleaseVersionSpelling:
    @pytest.mark.parametrize(
        "version", ["01.2", "v1.2", "1.2-rc", "1.2-rc1", "1", "abc", "", "1.2 ", "1..2", "1.2.3.4", "+1.2", "1.02"]
    )
    def test_refused_before_reading_the_data(self, project, capsys, version):
        refused(project, capsys, re.escape(f"'{version}' is not a version number"), "release", version, code=2)


class TestReleaseOlderOrEqualNumbers:
    @pytest.mark.parametrize(
        "version,message",
        [
            ("1.1", r"version 1\.1 is already released \(versions/1\.1\)"),
            ("1.0", r"version 1\.0 is already released \(versions/1\.0\)"),
            ("1.1.0", r"version 1\.1\.0 is already released \(versions/1\.1\)"),
            ("0.9", r"version 0\.9 must be newer than the last release, 1\.1"),
            ("1.0.5", r"version 1\.0\.5 must be newer than the last release, 1\.1"),
        ],
    )
    def test_refused(self, project, capsys, version, message):
        refused(project, capsys, message, "release", version, code=2)


class TestReleaseOtherThanTheDataSays:
    def test_another_number(self, project, capsys):
        refused(project, capsys, r"data/review\.yaml says version 1\.2; set it to 1\.3", "release", "1.3", code=2)

    def test_the_same_number_written_otherwise(self, project, capsys):
        refused(project, capsys, r"release it as 1\.2 \(1\.2\.0 is the same number", "release", "1.2.0", code=2)


class TestReleaseDates:
    @pytest.mark.parametrize("day", ["2026-13-01", "yesterday", "2026-02-30", "01/12/2026"])
    def test_not_a_date(self, project, capsys, day):
        refused(project, capsys, rf"--date '{day}' is not a date", "release", "1.2", "--date", day, code=2)

    def test_in_the_future(self, project, capsys):
        day = (dt.date.today() + dt.timedelta(days=1)).isoformat()
        refused(project, capsys, "cannot be dated in the future", "release", "1.2", "--date", day, code=2)


class TestDiffVersions:
    @pytest.mark.parametrize("version", ["9.9", "01.0", "v1.0", "../1.0", "1.0/../1.1"])
    def test_unknown_or_misspelt(self, project, capsys, version):
        refused(project, capsys, re.escape(f"no released version {version}"), "diff", version, code=2)

    def test_a_trailing_zero_names_the_same_release(self, project, capsys):
        with unchanged(project):
            code, out = review(project, "diff", "1.0.0", "1.1", capsys=capsys)
        assert code == 0 and "from version 1.0 to 1.1" in out, out


class TestNewStudyAroundBrokenFiles:
    def test_studies_is_a_file(self, project, capsys):
        shutil.rmtree(project / "data/studies")
        write(project / "data/studies", "not a folder")
        refused(project, capsys, "data/studies is not a folder", "new-study", "smith-2024", code=2)

    @pytest.mark.parametrize(
        "change,message",
        [
            (lambda t: write(t, "{% if %}\n"), r"templates/new-study\.yaml\.j2:1: syntax error in the template"),
            (lambda t: write(t, "{% include 'nope.j2' %}\n"), r"templates/new-study\.yaml\.j2:1: TemplateNotFound"),
        ],
        ids=["syntax", "include"],
    )
    def test_its_template_is_broken(self, project, capsys, change, message):
        change(project / "templates/new-study.yaml.j2")
        refused(project, capsys, message, "new-study", "smith-2024", code=3)
        assert not (project / "data/studies/smith-2024.yaml").exists()


class TestSchemaFolderIsAFile:
    def test_refused(self, project, capsys):
        shutil.rmtree(project / "docs/schema")
        write(project / "docs/schema", "not a folder")
        refused(project, capsys, "cannot write docs/schema: a file is in the way", "schema", code=2)


class TestReleaseOfDataWithSpecialFiles:
    """data/ is copied into the release: a FIFO would block or fail the copy, a link to a folder may loop."""

    @pytest.mark.parametrize("kind", ["fifo", "loop", "dangling"])
    def test_refused_before_anything_is_written(self, project, capsys, kind):
        target = project / "data/extra"
        if kind == "fifo":
            os.mkfifo(target)
        elif kind == "loop":
            target.symlink_to(project / "data", target_is_directory=True)
        else:
            target.symlink_to(project / "nowhere")
        refused(
            project,
            capsys,
            r"data/extra is (not a regular file|a link to a folder or to nothing)",
            "release",
            "1.2",
            code=2,
        )
        assert not (project / "versions/.1.2.tmp").exists() and not (project / "versions/1.2").exists()
