"""Continuous data as reported -> the mean and SD in the outcome's unit that the analyses pool.

A study file may give a continuous group as reported (the mean with its SE or CI, the CI alone, or the median
with quartiles and/or range) and in the unit the study used. After the files validate, the loader calls
`derive`, which replaces each such group by its mean and SD (builder/ingest/conversions.py) in the outcome's unit and
records in the dataset's provenance what was done: `conversion` names the kind (the sensitivity analysis
"excluding converted values" leaves these studies out) and `transformation` gives the arithmetic, which the
study's page shows. The group's `as_reported` keeps what was printed.

`check_units` then makes sure no analysis would pool values in different units (D-dimer in fibrinogen-equivalent
units with D-dimer units, say, which no factor converts).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from builder.contract import Review, Study
from builder.contract.study import Contrast, Dataset, Group
from builder.errors import Problem
from builder.ingest import conversions
from builder.ingest.select import select
from builder.ingest.yamlio import Located, Path_
from builder.stats.dist import z_quantile

SIDES = ("experimental", "control")


def _fmt(x: float | None) -> str:
    return "?" if x is None else f"{x:.6g}"


def _given(value: float | None) -> float:
    """A value the group's reported form requires; Group's validation has made sure it is there."""
    if value is None:
        raise ValueError("a value of the reported summary is missing")
    return value


def _as_reported(g: Group, unit: str | None) -> str:
    form = g.reported_form
    if form == "mean-se":
        text = f"mean {_fmt(g.mean)}, SE {_fmt(g.se)}"
    elif form == "ci":
        text = (
            f"{'mean ' + _fmt(g.mean) + ', ' if g.mean is not None else ''}"
            f"{100 * (g.ci_level or 0.95):g}% CI {_fmt(g.ci_low)} to {_fmt(g.ci_high)}"
        )
    elif form == "median":
        text = f"median {_fmt(g.median)}"
        if g.q1 is not None:
            text += f", IQR {_fmt(g.q1)} to {_fmt(g.q3)}"
        if g.minimum is not None:
            text += f", range {_fmt(g.minimum)} to {_fmt(g.maximum)}"
    else:
        text = f"mean {_fmt(g.mean)}, SD {_fmt(g.sd)}"
    return f"{text}{' ' + unit if unit else ''}, n = {g.total}"


def _summary(g: Group) -> conversions.Converted | None:
    """The mean and SD estimated from the group's reported summary; None when it gave them."""
    form = g.reported_form
    if form == "mean-se":
        return conversions.sd_from_se(_given(g.se), g.total)
    if form == "ci":
        return conversions.sd_from_ci(_given(g.ci_low), _given(g.ci_high), g.total, g.ci_level or 0.95)
    if form != "median":
        return None
    median = _given(g.median)
    if g.q1 is not None and g.minimum is not None:
        return conversions.mean_sd_from_five_numbers(g.minimum, g.q1, median, _given(g.q3), _given(g.maximum), g.total)
    if g.q1 is not None:
        return conversions.mean_sd_from_median_iqr(median, g.q1, _given(g.q3), g.total)
    return conversions.mean_sd_from_median_range(median, _given(g.minimum), _given(g.maximum), g.total)


def _group_field(g: Group) -> str:
    """The field of a group a conversion error points at."""
    return {"mean-se": "se", "ci": "ci_low", "median": "median"}.get(g.reported_form or "", "mean")


Where = Callable[[Path_, str, str, "str | None"], None]  # (path below the dataset, field text, message, value)


@dataclass
class _Derived:
    """One group as mean and SD in the outcome's unit: the new group (None if unchanged), the unit, and the
    notes and kinds of conversion for the dataset's provenance."""

    group: Group | None
    unit: str | None
    notes: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


def has_unit(ds: Dataset) -> bool:
    """Whether the dataset's values are in a unit analyses must share (not a standardised or ratio estimate)."""
    return ds.contrast is None or ds.contrast.measure in ("MD", "GEN")


