"""Hostile input (issue 15), points 5 and 8: the build's cache and the folders around the site.

Whatever is found in build/ (garbage, an edited or zero-byte file, an entry of another format, a pickle, a
file where a folder belongs), a full disk, a second build at the same time, a leftover of a swap that cannot
be removed, or a build killed (SIGKILL) at any of its crash points (builder/faults.py): the build either
succeeds with a site byte for byte equal to a build from nothing, saying in one line per entry what it
dropped, or stops with exit 3 and a message naming what is at fault, with site/, data/ and versions/ as they
were. Nothing is reported as an error in a data file, and nothing reaches a traceback.

Builds are the slow part: the project is built once, from nothing, for the whole module (the reference
every later site is compared with), and each test works on a copy of that built project, so most builds
here are quick rebuilds.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, copy_project
from support import tree, unchanged

from builder.cli import main
from builder.faults import VARIABLE

pytestmark = pytest.mark.build


def review(project: Path, capsys, *args: str) -> tuple[int, str]:
    """`review build` (or `args`) in this process: exit code and stderr."""
    capsys.readouterr()
    code = main(["-C", str(project), *(args or ("build",))])
    captured = capsys.readouterr()
    return code, captured.err


def review_process(project: Path, crash_at: str | None = None, code: str | None = None) -> subprocess.CompletedProcess:
    """`review build` in a process of its own, killed at `crash_at`; `code`: Python run before it, to change
    the builder in that process only."""
    env = dict(os.environ)
    env.pop(VARIABLE, None)
    if crash_at is not None:
        env[VARIABLE] = crash_at
    script = (
        f"{code or ''}\nimport sys\nfrom builder.cli import main\nsys.exit(main(['-C', {str(project)!r}, 'build']))"
    )
    return subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def lines_naming(err: str, name: str) -> list[str]:
    return [line for line in err.splitlines() if name in line]


def no_traceback(err: str) -> None:
    assert "Traceback" not in err and "The data has" not in err, err  # never an error in a data file


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A project built from nothing, once: (the project, its site's tree). It is then built again without a
    change, which leaves in the store just the entries such a build reads (a released version's are not read
    while its pages come from the cache), so that a test's damage to any entry is met by its next build."""
    project = copy_project(tmp_path_factory.mktemp("reference") / "project")
    assert main(["-C", str(project), "build"]) == 0
    fresh = tree(project / "site")
    assert main(["-C", str(project), "build"]) == 0
    assert tree(project / "site") == fresh
    return project, fresh


@pytest.fixture
def built(reference, tmp_path) -> Path:
    """A copy of the built project, build/ and site/ included (times kept, so that its site is reused)."""
    dest = tmp_path / "project"
    shutil.copytree(reference[0], dest, symlinks=True)
    return dest


@pytest.fixture
def same_as_fresh(reference):
    """Asserts that a project's site is the one a build from nothing makes."""

    def check(project: Path) -> None:
        assert tree(project / "site") == reference[1]

    return check


def entries(project: Path, kind: str) -> list[Path]:
    found = sorted((project / "build/cache/store" / kind).glob("*.json"))
    assert found, kind
    return found


def archive_entry(project: Path, version: str = "1.0") -> Path:
    (folder,) = [p for p in (project / "build/cache").glob(f"v{version}-*") if p.is_dir()]
    return folder


def _rel(project: Path, path: Path) -> str:
    return path.relative_to(project).as_posix()


# --- the store: every entry is checked before use, and dropped with one line if it fails ------------------


class TestGarbageInTheStore:
    def test_each_garbage_entry_is_dropped_with_one_line_and_made_anew(self, built, capsys, same_as_fresh):
        damaged = entries(built, "analyses") + entries(built, "studies")
        for path in damaged:
            path.write_bytes(b"\x00\xffnot an entry at all")
        code, err = review(built, capsys)
        assert code == 0, err
        no_traceback(err)
        assert len(damaged) == 22 + 14  # every study and analysis of the latest version
        for path in damaged:
            (line,) = lines_naming(err, _rel(built, path))
            assert "dropped" in line and "made anew" in line
            assert path.read_bytes().startswith(b'{"format":1')
        same_as_fresh(built)


