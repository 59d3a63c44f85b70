"""Read a Cochrane data package (RevMan Web's "Download statistical data": a zip of CSV files, possibly inside
the zip of a whole download) into the import's plain data."""

from __future__ import annotations

import csv
import io
import math

from builder.errors import DataError, Problem
from builder.report import escape

from .model import MEASURE_CODES, METHOD_CODES, Imported, Judgement, Place, Recorded, RevManAnalysis, Row, StudyInfo
from .safe import Archive

SETTINGS = "-overall-estimates-and-settings.csv"
ROWS = "-data-rows.csv"
SUBGROUPS = "-subgroup-estimates.csv"
STUDIES = "-study-information.csv"
ROB = "-risk-of-bias.csv"
RIS = "-included.ris"
DICH_CELLS = (
    ("events_exp", "Experimental cases"),
    ("total_exp", "Experimental N"),
    ("events_ctrl", "Control cases"),
    ("total_ctrl", "Control N"),
)
CONT_CELLS = (
    ("mean_exp", "Experimental mean"),
    ("sd_exp", "Experimental SD"),
    ("total_exp", "Experimental N"),
    ("mean_ctrl", "Control mean"),
    ("sd_ctrl", "Control SD"),
    ("total_ctrl", "Control N"),
)
JUDGEMENTS = {
    "low risk": "low",
    "low": "low",
    "high risk": "high",
    "high": "high",
    "unclear risk": "unclear",
    "unclear": "unclear",
    "some concerns": "unclear",
}


class _Table:
    """One CSV member: its rows as dictionaries, each with the place it was read."""

    def __init__(self, archive: Archive, member: str):
        self.name = f"{archive.name}!{member}"
        try:
            text = archive.read(member).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError([Problem(self.name, None, "(file)", f"is not UTF-8 text ({exc.reason})")]) from None
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            self.rows = list(reader)
        except csv.Error as exc:
            raise DataError([Problem(self.name, reader.line_num, "(file)", f"is not valid CSV ({exc})")]) from None
        self.columns = reader.fieldnames or []
        self.problems: list[Problem] = []

    def need(self, *columns: str) -> None:
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise DataError(
                [
                    Problem(
                        self.name,
                        1,
                        "(header)",
                        f"expected the column{'s' if len(missing) > 1 else ''} " + ", ".join(repr(c) for c in missing),
                    )
                ]
            )

    def fail(self, i: int, column: str, message: str, value: str | None = None) -> None:
        self.problems.append(Problem(self.name, i + 2, column, message, value))

    def number(self, i: int, column: str, required: bool = False) -> float | None:
        text = (self.rows[i].get(column) or "").strip().rstrip("%")
        if not text or text == "#N/A":
            if required:
                self.fail(i, column, "a number is required here")
            return None
        try:
            value = float(text)
        except ValueError:
            self.fail(i, column, "expected a number", repr(text))
            return None
        if not math.isfinite(value):
            self.fail(i, column, "expected a finite number", repr(text))
            return None
        return value

    def text(self, i: int, column: str) -> str:
        """A text cell, with the apostrophe an export puts before formula-like text taken off."""
        return escape.csv_read_text((self.rows[i].get(column) or "").strip())


def _find(names: list[str], suffix: str) -> str | None:
    return next((n for n in names if n.lower().endswith(suffix)), None)


def _data_archive(archive: Archive) -> Archive:
    """The archive holding the CSVs: this one, or the one data zip inside a whole RevMan Web download."""
    if _find(archive.names(), SETTINGS):
        return archive
    inner = [n for n in archive.names() if n.lower().endswith("-data.zip")] or [
        n for n in archive.names() if n.lower().endswith(".zip")
    ]
    if len(inner) == 1:
        nested = archive.nested(inner[0])
        if _find(nested.names(), SETTINGS):
            return nested
    raise DataError(
        [
            Problem(
                archive.name,
                None,
                "(file)",
                f"expected a Cochrane data package: a member named '*{SETTINGS}' (or one '*-data.zip' holding it)",
            )
        ]
    )


