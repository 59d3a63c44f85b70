"""What changed between two versions: studies, their fields and risk of bias, and every analysis."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from builder.ingest.loader import ReviewData
from builder.report import fmt
from builder.stats.inference import excludes_null


def _flatten(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out or {prefix: []}
    return {prefix: value}


@dataclass
class StudyChange:
    id: str
    label: str
    fields: list[tuple[str, object, object]]  # path, old, new

    @property
    def risk_of_bias(self) -> bool:
        return any(p.startswith("risk_of_bias") for p, _, _ in self.fields)


CROSSED_IN = "the 95% CI now excludes no effect"
CROSSED_OUT = "the 95% CI now includes no effect"
FLIPPED = "the direction of the effect flipped"
CONCLUSION_FLAGS = (CROSSED_IN, CROSSED_OUT, FLIPPED)  # the flags that change what a result concludes


@dataclass
class AnalysisChange:
    id: str
    title: str
    scale: str
    old: dict | None
    new: dict | None
    flags: list[str] = field(default_factory=list)

    @property
    def role(self) -> str | None:
        rec = self.new or self.old or {}
        return rec.get("role")

    @property
    def conclusion_flags(self) -> list[str]:
        """The flags that say the conclusion changed: significance crossed or the direction flipped."""
        return [f for f in self.flags if f in CONCLUSION_FLAGS]

    def shift(self, key: str) -> str:
        """'before → now' for tau2, i2 or the prediction interval, as printed on the site."""

        def show(rec):
            if rec is None or rec["pooled"] is None:
                return "—"
            if key == "tau2":
                return fmt.tau2(rec["heterogeneity"]["tau2"]) if rec["heterogeneity"]["tau2"] is not None else "—"
            if key == "i2":
                return fmt.percent(rec["heterogeneity"]["i2"])
            p = rec["pooled"]
            if p["pi_low"] is None:
                return "—"
            return f"[{fmt.num(fmt.back(p['pi_low'], self.scale))}, {fmt.num(fmt.back(p['pi_high'], self.scale))}]"

        before, after = show(self.old), show(self.new)
        return after if before == after else f"{before} → {after}"

    def describe(self, key: str) -> str:
        def show(rec):
            if rec is None or rec["pooled"] is None:
                return "—"
            p = rec["pooled"]
            return fmt.estimate_ci(p["estimate"], p["ci_low"], p["ci_high"], self.scale)

        return f"{show(self.old)} → {show(self.new)}" if key == "estimate" else ""


@dataclass
class Diff:
    old_version: str
    new_version: str
    added: list[tuple[str, str]]
    removed: list[tuple[str, str]]
    changed: list[StudyChange]
    analyses: list[AnalysisChange]
    certainty: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # outcome, old, new

    def conclusions(self) -> list[str]:
        """Every change of a conclusion: a primary analysis's interval crossing no effect or its direction
        flipping, then the same in the other analyses, then each GRADE rating that moved."""
        ordered = sorted(self.analyses, key=lambda a: a.role != "primary")
        out = [f"{a.title}: {flag}" for a in ordered for flag in a.conclusion_flags]
        out += [f"certainty of {o}: {a or 'not rated'} → {b or 'not rated'}" for o, a, b in self.certainty]
        return out

    @property
    def primary_conclusion_changed(self) -> bool:
        return bool(self.certainty) or any(a.conclusion_flags for a in self.analyses if a.role == "primary")

    def to_json(self) -> dict:
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "conclusions_changed": self.conclusions(),
            "studies_added": [i for i, _ in self.added],
            "studies_removed": [i for i, _ in self.removed],
            "studies_changed": [
                {
                    "id": c.id,
                    "risk_of_bias_changed": c.risk_of_bias,
                    "fields": [{"field": p, "old": o, "new": n} for p, o, n in c.fields],
                }
                for c in self.changed
            ],
            "certainty_changed": [{"outcome": o, "old": a, "new": b} for o, a, b in self.certainty],
            "analyses": [
                {
                    "id": a.id,
                    "flags": a.flags,
                    "old": a.old and {"pooled": a.old["pooled"], "heterogeneity": a.old["heterogeneity"]},
                    "new": a.new and {"pooled": a.new["pooled"], "heterogeneity": a.new["heterogeneity"]},
                }
                for a in self.analyses
            ],
        }


def _significant(rec) -> bool | None:
    if rec is None or rec["pooled"] is None:
        return None
    p = rec["pooled"]
    return excludes_null(p["ci_low"], p["ci_high"])


def _flags(old, new) -> list[str]:
    flags = []
    if old is None:
        return ["new analysis"]
    if new is None:
        return ["analysis removed"]
    if (old["pooled"] is None) != (new["pooled"] is None):
        return ["now estimable" if new["pooled"] else "no longer estimable"]
    if old["pooled"] is None:
        return []
    so, sn = _significant(old), _significant(new)
    if so != sn:
        flags.append(CROSSED_IN if sn else CROSSED_OUT)
    eo, en = old["pooled"]["estimate"], new["pooled"]["estimate"]
    if eo * en < 0:
        flags.append(FLIPPED)
    for key in ("estimate", "ci_low", "ci_high"):
        if not math.isclose(old["pooled"][key], new["pooled"][key], rel_tol=1e-9, abs_tol=1e-12):
            flags.append("pooled result changed")
            break
    return flags


def compare(old: ReviewData, old_doc: dict, new: ReviewData, new_doc: dict) -> Diff:
    """What changed between two versions: studies, analyses (from their results.json) and certainty."""
    added = [(s, new.studies[s].label) for s in new.studies if s not in old.studies]
    removed = [(s, old.studies[s].label) for s in old.studies if s not in new.studies]
    return Diff(
        old.review.version,
        new.review.version,
        added,
        removed,
        _study_changes(old, new),
        _analysis_changes(old_doc, new_doc),
        _certainty_changes(old, new),
    )


def _study_changes(old: ReviewData, new: ReviewData) -> list[StudyChange]:
    """Each study in both versions whose data differ, with the fields that do."""
    changed = []
    for sid in sorted(set(old.studies) & set(new.studies)):
        a = _flatten(old.studies[sid].model_dump(mode="json"))
        b = _flatten(new.studies[sid].model_dump(mode="json"))
        fields = [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        if fields:
            changed.append(StudyChange(sid, new.studies[sid].label, fields))
    return changed


def _analysis_changes(old_doc: dict, new_doc: dict) -> list[AnalysisChange]:
    """Every analysis of either version (the new version's order, then the removed ones), with its flags."""
    olds = {a["id"]: a for a in old_doc["analyses"]}
    news = {a["id"]: a for a in new_doc["analyses"]}
    analyses = []
    for aid in list(news) + [a for a in olds if a not in news]:
        o, n = olds.get(aid), news.get(aid)
        rec = n or o or {}
        analyses.append(AnalysisChange(aid, rec["title"], rec["scale"], o, n, _flags(o, n)))
    return analyses


def _certainty_changes(old: ReviewData, new: ReviewData) -> list[tuple[str, str | None, str | None]]:
    """(outcome, old rating, new rating) for each outcome whose certainty rating changed."""
    old_cert = {c.outcome: c.rating for c in old.review.certainty}
    new_cert = {c.outcome: c.rating for c in new.review.certainty}
    return [
        (o, old_cert.get(o), new_cert.get(o))
        for o in sorted(set(old_cert) | set(new_cert))
        if old_cert.get(o) != new_cert.get(o)
    ]


def to_text(d: Diff) -> str:
    lines = [f"Changes from version {d.old_version} to {d.new_version}", ""]
    lines.append("Conclusions changed: " + ("; ".join(d.conclusions()) or "none"))
    lines.append("Studies added: " + (", ".join(label for _, label in d.added) or "none"))
    lines.append("Studies removed: " + (", ".join(label for _, label in d.removed) or "none"))
    lines += _corrections_text(d)
    for outcome, before, after in d.certainty:
        lines.append(f"Certainty of {outcome}: {before or 'not rated'} -> {after or 'not rated'}")
    if not d.certainty:
        lines.append("Certainty of the evidence: unchanged")
    lines.append("")
    lines.append("Analyses:")
    for a in d.analyses:
        note = "; ".join(a.flags) if a.flags else "unchanged"
        lines.append(f"  {a.id}: {a.describe('estimate')}  [{note}]")
    return "\n".join(lines) + "\n"


def _corrections_text(d: Diff) -> list[str]:
    if not d.changed:
        return ["Studies corrected: none"]
    lines = ["Studies corrected:"]
    for c in d.changed:
        lines.append(f"  {c.label}" + (" (risk of bias changed)" if c.risk_of_bias else ""))
        for path, o, n in c.fields[:20]:
            lines.append(f"    {path}: {o!r} -> {n!r}")
    return lines
