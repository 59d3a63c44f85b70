"""PRISMA 2020 flow diagram (with the living-review boxes of PRISMA-LSR), drawn from the data as SVG.

Only the typed counts of review.yaml's `flow` are typed; screened records and included studies are
computed (the latter counted from data/studies), so the diagram cannot disagree with the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    update: bool = False  # a version after the first: drawn with PRISMA 2020's template for updated reviews


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
        update=previous_ids is not None or bool(f.previous_version_studies),
    )


def describe(c: Counts) -> str:
    text = (
        f"PRISMA flow diagram. {c.identified} records identified and screened; {c.excluded} excluded; "
        f"{c.assessed} full-text reports assessed; {c.reports_excluded} excluded; {c.included} studies "
        f"included ({c.clinical} clinical studies and {c.case_reports} case reports)"
    )
    if c.update:
        text += f"; {c.previous} of them included in the previous version and {c.new} new in this one"
    if c.other_methods:
        text += f"; {c.other_methods} studies identified by other methods"
    if c.unaccounted:
        text += f"; {c.unaccounted} reports are not accounted for by the published counts"
    return text + "."


def _box(x: float, w: float, lines: list[str], cls: str = "") -> dict:
    return {"x": x, "w": w, "lines": lines, "cls": cls, "h": len(lines) * LINE + 2 * PAD}


def _listed(title: str, total: int, items: dict[str, int], width: float) -> list[str]:
    out = wrap(f"{title} (n = {total})", width)
    for name, n in items.items():
        out += wrap(f"• {name} (n = {n})", width)
    return out


def _included(c: Counts, width: float) -> list[str]:
    """The last box: every study of this version, by design."""
    lines = wrap(f"{'Total studies' if c.update else 'Studies'} included in this version (n = {c.included})", width)
    lines += wrap(f"• clinical studies (n = {c.clinical})", width)
    lines += wrap(f"• case reports (n = {c.case_reports})", width)
    return lines


def _draw_box(svg: Svg, b: dict, top: float) -> None:
    svg.rect(b["x"], top, b["w"], b["h"], b["cls"])
    for i, text in enumerate(b["lines"]):
        svg.text(b["x"] + PAD, top + PAD + (i + 0.8) * LINE, text, "b" if i == 0 else "")


def _arrow(svg: Svg, points: list[tuple[float, float]]) -> None:
    """A line through `points` with an arrowhead at the last one (the last segment is horizontal or vertical)."""
    for (x1, y1), (x2, y2) in zip(points, points[1:]):
        svg.line(x1, y1, x2, y2)
    (x1, y1), (x2, y2) = points[-2], points[-1]
    if x1 == x2:  # vertical
        d = 7 if y2 > y1 else -7
        svg.polygon([(x2, y2), (x2 - 4, y2 - d), (x2 + 4, y2 - d)])
    else:
        d = 7 if x2 > x1 else -7
        svg.polygon([(x2, y2), (x2 - d, y2 - 4), (x2 - d, y2 + 4)])


def _wide_rows(
    c: Counts,
    main_x: float,
    main_w: float,
    side_x: float,
    side_w: float,
    prev_x: float,
    prev_w: float,
    other_x: float,
    other_w: float,
) -> list[tuple[str, dict, list[dict], dict | None, dict | None]]:
    """The wide diagram's rows: (phase, the step's box, the boxes beside it (exclusions), the previous
    version's box, the other methods' box)."""
    rows: list[tuple[str, dict, list[dict], dict | None, dict | None]] = [
        (
            "Identification",
            _box(main_x, main_w, wrap(f"Records identified from databases (n = {c.identified})", main_w)),
            [],
            _box(prev_x, prev_w, wrap(f"Studies included in the previous version (n = {c.previous})", prev_w))
            if c.update
            else None,
            _box(other_x, other_w, wrap(f"Studies identified by other methods (n = {c.other_methods})", other_w))
            if c.other_methods
            else None,
        ),
        (
            "Screening",
            _box(main_x, main_w, wrap(f"Records screened (n = {c.screened})", main_w)),
            [_box(side_x, side_w, _listed("Records excluded", c.excluded, c.excluded_reasons, side_w))],
            None,
            None,
        ),
        (
            "",
            _box(main_x, main_w, wrap(f"Reports assessed for eligibility (n = {c.assessed})", main_w)),
            [_box(side_x, side_w, _listed("Reports excluded", c.reports_excluded, c.reports_excluded_reasons, side_w))]
            + (
                [
                    _box(
                        side_x,
                        side_w,
                        wrap(f"Reports not accounted for by the published counts (n = {c.unaccounted})", side_w),
                        "warn",
                    )
                ]
                if c.unaccounted
                else []
            ),
            None,
            None,
        ),
    ]
    if c.update:
        rows.append(
            (
                "Included",
                _box(main_x, main_w, wrap(f"New studies included in this version (n = {c.new})", main_w)),
                [],
                None,
                None,
            )
        )
    rows.append(("" if c.update else "Included", _box(main_x, main_w, _included(c, main_w)), [], None, None))

    return rows


def _phase_bands(svg: Svg, rows: list[tuple[str, float, float]], band_w: float) -> None:
    """The phases down the left: each band spans its rows (a row with no phase continues the one above)."""
    spans: dict[str, list[float]] = {}
    current = ""
    for phase, top, h in rows:
        current = phase or current
        span = spans.setdefault(current, [top, top + h])
        span[1] = top + h
    for phase, (top, bottom) in spans.items():
        svg.rect(0, top, band_w, bottom - top, "phase")
        svg.text(band_w / 2, (top + bottom) / 2 + 4, phase, "ph", "middle")


def _beside(svg: Svg, main: dict, top: float, sides: list[dict]) -> None:
    """The boxes beside a step, stacked, with the arrows that lead to them from the step's box."""
    side_top = top
    branch = None  # where the arrow to the first box leaves the step's box
    for b in sides:
        _draw_box(svg, b, side_top)
        if branch is None:  # level with the middle of the lower of the two boxes, so that it meets both
            branch = top + min(b["h"], main["h"]) / 2
            _arrow(svg, [(main["x"] + main["w"], branch), (b["x"], branch)])
        else:  # a further box beside the same step: a branch of that arrow
            fork = main["x"] + main["w"] + 15
            my = side_top + min(b["h"], 2 * LINE + 2 * PAD) / 2
            _arrow(svg, [(fork, branch), (fork, my), (b["x"], my)])
        side_top += b["h"] + 12


