"""`review import`: a RevMan 5 file or a Cochrane data package to study files and analyses of this project.

Everything is written into a temporary folder first and checked with the same loader `review build` uses;
only a result that validates is moved into place, study files never over an existing file, `review.yaml` last.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from builder.contract.review import PRESETS
from builder.contract.rob import NOT_RETRIEVED, TOOLS
from builder.errors import DataError, Problem
from builder.ingest.loader import load

from .model import Imported, Judgement, RevManAnalysis, Row
from .package import read_package
from .rm5 import read_rm5
from .safe import read_limited

DATASET = "as-analysed"
ROLES = ("primary", "reproduction", "sensitivity")
# RevMan's names of RoB 1 items (5.0 asked questions, later versions name the domain) -> the rob1 domain.
ROB1_WORDS = (
    ("sequence", "random-sequence-generation"),
    ("concealment", "allocation-concealment"),
    ("outcome assess", "blinding-outcome-assessment"),
    ("blinding", "blinding-participants-personnel"),
    ("incomplete", "incomplete-outcome-data"),
    ("selective", "selective-reporting"),
    ("other", "other-bias"),
)


def slug(text: str, limit: int = 56) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:limit].rstrip("-")


def _unique(base: str, taken: set[str], fallback: str) -> str:
    base = base or fallback
    name, n = base, 2
    while name in taken or name == "index":
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def _label(text: str) -> str:
    return (text.replace("<", "(").replace(">", ")").strip() or "Unnamed")[:120]


def _decimal(value: float) -> str:
    text = f"{value:.4f}"
    return "0.0000" if text == "-0.0000" else text


def _p(value: float) -> str:
    return "< 0.00001" if value < 0.00001 else f"{value:.4f}"


def read(path: Path) -> Imported:
    """The file's contents, by its format (its first bytes, not its name)."""
    name = path.name
    raw = read_limited(path, name)
    if raw[:4] == b"PK\x03\x04":
        return read_package(raw, name)
    if raw.lstrip()[:1] == b"<" or raw[:3] == b"\xef\xbb\xbf" or raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return read_rm5(raw, name)
    raise DataError(
        [Problem(name, None, "(file)", "expected a RevMan 5 file (.rm5, XML) or a Cochrane data package (.zip)")]
    )


# ------------------------------------------------------------------------------------ to this project's files
def _settings(a: RevManAnalysis) -> dict[str, object]:
    """preset revman5 for what RevMan computed; the settings written out when the file says they differ
    (a package `review export` wrote for an analysis with current methods)."""
    if not a.settings or all(a.settings.get(k) == v for k, v in PRESETS["revman5"].items()):
        return {"preset": "revman5"}
    out = dict(a.settings)
    if not a.random:
        out.pop("ci_method", None)
    return out


@dataclass
class Plan:
    """What the import writes: review.yaml's new outcomes and analyses and one file per study."""

    outcomes: list[dict]
    analyses: list[dict]
    studies: dict[str, dict]  # id -> the study file's content
    notes: list[str]
    characteristics: list[dict]  # one per analysis with RevMan subgroups: studies' subgroup within it


def _source(imp: Imported, place) -> dict:
    return {"kind": "as-printed-in-review", "source": f"{imp.format} {place}"}


