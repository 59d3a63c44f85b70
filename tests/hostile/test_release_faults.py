"""Hostile input (issue 15), point 4: versions/ and version numbers. A released number cannot change or be
reused; a damaged release is named, never a traceback."""

from __future__ import annotations

import json
import re

import pytest
from support import change_data, edit, review, set_version, unchanged


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
        }
        for name, change in (
            (
                "results.json",
                lambda p: p.write_text(p.read_text(encoding="utf-8").replace('"1.2"', '"1.3"', 1), encoding="utf-8"),
            ),
            ("data/studies/zz-added.yaml", lambda p: p.write_text("id: zz\n", encoding="utf-8")),
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
