"""Hostile input (issue 15): nothing in a data file or on the command line runs code, destroys data or
reaches a traceback.

One class per kind of bad input. Each asserts the exit code, a message naming the thing at fault, and that
site/, data/ and versions/ are unchanged unless the build succeeded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import types
import typing
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from conftest import copy_project

from builder.cli import main
from builder.contract import Review, Study
from builder.contract import common as contract_common


def _tree(root: Path) -> dict[str, str]:
    """Every entry under `root`: a file's digest, a link's target, or 'dir'."""
    if not root.exists() and not root.is_symlink():
        return {}
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_dir():
            out[rel] = "dir"
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[rel] = "special"
    return out


def _state(project: Path) -> dict:
    return {part: _tree(project / part) for part in ("site", "data", "versions")}


@contextlib.contextmanager
def unchanged(project: Path):
    """site/, data/ and versions/ are exactly as they were, byte for byte, after the block."""
    before = _state(project)
    yield
    assert _state(project) == before


def review(project: Path, *args: str, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["-C", str(project), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


@pytest.fixture
def with_site(project: Path) -> Path:
    """The project with a previous site in site/ (a stand-in: refusals happen before anything is built)."""
    (project / "site").mkdir()
    (project / "site/index.html").write_text("previous good site", encoding="utf-8")
    return project


# --- 1. one escaping discipline -------------------------------------------------------------------------

MARK = "xq7"
# Everything that used to get through somewhere: raw HTML, attribute lists, links with scripts, requests to
# another host, line breaks of every kind starting blocks, and breakouts from R, BibTeX and RIS.
FREE_PAYLOAD = (
    f" {MARK} <script>window.__{MARK}=1</script><img src=x onerror=window.__{MARK}=2>"
    f" {{: onmouseover=window.__{MARK}=3 }} [a](javascript:window.__{MARK}=4)"
    f" ![b](https://attacker.example/{MARK}.png) <a href=https://attacker.example/>c</a> `|` *e* _f_"
    f'\n\n!!! danger "{MARK}"\n    {{: style="background:url(https://attacker.example/s)" }}\n\n'
    f'\u2028# {MARK} {{: onclick=window.__{MARK}=5 }}\u2029=== "{MARK}"\n'
    f"\"); system('touch {MARK}-r'); cat(\"\n# {MARK}\n}}\n@misc{{{MARK},\nER  - \nTY  - {MARK}\n- {MARK}"
)
# Labels may not hold '<' or '>' and are short; the rest of the attack fits.
LABEL_PAYLOAD = f" {MARK} {{: onmouseover=window.__{MARK}=6 }}\n\n!!! x\n\u2028[a](javascript:window.__{MARK}=7)"
# A URL that passes validation but would end a Markdown link or an attribute if printed as it is.
URL_PAYLOAD = f"/{MARK})[y](javascript:window.__{MARK}=8)'onmouseover='window.__{MARK}=9'(*"
DOI_PAYLOAD = f")[{MARK}](javascript:window.__{MARK}=10)'"
# Free-text fields left alone, with the reason: their values must match others (units, names of analytes)
# or they are read as numbers.
NOT_FREE = {
    ("Outcome", "unit"): "must equal the unit of every dataset",
    ("Outcome", "analyte"): "names a known analyte",
    ("Dataset", "unit"): "must be a known unit",
    ("DomainJudgement", "domain"): "a domain of the tool",
    ("DomainJudgement", "judgement"): "a judgement of the tool",
    ("RiskOfBias", "overall"): "a judgement of the tool",
    ("Characteristic", "levels"): "the studies' values must be one of them",
}


def _kind(annotation, metadata=()) -> str | None:
    """'free', 'label' or 'url' for a string field the payload can go into, None for any other."""
    metas = []
    for m in metadata:
        metas += [m, *getattr(m, "metadata", [])]  # a Field() inside Annotated carries its own constraints
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return _kind(base, [*metas, *extra])
    if origin in (typing.Union, types.UnionType):
        kinds = [_kind(a, metas) for a in typing.get_args(annotation) if a is not type(None)]
        return kinds[0] if kinds else None
    for m in metas:
        if getattr(m, "pattern", None):
            return None  # a string of a set form (identifiers, numbers as printed, DOIs...)
        func = getattr(m, "func", None)
        if func is contract_common._plain_label:
            return "label"
        if func is contract_common._safe_url:
            return "url"
    return "free" if annotation is str else None


def _field_kind(info) -> str | None:
    return _kind(info.annotation, info.metadata)


def _model_of(annotation):
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, dict, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
        return None
    return annotation if isinstance(annotation, type) and hasattr(annotation, "model_fields") else None


def _payload(kind: str, value: str | None) -> str:
    if kind == "label":
        return (value or "Label") + LABEL_PAYLOAD
    if kind == "url":
        return (value or "https://example.org").rstrip("/") + URL_PAYLOAD
    return (value or "") + FREE_PAYLOAD


def poison(model, data: dict, path: tuple, seen: set, fields: dict) -> None:
    """Append a payload to every free-text field of `data` (validated by `model`), and fill the optional
    free-text fields it leaves out; `fields` maps each path touched to its (model, field) and old value."""
    for name, info in model.model_fields.items():
        kind = _field_kind(info)
        here = path + (name,)
        if (model.__name__, name) in NOT_FREE:
            continue
        if name == "doi" and model.__name__ == "Citation":
            if data.get(name):
                fields[here] = ((model.__name__, name), data[name])
                data[name] = data[name] + DOI_PAYLOAD
                seen.add((model.__name__, name))
            continue
        value = data.get(name)
        if kind is not None and (value is None or isinstance(value, str)):
            fields[here] = ((model.__name__, name), value)
            data[name] = _payload(kind, value)
            seen.add((model.__name__, name))
            continue
        inner = typing.get_args(info.annotation)
        if isinstance(value, dict) and typing.get_origin(info.annotation) is dict and _model_of(inner[1]) is None:
            data[name] = {key + FREE_PAYLOAD: count for key, count in value.items()}  # reasons: free-text keys
            seen.add((model.__name__, name))
            continue
        if isinstance(value, list) and any(_kind(a) for a in inner):
            item_kind = next(_kind(a) for a in inner if _kind(a))
            for i, item in enumerate(value):
                if isinstance(item, str):
                    fields[here + (i,)] = ((model.__name__, name), item)
                    value[i] = _payload(item_kind, item)
            seen.add((model.__name__, name))
            continue
        sub = _model_of(info.annotation)
        if sub is None:
            continue
        if isinstance(value, dict) and set(sub.model_fields) & set(value):
            poison(sub, value, here, seen, fields)
        elif isinstance(value, dict):  # a mapping of id -> model (or of id -> mapping of id -> model)
            for key, item in value.items():
                if isinstance(item, dict) and set(sub.model_fields) & set(item):
                    poison(sub, item, here + (key,), seen, fields)
                elif isinstance(item, dict):
                    for k2, item2 in item.items():
                        if isinstance(item2, dict):
                            poison(sub, item2, here + (key, k2), seen, fields)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    poison(sub, item, here + (i,), seen, fields)


def free_text_fields(model, out: set | None = None, visited: set | None = None) -> set:
    """Every (model, field) of the schema that holds free text."""
    out = set() if out is None else out
    visited = set() if visited is None else visited
    if model in visited:
        return out
    visited.add(model)
    for name, info in model.model_fields.items():
        if (model.__name__, name) in NOT_FREE:
            continue
        container = typing.get_origin(info.annotation) in (list, dict)
        inner = typing.get_args(info.annotation) if container else ()
        if _field_kind(info) or any(_kind(a) for a in inner) or name == "doi":
            out.add((model.__name__, name))
        sub = _model_of(info.annotation)
        if sub is not None:
            free_text_fields(sub, out, visited)
    return out


def _load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dump_yaml(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000), encoding="utf-8")


def _declare_characteristics(review: dict) -> None:
    """Study characteristics (whose free text the MSC data do not use), a meta-regression on one of them fitted
    despite the guard, and subgroups by the other, so that their fields carry the payload too."""
    review["characteristics"] = [
        {"id": "follow-up", "label": "Follow-up", "type": "continuous", "unit": "days"},
        {"id": "setting", "label": "Setting", "type": "categorical", "levels": ["ICU", "Ward"]},
    ]
    primary = next(a for a in review["analyses"] if a["role"] == "primary")
    primary["meta_regression"] = {"moderators": ["follow-up"], "allow_few_studies": "to carry the payload"}
    primary["subgroups"] = "setting"


def poison_project(project: Path) -> tuple[set, dict]:
    """Every free-text field of review.yaml and of every study file carries a payload; returns the fields of
    the schema reached and the paths touched."""
    seen: set = set()
    fields: dict = {}
    review_path = project / "data/review.yaml"
    data = _load_yaml(review_path)
    data["version"] = "1.2"  # the data no longer equal the released 1.1
    _declare_characteristics(data)
    poison(Review, data, ("review",), seen, fields)
    _dump_yaml(review_path, data)
    for i, path in enumerate(sorted((project / "data/studies").glob("*.yaml"))):
        data = _load_yaml(path)
        if path.stem == "shu-2020":
            _with_reported_estimates(data)
        data["characteristics"] = {
            "follow-up": {"value": 14 + 7 * (i % 4), "provenance": {"kind": "extracted", "source": "Methods"}},
            "setting": {"value": ("ICU", "Ward")[i % 2], "provenance": {"kind": "extracted", "source": "Methods"}},
        }
        poison(Study, data, (path.stem,), seen, fields)
        _dump_yaml(path, data)
    return seen, fields


def _with_reported_estimates(study: dict) -> None:
    """Survival datasets that give the study's own estimate (a contrast, O - E and variance), which the MSC
    data do not have, so that their free-text fields are reached too (no analysis pools them)."""
    totals = {"experimental": {"arm": "msc", "total": 12}, "control": {"arm": "control", "total": 29}}
    provenance = {"kind": "inferred", "source": "a test of hostile text", "reasoning": "invented for the test"}
    study["outcomes"]["survival"]["reported-hr"] = {
        **totals,
        "contrast": {"measure": "HR", "estimate": 0.5, "ci_low": 0.2, "ci_high": 1.3, "adjusted_for": "age"},
        "provenance": provenance,
    }
    study["outcomes"]["survival"]["log-rank"] = {
        **totals,
        "o_minus_e": {"measure": "HR", "value": -1.5, "variance": 2.5},
        "provenance": provenance,
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, set]:
    from builder.publish.build import build

    project = copy_project(tmp_path_factory.mktemp("hostile") / "project")
    seen, _ = poison_project(project)
    build(project)
    return project, seen


@pytest.mark.build
@pytest.mark.slow
class TestPayloadInEveryFreeTextField:
    """The payload reaches every free-text field the schema has, the data still validate, and the built
    site shows it as text: no script runs, no request leaves the machine, every R script parses."""

    def test_every_free_text_field_of_the_schema_is_reached(self, hostile):
        _, seen = hostile
        schema = free_text_fields(Review) | free_text_fields(Study)
        assert schema - seen == set()
        assert len(seen) > 60

    def test_no_page_has_markup_from_the_data(self, hostile):
        from html.parser import HTMLParser

        class Tags(HTMLParser):
            def __init__(self):
                super().__init__(convert_charrefs=True)
                self.found: list[str] = []
                self.tag = ""

            def handle_starttag(self, tag, attrs):
                self.tag = tag
                for name, value in attrs:
                    value = value or ""
                    if name.startswith("on"):
                        self.found.append(f"handler {name} on <{tag}>")
                    if name in ("href", "src", "action") and value.strip().lower().startswith("javascript:"):
                        self.found.append(f"script link in <{tag} {name}>")
                    if name in ("style", "src", "href") and "attacker.example" in value:
                        self.found.append(f"outside address in <{tag} {name}>")

            def handle_data(self, data):
                if self.tag == "script" and MARK in data:
                    self.found.append("script element from the data")

        project, _ = hostile
        site = project / "site"
        pages = [p for p in site.rglob("*.html") if not p.relative_to(site).as_posix().startswith("v1.")]
        assert len(pages) > 30
        for page in pages:
            text = page.read_text(encoding="utf-8")
            assert MARK in text or page.name == "404.html", page
            parser = Tags()
            parser.feed(text)
            assert parser.found == [], page
            assert not re.search(rf"<h\d[^>]*>\s*{MARK}", text), page  # no heading started by the data
            assert f'class="admonition-title">{MARK}' not in text, page  # nor an admonition

    def test_every_figure_is_well_formed_xml(self, hostile):
        project, _ = hostile
        figures = sorted((project / "site/figures").glob("*.svg"))
        assert len(figures) > 10
        for figure in figures:
            ET.parse(figure)  # raises on invalid XML

    @pytest.mark.r
    @pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript is not installed")
    def test_every_r_script_parses_with_the_payload_only_in_strings_and_comments(self, hostile):
        project, _ = hostile
        scripts = sorted((project / "site/downloads").glob("*.R"))
        assert len(scripts) >= 7
        code = (
            "for (f in commandArgs(TRUE)) { d <- getParseData(parse(file = f, keep.source = TRUE)); "
            f'd <- d[d$terminal & grepl("{MARK}|system", d$text), ]; '
            'cat(paste(basename(f), d$token, sep = "\\t"), sep = "\\n") }'
        )
        proc = subprocess.run(["Rscript", "-e", code, *map(str, scripts)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        tokens = [line.split("\t") for line in proc.stdout.splitlines() if "\t" in line]
        assert {t for _, t in tokens} == {"COMMENT"}, tokens  # the title is only ever in the first comment
        assert {name for name, _ in tokens} == {s.name for s in scripts}

    def test_citations_stay_one_field_per_line(self, hostile):
        project, _ = hostile
        text = (project / "build/current/docs/index.md").read_text(encoding="utf-8")
        bib = [line for line in text.split("```bibtex\n", 1)[1].split("```", 1)[0].splitlines() if line.strip()]
        ris = [line for line in text.split("```text\n", 1)[1].split("```", 1)[0].splitlines() if line.strip()]
        assert len(bib) == 9 and bib[0].strip().startswith("@misc{") and bib[-1].strip() == "}"
        for line in bib[1:-1]:
            body = line.strip()
            assert re.fullmatch(r"\w+ = \{.*\},?", body), line
            inner = body.split("{", 1)[1].rsplit("}", 1)[0]
            depth = 0
            for c in re.sub(r"\\.", "", inner):
                depth += {"{": 1, "}": -1}.get(c, 0)
                assert depth >= 0, line
            assert depth == 0, line
        assert all(re.fullmatch(r"[A-Z][A-Z0-9]  -( .*)?", line.strip()) for line in ris), ris
        assert sum(line.strip().startswith("TY  -") for line in ris) == 1

    @pytest.mark.browser
    def test_in_chromium_no_script_runs_and_no_request_leaves(self, hostile):
        chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
        try:
            import playwright  # noqa: F401
        except ImportError:
            pytest.skip("playwright is not installed")
        if not Path(chromium).exists():
            if os.environ.get("REQUIRE_BROWSER"):
                pytest.fail("Debian's chromium is not installed")
            pytest.skip("Debian's chromium is not installed")
        import functools
        import http.server
        import threading
        from urllib.parse import urlparse

        from playwright.sync_api import sync_playwright

        project, _ = hostile
        site = project / "site"
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
        handler.log_message = lambda *a: None
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{httpd.server_address[1]}/"
        problems: list[str] = []

        def route(r):
            if urlparse(r.request.url).hostname in ("127.0.0.1",) or r.request.url.startswith("data:"):
                r.continue_()
            else:
                problems.append(f"request to another host: {r.request.url}")
                r.abort()

        # Every element the page has, hovered and clicked would run an injected handler; instead the page is
        # searched for handlers, script links and styles that load anything, and a marker any script sets.
        inspect = f"""() => {{
            const found = [];
            for (const el of document.querySelectorAll('*')) {{
                for (const a of el.attributes) {{
                    if (a.name.startsWith('on')) found.push('handler ' + a.name + ' on ' + el.tagName);
                    if (/^\\s*javascript:/i.test(a.value)) found.push('script link in ' + a.name);
                    if (a.name === 'style' && /url\\(/i.test(a.value)) found.push('style with url() on ' + el.tagName);
                }}
                if (el.tagName === 'SCRIPT' && el.textContent.includes('{MARK}')) found.push('script element');
            }}
            if (window.__{MARK} !== undefined) found.push('a script ran: ' + window.__{MARK});
            return found;
        }}"""
        pages = sorted(
            p.relative_to(site).as_posix()
            for p in site.rglob("*.html")
            if not p.relative_to(site).as_posix().startswith("v1.")
        )
        try:
            with sync_playwright() as p:
                args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
                browser = p.chromium.launch(executable_path=chromium, args=args)
                context = browser.new_context()
                page = context.new_page()
                page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
                page.route("**/*", route)
                for path in pages:
                    page.goto(base + path, wait_until="networkidle")
                    problems += [f"{path}: {f}" for f in page.evaluate(inspect)]
                    page.mouse.move(200, 200)
                browser.close()
        finally:
            httpd.shutdown()
        assert problems == []


class TestControlCharacters:
    """A control character in any text is refused with its file, line and field (exit 1)."""

    @pytest.mark.parametrize("char", ["\x07", "\x1b", "\x00", "\r", "\x7f", "\x85", "\x9b"])
    def test_refused_in_a_study_label(self, project, capsys, char):
        path = project / "data/studies/shu-2020.yaml"
        escaped = json.dumps(f"Shu{char}2020")  # a YAML double-quoted string
        edit(path, "label: Shu 2020", f"label: {escaped}")
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1
        assert re.search(rf"data/studies/shu-2020\.yaml:2: label: .*control character U\+{ord(char):04X}", out), out

    def test_refused_in_a_list_item_with_its_index(self, project, capsys):
        edit(
            project / "data/studies/shu-2020.yaml",
            "  - The dose of UC-MSC",
            '  - "\\e[31m red"\n  - The dose of UC-MSC',
        )
        code, out = review(project, "check", capsys=capsys)
        assert code == 1 and "data/studies/shu-2020.yaml:" in out and "notes[1]" in out and "U+001B" in out


class TestSitePathIsChecked:
    """`review build --site DIR` refuses, before touching anything, a DIR that is, contains or lies inside the
    project's sources, build/ or the project itself."""

    @pytest.mark.parametrize(
        "site",
        [
            "data",
            "data/studies",
            "versions",
            "versions/1.0",
            "templates",
            "docs",
            "builder",
            "build",
            ".",
            "..",
            "build/current",
            "mkdocs.yml",
        ],
    )
    def test_refused_with_exit_2(self, with_site, capsys, site):
        project = with_site
        (project / "builder").mkdir(exist_ok=True)
        (project / "builder/keep.py").write_text("kept", encoding="utf-8")
        (project / "build").mkdir(exist_ok=True)
        (project / "build/keep").write_text("kept", encoding="utf-8")
        before = {p: _tree(project / p) for p in ("builder", "build", "templates", "docs")}
        with unchanged(project):
            code, out = review(project, "build", "--site", str(project / site), capsys=capsys)
        assert code == 2, out
        assert "--site" in out and "refus" in out
        assert {p: _tree(project / p) for p in before} == before
        assert (project / "mkdocs.yml").is_file()

    def test_a_folder_that_is_not_a_site_is_never_replaced(self, with_site, tmp_path, capsys):
        precious = tmp_path / "documents"
        precious.mkdir()
        (precious / "thesis.txt").write_text("years of work", encoding="utf-8")
        code, out = review(with_site, "build", "--site", str(precious), capsys=capsys)
        assert code == 2 and "documents" in out and "not a site" in out
        assert (precious / "thesis.txt").read_text(encoding="utf-8") == "years of work"

    def test_a_symlink_into_the_sources_is_refused(self, with_site, tmp_path, capsys):
        link = tmp_path / "innocent"
        link.symlink_to(with_site / "data")
        with unchanged(with_site):
            code, out = review(with_site, "build", "--site", str(link), capsys=capsys)
        assert code == 2 and "data" in out


class TestGeneratedNamesCannotBeTaken:
    """Ids that would overwrite a generated page or figure are refused at validation (exit 1)."""

    def test_study_id_index(self, project, capsys):
        old = project / "data/studies/shu-2020.yaml"
        text = old.read_text(encoding="utf-8").replace("id: shu-2020", "id: index", 1)
        (project / "data/studies/index.yaml").write_text(text, encoding="utf-8")
        old.unlink()
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and "data/studies/index.yaml:1: id:" in out and "studies/index" in out

    @pytest.mark.parametrize("new_id", ["prisma-flow", "timeline-survival", "rob-rob2", "crp-primary-funnel"])
    def test_analysis_id_of_a_figure(self, project, capsys, new_id):
        path = project / "data/review.yaml"
        edit(path, "  - id: survival-fixed-mh\n", f"  - id: {new_id}\n")
        with unchanged(project):
            code, out = review(project, "check", capsys=capsys)
        assert code == 1 and re.search(r"data/review\.yaml:\d+: analyses\[\d+\]\.id: .*figure", out), out


class TestSwapLeavesOneSite:
    """The new site replaces the old by one exchange: a crash at any point leaves the old or the new site
    at the site's path, and only the previous site is ever removed."""

    def _prepare(self, tmp_path):
        new, target = tmp_path / "build/.staging/site", tmp_path / "site"
        new.mkdir(parents=True)
        (new / "index.html").write_text("new", encoding="utf-8")
        target.mkdir()
        (target / "index.html").write_text("old", encoding="utf-8")
        (tmp_path / "site.old").mkdir()
        (tmp_path / "site.old/mine.txt").write_text("not the builder's", encoding="utf-8")
        return new, target

    def test_a_swap_replaces_the_site_and_leaves_nothing_else(self, tmp_path):
        from builder.publish.build import _swap

        new, target = self._prepare(tmp_path)
        _swap(new, target)
        assert (target / "index.html").read_text(encoding="utf-8") == "new"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "site", "site.old"]
        assert (tmp_path / "site.old/mine.txt").exists()

    @pytest.mark.parametrize("step", range(6))
    def test_a_crash_at_any_step_leaves_the_old_or_the_new_site(self, tmp_path, monkeypatch, step):
        from builder.publish import build as build_mod

        new, target = self._prepare(tmp_path)
        calls = {"n": 0}
        real = {name: getattr(build_mod, name) for name in ("_exchange", "_copy_beside", "_remove")}

        def crashing(name):
            def run(*args, **kwargs):
                calls["n"] += 1
                if calls["n"] > step:
                    raise KeyboardInterrupt("simulated crash")
                return real[name](*args, **kwargs)

            return run

        for name in real:
            monkeypatch.setattr(build_mod, name, crashing(name))
        with contextlib.suppress(KeyboardInterrupt):
            build_mod._swap(new, target)
        assert (target / "index.html").read_text(encoding="utf-8") in ("old", "new")
        assert (tmp_path / "site.old/mine.txt").exists()
        monkeypatch.undo()
        new.mkdir(parents=True, exist_ok=True)
        (new / "index.html").write_text("newer", encoding="utf-8")
        build_mod._swap(new, target)  # the next build cleans up what the crash left
        assert (target / "index.html").read_text(encoding="utf-8") == "newer"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "site", "site.old"]