def render(c: Counts, caption: list[str] | None = None, ident: str = "prisma-flow") -> str:
    """The diagram as PRISMA 2020 draws it: phases on the left, the database search in the middle with its
    exclusions beside it, and for an updated review the previous version's studies (left) and the studies
    identified by other methods (right) joining the included ones."""
    band_w = 104.0
    prev_x, prev_w = band_w + 14, 150.0
    main_x = prev_x + prev_w + 24 if c.update else band_w + 14
    main_w = 230.0
    side_x, side_w = main_x + main_w + 30, 230.0
    other_x, other_w = side_x + side_w + 24, 160.0
    width = (other_x + other_w if c.other_methods else side_x + side_w) + 10

    rows = _wide_rows(c, main_x, main_w, side_x, side_w, prev_x, prev_w, other_x, other_w)
    svg = Svg(width, 0, "fl flow", "PRISMA 2020 flow diagram", describe(c), ident, caption)
    y = 10.0
    placed = []
    for phase, main, sides, prev, other in rows:
        h = max(
            [main["h"], sum(b["h"] for b in sides) + 12 * max(0, len(sides) - 1)] + [b["h"] for b in (prev, other) if b]
        )
        placed.append((phase, y, h, main, sides, prev, other))
        y += h + 34
    svg.height = y - 24

    _phase_bands(svg, [(phase, top, h) for phase, top, h, *_ in placed], band_w)

    cx = main_x + main_w / 2
    previous_bottom = None
    prev_from = other_from = None
    for _phase, top, _h, main, sides, prev, other in placed:
        _draw_box(svg, main, top)
        if previous_bottom is not None:
            _arrow(svg, [(cx, previous_bottom), (cx, top)])
        _beside(svg, main, top, sides)
        if prev is not None:
            _draw_box(svg, prev, top)
            prev_from = (prev_x + prev_w / 2, top + prev["h"])
        if other is not None:
            _draw_box(svg, other, top)
            other_from = (other_x + other_w / 2, top + other["h"])
        previous_bottom = top + main["h"]
    # the previous version's studies join the total, the other methods' studies the new (or all) studies
    last_top, last_main = placed[-1][1], placed[-1][3]
    if prev_from is not None:
        my = last_top + min(last_main["h"], 40) / 2
        _arrow(svg, [prev_from, (prev_from[0], my), (main_x, my)])
    if other_from is not None:
        target_top, target = (placed[-2][1], placed[-2][3]) if c.update else (last_top, last_main)
        my = target_top + target["h"] / 2
        _arrow(svg, [other_from, (other_from[0], my), (main_x + main_w, my)])
    return svg.render(STYLE)


