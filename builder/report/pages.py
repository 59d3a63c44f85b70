"""Render the site's Markdown pages from Jinja templates; Python prepares every value, templates lay out."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, cast

import jinja2

from builder import __version__
from builder.analysis.result import AnalysisResult
from builder.caching import store as cache
from builder.caching.digest import files_digest, named_files_digest
from builder.caching.outputs import Output, Value, derive
from builder.caching.reuse import Reuse
from builder.contract import Study
from builder.contract.rob import TOOLS
from builder.contract.study import DESIGN_LABELS
from builder.contract.version import Version
from builder.ingest.loader import ReviewData
from builder.report import escape, fmt, sof
from builder.report.cite import cite
from builder.report.figures import caption, inline, prisma, robfig, timeline
from builder.report.methods import methods_in_use, pooling_method
from builder.report.narrative import Filler
from builder.report.results_json import SCHEMA_VERSION, results_document, to_csv, to_json
from builder.report.views import STEP_PLOTS, AnalysisView, rob_json_of

# Free text reaches the pages only through builder.report.escape (see there for each context).
md, attr, csv_text = escape.md, escape.attr, escape.csv_text


def design(category: str) -> str:
    return DESIGN_LABELS[category]


def clause(text: object) -> str:
    """Escaped text without its final full stop, to be embedded in a longer sentence."""
    return md(str(text).strip().rstrip("."))


def _history(info: dict, review, document: dict) -> list:
    """(version, date, {analysis id: record}) for each release up to this one, then this one."""
    out = []
    for rel in info["releases"]:
        if rel.version == review.version:
            break
        if info.get("archived") and Version.parse(rel.version) > Version.parse(review.version):
            break
        out.append((rel.version, rel.date.isoformat(), {a["id"]: a for a in rel.results()["analyses"]}))
    out.append((review.version, review.date.isoformat(), {a["id"]: a for a in document["analyses"]}))
    return out


def moderator_column(characteristic: str) -> str:
    """The column of a meta-regression's moderator in the analysis's CSV (a name R reads unchanged)."""
    return "mod_" + characteristic.replace("-", "_")


def _quoted(text: str) -> str:
    """A text cell, quoted, and never read as a formula by a spreadsheet (see escape.csv_text)."""
    return '"' + csv_text(text).replace('"', '""') + '"'


def analysis_csv(result: AnalysisResult) -> str:
    """The study inputs of one analysis, as the R script beside it reads them; with a meta-regression, a column
    per moderator (empty where the study gives no value)."""
    keys = list(dict.fromkeys(k for r in result.rows for k in r.inputs))  # NA where a study lacks one
    moderators = result.meta_regression.moderators if result.meta_regression is not None else []
    lines = [",".join(["study", "label", "dataset", *keys, *map(moderator_column, moderators)])]
    for r in result.rows:
        values = [_csv_value(k, r.inputs.get(k)) for k in keys]
        given = [r.study.characteristics.get(m) for m in moderators]
        values += [
            "" if g is None else repr(g.value) if isinstance(g.value, float) else _quoted(str(g.value)) for g in given
        ]
        lines.append(",".join([csv_text(r.study.id), _quoted(r.study.label), csv_text(r.dataset), *values]))
    return "\n".join(lines) + "\n"


def _csv_value(key: str, value: float | None) -> str:
    if value is None:
        return "NA"
    return str(int(value)) if key.startswith(("events", "total")) else repr(float(value))


class _Compiled(jinja2.BytecodeCache):
    """Compiled templates, shared by every environment of the process (a build renders the latest version
    and each released one with its own environment). Jinja keys a template by its name and checks that the
    bytecode was compiled from the same source, so an edited template is compiled again. They are kept in
    memory only: bytecode is code, and a build never runs code read from its cache (see builder.caching.plain)."""

    def __init__(self, memory: dict[str, bytes]):
        self.memory = memory

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.memory:
            bucket.bytecode_from_string(self.memory[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.memory[bucket.key] = bucket.bytecode_to_string()


_COMPILED: dict[str, bytes] = {}


Templates = Path | Sequence[Path]


def _folders(templates: Templates) -> list[Path]:
    """The template folders, in the order a template is looked up (see builder.contract.project)."""
    return [templates] if isinstance(templates, Path) else list(templates)


def environment(templates: Templates) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(folder) for folder in _folders(templates)]),
        bytecode_cache=_Compiled(_COMPILED),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # output is Markdown; free text goes through the `md` filter explicitly
    )
    env.filters.update(md=md, attr=attr, num=fmt.num, p=fmt.p_value, pct=fmt.percent, design=design, clause=clause)
    env.filters.update(
        url=escape.url, doi_url=escape.doi_url, link=escape.link, r_comment=escape.r_comment, r_string=escape.r_string
    )
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
    templates: Templates,
    out: Path,
    version_info: dict | None = None,
    store: cache.Store | None = None,
    reuse: Reuse | None = None,
) -> list:
    """Write every generated page and data file under `out`; return the navigation. With a `store`, figures
    of analyses whose content is unchanged since an earlier build are reused (see AnalysisView).

    `version_info` says which version this is (archived, superseded, latest) and carries the release list
    and the changes since the previous release, for the versions page and the status banner.

    Every file is declared as an Output (builder.caching.outputs) with what it is made from. With `reuse`,
    the pages of studies and outcomes, the figures and the downloads whose inputs match the last good
    build's are taken from it instead of being rendered (see builder.caching.reuse); such a page is
    rendered from a context holding only what its inputs cover."""
    info = version_info or _only_version(data.review)
    env = environment(templates)
    env.globals["version_info"] = info
    document = results_document(data, results, store)
    _add_helpers(env, Filler(document, data.review, data.studies), data.review, info)
    site = _Site(data, results, store)
    timelines = version_timelines(_history(info, data.review, document), site.primary)
    env.globals["timelines"] = timelines
    shared = _shared(templates, data.review, info)
    writer = reuse or Reuse(None, out)  # without one, nothing is taken and every file is written
    whole = _whole_review(data, templates, info) if reuse is not None else None
    for output in itertools.chain(
        _timeline_figures(timelines),
        _overview_pages(env, site),
        _study_pages(env, site, shared),
        _outcome_pages(env, site, shared, timelines),
        _figures(site, store),
        [_page(env, "data.md", "data.md.j2", {**site.context, "methods": methods_in_use(site.results)})],
        _downloads(env, site, shared, info),
        _flow(env, site, info),
        _risk_of_bias(env, site),
        _summary_of_findings(env, site),
        (_page(env, f"{name}.md", f"{name}.md.j2", site.context) for name in _PLAIN_PAGES),
        _results_files(document),
    ):
        if output.inputs is None and whole is not None:  # shows the whole review: made from all of it
            output = dataclasses.replace(output, kind=WHOLE_REVIEW, inputs=whole)
        writer.write(output)
    return navigation(site)


WHOLE_REVIEW = "whole review"  # the kind of the files made from all of it (one key for them all)


def _whole_review(data: ReviewData, templates: Templates, info: dict) -> dict[str, Value] | None:
    """What a file that shows the whole review (the home page, the methods, results.json, ...) is made from:
    every data file (data_hash) and the site's address, every file of every release (the history and what
    changed), the templates, and which version this is (the builder is in every key). Rendering these pages
    takes longer than this key, compiling their templates most of it: a build that changed nothing takes
    them from the last one. None (made anew) if a release's folder is not known."""
    releases = []
    for rel in info.get("releases") or []:
        folder = getattr(rel, "folder", None)
        if not isinstance(folder, Path):
            return None
        files = (p for p in folder.rglob("*") if p.is_file())
        releases.append(f"{rel.version} {files_digest(files, folder)}")
    flags = [info.get(k) for k in ("archived", "superseded", "latest", "draft", "url")] + [str(info.get("date"))]
    return {
        "data": data.data_hash,
        "url": json.dumps(data.review.url),
        "releases": releases,
        "templates": _templates_digest(templates),
        "version": json.dumps(flags),
    }


