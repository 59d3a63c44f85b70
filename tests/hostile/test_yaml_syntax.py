"""Hostile input (issue 15): data files that are not the YAML they should be — syntax, encodings, tags, aliases,
keys, nesting, documents and the folders that hold them. Each is refused by `review check` (which runs the
loader `review build` runs) with the file and, where there is one, the line (exit 1), or read correctly."""

from __future__ import annotations

import shutil

import pytest
from support import accepted, append, edit, refused, study, write

STUDY = r"data/studies/shu-2020\.yaml"


class TestUnclosedQuote:
    def test_refused(self, project, capsys):
        edit(study(project), "label: Shu 2020", 'label: "Shu 2020')
        refused(project, capsys, STUDY + r":\d+: \(file\): YAML syntax error")


class TestUnclosedFlowCollection:
    @pytest.mark.parametrize("opening", ["[", "{"])
    def test_refused(self, project, capsys, opening):
        edit(study(project), "label: Shu 2020", f"label: {opening}Shu 2020")
        refused(project, capsys, STUDY + r":\d+: \(file\): YAML syntax error")


class TestBadIndentation:
    def test_refused(self, project, capsys):
        edit(study(project), "label: Shu 2020", "  label: Shu 2020")
        refused(project, capsys, STUDY + r":2: \(file\): YAML syntax error")


class TestTabIndentation:
    def test_refused_with_its_line(self, project, capsys):
        edit(study(project), "  authors:", "\tauthors:")
        refused(project, capsys, STUDY + r":6: \(file\): YAML syntax error: found character that cannot start")


class TestDuplicateKeys:
    @pytest.mark.parametrize(
        "old,new,where",
        [
            ("label: Shu 2020", "label: Shu 2020\nlabel: Other", r":3: label: duplicate key"),
            ("  year: 2020\n", "  year: 2020\n  year: 2021\n", r":\d+: citation\.year: duplicate key"),
        ],
    )
    def test_refused(self, project, capsys, old, new, where):
        edit(study(project), old, new)
        refused(project, capsys, STUDY + where)


class TestAliasBomb:
    """A billion laughs: nine aliases of nine aliases... expands to 10^9 values; refused before expanding."""

    def test_refused_unexpanded(self, project, capsys):
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        for i in range(1, 10):
            lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
        write(study(project), "\n".join(lines) + "\n")
        refused(project, capsys, STUDY + r": \(file\): document expands to more than [\d,]+ values .*alias bomb")


class TestUndefinedAlias:
    def test_refused(self, project, capsys):
        edit(study(project), "label: Shu 2020", "label: *nowhere")
        refused(project, capsys, STUDY + r":2: \(file\): YAML syntax error: found undefined alias")


class TestHarmlessAnchorsAreRead:
    def test_accepted(self, project, capsys):
        edit(study(project), "label: Shu 2020", "label: &l Shu 2020")
        accepted(project, capsys)


class TestMergeKeys:
    def test_refused(self, project, capsys):
        edit(study(project), "label: Shu 2020", "label: Shu 2020\n<<: {source_ref: 15}")
        refused(project, capsys, STUDY + r":3: \(file\): YAML merge keys \('<<'\) are not supported")


class TestByteOrderMark:
    """A UTF-8 byte-order mark (Windows editors write one) is read as the start of the file, not as text."""

    def test_accepted(self, project, capsys):
        write(study(project), b"\xef\xbb\xbf" + study(project).read_bytes())
        accepted(project, capsys)


class TestNotUtf8:
    @pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "cp1252"])
    def test_refused_with_the_byte(self, project, capsys, encoding):
        text = study(project).read_text(encoding="utf-8").replace("Shu 2020", "Shu é 2020", 1)
        write(study(project), text.encode(encoding, errors="replace"))
        refused(project, capsys, STUDY + r": \(file\): file is not UTF-8 text \(.* at byte \d+\)")


class TestNulAndOtherCharactersYamlForbids:
    @pytest.mark.parametrize("char", [b"\x00", b"\x01", b"\x1f"])
    def test_refused_with_its_line(self, project, capsys, char):
        write(study(project), study(project).read_bytes().replace(b"Shu 2020", b"Shu" + char + b"2020", 1))
        refused(project, capsys, STUDY + rf":2: \(file\): contains the control character U\+{char[0]:04X}")


class TestEmptyFiles:
    @pytest.mark.parametrize("content", ["", "# only a comment\n", "\n\n   \n", "---\n"])
    def test_a_study(self, project, capsys, content):
        write(study(project), content)
        refused(project, capsys, STUDY + r":1: \(file\): file is empty; expected a mapping of fields")

    def test_the_review(self, project, capsys):
        write(project / "data/review.yaml", "")
        refused(project, capsys, r"data/review\.yaml:1: \(file\): file is empty")


class TestTopLevelIsNotAMapping:
    @pytest.mark.parametrize("content,kind", [("- a\n- b\n", "list"), ("hello\n", "str"), ("42\n", "int")])
    def test_refused(self, project, capsys, content, kind):
        write(study(project), content)
        refused(project, capsys, STUDY + rf":1: \(file\): expected a mapping of fields at the top level \(got {kind}\)")


