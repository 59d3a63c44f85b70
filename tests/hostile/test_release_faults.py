"""Hostile input (issue 15), point 4: versions/ and version numbers. A released number cannot change or be
reused; a damaged release is named, never a traceback."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from support import accepted, change_data, edit, refused, review, set_version, unchanged, write


class TestVersionNumbers:
    """One ordered, canonical Version: a released number cannot be reused under another spelling, and a new
    version must be greater than every release."""

    def test_leading_zero_is_refused(self, project, capsys):
        set_version(project, "01.1")
        change_data(project)
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and re.search(r"data/review\.yaml:\d+: version: .*'01\.1'", out), out

    def test_an_older_number_is_refused(self, project, capsys):
        set_version(project, "0.9")
        change_data(project)
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1, out
        assert re.search(
            r"data/review\.yaml:\d+: version: must be greater than every released version; "
            r"the latest is 1\.1",
            out,
        ), out

    def test_a_trailing_zero_is_the_same_version(self, project, capsys):
        set_version(project, "1.1.0")
        change_data(project)
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code != 0 and "released version 1.1" in out, out

    def test_version_objects_compare_as_numbers(self):
        from builder.contract.version import Version, VersionError

        assert Version.parse("1.10") > Version.parse("1.9") > Version.parse("1.2")
        assert Version.parse("1.1.0") == Version.parse("1.1") and hash(Version.parse("1.1.0")) == hash(
            Version.parse("1.1")
        )
        for bad in ("01.1", "1", "1.01", "1.1.1.1", " 1.1", "1.1 ", "v1.1", "1..1", 1.1):
            with pytest.raises(VersionError):
                Version.parse(bad)


class TestReleaseIntegrity:
    """Every build checks each release against its manifest and names the release and the file."""

    def test_an_edited_snapshot_of_1_0_is_named(self, project, capsys):
        edit(project / "versions/1.0/data/studies/shu-2020.yaml", "    n: 29\n", "    n: 28\n")
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 3 and "versions/1.0/data was changed after release" in out, out

    def test_a_new_release_lists_every_file_and_each_edit_is_named(self, project, capsys):
        set_version(project, "1.2")
        edit(project / "data/review.yaml", "  trigger: >-\n", "  trigger: >-\n    A test release.\n")
        change_data(project)
        code, out = review(project, "release", "1.2", capsys=capsys)
        assert code == 0, out
        manifest = json.loads((project / "versions/1.2/manifest.json").read_text(encoding="utf-8"))
        assert set(manifest["files"]) == {"results.json", "CITATION.cff", ".zenodo.json", "data/review.yaml"} | {
            f"data/studies/{p.name}" for p in (project / "data/studies").glob("*.yaml")
        } | {f"schema/{p.name}" for p in (project / "docs/schema").glob("*.json")}
        for name, change in (
            (
                "results.json",
                lambda p: p.write_text(p.read_text(encoding="utf-8").replace('"1.2"', '"1.3"', 1), encoding="utf-8"),
            ),
            ("data/studies/zz-added.yaml", lambda p: p.write_text("id: zz\n", encoding="utf-8")),
            ("schema/review.schema.json", lambda p: p.write_text("{}", encoding="utf-8")),
        ):
            path = project / "versions/1.2" / name
            original = path.read_bytes() if path.exists() else None
            change(path)
            with unchanged(project):
                code, out = review(project, "build", capsys=capsys)
            assert code == 3 and f"versions/1.2/{name}" in out, out
            path.write_bytes(original) if original is not None else path.unlink()

    @pytest.mark.parametrize(
        "damage", ["{", "[]", '{"version": "1.0"}', '{"version": "01.0", "data_hash": "x", "date": "x"}']
    )
    def test_a_damaged_manifest_is_named_not_a_traceback(self, project, capsys, damage):
        (project / "versions/1.0/manifest.json").write_text(damage, encoding="utf-8")
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 3 and "versions/1.0/manifest.json" in out and "Traceback" not in out, out

    def test_check_names_an_edited_snapshot_too(self, project, capsys):
        edit(project / "versions/1.1/data/studies/shu-2020.yaml", "    n: 29\n", "    n: 28\n")
        code, out = review(project, "check", capsys=capsys)
        assert code == 3 and "versions/1.1/data was changed after release" in out, out

    def test_a_missing_results_file_is_named(self, project, capsys):
        (project / "versions/1.1/results.json").unlink()
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 3 and "versions/1.1/results.json" in out, out

    def test_an_edited_results_file_of_1_0_stops_an_incremental_build(self, project, capsys):
        code, out = review(project, "build", capsys=capsys)
        assert code == 0, out
        path = project / "versions/1.0/results.json"
        document = json.loads(path.read_text(encoding="utf-8"))
        record = next(a for a in document["analyses"] if a["pooled"])
        record["pooled"]["estimate"] += 0.5
        path.write_text(json.dumps(document), encoding="utf-8")
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 3 and f"versions/1.0/results.json: {record['id']} estimate" in out, out


def _manifest(project: Path, version: str = "1.0") -> Path:
    return project / "versions" / version / "manifest.json"


def _rewrite_manifest(project: Path, **changes) -> None:
    path = _manifest(project)
    write(path, json.dumps({**json.loads(path.read_text(encoding="utf-8")), **changes}))


class TestManifestMissingOrAFolder:
    @pytest.mark.parametrize("kind", ["missing", "a folder"])
    def test_named(self, project, capsys, kind):
        _manifest(project).unlink()
        if kind == "a folder":
            _manifest(project).mkdir()
        refused(project, capsys, r"versions/1\.0 has no manifest\.json", code=3)


class TestManifestNotJson:
    @pytest.mark.parametrize(
        "content", [b"", b"{", b"\xff\xfe{}", b"[" * 100_000, b'{"version": "1.0", "data_hash": NaN'], ids=str
    )
    def test_named_not_a_traceback(self, project, capsys, content):
        write(_manifest(project), content)
        refused(project, capsys, r"versions/1\.0/manifest\.json (cannot be read|is not a JSON object|has no)", code=3)


class TestManifestFields:
    @pytest.mark.parametrize(
        "changes,message",
        [
            ({"version": 1.0}, r"has no 'version' \(text\)"),
            ({"version": "1.5"}, r"says version 1\.5, but its folder is 1\.0"),
            ({"version": "v1.0"}, r"'v1\.0' is not a version number"),
            ({"date": "yesterday"}, r"'date' is not a date"),
            ({"date": 20200101}, r"'date' is not a date"),
            ({"data_hash": None}, r"has no 'data_hash' \(text\)"),
            ({"data_hash": "0" * 64}, r"data was changed after release"),
        ],
    )
    def test_named(self, project, capsys, changes, message):
        _rewrite_manifest(project, **changes)
        refused(project, capsys, r"versions/1\.0/?.*" + message, code=3)


class TestResultsFileDamaged:
    @pytest.mark.parametrize(
        "content,message",
        [
            (b"{", "cannot be read"),
            (b"[]", r"is not a results document \(no 'analyses'\)"),
            (b"{}", r"is not a results document"),
            (b'{"analyses": {}}', r"is not a results document"),
            (b"\xff\xfe", "cannot be read"),
            (b"[" * 100_000, "cannot be read"),
        ],
        ids=["truncated", "list", "empty", "analyses-not-list", "utf16", "deep"],
    )
    def test_named(self, project, capsys, content, message):
        write(project / "versions/1.1/results.json", content)
        refused(project, capsys, r"versions/1\.1/results\.json " + message, code=3)

    def test_a_folder_in_its_place(self, project, capsys):
        (project / "versions/1.1/results.json").unlink()
        (project / "versions/1.1/results.json").mkdir()
        refused(project, capsys, r"versions/1\.1/results\.json cannot be read", code=3)


class TestSnapshotChanged:
    """The data of a release as released: a study removed, added or edited, the review removed, the folder
    gone: each is named with the release (the 1.0 and 1.1 manifests hold only the data fingerprint)."""

    @pytest.mark.parametrize(
        "change",
        [
            lambda v: (v / "data/studies/shu-2020.yaml").unlink(),
            lambda v: shutil.copy(v / "data/studies/shu-2020.yaml", v / "data/studies/zz.yaml"),
            lambda v: write(v / "data/review.yaml", (v / "data/review.yaml").read_text(encoding="utf-8") + "# x\n"),
            lambda v: (v / "data/review.yaml").unlink(),
            lambda v: shutil.rmtree(v / "data"),
            lambda v: write(
                v / "data/studies/shu-2020.yaml", b"\xef\xbb\xbf" + (v / "data/studies/shu-2020.yaml").read_bytes()
            ),
        ],
        ids=["study-removed", "study-added", "review-edited", "review-removed", "data-removed", "bom-added"],
    )
    @pytest.mark.parametrize("command", ["check", "build"])
    def test_named(self, project, capsys, change, command):
        change(project / "versions/1.0")
        refused(project, capsys, r"versions/1\.0/data was changed after release", command, code=3)


class TestExtraFoldersInVersions:
    @pytest.mark.parametrize("name", ["junk", "1.3", "latest"])
    def test_named(self, project, capsys, name):
        (project / "versions" / name).mkdir()
        refused(project, capsys, rf"versions/{re.escape(name)} has no manifest\.json", code=3)


class TestFilesInVersions:
    def test_a_file_named_like_a_version(self, project, capsys):
        write(project / "versions/1.3", "not a release")
        refused(project, capsys, r"versions/1\.3 is a file; a released version is a folder", code=3)

    @pytest.mark.parametrize("name", ["README.md", ".gitkeep", "notes.txt"])
    def test_other_files_are_left_alone(self, project, capsys, name):
        write(project / "versions" / name, "about the releases")
        accepted(project, capsys)


class TestVersionsIsNotAFolder:
    def test_a_file(self, project, capsys):
        shutil.rmtree(project / "versions")
        write(project / "versions", "x")
        refused(project, capsys, "versions is not a folder", code=3)


class TestFolderNamedOtherwiseThanItsVersion:
    @pytest.mark.parametrize("name", ["01.0", "1.0.0", "v1.0"])
    def test_named(self, project, capsys, name):
        os.rename(project / "versions/1.0", project / "versions" / name)
        refused(
            project, capsys, rf"versions/{re.escape(name)}/manifest\.json says version 1\.0, but its folder is", code=3
        )


class TestLeftoverOfAnInterruptedRelease:
    """`.1.2.tmp` left by a release that was interrupted: no release; the next release replaces it."""

    def test_ignored_by_check_and_replaced_by_release(self, project, capsys):
        leftover = project / "versions/.1.2.tmp"
        (leftover / "data").mkdir(parents=True)
        write(leftover / "data/junk.yaml", "half written")
        accepted(project, capsys)
        code, out = review(project, "release", "1.2", capsys=capsys)
        assert code == 0, out
        assert not leftover.exists() and (project / "versions/1.2/manifest.json").is_file()
        assert not (project / "versions/1.2/data/junk.yaml").exists()

    def test_a_leftover_file_of_that_name(self, project, capsys):
        write(project / "versions/.1.2.tmp", "a file, not a folder")
        code, out = review(project, "release", "1.2", capsys=capsys)
        assert code == 0 and (project / "versions/1.2/manifest.json").is_file(), out
        assert not (project / "versions/.1.2.tmp").exists()
