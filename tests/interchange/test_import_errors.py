"""Bad input to `review import`: a file, a place in it and what was expected, exit 1, and nothing written."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from revman_project import FIXTURES, minimal_project

from builder.cli import main

RM5 = (FIXTURES / "Fleiss1993.rm5").read_bytes()


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buffer.getvalue()


def _fixture_members() -> dict[str, bytes]:
    with zipfile.ZipFile(FIXTURES / "Fleiss1993.zip") as outer:
        inner = next(n for n in outer.namelist() if n.endswith("-data.zip"))
        with zipfile.ZipFile(io.BytesIO(outer.read(inner))) as z:
            return {n: z.read(n) for n in z.namelist()}


def _package(change=None) -> bytes:
    members = _fixture_members()
    if change:
        change(members)
    return _zip(members)


def _settings_name(members: dict[str, bytes]) -> str:
    return next(n for n in members if n.endswith("-overall-estimates-and-settings.csv"))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<COCHRANE_REVIEW>&lol3;</COCHRANE_REVIEW>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><COCHRANE_REVIEW>&x;</COCHRANE_REVIEW>"""


def _bad_events() -> bytes:
    return RM5.replace(b'EVENTS_1="49"', b'EVENTS_1="forty-nine"', 1)


def _ci_99() -> bytes:
    return RM5.replace(b'CI_TOTAL="95"', b'CI_TOTAL="99"', 1)


def _unknown_study() -> bytes:
    return RM5.replace(b'STUDY_ID="STD-CDP" TOTAL_1', b'STUDY_ID="STD-Nobody" TOTAL_1', 1)


def _traversal() -> bytes:
    return _package(lambda m: m.update({"../../outside.csv": b"x"}))


def _no_settings() -> bytes:
    return _package(lambda m: m.pop(_settings_name(m)))


def _missing_column() -> bytes:
    def change(m):
        name = _settings_name(m)
        m[name] = m[name].replace(b"Statistical method", b"Statistical approach")

    return _package(change)


def _bad_model() -> bytes:
    def change(m):
        name = _settings_name(m)
        m[name] = m[name].replace(b"MH,Odds Ratio,,Fixed effect", b"MH,Odds Ratio,,Bayesian")

    return _package(change)


def _bomb_settings() -> bytes:
    def change(m):
        name = _settings_name(m)
        m[name] = m[name] + bytes(20 * 1024 * 1024)

    return _package(change)


