"""`review serve`: a live preview of the latest version, rebuilt when its sources change.

The preview is built the way `review build` builds the latest version (Markdown by the builder, HTML by
MkDocs in this process) into `build/serve/site`, and served by a small server of the builder's own rather
than by MkDocs' development server, so that what it serves is decided here:

- it listens on 127.0.0.1 unless told otherwise, and refuses any other address without `--allow-remote`:
  the preview shows unreleased data, and the server has no authentication, no TLS and no defence against
  load; requests whose Host header names another machine are refused too (a page elsewhere that rebinds
  its name to 127.0.0.1 cannot read the preview);
- it serves regular files inside the preview folder only: a path with `..` or `.` segments, empty segments,
  an encoded '/' or '\\', a NUL byte, or one that leads through a link to anything outside the folder is
  refused (403) before any file is opened;
- a failed rebuild (invalid data, a template with a syntax error, MkDocs' strict mode, a file that vanished
  while it was read) prints what failed, with the file and line where known, and the last good preview is
  served on; the watcher goes on watching;
- pages reload themselves when a rebuild succeeds (a script the server adds to the HTML it sends; the files
  on disk are the site as built).
"""

from __future__ import annotations

import contextlib
import html
import ipaddress
import mimetypes
import os
import shutil
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from builder.errors import DataError
from builder.ingest.loader import load
from builder.publish.build import BuildError, mkdocs_build, render

WATCHED = ("data", "templates", "docs", "mkdocs.yml")
PREFIX = "/__review__/"  # the server's own paths: the reload script and the number of the current preview
RELOAD_JS = b"""(function () {
  var seen = null;
  function poll() {
    fetch("/__review__/generation", {cache: "no-store"}).then(function (r) { return r.text(); }).then(
      function (n) { if (seen !== null && n !== seen) { location.reload(); } seen = n; },
      function () {}
    ).finally(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
"""
RELOAD_TAG = b'<script src="/__review__/reload.js"></script>'


class AddressError(ValueError):
    """A --dev-addr that cannot be used (exit 2)."""


