"""Risk-of-bias figures in robvis's conventions: a traffic-light grid and a summary bar chart per tool."""

from __future__ import annotations

from builder.contract.rob import NOT_RETRIEVED, TOOLS, RiskOfBias
from builder.report.figures.svg import Svg

# robvis "cochrane" colours, and its symbols so that colour is not the only cue.
STYLE_OF = {
    "low": ("#02C100", "+", "Low"),
    "some-concerns": ("#E2DF07", "−", "Some concerns"),
    "unclear": ("#E2DF07", "?", "Unclear"),
    "moderate": ("#E2DF07", "−", "Moderate"),
    "high": ("#BF0000", "×", "High"),
    "serious": ("#BF0000", "×", "Serious"),
    "critical": ("#820000", "!", "Critical"),
    "no-information": ("#4EA1F7", "?", "No information"),
    NOT_RETRIEVED: ("#9E9E9E", "·", "Not retrieved"),
}
STYLE = (
    ".rb text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:12px;"
    "fill:var(--md-default-fg-color,#1d1d1f)}.rb .b{font-weight:700}.rb text.sym{fill:#111;font-weight:700;"
    "font-size:14px}.rb text.sym.light{fill:#fff}.rb line{stroke:var(--md-default-fg-color--lighter,#999)}"
    + "".join(f".rb .j-{k}{{fill:{c}}}" for k, (c, _, _) in STYLE_OF.items())
)


def _sym(judgement: str) -> str:
    """Symbols are dark on light fills and white on the dark reds, for contrast."""
    return "sym light" if judgement in ("high", "serious", "critical") else "sym"


def label(judgement: str) -> str:
    return STYLE_OF[judgement][2]


OVERALL_GAP = 18.0  # between the last domain's column and the wider "Overall" heading's


def traffic_light(tool_id: str, rows: list[tuple[str, RiskOfBias]], caption: list[str] | None = None) -> str:
    """rows: (study label, RiskOfBias). One column per domain, plus Overall when the tool has one."""
    tool = TOOLS[tool_id]
    domains = list(tool.domains)
    has_overall = tool_id != "rob1"
    cols = len(domains) + (1 if has_overall else 0)
    left, cell, top = 170.0, 34.0, 40.0
    legend_h = 22.0 * (len(tool.judgements) + 1) + 10
    gap = OVERALL_GAP if has_overall else 0.0
    width = left + cols * cell + gap + 20

    def col_x(j: int) -> float:  # the centre of column j; the Overall column stands apart from the domains
        return left + (j + 0.5) * cell + (gap if j >= len(domains) else 0.0)

    height = top + len(rows) * cell + 20 + legend_h
    desc = "; ".join(
        f"{name}: "
        + ", ".join(f"{tool.domains[d.domain]} {label(d.judgement).lower()}" for d in rob.domains)
        + (f", overall {label(rob.overall).lower()}" if rob.overall else "")
        for name, rob in rows
    )
    svg = Svg(
        width,
        height,
        "rb robtl",
        f"{tool.name}: risk-of-bias judgements per study",
        desc,
        f"rob-{tool_id}-traffic",
        caption,
    )
    for j in range(cols):
        head = f"D{j + 1}" if j < len(domains) else "Overall"
        svg.text(col_x(j), top - 12, head, "b", "middle")
    for i, (name, rob) in enumerate(rows):
        y = top + i * cell
        svg.text(left - 10, y + cell / 2 + 4, name, "", "end")
        by_domain = {d.domain: d.judgement for d in rob.domains}
        values = [by_domain[d] for d in domains] + ([rob.overall or NOT_RETRIEVED] if has_overall else [])
        for j, value in enumerate(values):
            cx, cy = col_x(j), y + cell / 2
            svg.parts.append(f'<circle cx="{cx:g}" cy="{cy:g}" r="12" class="j-{value}"/>')
            svg.text(cx, cy + 5, STYLE_OF[value][1], _sym(value), "middle")
    y = top + len(rows) * cell + 24
    for j, d in enumerate(domains):
        svg.text(0, y + j * 16, f"D{j + 1}: {tool.domains[d]}", "", "start")
    ly = y + len(domains) * 16 + 8
    _legend(svg, list(tool.judgements) + [NOT_RETRIEVED], ly, width)
    return svg.render(STYLE)


