"""Figures are drawn into the built pages from their files, after MkDocs (builder.report.figures.inline)."""

from __future__ import annotations

import os

import pytest

from builder.report.figures import inline

SVG = '<svg xmlns="http://www.w3.org/2000/svg"><text>Study A &amp; B</text></svg>\n'


def _site(tmp_path, page_html: str, svg: str = SVG):
    docs, site = tmp_path / "docs", tmp_path / "site"
    (docs / "figures").mkdir(parents=True)
    (docs / "figures/f.svg").write_text(svg, encoding="utf-8")
    (site / "outcomes").mkdir(parents=True)
    (site / "outcomes/a.html").write_text(page_html, encoding="utf-8")
    (site / "index.html").write_text("<p>no figure</p>", encoding="utf-8")
    return docs, site


def test_markers_become_the_figure_and_other_pages_are_untouched(tmp_path):
    mark = inline.marker("figures/f.svg", SVG)
    docs, site = _site(tmp_path, f'<div class="figure-scroll">\n{mark}\n</div><p>{mark}</p>')
    untouched = (site / "index.html").stat().st_mtime_ns
    assert inline.expand(site, docs) == 1
    assert (site / "outcomes/a.html").read_text(
        encoding="utf-8"
    ) == f'<div class="figure-scroll">\n{SVG}\n</div><p>{SVG}</p>'
    assert (site / "index.html").stat().st_mtime_ns == untouched


def test_the_marker_changes_with_the_figure():
    assert inline.marker("figures/f.svg", SVG) != inline.marker("figures/f.svg", SVG.replace("A", "C"))


def test_a_page_linked_to_an_earlier_site_is_not_written_through(tmp_path):
    """Incremental builds hard-link unchanged pages from the last site: expanding must not alter that site."""
    mark = inline.marker("figures/f.svg", SVG)
    docs, site = _site(tmp_path, mark)
    earlier = tmp_path / "earlier.html"
    os.link(site / "outcomes/a.html", earlier)
    inline.expand(site, docs)
    assert earlier.read_text(encoding="utf-8") == mark


def test_a_figure_that_differs_from_its_marker_stops_the_build(tmp_path):
    docs, site = _site(tmp_path, inline.marker("figures/f.svg", SVG), svg=SVG.replace("A", "C"))
    with pytest.raises(inline.FigureError, match="figures/f.svg differs"):
        inline.expand(site, docs)


@pytest.mark.parametrize("path", ["figures/missing.svg", "../outside.svg"])
def test_a_figure_that_is_not_a_source_file_stops_the_build(tmp_path, path):
    (tmp_path / "outside.svg").write_text(SVG, encoding="utf-8")
    docs, site = _site(tmp_path, inline.marker(path, SVG))
    with pytest.raises(inline.FigureError, match="not a file of the site's sources"):
        inline.expand(site, docs)