def _derive_dataset(ds: Dataset, target: str | None, analyte: str, where: Where) -> Dataset:
    """The dataset with both groups as mean and SD in `target`; itself when nothing changes or a problem is
    recorded through `where`."""
    new_groups: dict[str, Group] = {}
    notes: list[str] = []
    kinds: list[str] = []
    unit = ds.unit
    for side in SIDES:
        derived = _derive_group(ds, side, target, analyte, where)
        if derived is None:
            return ds
        if derived.group is not None:
            new_groups[side] = derived.group
        unit, notes, kinds = derived.unit, notes + derived.notes, kinds + derived.kinds
    if not new_groups and unit == ds.unit:
        return ds
    provenance = ds.provenance
    transformation = "; ".join(([provenance.transformation] if provenance.transformation else []) + notes)
    update = {"transformation": transformation}
    if kinds:
        # the provenance has one kind: a summary conversion says more about the number than a change of scale
        update["conversion"] = provenance.conversion or next((k for k in kinds if k != "unit"), kinds[0])
    return ds.model_copy(update={**new_groups, "unit": unit, "provenance": provenance.model_copy(update=update)})


def _derive_group(ds: Dataset, side: str, target: str | None, analyte: str, where: Where) -> _Derived | None:
    """One side of the dataset: its summary converted to a mean and SD, then its unit to `target`; None when
    either cannot be done (the problem is recorded)."""
    g: Group = getattr(ds, side)
    try:
        converted = _summary(g)
    except ValueError as exc:
        where((side, _group_field(g)), f"{side}.{_group_field(g)}", str(exc), None)
        return None
    out = _Derived(None, ds.unit)
    mean, sd = g.mean, g.sd
    if converted is not None:
        mean = g.mean if g.mean is not None else converted.mean
        sd = converted.sd
        note = converted.note
        if g.mean is not None and converted.mean is not None and converted.mean != g.mean:
            note += f" (the reported mean {_fmt(g.mean)} is used instead)"
        out.notes.append(f"{side}: {note}")
        out.kinds.append(converted.method)
    if target and ds.unit != target:
        try:
            cm = conversions.convert_unit(_given(mean), _given_unit(ds.unit), target, analyte)
            cs = conversions.convert_unit(_given(sd), _given_unit(ds.unit), target, analyte)
        except ValueError as exc:
            message = f"the outcome is analysed in {target} and this value cannot be converted to it: {exc}"
            where(("unit",), "unit", message, repr(ds.unit))
            return None
        mean, sd, out.unit = cm.value, cs.value, cm.unit
        if side == SIDES[0]:
            out.notes.append(f"unit: {cm.note}")
            if cm.method:
                out.kinds.append("unit")
    if converted is not None or (mean, sd) != (g.mean, g.sd) or out.unit != ds.unit:
        out.group = _as_mean_sd(g, mean, sd, ds.unit)
    return out


def _given_unit(unit: str | None) -> str:
    """The unit of continuous data; Dataset's validation has made sure there is one."""
    if unit is None:
        raise ValueError("continuous data needs a 'unit'")
    return unit


def _as_mean_sd(g: Group, mean: float | None, sd: float | None, unit: str | None) -> Group:
    """The group given by its mean and SD alone, keeping what was printed."""
    reported_only = ("se", "ci_low", "ci_high", "ci_level", "median", "q1", "q3", "minimum", "maximum")
    update: dict[str, object] = {"mean": mean, "sd": sd, **dict.fromkeys(reported_only)}
    update["as_reported"] = g.as_reported or _as_reported(g, unit)
    return g.model_copy(update=update)


def derive(review: Review, studies: dict[str, tuple[Study, Located, str]]) -> tuple[dict[str, Study], list[Problem]]:
    """Every study with its continuous groups as mean and SD in the outcome's unit, and the problems found."""
    outcomes = {o.id: o for o in review.outcomes}
    problems: list[Problem] = []
    out: dict[str, Study] = {}
    for sid, (study, located, file) in studies.items():
        changed = {}
        for oid, datasets in study.outcomes.items():
            outcome = outcomes.get(oid)
            if outcome is None:
                continue
            new = {}
            for name, ds in datasets.items():
                if ds.status != "available":
                    continue
                if ds.reported is not None:
                    new[name] = _record_contrast(ds)
                    continue
                if outcome.type != "continuous":
                    continue

                def where(path, field, message, value, base=("outcomes", oid, name), file=file, located=located):
                    problems.append(
                        Problem(file, located.line_of(base + path), ".".join(base) + "." + field, message, value)
                    )

                derived = _derive_dataset(ds, outcome.unit, outcome.analyte or outcome.id, where)
                if derived is not ds:
                    new[name] = derived
            if new:
                changed[oid] = {**datasets, **new}
        out[sid] = study.model_copy(update={"outcomes": {**study.outcomes, **changed}}) if changed else study
    return out, problems