def _set_version(project: Path, version: str) -> None:
    path = project / "data/review.yaml"
    path.write_text(
        re.sub(r'(?m)^version: ".*"$', f'version: "{version}"', path.read_text(encoding="utf-8")), encoding="utf-8"
    )


def _change_data(project: Path) -> None:
    edit(project / "data/studies/shu-2020.yaml", "    n: 29\n", "    n: 30\n")


class TestVersionNumbers:
    """One ordered, canonical Version: a released number cannot be reused under another spelling, and a new
    version must be greater than every release."""

    def test_leading_zero_is_refused(self, project, capsys):
        _set_version(project, "01.1")
        _change_data(project)
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and re.search(r"data/review\.yaml:\d+: version: .*'01\.1'", out), out

    def test_an_older_number_is_refused(self, project, capsys):
        _set_version(project, "0.9")
        _change_data(project)
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1, out
        assert re.search(
            r"data/review\.yaml:\d+: version: must be greater than every released version; "
            r"the latest is 1\.1",
            out,
        ), out

    def test_a_trailing_zero_is_the_same_version(self, project, capsys):
        _set_version(project, "1.1.0")
        _change_data(project)
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code != 0 and "released version 1.1" in out, out

    def test_version_objects_compare_as_numbers(self):
        from builder.contract.version import Version, VersionError

        assert Version.parse("1.10") > Version.parse("1.9") > Version.parse("1.2")
        assert Version.parse("1.1.0") == Version.parse("1.1") and hash(Version.parse("1.1.0")) == hash(
            Version.parse("1.1")
        )
        for bad in ("01.1", "1", "1.01", "1.1.1.1", " 1.1", "1.1 ", "v1.1", "1..1", 1.1):
            with pytest.raises(VersionError):
                Version.parse(bad)