_PLAIN_PAGES = ("background", "audit", "limitations", "versions")


def _only_version(review) -> dict:
    """The version context of a build that knows of no releases: this version is the latest, not yet released."""
    return {
        "archived": False,
        "superseded": False,
        "releases": [],
        "changes": None,
        "history": [],
        "latest": review.version,
        "draft": True,
        "date": review.date,
        "url": review.url,
        "results_schema": True,
    }


def _add_helpers(env: jinja2.Environment, filler: Filler, review, info: dict) -> None:
    env.globals["fill"] = lambda text: filler.render(text, md)
    env.globals["cite"] = _citer(review, info)
    env.globals["fmt"] = fmt
    env.globals["figure"] = inline.marker  # figure(path, svg): the figure file docs/path, drawn in the page


def _citer(review, info: dict):
    """cite(page, what=None, root="") for the templates: a citation of this version, with its permalink, the
    site's address and its release date; `root` is the way from the citing page to the root of its version."""

    def bound(page: str, what: str | None = None, root: str = ""):
        return cite(
            review,
            page,
            what,
            url=info.get("url"),
            day=info.get("date"),
            draft=bool(info.get("draft")) and not info["archived"],
            root=root + ("../" if info["archived"] else ""),  # an archived version's pages are one folder down
        )

    return bound


