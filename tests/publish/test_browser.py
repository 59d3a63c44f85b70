"""The built site in a real browser (Debian's Chromium driven by Playwright), served on localhost.

Fails on console errors, failed requests, any request to another host, images that do not load, broken
internal links or anchors, serious accessibility violations (axe-core), a search that cannot find a study,
or a dark scheme that leaves the forest plot unreadable. Screenshots of key pages at phone and desktop
widths go to build/screenshots/ for people to look at.

Needs /usr/bin/chromium and axe-core (`make browser-deps`); .ci/run installs both and sets
REQUIRE_BROWSER=1, so in CI a missing browser is a failure, not a skip.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from conftest import ROOT

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / "node_modules/axe-core/axe.min.js"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEY_PAGES = ("index.html", "outcomes/survival.html", "outcomes/crp.html", "studies/index.html", "audit.html")


def _missing() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed (make browser-deps)"
    if not AXE.exists():
        return "axe-core is not installed (make browser-deps)"
    return None


@pytest.fixture(scope="module")
def browser_env():
    reason = _missing()
    if reason:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(built):
    handler = functools.partial(_QuietHandler, directory=str(built / "site"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _pages(built: Path) -> list[str]:
    return sorted(
        p.relative_to(built / "site").as_posix() for p in (built / "site").rglob("*.html") if p.name != "404.html"
    )


class _Visit:
    """Opens one page and records what went wrong."""

    def __init__(self, browser, base: str, width: int = 1280, height: int = 900, scheme: str = "light"):
        self.base = base
        self.problems: list[str] = []
        self.context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed request: {r.url}"))
        self.page.route("**/*", self._route)

    def _route(self, route):
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.problems.append(f"request to another host: {route.request.url}")
            route.abort()

    def open(self, path: str):
        response = self.page.goto(self.base + path, wait_until="networkidle")
        if response is None or response.status != 200:
            self.problems.append(f"{path}: HTTP {response.status if response else 'no response'}")
        return self.page

    def close(self):
        self.context.close()


def test_every_page_loads_cleanly_with_working_links(browser_env, server, built):
    pages = _pages(built)
    ids: dict[str, set[str]] = {}
    links: list[tuple[str, str]] = []
    visit = _Visit(browser_env, server)
    try:
        for path in pages:
            page = visit.open(path)
            broken_images = page.eval_on_selector_all(
                "img", "els => els.filter(e => !e.complete || e.naturalWidth === 0).map(e => e.src)"
            )
            visit.problems += [f"{path}: image did not load: {src}" for src in broken_images]
            ids[path] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
            links += [(path, h) for h in hrefs]
    finally:
        visit.close()
    assert visit.problems == []
    broken = []
    for source, href in links:
        target = urljoin(server + source, href)
        if not target.startswith(server):
            continue  # links to other sites are for readers to click, not requests the page makes
        url, fragment = urldefrag(target)
        rel = url[len(server) :] or "index.html"
        if rel.endswith("/"):
            rel += "index.html"
        if not (built / "site" / rel).exists():
            broken.append(f"{source}: {href} (no such file)")
        elif fragment and rel in ids and fragment not in ids[rel]:
            broken.append(f"{source}: {href} (no such anchor)")
    assert broken == []


@pytest.mark.parametrize("path", KEY_PAGES)
def test_no_serious_accessibility_violations(browser_env, server, path):
    visit = _Visit(browser_env, server)
    try:
        page = visit.open(path)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    finally:
        visit.close()
    serious = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes, e.g. {v['nodes'][0]['target']})"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], "\n".join(serious)


def test_search_finds_a_study(browser_env, server):
    visit = _Visit(browser_env, server)
    try:
        page = visit.open("index.html")
        page.keyboard.press("/")  # the theme's shortcut that opens and focuses search
        page.keyboard.type("Lanzoni", delay=50)
        page.wait_for_selector(".md-search-result__item", timeout=15_000)
        text = page.inner_text(".md-search-result")
    finally:
        visit.close()
    assert "Lanzoni" in text


@pytest.mark.parametrize("path", ["index.html", "outcomes/survival.html", "v1.0/index.html"])
def test_search_works_from_a_page_opened_from_disk(browser_env, built, path):
    """Opened as a file:// URL, as the README suggests, search must find a study, with no request leaving the
    site's folder (the theme's worker cannot start there; the site brings its own stand-in)."""
    context = browser_env.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: r.url.startswith(("file:", "data:", "blob:", "about:")) or problems.append(r.url))
    try:
        page.goto((built / "site" / path).as_uri())
        page.keyboard.press("/")
        page.keyboard.type("Lanzoni", delay=50)
        page.wait_for_selector(".md-search-result__item", timeout=15_000)
        text = page.inner_text(".md-search-result")
    finally:
        context.close()
    assert "Lanzoni 2021" in text and "matching document" in text
    assert problems == []


def test_on_a_phone_figures_stay_legible(browser_env, server):
    """At 390 px the forest plot scrolls in its box and says so; the PRISMA diagram is drawn as one column at
    full size (12 px text) instead of the wide one shrunk to a third."""
    visit = _Visit(browser_env, server, width=390)
    try:
        page = visit.open("outcomes/survival.html")
        box = page.locator(".figure-scroll").first
        assert "overflows" in box.get_attribute("class")
        assert "Scroll sideways" in box.evaluate("e => getComputedStyle(e, '::before').content")
        assert box.get_attribute("tabindex") == "0" and "scrolls sideways" in box.get_attribute("aria-label")
        page = visit.open("flow.html")
        assert not page.locator(".flow-wide").is_visible()
        shown, drawn = page.eval_on_selector(
            ".flow-narrow svg", "s => [s.getBoundingClientRect().width, s.viewBox.baseVal.width]"
        )
        assert abs(shown - drawn) < 1, (shown, drawn)
    finally:
        visit.close()
    assert visit.problems == []


def test_on_a_desktop_figures_that_fit_show_no_scroll_cue(browser_env, server):
    visit = _Visit(browser_env, server, width=1280)
    try:
        page = visit.open("outcomes/survival.html")
        assert "overflows" not in page.locator(".figure-scroll").first.get_attribute("class")
        page = visit.open("flow.html")
        assert page.locator(".flow-wide").is_visible() and not page.locator(".flow-narrow").is_visible()
    finally:
        visit.close()
    assert visit.problems == []


def test_dark_scheme_keeps_the_forest_plot_legible(browser_env, server):
    visit = _Visit(browser_env, server, scheme="dark")
    try:
        page = visit.open("outcomes/survival.html")
        scheme = page.get_attribute("body", "data-md-color-scheme")
        fill = page.eval_on_selector("svg.forest text", "e => getComputedStyle(e).fill")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    finally:
        visit.close()
    assert scheme == "slate"

    def lightness(rgb):
        return sum(int(c) for c in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]) / 3

    assert lightness(fill) > 150 and lightness(background) < 100, (fill, background)


@pytest.mark.parametrize("width,name", [(390, "phone"), (1280, "desktop")])
def test_screenshots_of_key_pages(browser_env, server, width, name):
    out = ROOT / "build/screenshots"
    out.mkdir(parents=True, exist_ok=True)
    visit = _Visit(browser_env, server, width=width, height=900)
    try:
        for path in KEY_PAGES:
            page = visit.open(path)
            file = out / f"{name}-{path.replace('/', '-').removesuffix('.html')}.png"
            page.screenshot(path=str(file), full_page=True)
            assert file.stat().st_size > 10_000
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{path} scrolls sideways at {width}px"
    finally:
        visit.close()
    assert visit.problems == []