class _Builder:
    def __init__(self, imp: Imported, taken_studies: set[str], taken_outcomes: set[str], taken_analyses: set[str]):
        self.imp = imp
        self.problems: list[Problem] = []
        self.ids: dict[str, str] = {}  # study name -> id
        self.taken_studies = taken_studies
        self.taken_outcomes = taken_outcomes
        self.taken_analyses = taken_analyses
        self.arms: dict[str, dict[tuple[str, str], dict]] = {}  # study id -> (role, label) -> arm
        self.outcomes_of: dict[str, dict] = {}  # study id -> outcome id -> {dataset: ...}
        self.outcome_ids: dict[tuple, str] = {}  # (outcome name, type, unit) -> outcome id
        self.seen: set[tuple[str, str]] = set()  # (analysis id, study id)
        self.own_datasets: set[str] = set()  # analyses some of whose studies have a dataset of their own
        self.characteristics: list[dict] = []
        self.taken_characteristics: set[str] = set()
        self.values: dict[str, dict] = {}  # study id -> characteristic id -> {value, provenance}
        self.notes: list[str] = []

    def study_id(self, name: str) -> str:
        if name not in self.ids:
            self.ids[name] = _unique(slug(name), self.taken_studies, "study")
        return self.ids[name]

    def arm(self, sid: str, role: str, label: str, n: int, place) -> str:
        arms = self.arms.setdefault(sid, {})
        key = (role, label)
        if key not in arms:
            taken = {a["id"] for a in arms.values()}
            arm_id = _unique(slug(label, 40), taken, role)
            if role == "experimental" and arm_id == "control":
                arm_id = _unique("experimental", taken, "experimental")
            arms[key] = {
                "id": arm_id,
                "label": label,
                "role": role,
                "n": n,
                "provenance": {
                    "kind": "inferred",
                    "source": f"{self.imp.format} {place}",
                    "reasoning": "RevMan records participants per analysis, not per arm: the arm's size is the "
                    "largest total of this group in the file's analyses",
                },
            }
        arms[key]["n"] = max(arms[key]["n"], n)
        return arms[key]["id"]

    def group(self, row: Row, side: str, dichotomous: bool) -> dict:
        c = row.cells
        if dichotomous:
            return {"total": c[f"total_{side}"], "events": c[f"events_{side}"]}
        return {"total": c[f"total_{side}"], "mean": c[f"mean_{side}"], "sd": c[f"sd_{side}"]}

    def _valid(self, row: Row, dich: bool) -> bool:
        if len(row.cells) < (4 if dich else 6):
            return False  # its problems are already listed by the reader
        where = (row.place.file, row.place.line, row.place.what)
        if row.cells["total_exp"] < 1 or row.cells["total_ctrl"] < 1:
            self.problems.append(Problem(*where, "expected at least one participant in each group"))
            return False
        if not dich and (row.cells["sd_exp"] <= 0 or row.cells["sd_ctrl"] <= 0):
            self.problems.append(Problem(*where, "expected standard deviations above 0"))
            return False
        return True

    def dataset(self, a: RevManAnalysis, oid: str, aid: str, row: Row, unit: str | None) -> str | None:
        """The study of `row`, with its data stored as the outcome's dataset `as-analysed`, or, when another
        analysis of the same outcome stored other numbers there, as a dataset named after this analysis."""
        dich = a.data_type == "dichotomous"
        if not self._valid(row, dich):
            return None
        sid = self.study_id(row.study)
        if (aid, sid) in self.seen:
            self.problems.append(
                Problem(
                    row.place.file,
                    row.place.line,
                    row.place.what,
                    "the study appears twice in this analysis (e.g. in two subgroups); this project takes one "
                    "dataset per study and analysis: split it into two studies in RevMan first",
                )
            )
            return None
        self.seen.add((aid, sid))
        exp_arm = self.arm(sid, "experimental", a.label_experimental, int(row.cells["total_exp"]), a.place)
        ctl_arm = self.arm(sid, "control", a.label_control, int(row.cells["total_ctrl"]), a.place)
        numbers: dict[str, object] = {
            **({"unit": unit} if unit else {}),
            "experimental": {"arm": exp_arm, **self.group(row, "exp", dich)},
            "control": {"arm": ctl_arm, **self.group(row, "ctrl", dich)},
        }
        datasets = self.outcomes_of.setdefault(sid, {}).setdefault(oid, {})
        stored = datasets.get(DATASET)
        if stored is not None and {k: v for k, v in stored.items() if k != "provenance"} == numbers:
            return sid
        datasets[DATASET if stored is None else aid] = {**numbers, "provenance": _source(self.imp, row.place)}
        if stored is not None:
            self.own_datasets.add(aid)
        return sid

    def outcome(self, a: RevManAnalysis, unit: str | None) -> tuple[str, dict | None]:
        """The outcome id of the analysis, and the outcome to add if it is the first analysis of it."""
        name = a.outcome_name or a.name
        key = (name, a.data_type, unit)
        if key in self.outcome_ids:
            return self.outcome_ids[key], None
        oid = _unique(slug(name), self.taken_outcomes, f"outcome-{a.comparison}-{a.number}")
        self.outcome_ids[key] = oid
        direction = a.direction
        if direction not in ("higher-is-better", "lower-is-better"):
            direction = "higher-is-better" if "control" in a.graph_left.lower() else "lower-is-better"
        dich = a.data_type == "dichotomous"
        return oid, {
            "id": oid,
            "label": _label(name),
            "type": a.data_type,
            **(
                {"event": f"counted in RevMan's outcome '{_label(name)}' (the file does not name the event)"}
                if dich
                else {"unit": unit}
            ),
            "direction": direction,
            "description": f"Outcome {a.code} of comparison '{a.comparison_name}' in {self.imp.file}.",
        }

    def analysis(self, a: RevManAnalysis) -> tuple[dict | None, dict] | None:
        if a.ci_study != 95 or a.ci_total != 95:
            self.problems.append(
                Problem(
                    a.place.file,
                    a.place.line,
                    a.place.what,
                    "expected 95% confidence intervals (this project computes 95% intervals only)",
                    f"{a.ci_study:g}% / {a.ci_total:g}%",
                )
            )
            return None
        unit = None if a.data_type == "dichotomous" else (a.units or "unit not recorded")
        oid, outcome = self.outcome(a, unit)
        aid = _unique(f"analysis-{a.comparison}-{a.number}", self.taken_analyses, "analysis")
        placed = [(row, sid) for row in a.rows if (sid := self.dataset(a, oid, aid, row, unit))]
        studies = [sid for _, sid in placed]
        role = a.role if a.role in ROLES else ("primary" if outcome is not None else "sensitivity")
        analysis: dict[str, object] = {
            "id": aid,
            "outcome": oid,
            "role": role,
            "title": _label(a.name),
            "description": f"Imported from {self.imp.file} ({self.imp.format}), comparison {a.comparison} "
            f"'{a.comparison_name}', outcome {a.code}: {a.label_experimental} versus {a.label_control}, with "
            "the settings RevMan used.",
            "measure": a.measure,
            "model": "random" if a.random else "fixed",
            "method": a.method if not (a.random and a.method == "Peto") else "IV",
            **_settings(a),
            "datasets": [aid, DATASET] if aid in self.own_datasets else [DATASET],
            "studies": studies,
            **self.subgroups(a, aid, placed),
        }
        reported = self.reported(a, len(studies))
        if reported:
            analysis["reported"] = reported
        return outcome, analysis

    def subgroups(self, a: RevManAnalysis, aid: str, placed: list[tuple[Row, str]]) -> dict[str, object]:
        """RevMan's subgroups of the analysis, as a categorical characteristic of its own whose levels are the
        subgroups in RevMan's order and whose value each study of the analysis has; {} without subgroups."""
        labels = [row.subgroup for row, _ in placed if row.subgroup]
        order = [_label(g) for g in dict.fromkeys([*a.subgroups, *labels]) if g in labels]
        if len(order) < 2:
            if order:
                self.notes.append(f"outcome {a.code} '{a.name}': one subgroup only, pooled without it")
            return {}
        if len({slug(g, 120) for g in order}) < len(order):
            self.problems.append(
                Problem(
                    a.place.file,
                    a.place.line,
                    a.place.what,
                    "expected subgroup names that differ in their letters and digits",
                    ", ".join(order),
                )
            )
            return {}
        cid = _unique(f"{aid}-subgroup", self.taken_characteristics, "subgroup")
        self.characteristics.append(
            {
                "id": cid,
                "label": _label(f"Subgroup of RevMan outcome {a.code}"),
                "type": "categorical",
                "levels": order,
                "description": f"The subgroups of outcome {a.code} '{a.name}' in {self.imp.file}.",
            }
        )
        for row, sid in placed:
            if row.subgroup:
                value = {"value": _label(row.subgroup), "provenance": _source(self.imp, row.place)}
                self.values.setdefault(sid, {})[cid] = value
        return {"subgroups": cid}

    def reported(self, a: RevManAnalysis, k: int) -> dict | None:
        rec = a.recorded
        if not rec.present or rec.p_z is None:
            return None
        out: dict = {
            "estimate": _decimal(rec.estimate),  # type: ignore[arg-type]
            "ci_low": _decimal(rec.ci_low),  # type: ignore[arg-type]
            "ci_high": _decimal(rec.ci_high),  # type: ignore[arg-type]
            "p": _p(rec.p_z),
        }
        if rec.p_chi2 is not None and rec.chi2:
            out["q_p"] = _p(rec.p_chi2)
        if rec.i2 is not None:
            out["i2"] = round(rec.i2, 2)
        if k:
            out["k"] = k
        if a.data_type == "dichotomous" and a.rows:
            for side, key in (("exp", "events_experimental"), ("ctrl", "events_control")):
                events = sum(int(r.cells.get(f"events_{side}", 0)) for r in a.rows)
                total = sum(int(r.cells.get(f"total_{side}", 0)) for r in a.rows)
                out[key] = f"{events}/{total}"
        out["model"] = f"{a.method}, {'random' if a.random else 'fixed'} effect, as computed by RevMan"
        out["provenance"] = {
            "kind": "as-printed-in-review",
            "source": f"{self.imp.format} {a.place}: the results RevMan computed and stored with the analysis",
        }
        return out

    def risk_of_bias(self, sid: str, name: str) -> list[dict]:
        found = [j for j in self.imp.judgements if j.study == name]
        domains: dict[str, Judgement] = {}
        for j in found:
            domain = next((d for word, d in ROB1_WORDS if word in j.domain.lower()), None)
            if domain is not None and domain not in domains:
                domains[domain] = j
        if not domains:
            return []
        first = next(iter(domains.values()))
        return [
            {
                "tool": "rob1",
                "assessed_by": f"the review in {self.imp.file}",
                "domains": [
                    {
                        "domain": d,
                        "judgement": domains[d].judgement if d in domains else NOT_RETRIEVED,
                        "support": (domains[d].support or f"RevMan: {domains[d].place}")
                        if d in domains
                        else f"no judgement for this domain in {self.imp.file}",
                    }
                    for d in TOOLS["rob1"].domains
                ],
                "provenance": _source(self.imp, first.place),
            }
        ]

    def study(self, sid: str, name: str) -> dict:
        info = self.imp.studies.get(name)
        place = info.place if info else f"{self.imp.file}: study '{name}' (in the data rows only)"
        prov = _source(self.imp, place)
        citation: dict = {"authors": info.authors if info and info.authors else [_label(name)]}
        if info and info.title:
            citation["title"] = info.title
        if info and info.journal:
            citation["journal"] = info.journal
        if info and info.year:
            citation["year"] = info.year
        citation["provenance"] = prov
        return {
            "id": sid,
            "label": _label(name),
            "source_table": "clinical-studies",
            "citation": citation,
            "design": {
                "category": "rct",
                "as_labelled_by_review": f"Included study of {self.imp.file}",
                "provenance": {
                    "kind": "inferred",
                    "source": f"{self.imp.format} {place}",
                    "reasoning": "RevMan records no design per study; a Cochrane intervention review includes "
                    "randomised trials unless it says otherwise: check and correct",
                },
            },
            "registry": {
                "id": None,
                "provenance": {"kind": "unverified", "source": f"not recorded in {self.imp.file}"},
            },
            "location": {
                "country": "Not reported",
                "provenance": {"kind": "unverified", "source": f"not recorded in {self.imp.file}"},
            },
            "arms": list(self.arms[sid].values()),
            "outcomes": self.outcomes_of[sid],
            **({"characteristics": self.values[sid]} if sid in self.values else {}),
            **({"risk_of_bias": rob} if (rob := self.risk_of_bias(sid, name)) else {}),
        }