def _legend(svg: Svg, keys: list[str], ly: float, width: float) -> None:
    """The judgements with their symbols, in rows as wide as the grid (for narrow screens); sets the size."""
    per_row = max(1, int((width - 10) // 135))
    for k, key in enumerate(keys):
        cx = 10 + (k % per_row) * 135
        ky = ly + (k // per_row) * 24
        svg.parts.append(f'<circle cx="{cx + 8:g}" cy="{ky + 8:g}" r="8" class="j-{key}"/>')
        svg.text(cx + 8, ky + 12, STYLE_OF[key][1], _sym(key), "middle")
        svg.text(cx + 22, ky + 12, label(key))
    svg.height = ly + ((len(keys) - 1) // per_row) * 24 + 30
    svg.width = max(width, 10 + min(len(keys), per_row) * 135)


def summary_bars(
    tool_id: str,
    assessments: list,
    caption: list[str] | None = None,
    weights: list[float] | None = None,
    ident: str | None = None,
    title: str | None = None,
) -> str:
    """Share of studies at each judgement, per domain, as robvis's rob_summary(): unweighted, or with `weights`
    (one per assessment, e.g. the studies' percent weights in an analysis) the share of the total weight at each
    judgement, as rob_summary(weighted = TRUE)."""
    if weights is not None:
        return _weighted_bars(tool_id, assessments, weights, caption, ident or f"rob-{tool_id}-weighted", title)
    tool = TOOLS[tool_id]
    keys = list(tool.judgements) + [NOT_RETRIEVED]
    domains = list(tool.domains.items()) + ([("overall", "Overall")] if tool_id != "rob1" else [])
    left, bar_w, row = 290.0, 360.0, 26.0
    height = 30 + len(domains) * row + 40
    n = len(assessments)
    desc_parts = []
    svg = Svg(
        left + bar_w + 20,
        height,
        "rb robsum",
        f"{tool.name}: summary of judgements across {n} studies",
        "",
        f"rob-{tool_id}-summary",
        caption,
    )
    for i, (domain, name) in enumerate(domains):
        y = 20 + i * row
        svg.text(left - 10, y + 15, name, "", "end")
        values = [
            (a.overall or NOT_RETRIEVED)
            if domain == "overall"
            else next(d.judgement for d in a.domains if d.domain == domain)
            for a in assessments
        ]
        x = left
        shares = []
        for key in keys:
            count = values.count(key)
            if not count:
                continue
            w = bar_w * count / n
            svg.parts.append(f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="20" class="j-{key}"/>')
            shares.append(f"{label(key).lower()} {count} of {n}")
            x += w
        desc_parts.append(f"{name}: " + ", ".join(shares))
    for k in range(5):
        x = left + bar_w * k / 4
        svg.line(x, 20 + len(domains) * row, x, 24 + len(domains) * row)
        svg.text(x, 38 + len(domains) * row, f"{25 * k}%", "", "middle")
    svg.desc = "; ".join(desc_parts)
    return svg.render(STYLE)


def _domain_values(domain: str, assessments: list) -> list[str]:
    return [
        (a.overall or NOT_RETRIEVED)
        if domain == "overall"
        else next(d.judgement for d in a.domains if d.domain == domain)
        for a in assessments
    ]


def _weighted_bars(
    tool_id: str, assessments: list, weights: list[float], caption: list[str] | None, ident: str, title: str | None
) -> str:
    """The summary bars with each study counted by its weight (see summary_bars)."""
    tool = TOOLS[tool_id]
    keys = list(tool.judgements) + [NOT_RETRIEVED]
    domains = list(tool.domains.items()) + ([("overall", "Overall")] if tool_id != "rob1" else [])
    left, bar_w, row = 290.0, 360.0, 26.0
    total = float(sum(weights))
    svg = Svg(
        left + bar_w + 20,
        30 + len(domains) * row + 40,
        "rb robsum",
        title or f"{tool.name}: judgements weighted by the studies' weights",
        "",
        ident,
        caption,
    )
    desc_parts = []
    for i, (domain, name) in enumerate(domains):
        y = 20 + i * row
        svg.text(left - 10, y + 15, name, "", "end")
        values = _domain_values(domain, assessments)
        x = left
        shares = []
        for key in keys:
            share = sum(w for v, w in zip(values, weights) if v == key) / total if total > 0 else 0.0
            if share <= 0:
                continue
            w = bar_w * share
            svg.rect(x, y, w, 20, f"j-{key}")
            shares.append(f"{label(key).lower()} {100 * share:.1f}% of the weight")
            x += w
        desc_parts.append(f"{name}: " + ", ".join(shares))
    for k in range(5):
        x = left + bar_w * k / 4
        svg.line(x, 20 + len(domains) * row, x, 24 + len(domains) * row)
        svg.text(x, 38 + len(domains) * row, f"{25 * k}%", "", "middle")
    svg.desc = "; ".join(desc_parts)
    return svg.render(STYLE)


# The same colours inside the forest plot's risk-of-bias columns (its SVG has the class "fp").
FOREST_STYLE = (
    ".fp text.sym{fill:#111;font-weight:700;font-size:10px}.fp text.sym.light{fill:#fff}"
    ".fp .na{fill:none;stroke:var(--md-default-fg-color--light,#777);stroke-dasharray:2 2}"
    + "".join(f".fp .j-{k}{{fill:{c}}}" for k, (c, _, _) in STYLE_OF.items())
)
NOT_ASSESSED = "not assessed"


def for_analysis(rows, outcome: str) -> tuple[str | None, list, list[str]]:
    """The risk-of-bias assessments beside a forest plot: (tool, one RiskOfBias or None per row, tools found).

    An assessment counts when it covers the analysis's outcome (or every outcome). The tool shown is the one
    that covers the most studies (a tie goes to the tool whose judgements were more often read); it is None when
    no study is assessed, or when some assessed study has no assessment with that tool, since one column cannot
    mix tools."""
    per_row = [[rob for rob in r.study.risk_of_bias if rob.outcome in (None, outcome)] for r in rows]
    tools = sorted({rob.tool for found in per_row for rob in found})
    if not tools:
        return None, [None] * len(rows), tools

    def first(found, tool):
        return next((rob for rob in found if rob.tool == tool), None)

    def rank(tool):
        chosen = [first(found, tool) for found in per_row]
        read = sum(1 for rob in chosen if rob for d in rob.domains if d.judgement != NOT_RETRIEVED)
        return (sum(1 for rob in chosen if rob), read)

    tool = max(tools, key=rank)
    chosen = [first(found, tool) for found in per_row]
    if any(found and rob is None for found, rob in zip(per_row, chosen)):
        return None, [None] * len(rows), tools
    return tool, chosen, tools


def judgements(tool_id: str, rob) -> list[str]:
    """The row of judgements: each domain in the tool's order, then the overall one where the tool has it."""
    by_domain = {d.domain: d.judgement for d in rob.domains}
    values = [by_domain[d] for d in TOOLS[tool_id].domains]
    return values + ([rob.overall or NOT_RETRIEVED] if tool_id != "rob1" else [])


def judgement_text(tool_id: str, rob) -> str:
    """The row in words, for the table under the plot."""
    if rob is None:
        return NOT_ASSESSED
    heads = [f"D{i + 1}" for i in range(len(TOOLS[tool_id].domains))] + (["overall"] if tool_id != "rob1" else [])
    return "; ".join(f"{h} {label(j).lower()}" for h, j in zip(heads, judgements(tool_id, rob)))
