"""Release metadata written beside a released version: a CITATION.cff and a Zenodo-style .zenodo.json.

With them, depositing versions/<version>/ (its data, results.json and manifest) in a repository that mints
DOIs gives that version its own DOI without writing any metadata by hand.
"""

from __future__ import annotations

import datetime as dt
import json

import yaml

from builder.contract import Review
from builder.report.cite import absolute, version_path


def _description(review: Review) -> str:
    searched = (
        f"Literature searched to {review.living.last_search.isoformat()}. "
        if review.living.last_search
        else "The literature has not yet been searched. "
    )
    return (
        f"Version {review.version} of a living systematic review: {review.title}. "
        f"What triggered this version: {review.living.trigger.strip()} "
        f"{searched}"
        "The deposit holds the version's data files, its computed results (results.json) and its manifest."
    )


def citation_cff(review: Review, day: dt.date, url: str | None) -> str:
    """CITATION.cff of one released version of the review (a data set, cited by its version)."""
    cff: dict = {
        "cff-version": "1.2.0",
        "message": f"To cite version {review.version} of this living review, cite it as below.",
        "type": "dataset",
        "title": review.title,
        "version": review.version,
        "date-released": day.isoformat(),
        "authors": [{"name": a} for a in review.authors],
        "abstract": _description(review),
        "keywords": ["living systematic review", "meta-analysis"],
    }
    if url:
        cff["url"] = absolute(url, version_path(review.version, "index.html"))
    source = review.source_review
    if source is not None and source.doi:
        cff["references"] = [
            {
                "type": "article",
                "title": source.title or "",
                "authors": [{"name": a} for a in source.authors],
                "journal": source.journal or "",
                "year": source.year,
                "doi": source.doi,
            }
        ]
    return yaml.safe_dump(cff, sort_keys=False, allow_unicode=True, width=100)


def zenodo_json(review: Review, day: dt.date, url: str | None, previous: str | None) -> str:
    """.zenodo.json of one released version: what a Zenodo deposit of versions/<version>/ needs."""
    related = []
    if review.source_review is not None and review.source_review.doi:
        related.append({"identifier": review.source_review.doi, "relation": "isDerivedFrom", "scheme": "doi"})
    if url:
        page = absolute(url, version_path(review.version, "index.html"))
        related.append({"identifier": page, "relation": "isSupplementedBy", "scheme": "url"})
    meta: dict = {
        "title": f"{review.title} (version {review.version})",
        "upload_type": "dataset",
        "description": _description(review),
        "creators": [{"name": a} for a in review.authors],
        "version": review.version,
        "publication_date": day.isoformat(),
        "access_right": "open",
        "keywords": ["living systematic review", "meta-analysis"],
        "related_identifiers": related,
        "notes": (
            f"Supersedes version {previous} of the same review." if previous else "The first version of the review."
        ),
    }
    return json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