class TestReleaseIntegrity:
    """Every build checks each release against its manifest and names the release and the file."""

    def test_an_edited_snapshot_of_1_0_is_named(self, project, capsys):
        edit(project / "versions/1.0/data/studies/shu-2020.yaml", "    n: 29\n", "    n: 28\n")
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 3 and "versions/1.0/data was changed after release" in out, out

    def test_a_new_release_lists_every_file_and_each_edit_is_named(self, project, capsys):
        _set_version(project, "1.2")
        edit(project / "data/review.yaml", "  trigger: >-\n", "  trigger: >-\n    A test release.\n")
        _change_data(project)
        code, out = review(project, "release", "1.2", capsys=capsys)
        assert code == 0, out
        manifest = json.loads((project / "versions/1.2/manifest.json").read_text(encoding="utf-8"))
        assert set(manifest["files"]) == {"results.json", "CITATION.cff", ".zenodo.json", "data/review.yaml"} | {
            f"data/studies/{p.name}" for p in (project / "data/studies").glob("*.yaml")
        }
        for name, change in (
            (
                "results.json",
                lambda p: p.write_text(p.read_text(encoding="utf-8").replace('"1.2"', '"1.3"', 1), encoding="utf-8"),
            ),
            ("data/studies/zz-added.yaml", lambda p: p.write_text("id: zz\n", encoding="utf-8")),
        ):
            path = project / "versions/1.2" / name
            original = path.read_bytes() if path.exists() else None
            change(path)
            with unchanged(project):
                code, out = review(project, "build", capsys=capsys)
            assert code == 3 and f"versions/1.2/{name}" in out, out
            path.write_bytes(original) if original is not None else path.unlink()

    @pytest.mark.parametrize(
        "damage", ["{", "[]", '{"version": "1.0"}', '{"version": "01.0", "data_hash": "x", "date": "x"}']
    )
    def test_a_damaged_manifest_is_named_not_a_traceback(self, project, capsys, damage):
        (project / "versions/1.0/manifest.json").write_text(damage, encoding="utf-8")
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 3 and "versions/1.0/manifest.json" in out and "Traceback" not in out, out

    def test_check_names_an_edited_snapshot_too(self, project, capsys):
        edit(project / "versions/1.1/data/studies/shu-2020.yaml", "    n: 29\n", "    n: 28\n")
        code, out = review(project, "check", capsys=capsys)
        assert code == 3 and "versions/1.1/data was changed after release" in out, out

    def test_a_missing_results_file_is_named(self, project, capsys):
        (project / "versions/1.1/results.json").unlink()
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 3 and "versions/1.1/results.json" in out, out

    def test_an_edited_results_file_of_1_0_stops_an_incremental_build(self, project, capsys):
        code, out = review(project, "build", capsys=capsys)
        assert code == 0, out
        path = project / "versions/1.0/results.json"
        document = json.loads(path.read_text(encoding="utf-8"))
        record = next(a for a in document["analyses"] if a["pooled"])
        record["pooled"]["estimate"] += 0.5
        path.write_text(json.dumps(document), encoding="utf-8")
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 3 and f"versions/1.0/results.json: {record['id']} estimate" in out, out