class _Site:
    """The review arranged as the pages show it: the analyses' views by outcome, the studies in the order of
    the source review's tables, and which analyses use each study."""

    def __init__(self, data: ReviewData, results: list[AnalysisResult], store: cache.Store | None):
        self.data, self.review, self.results = data, data.review, results
        self._rob_memo: dict[str, str] = {}  # one serialisation per study, not per study and analysis
        self.views = [AnalysisView(r, self.review, store, self._rob_json) for r in results]
        self.by_outcome = _by_outcome(self.views, self.review)
        self.primary = {
            oid: next((v for v in vs if v.spec.role == "primary"), None) for oid, vs in self.by_outcome.items()
        }
        self.studies = data.study_list()
        self.clinical = _in_table(self.studies, "clinical-studies")
        self.case_reports = _in_table(self.studies, "case-reports")
        self.uses = _uses(self.studies, self.views)
        self.context = dict(
            up="",
            review=self.review,
            data=data,
            views=self.views,
            by_outcome=self.by_outcome,
            primary=self.primary,
            clinical=self.clinical,
            case_reports=self.case_reports,
            studies=self.studies,
            uses=self.uses,
            fmt=fmt,
            builder_version=__version__,
            rob_tools=TOOLS,
            rob_label=robfig.label,
            results_schema_version=SCHEMA_VERSION,
        )

    def _rob_json(self, study: Study) -> str:
        if study.id not in self._rob_memo:
            self._rob_memo[study.id] = rob_json_of(study)
        return self._rob_memo[study.id]


def _by_outcome(views: list[AnalysisView], review) -> dict[str, list[AnalysisView]]:
    """Each outcome's analyses, the primary first, then the reproduction, then the sensitivity analyses."""
    return {
        o.id: sorted((v for v in views if v.spec.outcome == o.id), key=lambda v: ROLE_ORDER[v.spec.role])
        for o in review.outcomes
    }


def _in_table(studies: list[Study], table: str) -> list[Study]:
    """The studies of one of the source review's tables, in its order."""
    return sorted((s for s in studies if s.source_table == table), key=lambda s: (s.source_ref or 10**6, s.id))


def _uses(studies: list[Study], views: list[AnalysisView]) -> dict[str, list[AnalysisView]]:
    """For each study, the analyses that pool it or list it as missing."""
    uses: dict[str, list[AnalysisView]] = {s.id: [] for s in studies}
    for v in views:
        for sid in dict.fromkeys([r.study.id for r in v.result.rows] + [m.study.id for m in v.result.missing]):
            uses[sid].append(v)
    return uses


def _shared(templates: Templates, review, info: dict) -> str | None:
    """The key of what every study and outcome page shows besides its own data: the templates, the review
    (title, labels, outcomes, status line) and which version this is."""
    return derive(
        "pages",
        {
            "templates": _templates_digest(templates),
            "review": review.model_dump_json(),
            "version": json.dumps(
                [info["archived"], info["superseded"], info["latest"], info.get("draft"), info.get("url")]
                + [str(info.get("date"))]
            ),
        },
    )