TAU2 = ("REML", "DL", "PM", "ML", "HE", "SJ", "EB")
CI_METHODS = ("wald", "hksj", "hksj-adhoc")
DOUBLE_ZERO = ("keep", "keep-in-rd", "drop")


def _extension(t: _Table, i: int) -> dict[str, object]:
    """The settings `review export` writes after RevMan Web's columns, checked; {} when absent."""
    if "Tau² estimator" not in t.columns:
        return {}
    out: dict[str, object] = {}
    tau2, ci, pi = t.text(i, "Tau² estimator"), t.text(i, "Random-effects CI"), t.text(i, "Prediction interval")
    if tau2 not in TAU2:
        t.fail(i, "Tau² estimator", f"expected one of {', '.join(TAU2)}", repr(tau2))
    if ci not in CI_METHODS:
        t.fail(i, "Random-effects CI", f"expected one of {', '.join(CI_METHODS)}", repr(ci))
    if pi not in ("true", "false"):
        t.fail(i, "Prediction interval", "expected true or false", repr(pi))
    out.update(tau2=tau2, ci_method=ci, prediction_interval=pi == "true")
    if "Double-zero studies" in t.columns:
        double_zero = t.text(i, "Double-zero studies")
        if double_zero not in DOUBLE_ZERO:
            t.fail(i, "Double-zero studies", f"expected one of {', '.join(DOUBLE_ZERO)}", repr(double_zero))
        out["double_zero_studies"] = double_zero
    for key, column in (
        ("continuity_correction", "Continuity correction"),
        ("mh_continuity_correction", "MH continuity correction"),
    ):
        value = t.number(i, column, required=True)
        if value is not None and value < 0:
            t.fail(i, column, "expected 0 or more", repr(value))
        out[key] = value
    return out


def _recorded(t: _Table, i: int) -> Recorded:
    values = Recorded(
        estimate=t.number(i, "Mean"),
        ci_low=t.number(i, "CI start"),
        ci_high=t.number(i, "CI end"),
        chi2=t.number(i, "Heterogeneity Chi²"),
        df=int(v) if (v := t.number(i, "Heterogeneity df")) is not None else None,
        p_chi2=t.number(i, "Heterogeneity P"),
        i2=t.number(i, "Heterogeneity I²"),
        tau2=t.number(i, "Heterogeneity Tau²"),
        z=t.number(i, "Effect Z"),
        p_z=t.number(i, "Effect P"),
    )
    # RevMan Web writes zeros where it computed nothing (an estimate and both CI limits of 0 are no result).
    if values.estimate == 0 and values.ci_low == 0 and values.ci_high == 0:
        return Recorded()
    return values


def _settings(t: _Table, i: int) -> tuple[str, str, bool, float, float] | None:
    dtype = t.text(i, "Data type").lower()
    measure = MEASURE_CODES.get(t.text(i, "Effect measure").lower())
    method = METHOD_CODES.get(t.text(i, "Statistical method").lower())
    if dtype not in ("dichotomous", "continuous"):
        return None
    if measure is None or method is None:
        t.fail(
            i,
            "Effect measure",
            "expected Odds Ratio, Risk Ratio, Risk Difference, Mean Difference or Standardized Mean Difference by MH, IV or Peto",
            repr(f"{t.text(i, 'Effect measure')} {t.text(i, 'Statistical method')}"),
        )
        return None
    model = t.text(i, "Analysis model").lower()
    if model not in ("fixed effect", "random effects", "fixed-effect", "random-effects"):
        t.fail(i, "Analysis model", "expected 'Fixed effect' or 'Random effects'", repr(t.text(i, "Analysis model")))
        return None
    return (
        dtype,
        method,
        model.startswith("random"),
        t.number(i, "Study CI") or 95.0,
        t.number(i, "Estimate CI") or 95.0,
    )