def plan(
    imp: Imported,
    taken_studies: set[str],
    taken_outcomes: set[str],
    taken_analyses: set[str],
    taken_characteristics: set[str] | None = None,
) -> Plan:
    b = _Builder(imp, set(taken_studies), set(taken_outcomes), set(taken_analyses))
    b.taken_characteristics = set(taken_characteristics or ())
    outcomes, analyses = [], []
    notes = list(f"not carried over: {x}" for x in imp.left_out)
    for a in imp.analyses:
        made = b.analysis(a)
        if made:
            if made[0] is not None:
                outcomes.append(made[0])
            analyses.append(made[1])
    if b.problems:
        raise DataError(b.problems)
    if not analyses:
        raise DataError(
            [Problem(imp.file, None, "(file)", "expected at least one dichotomous or continuous analysis with data")]
        )
    studies = {sid: b.study(sid, name) for name, sid in b.ids.items() if sid in b.outcomes_of}
    return Plan(outcomes, analyses, studies, notes + b.notes, b.characteristics)


# ------------------------------------------------------------------------------------------------ writing
def _dump(value) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=110)


def _splice(text: str, key: str, items: list[dict] | dict | str) -> str:
    """review.yaml's text with its top-level `key` (a list or a mapping) replaced by `items` (comments elsewhere
    kept)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"{key}\s*:", line)), None)
    block = _dump({key: items})
    if start is None:
        return text + ("" if text.endswith("\n") or not text else "\n") + block
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t-#"):
        end += 1
    while end > start + 1 and lines[end - 1].lstrip().startswith("#"):
        end -= 1  # a comment above the next key belongs to it
    return "".join(lines[:start]) + block + "".join(lines[end:])


def _flow(imp: Imported, counted: int) -> dict:
    return {
        "records_identified": counted,
        "records_excluded": 0,
        "full_texts_assessed": counted,
        "full_texts_excluded": 0,
        "provenance": {
            "kind": "inferred",
            "source": f"{imp.format} {imp.file}",
            "reasoning": "RevMan files hold no PRISMA counts: these count the included studies only; "
            "enter the search's counts",
        },
    }


FLOW_COUNTS = ("records_identified", "records_excluded", "full_texts_assessed", "full_texts_excluded")


def _no_search_yet(flow) -> bool:
    """Whether review.yaml's PRISMA counts are all zero (a new project's), so the import may set them."""
    return isinstance(flow, dict) and all(flow.get(k) == 0 for k in FLOW_COUNTS) and not flow.get("other_methods")


def _existing(project: Path) -> tuple[dict, str]:
    path = project / "data" / "review.yaml"
    try:
        text = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataError([Problem("data/review.yaml", None, "(file)", f"cannot be read as YAML ({exc})")]) from None
    if not isinstance(doc, dict):
        raise DataError([Problem("data/review.yaml", None, "(file)", "expected a mapping of the review's fields")])
    return doc, text


def _ids(items) -> set[str]:
    return {x["id"] for x in items or [] if isinstance(x, dict) and isinstance(x.get("id"), str)}


@dataclass
class Outcome:
    project: Path
    studies: list[str]
    analyses: list[str]
    notes: list[str]


def _write_studies(folder: Path, p: Plan) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    header = "# yaml-language-server: $schema=../../docs/schema/study.schema.json\n"
    for sid, study in p.studies.items():
        (folder / f"{sid}.yaml").write_text(header + _dump(study), encoding="utf-8")


def _check(project: Path, today: dt.date) -> None:
    load(project / "data", today=today)


def _refuse_unless_empty(project: Path) -> None:
    if not (project / "data" / "review.yaml").is_file():
        message = "is not a review project: run `review init` first, or give --into NEW_FOLDER"
        raise DataError([Problem(str(project.name), None, "data/review.yaml", message)])
    present = sorted((project / "data" / "studies").glob("*.yaml"))
    if present:
        message = (
            f"this project already has {len(present)} study file(s); import into a new folder with "
            "--into NEW_FOLDER (nothing was written)"
        )
        raise DataError([Problem("data/studies", None, "(folder)", message)])


def _without_placeholders(doc: dict) -> tuple[list, list]:
    """review.yaml's outcomes and analyses without those still saying TODO (and the analyses of those)."""
    dropped = _ids(x for x in doc.get("outcomes") or [] if _placeholder(x, "label"))
    outcomes = [x for x in doc.get("outcomes") or [] if not _placeholder(x, "label")]
    analyses = [
        x
        for x in doc.get("analyses") or []
        if not _placeholder(x, "title") and not (isinstance(x, dict) and x.get("outcome") in dropped)
    ]
    return outcomes, analyses