class _Lazy:
    """A template loaded, and so compiled, when a file is first rendered with it: a build that takes every
    file from the last one compiles none (compiling is most of the time of such a build's rendering)."""

    def __init__(self, env: jinja2.Environment, name: str):
        self.environment, self.name = env, name
        self._template: jinja2.Template | None = None

    def render(self, **context) -> str:
        if self._template is None:
            self._template = self.environment.get_template(self.name)
        return self._template.render(**context)


def _page(env: jinja2.Environment, path: str, template: str, context: dict) -> Output:
    """A page that shows the whole review: made from all of it (see _whole_review)."""
    return Output(path, lambda: env.get_template(template).render(**context))


def _ready(path: str, text: str) -> Output:
    """A file already made, while preparing a page that shows it too."""
    return Output(path, lambda: text)


# ------------------------------------------------------------------------------------ version history
def version_timelines(history: list, primary: dict[str, AnalysisView | None]) -> dict[str, dict]:
    """For each outcome with a primary analysis, the evidence-over-time figure of the versions in `history`
    (see _history): {"svg", "points"}."""
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
                caption.for_analysis("Evidence over time", v.result, v.review),
            ),
            "points": pts,
        }
    return timelines


def _timeline_figures(timelines: dict[str, dict]) -> Iterator[Output]:
    for oid, tl in timelines.items():
        yield _ready(f"figures/timeline-{oid}.svg", tl["svg"])


# ------------------------------------------------------------------------------------------------ pages
def _overview_pages(env: jinja2.Environment, site: _Site) -> Iterator[Output]:
    yield _page(env, "index.md", "index.md.j2", site.context)
    in_use = methods_in_use(site.results, site.data.bias_followups)
    yield _page(env, "methods.md", "methods.md.j2", {**site.context, "methods": in_use, "pooling": pooling_method})
    yield _page(env, "studies/index.md", "studies.md.j2", {**site.context, "up": "../"})  # one folder down


def _study_pages(env: jinja2.Environment, site: _Site, shared: str | None) -> Iterator[Output]:
    template = _Lazy(env, "study.md.j2")
    for study in site.studies:
        used_in = [_Use(v.id, _UseSpec(v.spec.title, v.spec.outcome)) for v in site.uses[study.id]]
        yield _study_page(template, site, study, used_in, shared)


def _study_page(template: _Lazy, site: _Site, study: Study, used_in: list, shared: str | None) -> Output:
    review = site.review
    return Output(
        f"studies/{study.id}.md",
        lambda: template.render(
            up="../", review=review, study=study, uses={study.id: used_in}, rob_tools=TOOLS, rob_label=robfig.label
        ),
        kind="study-page",
        inputs={
            "shared": shared,
            # The study's data are its file's (data.sources) as derived with the review's units (in `shared`).
            "study": site.data.sources.get(study.id) or study.model_dump_json(),
            "used in": json.dumps(used_in),
        },
    )


def _outcome_pages(env: jinja2.Environment, site: _Site, shared: str | None, timelines: dict) -> Iterator[Output]:
    template = _Lazy(env, "outcome.md.j2")
    for outcome in site.review.outcomes:
        yield _outcome_page(template, site, outcome, shared, timelines.get(outcome.id))


def _outcome_page(template: _Lazy, site: _Site, outcome, shared: str | None, timeline_view) -> Output:
    """An outcome page is made from its outcome, each analysis's figure key (the analysis's own key, which
    covers its plan and every number and label of its studies, plus the arms' labels and the studies' risk
    of bias), the studies it lists as missing, and the evidence-over-time figure."""
    review, analyses = site.review, site.by_outcome[outcome.id]
    figures = [v.figure_key for v in analyses]
    inputs: dict[str, Value] = {"shared": shared, "outcome": outcome.model_dump_json(), "figures": figures}
    if None not in figures:  # else the page is made anew anyway: the missing studies' data are not serialised
        inputs["missing"] = [
            json.dumps([m.dataset, m.reason]) + m.study.model_dump_json() for v in analyses for m in v.result.missing
        ]
        inputs["left out"] = [
            json.dumps([x.study.id, x.study.label, x.dataset, x.reason, x.participants])
            for v in analyses
            for x in v.result.left_out
        ]
        # descriptions may name other analyses' results: the page is made from their filled text
        fill = cast(Callable[[str], str], template.environment.globals["fill"])
        inputs["descriptions"] = [fill(v.spec.description or "") for v in analyses]
    if timeline_view is not None:
        inputs["timeline"] = timeline_view["svg"] + repr(timeline_view["points"])
    return Output(
        f"outcomes/{outcome.id}.md",
        lambda: template.render(up="../", review=review, outcome=outcome, analyses=analyses),
        kind="outcome-page",
        inputs=inputs,
    )