def _cells(t: _Table, i: int, dichotomous: bool) -> dict[str, float | int]:
    cells: dict[str, float | int] = {}
    for name, column in DICH_CELLS if dichotomous else CONT_CELLS:
        value = t.number(i, column, required=True)
        if value is None:
            continue
        if name.startswith(("events", "total")):
            if value != int(value) or value < 0:
                t.fail(i, column, "expected a whole number of participants", repr(value))
                continue
            cells[name] = int(value)
        else:
            cells[name] = value
    return cells


def _data_rows(
    t: _Table, where: dict[tuple[str, str], str], kind: dict[tuple[str, str], str]
) -> dict[tuple[str, str], list[Row]]:
    out: dict[tuple[str, str], list[Row]] = {}
    for i in range(len(t.rows)):
        key = (t.text(i, "Analysis group"), t.text(i, "Analysis number"))
        if key not in kind:
            continue
        study = t.text(i, "Study")
        cells = _cells(t, i, kind[key] == "dichotomous")
        weight = t.number(i, "Weight")
        recorded = Recorded(t.number(i, "Mean"), t.number(i, "CI start"), t.number(i, "CI end"))
        if weight == 0 and recorded.estimate == 0 and recorded.ci_low == 0 and recorded.ci_high == 0:
            weight, recorded = None, Recorded()
        subgroup = t.text(i, "Subgroup") or None
        place = Place(t.name, i + 2, f"{where[key]}{f', subgroup {subgroup!r}' if subgroup else ''}, study '{study}'")
        out.setdefault(key, []).append(Row(study, subgroup, cells, weight, recorded, place))
    return out


def _analyses(archive: Archive, names: list[str], out: Imported) -> None:
    settings = _Table(archive, _find(names, SETTINGS))  # type: ignore[arg-type]
    settings.need(
        "Analysis group",
        "Analysis number",
        "Analysis name",
        "Data type",
        "Statistical method",
        "Effect measure",
        "Analysis model",
    )
    rows_member = _find(names, ROWS)
    if rows_member is None:
        raise DataError(
            [Problem(archive.name, None, "(file)", f"expected a member named '*{ROWS}' with the data rows")]
        )
    rows = _Table(archive, rows_member)
    rows.need("Analysis group", "Analysis number", "Study", "Experimental N", "Control N")
    found: list[tuple[tuple[str, str], int, tuple]] = []
    where: dict[tuple[str, str], str] = {}
    kind: dict[tuple[str, str], str] = {}
    for i in range(len(settings.rows)):
        key = (settings.text(i, "Analysis group"), settings.text(i, "Analysis number"))
        label = f"comparison {key[0]} '{settings.text(i, 'Analysis group name')}', outcome {key[0]}.{key[1]} '{settings.text(i, 'Analysis name')}'"
        parsed = _settings(settings, i)
        if parsed is None:
            if settings.text(i, "Data type"):
                out.left_out.append(
                    f"{settings.text(i, 'Data type').lower()} outcome {key[0]}.{key[1]} '{settings.text(i, 'Analysis name')}'"
                )
            continue
        if not (key[0].isdigit() and key[1].isdigit()):
            settings.fail(
                i, "Analysis number", "expected whole numbers in 'Analysis group' and 'Analysis number'", repr(key)
            )
            continue
        where[key], kind[key] = label, parsed[0]
        found.append((key, i, parsed))
    by_key = _data_rows(rows, where, kind)
    subgroups = _subgroups(archive, names)
    for key, i, (dtype, method, random, ci_study, ci_total) in found:
        out.analyses.append(
            RevManAnalysis(
                comparison=int(key[0]),
                comparison_name=settings.text(i, "Analysis group name"),
                number=int(key[1]),
                name=settings.text(i, "Analysis name"),
                data_type=dtype,
                measure=MEASURE_CODES[settings.text(i, "Effect measure").lower()],
                method=method,
                random=random,
                ci_study=ci_study,
                ci_total=ci_total,
                label_experimental=settings.text(i, "Experimental group label") or "Experimental",
                label_control=settings.text(i, "Control group label") or "Control",
                graph_left="",
                graph_right="",
                units=settings.text(i, "Unit of effect measure") or None,
                rows=by_key.get(key, []),
                recorded=_recorded(settings, i),
                subgroups=subgroups.get(key, {}),
                place=Place(settings.name, i + 2, where[key]),
                settings=_extension(settings, i),
                outcome_name=settings.text(i, "Outcome"),
                direction=settings.text(i, "Outcome direction"),
                role=settings.text(i, "Analysis role"),
            )
        )
    problems = settings.problems + rows.problems
    if problems:
        raise DataError(problems)


