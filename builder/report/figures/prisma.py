"""PRISMA 2020 flow diagram (with the living-review boxes of PRISMA-LSR), drawn from the data as SVG.

Only the typed counts of review.yaml's `flow` are typed; screened records and included studies are
computed (the latter counted from data/studies), so the diagram cannot disagree with the data.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.contract import Review, Study
from builder.report.figures.svg import Svg

CHAR = 7.2  # generous average width of a 12px (bold) character, for wrapping
LINE = 15.0
PAD = 8.0
STYLE = (
    ".fl text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:12px;"
    "fill:var(--md-default-fg-color,#1d1d1f)}.fl .b{font-weight:700}"
    ".fl rect{fill:var(--md-default-bg-color,#fff);stroke:var(--md-default-fg-color,#1d1d1f);stroke-width:1}"
    ".fl rect.phase{fill:#3b6fb6;stroke:none}.fl text.ph{fill:#fff;font-weight:700}"
    ".fl rect.warn{stroke:#c0392b;stroke-dasharray:4 3}"
    ".fl line{stroke:var(--md-default-fg-color,#1d1d1f);stroke-width:1.2}"
    ".fl polygon{fill:var(--md-default-fg-color,#1d1d1f)}"
)


def wrap(text: str, width: float) -> list[str]:
    limit = max(10, int((width - 2 * PAD) / CHAR))
    lines, current = [], ""
    text = text.replace("(n = ", "(n\u00a0=\u00a0")  # keep a count with its label
    for word in text.split(" "):
        if current and len(current) + 1 + len(word) > limit:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return lines + ([current] if current else [])


@dataclass(frozen=True)
class Counts:
    identified: int
    screened: int
    excluded: int
    excluded_reasons: dict[str, int]
    assessed: int
    reports_excluded: int
    reports_excluded_reasons: dict[str, int]
    unaccounted: int
    other_methods: int
    included: int
    clinical: int
    case_reports: int
    previous: int
    new: int


def counts(review: Review, studies: dict[str, Study], previous_ids: set[str] | None = None) -> Counts:
    """`previous_ids`: the studies of the previous released version (from its archive), if there is one."""
    f = review.flow
    previous = len(set(studies) & previous_ids) if previous_ids is not None else len(f.previous_version_studies)
    return Counts(
        identified=f.records_identified,
        screened=f.records_identified,
        excluded=f.records_excluded,
        excluded_reasons=dict(f.records_excluded_reasons),
        assessed=f.full_texts_assessed,
        reports_excluded=f.full_texts_excluded,
        reports_excluded_reasons=dict(f.full_texts_excluded_reasons),
        unaccounted=f.unaccounted,
        other_methods=f.other_methods,
        included=len(studies),
        clinical=sum(1 for s in studies.values() if s.source_table == "clinical-studies"),
        case_reports=sum(1 for s in studies.values() if s.source_table == "case-reports"),
        previous=previous,
        new=len(studies) - previous,
    )


def describe(c: Counts) -> str:
    text = (
        f"PRISMA flow diagram. {c.identified} records identified and screened; {c.excluded} excluded; "
        f"{c.assessed} full-text reports assessed; {c.reports_excluded} excluded; {c.included} studies "
        f"included ({c.clinical} clinical studies and {c.case_reports} case reports)"
    )
    if c.other_methods:
        text += f"; {c.other_methods} studies identified by other methods"
    if c.unaccounted:
        text += f"; {c.unaccounted} reports are not accounted for by the published counts"
    return text + "."


def render(c: Counts) -> str:
    left_x, left_w = 118.0, 300.0
    right_x, right_w = 458.0, 300.0
    width = right_x + right_w + 10

    def box(x, w, lines, cls=""):
        return {"x": x, "w": w, "lines": lines, "cls": cls, "h": len(lines) * LINE + 2 * PAD}

    def reasons(title, total, items):
        out = wrap(f"{title} (n = {total})", right_w)
        for name, n in items.items():
            out += wrap(f"• {name} (n = {n})", right_w)
        return out

    rows = [
        (
            "Identification",
            box(left_x, left_w, wrap(f"Records identified from databases (n = {c.identified})", left_w)),
            None,
        ),
        (
            "Screening",
            box(left_x, left_w, wrap(f"Records screened (n = {c.screened})", left_w)),
            box(right_x, right_w, reasons("Records excluded", c.excluded, c.excluded_reasons)),
        ),
        (
            "",
            box(left_x, left_w, wrap(f"Reports assessed for eligibility (n = {c.assessed})", left_w)),
            box(right_x, right_w, reasons("Reports excluded", c.reports_excluded, c.reports_excluded_reasons)),
        ),
    ]
    included_lines = wrap(f"Studies included in this version (n = {c.included})", left_w)
    included_lines += wrap(f"• clinical studies (n = {c.clinical})", left_w)
    included_lines += wrap(f"• case reports (n = {c.case_reports})", left_w)
    if c.other_methods:
        included_lines += wrap(f"• identified by other methods (n = {c.other_methods})", left_w)
    included_lines += wrap(
        f"• included in the previous version (n = {c.previous}); new in this version (n = {c.new})", left_w
    )
    side = None
    if c.unaccounted:
        side = box(
            right_x,
            right_w,
            wrap(f"Reports not accounted for by the published counts (n = {c.unaccounted})", right_w),
            "warn",
        )
    rows.append(("Included", box(left_x, left_w, included_lines), side))

    y = 10.0
    placed = []
    for phase, main, right in rows:
        h = max(main["h"], right["h"] if right else 0)
        placed.append((phase, y, h, main, right))
        y += h + 34
    height = y - 24
    svg = Svg(width, height, "fl flow", "PRISMA 2020 flow diagram", describe(c), "prisma-flow")

    phase_spans: dict[str, list[float]] = {}
    current = ""
    for phase, top, h, _main, _right in placed:
        current = phase or current
        span = phase_spans.setdefault(current, [top, top + h])
        span[1] = top + h
    for phase, (top, bottom) in phase_spans.items():
        svg.rect(0, top, 104, bottom - top, "phase")
        svg.text(52, (top + bottom) / 2 + 4, phase, "ph", "middle")

    previous_bottom = None
    for _phase, top, _h, main, right in placed:
        for b in (main, right):
            if b is None:
                continue
            svg.rect(b["x"], top, b["w"], b["h"], b["cls"])
            for i, text in enumerate(b["lines"]):
                svg.text(b["x"] + PAD, top + PAD + (i + 0.8) * LINE, text, "b" if i == 0 else "")
        cx = left_x + left_w / 2
        if previous_bottom is not None:
            svg.line(cx, previous_bottom, cx, top - 1)
            svg.polygon([(cx, top), (cx - 4, top - 7), (cx + 4, top - 7)])
        if right is not None:
            my = top + main["h"] / 2
            svg.line(left_x + left_w, my, right_x - 1, my)
            svg.polygon([(right_x, my), (right_x - 7, my - 4), (right_x - 7, my + 4)])
        previous_bottom = top + main["h"]
    return svg.render(STYLE)
