"""Read a RevMan 5 review file (`.rm5`, XML) into the import's plain data."""

from __future__ import annotations

import math
from xml.etree.ElementTree import Element

from builder.errors import DataError, Problem

from .model import (
    MEASURE_CODES,
    METHOD_CODES,
    Imported,
    Judgement,
    Place,
    Recorded,
    RevManAnalysis,
    Row,
    StudyInfo,
)
from .safe import Xml, parse_xml

KINDS = {
    "DICH_OUTCOME": ("dichotomous", "DICH_DATA", "DICH_SUBGROUP"),
    "CONT_OUTCOME": ("continuous", "CONT_DATA", "CONT_SUBGROUP"),
}
NOT_CARRIED = {
    "IV_OUTCOME": "generic inverse variance outcome",
    "IPD_OUTCOME": "individual patient data outcome",
    "OTHER_OUTCOME": "other-data outcome (no statistics)",
}
DICH_CELLS = (
    ("events_exp", "EVENTS_1"),
    ("total_exp", "TOTAL_1"),
    ("events_ctrl", "EVENTS_2"),
    ("total_ctrl", "TOTAL_2"),
)
CONT_CELLS = (
    ("mean_exp", "MEAN_1"),
    ("sd_exp", "SD_1"),
    ("total_exp", "TOTAL_1"),
    ("mean_ctrl", "MEAN_2"),
    ("sd_ctrl", "SD_2"),
    ("total_ctrl", "TOTAL_2"),
)
# RevMan 5's judgements of a quality item: 5.0 wrote YES/NO/UNKNOWN, later versions the risk itself.
JUDGEMENTS = {
    "YES": "low",
    "LOW_RISK": "low",
    "NO": "high",
    "HIGH_RISK": "high",
    "UNKNOWN": "unclear",
    "UNKNOWN_RISK": "unclear",
}


class _Reader:
    def __init__(self, xml: Xml, name: str):
        self.xml = xml
        self.name = name
        self.problems: list[Problem] = []

    def place(self, element: Element, what: str) -> Place:
        return Place(self.name, self.xml.line(element), what)

    def fail(self, element: Element, field: str, message: str, value: str | None = None) -> None:
        self.problems.append(Problem(self.name, self.xml.line(element), field, message, value))

    def number(self, element: Element, attr: str, required: bool = False) -> float | None:
        text = (element.get(attr) or "").strip()
        if not text:
            if required:
                self.fail(element, f"{element.tag}/@{attr}", "a number is required here")
            return None
        try:
            value = float(text)
        except ValueError:
            self.fail(element, f"{element.tag}/@{attr}", "expected a number", repr(text))
            return None
        if not math.isfinite(value):
            self.fail(element, f"{element.tag}/@{attr}", "expected a finite number", repr(text))
            return None
        return value

    def count(self, element: Element, attr: str) -> int | None:
        value = self.number(element, attr, required=True)
        if value is None:
            return None
        if value != int(value) or value < 0:
            self.fail(element, f"{element.tag}/@{attr}", "expected a whole number of participants", repr(value))
            return None
        return int(value)


def _text(element: Element | None, tag: str) -> str:
    child = element.find(tag) if element is not None else None
    return "".join(child.itertext()).strip() if child is not None else ""


def _studies(r: _Reader, root: Element) -> tuple[dict[str, StudyInfo], dict[str, str]]:
    """The included studies by name, and RevMan's study ids mapped to their names."""
    studies: dict[str, StudyInfo] = {}
    ids: dict[str, str] = {}
    for st in root.iterfind("./STUDIES_AND_REFERENCES/STUDIES/INCLUDED_STUDIES/STUDY"):
        name = (st.get("NAME") or "").strip()
        if not name:
            r.fail(st, "STUDY/@NAME", "an included study needs a name")
            continue
        year_text = (st.get("YEAR") or "").strip()
        year = int(year_text) if year_text.isdigit() and 1900 <= int(year_text) <= 2100 else None
        ref = st.find("REFERENCE[@PRIMARY='YES']")
        if ref is None:
            ref = st.find("REFERENCE")
        authors = [a.strip() for a in _text(ref, "AU").split(",") if a.strip()]
        ids[st.get("ID") or ""] = name
        studies[name] = StudyInfo(
            name,
            year,
            authors,
            _text(ref, "TI") or None,
            _text(ref, "SO") or None,
            r.place(st, f"included study '{name}'"),
        )
    return studies, ids


def _recorded(r: _Reader, el: Element) -> Recorded:
    df = r.number(el, "DF")
    return Recorded(
        estimate=r.number(el, "EFFECT_SIZE"),
        ci_low=r.number(el, "CI_START"),
        ci_high=r.number(el, "CI_END"),
        chi2=r.number(el, "CHI2"),
        df=int(df) if df is not None else None,
        p_chi2=r.number(el, "P_CHI2"),
        i2=r.number(el, "I2"),
        tau2=r.number(el, "TAU2"),
        z=r.number(el, "Z"),
        p_z=r.number(el, "P_Z"),
    )