NARROW = 350.0  # fits a phone's column (390 px wide screen) at full size


def render_narrow(c: Counts, caption: list[str] | None = None, ident: str = "prisma-flow-narrow") -> str:
    """The same diagram as one column for phones: each step in a box, a rail on the left leading from step
    to step, exclusions indented beside the rail (arrows out of it) and the previous version's and the other
    methods' studies indented where they join it (arrows into it)."""
    rail, indent = 12.0, 28.0
    side_w = NARROW - indent
    items: list[tuple[str, Any]] = []  # ("phase", name) | ("main", box) | ("out", box) | ("in", box)
    items.append(("phase", "Identification"))
    items.append(("main", _box(0, NARROW, wrap(f"Records identified from databases (n = {c.identified})", NARROW))))
    items.append(("phase", "Screening"))
    items.append(("main", _box(0, NARROW, wrap(f"Records screened (n = {c.screened})", NARROW))))
    items.append(("out", _box(indent, side_w, _listed("Records excluded", c.excluded, c.excluded_reasons, side_w))))
    items.append(("main", _box(0, NARROW, wrap(f"Reports assessed for eligibility (n = {c.assessed})", NARROW))))
    items.append(
        (
            "out",
            _box(indent, side_w, _listed("Reports excluded", c.reports_excluded, c.reports_excluded_reasons, side_w)),
        )
    )
    if c.unaccounted:
        text = f"Reports not accounted for by the published counts (n = {c.unaccounted})"
        items.append(("out", _box(indent, side_w, wrap(text, side_w), "warn")))
    items.append(("phase", "Included"))
    if c.other_methods:
        text = f"Studies identified by other methods (n = {c.other_methods})"
        items.append(("in", _box(indent, side_w, wrap(text, side_w))))
    if c.update:
        items.append(("main", _box(0, NARROW, wrap(f"New studies included in this version (n = {c.new})", NARROW))))
        text = f"Studies included in the previous version (n = {c.previous})"
        items.append(("in", _box(indent, side_w, wrap(text, side_w))))
    items.append(("main", _box(0, NARROW, _included(c, NARROW))))

    svg = Svg(NARROW + 2, 0, "fl flow narrow", "PRISMA 2020 flow diagram", describe(c), ident, caption)
    y = 1.0
    last_main = None
    for kind, item in items:
        if kind == "phase":
            y += 6
            svg.rect(indent, y, NARROW - indent, 20, "phase")
            svg.text(indent + PAD, y + 14, str(item), "ph")
            y += 20 + 12
            continue
        b = item
        if kind == "main":
            if last_main is not None:
                _arrow(svg, [(rail, last_main), (rail, y)])
            _draw_box(svg, b, y)
            last_main = y + b["h"]
        else:
            _draw_box(svg, b, y)
            my = y + min(b["h"], 2 * LINE + 2 * PAD) / 2
            _arrow(svg, [(rail, my), (indent, my)] if kind == "out" else [(indent, my), (rail, my)])
        y += b["h"] + 14
    svg.height = y - 13
    return svg.render(STYLE)