def _study(project: Path) -> Path:
    return project / "data/studies/shu-2020.yaml"


class TestOnlyRegularFilesAreRead:
    """A FIFO, a device, a folder or a link out of the project in data/ is refused with its name (exit 1),
    without blocking or reading it."""

    def _run(self, project: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [os.sys.executable, "-m", "builder.cli", "-C", str(project), "check"],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def test_a_fifo(self, project):
        os.mkfifo(project / "data/studies/zz.yaml")
        proc = self._run(project)
        assert proc.returncode == 1 and "data/studies/zz.yaml: (file): is not a regular file" in proc.stderr

    def test_a_link_to_a_device(self, project):
        (project / "data/studies/zz.yaml").symlink_to("/dev/zero")
        proc = self._run(project)
        assert proc.returncode == 1 and "data/studies/zz.yaml: (file): is a link to something outside" in proc.stderr

    def test_a_link_out_of_the_project(self, project, tmp_path):
        outside = tmp_path / "elsewhere.yaml"
        shutil.copy(_study(project), outside)
        _study(project).unlink()
        _study(project).symlink_to(outside)
        proc = self._run(project)
        assert (
            proc.returncode == 1 and "data/studies/shu-2020.yaml: (file): is a link to something outside" in proc.stderr
        )

    def test_a_folder_named_like_a_study(self, project):
        (project / "data/studies/zz.yaml").mkdir()
        proc = self._run(project)
        assert proc.returncode == 1 and "data/studies/zz.yaml: (file): is a folder" in proc.stderr

    def test_a_link_inside_the_project_is_read(self, project):
        target = project / "data/shu.yaml.txt"
        shutil.move(_study(project), target)
        _study(project).symlink_to(target)
        proc = self._run(project)
        assert proc.returncode == 0, proc.stderr


class TestFileSizeIsCapped:
    def test_a_huge_file_is_refused_unread(self, project, capsys):
        with _study(project).open("a", encoding="utf-8") as f:
            f.write("# " + "x" * 3_000_000 + "\n")
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and "data/studies/shu-2020.yaml: (file): file is over 2,000,000 bytes" in out, out


class TestNumbersAreParsedStrictly:
    """YAML 1.1 readings that silently change a number are refused with the file, line and field."""

    @pytest.mark.parametrize(
        "written,message",
        [
            ("1:30", "not a plain decimal number"),
            ("012", "not a plain decimal number"),
            ("0x1d", "not a plain decimal number"),
            ("1_2", "not a plain decimal number"),
            ("yes", "valid integer"),
            ("true", "valid integer"),
            ("'12'", "valid integer"),
            ("12.0", "valid integer"),
        ],
    )
    def test_an_arm_size(self, project, capsys, written, message):
        edit(_study(project), "    n: 29\n", f"    n: {written}\n")
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and re.search(r"data/studies/shu-2020\.yaml:\d+: arms\[1\]\.n: .*" + message, out), out

    def test_on_as_a_key_is_named_on(self, project, capsys):
        edit(_study(project), "label: Shu 2020\n", "label: Shu 2020\non: 3\n")
        code, out = review(project, "check", capsys=capsys)
        assert code == 1 and "unknown field 'on'" in out, out


class TestMagnitudesAreBounded:
    @pytest.mark.parametrize(
        "field,old,new",
        [
            ("arms[1].n", "    n: 29\n", "    n: 1000000000000000000000000000000\n"),
            (
                "outcomes.survival.published.control.total",
                "total: 29, events: 26",
                "total: 100000000000000000000, events: 26",
            ),
        ],
    )
    def test_huge_counts(self, project, capsys, field, old, new):
        edit(_study(project), old, new)
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and "data/studies/shu-2020.yaml" in out and field in out and "less than or equal" in out, out

    @pytest.mark.parametrize("p", ["1E-200000000", "0.02 (two-sided)", "2", "0.1234567890123456", "-0.1"])
    def test_a_p_value_as_printed(self, project, capsys, p):
        edit(project / "data/review.yaml", 'p: "0.02"', f'p: "{p}"')
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and re.search(r"data/review\.yaml:\d+: analyses\[1\]\.reported\.p: ", out), out

    def test_a_huge_real_number(self, project, capsys):
        edit(project / "data/review.yaml", "mh_continuity_correction: 0.5", "mh_continuity_correction: 1.0e300")
        code, out = review(project, "check", capsys=capsys)
        assert code == 1, out
        assert re.search(r"data/review\.yaml:\d+: analyses\[1\]\.mh_continuity_correction: must be between", out), out


class TestDates:
    @pytest.mark.parametrize(
        "day,message",
        [("1969-12-31", "1970-01-01 or later"), ("2026-13-45", "not a valid date"), ("2026-02-30", "not a valid date")],
    )
    def test_the_review_date(self, project, capsys, day, message):
        path = project / "data/review.yaml"
        path.write_text(re.sub(r"(?m)^date: .*$", f"date: {day}", path.read_text(encoding="utf-8")), encoding="utf-8")
        _set_version(project, "1.2")
        with unchanged(project):
            code, out = review(project, "build", capsys=capsys)
        assert code == 1 and re.search(r"data/review\.yaml:\d+: date: .*" + message, out), out


class TestNoTraceback:
    """Point 8 of the issue: faults around the data give a message, not a traceback."""

    def test_new_study_without_a_studies_folder(self, project, capsys):
        shutil.rmtree(project / "data/studies")
        code, out = review(project, "new-study", "smith-2024", capsys=capsys)
        assert code == 0 and (project / "data/studies/smith-2024.yaml").is_file(), out

    def test_new_study_outside_a_project(self, tmp_path, capsys):
        code, out = review(tmp_path, "new-study", "smith-2024", capsys=capsys)
        assert code == 2 and "not a review project" in out

    def test_a_leftover_site_old_is_left_alone(self, project, capsys):
        (project / "site.old").mkdir()
        (project / "site.old/x").write_text("x", encoding="utf-8")
        os.chmod(project / "site.old", 0o500)
        try:
            code, out = review(project, "build", capsys=capsys)
        finally:
            os.chmod(project / "site.old", 0o700)
        assert code == 0, out
        assert (project / "site.old/x").exists() and (project / "site/index.html").is_file()
