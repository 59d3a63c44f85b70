"""Render the site's Markdown pages from Jinja templates; Python prepares every value, templates lay out."""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path
from typing import NamedTuple

import jinja2

from builder import __version__
from builder.analysis.result import AnalysisResult
from builder.caching import store as cache
from builder.caching.reuse import Reuse
from builder.contract import Study
from builder.contract.rob import TOOLS
from builder.contract.study import DESIGN_LABELS
from builder.contract.version import Version
from builder.ingest.loader import ReviewData
from builder.report import fmt, sof
from builder.report.cite import cite
from builder.report.figures import caption, inline, prisma, robfig, timeline
from builder.report.narrative import Filler
from builder.report.results_json import results_document, to_csv, to_json
from builder.report.views import STEP_PLOTS, AnalysisView, rob_json_of

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def md(text: object) -> str:
    """Escape free text from the data for Markdown and HTML: it is shown as text, never as markup."""
    if text is None:
        return ""
    escaped = html.escape(str(text), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", escaped).replace("\n", " ")


def design(category: str) -> str:
    return DESIGN_LABELS[category]


def clause(text: object) -> str:
    """Escaped text without its final full stop, to be embedded in a longer sentence."""
    return md(str(text).strip().rstrip("."))


def attr(text: object) -> str:
    return html.escape(str(text), quote=True)


def _history(info: dict, review, document: dict) -> list:
    """(version, date, {analysis id: record}) for each release up to this one, then this one."""
    out = []
    for rel in info["releases"]:
        if rel.version == review.version:
            break
        if info.get("archived") and Version.parse(rel.version) > Version.parse(review.version):
            break
        out.append((rel.version, rel.manifest["date"], {a["id"]: a for a in rel.results()["analyses"]}))
    out.append((review.version, review.date.isoformat(), {a["id"]: a for a in document["analyses"]}))
    return out


def analysis_csv(result: AnalysisResult) -> str:
    """The study inputs of one analysis, as the R script beside it reads them."""
    keys = list(result.rows[0].inputs)
    lines = [",".join(["study", "label", "dataset", *keys])]
    for r in result.rows:
        label = '"' + r.study.label.replace('"', '""') + '"'
        values = [str(int(v)) if k.startswith(("events", "total")) else repr(float(v)) for k, v in r.inputs.items()]
        lines.append(",".join([r.study.id, label, r.dataset, *values]))
    return "\n".join(lines) + "\n"


class _Compiled(jinja2.BytecodeCache):
    """Compiled templates, shared by every environment of the process (a build renders the latest version
    and each released one with its own environment) and, with a store, kept for the next build: compiling
    the templates takes a fresh process a third of a second. Jinja keys a template by its name and checks
    that the bytecode was compiled from the same source, so an edited template is compiled again."""

    def __init__(self, memory: dict[str, bytes], store: cache.Store | None = None):
        self.memory = memory
        self.store = store

    def _stored_key(self, bucket: jinja2.bccache.Bucket) -> str:
        return cache.key("template", bucket.key, bucket.checksum)

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        # The store is asked even when memory has the template, so that it keeps the entry for the next build.
        stored = self.store.get("templates", self._stored_key(bucket)) if self.store is not None else None
        if isinstance(stored, bytes):
            bucket.bytecode_from_string(stored)
        elif bucket.key in self.memory:
            bucket.bytecode_from_string(self.memory[bucket.key])
            if bucket.code is not None and self.store is not None:
                self.store.put("templates", self._stored_key(bucket), self.memory[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.memory[bucket.key] = bucket.bytecode_to_string()
        if self.store is not None:
            self.store.put("templates", self._stored_key(bucket), self.memory[bucket.key])


_COMPILED: dict[str, bytes] = {}


def environment(templates: Path, store: cache.Store | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        bytecode_cache=_Compiled(_COMPILED, store),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # output is Markdown; free text goes through the `md` filter explicitly
    )
    env.filters.update(md=md, attr=attr, num=fmt.num, p=fmt.p_value, pct=fmt.percent, design=design, clause=clause)
    return env


ROLE_ORDER = {"primary": 0, "reproduction": 1, "sensitivity": 2}
# Up to this many studies, each has an entry in the navigation menu. Beyond it the menu lists only the
# studies' index page (a table that links every study; the search finds them too): a menu of hundreds of
# names helps no reader, and as every page carries the menu, the site would grow with the square of the
# number of studies.
STUDIES_IN_NAV = 60


def render_site(
    data: ReviewData,
    results: list[AnalysisResult],
    templates: Path,
    out: Path,
    version_info: dict | None = None,
    store: cache.Store | None = None,
    reuse: Reuse | None = None,
) -> list:
    """Write every generated page and data file under `out`; return the navigation. With a `store`, figures
    of analyses whose content is unchanged since an earlier build are reused (see _figures).

    `version_info` says which version this is (archived, superseded, latest) and carries the release list
    and the changes since the previous release, for the versions page and the status banner.

    With `reuse`, the pages of studies and outcomes, the figures and the downloads whose keys (everything
    they are made from) match the last good build's are taken from it instead of being rendered (see
    builder.caching.reuse); such a page is rendered from a context holding only what its key covers."""
    env = environment(templates, store)
    reuse = reuse or Reuse(None, out)  # without one, nothing is taken and every file is written
    env.globals["version_info"] = version_info or {
        "archived": False,
        "superseded": False,
        "releases": [],
        "changes": None,
        "latest": data.review.version,
    }
    review = data.review
    document = results_document(data, results, store)
    filler = Filler(document, review, data.studies)
    env.globals["fill"] = lambda text: filler.render(text, md)
    env.globals["cite"] = cite
    env.globals["fmt"] = fmt
    env.globals["figure"] = inline.marker  # figure(path, svg): the figure file docs/path, drawn in the page
    rob_memo: dict[str, str] = {}  # one serialisation per study, not per study and analysis

    def rob_json(study: Study) -> str:
        if study.id not in rob_memo:
            rob_memo[study.id] = rob_json_of(study)
        return rob_memo[study.id]

    views = [AnalysisView(r, review, store, rob_json) for r in results]
    by_outcome = {
        o.id: sorted([v for v in views if v.result.spec.outcome == o.id], key=lambda v: ROLE_ORDER[v.result.spec.role])
        for o in review.outcomes
    }
    primary = {oid: next((v for v in vs if v.spec.role == "primary"), None) for oid, vs in by_outcome.items()}
    studies = data.study_list()
    clinical = [s for s in studies if s.source_table == "clinical-studies"]
    case_reports = [s for s in studies if s.source_table == "case-reports"]
    clinical.sort(key=lambda s: (s.source_ref or 10**6, s.id))
    case_reports.sort(key=lambda s: (s.source_ref or 10**6, s.id))
    uses: dict[str, list[AnalysisView]] = {s.id: [] for s in studies}
    for v in views:
        for sid in dict.fromkeys([r.study.id for r in v.result.rows] + [m.study.id for m in v.result.missing]):
            uses[sid].append(v)
    ctx = dict(
        up="",
        review=review,
        data=data,
        views=views,
        by_outcome=by_outcome,
        primary=primary,
        clinical=clinical,
        case_reports=case_reports,
        studies=studies,
        uses=uses,
        fmt=fmt,
        builder_version=__version__,
        rob_tools=TOOLS,
        rob_label=robfig.label,
    )

    def write(rel: str, text: str) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a new file: never write through a link to the last build's sources
        path.write_text(text, encoding="utf-8")

    def write_kept(rel: str, key: str | None, make) -> None:
        """docs/rel made by `make()`, or taken from the last good build if made from the same `key`."""
        if not reuse.take(rel, key):
            write(rel, make())

    info = env.globals["version_info"]
    # What every study and outcome page shows besides its own data: the templates, the review (title,
    # labels, outcomes, status line) and which version this is.
    shared = cache.key(
        "pages",
        _templates_digest(templates),
        review.model_dump_json(),
        json.dumps([info["archived"], info["superseded"], info["latest"]]),
    )

    history = _history(env.globals["version_info"], review, document)
    timelines = {}
    for oid, v in primary.items():
        if v is None or len(history) < 1:
            continue
        pts = timeline.points([(ver, day, recs.get(v.id)) for ver, day, recs in history])
        timelines[oid] = {
            "svg": timeline.render(
                f"{v.result.outcome.label}: the primary result in each version",
                pts,
                v.result.scale,
                f"timeline-{oid}",
                caption.for_analysis("Evidence over time", v.result, review),
            ),
            "points": pts,
        }
    env.globals["timelines"] = timelines
    for oid, tl in timelines.items():
        write(f"figures/timeline-{oid}.svg", tl["svg"])
    write("index.md", env.get_template("index.md.j2").render(**ctx))
    write("methods.md", env.get_template("methods.md.j2").render(**ctx))
    sub = {**ctx, "up": "../"}  # pages one folder down
    write("studies/index.md", env.get_template("studies.md.j2").render(**sub))
    study_page = env.get_template("study.md.j2")
    for study in studies:
        used_in = [_Use(v.id, _UseSpec(v.spec.title, v.spec.outcome)) for v in uses[study.id]]
        # The study's data are its file's (data.sources) as derived with the review's units (in `shared`).
        source = data.sources.get(study.id) or study.model_dump_json()
        key = cache.key("study-page", shared, source, json.dumps(used_in))
        write_kept(
            f"studies/{study.id}.md",
            key,
            lambda: study_page.render(
                up="../", review=review, study=study, uses={study.id: used_in}, rob_tools=TOOLS, rob_label=robfig.label
            ),
        )
    outcome_page = env.get_template("outcome.md.j2")
    for outcome in review.outcomes:
        analyses = by_outcome[outcome.id]
        key = _outcome_key(shared, outcome, analyses, timelines.get(outcome.id))
        write_kept(
            f"outcomes/{outcome.id}.md",
            key,
            lambda: outcome_page.render(up="../", review=review, outcome=outcome, analyses=analyses),
        )
        for view in analyses:
            # A figure depends only on its analysis and what the figure key adds (labels, risk of bias).
            fkey = view.figure_key
            if fkey is not None and store is not None:
                store.keep("figures", fkey)  # needed again when a kept page must be rendered anew
            write_kept(f"figures/{view.id}.svg", fkey and cache.key("forest", fkey), lambda: view.svg)
            for key, (_, _, slug) in STEP_PLOTS.items():
                if view.result.fit is not None and view.result.followups.get(key):
                    write_kept(
                        f"figures/{view.id}-{slug}.svg", fkey and cache.key(slug, fkey), lambda: view.plots[key]["svg"]
                    )
            if view.result.small_study and view.result.small_study.get("funnel") is not None:
                write_kept(
                    f"figures/{view.id}-funnel.svg", fkey and cache.key("funnel", fkey), lambda: view.small_study["svg"]
                )
    write("data.md", env.get_template("data.md.j2").render(**ctx))
    r_script = env.get_template("analysis.R.j2")
    for view in views:
        if view.result.rows:
            rkey = view.result.key
            write_kept(f"downloads/{view.id}.csv", rkey and cache.key("csv", rkey), lambda: analysis_csv(view.result))
            write_kept(
                f"downloads/{view.id}.R",
                rkey and cache.key("R", shared, rkey),
                lambda: r_script.render(spec=view.spec, result=view.result, review=review),
            )
    earlier = [r for r in info["releases"] if Version.parse(r.version) < Version.parse(review.version)]
    previous_ids = {p.stem for p in (earlier[-1].data_dir / "studies").glob("*.yaml")} if earlier else None
    flow = prisma.counts(review, data.studies, previous_ids)
    kind = "PRISMA 2020 flow diagram" + (" of an updated review" if flow.update else "")
    flow_svg = prisma.render(flow, caption.for_review(kind, review))
    flow_narrow = prisma.render_narrow(flow, caption.for_review(kind, review))
    write("figures/prisma-flow.svg", flow_svg)
    write("figures/prisma-flow-narrow.svg", flow_narrow)
    write(
        "flow.md",
        env.get_template("flow.md.j2").render(
            flow=flow, flow_svg=flow_svg, flow_narrow_svg=flow_narrow, flow_alt=prisma.describe(flow), **ctx
        ),
    )
    rob_sections = []
    for tool_id, tool in TOOLS.items():
        rows = [(s.label, s, r) for s in clinical + case_reports for r in s.risk_of_bias if r.tool == tool_id]
        if rows:
            rob_sections.append(
                {
                    "id": tool_id,
                    "tool": tool,
                    "rows": rows,
                    "traffic": robfig.traffic_light(
                        tool_id,
                        [(n, r) for n, _, r in rows],
                        caption.for_review(f"{tool.name}: judgements per study", review),
                    ),
                    "summary": robfig.summary_bars(
                        tool_id,
                        [r for _, _, r in rows],
                        caption.for_review(f"{tool.name}: judgements per domain across studies", review),
                    ),
                }
            )
            write(f"figures/rob-{tool_id}.svg", rob_sections[-1]["traffic"])
            write(f"figures/rob-{tool_id}-summary.svg", rob_sections[-1]["summary"])
    unassessed = [s for s in clinical + case_reports if not s.risk_of_bias]
    write(
        "risk-of-bias.md",
        env.get_template("risk-of-bias.md.j2").render(rob_sections=rob_sections, unassessed=unassessed, **ctx),
    )
    results_by_id = {r.spec.id: r for r in results}
    sof_rows = [sof.row(c, results_by_id[c.analysis]) for c in review.certainty]
    write(
        "summary-of-findings.md",
        env.get_template("summary-of-findings.md.j2").render(sof_rows=sof_rows, symbols=sof.SYMBOLS, **ctx),
    )
    for page in ("background", "audit", "limitations", "versions"):
        write(f"{page}.md", env.get_template(f"{page}.md.j2").render(**ctx))
    write("results.json", to_json(document))
    write("results.csv", to_csv(document))

    # MkDocs' themes print navigation titles as raw HTML: escape them like every other text from the data.
    return [
        {"Home": "index.md"},
        {"Background": "background.md"},
        {"Summary of findings": "summary-of-findings.md"},
        {"Results": [{attr(o.label): f"outcomes/{o.id}.md"} for o in review.outcomes]},
        {"Audit of the source review": "audit.md"},
        {"Search and selection": "flow.md"},
        {"Risk of bias": "risk-of-bias.md"},
        {
            "Studies": ["studies/index.md"]
            + (
                [{attr(s.label): f"studies/{s.id}.md"} for s in clinical + case_reports]
                if len(studies) <= STUDIES_IN_NAV
                else []
            )
        },
        {"Methods": "methods.md"},
        {"Limitations": "limitations.md"},
        {"Data and downloads": "data.md"},
        {"Versions and changes": "versions.md"},
    ]


class _UseSpec(NamedTuple):
    title: str
    outcome: str


class _Use(NamedTuple):
    """What a study page shows of an analysis that uses the study: its anchor, title and outcome."""

    id: str
    spec: _UseSpec


def _templates_digest(templates: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in templates.rglob("*") if p.is_file()):
        digest.update(path.relative_to(templates).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _outcome_key(shared: str, outcome, analyses: list[AnalysisView], timeline_view: dict | None) -> str | None:
    """Everything an outcome page is made from: its outcome, each analysis's figure key (the analysis's own
    key, which covers its plan and every number and label of its studies, plus the arms' labels and the
    studies' risk of bias), the studies it lists as missing, and the evidence-over-time figure. None when an
    analysis has no key."""
    parts = [shared, outcome.model_dump_json()]
    for view in analyses:
        if view.figure_key is None:
            return None
        parts.append(view.figure_key)
        parts.extend(json.dumps([m.dataset, m.reason]) + m.study.model_dump_json() for m in view.result.missing)
    if timeline_view is not None:
        parts.append(timeline_view["svg"] + repr(timeline_view["points"]))
    return cache.key("outcome-page", *parts)


def study_label(study: Study) -> str:
    return study.label