def _subgroups(archive: Archive, names: list[str]) -> dict[tuple[str, str], dict[str, Recorded]]:
    member = _find(names, SUBGROUPS)
    if member is None:
        return {}
    t = _Table(archive, member)
    out: dict[tuple[str, str], dict[str, Recorded]] = {}
    for i in range(len(t.rows)):
        key = (t.text(i, "Analysis group"), t.text(i, "Analysis number"))
        out.setdefault(key, {})[t.text(i, "Subgroup")] = _recorded(t, i)
    return out


def _studies(archive: Archive, names: list[str], out: Imported) -> None:
    member = _find(names, STUDIES)
    if member is None:
        return
    t = _Table(archive, member)
    t.need("Study")
    for i in range(len(t.rows)):
        name = t.text(i, "Study")
        year = t.text(i, "Year")
        out.studies[name] = StudyInfo(
            name,
            int(year) if year.isdigit() and 1900 <= int(year) <= 2100 else None,
            [],
            None,
            None,
            Place(t.name, i + 2, f"included study '{name}'"),
        )
    _ris(archive, names, out)


def _ris(archive: Archive, names: list[str], out: Imported) -> None:
    """Authors, title and journal from the RIS of the included studies (NS names the study)."""
    member = _find(names, RIS)
    if member is None:
        return
    text = archive.read(member).decode("utf-8-sig", errors="replace")
    record: dict[str, list[str]] = {}
    for line in text.splitlines() + ["ER  - "]:
        tag, _, value = line.partition("  - ")
        if tag.strip() == "ER":
            name = (record.get("NS") or [""])[0]
            info = out.studies.get(name)
            if info is not None:
                out.studies[name] = StudyInfo(
                    info.name,
                    info.year,
                    record.get("AU", []),
                    next(iter(record.get("TI", [])), None),
                    next(iter(record.get("JO") or record.get("T2") or []), None),
                    info.place,
                )
            record = {}
        elif value.strip():
            record.setdefault(tag.strip(), []).append(value.strip())


def _judgements(archive: Archive, names: list[str], out: Imported) -> None:
    member = _find(names, ROB)
    if member is None:
        return
    t = _Table(archive, member)
    prefix = "Domain (judgement): "
    for column in t.columns:
        if not column.startswith(prefix):
            continue
        domain = column[len(prefix) :]
        for i in range(len(t.rows)):
            judgement = JUDGEMENTS.get(t.text(i, column).lower())
            if judgement is None:  # 'Not applicable' or empty: no judgement
                continue
            study = t.text(i, "Study")
            support = t.text(i, f"Domain (support): {domain}") or None
            place = Place(t.name, i + 2, f"risk of bias '{domain}', study '{study}'")
            out.judgements.append(Judgement(study, domain, judgement, support, place))


def read_package(raw: bytes, name: str) -> Imported:
    archive = _data_archive(Archive(raw, name))
    names = archive.names()
    out = Imported(name, "Cochrane data package", "Imported review")
    _studies(archive, names, out)
    _analyses(archive, names, out)
    out.title = out.analyses[0].comparison_name if out.analyses else out.title
    _judgements(archive, names, out)
    return out