def _merged(doc: dict, text: str, imp: Imported, p: Plan) -> str:
    """review.yaml's text with the imported outcomes and analyses in place of any placeholders, and the PRISMA
    counts of a project without a search set from the studies."""
    outcomes, analyses = _without_placeholders(doc)
    merged = _splice(_splice(text, "outcomes", outcomes + p.outcomes), "analyses", analyses + p.analyses)
    if p.characteristics:
        merged = _splice(merged, "characteristics", list(doc.get("characteristics") or []) + p.characteristics)
    for key, value in (("title", _label(imp.title)), ("short_title", _label(imp.title)[:60])):
        if _placeholder(doc, key) and imp.title:
            merged = _splice(merged, key, value)
    if _no_search_yet(doc.get("flow")):
        merged = _splice(merged, "flow", _flow(imp, len(p.studies)))
    return merged


def _move_studies(stage: Path, target: Path, ids: list[str]) -> None:
    """Each staged study file into `target`, created exclusively (never over a file); all or none."""
    target.mkdir(exist_ok=True)
    made: list[Path] = []
    try:
        for sid in ids:
            dest = target / f"{sid}.yaml"
            with open(dest, "xb") as out:
                made.append(dest)
                out.write((stage / f"{sid}.yaml").read_bytes())
    except OSError:
        for path in made:
            path.unlink(missing_ok=True)
        raise