class TestSeveralDocuments:
    def test_refused(self, project, capsys):
        append(study(project), "---\nid: other\n")
        refused(project, capsys, STUDY + r":\d+: \(file\): YAML syntax error: but found another document")


class TestPythonTags:
    """Tags that make Python objects (and would run code with an unsafe loader) build nothing."""

    @pytest.mark.parametrize(
        "value,message",
        [
            ('!!python/object/apply:os.system ["touch pwned"]', "label: Input should be a valid string"),
            ("!!python/name:os.system", r"\(file\): YAML error: could not determine a constructor"),
            ('!!python/object/new:os.system ["touch pwned"]', "label: Input should be a valid string"),
        ],
    )
    def test_refused_and_nothing_runs(self, project, capsys, value, message):
        edit(study(project), "label: Shu 2020", f"label: {value}")
        refused(project, capsys, STUDY + r":2: " + message)
        assert not (project / "pwned").exists()


class TestUnknownTags:
    def test_refused(self, project, capsys):
        edit(study(project), "label: Shu 2020", "label: !shout Shu 2020")
        refused(
            project, capsys, STUDY + r":2: \(file\): YAML error: could not determine a constructor for the tag '!shout'"
        )


class TestBinaryAndSetTags:
    """!!binary was turned into text silently (pydantic reads bytes as str); !!set is no field's type."""

    @pytest.mark.parametrize("value,tag", [("!!binary U2h1IDIwMjA=", "binary"), ("!!set {a, b}", "set")])
    def test_refused(self, project, capsys, value, tag):
        edit(study(project), "label: Shu 2020", f"label: {value}")
        if tag == "set":  # a set is a mapping in YAML: the field then is not text
            refused(project, capsys, STUDY + r":2: label: Input should be a valid string")
        else:
            refused(project, capsys, STUDY + rf":2: label: YAML tag '{tag}' is not supported")


class TestKeysThatAreNotText:
    @pytest.mark.parametrize(
        "lines,message",
        [
            ("? [a, b]\n: c\n", r"mapping keys must be plain text \(got a list\)"),
            ("? {a: 1}\n: c\n", r"mapping keys must be plain text \(got a mapping\)"),
            ("~: c\n", r"mapping keys must be plain text \(got None\)"),
            ("1: c\n", r"1: unknown field '1'"),
            ("true: c\n", r"true: unknown field 'true'"),
        ],
    )
    def test_refused(self, project, capsys, lines, message):
        append(study(project), lines)
        refused(project, capsys, STUDY + r":\d+: .*" + message)


class TestDeepNesting:
    @pytest.mark.parametrize("opening,closing", [("[", "]"), ("{a: ", "}")])
    def test_refused_without_exhausting_the_stack(self, project, capsys, opening, closing):
        append(study(project), "deep: " + opening * 20_000 + "1" + closing * 20_000 + "\n")
        refused(project, capsys, STUDY + r":\d+: \(file\): YAML syntax error: exceeded maximum nesting depth")


class TestLineEndings:
    @pytest.mark.parametrize("ending", [b"\r\n", b"\r"])
    def test_windows_and_old_mac_line_endings_are_read(self, project, capsys, ending):
        write(study(project), study(project).read_bytes().replace(b"\n", ending))
        accepted(project, capsys)


class TestYamlDirectives:
    """A %YAML 1.1 directive does not bring YAML 1.1's readings of numbers back."""

    def test_1_1_numbers_are_still_refused(self, project, capsys):
        text = study(project).read_text(encoding="utf-8").replace("    n: 29\n", "    n: 012\n")
        write(study(project), "%YAML 1.1\n---\n" + text)
        refused(project, capsys, STUDY + r":\d+: arms\[1\]\.n: not a plain decimal number")


class TestMissingReviewFile:
    def test_refused(self, project, capsys):
        (project / "data/review.yaml").unlink()
        refused(project, capsys, r"data/review\.yaml: \(file\): file not found")


class TestDataFoldersMissing:
    """No data/ or no data/studies/ (or a file in its place) is one problem, not one per study named."""

    @pytest.mark.parametrize("folder", ["data", "data/studies"])
    @pytest.mark.parametrize("replacement", ["nothing", "a file"])
    def test_one_problem(self, project, capsys, folder, replacement):
        shutil.rmtree(project / folder)
        if replacement == "a file":
            write(project / folder, "not a folder")
        what = "is not a folder" if replacement == "a file" else "no such folder"
        out = refused(project, capsys, rf"{folder}: \(file\): {what}; expected a folder of YAML files")
        assert "The data has 1 problem:" in out


class TestStudyFilesWithOtherExtensions:
    @pytest.mark.parametrize("name", ["zz.yml", "zz.YAML", "zz.json"])
    def test_named_not_ignored(self, project, capsys, name):
        shutil.copy(study(project), project / "data/studies" / name)
        refused(project, capsys, rf"data/studies/{name}: \(file\): study files must end in '\.yaml'")


class TestEditorFilesAreIgnored:
    @pytest.mark.parametrize("name", [".shu-2020.yaml.swp", "shu-2020.yaml~", ".#shu-2020.yaml", "notes.txt"])
    def test_accepted(self, project, capsys, name):
        write(project / "data/studies" / name, b"\x00\x01 [ not yaml")
        accepted(project, capsys)
