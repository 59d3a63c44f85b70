"""Figures drawn inline in the pages without passing through Markdown and the search index.

Every figure is an SVG file of the site (figures/...), and the pages draw it inline so that it follows the
page's colour scheme. Written into the Markdown as it is, a forest plot of hundreds of studies is most of its
page: Python-Markdown parses it as raw HTML and the search plugin parses it again, for text no reader searches
(tick labels, study names that the tables carry too). So a page's Markdown holds a marker naming the figure
file and a digest of its content, and once MkDocs (or Zensical) has written the site, `expand` puts each file's
content in place of its marker. The digest makes the Markdown change whenever the figure does, which is what
an incremental build compares.
"""

from __future__ import annotations

import re
from pathlib import Path

from builder.caching.digest import content_digest

_MARKER = re.compile(rb"<!-- review-figure (\S+) ([0-9a-f]{16}) -->")
_HINT = b"<!-- review-figure "


class FigureError(Exception):
    pass


def _digest(content: bytes) -> str:
    return content_digest(content)[:16]


def marker(path: str, svg: str) -> str:
    """What a page's Markdown holds in place of `svg`, the content of docs/`path`."""
    return f"<!-- review-figure {path} {_digest(svg.encode('utf-8'))} -->"


def expand(site: Path, docs: Path) -> int:
    """Replace every marker in the HTML pages under `site` with the figure it names, read from `docs`; return
    how many pages changed. A figure that is missing or differs from what its marker was written for stops
    the build: the page would show another figure than the one its Markdown was compared by."""
    cache: dict[bytes, bytes] = {}

    def content(match: re.Match) -> bytes:
        path, digest = match.group(1), match.group(2)
        if path not in cache:
            rel = path.decode("utf-8")
            file = (docs / rel).resolve()
            if not file.is_relative_to(docs.resolve()) or not file.is_file():
                raise FigureError(f"a page draws the figure {rel}, which is not a file of the site's sources")
            cache[path] = file.read_bytes()
        if _digest(cache[path]).encode() != digest:
            raise FigureError(f"the figure {path.decode()} differs from the one its page was written with")
        return cache[path]

    changed = 0
    for page in site.rglob("*.html"):
        html = page.read_bytes()
        if _HINT not in html:
            continue
        fresh = page.with_name(page.name + ".inline")  # a new file: never write through a hard link
        fresh.write_bytes(_MARKER.sub(content, html))
        fresh.replace(page)
        changed += 1
    return changed
