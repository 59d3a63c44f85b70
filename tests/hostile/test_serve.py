"""Hostile input (issue 15), `review serve`: it listens on 127.0.0.1 unless told otherwise, serves nothing outside
the preview folder, and outlives a broken template, invalid data and files that vanish while it reads them.

Real HTTP requests, sent as they are written (http.client does not normalise '..'), to the preview server
started on a free port in a thread, and, once, the whole command in a process of its own."""

from __future__ import annotations

import http.client
import io
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import copy_project
from support import edit, review, unchanged

from builder.publish import serve as serve_mod


def get(port: int, target: str, host: str = "127.0.0.1", method: str = "GET") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"{host}:{port}")
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Running:
    def __init__(self, project: Path):
        self.project = project
        self.out = io.StringIO()
        self.preview = serve_mod.Preview(project, out=self.out)
        assert self.preview.rebuild(), self.out.getvalue()
        self.server = serve_mod.make_server(self.preview, "127.0.0.1", 0)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def said(self) -> str:
        text = self.out.getvalue()
        self.out.seek(0)
        self.out.truncate()
        return text


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("serve") / "project")
    outside = project.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not for the browser", encoding="utf-8")
    run = Running(project)
    (run.preview.root.parent / "secret.txt").write_text("beside the preview", encoding="utf-8")
    yield run
    run.server.shutdown()
    run.server.server_close()


class TestServeAddress:
    """The preview listens on a loopback address; any other is refused (exit 2) unless --allow-remote."""

    @pytest.mark.parametrize(
        "written,expected",
        [("127.0.0.1:8000", ("127.0.0.1", 8000)), ("localhost:0", ("127.0.0.1", 0)), ("[::1]:8001", ("::1", 8001))],
    )
    def test_loopback_is_accepted(self, written, expected):
        assert serve_mod.parse_address(written) == expected

    @pytest.mark.parametrize(
        "written,message",
        [
            ("0.0.0.0:8000", "refusing to serve the preview on 0.0.0.0"),
            ("[::]:8000", "refusing to serve the preview on ::"),
            ("192.168.1.5:8000", "refusing to serve the preview on 192.168.1.5"),
            ("example.org:80", "is not an IP address"),
            ("127.0.0.1", "expected HOST:PORT"),
            ("127.0.0.1:99999", "expected HOST:PORT"),
            ("127.0.0.1:-1", "expected HOST:PORT"),
        ],
    )
    def test_others_are_refused_with_exit_2(self, project, capsys, written, message):
        with unchanged(project):
            code, out = review(project, "serve", "--dev-addr", written, capsys=capsys)
        assert code == 2 and "--dev-addr" in out and message in out, out
        assert not (project / "build/serve").exists()

    def test_allow_remote_is_needed_and_enough(self):
        assert serve_mod.parse_address("0.0.0.0:8000", allow_remote=True) == ("0.0.0.0", 8000)


class TestServeRefusesPathsOutside:
    """A path that leaves the preview folder, or is spelled so that it could, is refused (403) and named in
    the terminal; nothing outside the folder is ever sent."""

    @pytest.mark.parametrize(
        "target",
        [
            "/../secret.txt",
            "/../../outside/secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E/%2E%2E/outside/secret.txt",
            "/..%2fsecret.txt",
            "/%2e%2e%2fsecret.txt",
            "/studies/..%2F..%2Fsecret.txt",
            "/..%5csecret.txt",
            "/./index.html",
            "/studies/../index.html",
            "/index.html%00.txt",
            "http://127.0.0.1/../secret.txt",
            "secret.txt",
        ],
    )
    def test_refused(self, running, target):
        with unchanged(running.project):
            status, body = get(running.port, target)
        assert status == 403, (target, status)
        assert b"beside the preview" not in body and b"not for the browser" not in body
        assert "refused GET" in running.said()

    def test_absolute_paths_stay_inside(self, running):
        # (http.server itself reads '//etc/passwd' as '/etc/passwd': a path inside the folder, like the others)
        for target in ("/etc/passwd", "//etc/passwd", "/proc/self/environ", str(running.project / "data/review.yaml")):
            status, body = get(running.port, target)
            assert status == 404 and b"root:" not in body, target

    def test_a_path_that_is_not_utf8(self, running):
        assert get(running.port, "/%ff%fe.html")[0] == 400


class TestServeRefusesLinksOutside:
    """A link inside the preview folder to a file or folder outside it is refused; one to a file inside is
    served; a loop of links and a FIFO are answered 404 at once."""

    def test_links(self, running):
        root = running.preview.root
        outside = running.project.parent / "outside"
        (root / "leak.txt").symlink_to(outside / "secret.txt")
        (root / "leakdir").symlink_to(outside, target_is_directory=True)
        (root / "fine.html").symlink_to(root / "index.html")
        (root / "loop1").symlink_to(root / "loop2")
        (root / "loop2").symlink_to(root / "loop1")
        os.mkfifo(root / "pipe.html")
        assert get(running.port, "/leak.txt")[0] == 403
        assert get(running.port, "/leakdir/secret.txt")[0] == 403
        assert "a link to something outside the preview folder" in running.said()
        assert get(running.port, "/fine.html")[0] == 200
        assert get(running.port, "/loop1")[0] == 404
        assert get(running.port, "/pipe.html")[0] == 404


class TestServeRefusesOtherHosts:
    """A request naming another host (a page elsewhere whose name was rebound to 127.0.0.1) is refused."""

    def test_refused(self, running):
        assert get(running.port, "/index.html", host="attacker.example")[0] == 403
        assert "Host header" in running.said()
        assert get(running.port, "/index.html", host="localhost")[0] == 200


