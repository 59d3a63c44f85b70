"""`review export`: the current version's analyses as a Cochrane data package (the CSV layout RevMan Web writes
for "Download statistical data") and, per analysis, its study inputs with R scripts for meta and metafor."""

from __future__ import annotations

import csv
import io
import math
import zipfile
from pathlib import Path

from builder.analysis.result import AnalysisResult, input_kind
from builder.analysis.run import run_all
from builder.contract.project import template_dirs
from builder.errors import DataError, Problem
from builder.ingest.loader import ReviewData, load
from builder.report import escape
from builder.report.pages import analysis_scripts, environment

from .model import MEASURE_NAMES

TEMPLATES = ("analysis.R.j2", "analysis-yi.R.j2", "analysis.meta.R.j2")

SETTINGS_COLUMNS = [
    "Analysis group", "Analysis number", "Analysis name", "Analysis group name", "Data source",
    "Data source eligibility", "Data type", "Log-scale data", "Outcome", "Intervention grouping",
    "Experimental intervention", "Control intervention", "Subgroup by", "Filter criteria",
    "Experimental group label", "Control group label", "Statistical method", "Effect measure",
    "Unit of effect measure", "Analysis model", "Subgroup estimates", "Overall estimates",
    "Test for subgroup differences", "Swap event and non-event", "Study CI", "Estimate CI", "Experimental cases",
    "Experimental N", "Control cases", "Control N", "Mean", "CI start", "CI end", "Heterogeneity Tau²",
    "Heterogeneity Chi²", "Heterogeneity df", "Heterogeneity P", "Heterogeneity I²", "Effect Z", "Effect P",
    "Subgroup Chi²", "Subgroup df", "Subgroup P", "Subgroup I²", "ID",
]  # fmt: skip
# What RevMan's columns cannot say, after RevMan Web's own columns: `review import` reads them back, so that an
# analysis with current methods (REML, HKSJ, a prediction interval) round-trips with its outcome's direction and
# its role.
EXTENSION_COLUMNS = [
    "Tau² estimator", "Random-effects CI", "Prediction interval", "Continuity correction",
    "MH continuity correction", "Double-zero studies", "Outcome direction", "Analysis role",
]  # fmt: skip
ROW_COLUMNS = [
    "Analysis group", "Analysis number", "Analysis name", "Subgroup", "Applicability", "Study", "Study year",
    "GIV Mean", "GIV SE", "Experimental mean", "Experimental SD", "Experimental cases", "Experimental N",
    "Control mean", "Control SD", "Control cases", "Control N", "O-E", "Variance", "Weight", "Mean", "CI start",
    "CI end", "Footnotes",
]  # fmt: skip
SUBGROUP_COLUMNS = [
    "Analysis group", "Analysis number", "Subgroup", "Subgroup number", "Experimental cases", "Experimental N",
    "Control cases", "Control N", "Weight", "Mean", "CI start", "CI end", "Heterogeneity Tau²",
    "Heterogeneity Chi²", "Heterogeneity df", "Heterogeneity P", "Heterogeneity I²", "Effect Z", "Effect P", "ID",
]  # fmt: skip
STUDY_COLUMNS = ["Study", "Year", "Data source", "Char: Methods", "Char: Participants", "Char: Interventions",
                 "Char: Outcomes", "Char: Notes"]  # fmt: skip
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so that the same review always gives the same bytes
ROB_LABELS = {"low": "Low risk", "unclear": "Unclear risk", "high": "High risk", "some-concerns": "Some concerns"}


def _num(value: float | None, digits: int = 6) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else str(value)


