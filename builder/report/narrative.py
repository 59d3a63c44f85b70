"""Prose with numbers that cannot go stale: placeholders in the text are filled from the results.

Their grammar and the check of what they name are in builder.contract.placeholders. Every filled number is wrapped in a span naming its source, so a test can check it against results.json.
"""

from __future__ import annotations

import html
import math

from builder.contract.placeholders import PLACEHOLDER
from builder.report import fmt
from builder.stats.inference import excludes_null


def _totals(record: dict) -> dict[str, int]:
    keys = ("events_exp", "total_exp", "events_ctrl", "total_ctrl")
    return {k: sum(s["inputs"].get(k, 0) for s in record["studies"]) for k in keys}


def result_value(record: dict, field: str) -> str:
    """Format one field of a results.json analysis record as the site prints it."""
    for family in (_pooled_field, _heterogeneity_field, _count_field, _integrity_field, _analysis_field):
        value = family(record, field)
        if value is not None:
            return value
    raise KeyError(field)


# Each family formats the fields it knows and returns None for the others.


def _pooled_field(record: dict, field: str) -> str | None:
    pooled = record["pooled"]
    if field in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
        value = pooled and pooled[field]
        return "—" if value is None else fmt.num(math.exp(value) if record["scale"] == "log" else value)
    if field == "p":
        return "—" if not pooled else fmt.p_value(pooled["p"]).removeprefix("P = ").removeprefix("P ")
    return None


def _heterogeneity_field(record: dict, field: str) -> str | None:
    het = record["heterogeneity"]
    if field == "i2":
        return "—" if not het or het["i2"] is None else f"{het['i2']:.0f}%"
    if field == "tau2":
        return "—" if not het else fmt.tau2(het["tau2"])
    if field == "q_p":
        return "—" if not het or het["q_p"] is None else fmt.num(het["q_p"])
    return None


def _count_field(record: dict, field: str) -> str | None:
    if field == "k":
        return str(len(record["studies"]))
    if field not in ("participants", "pct_exp", "pct_ctrl", "events_exp", "total_exp", "events_ctrl", "total_ctrl"):
        return None
    totals = _totals(record)
    if field == "participants":
        return str(totals["total_exp"] + totals["total_ctrl"])
    if field in totals:
        return str(totals[field])
    side = field[4:]
    return f"{100 * totals['events_' + side] / totals['total_' + side]:.1f}"


def _integrity_field(record: dict, field: str) -> str | None:
    """Counts that show what an analysis rests on: its randomised share and what it left out."""
    if field == "left_out_k":
        return str(len(record.get("left_out", [])))
    if field == "left_out_participants":
        return str(sum(x["participants"] for x in record.get("left_out", [])))
    if field not in ("randomised_k", "randomised_participants", "pct_randomised"):
        return None
    rct = [s for s in record["studies"] if s["design"] == "rct"]
    if field == "randomised_k":
        return str(len(rct))
    n = sum(_participants(s) for s in rct)
    if field == "randomised_participants":
        return str(n)
    total = sum(_participants(s) for s in record["studies"])
    return "—" if not total else f"{100 * n / total:.0f}"


def _participants(study: dict) -> int:
    return study["inputs"].get("total_exp", 0) + study["inputs"].get("total_ctrl", 0)


def _analysis_field(record: dict, field: str) -> str | None:
    pooled = record["pooled"]
    if field == "continuity_correction":
        return f"{record['continuity_correction']:g}"
    if field == "conclusion":
        if not pooled:
            return "no pooled estimate"
        excludes = excludes_null(pooled["ci_low"], pooled["ci_high"])
        return "the interval excludes no effect" if excludes else "the interval includes no effect"
    if field == "planned_experimental_n":
        return str(record["planned_experimental_n"])
    return None


class Filler:
    """Fills placeholders from the results document, the review and the studies."""

    def __init__(self, document: dict, review, studies: dict):
        self.records = {a["id"]: a for a in document["analyses"]}
        self.review = review
        self.studies = studies

    def value(self, kind: str | None, name: str, field: str | None) -> str:
        if kind is None:
            return result_value(self.records[name], field or "")
        if kind == "printed:":
            reported = next(a.reported for a in self.review.analyses if a.id == name)
            return str(getattr(reported, field or "")).replace("-", "−")
        if kind == "flow:":
            flow = self.review.flow
            if name == "full_texts_included":
                return str(flow.full_texts_assessed - flow.full_texts_excluded)
            return str(getattr(flow, name))
        if kind == "count:":
            return str(self._count(name))
        if kind == "study:":
            return str(self.studies[name].total_n)
        raise KeyError(kind)

    def _count(self, name: str) -> int:
        """studies, clinical-studies or case-reports; with source-, only those the source review included."""
        source_only = name.startswith("source-")
        wanted = {"studies": None, "clinical-studies": "clinical-studies", "case-reports": "case-reports"}[
            name.removeprefix("source-")
        ]
        return sum(
            1
            for s in self.studies.values()
            if (wanted is None or s.source_table == wanted) and (not source_only or s.source_ref is not None)
        )

    def render(self, text: str, escape) -> str:
        """`escape` makes literal text safe; placeholders become spans the tests can verify."""
        out, last = [], 0
        for m in PLACEHOLDER.finditer(text):
            out.append(escape(text[last : m.start()]))
            kind, name, field = m.groups()
            source = (kind or "result:") + name + (f".{field}" if field else "")
            out.append(
                f'<span class="stat" data-source="{html.escape(source)}">'
                f"{html.escape(self.value(kind, name, field))}</span>"
            )
            last = m.end()
        out.append(escape(text[last:]))
        return "".join(out)
