"""Hostile input (issue 15), point 1 and 2: a payload in every free-text field of the schema is shown as text
on every page, in every figure, R script and citation; control characters are refused."""

from __future__ import annotations

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
from support import edit, review, unchanged

from builder.contract import Review, Study
from builder.contract import common as contract_common

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