class TestAnEditedEntry:
    def test_a_value_changed_by_hand_does_not_match_its_digest(self, built, capsys, same_as_fresh):
        path = entries(built, "analyses")[0]
        head, body = path.read_bytes().split(b"\n", 1)
        assert b'"notes":[' in body
        path.write_bytes(head + b"\n" + body.replace(b'"notes":[', b'"notes":["a note of my own",', 1))
        code, err = review(built, capsys)
        assert code == 0 and "does not match the digest" in lines_naming(err, _rel(built, path))[0]
        same_as_fresh(built)


class TestAnEntryOfAnotherFormat:
    def test_it_is_dropped_naming_the_format(self, built, capsys, same_as_fresh):
        path = entries(built, "studies")[0]
        path.write_bytes(path.read_bytes().replace(b'{"format":1', b'{"format":0', 1))
        code, err = review(built, capsys)
        assert code == 0 and "format 0, not 1" in lines_naming(err, _rel(built, path))[0]
        same_as_fresh(built)


class TestAnEntryUnderAnotherKey:
    def test_an_entry_copied_over_another_is_not_used(self, built, capsys, same_as_fresh):
        first, second = entries(built, "analyses")[:2]
        shutil.copyfile(first, second)
        code, err = review(built, capsys)
        assert code == 0 and "another kind or key" in lines_naming(err, _rel(built, second))[0]
        same_as_fresh(built)


class TestAForgedEntryWithAValidDigest:
    """Whoever can write the store can write the right digest: the value still names no code."""

    def test_a_value_naming_code_is_refused(self, built, capsys, same_as_fresh):
        path = entries(built, "analyses")[0]
        head = json.loads(path.read_bytes().split(b"\n", 1)[0])
        body = json.dumps({"@": "os.system", "v": {"command": "touch pwned"}}).encode()
        head["sha256"] = hashlib.sha256(body).hexdigest()
        path.write_bytes(json.dumps(head).encode() + b"\n" + body)
        code, err = review(built, capsys)
        assert code == 0 and "cannot be decoded" in lines_naming(err, _rel(built, path))[0]
        assert not (built / "pwned").exists() and not (ROOT / "pwned").exists()
        same_as_fresh(built)


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class TestAPickleInTheStore:
    """The old format ran code when read: a pickle under an entry's name, or as an old entry, runs nothing."""

    def test_a_pickle_runs_nothing_and_is_dropped(self, built, capsys, same_as_fresh, tmp_path):
        marker = tmp_path / "ran"
        path = entries(built, "analyses")[0]
        path.write_bytes(pickle.dumps(_Payload(marker)))
        old = path.with_suffix(".pickle")
        old.write_bytes(pickle.dumps(_Payload(marker)))
        code, err = review(built, capsys)
        assert code == 0 and len(lines_naming(err, _rel(built, path))) == 1
        assert not marker.exists()
        assert not old.exists()  # not one of this build's entries: removed unread
        same_as_fresh(built)


class TestAStoreFolderThatIsAFile:
    def test_a_kind_folder_that_is_a_file_is_replaced(self, built, capsys, same_as_fresh):
        folder = built / "build/cache/store/analyses"
        shutil.rmtree(folder)
        folder.write_text("not a folder", encoding="utf-8")
        code, err = review(built, capsys)
        assert code == 0, err
        no_traceback(err)
        assert lines_naming(err, "build/cache/store/analyses is not a folder")
        assert folder.is_dir() and list(folder.glob("*.json"))
        same_as_fresh(built)

    def test_the_store_itself_a_file(self, built, capsys, same_as_fresh):
        folder = built / "build/cache/store"
        shutil.rmtree(folder)
        folder.write_text("not a folder", encoding="utf-8")
        code, err = review(built, capsys)
        assert code == 0, err
        assert len(lines_naming(err, "build/cache/store is not a folder")) == 1
        same_as_fresh(built)