CASES = {
    "not-revman.rm5": (lambda: b"just some text", "expected a RevMan 5 file"),
    "broken.rm5": (lambda: RM5[: len(RM5) // 2], "not well-formed XML"),
    "laughs.rm5": (lambda: BILLION_LAUGHS, "refused: a document type declaration"),
    "external.rm5": (lambda: EXTERNAL, "refused: a document type declaration"),
    "other-root.rm5": (lambda: b"<?xml version='1.0'?><html/>", "expected a RevMan 5 file (root COCHRANE_REVIEW)"),
    "bad-events.rm5": (_bad_events, "DICH_DATA/@EVENTS_1: expected a number (got 'forty-nine')"),
    "ci99.rm5": (_ci_99, "expected 95% confidence intervals"),
    "unknown-study.rm5": (_unknown_study, "expected the ID of an included study (got 'STD-Nobody')"),
    "traversal.zip": (_traversal, "climbs out with '..'"),
    "bomb.zip": (_bomb_settings, "would unpack to"),
    "no-settings.zip": (_no_settings, "expected a Cochrane data package"),
    "missing-column.zip": (_missing_column, "expected the column 'Statistical method'"),
    "bad-model.zip": (_bad_model, "expected 'Fixed effect' or 'Random effects' (got 'Bayesian')"),
    "not-a-zip.zip": (lambda: b"PK\x03\x04 and then nothing", "is not a readable zip archive"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_is_refused_with_its_place(tmp_path: Path, capsys, name: str):
    make, expected = CASES[name]
    project = minimal_project(tmp_path / "review")
    bad = tmp_path / name
    bad.write_bytes(make())
    before = _tree(project)
    assert main(["-C", str(project), "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert expected in err, err
    assert name in err  # the file is named
    assert "Nothing was imported." in err
    assert _tree(project) == before


def test_line_of_a_bad_value_is_given(tmp_path: Path, capsys):
    project = minimal_project(tmp_path / "review")
    bad = tmp_path / "bad.rm5"
    bad.write_bytes(_bad_events())
    assert main(["-C", str(project), "import", str(bad)]) == 1
    line = next(i for i, text in enumerate(_bad_events().splitlines(), start=1) if b"forty-nine" in text)
    assert f"bad.rm5:{line}: DICH_DATA/@EVENTS_1" in capsys.readouterr().err


@pytest.mark.parametrize("what", ["missing", "folder"])
def test_file_that_cannot_be_read(tmp_path: Path, capsys, what: str):
    project = minimal_project(tmp_path / "review")
    target = tmp_path / "thing.rm5"
    if what == "folder":
        target.mkdir()
    assert main(["-C", str(project), "import", str(target)]) == 1
    assert "thing.rm5" in capsys.readouterr().err


def test_project_with_data_needs_into(project: Path, capsys):
    """The MSC review has study files: an import into it is refused and nothing changes."""
    before = _tree(project / "data")
    assert main(["-C", str(project), "import", str(FIXTURES / "Fleiss1993.rm5")]) == 1
    err = capsys.readouterr().err
    assert "already has" in err and "--into NEW_FOLDER" in err
    assert _tree(project / "data") == before


def test_into_a_new_folder(project: Path, tmp_path: Path, capsys):
    from builder.ingest.loader import load

    target = tmp_path / "fleiss"
    assert main(["-C", str(project), "import", str(FIXTURES / "Fleiss1993.rm5"), "--into", str(target)]) == 0
    assert "Imported 12 studies and 2 analyses" in capsys.readouterr().out
    data = load(target / "data")
    assert data.review.title == "Examples from Fleiss 1993" and len(data.studies) == 12
    assert (target / "mkdocs.yml").is_file() and (target / "README.md").is_file()  # review init's project
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left behind


def test_into_a_new_folder_with_a_bad_file_leaves_nothing(project: Path, tmp_path: Path):
    """99% intervals are refused when the analyses are planned, after the new project was written."""
    bad = tmp_path / "bad.rm5"
    bad.write_bytes(_ci_99())
    assert main(["-C", str(project), "import", str(bad), "--into", str(tmp_path / "new")]) == 1
    assert not (tmp_path / "new").exists()
    empty = tmp_path / "empty"  # found wrong only after review init wrote the project: taken back
    empty.mkdir()
    assert main(["-C", str(project), "import", str(bad), "--into", str(empty)]) == 1
    assert list(empty.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_into_a_folder_that_is_not_empty(project: Path, tmp_path: Path, capsys):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    assert main(["-C", str(project), "import", str(FIXTURES / "Fleiss1993.zip"), "--into", str(target)]) == 1
    assert "expected a new or empty folder" in capsys.readouterr().err
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_not_a_project(tmp_path: Path, capsys):
    assert main(["-C", str(tmp_path), "import", str(FIXTURES / "Fleiss1993.rm5")]) == 1
    assert "run `review init` first" in capsys.readouterr().err


def test_a_second_import_is_refused(tmp_path: Path, capsys):
    project = minimal_project(tmp_path / "review")
    assert main(["-C", str(project), "import", str(FIXTURES / "Fleiss1993.rm5")]) == 0
    before = _tree(project / "data")
    assert main(["-C", str(project), "import", str(FIXTURES / "Fleiss1993.zip")]) == 1
    assert "already has 12 study file(s)" in capsys.readouterr().err
    assert _tree(project / "data") == before


def test_a_failing_write_is_reported_and_undone(tmp_path: Path, capsys, monkeypatch):
    """A disk that refuses a write half way: exit 1 with the reason, and neither study files nor review.yaml
    changed (the study files written before the failure are taken back)."""
    from builder.interchange import importer

    real_open = open
    calls = {"n": 0}

    def failing_open(path, mode="r", *args, **kwargs):
        if mode == "xb":
            calls["n"] += 1
            if calls["n"] == 5:
                raise OSError(28, "No space left on device", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(importer, "open", failing_open, raising=False)
    project = minimal_project(tmp_path / "review")
    before = _tree(project)
    assert main(["-C", str(project), "import", str(FIXTURES / "Fleiss1993.rm5")]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert _tree(project) == before
    assert not [p for p in project.iterdir() if p.name.startswith(".import-")]


def test_export_of_invalid_data_is_reported(tmp_path: Path, capsys):
    project = minimal_project(tmp_path / "review")
    assert main(["-C", str(project), "export", "--out", str(tmp_path / "out")]) == 1
    assert "problem" in capsys.readouterr().err