# --------------------------------------------------------------------------------------------- figures
def _figures(site: _Site, store: cache.Store | None) -> Iterator[Output]:
    for outcome in site.review.outcomes:
        for view in site.by_outcome[outcome.id]:
            view.stored_figures.keep(store)  # needed again when a kept page must be rendered anew
            yield from _analysis_figures(view)


def _analysis_figures(view: AnalysisView) -> Iterator[Output]:
    """The forest plot, the follow-up plots and the funnel plot of one analysis: each made from what its
    figures are (the figure key: the analysis, the arms' labels, the studies' risk of bias)."""
    made_from = {"figures": view.figure_key}
    yield Output(f"figures/{view.id}.svg", lambda: view.svg, kind="forest", inputs=made_from)
    for key, (_, _, slug) in STEP_PLOTS.items():
        if view.result.fit is not None and view.result.followups.get(key):
            yield _step_plot(view, key, slug)
    mr = view.result.meta_regression
    if mr is not None and mr.fit is not None and len(mr.moderators) == 1:  # a bubble plot (views._bubble)
        yield Output(f"figures/{view.id}-bubble.svg", lambda: view.bubble_svg, kind="bubble", inputs=made_from)
    if view.result.small_study and view.result.small_study.get("funnel") is not None:
        yield Output(f"figures/{view.id}-funnel.svg", lambda: view.small_study["svg"], kind="funnel", inputs=made_from)
    if view.result.influence.get("influence") is not None:
        yield Output(f"figures/{view.id}-baujat.svg", lambda: view.influence["svg"], kind="baujat", inputs=made_from)


def _step_plot(view: AnalysisView, key: str, slug: str) -> Output:
    return Output(
        f"figures/{view.id}-{slug}.svg", lambda: view.plots[key]["svg"], kind=slug, inputs={"figures": view.figure_key}
    )


# ------------------------------------------------------------------------------------------- downloads
def _downloads(env: jinja2.Environment, site: _Site, shared: str | None, info: dict) -> Iterator[Output]:
    """Each analysis's study inputs as CSV and the R script that reproduces it with metafor; and, for analyses
    of per-arm numbers in versions released with it (or not released yet), one for meta."""
    r_script = _Lazy(env, "analysis.R.j2")
    yi_script = _Lazy(env, "analysis-yi.R.j2")  # studies that give their estimate, or before-after data
    meta_script = _Lazy(env, "analysis.meta.R.j2") if info.get("meta_scripts", True) else None
    for view in site.views:
        if view.result.rows:
            arms_only = view.result.data_kinds == {"arms"}
            script = r_script if arms_only else yi_script
            yield from _analysis_downloads(script, meta_script if arms_only else None, view, site.review, shared)


def _r_moderators(result: AnalysisResult, review) -> dict | None:
    """What the R script needs to refit a fitted meta-regression: the formula, and per categorical moderator its
    column and declared levels (the script drops those no study has, so that R's reference level is ours)."""
    mr = result.meta_regression
    if mr is None or mr.fit is None:
        return None
    declared = [c for m in mr.moderators if (c := review.characteristic(m)) is not None]
    return {
        "formula": "~ " + " + ".join(moderator_column(c.id) for c in declared),
        "factors": [(moderator_column(c.id), c.levels) for c in declared if c.type == "categorical"],
        "labels": ", ".join(c.label for c in declared),
    }