class TestTheCacheFolderIsAFile:
    def test_it_is_replaced_and_everything_made_anew(self, built, capsys, same_as_fresh):
        shutil.rmtree(built / "build/cache")
        (built / "build/cache").write_bytes(b"\x00" * 10)
        code, err = review(built, capsys)
        assert code == 0, err
        assert len(lines_naming(err, "build/cache is not a folder")) == 1
        same_as_fresh(built)


class TestTheBuildFolderIsAFile:
    def test_the_build_stops_naming_it_and_leaves_it_alone(self, built, capsys):
        shutil.rmtree(built / "build")
        (built / "build").write_text("a user's notes", encoding="utf-8")
        with unchanged(built):
            code, err = review(built, capsys)
        assert code == 3 and "build/ is not a folder" in err and "unchanged" in err
        no_traceback(err)
        assert (built / "build").read_text(encoding="utf-8") == "a user's notes"


# --- what the last build recorded -----------------------------------------------------------------------


class TestSiteStateIsAList:
    def test_it_is_dropped_with_one_line(self, built, capsys, same_as_fresh):
        (built / "build/site-state.json").write_text("[]", encoding="utf-8")
        code, err = review(built, capsys)
        assert code == 0 and len(lines_naming(err, "build/site-state.json")) == 1, err
        no_traceback(err)
        same_as_fresh(built)


class TestSiteStateIsGarbage:
    @pytest.mark.parametrize("content", [b"\x00\x01garbage{", b'{"src": 1, "site": [], "stamp": 3}', b"[" * 100_000])
    def test_it_is_dropped_with_one_line(self, built, capsys, same_as_fresh, content):
        (built / "build/site-state.json").write_bytes(content)
        code, err = review(built, capsys)
        assert code == 0 and len(lines_naming(err, "build/site-state.json")) == 1, err
        no_traceback(err)
        same_as_fresh(built)


class TestRenderKeysAreGarbage:
    def test_every_generated_file_is_made_anew(self, built, capsys, same_as_fresh):
        (built / "build/current/render-keys.json").write_text('{"studies/x.md": 1}', encoding="utf-8")
        code, err = review(built, capsys)
        assert code == 0 and len(lines_naming(err, "build/current/render-keys.json")) == 1, err
        same_as_fresh(built)


class TestAnEditedSourceOfTheLastBuild:
    """A generated page kept from the last build is taken only if it is still the file written under its key."""

    @pytest.mark.parametrize("damage", [b"<script>alert(1)</script>\n", b""])
    def test_it_is_rendered_again(self, built, capsys, same_as_fresh, damage):
        page = sorted((built / "build/current/docs/studies").glob("*.md"))[0]
        page.write_bytes(damage)
        code, err = review(built, capsys)
        rel = "build/current/docs/studies/" + page.name
        assert code == 0 and len(lines_naming(err, rel)) == 1, err
        same_as_fresh(built)


# --- released versions' pages in the cache -----------------------------------------------------------------


class TestAZeroByteFileInAReleasedVersion:
    """As a copy interrupted by a full disk leaves it: bundle.min.js, extra.css and results.json empty."""

    def test_the_version_is_built_again(self, built, capsys, same_as_fresh):
        folder = archive_entry(built)
        emptied = [p for p in folder.rglob("*") if p.is_file() and p.name.endswith((".min.js", ".css", ".json"))]
        assert emptied
        for path in emptied:
            path.write_bytes(b"")
        code, err = review(built, capsys)
        (line,) = lines_naming(err, f"build/cache/{folder.name}")
        assert code == 0 and "is not the file stored (0 bytes)" in line and "1.0" in line
        no_traceback(err)
        same_as_fresh(built)