def parse_address(text: str, allow_remote: bool = False) -> tuple[str, int]:
    """(host, port) of `HOST:PORT` (`[::1]:8000` for IPv6; `localhost` is 127.0.0.1). AddressError if it is
    not one, or if HOST is not a loopback address and `allow_remote` is not given."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise AddressError(f"--dev-addr {text!r}: expected HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:8000")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host.lower() == "localhost":
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise AddressError(
            f"--dev-addr {text!r}: {host!r} is not an IP address; give one, e.g. 127.0.0.1:8000"
        ) from None
    if not address.is_loopback and not allow_remote:
        raise AddressError(
            f"--dev-addr {text!r}: refusing to serve the preview on {host}, which other machines can reach: it "
            "shows unreleased data, and the preview server has no authentication or TLS. Use 127.0.0.1, or add "
            "--allow-remote if this is what you want"
        )
    return str(address), int(port_text)


def _signature(project: Path) -> tuple:
    """What the watched sources are now: each file's path, time and size. Files that vanish while they are
    listed (an editor's temporary file) are left out, and unreadable folders skipped, never an error."""
    items = []
    for name in WATCHED:
        root = project / name
        paths = [str(root)] if not root.is_dir() else []
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            paths += [os.path.join(folder, f) for f in sorted(files)]
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                continue
            items.append((path, st.st_mtime_ns, st.st_size))
    return tuple(items)


def _where(exc: BaseException) -> str:
    """The innermost frame of a traceback in the project's templates or the builder, as 'file:line'."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if frame.filename.endswith(".j2"):
            return f"{frame.filename}:{frame.lineno}"
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "unknown place"


class Preview:
    """The preview folder and the number of the build it holds (0: none yet)."""

    def __init__(self, project: Path, out=None):
        self.project = project
        self.folder = project / "build" / "serve"
        self.root = self.folder / "none"  # the site of the last good build: build/serve/preview-*/site
        self.generation = 0
        self.out = out or sys.stderr
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def rebuild(self) -> bool:
        """Build the preview again; on any failure say what failed and keep the last good preview."""
        with self._lock:
            try:
                self._build()
            except DataError as exc:
                self.say(self._kept("the data has problems:"))
                for problem in exc.problems:
                    self.say(f"  {problem}")
                return False
            except OSError as exc:  # a file that vanished or cannot be read while the preview was built
                self.say(self._kept(f"{exc.filename or 'a file'}: {exc.strerror or exc}"))
                return False
            except BuildError as exc:  # a template, the site's sources or MkDocs: named by the build
                self.say(self._kept(str(exc)))
                return False
            except Exception as exc:  # a preview must outlive any failure of a build, and say where it was
                self.say(self._kept(f"{_where(exc)}: {type(exc).__name__}: {exc}"))
                return False
            self.generation += 1
            return True

    def _kept(self, reason: str) -> str:
        keep = "the last good preview is still served" if self.generation else "there is no preview yet"
        return f"Preview not rebuilt ({keep}; fix the problem and save again): {reason}"

    def _build(self) -> None:
        """A new preview in a folder of its own, served from the moment it is complete (one assignment, which
        requests in flight do not see half done); then the previous one is removed. Folders left by an
        earlier session are removed by the first build."""
        data = load(self.project / "data")
        self.folder.mkdir(parents=True, exist_ok=True)
        new = Path(tempfile.mkdtemp(prefix="preview-", dir=self.folder))
        try:
            config = render(self.project, data, new / "src")
            mkdocs_build(config, new / "site", data.review.date, in_process=True)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        self.root = new / "site"
        for old in self.folder.glob("preview-*"):
            if old != new:
                shutil.rmtree(old, ignore_errors=True)


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _segments(target: str) -> list[str]:
    """The decoded segments of a request target's path, or Refused if it is spelled so that it could leave
    the folder: '.', '..' or empty segments, an encoded '/' or '\\', a backslash or a NUL."""
    # An origin-form target ('/a/b?q') is read as it is: urlsplit would take '//host/...' for a host.
    raw = urlsplit(target).path if target.lower().startswith(("http://", "https://")) else target
    raw = raw.split("?", 1)[0].split("#", 1)[0]
    lowered = raw.lower()
    if not raw.startswith("/") or "%2f" in lowered or "%5c" in lowered or "%00" in lowered:
        raise Refused(403, "an encoded '/', '\\' or NUL, or a path that does not start with '/'")
    try:
        parts = unquote(raw, errors="strict")[1:].split("/")
    except UnicodeDecodeError:
        raise Refused(400, "a path that is not UTF-8") from None
    if any(p in (".", "..") or "\\" in p or "\0" in p for p in parts) or "" in parts[:-1]:
        raise Refused(403, "a '.', '..' or empty segment, or a backslash")
    return parts


def resolve(root: Path, target: str) -> Path:
    """The regular file under `root` that the request target `target` names, or Refused (403: a path that
    leaves the folder or is spelled so that it could; 404: nothing there)."""
    parts = _segments(target)
    try:
        base = root.resolve()
        path = base.joinpath(*parts)
        if path.is_dir():
            path = path / "index.html"
        real = path.resolve()
        if not real.is_relative_to(base):
            raise Refused(403, "a link to something outside the preview folder")
        mode = os.stat(real).st_mode
    except (OSError, RuntimeError):  # nothing there, a name too long, a loop of links (RuntimeError)
        raise Refused(404, "no such file") from None
    if not stat.S_ISREG(mode):
        raise Refused(404, "not a regular file")
    return real


class Handler(BaseHTTPRequestHandler):
    """GET and HEAD of the preview's files; see resolve for what is refused."""

    preview: Preview
    hosts: frozenset[str] | None  # Host header values accepted, None for any (with --allow-remote)
    server_version = "review-preview"

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        try:
            status, kind, content = self._content()
        except Refused as exc:
            if exc.status == 403:
                self.preview.say(f"refused {self.command} {self.path!r}: {exc.reason}")
            status, kind = exc.status, "text/plain; charset=utf-8"
            content = f"{exc.status}: {exc.reason}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            self.wfile.write(content)

    def _content(self) -> tuple[int, str, bytes]:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if self.hosts is not None and host not in self.hosts:
            raise Refused(403, f"a Host header naming another machine ({host!r})")
        if self.path == PREFIX + "reload.js":
            return 200, "text/javascript; charset=utf-8", RELOAD_JS
        if self.path == PREFIX + "generation":
            return 200, "text/plain; charset=utf-8", str(self.preview.generation).encode()
        if self.preview.generation == 0:
            message = "No preview yet: the first build failed; see the terminal, fix the problem and save."
            return 503, "text/html; charset=utf-8", f"<!doctype html><p>{html.escape(message)}</p>".encode()
        path = resolve(self.preview.root, self.path)
        try:
            content = path.read_bytes()
        except OSError:  # removed with the previous preview while this request was answered
            raise Refused(404, "no such file") from None
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if kind == "text/html":
            content = content.replace(b"</body>", RELOAD_TAG + b"</body>", 1)
        if kind.startswith("text/") or kind in ("application/javascript", "application/json", "image/svg+xml"):
            kind += "; charset=utf-8"
        return 200, kind, content

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the name BaseHTTPRequestHandler uses
        pass  # the terminal shows rebuilds and refusals, not every request


class _ServerV6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def make_server(preview: Preview, host: str, port: int, allow_remote: bool = False) -> ThreadingHTTPServer:
    loopback = frozenset({"127.0.0.1", "localhost", "::1", host})
    handler = type("PreviewHandler", (Handler,), {"preview": preview, "hosts": None if allow_remote else loopback})
    server = (_ServerV6 if ipaddress.ip_address(host).version == 6 else ThreadingHTTPServer)((host, port), handler)
    server.daemon_threads = True
    return server


def serve(project: Path, dev_addr: str, allow_remote: bool = False, interval: float = 1.0) -> int:
    try:
        host, port = parse_address(dev_addr, allow_remote)
    except AddressError as exc:
        print(f"review: error: {exc}", file=sys.stderr)
        return 2
    if not (project / "data" / "review.yaml").is_file():
        print(f"review: error: {project} is not a review project (it has no data/review.yaml)", file=sys.stderr)
        return 2
    preview = Preview(project)
    try:
        server = make_server(preview, host, port, allow_remote)
    except OSError as exc:
        print(f"review: error: --dev-addr {dev_addr}: cannot listen there: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if not ipaddress.ip_address(host).is_loopback:
        preview.say(f"WARNING: the preview is served on {host}, to every machine that can reach it, unprotected.")
    preview.rebuild()
    shown = f"[{host}]" if ":" in host else host
    print(f"Serving the preview at http://{shown}:{server.server_address[1]}/ (Ctrl-C to stop)", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with contextlib.suppress(ValueError):  # only the main thread may set a signal handler
        signal.signal(signal.SIGTERM, _stop)
    try:
        _watch(project, preview, interval)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
    return 0


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt  # a terminated preview stops as one interrupted from the keyboard: cleanly


def _watch(project: Path, preview: Preview, interval: float) -> None:
    """Rebuild when the sources change and then hold still for one interval (an editor saving several files)."""
    signature = _signature(project)
    while True:
        time.sleep(interval)
        current = _signature(project)
        if current == signature:
            continue
        while current != signature:
            signature = current
            time.sleep(interval)
            current = _signature(project)
        if preview.rebuild():
            preview.say(f"Rebuilt the preview (build {preview.generation}).")