class TestServeServesThePreview:
    def test_pages_reload_themselves_and_the_files_on_disk_do_not_change(self, running):
        status, body = get(running.port, "/")
        assert status == 200 and b'<script src="/__review__/reload.js"></script></body>' in body
        assert b"__review__" not in (running.preview.root / "index.html").read_bytes()
        assert get(running.port, "/__review__/generation") == (200, str(running.preview.generation).encode())
        assert get(running.port, "/__review__/reload.js")[0] == 200
        assert get(running.port, "/", method="HEAD") == (200, b"")
        assert get(running.port, "/no-such-page.html")[0] == 404


class TestServeSurvivesATemplateError:
    """A template with a syntax error: the terminal names the template and line, the last good preview is
    served on, and the next good save rebuilds it."""

    def test_syntax_error(self, running):
        path = running.project / "templates/study.md.j2"
        good = path.read_text(encoding="utf-8")
        generation = running.preview.generation
        page = get(running.port, "/studies/shu-2020.html")
        try:
            path.write_text(good + "\n{% if %}\n", encoding="utf-8")
            line = good.count("\n") + 2
            with unchanged(running.project):
                assert not running.preview.rebuild()
            said = running.said()
            assert f"templates/study.md.j2:{line}: syntax error in the template" in said, said
            assert "the last good preview is still served" in said
            assert get(running.port, "/studies/shu-2020.html") == page
            assert running.preview.generation == generation
        finally:
            path.write_text(good, encoding="utf-8")
        assert running.preview.rebuild() and running.preview.generation == generation + 1

    def test_an_undefined_name(self, running):
        path = running.project / "templates/study.md.j2"
        good = path.read_text(encoding="utf-8")
        try:
            path.write_text("{{ no_such_value.x }}\n" + good, encoding="utf-8")
            assert not running.preview.rebuild()
            said = running.said()
            assert "templates/study.md.j2:1: UndefinedError" in said, said
            assert get(running.port, "/studies/shu-2020.html")[0] == 200
        finally:
            path.write_text(good, encoding="utf-8")


class TestServeSurvivesInvalidData:
    def test_invalid_data(self, running):
        path = running.project / "data/studies/shu-2020.yaml"
        good = path.read_text(encoding="utf-8")
        try:
            edit(path, "    n: 29\n", "    n: -29\n")
            assert not running.preview.rebuild()
            said = running.said()
            assert "data/studies/shu-2020.yaml:" in said and "arms[1].n" in said, said
            assert get(running.port, "/index.html")[0] == 200
        finally:
            path.write_text(good, encoding="utf-8")


class TestServeSurvivesVanishingFiles:
    """An editor's temporary file that vanishes between being listed and being read, by the watcher or by the
    build, is no error."""

    def test_while_the_watcher_scans(self, running, monkeypatch):
        real_walk = os.walk

        def walk(top, *args, **kwargs):
            for folder, dirs, files in real_walk(top, *args, **kwargs):
                yield folder, dirs, [*files, ".#gone.yaml", "gone.yaml~"]

        monkeypatch.setattr(serve_mod.os, "walk", walk)
        signature = serve_mod._signature(running.project)
        assert signature and not any("gone" in item[0] for item in signature)

    def test_while_the_preview_is_built(self, running, monkeypatch):
        def vanished(_data):
            raise FileNotFoundError(2, "No such file or directory", "data/studies/.#shu-2020.yaml")

        monkeypatch.setattr(serve_mod, "load", vanished)
        assert not running.preview.rebuild()
        said = running.said()
        assert "data/studies/.#shu-2020.yaml: No such file or directory" in said, said
        assert get(running.port, "/index.html")[0] == 200

    def test_any_other_failure_is_named(self, running, monkeypatch):
        def broken(_data):
            raise RuntimeError("something unforeseen")

        monkeypatch.setattr(serve_mod, "load", broken)
        assert not running.preview.rebuild()
        assert "RuntimeError: something unforeseen" in running.said()


@pytest.mark.slow
class TestServeCommand:
    """`review serve` as a user runs it: it serves on the address it prints, rebuilds on a save, survives a
    broken template, and stops cleanly on SIGTERM (exit 0)."""

    def test_end_to_end(self, project):
        proc = subprocess.Popen(
            [sys.executable, "-m", "builder.cli", "-C", str(project), "serve", "--dev-addr", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        for stream in (proc.stdout, proc.stderr):
            threading.Thread(target=lambda s=stream: [lines.put(line) for line in s], daemon=True).start()

        def wait_for(text: str, seconds: float = 240) -> str:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    line = lines.get(timeout=1)
                except queue.Empty:
                    continue
                if text in line:
                    return line
            raise AssertionError(f"no line with {text!r} within {seconds} s")

        try:
            port = int(wait_for("Serving the preview at").split("127.0.0.1:")[1].split("/")[0])
            assert get(port, "/studies/shu-2020.html")[0] == 200
            edit(project / "data/studies/shu-2020.yaml", "label: Shu 2020", "label: Shu 2020 edited")
            wait_for("Rebuilt the preview")
            assert b"Shu 2020 edited" in get(port, "/studies/shu-2020.html")[1]
            (project / "templates/index.md.j2").write_text("{% for %}\n", encoding="utf-8")
            wait_for("templates/index.md.j2:1: syntax error")
            assert get(port, "/index.html")[0] == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=20)
        assert code == 0