def import_into(file: Path, project: Path, today: dt.date | None = None) -> Outcome:
    """Import into an existing project without study data (e.g. one `review init` wrote)."""
    today = today or dt.date.today()
    imp = read(file)
    _refuse_unless_empty(project)
    doc, text = _existing(project)
    p = plan(imp, set(), _ids(doc.get("outcomes")), _ids(doc.get("analyses")), _ids(doc.get("characteristics")))
    with tempfile.TemporaryDirectory(prefix=".import-", dir=project) as tmp:
        stage = Path(tmp)
        shutil.copytree(project / "data", stage / "data", symlinks=True)
        (stage / "data" / "review.yaml").write_text(_merged(doc, text, imp, p), encoding="utf-8")
        _write_studies(stage / "data" / "studies", p)
        _check(stage, today)
        _move_studies(stage / "data" / "studies", project / "data" / "studies", list(p.studies))
        os.replace(stage / "data" / "review.yaml", project / "data" / "review.yaml")
    return Outcome(project, list(p.studies), [a["id"] for a in p.analyses], p.notes)


def _placeholder(item, field: str) -> bool:
    """An outcome or analysis still saying TODO, as `review init` writes them: in a project without studies it
    is a placeholder, which the imported ones replace (an analysis of a replaced outcome goes with it)."""
    return isinstance(item, dict) and str(item.get(field) or "").lstrip().upper().startswith("TODO")


def import_new(file: Path, into: Path, make_project: Callable[[Path], object], today: dt.date | None = None) -> Outcome:
    """Import into a new project: `make_project(into)` writes an empty one (`review init`'s), then the import
    goes into it. `into` must not exist or be empty; if the import fails, it is left as it was."""
    if into.is_symlink() or (into.exists() and (not into.is_dir() or any(into.iterdir()))):
        raise DataError(
            [Problem(str(into.name), None, "--into", "expected a new or empty folder; nothing was written")]
        )
    read(file)  # a file that cannot be imported is reported before anything is written
    existed = into.exists()
    make_project(into)
    try:
        return import_into(file, into, today)
    except BaseException:
        if existed:
            for entry in into.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        else:
            shutil.rmtree(into, ignore_errors=True)
        raise