def _analysis_downloads(
    r_script: _Lazy, meta_script: _Lazy | None, view: AnalysisView, review, shared: str | None
) -> Iterator[Output]:
    result = view.result
    yield Output(f"downloads/{view.id}.csv", lambda: analysis_csv(result), kind="csv", inputs={"analysis": result.key})
    yield Output(
        f"downloads/{view.id}.R",
        lambda: r_script.render(
            spec=view.spec,
            result=result,
            review=review,
            kinds=sorted(result.data_kinds),
            mods=_r_moderators(result, review),
        ),
        kind="R",
        inputs={"shared": shared, "analysis": result.key},
    )
    if meta_script is not None:
        yield Output(
            f"downloads/{view.id}.meta.R",
            functools.partial(meta_script.render, spec=view.spec, result=result, review=review),
            kind="R",
            inputs={"shared": shared, "analysis": result.key},
        )


def analysis_scripts(env: jinja2.Environment, result: AnalysisResult, review) -> dict[str, str]:
    """The downloads of one analysis as the site offers them, by file name: its inputs (`<id>.csv`), the
    metafor script (`<id>.R`) and, for per-arm numbers, the meta script (`<id>.meta.R`); for `review export`."""
    arms_only = result.data_kinds == {"arms"}
    sid = result.spec.id
    r_script = env.get_template("analysis.R.j2" if arms_only else "analysis-yi.R.j2")
    out = {
        f"{sid}.csv": analysis_csv(result),
        f"{sid}.R": r_script.render(
            spec=result.spec,
            result=result,
            review=review,
            kinds=sorted(result.data_kinds),
            mods=_r_moderators(result, review),
        ),
    }
    if arms_only:
        meta = env.get_template("analysis.meta.R.j2")
        out[f"{sid}.meta.R"] = meta.render(spec=result.spec, result=result, review=review)
    return out


def _results_files(document: dict) -> Iterator[Output]:
    yield Output("results.json", lambda: to_json(document))
    yield Output("results.csv", lambda: to_csv(document))


# ---------------------------------------------------------------------------- pages of the whole review
def _flow(env: jinja2.Environment, site: _Site, info: dict) -> Iterator[Output]:
    """The PRISMA flow diagram and its page; studies new since the previous release are counted as such."""
    review = site.review
    earlier = [r for r in info["releases"] if Version.parse(r.version) < Version.parse(review.version)]
    previous_ids = {p.stem for p in (earlier[-1].data_dir / "studies").glob("*.yaml")} if earlier else None
    flow = prisma.counts(review, site.data.studies, previous_ids)
    kind = "PRISMA 2020 flow diagram" + (" of an updated review" if flow.update else "")
    flow_svg = prisma.render(flow, caption.for_review(kind, review))
    flow_narrow = prisma.render_narrow(flow, caption.for_review(kind, review))
    yield Output("figures/prisma-flow.svg", lambda: flow_svg)
    yield Output("figures/prisma-flow-narrow.svg", lambda: flow_narrow)
    yield Output(
        "flow.md",
        lambda: env.get_template("flow.md.j2").render(
            flow=flow, flow_svg=flow_svg, flow_narrow_svg=flow_narrow, flow_alt=prisma.describe(flow), **site.context
        ),
    )


def _risk_of_bias(env: jinja2.Environment, site: _Site) -> Iterator[Output]:
    """A traffic-light and a summary figure for each tool used, and the page that shows them."""
    assessed = site.clinical + site.case_reports
    sections = []
    for tool_id, tool in TOOLS.items():
        rows = [(s.label, s, r) for s in assessed for r in s.risk_of_bias if r.tool == tool_id]
        if rows:
            traffic = robfig.traffic_light(
                tool_id,
                [(n, r) for n, _, r in rows],
                caption.for_review(f"{tool.name}: judgements per study", site.review),
            )
            summary = robfig.summary_bars(
                tool_id,
                [r for _, _, r in rows],
                caption.for_review(f"{tool.name}: judgements per domain across studies", site.review),
            )
            section: dict = {"id": tool_id, "tool": tool, "rows": rows, "traffic": traffic, "summary": summary}
            yield _ready(f"figures/rob-{tool_id}.svg", traffic)
            yield _ready(f"figures/rob-{tool_id}-summary.svg", summary)
            if site.data.bias_followups:
                weighted = _weighted_rob(site, tool_id)
                section["weighted"] = weighted
                for w in weighted:
                    yield _ready(w["path"], w["svg"])
            sections.append(section)
    unassessed = [s for s in assessed if not s.risk_of_bias]
    context = {"rob_sections": sections, "unassessed": unassessed, **site.context}
    yield _page(env, "risk-of-bias.md", "risk-of-bias.md.j2", context)


