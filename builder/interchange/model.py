"""What a RevMan file holds that the import carries over, read from either format into one shape (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field

# RevMan's names of the effect measures and pooling methods, in both formats, and this project's codes.
MEASURE_CODES = {
    "OR": "OR",
    "PETO_OR": "OR",
    "RR": "RR",
    "RD": "RD",
    "MD": "MD",
    "SMD": "SMD",
    "odds ratio": "OR",
    "peto odds ratio": "OR",
    "risk ratio": "RR",
    "risk difference": "RD",
    "mean difference": "MD",
    "std. mean difference": "SMD",
    "standardized mean difference": "SMD",
    "standardised mean difference": "SMD",
}
METHOD_CODES = {"mh": "MH", "m-h": "MH", "iv": "IV", "peto": "Peto"}
# The CSV names of the measures, as RevMan Web writes them (the export writes the same).
MEASURE_NAMES = {
    "OR": "Odds Ratio",
    "RR": "Risk Ratio",
    "RD": "Risk Difference",
    "MD": "Mean Difference",
    "SMD": "Standardized Mean Difference",
    "HR": "Hazard Ratio",
}


@dataclass(frozen=True)
class Place:
    """Where in the file a value was read: the file's name, a line (XML) or row (CSV), and what it is."""

    file: str
    line: int | None
    what: str  # "comparison 1 'Name', outcome 1.1 'Name', study 'AMIS'"

    def __str__(self) -> str:
        at = f", line {self.line}" if self.line else ""
        return f"{self.file}{at}: {self.what}"


@dataclass(frozen=True)
class Recorded:
    """Results RevMan computed and stored with the data (ratio measures on the ratio scale)."""

    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    chi2: float | None = None
    df: int | None = None
    p_chi2: float | None = None
    i2: float | None = None
    tau2: float | None = None
    z: float | None = None
    p_z: float | None = None

    @property
    def present(self) -> bool:
        return self.estimate is not None and self.ci_low is not None and self.ci_high is not None


@dataclass(frozen=True)
class Row:
    """One study's data in one RevMan analysis."""

    study: str  # the study's name as RevMan shows it
    subgroup: str | None
    cells: dict[str, float | int]  # events_exp, total_exp, ... or mean_exp, sd_exp, total_exp, ...
    weight: float | None  # percent, as recorded
    recorded: Recorded  # the study's own estimate and CI, as recorded
    place: Place


@dataclass(frozen=True)
class RevManAnalysis:
    """One RevMan outcome (an analysis): its settings, data rows and recorded results."""

    comparison: int
    comparison_name: str
    number: int
    name: str
    data_type: str  # "dichotomous" or "continuous"
    measure: str  # this project's code
    method: str  # MH, IV or Peto
    random: bool
    ci_study: float
    ci_total: float
    label_experimental: str
    label_control: str
    graph_left: str
    graph_right: str
    units: str | None
    rows: list[Row]
    recorded: Recorded
    subgroups: dict[str, Recorded]
    place: Place
    # Settings beyond RevMan 5's, from the columns `review export` adds (tau2, ci_method, prediction_interval,
    # continuity_correction, mh_continuity_correction); empty for RevMan's own files.
    settings: dict[str, object] = field(default_factory=dict)
    outcome_name: str = ""  # the outcome the analysis belongs to, where the file names one (else its own name)
    direction: str = ""  # higher-is-better or lower-is-better, where the file says (a package this tool wrote)
    role: str = ""  # primary, reproduction or sensitivity, likewise

    @property
    def code(self) -> str:
        return f"{self.comparison}.{self.number}"


@dataclass(frozen=True)
class StudyInfo:
    name: str
    year: int | None
    authors: list[str]
    title: str | None
    journal: str | None
    place: Place


@dataclass(frozen=True)
class Judgement:
    study: str
    domain: str  # RevMan's name of the item, e.g. 'Allocation concealment?'
    judgement: str  # low, unclear or high
    support: str | None
    place: Place


@dataclass
class Imported:
    file: str  # the name of the file read (no folders)
    format: str  # "RevMan 5 file" or "Cochrane data package"
    title: str
    studies: dict[str, StudyInfo] = field(default_factory=dict)  # by name
    analyses: list[RevManAnalysis] = field(default_factory=list)
    judgements: list[Judgement] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # what the file had that the import does not carry over
