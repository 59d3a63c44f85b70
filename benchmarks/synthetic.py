"""Write a synthetic but valid review project, for benchmarks and tests.

Run from the repository root:

    python benchmarks/synthetic.py OUT_DIR --studies N --outcomes M --seed S

OUT_DIR receives data/review.yaml, data/studies/<id>.yaml and copies of this repository's templates/,
docs/ and mkdocs.yml, so that `review -C OUT_DIR check` and `review -C OUT_DIR build` work on it.

The same arguments always give the same files (byte for byte). Every value is invented: the numbers
follow simple random models (a baseline risk or mean per outcome, a true effect and between-study
variation), and every provenance block says `source: synthetic`. Only the standard library and PyYAML
are used, so the generator can run outside the project's virtual environment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT_ASSETS = ("templates", "docs", "mkdocs.yml")

REVIEW_DATE = dt.date(2026, 11, 1)
LAST_SEARCH = dt.date(2026, 10, 15)

# Design categories with their share of the studies; controlled designs carry parallel two-arm data,
# single-arm designs pre-post continuous data, case reports no outcome data.
DESIGNS = (
    ("rct", 0.45),
    ("non-randomised-controlled", 0.22),
    ("follow-up-cohort", 0.05),
    ("single-arm", 0.12),
    ("case-series", 0.10),
    ("case-report", 0.06),
)
CONTROLLED = ("rct", "non-randomised-controlled", "follow-up-cohort")
SINGLE_ARM = ("single-arm", "case-series")

DESIGN_WORDING = {
    "rct": ("Randomised controlled trial", "Multicentre randomised trial with a standard-care control arm"),
    "non-randomised-controlled": (
        "Controlled clinical study",
        "Prospective study with a concurrently treated control group, not randomised",
    ),
    "follow-up-cohort": ("Randomised trial", "Extended follow-up of the patients of an earlier trial"),
    "single-arm": ("Clinical study without a control group", "Open-label single-arm pilot study"),
    "case-series": ("Case series", "Consecutive treated patients described before and after treatment"),
    "case-report": ("Case report", "Report of one treated patient"),
}

SURNAMES = (
    "Abara",
    "Becker",
    "Castro",
    "Dahl",
    "Eze",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quinn",
    "Rossi",
    "Silva",
    "Tanaka",
    "Umarov",
    "Virtanen",
    "Wang",
    "Xu",
    "Yilmaz",
    "Zhou",
    "Andersen",
    "Bianchi",
    "Chen",
    "Dubois",
    "Esposito",
    "Fernandes",
    "Gruber",
    "Horvat",
    "Ivanova",
    "Jovanovic",
    "Kim",
    "Li",
    "Martin",
    "Novak",
)
INITIALS = ("A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "T", "Y")
COUNTRIES = (
    "China",
    "Spain",
    "Turkey",
    "United States",
    "Brazil",
    "Iran",
    "Indonesia",
    "Italy",
    "Germany",
    "India",
    "Japan",
    "France",
    "Poland",
    "Egypt",
    "Canada",
)
JOURNALS = (
    "Journal of Synthetic Trials",
    "Synthetic Medicine Reports",
    "Archives of Simulated Research",
    "Invented Clinical Studies",
    "Fictional Therapeutics",
)
CELL_SOURCES = ("UC-MSC", "BM-MSC", "AT-MSC", "WJ-MSC")
EXCLUSION_REASONS = (
    "Wrong population",
    "Wrong intervention",
    "No comparator or no outcome of interest",
    "Duplicate report",
    "Protocol or conference abstract only",
)
RECORD_EXCLUSION_REASONS = (
    "Reviews, editorials and letters",
    "Animal or laboratory studies",
    "Not about the intervention",
)
MISSING_REASONS = (
    "The outcome is named in the methods but its results are not reported; the supplement and the trial "
    "registry were searched without success.",
    "Results are shown only in a figure without numbers; the authors were contacted without reply.",
    "Only a P value is reported; no summary statistics for either group were found in the article or its supplement.",
)

DICHOTOMOUS = (
    # stem, label, event, direction
    ("mortality", "All-cause mortality", "death from any cause", "lower-is-better"),
    ("ventilation", "Invasive mechanical ventilation", "intubation and invasive ventilation", "lower-is-better"),
    ("icu-admission", "ICU admission", "admission to intensive care", "lower-is-better"),
    ("serious-adverse-events", "Serious adverse events", "at least one serious adverse event", "lower-is-better"),
    (
        "clinical-improvement",
        "Clinical improvement",
        "improvement of two points on the ordinal scale",
        "higher-is-better",
    ),
    ("discharge", "Discharge from hospital", "discharged alive", "higher-is-better"),
    ("infection", "Secondary infection", "a new bacterial or fungal infection", "lower-is-better"),
    ("thrombosis", "Thrombotic events", "venous or arterial thrombosis", "lower-is-better"),
    ("readmission", "Readmission", "readmission to hospital", "lower-is-better"),
    ("radiological-improvement", "Radiological improvement", "improvement on chest CT", "higher-is-better"),
)
CONTINUOUS = (
    # stem, label, unit, direction, typical mean, typical SD
    ("crp", "C-reactive protein", "mg/L", "lower-is-better", 60.0, 35.0),
    ("d-dimer", "D-dimer", "mg/L", "lower-is-better", 1.8, 1.2),
    ("il-6", "Interleukin-6", "pg/mL", "lower-is-better", 40.0, 25.0),
    ("lymphocytes", "Lymphocyte count", "10^9/L", "higher-is-better", 0.9, 0.4),
    ("length-of-stay", "Length of hospital stay", "days", "lower-is-better", 16.0, 7.0),
    ("pao2-fio2", "PaO2/FiO2 ratio", "mmHg", "higher-is-better", 180.0, 60.0),
    ("ferritin", "Ferritin", "ng/mL", "lower-is-better", 900.0, 450.0),
    ("ldh", "Lactate dehydrogenase", "U/L", "lower-is-better", 380.0, 140.0),
    ("sofa", "SOFA score", "points", "lower-is-better", 5.0, 2.5),
    ("quality-of-life", "Quality of life (EQ-VAS)", "points", "higher-is-better", 62.0, 18.0),
)
TIMEPOINTS = ((28, "day 28"), (90, "day 90"), (14, "day 14"), (180, "month 6"))

ROB2 = ("randomisation", "deviations", "missing-outcome-data", "measurement", "reported-result")
ROB2_LEVELS = (("low", 0.55), ("some-concerns", 0.3), ("high", 0.12), ("no-information", 0.03))
ROBINS = ("confounding", "selection", "classification", "deviations", "missing-data", "measurement", "reported-result")
ROBINS_LEVELS = (("low", 0.15), ("moderate", 0.45), ("serious", 0.28), ("critical", 0.07), ("no-information", 0.05))


def provenance(where: str | None = None, **extra) -> dict:
    """Every number carries one: extracted, from the synthetic source. `where` (the table or section a real
    extraction would cite) only documents the generator; the files say `source: synthetic`."""
    out = {"kind": "extracted", "source": "synthetic"}
    out.update(extra)
    return out


def weighted(rng: random.Random, pairs) -> str:
    values, weights = zip(*pairs)
    return rng.choices(values, weights=weights, k=1)[0]


def rounded(x: float, digits: int) -> float:
    return float(round(x, digits))


class Generator:
    def __init__(self, studies: int, outcomes: int, seed: int):
        if studies < 2:
            raise ValueError("at least 2 studies are needed")
        if outcomes < 1:
            raise ValueError("at least 1 outcome is needed")
        self.n_studies = studies
        self.n_outcomes = outcomes
        self.seed = seed
        self.rng = random.Random(seed)

    # ------------------------------------------------------------------------------------------- outcomes
    def outcomes(self) -> list[dict]:
        """About half dichotomous, half continuous; each with the parameters of its data model."""
        rng = self.rng
        kinds = ["dichotomous" if i % 2 == 0 else "continuous" for i in range(self.n_outcomes)]
        rng.shuffle(kinds)
        used: dict[str, int] = {}
        out = []
        for i, kind in enumerate(kinds):
            pool = DICHOTOMOUS if kind == "dichotomous" else CONTINUOUS
            base = pool[used.get(kind, 0) % len(pool)]
            round_ = used.get(kind, 0) // len(pool)
            used[kind] = used.get(kind, 0) + 1
            days, when = TIMEPOINTS[round_ % len(TIMEPOINTS)]
            suffix = f"-d{days}" + (f"-{round_ // len(TIMEPOINTS) + 1}" if round_ >= len(TIMEPOINTS) else "")
            oid = base[0] + suffix
            label = f"{base[1]} at {when}" + (
                f" ({round_ // len(TIMEPOINTS) + 1})" if round_ >= len(TIMEPOINTS) else ""
            )
            # The first outcomes are reported by many studies, later ones by fewer.
            coverage = 0.65 - 0.5 * i / max(1, self.n_outcomes - 1)
            o = {"id": oid, "label": label, "type": kind, "timepoint": when, "coverage": coverage}
            if kind == "dichotomous":
                o.update(
                    event=base[2],
                    direction=base[3],
                    risk=rng.uniform(0.03, 0.35),
                    log_or=rng.gauss(-0.25 if base[3] == "lower-is-better" else 0.25, 0.3),
                    tau=rng.uniform(0.0, 0.5),
                )
            else:
                mean, sd = base[4], base[5]
                sign = -1 if base[3] == "lower-is-better" else 1
                o.update(
                    unit=base[2],
                    direction=base[3],
                    mean=mean,
                    sd=sd,
                    md=sign * rng.uniform(0.0, 0.35) * sd,
                    tau=rng.uniform(0.0, 0.3) * sd,
                    digits=2 if mean < 10 else 1,
                )
            out.append(o)
        return out

    # -------------------------------------------------------------------------------------------- studies
    def study_skeletons(self) -> list[dict]:
        rng = self.rng
        width = max(3, len(str(self.n_studies)))
        cats = [weighted(rng, DESIGNS) for _ in range(self.n_studies)]
        # A review needs at least two controlled studies, whatever the draw.
        if sum(c in CONTROLLED for c in cats) < 2:
            cats[0], cats[1] = "rct", "non-randomised-controlled"
        labels_seen: dict[str, int] = {}
        out = []
        for i, cat in enumerate(cats):
            surname = rng.choice(SURNAMES)
            year = rng.randint(2015, 2026)
            base = f"{surname} {year}"
            count = labels_seen.get(base, 0)
            labels_seen[base] = count + 1
            label = base if count == 0 else f"{base}{chr(ord('a') + count % 26)}{'' if count < 26 else count // 26}"
            out.append(
                {
                    "index": i + 1,
                    "id": f"syn-{i + 1:0{width}d}",
                    "label": label,
                    "surname": surname,
                    "year": year,
                    "category": cat,
                }
            )
        return out

    def arms(self, s: dict) -> tuple[list[dict], str, str]:
        """The arms of a study, and the ids of the arms its outcome data compare."""
        rng = self.rng
        cat = s["category"]
        cells = rng.choice(CELL_SOURCES)
        dose = f"{rng.choice((1, 2, 3, 5))} × 10^6 cells/kg"
        intervention = {
            "cell_source": cells,
            "dose": dose,
            "route": "intravenous",
            "schedule": rng.choice(
                ("single infusion", "two infusions 72 h apart", "three infusions on days 1, 3 and 6")
            ),
            "provenance": provenance("Methods"),
        }
        if cat == "case-report":
            return (
                [
                    {
                        "id": "patient",
                        "label": f"{cells} infusion",
                        "role": "experimental",
                        "n": 1,
                        "intervention": intervention,
                        "provenance": provenance("case description"),
                    }
                ],
                "patient",
                "patient",
            )
        if cat in SINGLE_ARM:
            n = rng.randint(5, 40) if cat == "case-series" else rng.randint(10, 80)
            return (
                [
                    {
                        "id": "treated",
                        "label": f"{cells} plus standard care",
                        "role": "experimental",
                        "n": n,
                        "intervention": intervention,
                        "provenance": provenance("Table 1"),
                    }
                ],
                "treated",
                "treated",
            )
        size = int(math.exp(rng.uniform(math.log(16), math.log(400))))
        n_exp = max(4, int(size * rng.uniform(0.4, 0.6)))
        n_ctl = max(4, size - n_exp)
        control = {
            "id": "control",
            "label": rng.choice(("Standard care", "Placebo plus standard care")),
            "role": "control",
            "n": n_ctl,
            "provenance": provenance("Table 1"),
        }
        if cat == "rct" and rng.random() < 0.08 and n_exp >= 8:
            # Two doses, pooled into one experimental arm for the analyses.
            low = n_exp // 2
            high = n_exp - low
            arms = [
                {
                    "id": "low-dose",
                    "label": f"{cells}, low dose",
                    "role": "experimental",
                    "n": low,
                    "intervention": dict(intervention, dose="1 × 10^6 cells/kg"),
                    "provenance": provenance("Table 1"),
                },
                {
                    "id": "high-dose",
                    "label": f"{cells}, high dose",
                    "role": "experimental",
                    "n": high,
                    "intervention": dict(intervention, dose="3 × 10^6 cells/kg"),
                    "provenance": provenance("Table 1"),
                },
                {
                    "id": "both-doses",
                    "label": f"{cells}, both doses",
                    "role": "experimental",
                    "kind": "combined",
                    "combines": ["low-dose", "high-dose"],
                    "n": n_exp,
                    "provenance": provenance("Table 1"),
                },
                control,
            ]
            return arms, "both-doses", "control"
        arms = [
            {
                "id": "treated",
                "label": f"{cells} plus standard care",
                "role": "experimental",
                "n": n_exp,
                "intervention": intervention,
                "provenance": provenance("Table 1"),
            },
            control,
        ]
        return arms, "treated", "control"

    def dichotomous(self, o: dict, n_exp: int, n_ctl: int, force_double_zero: bool) -> tuple[dict, dict]:
        rng = self.rng
        t_exp = n_exp - (rng.randint(0, max(0, n_exp // 10)) if n_exp > 10 else 0)
        t_ctl = n_ctl - (rng.randint(0, max(0, n_ctl // 10)) if n_ctl > 10 else 0)
        if force_double_zero:
            return {"total": t_exp, "events": 0}, {"total": t_ctl, "events": 0}
        logit = math.log(o["risk"] / (1 - o["risk"])) + rng.gauss(0, 0.4)
        p_ctl = 1 / (1 + math.exp(-logit))
        p_exp = 1 / (1 + math.exp(-(logit + o["log_or"] + rng.gauss(0, o["tau"]))))
        e_exp = sum(rng.random() < p_exp for _ in range(t_exp))
        e_ctl = sum(rng.random() < p_ctl for _ in range(t_ctl))
        return {"total": t_exp, "events": e_exp}, {"total": t_ctl, "events": e_ctl}

    def continuous(self, o: dict, n_exp: int, n_ctl: int, pre_post: bool) -> tuple[dict, dict]:
        rng = self.rng
        d = o["digits"]
        base = o["mean"] * rng.uniform(0.7, 1.3)
        sd_scale = rng.uniform(0.7, 1.3)
        effect = o["md"] + rng.gauss(0, o["tau"])
        if pre_post:
            effect += -0.3 * o["sd"] if o["direction"] == "lower-is-better" else 0.3 * o["sd"]  # recovery
        t_exp = n_exp - (rng.randint(0, n_exp // 8) if n_exp > 8 else 0)
        t_ctl = t_exp if pre_post else n_ctl - (rng.randint(0, n_ctl // 8) if n_ctl > 8 else 0)

        def group(total: int, mean: float) -> dict:
            sd = max(o["sd"] * sd_scale * rng.uniform(0.85, 1.15), 10**-d)
            noise = rng.gauss(0, sd / math.sqrt(total))
            value = mean + noise
            if o["mean"] > 0:
                value = max(value, 10**-d)  # these measures are positive
            return {"total": total, "mean": rounded(value, d), "sd": rounded(sd, d) or 10**-d}

        return group(t_exp, base + effect), group(t_ctl, base)

    def study(self, s: dict, outcomes: list[dict], plan: dict[str, list[str]]) -> dict:
        rng = self.rng
        cat = s["category"]
        arms, exp_arm, ctl_arm = self.arms(s)
        n_of = {a["id"]: a["n"] for a in arms}
        authors = [f"{s['surname']} {rng.choice(INITIALS)}{rng.choice(INITIALS)}"]
        authors += [f"{rng.choice(SURNAMES)} {rng.choice(INITIALS)}" for _ in range(rng.randint(1, 5))]
        if rng.random() < 0.3:
            authors.append("et al")
        wording = DESIGN_WORDING[cat]
        study = {
            "id": s["id"],
            "label": s["label"],
            "source_ref": s["index"],
            "source_table": "case-reports" if cat == "case-report" else "clinical-studies",
            "citation": {
                "authors": authors,
                "title": f"{arms[0]['intervention']['cell_source']} therapy in hospitalised patients: "
                f"a {wording[0].lower()} (synthetic record {s['index']})",
                "journal": rng.choice(JOURNALS),
                "year": s["year"],
                "volume": str(rng.randint(1, 40)),
                "pages": str(rng.randint(1, 900)),
                "doi": f"10.5555/synthetic.{self.seed}.{s['index']}",
                "provenance": provenance("title page"),
            },
            "design": {
                "category": cat,
                "review_category": cat if rng.random() > 0.1 or cat == "case-report" else "rct",
                "as_labelled_by_review": wording[0],
                "as_reported_by_authors": wording[1],
                "provenance": provenance("Methods"),
            },
            "registry": {
                "id": f"NCT{rng.randint(10**7, 10**8 - 1):08d}" if cat == "rct" else None,
                "provenance": provenance("abstract"),
            },
            "location": {
                "country": rng.choice(COUNTRIES),
                "site": f"Synthetic General Hospital {rng.randint(1, 60)}",
                "provenance": provenance("Methods"),
            },
            "age": {
                "summary": f"{rng.uniform(45, 72):.1f} ± {rng.uniform(8, 18):.1f} (mean ± SD)",
                "provenance": provenance("Table 1"),
            },
            "arms": arms,
        }
        data: dict[str, dict] = {}
        for o in outcomes:
            if s["id"] not in plan[o["id"]]:
                continue
            ds: dict = {"timepoint": o["timepoint"]}
            if rng.random() < 0.06:  # named in the methods, results not found
                ds = {
                    "status": "missing",
                    **({"design": "pre-post"} if cat in SINGLE_ARM else {}),
                    "missing": rng.choice(MISSING_REASONS),
                    "provenance": provenance("Results"),
                }
                data[o["id"]] = {"published": ds}
                continue
            where = f"Table {rng.randint(2, 4)}"
            if o["type"] == "dichotomous":
                double_zero = rng.random() < 0.02
                exp, ctl = self.dichotomous(o, n_of[exp_arm], n_of[ctl_arm], double_zero)
                prov = provenance(where)
            else:
                pre_post = cat in SINGLE_ARM
                exp, ctl = self.continuous(o, n_of[exp_arm], n_of[ctl_arm], pre_post)
                if pre_post:
                    ds["design"] = "pre-post"
                    exp["timepoint"], ctl["timepoint"] = o["timepoint"], "before treatment"
                ds["unit"] = o["unit"]
                if rng.random() < 0.1:
                    prov = provenance(
                        where,
                        transformation="mean and SD estimated from median and IQR (Wan et al. 2014)",
                        conversion="median-iqr-to-mean-sd",
                    )
                    exp["as_reported"] = "median and IQR"
                    ctl["as_reported"] = "median and IQR"
                else:
                    prov = provenance(where)
            ds["experimental"] = {"arm": exp_arm, **exp}
            ds["control"] = {"arm": ctl_arm, **ctl}
            ds["provenance"] = prov
            data[o["id"]] = {"published": ds}
        if data:
            study["outcomes"] = data
        if cat != "case-report" and rng.random() < 0.88:
            study["risk_of_bias"] = [self.risk_of_bias(cat)]
        study["notes"] = [f"Synthetic study generated with seed {self.seed}; every value is invented."]
        return study

    def risk_of_bias(self, cat: str) -> dict:
        rng = self.rng
        if cat == "rct":
            tool, domains, levels, order = "rob2", ROB2, ROB2_LEVELS, ("low", "some-concerns", "high")
        else:
            tool, domains, levels, order = "robins-i", ROBINS, ROBINS_LEVELS, ("low", "moderate", "serious", "critical")
        judged = [(d, weighted(rng, levels)) for d in domains]
        known = [j for _, j in judged if j != "no-information"]
        overall = max(known, key=order.index) if known else "no-information"
        return {
            "tool": tool,
            "assessed_by": "this review",
            "domains": [
                {"domain": d, "judgement": j, "support": f"Synthetic judgement for {d.replace('-', ' ')}."}
                for d, j in judged
            ],
            "overall": overall,
            "provenance": provenance("risk-of-bias assessment form"),
        }

    # --------------------------------------------------------------------------------------------- review
    def plan(self, skeletons: list[dict], outcomes: list[dict]) -> dict[str, list[str]]:
        """Which studies report each outcome: controlled studies every outcome, single-arm studies only
        continuous ones (before-after), case reports none. At least two controlled studies per outcome."""
        rng = self.rng
        controlled = [s["id"] for s in skeletons if s["category"] in CONTROLLED]
        single = [s["id"] for s in skeletons if s["category"] in SINGLE_ARM]
        plan = {}
        for o in outcomes:
            pool = controlled + (single if o["type"] == "continuous" else [])
            chosen = {sid for sid in pool if rng.random() < o["coverage"]}
            for sid in rng.sample(controlled, 2):
                chosen.add(sid)
            plan[o["id"]] = sorted(chosen)
        return plan

    def review(self, skeletons: list[dict], outcomes: list[dict], plan: dict[str, list[str]]) -> dict:
        rng = self.rng
        n = len(skeletons)
        categories = {s["id"]: s["category"] for s in skeletons}
        analyses = []
        certainty = []
        for o in outcomes:
            ids = plan[o["id"]]
            measure = "OR" if o["type"] == "dichotomous" else "MD"
            analyses.append(
                {
                    "id": f"{o['id']}-primary",
                    "outcome": o["id"],
                    "role": "primary",
                    "title": f"{o['label']}, random effects",
                    "description": "Every study with data, pooled with a random-effects model (REML) and the "
                    "Hartung-Knapp-Sidik-Jonkman interval.",
                    "measure": measure,
                    "model": "random",
                    "tau2": "REML",
                    "ci_method": "hksj",
                    "datasets": ["published"],
                    "studies": ids,
                }
            )
            if o["type"] == "dichotomous":
                analyses.append(
                    {
                        "id": f"{o['id']}-fixed-mh",
                        "outcome": o["id"],
                        "role": "sensitivity",
                        "title": f"{o['label']}, Mantel-Haenszel fixed effect",
                        "measure": "OR",
                        "model": "fixed",
                        "method": "MH",
                        "datasets": ["published"],
                        "studies": ids,
                    }
                )
            else:
                analyses.append(
                    {
                        "id": f"{o['id']}-controlled",
                        "outcome": o["id"],
                        "role": "sensitivity",
                        "title": f"{o['label']}, controlled studies only",
                        "description": "Leaves out before-after comparisons in single-arm studies.",
                        "measure": "MD",
                        "model": "random",
                        "tau2": "REML",
                        "ci_method": "hksj",
                        "datasets": ["published"],
                        "studies": ids,
                        "designs": list(CONTROLLED),
                    }
                )
            rct_share = sum(categories[sid] == "rct" for sid in ids) / max(1, len(ids))
            entry = {
                "outcome": o["id"],
                "analysis": f"{o['id']}-primary",
                "start": "high" if rct_share >= 0.5 else "low",
                "start_reason": f"{rct_share:.0%} of the studies with data are randomised trials.",
                "downgrades": [
                    {
                        "domain": "risk-of-bias",
                        "levels": 1,
                        "reason": "Many studies were open-label or judged at high or serious risk of bias.",
                    }
                ],
            }
            if rng.random() < 0.5:
                entry["downgrades"].append(
                    {
                        "domain": "imprecision",
                        "levels": rng.choice((1, 2)),
                        "reason": "Few events, or an interval that includes no effect.",
                    }
                )
            if any(categories[sid] in SINGLE_ARM for sid in ids):
                entry["downgrades"].append(
                    {
                        "domain": "indirectness",
                        "levels": 1,
                        "reason": "Before-after data from single-arm studies are included.",
                    }
                )
            certainty.append(entry)

        full_excluded = max(3, int(n * rng.uniform(0.8, 1.6)))
        reasons = self.split(full_excluded, EXCLUSION_REASONS)
        assessed = n + full_excluded
        records_excluded = assessed * rng.randint(8, 15)
        first, second = outcomes[0]["id"], outcomes[-1]["id"]
        return {
            "id": "synthetic-review",
            "title": f"Synthetic living review: {n} studies, {len(outcomes)} outcomes (seed {self.seed})",
            "short_title": f"Synthetic review ({n} studies)",
            "version": "1.0",
            "date": REVIEW_DATE,
            "living": {
                "last_search": LAST_SEARCH,
                "next_update": "When the benchmark needs a new size.",
                "trigger": "Generated by benchmarks/synthetic.py.",
            },
            "authors": ["Benchmark generator"],
            "source_review": {
                "authors": ["Synthetic A", "et al"],
                "title": "An invented source review",
                "journal": "Journal of Synthetic Trials",
                "year": 2025,
                "provenance": provenance("title page"),
            },
            "question": {
                "population": "Adults hospitalised with a severe respiratory infection (invented).",
                "intervention": "Mesenchymal stromal cells with standard care.",
                "comparator": "Standard care or placebo; the same patients before treatment in single-arm studies.",
                "outcomes": f"{len(outcomes)} invented outcomes, dichotomous and continuous.",
            },
            "outcomes": [self.outcome_entry(o) for o in outcomes],
            "flow": {
                "records_identified": records_excluded + assessed,
                "records_excluded": records_excluded,
                "records_excluded_reasons": self.split(records_excluded, RECORD_EXCLUSION_REASONS),
                "full_texts_assessed": assessed,
                "full_texts_excluded": full_excluded,
                "full_texts_excluded_reasons": reasons,
                "unaccounted": 0,
                "provenance": provenance("PRISMA flow diagram"),
            },
            "analyses": analyses,
            "narrative": {
                "background": [
                    "This review is synthetic: its [[count:studies]] studies "
                    "([[count:clinical-studies]] clinical studies and [[count:case-reports]] case reports) "
                    "and every number in them were generated to measure how the builder scales.",
                    "The search found [[flow:records_identified]] records; [[flow:full_texts_assessed]] full "
                    "texts were assessed and [[flow:full_texts_excluded]] excluded.",
                ],
                "summary": [
                    f"{outcomes[0]['label']}: the pooled effect is [[{first}-primary.estimate]] (95% CI "
                    f"[[{first}-primary.ci_low]] to [[{first}-primary.ci_high]]; P = [[{first}-primary.p]]) "
                    f"from [[{first}-primary.k]] studies with [[{first}-primary.participants]] participants.",
                    f"{outcomes[-1]['label']}: [[{second}-primary.estimate]] (95% CI [[{second}-primary.ci_low]] "
                    f"to [[{second}-primary.ci_high]]), I² [[{second}-primary.i2]].",
                ],
                "limitations": ["The data are invented; the results mean nothing clinically."],
            },
            "certainty": certainty,
            "experimental_label": "MSC",
            "control_label": "Control",
        }

    def split(self, total: int, names) -> dict[str, int]:
        cuts = sorted(self.rng.randint(0, total) for _ in range(len(names) - 1))
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, total])]
        return {name: part for name, part in zip(names, parts) if part > 0} or {names[0]: total}

    @staticmethod
    def outcome_entry(o: dict) -> dict:
        entry = {"id": o["id"], "label": o["label"], "type": o["type"]}
        if o["type"] == "dichotomous":
            entry["event"] = o["event"]
        else:
            entry["unit"] = o["unit"]
        entry["direction"] = o["direction"]
        entry["description"] = f"Measured at {o['timepoint']} (synthetic)."
        return entry

    # ---------------------------------------------------------------------------------------------- write
    def generate(self) -> tuple[dict, list[dict]]:
        outcomes = self.outcomes()
        skeletons = self.study_skeletons()
        plan = self.plan(skeletons, outcomes)
        studies = [self.study(s, outcomes, plan) for s in skeletons]  # each planned outcome, data or missing
        review = self.review(skeletons, outcomes, plan)
        return review, studies


def dump(data: dict, header: str) -> str:
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)


def write_project(out: Path, studies: int, outcomes: int, seed: int, assets: bool = True) -> Path:
    """Write the project into `out` (created; data/ must not exist yet) and return `out`."""
    out = Path(out)
    data_dir = out / "data"
    if data_dir.exists():
        raise FileExistsError(f"{data_dir} already exists; choose an empty folder")
    review, study_list = Generator(studies, outcomes, seed).generate()
    (data_dir / "studies").mkdir(parents=True)
    note = f"# Synthetic data written by benchmarks/synthetic.py (seed {seed}); every value is invented.\n"
    (data_dir / "review.yaml").write_text(dump(review, note), encoding="utf-8")
    schema = "# yaml-language-server: $schema=../../docs/schema/study.schema.json\n"
    for s in study_list:
        (data_dir / "studies" / f"{s['id']}.yaml").write_text(dump(s, schema + note), encoding="utf-8")
    if assets:
        for name in PROJECT_ASSETS:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, out / name, dirs_exist_ok=True)
            else:
                shutil.copy2(src, out / name)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Write a synthetic review project (data, templates, docs, mkdocs.yml).")
    p.add_argument("out_dir", help="folder to create; its data/ must not exist yet")
    p.add_argument("--studies", type=int, default=21, help="number of study files (default 21)")
    p.add_argument("--outcomes", type=int, default=4, help="number of outcomes (default 4)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = p.parse_args(argv)
    try:
        out = write_project(Path(args.out_dir), args.studies, args.outcomes, args.seed)
    except (ValueError, FileExistsError) as exc:
        print(f"synthetic.py: error: {exc}", file=sys.stderr)
        return 2
    n_files = len(list((out / "data" / "studies").glob("*.yaml")))
    print(f"wrote {n_files} study files and data/review.yaml ({args.outcomes} outcomes, seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