def _weighted_rob(site: _Site, tool_id: str) -> list[dict]:
    """For each primary analysis whose forest plot shows this tool's judgements: the summary bars weighted by
    the studies' weights in it (robvis's rob_summary(weighted = TRUE)), over the assessed studies it pools."""
    out = []
    tool = TOOLS[tool_id]
    for v in (p for p in site.primary.values() if p is not None):
        shown, robs, _ = robfig.for_analysis(v.result.rows, v.result.outcome.id)
        if shown != tool_id or v.result.fit is None:
            continue
        pairs = [(rob, r.weight) for r, rob in zip(v.result.rows, robs) if rob is not None and r.weight]
        if not pairs:
            continue
        pooled = sum(1 for r in v.result.rows if r.weight)
        share = sum(w for _, w in pairs)
        svg = robfig.summary_bars(
            tool_id,
            [rob for rob, _ in pairs],
            caption.for_analysis(f"{tool.name}: judgements weighted by the studies' weights", v.result, site.review),
            weights=[w for _, w in pairs],
            ident=f"rob-{tool_id}-weighted-{v.id}",
            title=f"{tool.name}: judgements weighted by the studies' weights in {v.spec.title}",
        )
        out.append(
            {
                "view": v,
                "svg": svg,
                "path": f"figures/rob-{tool_id}-weighted-{v.id}.svg",
                "assessed": len(pairs),
                "pooled": pooled,
                "weight": fmt.weight(share),
            }
        )
    return out


def _summary_of_findings(env: jinja2.Environment, site: _Site) -> Iterator[Output]:
    results_by_id = {r.spec.id: r for r in site.results}
    sof_rows = [sof.row(c, results_by_id[c.analysis]) for c in site.review.certainty]
    context = {"sof_rows": sof_rows, "symbols": sof.SYMBOLS, **site.context}
    yield _page(env, "summary-of-findings.md", "summary-of-findings.md.j2", context)


# ------------------------------------------------------------------------------------------ navigation
def navigation(site: _Site) -> list:
    """The site's menu. MkDocs' themes print navigation titles as raw HTML: they are escaped like every
    other text from the data."""
    listed = site.clinical + site.case_reports if len(site.studies) <= STUDIES_IN_NAV else []
    return [
        {"Home": "index.md"},
        {"Background": "background.md"},
        {"Summary of findings": "summary-of-findings.md"},
        {"Results": [{attr(o.label): f"outcomes/{o.id}.md"} for o in site.review.outcomes]},
        *([{"Audit of the source review": "audit.md"}] if _has_audit(site.review) else []),
        {"Search and selection": "flow.md"},
        {"Risk of bias": "risk-of-bias.md"},
        {"Studies": ["studies/index.md"] + [{attr(s.label): f"studies/{s.id}.md"} for s in listed]},
        {"Methods": "methods.md"},
        {"Limitations": "limitations.md"},
        {"Data and downloads": "data.md"},
        {"Versions and changes": "versions.md"},
    ]


def _has_audit(review) -> bool:
    """Whether the review audits a source review: the audit page is in the menu only then."""
    return review.source_review is not None or bool(review.narrative.audit or review.narrative.audit_intro)


class _UseSpec(NamedTuple):
    title: str
    outcome: str


class _Use(NamedTuple):
    """What a study page shows of an analysis that uses the study: its anchor, title and outcome."""

    id: str
    spec: _UseSpec


def _templates_digest(templates: Templates) -> str:
    """The digest of the templates in force: of each name, the file found first (as the loader finds it)."""
    found: dict[str, Path] = {}
    for folder in _folders(templates):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            found.setdefault(path.relative_to(folder).as_posix(), path)
    return named_files_digest(found)


def study_label(study: Study) -> str:
    return study.label
