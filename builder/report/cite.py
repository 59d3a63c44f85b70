"""Citations of the review, a page or one result of one version: plain text, BibTeX and RIS."""

from __future__ import annotations

from dataclasses import dataclass

from builder.contract import Review
from builder.report import escape


@dataclass(frozen=True)
class Citation:
    text: str
    bibtex: str
    ris: str


def _link(review: Review, path: str) -> str:
    base = (review.url or "").rstrip("/")
    return f"{base}/{path}" if base else path


def _bib(value: str) -> str:
    return escape.bibtex(value)


def cite(review: Review, path: str, what: str | None = None, key: str | None = None) -> Citation:
    """`path` is the page (and anchor) within the site; `what` names the result when citing one result."""
    authors = "; ".join(review.authors)
    title = review.title + (f". {what}" if what else "")
    link = _link(review, path)
    day = review.date.isoformat()
    text = f"{authors}. {title}. Living systematic review, version {review.version}, {day}. {link}"
    key = key or f"{review.id}-v{review.version}" + (f"-{path.split('#')[-1]}" if "#" in path else "")
    bibtex = "\n".join(
        [
            f"@misc{{{key},",
            f"  author = {{{' and '.join('{' + _bib(a) + '}' for a in review.authors)}}},",
            f"  title = {{{_bib(title)}}},",
            f"  howpublished = {{Living systematic review, version {review.version}}},",
            f"  year = {{{review.date.year}}},",
            f"  date = {{{day}}},",
            f"  version = {{{review.version}}},",
            f"  url = {{{escape.link(link)}}}",
            "}",
        ]
    )
    ris = "\n".join(
        [
            "TY  - ELEC",
            *[f"AU  - {escape.ris(a)}" for a in review.authors],
            f"TI  - {escape.ris(title)}",
            f"PY  - {review.date.year}",
            f"DA  - {review.date.strftime('%Y/%m/%d')}",
            f"ET  - {review.version}",
            f"UR  - {escape.link(link)}",
            "ER  - ",
        ]
    )
    return Citation(text, bibtex, ris)
