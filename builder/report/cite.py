"""Citations of the review, a page or one result of one version: plain text, BibTeX, RIS and CSL-JSON.

Every result has one permalink, `<url>/v<version>/<page>#<id>`: the archived copy of its version, which never
changes. It is the same on the latest pages and on that archived copy. Without a `url` in review.yaml the
permalink is the same path within the site (`v1.1/outcomes/survival.html#survival-primary`). The site's root
always shows the newest version, so `<url>/<page>#<id>` is the link to "this result, as it is now".
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from builder.contract import Review
from builder.report import escape


@dataclass(frozen=True)
class Citation:
    text: str
    bibtex: str
    ris: str
    csl: str  # CSL-JSON, as reference managers import it
    permalink: str  # as cited: absolute with a url, else the path within the site
    newest: str  # the same page and anchor in whatever version is the newest
    path: str  # the permalink's path within the site, v<version>/<page>#<id>
    draft: bool  # the version is not released yet: its permalink resolves only once it is
    root: str  # the relative way from the citing page to the site's root
    version: str

    @property
    def href(self) -> str:
        """The permalink as a link from the citing page (so that it also works offline)."""
        return self.root + self.path

    @property
    def newest_href(self) -> str:
        return self.root + self.path.split("/", 1)[1]


def version_path(version: str, page: str) -> str:
    """The page (and anchor) of one version within the site: its archived copy, which never changes."""
    return f"v{version}/{page}"


def absolute(url: str | None, path: str) -> str:
    base = (url or "").rstrip("/")
    return f"{base}/{path}" if base else path


def _bib(value: str) -> str:
    return escape.bibtex(value)


def cite(
    review: Review,
    page: str,
    what: str | None = None,
    *,
    url: str | None = None,
    day: dt.date | None = None,
    draft: bool = False,
    root: str = "",
) -> Citation:
    """`page` is the page (and anchor) within the site; `what` names the result when citing one result.
    `url` is the site's address (the latest review.yaml's, also for archived versions), `day` the version's
    release date (its review.yaml date when not given), `root` the way from the citing page to the site's root."""
    day = day or review.date
    path = version_path(review.version, page)
    link = absolute(url, path)
    title = review.title + (f". {what}" if what else "")
    key = f"{review.id}-v{review.version}" + (f"-{page.split('#')[-1]}" if "#" in page else "")
    text = (
        f"{'; '.join(review.authors)}. {title}. Living systematic review, version {review.version}, "
        f"{day.isoformat()}. {link}"
    )
    return Citation(
        text,
        _bibtex(review, key, title, day, link),
        _ris(review, title, day, link),
        _csl(review, key, title, day, link),
        link,
        absolute(url, page),
        path,
        draft,
        root,
        review.version,
    )


def _bibtex(review: Review, key: str, title: str, day: dt.date, link: str) -> str:
    authors = " and ".join("{" + _bib(a) + "}" for a in review.authors)
    return "\n".join(
        [
            f"@misc{{{key},",
            f"  author = {{{authors}}},",
            f"  title = {{{_bib(title)}}},",
            f"  howpublished = {{Living systematic review, version {review.version}}},",
            f"  year = {{{day.year}}},",
            f"  date = {{{day.isoformat()}}},",
            f"  version = {{{review.version}}},",
            f"  url = {{{escape.link(link)}}}",
            "}",
        ]
    )


def _ris(review: Review, title: str, day: dt.date, link: str) -> str:
    return "\n".join(
        [
            "TY  - ELEC",
            *[f"AU  - {escape.ris(a)}" for a in review.authors],
            f"TI  - {escape.ris(title)}",
            f"PY  - {day.year}",
            f"DA  - {day.strftime('%Y/%m/%d')}",
            f"ET  - {review.version}",
            "M3  - Living systematic review",
            f"UR  - {escape.link(link)}",
            "ER  - ",
        ]
    )


def _csl(review: Review, key: str, title: str, day: dt.date, link: str) -> str:
    item = {
        "id": key,
        "type": "report",
        "genre": "Living systematic review",
        "title": title,
        "author": [{"literal": a} for a in review.authors],
        "issued": {"date-parts": [[day.year, day.month, day.day]]},
        "version": review.version,
        "URL": link,
    }
    return json.dumps([item], indent=2, ensure_ascii=False)