def _csv(columns: list[str], rows: list[dict]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        # text a spreadsheet would read as a formula is neutralised, as in the site's downloads
        writer.writerow({c: escape.csv_cell(str(row.get(c, ""))) for c in columns})
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _back(result: AnalysisResult, value: float | None) -> float | None:
    if value is None:
        return None
    return math.exp(value) if result.scale == "log" else value


def _pooled_columns(result: AnalysisResult) -> dict[str, str]:
    fit = result.fit
    if fit is None:
        return {}
    het = fit.heterogeneity
    return {
        "Mean": _num(_back(result, fit.estimate)),
        "CI start": _num(_back(result, fit.ci_low)),
        "CI end": _num(_back(result, fit.ci_high)),
        "Heterogeneity Tau²": _num(het.tau2) if fit.model == "random" else "",
        "Heterogeneity Chi²": _num(het.q),
        "Heterogeneity df": str(het.q_df) if het.q_df is not None else "",
        "Heterogeneity P": _num(het.q_p),
        "Heterogeneity I²": _num(het.i2),
        "Effect Z": _num(abs(fit.statistic)),
        "Effect P": _num(fit.p, 8),
    }


def _data_type(result: AnalysisResult) -> str:
    """RevMan's data type: per-arm numbers are dichotomous or continuous; an analysis with studies that give their
    own estimate, O - E or before-after values goes out as generic inverse variance (its yi and SE)."""
    if result.data_kinds != {"arms"}:
        return "Generic inverse variance"
    return "Dichotomous" if result.dichotomous else "Continuous"


def _settings_row(n: int, result: AnalysisResult, data: ReviewData) -> dict:
    spec = result.spec
    try:
        totals = result.totals()
    except KeyError:  # a study that gives only its estimate has no arm totals
        totals = {}
    row = {
        "Analysis group": "1",
        "Analysis number": str(n),
        "Analysis name": spec.title,
        "Analysis group name": data.review.title,
        "Data source": "Custom input",
        "Data type": _data_type(result),
        "Log-scale data": "true" if result.scale == "log" else "false",
        "Outcome": result.outcome.label,
        "Experimental group label": data.review.experimental_label,
        "Control group label": data.review.control_label,
        "Statistical method": {"MH": "MH", "Peto": "Peto"}.get(spec.method, "IV"),
        "Effect measure": MEASURE_NAMES.get(spec.measure, spec.measure),
        "Unit of effect measure": result.outcome.unit or "",
        "Analysis model": "Random effects" if result.model == "random" else "Fixed effect",
        "Subgroup estimates": "true" if result.subgroups else "false",
        "Overall estimates": "true",
        "Test for subgroup differences": "true" if result.subgroups else "false",
        "Swap event and non-event": "false",
        "Study CI": "95%",
        "Estimate CI": "95%",
        "Experimental cases": str(totals.get("events_exp", "")),
        "Experimental N": str(totals.get("total_exp", "")),
        "Control cases": str(totals.get("events_ctrl", "")),
        "Control N": str(totals.get("total_ctrl", "")),
        "ID": f"analysis:{spec.id}",
        "Tau² estimator": spec.tau2,
        "Random-effects CI": spec.interval if result.model == "random" else "wald",
        "Prediction interval": "true" if spec.shows_prediction_interval else "false",
        "Continuity correction": _num(spec.continuity_correction),
        "MH continuity correction": _num(spec.mh_continuity_correction),
        "Double-zero studies": spec.double_zero_studies,
        "Outcome direction": result.outcome.direction,
        "Analysis role": spec.role,
    }
    row.update(_pooled_columns(result))
    if result.subgroups and result.subgroups.q is not None:
        s = result.subgroups
        row.update(
            {"Subgroup Chi²": _num(s.q), "Subgroup df": str(s.df), "Subgroup P": _num(s.p), "Subgroup I²": _num(s.i2)}
        )
    return row


def _data_rows(n: int, result: AnalysisResult) -> list[dict]:
    subgroup_of: dict[int, str] = {}
    if result.subgroups:
        for g in result.subgroups.groups:
            subgroup_of.update({i: g.label for i in g.rows})
    out = []
    for i, r in enumerate(result.rows):
        x = r.inputs
        if input_kind(x) != "arms":
            out.append(_giv_row(n, result, r, subgroup_of.get(i, "")))
            continue
        row = {
            "Analysis group": "1",
            "Analysis number": str(n),
            "Analysis name": result.spec.title,
            "Subgroup": subgroup_of.get(i, ""),
            "Applicability": "SUBGROUP_AND_OVERALL",
            "Study": r.study.label,
            "Study year": str(r.study.citation.year or ""),
            "Experimental N": str(int(x["total_exp"])),
            "Control N": str(int(x["total_ctrl"])),
            "Weight": _num(r.weight),
            "Mean": _num(_back(result, r.yi)),
        }
        if result.dichotomous:
            row.update({"Experimental cases": str(int(x["events_exp"])), "Control cases": str(int(x["events_ctrl"]))})
        else:
            row.update(
                {
                    "Experimental mean": repr(float(x["mean_exp"])),
                    "Experimental SD": repr(float(x["sd_exp"])),
                    "Control mean": repr(float(x["mean_ctrl"])),
                    "Control SD": repr(float(x["sd_ctrl"])),
                }
            )
        if r.yi is not None and r.vi is not None:
            half = 1.959963984540054 * math.sqrt(r.vi)
            row.update({"CI start": _num(_back(result, r.yi - half)), "CI end": _num(_back(result, r.yi + half))})
        out.append(row)
    return out


def _giv_row(n: int, result: AnalysisResult, r, subgroup: str) -> dict:
    """A study's row as generic inverse variance: its estimate on the analysis scale and standard error."""
    row = {
        "Analysis group": "1",
        "Analysis number": str(n),
        "Analysis name": result.spec.title,
        "Subgroup": subgroup,
        "Applicability": "SUBGROUP_AND_OVERALL",
        "Study": r.study.label,
        "Study year": str(r.study.citation.year or ""),
        "Weight": _num(r.weight),
        "Mean": _num(_back(result, r.yi)),
    }
    if r.yi is not None and r.vi is not None:
        row.update({"GIV Mean": _num(r.yi, 8), "GIV SE": _num(math.sqrt(r.vi), 8)})
    return row


def _subgroup_rows(n: int, result: AnalysisResult) -> list[dict]:
    if not result.subgroups:
        return []
    out = []
    for j, g in enumerate(result.subgroups.groups, start=1):
        row = {"Analysis group": "1", "Analysis number": str(n), "Subgroup": g.label, "Subgroup number": str(j)}
        if g.fit is not None:
            het = g.fit.heterogeneity
            row.update(
                {
                    "Mean": _num(_back(result, g.fit.estimate)),
                    "CI start": _num(_back(result, g.fit.ci_low)),
                    "CI end": _num(_back(result, g.fit.ci_high)),
                    "Heterogeneity Chi²": _num(het.q),
                    "Heterogeneity df": str(het.q_df) if het.q_df is not None else "",
                    "Heterogeneity P": _num(het.q_p),
                    "Heterogeneity I²": _num(het.i2),
                    "Effect Z": _num(abs(g.fit.statistic)),
                    "Effect P": _num(g.fit.p, 8),
                }
            )
        out.append(row)
    return out


def _rob_rows(data: ReviewData) -> tuple[list[str], list[dict]]:
    columns = ["Study"]
    rows = []
    for study in data.studies.values():
        row = {"Study": study.label}
        for rob in study.risk_of_bias:
            if rob.tool != "rob1":
                continue  # RevMan Web's package carries RoB 1 domains; RoB 2 and ROBINS-I stay in the study files
            for d in rob.domains:
                judged, support = f"Domain (judgement): {d.domain}", f"Domain (support): {d.domain}"
                for c in (judged, support):
                    if c not in columns:
                        columns.append(c)
                row[judged] = ROB_LABELS.get(d.judgement, "Not applicable")
                row[support] = d.support
        rows.append(row)
    return columns, rows


def _ris(data: ReviewData) -> bytes:
    lines = []
    for study in data.studies.values():
        c = study.citation
        lines += ["TY  - JOUR", f"NS  - {study.label}"]
        lines += [f"AU  - {a}" for a in c.authors]
        lines += [f"TI  - {c.title}"] if c.title else []
        lines += [f"JO  - {c.journal}"] if c.journal else []
        lines += [f"PY  - {c.year}"] if c.year else []
        lines += [f"DO  - {c.doi}"] if c.doi else []
        lines += ["ER  - ", ""]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def package(data: ReviewData, results: list[AnalysisResult]) -> bytes:
    """The data package's zip: the same members and columns as RevMan Web's."""
    rid = data.review.id
    pooled = [r for r in results if r.rows and r.spec.measure in MEASURE_NAMES]
    settings = [_settings_row(n, r, data) for n, r in enumerate(pooled, start=1)]
    rows = [row for n, r in enumerate(pooled, start=1) for row in _data_rows(n, r)]
    subgroups = [row for n, r in enumerate(pooled, start=1) for row in _subgroup_rows(n, r)]
    studies = [
        {"Study": s.label, "Year": str(s.citation.year or ""), "Data source": "PUB"} for s in data.studies.values()
    ]
    rob_columns, rob = _rob_rows(data)
    members = {
        f"{rid}-analysis-data/{rid}-data-rows.csv": _csv(ROW_COLUMNS, rows),
        f"{rid}-analysis-data/{rid}-overall-estimates-and-settings.csv": _csv(
            SETTINGS_COLUMNS + EXTENSION_COLUMNS, settings
        ),
        f"{rid}-analysis-data/{rid}-subgroup-estimates.csv": _csv(SUBGROUP_COLUMNS, subgroups),
        f"{rid}-study-data/{rid}-included.ris": _ris(data),
        f"{rid}-study-data/{rid}-risk-of-bias.csv": _csv(rob_columns, rob),
        f"{rid}-study-data/{rid}-study-information.csv": _csv(STUDY_COLUMNS, studies),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, content)
    return buffer.getvalue()


def export(project: Path, out: Path) -> list[Path]:
    """Write `<review id>-data.zip` and, per analysis with data, `<id>.csv`, `<id>.meta.R` and `<id>.R` into
    `out`; return the paths written."""
    data = load(project / "data")
    results = run_all(data)
    folders = template_dirs(project)
    env = environment(folders)
    for name in TEMPLATES:
        if not any((folder / name).is_file() for folder in folders):
            raise DataError([Problem(f"templates/{name}", None, "(file)", "is missing from the project and the tool")])
    out.mkdir(parents=True, exist_ok=True)
    written = []
    target = out / f"{data.review.id}-data.zip"
    target.write_bytes(package(data, results))
    written.append(target)
    scripts = out / "R"
    scripts.mkdir(exist_ok=True)
    for result in results:
        if not result.rows:
            continue
        files = analysis_scripts(env, result, data.review)
        for name, text in files.items():
            (scripts / name).write_text(text, encoding="utf-8")
            written.append(scripts / name)
    return written