class TestAnEditedFileInAReleasedVersion:
    def test_the_edit_is_never_served(self, built, capsys, same_as_fresh):
        folder = archive_entry(built, "1.1")
        page = folder / "index.html"
        page.write_text(page.read_text(encoding="utf-8").replace("</body>", "<script>alert(1)</script></body>"))
        code, err = review(built, capsys)
        assert code == 0 and "index.html is not the file stored" in lines_naming(err, folder.name)[0]
        same_as_fresh(built)


class TestAReleasedVersionHalfCopied:
    def test_missing_files_are_noticed(self, built, capsys, same_as_fresh):
        folder = archive_entry(built)
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        for path in files[len(files) // 2 :]:
            path.unlink()
        code, err = review(built, capsys)
        assert code == 0 and "files missing" in lines_naming(err, folder.name)[0]
        same_as_fresh(built)

    def test_an_entry_without_its_list_of_files(self, built, capsys, same_as_fresh):
        folder = archive_entry(built)
        folder.with_name(folder.name + ".json").unlink()
        code, err = review(built, capsys)
        assert code == 0 and "list of files is missing" in lines_naming(err, folder.name)[0]
        same_as_fresh(built)


class TestAnExtraFileInAReleasedVersion:
    def test_a_file_added_to_the_cache_is_never_served(self, built, capsys, same_as_fresh):
        folder = archive_entry(built)
        (folder / "evil.html").write_text("<script>alert(1)</script>", encoding="utf-8")
        code, err = review(built, capsys)
        assert code == 0 and "evil.html is not one of its files" in lines_naming(err, folder.name)[0]
        same_as_fresh(built)


class TestAGarbageListOfFiles:
    def test_it_is_dropped(self, built, capsys, same_as_fresh):
        folder = archive_entry(built, "1.1")
        folder.with_name(folder.name + ".json").write_text("[]", encoding="utf-8")
        code, err = review(built, capsys)
        assert code == 0 and "not of format 1" in lines_naming(err, folder.name)[0]
        same_as_fresh(built)


# --- a full disk ----------------------------------------------------------------------------------------


_FDOPEN = os.fdopen


class _FullFile:
    """A file whose writes fail as on a full disk."""

    def __init__(self, fd, *args, **kwargs):
        self.fh = _FDOPEN(fd, *args, **kwargs)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class TestTheDiskFullWhileWritingTheStore:
    def test_the_build_stops_naming_the_entry_and_the_next_one_recovers(
        self, built, capsys, monkeypatch, same_as_fresh
    ):
        from builder.caching import store

        shutil.rmtree(built / "build/cache/store")  # so that this build writes entries
        monkeypatch.setattr(store.os, "fdopen", _FullFile)
        with unchanged(built):
            code, err = review(built, capsys)
        assert code == 3 and "the disk is full: could not write build/cache/store/" in err, err
        assert "unchanged" in err
        no_traceback(err)
        assert not list((built / "build/cache").rglob("*.tmp"))  # nothing half written is left
        monkeypatch.undo()
        code, err = review(built, capsys)
        assert code == 0, err
        same_as_fresh(built)


class TestTheDiskFullWhileCopyingAReleasedVersion:
    def test_the_half_copy_is_never_used(self, built, capsys, monkeypatch, same_as_fresh):
        from builder.publish import build

        for path in (built / "build/cache").glob("v1.0-*"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        copied = []

        def copy_until_full(src, dst, *args, **kwargs):
            if len(copied) > 20:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
            copied.append(dst)
            return shutil.copy2(src, dst, *args, **kwargs)

        monkeypatch.setattr(build.shutil, "copy2", copy_until_full)
        with unchanged(built):
            code, err = review(built, capsys)
        assert code == 3 and "the disk is full: could not write build/cache/.v1.0-" in err, err
        no_traceback(err)
        monkeypatch.undo()
        code, err = review(built, capsys)
        assert code == 0, err
        assert [p for p in (built / "build/cache").iterdir() if p.name.startswith(".")] == []
        same_as_fresh(built)


# --- the swap and its leftovers ---------------------------------------------------------------------------


class TestALeftoverThatCannotBeRemoved:
    """A leftover of an interrupted swap that the builder may not remove: one line, and every build works."""

    def test_builds_go_on_and_say_so(self, built, capsys, monkeypatch, same_as_fresh):
        from builder.publish import build

        leftover = built / ".site.swap-old"
        shutil.copytree(built / "site", leftover)
        real_rmtree = shutil.rmtree

        def rmtree(path, *args, **kwargs):
            if Path(path) == leftover:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return real_rmtree(path, *args, **kwargs)

        monkeypatch.setattr(build.shutil, "rmtree", rmtree)
        for _ in range(2):
            code, err = review(built, capsys)
            assert code == 0, err
            (line,) = lines_naming(err, ".site.swap-old")
            assert "could not remove" in line and "Permission denied" in line
            same_as_fresh(built)
        assert leftover.is_dir()  # left for the user, who was told
        monkeypatch.undo()
        code, err = review(built, capsys)
        assert code == 0 and not leftover.exists() and not list(built.glob(".site.swap-*"))


class TestTheSiteLeftAside:
    """What an interrupted swap without an atomic exchange leaves: the previous site beside, no site/."""

    def test_the_next_build_puts_it_back_first(self, built, capsys, same_as_fresh):
        os.rename(built / "site", built / ".site.swap-old")
        code, err = review(built, capsys)
        assert code == 0 and "put site/ back from .site.swap-old" in err, err
        assert not list(built.glob(".site.swap-*"))
        same_as_fresh(built)


class TestAStaleSiteOldIsNotTouched:
    """Only the swap's own hidden leftovers are ever removed: a user's site.old stays."""

    def test_a_user_folder_named_site_old_stays(self, built, capsys, same_as_fresh):
        (built / "site.old").mkdir()
        (built / "site.old/notes.txt").write_text("mine", encoding="utf-8")
        code, err = review(built, capsys)
        assert code == 0, err
        assert (built / "site.old/notes.txt").read_text(encoding="utf-8") == "mine"
        same_as_fresh(built)


# --- two builds at once -----------------------------------------------------------------------------------


class TestTwoBuildsAtOnce:
    """The second build waits for the first (build/.lock), saying so, and then builds."""

    def test_the_second_waits_and_then_builds(self, built, same_as_fresh):
        lock = built / "build/.lock"
        with open(lock, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write("12345")
            fh.flush()
            proc = subprocess.Popen(
                [sys.executable, "-m", "builder.cli", "-C", str(built), "build"],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert proc.stderr is not None
            first = proc.stderr.readline()  # blocks until the second build says it waits
            assert "another build of this project is running (process 12345); waiting" in first
            assert proc.poll() is None  # still waiting: it has not touched the site
            fcntl.flock(fh, fcntl.LOCK_UN)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "Built version" in out
        same_as_fresh(built)

    def test_two_builds_started_together_both_succeed(self, built, same_as_fresh):
        shutil.rmtree(built / "build/cache/store")  # work for both, so that they would overlap
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "builder.cli", "-C", str(built), "build"],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], results
        no_traceback("".join(err for _, err in results))
        same_as_fresh(built)


# --- killed at every crash point --------------------------------------------------------------------------


def _killed(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr)


def _site_whole(project: Path, reference_tree: dict) -> None:
    """site/ is a whole site: the old one or the new one (the same here: the data did not change)."""
    assert tree(project / "site") == reference_tree


class TestKilledWhileWritingTheStore:
    def test_the_half_entry_is_never_read(self, built, capsys, reference, same_as_fresh):
        shutil.rmtree(built / "build/cache/store")
        _killed(review_process(built, "store-write"))
        assert list((built / "build/cache/store").rglob(".*.tmp"))  # the half-written entry
        _site_whole(built, reference[1])
        code, err = review(built, capsys)
        assert code == 0, err
        no_traceback(err)
        assert not list((built / "build/cache/store").rglob("*.tmp"))
        same_as_fresh(built)


class TestKilledWhileCopyingAReleasedVersion:
    def test_the_half_copy_is_never_served(self, built, capsys, reference, same_as_fresh):
        for path in (built / "build/cache").glob("v1.1-*"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        _killed(review_process(built, "archive-copy"))
        assert list((built / "build/cache").glob(".v1.1-*.partial"))
        _site_whole(built, reference[1])
        code, err = review(built, capsys)
        assert code == 0, err
        assert not list((built / "build/cache").glob(".*"))
        same_as_fresh(built)


class TestKilledDuringTheSwap:
    @pytest.mark.parametrize(
        "point",
        ["swap-staged:current", "swap-exchanged:current", "sources-swapped", "swap-staged:site", "swap-exchanged:site"],
    )
    def test_the_site_is_whole_and_the_next_build_recovers(self, built, capsys, reference, same_as_fresh, point):
        _killed(review_process(built, point))
        _site_whole(built, reference[1])
        code, err = review(built, capsys)
        assert code == 0, err
        no_traceback(err)
        assert not list(built.glob(".site.swap-*")) and not list((built / "build").glob(".current.swap-*"))
        assert not list((built / "build").glob(".staging-*"))  # the killed build's staging folder too
        same_as_fresh(built)


class TestKilledBetweenTheRenamesWithoutAnExchange:
    """Where renameat2 is missing the swap is two renames; killed between them, the previous site is beside
    site/ and the next build puts it back before anything else."""

    def test_the_previous_site_is_aside_and_put_back(self, built, capsys, reference, same_as_fresh):
        no_exchange = (
            "import errno\nfrom builder.publish import build\n"
            "def _none(a, b):\n    raise OSError(errno.ENOSYS, 'no exchange')\nbuild._exchange = _none\n"
        )
        _killed(review_process(built, "swap-aside:site", no_exchange))
        assert tree(built / ".site.swap-old") == reference[1]
        code, err = review(built, capsys)
        assert code == 0 and "put site/ back" in err, err
        same_as_fresh(built)

    def test_without_an_exchange_a_build_still_swaps(self, built, reference):
        no_exchange = (
            "import errno\nfrom builder.publish import build\n"
            "def _none(a, b):\n    raise OSError(errno.ENOSYS, 'no exchange')\nbuild._exchange = _none\n"
        )
        proc = review_process(built, None, no_exchange)
        assert proc.returncode == 0, proc.stderr
        assert tree(built / "site") == reference[1] and not list(built.glob(".site.swap-*"))


# --- more of build/ in the way ------------------------------------------------------------------------------


class TestTheLastSourcesAreAFile:
    def test_build_current_a_file_is_replaced(self, built, capsys, same_as_fresh):
        shutil.rmtree(built / "build/current")
        (built / "build/current").write_text("not the sources", encoding="utf-8")
        code, err = review(built, capsys)
        assert code == 0 and len(lines_naming(err, "build/current/render-keys.json")) == 1, err
        no_traceback(err)
        assert (built / "build/current").is_dir()
        same_as_fresh(built)


class TestSiteStateIsAFolder:
    def test_it_is_replaced_by_the_record(self, built, capsys, same_as_fresh):
        (built / "build/site-state.json").unlink()
        (built / "build/site-state.json").mkdir()
        code, err = review(built, capsys)
        assert code == 0, err
        no_traceback(err)
        assert (built / "build/site-state.json").is_file()
        same_as_fresh(built)


class TestTheLockIsAFolder:
    def test_it_is_replaced_with_one_line(self, built, capsys, same_as_fresh):
        (built / "build/.lock").unlink(missing_ok=True)
        (built / "build/.lock").mkdir()
        code, err = review(built, capsys)
        assert code == 0 and len(lines_naming(err, "build/.lock is not a file")) == 1, err
        same_as_fresh(built)