def _row(r: _Reader, el: Element, ids: dict[str, str], where: str, subgroup: str | None, kind: str) -> Row | None:
    sid = el.get("STUDY_ID") or ""
    name = ids.get(sid)
    if name is None:
        r.fail(el, f"{el.tag}/@STUDY_ID", "expected the ID of an included study", repr(sid))
        return None
    cells: dict[str, float | int] = {}
    for key, attr in DICH_CELLS if kind == "dichotomous" else CONT_CELLS:
        value = r.count(el, attr) if key.startswith(("events", "total")) else r.number(el, attr, required=True)
        if value is not None:
            cells[key] = value
    study = Recorded(r.number(el, "EFFECT_SIZE"), r.number(el, "CI_START"), r.number(el, "CI_END"))
    return Row(name, subgroup, cells, r.number(el, "WEIGHT"), study, r.place(el, f"{where}, study '{name}'"))


def _rows(r: _Reader, el: Element, ids: dict[str, str], where: str, kind: str) -> tuple[list[Row], dict[str, Recorded]]:
    """The analysis's data rows, with those of its subgroups, and each subgroup's recorded results."""
    _, data_tag, subgroup_tag = KINDS[el.tag]
    rows: list[Row | None] = [_row(r, data, ids, where, None, kind) for data in el.findall(data_tag)]
    subgroups: dict[str, Recorded] = {}
    for sub in el.findall(subgroup_tag):
        label = _text(sub, "NAME") or f"Subgroup {sub.get('NO')}"
        subgroups[label] = _recorded(r, sub)
        rows += [_row(r, data, ids, f"{where}, subgroup '{label}'", label, kind) for data in sub.findall(data_tag)]
    return [row for row in rows if row is not None], subgroups


def _analysis(r: _Reader, comparison: Element, el: Element, ids: dict[str, str]) -> RevManAnalysis | None:
    kind = KINDS[el.tag][0]
    cno = int(r.number(comparison, "NO") or 0)
    ono = int(r.number(el, "NO") or 0)
    cname, oname = _text(comparison, "NAME"), _text(el, "NAME")
    where = f"comparison {cno} '{cname}', outcome {cno}.{ono} '{oname}'"
    measure_text = el.get("EFFECT_MEASURE") or ""
    measure = MEASURE_CODES.get(measure_text)
    method = METHOD_CODES.get((el.get("METHOD") or "IV").lower())
    if measure_text == "PETO_OR":
        method = "Peto"
    if measure is None or method is None:
        r.fail(
            el,
            f"{el.tag}/@EFFECT_MEASURE",
            f"{where}: expected OR, RR, RD, MD or SMD pooled by MH, IV or Peto",
            repr(f"{measure_text} {el.get('METHOD')}"),
        )
        return None
    rows, subgroups = _rows(r, el, ids, where, kind)
    return RevManAnalysis(
        comparison=cno,
        comparison_name=cname,
        number=ono,
        name=oname,
        data_type=kind,
        measure=measure,
        method=method,
        random=(el.get("RANDOM") or "NO").upper() == "YES",
        ci_study=r.number(el, "CI_STUDY") or 95.0,
        ci_total=r.number(el, "CI_TOTAL") or 95.0,
        label_experimental=_text(el, "GROUP_LABEL_1") or "Experimental",
        label_control=_text(el, "GROUP_LABEL_2") or "Control",
        graph_left=_text(el, "GRAPH_LABEL_1"),
        graph_right=_text(el, "GRAPH_LABEL_2"),
        units=(el.get("UNITS") or "").strip() or None,
        rows=rows,
        recorded=_recorded(r, el),
        subgroups=subgroups,
        place=r.place(el, where),
    )


def _judgements(r: _Reader, root: Element, ids: dict[str, str]) -> list[Judgement]:
    out = []
    for item in root.iterfind("./QUALITY_ITEMS/QUALITY_ITEM"):
        domain = _text(item, "NAME")
        for entry in item.iterfind("./QUALITY_ITEM_DATA/QUALITY_ITEM_DATA_ENTRY"):
            judgement = JUDGEMENTS.get((entry.get("RESULT") or "").upper())
            study = ids.get(entry.get("STUDY_ID") or "")
            if judgement is None or study is None:
                continue
            support = _text(entry, "DESCRIPTION") or None
            where = f"quality item {item.get('ID')} '{domain}', study '{study}'"
            out.append(Judgement(study, domain, judgement, support, r.place(entry, where)))
    return out


def read_rm5(raw: bytes, name: str) -> Imported:
    xml = parse_xml(raw, name)
    root = xml.root
    r = _Reader(xml, name)
    if root.tag != "COCHRANE_REVIEW":
        raise DataError([Problem(name, xml.line(root), root.tag, "expected a RevMan 5 file (root COCHRANE_REVIEW)")])
    title = _text(root.find("COVER_SHEET"), "TITLE") or "Imported review"
    studies, ids = _studies(r, root)
    out = Imported(name, "RevMan 5 file", title, studies)
    for comparison in root.iterfind("./ANALYSES_AND_DATA/COMPARISON"):
        for el in comparison:
            if el.tag in KINDS:
                analysis = _analysis(r, comparison, el, ids)
                if analysis is not None:
                    out.analyses.append(analysis)
            elif el.tag in NOT_CARRIED or el.tag.endswith("_OUTCOME"):
                what = NOT_CARRIED.get(el.tag, el.tag)
                out.left_out.append(f"{what} {comparison.get('NO')}.{el.get('NO')} '{_text(el, 'NAME')}'")
    out.judgements = _judgements(r, root, ids)
    if r.problems:
        raise DataError(r.problems)
    return out