def _record_contrast(ds: Dataset) -> Dataset:
    """The dataset with what the analyses make of its reported comparison written into its provenance's
    transformation, which the study's page shows: the log of a ratio, and the standard error taken from the
    interval where no SE was given."""
    if ds.o_minus_e is not None:
        oe = ds.o_minus_e
        log = "log hazard ratio" if oe.measure == "HR" else "log odds ratio"
        note = (
            f"O - E {_fmt(oe.value)} with variance {_fmt(oe.variance)}: Peto's {log} (O - E) / V = "
            f"{_fmt(oe.value / oe.variance)} with SE 1/√V = {_fmt(1 / math.sqrt(oe.variance))}"
        )
    else:
        note = contrast_note(_given_contrast(ds))
    provenance = ds.provenance
    transformation = "; ".join(([provenance.transformation] if provenance.transformation else []) + [note])
    return ds.model_copy(update={"provenance": provenance.model_copy(update={"transformation": transformation})})


def _given_contrast(ds: Dataset) -> Contrast:
    if ds.contrast is None:
        raise ValueError("the dataset has no contrast")
    return ds.contrast


def contrast_note(ct: Contrast) -> str:
    """How a reported estimate becomes yi and its standard error on the analysis scale, as arithmetic."""
    level = ct.ci_level or 0.95
    z = float(z_quantile(0.5 + level / 2))
    interval = f" ({100 * level:g}% CI {_fmt(ct.ci_low)} to {_fmt(ct.ci_high)})" if ct.ci_low is not None else ""
    printed = f"{ct.measure} {_fmt(ct.estimate)}{interval}" + (f", SE {_fmt(ct.se)}" if ct.se is not None else "")
    if ct.ratio:
        yi = f"log {ct.measure} = ln {_fmt(ct.estimate)} = {_fmt(math.log(ct.estimate))}"
    else:
        yi = f"{ct.measure} {_fmt(ct.estimate)}, used as printed"
    if ct.se is not None:
        se = f"SE {_fmt(ct.se)} as given" + (" (of the log ratio)" if ct.ratio else "")
    else:
        low, high = _given(ct.ci_low), _given(ct.ci_high)
        if ct.ratio:
            width, value = f"(ln {_fmt(high)} - ln {_fmt(low)})", (math.log(high) - math.log(low)) / (2 * z)
        else:
            width, value = f"({_fmt(high)} - {_fmt(low)})", (high - low) / (2 * z)
        se = f"SE = {width} / (2 × {z:.4f}) = {_fmt(value)}"
    return f"as printed: {printed}; analysed as {yi}, {se}"


def check_units(review: Review, studies: dict[str, Study], located: dict[str, tuple[Located, str]]) -> list[Problem]:
    """A problem for every dataset an analysis would pool with values in another unit."""
    problems = []
    for spec in review.analyses:
        outcome = review.outcome(spec.outcome)
        if outcome.type != "continuous":
            continue
        chosen, *_ = select(spec, studies)
        units: dict[str | None, tuple[Study, str]] = {}
        for study, name, ds in chosen:
            if has_unit(ds):
                units.setdefault(ds.unit, (study, name))
        if len(units) < 2:
            continue
        first_unit, (first, first_name) = next(iter(units.items()))
        for unit, (study, name) in list(units.items())[1:]:
            loc, file = located[study.id]
            path = ("outcomes", spec.outcome, name, "unit")
            problems.append(
                Problem(
                    file,
                    loc.line_of(path),
                    ".".join(path),
                    f"analysis '{spec.id}' would pool values in {unit} with values in {first_unit} ({first.label}, "
                    f"dataset {first_name}); an analysis never pools different units: convert the values, or keep "
                    f"the studies apart (FEU and DDU are never converted into each other)",
                    repr(unit),
                )
            )
    return problems
