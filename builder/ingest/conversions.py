"""Turning what a study reported into what the meta-analysis needs.

Three kinds of conversion, each a small pure function:

* a mean and SD estimated from a median with its interquartile range, its range, or both (the five-number
  summary), by the methods R's `meta` package uses (`metamean` / `metacont`, arguments `method.mean` and
  `method.sd`):

  - Wan X, Wang W, Liu J, Tong T (2014). Estimating the sample mean and standard deviation from the sample
    size, median, range and/or interquartile range. BMC Med Res Methodol 14:135. doi:10.1186/1471-2288-14-135
  - Luo D, Wan X, Liu J, Tong T (2018). Optimally estimating the sample mean from the sample size, median,
    mid-range, and/or mid-quartile range. Stat Methods Med Res 27:1785-1805. doi:10.1177/0962280216669183
  - Shi J, Luo D, Weng H, et al. (2020). Optimally estimating the sample standard deviation from the
    five-number summary. Res Synth Methods 11:641-654. doi:10.1002/jrsm.1429

  Wan's SD divisors default to his closed-form approximations for every n (as metafor's conv.fivenum does);
  small_n="table" instead uses the exact expected values where R's meta does (Wan's Tables 1 and 2: n <= 50
  for the range, n <= 201 for the IQR). The two differ by up to 1.5% for the range from n = 5 on and, because
  meta rounds n up to the next 4Q + 1 for the IQR, by up to 8% for the IQR at n = 6 (under 4% from n = 9).

* an SD from the standard error or the confidence interval of a group mean (Cochrane Handbook for Systematic
  Reviews of Interventions, section 6.5.2.2);

* a laboratory value from one unit to another (CRP, D-dimer, IL-6).

Every estimator returns a frozen `Converted` (or `ConvertedUnit`) whose `method` is the value for a study's
`provenance.conversion` and whose `note` is a sentence for `provenance.transformation` that names the inputs,
the result and the published formula, so the reader can redo the arithmetic.

All median-based estimators assume roughly normal data. A study that reports a median often does so because its
data are skewed (lab values such as CRP, D-dimer and IL-6 usually are); the estimates are then rough, which is
why the sensitivity analyses can leave converted studies out.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from scipy import special

from builder.stats.dist import t_quantile

__all__ = [
    "CI_T_BELOW_N",
    "MICRO",
    "ConversionKind",
    "Converted",
    "ConvertedUnit",
    "convert_unit",
    "mean_sd_from_five_numbers",
    "mean_sd_from_median_iqr",
    "mean_sd_from_median_range",
    "sd_from_ci",
    "sd_from_se",
    "supported_units",
    "wan_iqr_divisor",
    "wan_range_divisor",
]

ConversionKind = Literal["median-iqr-to-mean-sd", "median-range-to-mean-sd", "se-to-sd", "ci-to-sd", "unit"]
MeanMethod = Literal["luo", "wan"]
SdMethod = Literal["shi", "wan"]
SmallN = Literal["formula", "table"]

WAN_2014 = "Wan et al. 2014 (BMC Med Res Methodol 14:135)"
LUO_2018 = "Luo et al. 2018 (Stat Methods Med Res 27:1785)"
SHI_2020 = "Shi et al. 2020 (Res Synth Methods 11:641)"
HANDBOOK = "Cochrane Handbook section 6.5.2.2"

# R's meta replaces Wan's approximation by the exact expected values (Wan's Tables 1 and 2) up to these sizes.
WAN_TABLE1_MAX_N = 50  # range: Table 1 lists xi(n) for n = 1..50
WAN_TABLE2_MAX_N = 201  # IQR: Table 2 lists eta(n) for n = 4Q + 1, Q = 1..50

# sd_from_ci(distribution="t"): below this sample size the interval is taken to come from a t distribution
# with n - 1 degrees of freedom, from this size on from the normal distribution (Cochrane Handbook 6.5.2.2).
CI_T_BELOW_N = 60


@dataclass(frozen=True)
class Converted:
    """A mean and SD derived from other reported statistics.

    `mean` is None when the input says nothing about it (an SD from a standard error). `method` goes into the
    study's `provenance.conversion` and `note` into `provenance.transformation`.
    """

    mean: float | None
    sd: float
    method: ConversionKind
    note: str

    def provenance_fields(self) -> dict[str, str]:
        """The `conversion` and `transformation` entries of a study's provenance."""
        return {"conversion": self.method, "transformation": self.note}


@dataclass(frozen=True)
class ConvertedUnit:
    """A value expressed in another unit.

    `method` is "unit" when the number changed and None when the two units name the same quantity (mg/L and
    µg/mL, say), where nothing was computed and the study need not count as converted.
    """

    value: float
    unit: str
    method: Literal["unit"] | None
    note: str

    def provenance_fields(self) -> dict[str, str]:
        """The `conversion` (only when the number changed) and `transformation` entries of a provenance."""
        fields = {"transformation": self.note}
        if self.method is not None:
            fields["conversion"] = self.method
        return fields


# --------------------------------------------------------------------------------------------------------------
# checks and formatting


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, not {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value}")
    return value


def _sample_size(n, minimum: int, why: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Real):
        raise ValueError(f"the sample size n must be a whole number, not {n!r}")
    value = float(n)
    if not math.isfinite(value) or not value.is_integer():
        raise ValueError(f"the sample size n must be a whole number, not {n}")
    n = int(value)
    if n < 1:
        raise ValueError(f"the sample size n must be at least 1, not {n}")
    if n < minimum:
        raise ValueError(f"the sample size n must be at least {minimum} here ({why}); got n = {n}")
    return n


def _in_order(pairs: list[tuple[str, float]], wide: list[tuple[str, str]]) -> None:
    """`pairs` must be non-decreasing; each (lower, upper) in `wide` must differ, or the spread would be 0."""
    for (name_a, a), (name_b, b) in zip(pairs, pairs[1:]):
        if a > b:
            order = " <= ".join(name for name, _ in pairs)
            raise ValueError(
                f"{name_a} ({_fmt(a)}) is larger than {name_b} ({_fmt(b)}); the summary must satisfy {order}"
            )
    values = dict(pairs)
    for low, high in wide:
        if values[low] == values[high]:
            raise ValueError(
                f"{low} and {high} are equal ({_fmt(values[low])}), so the SD would be estimated as 0; "
                "a zero spread cannot be converted (check the numbers, or leave the study out)"
            )


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")
    return value


def _fmt(x: float) -> str:
    return f"{x:.6g}"


# --------------------------------------------------------------------------------------------------------------
# Wan et al.'s divisors: the expected range and interquartile range of n standard normal observations


def _z(p: float) -> float:
    return float(special.ndtri(p))


@cache
def _expected_normal_range(n: int) -> float:
    """E(max - min) of n independent N(0, 1) draws: the integral of 1 - Phi(x)^n - (1 - Phi(x))^n over x."""
    if n == 1:
        return 0.0

    def integrand(x: float) -> float:
        return -math.expm1(n * special.log_ndtr(x)) - math.exp(n * special.log_ndtr(-x))

    value, _ = _quad(integrand, -12.0, 12.0, points=[0.0], limit=200, epsabs=1e-12, epsrel=1e-12)
    return value


@cache
def _expected_normal_order_statistic(r: int, n: int) -> float:
    """E(Z_(r)), the r-th smallest of n independent N(0, 1) draws."""
    log_c = special.gammaln(n + 1) - special.gammaln(r) - special.gammaln(n - r + 1)

    def integrand(x: float) -> float:
        log_density = (
            log_c
            + (r - 1) * special.log_ndtr(x)
            + (n - r) * special.log_ndtr(-x)
            - 0.5 * x * x
            - 0.5 * math.log(2 * math.pi)
        )
        return x * math.exp(log_density)

    centre = _z(r / (n + 1))
    value, _ = _quad(integrand, -12.0, 12.0, points=[centre], limit=400, epsabs=1e-12, epsrel=1e-12)
    return value


def wan_range_divisor(n: int, small_n: SmallN = "formula") -> float:
    """xi(n) in SD ~ (max - min) / xi(n).

    "formula": Wan et al. 2014, eq. 9, xi(n) = 2 Phi^-1((n - 0.375) / (n + 0.25)), for every n.
    "table": as R's meta does, the exact expected range of n standard normal draws (Wan's Table 1; eq. 7) rounded
    to three decimals for n <= 50, the formula above that. The exact values are computed here by numerical
    integration, not copied from the table; they agree with the printed table except at n = 12, where the table
    has 3.259 and the integral is 3.25846 (so 3.258 here, 0.03% apart).
    """
    n = _sample_size(n, 2, "the range of a single observation is 0")
    _choice("small_n", small_n, ("formula", "table"))
    if small_n == "table" and n <= WAN_TABLE1_MAX_N:
        return round(_expected_normal_range(n), 3)
    return 2 * _z((n - 0.375) / (n + 0.25))


def wan_iqr_divisor(n: int, small_n: SmallN = "formula") -> float:
    """eta(n) in SD ~ (q3 - q1) / eta(n).

    "formula": Wan et al. 2014, eq. 16, eta(n) = 2 Phi^-1((0.75 n - 0.125) / (n + 0.25)), for every n.
    "table": as R's meta does, for n <= 201 the exact expected interquartile range of 4Q + 1 standard normal
    draws, 2 E(Z_(3Q+1)), with Q = ceiling((n - 1) / 4) (Wan's Table 2; eq. 15), rounded to three decimals;
    the formula above that. Computed here by numerical integration; this agrees with the printed table except
    at Q = 12 and Q = 24, where the table has 1.311 and 1.330 and the integrals are 1.31047 and 1.32949 (so
    1.310 and 1.329 here). For n = 2 to 4 the table value (Q = 1, 0.990) and the formula (0.564 at n = 2)
    differ widely: quartiles of so few observations say little.
    """
    n = _sample_size(n, 2, "a single observation has no spread")
    _choice("small_n", small_n, ("formula", "table"))
    if small_n == "table" and n <= WAN_TABLE2_MAX_N:
        q = math.ceil((n - 1) / 4)
        return round(2 * _expected_normal_order_statistic(3 * q + 1, 4 * q + 1), 3)
    return 2 * _z((0.75 * n - 0.125) / (n + 0.25))


def _wan_divisor_text(kind: str, small_n: str, n: int) -> str:
    if kind == "range":
        if small_n == "table" and n <= WAN_TABLE1_MAX_N:
            return "eq. 7 with the exact expected range of Table 1, as R's meta"
        return "eq. 9, divisor 2 Phi^-1((n - 0.375)/(n + 0.25))"
    if small_n == "table" and n <= WAN_TABLE2_MAX_N:
        return "eq. 15 with the exact expected IQR of Table 2, as R's meta"
    return "eq. 16, divisor 2 Phi^-1((0.75n - 0.125)/(n + 0.25))"


# --------------------------------------------------------------------------------------------------------------
# mean and SD from a median

_NORMALITY = "assumes roughly normal data"


def mean_sd_from_median_iqr(
    median: float, q1: float, q3: float, n: int, *, mean_method: MeanMethod = "luo", small_n: SmallN = "formula"
) -> Converted:
    """Mean and SD from the median, first and third quartiles and sample size.

    Mean: Luo et al. 2018, eq. 11, w (q1 + q3)/2 + (1 - w) median with w = 0.7 + 0.39/n (default), or
    Wan et al. 2014, eq. 14, (q1 + median + q3)/3 (mean_method="wan").
    SD: Wan et al. 2014, (q3 - q1) / eta(n); see `wan_iqr_divisor` for `small_n`.
    """
    _choice("mean_method", mean_method, ("luo", "wan"))
    _choice("small_n", small_n, ("formula", "table"))
    median, q1, q3 = _number("median", median), _number("q1", q1), _number("q3", q3)
    n = _sample_size(n, 2, "an SD cannot be estimated from one observation")
    _in_order([("q1", q1), ("median", median), ("q3", q3)], [("q1", "q3")])

    if mean_method == "luo":
        w = 0.7 + 0.39 / n
        mean = w * (q1 + q3) / 2 + (1 - w) * median
        mean_text = f"{LUO_2018}, eq. 11"
    else:
        mean = (q1 + median + q3) / 3
        mean_text = f"{WAN_2014}, eq. 14"
    eta = wan_iqr_divisor(n, small_n)
    sd = (q3 - q1) / eta
    note = (
        f"mean {_fmt(mean)} and SD {_fmt(sd)} estimated from median {_fmt(median)} (IQR {_fmt(q1)} to "
        f"{_fmt(q3)}), n = {n}: mean by {mean_text}; SD = IQR / {_fmt(eta)} by {WAN_2014}, "
        f"{_wan_divisor_text('iqr', small_n, n)}; {_NORMALITY}"
    )
    return Converted(mean, sd, "median-iqr-to-mean-sd", note)


def mean_sd_from_median_range(
    median: float,
    minimum: float,
    maximum: float,
    n: int,
    *,
    mean_method: MeanMethod = "luo",
    small_n: SmallN = "formula",
) -> Converted:
    """Mean and SD from the median, minimum, maximum and sample size.

    Mean: Luo et al. 2018, eq. 7, w (min + max)/2 + (1 - w) median with w = 4 / (4 + n^0.75) (default), or
    Wan et al. 2014, eq. 2, (min + 2 median + max)/4 + (min - 2 median + max)/(4n) (mean_method="wan").
    SD: Wan et al. 2014, (max - min) / xi(n); see `wan_range_divisor` for `small_n`.
    """
    _choice("mean_method", mean_method, ("luo", "wan"))
    _choice("small_n", small_n, ("formula", "table"))
    median, minimum, maximum = _number("median", median), _number("minimum", minimum), _number("maximum", maximum)
    n = _sample_size(n, 2, "an SD cannot be estimated from one observation")
    _in_order([("minimum", minimum), ("median", median), ("maximum", maximum)], [("minimum", "maximum")])

    if mean_method == "luo":
        w = 4 / (4 + n**0.75)
        mean = w * (minimum + maximum) / 2 + (1 - w) * median
        mean_text = f"{LUO_2018}, eq. 7"
    else:
        mean = (minimum + 2 * median + maximum) / 4 + (minimum - 2 * median + maximum) / (4 * n)
        mean_text = f"{WAN_2014}, eq. 2"
    xi = wan_range_divisor(n, small_n)
    sd = (maximum - minimum) / xi
    note = (
        f"mean {_fmt(mean)} and SD {_fmt(sd)} estimated from median {_fmt(median)} (range {_fmt(minimum)} to "
        f"{_fmt(maximum)}), n = {n}: mean by {mean_text}; SD = range / {_fmt(xi)} by {WAN_2014}, "
        f"{_wan_divisor_text('range', small_n, n)}; {_NORMALITY}"
    )
    return Converted(mean, sd, "median-range-to-mean-sd", note)


def mean_sd_from_five_numbers(
    minimum: float,
    q1: float,
    median: float,
    q3: float,
    maximum: float,
    n: int,
    *,
    mean_method: MeanMethod = "luo",
    sd_method: SdMethod = "shi",
    small_n: SmallN = "formula",
) -> Converted:
    """Mean and SD from the five-number summary (minimum, quartiles, median, maximum) and sample size.

    Mean: Luo et al. 2018, eq. 15, w1 (min + max)/2 + w2 (q1 + q3)/2 + (1 - w1 - w2) median with
    w1 = 2.2 / (2.2 + n^0.75) and w2 = 0.7 - 0.72 / n^0.55 (default), or Wan et al. 2014, eq. 10,
    (min + 2 q1 + 2 median + 2 q3 + max)/8 (mean_method="wan").
    SD: Shi et al. 2020, eq. 11, (max - min)/theta1(n) + (q3 - q1)/theta2(n) with
    theta1 = (2 + 0.14 n^0.6) Phi^-1((n - 0.375)/(n + 0.25)) and
    theta2 = (2 + 2/(0.07 n^0.6)) Phi^-1((0.75n - 0.125)/(n + 0.25)) (default; this always uses the formula
    divisors, as the paper and R's meta do), or Wan et al. 2014, eqs. 12-13, the average of the range- and
    IQR-based estimates (sd_method="wan"; `small_n` as in `wan_range_divisor`).

    The provenance schema has no five-number kind, so `method` is "median-iqr-to-mean-sd"; the note says that
    the range was used too.
    """
    _choice("mean_method", mean_method, ("luo", "wan"))
    _choice("sd_method", sd_method, ("shi", "wan"))
    _choice("small_n", small_n, ("formula", "table"))
    minimum, q1, median = _number("minimum", minimum), _number("q1", q1), _number("median", median)
    q3, maximum = _number("q3", q3), _number("maximum", maximum)
    n = _sample_size(n, 2, "an SD cannot be estimated from one observation")
    _in_order(
        [("minimum", minimum), ("q1", q1), ("median", median), ("q3", q3), ("maximum", maximum)],
        [("q1", "q3"), ("minimum", "maximum")],
    )

    if mean_method == "luo":
        w1 = 2.2 / (2.2 + n**0.75)
        w2 = 0.7 - 0.72 / n**0.55
        mean = w1 * (minimum + maximum) / 2 + w2 * (q1 + q3) / 2 + (1 - w1 - w2) * median
        mean_text = f"{LUO_2018}, eq. 15"
    else:
        mean = (minimum + 2 * q1 + 2 * median + 2 * q3 + maximum) / 8
        mean_text = f"{WAN_2014}, eq. 10"

    if sd_method == "shi":
        theta1 = (2 + 0.14 * n**0.6) * _z((n - 0.375) / (n + 0.25))
        theta2 = (2 + 2 / (0.07 * n**0.6)) * _z((0.75 * n - 0.125) / (n + 0.25))
        sd = (maximum - minimum) / theta1 + (q3 - q1) / theta2
        sd_text = f"SD = range / {_fmt(theta1)} + IQR / {_fmt(theta2)} by {SHI_2020}, eq. 11"
    else:
        xi, eta = wan_range_divisor(n, small_n), wan_iqr_divisor(n, small_n)
        sd = ((maximum - minimum) / xi + (q3 - q1) / eta) / 2
        if small_n == "table" and n <= WAN_TABLE2_MAX_N:
            equation = "eq. 12 with the exact divisors of Tables 1-2 where they reach, as R's meta"
        else:
            equation = "eq. 13, the divisors of eqs. 9 and 16"
        sd_text = f"SD = (range / {_fmt(xi)} + IQR / {_fmt(eta)}) / 2 by {WAN_2014}, {equation}"
    note = (
        f"mean {_fmt(mean)} and SD {_fmt(sd)} estimated from the five-number summary (minimum {_fmt(minimum)}, "
        f"q1 {_fmt(q1)}, median {_fmt(median)}, q3 {_fmt(q3)}, maximum {_fmt(maximum)}), n = {n}: "
        f"mean by {mean_text}; {sd_text}; {_NORMALITY}"
    )
    return Converted(mean, sd, "median-iqr-to-mean-sd", note)


# --------------------------------------------------------------------------------------------------------------
# SD from a standard error or a confidence interval of a group mean


def sd_from_se(se: float, n: int) -> Converted:
    """SD = SE * sqrt(n), for the standard error of one group's mean (not of a difference between groups)."""
    se = _number("se", se)
    if se <= 0:
        raise ValueError(f"the standard error must be positive, not {_fmt(se)}")
    n = _sample_size(n, 1, "")
    sd = se * math.sqrt(n)
    note = f"SD {_fmt(sd)} = SE {_fmt(se)} x sqrt({n}) (SE of the group mean; {HANDBOOK})"
    return Converted(None, sd, "se-to-sd", note)


def sd_from_ci(
    low: float, high: float, n: int, level: float = 0.95, distribution: Literal["t", "normal"] = "t"
) -> Converted:
    """SD from the confidence interval of one group's mean: sqrt(n) (high - low) / (2 q).

    q is the (1 + level)/2 quantile of
    * distribution="t" (default): the t distribution with n - 1 degrees of freedom when n < 60
      (`CI_T_BELOW_N`), the standard normal when n >= 60. This is the Cochrane Handbook's rule of thumb
      (section 6.5.2.2): small samples' intervals should have been computed from t; above 100 the normal was
      surely used, and between 60 and 100 either may have been, where the two differ by under 2%.
    * distribution="normal": the standard normal whatever n (1.96 for a 95% interval).

    The returned mean is the interval's midpoint, which is the mean when the interval is symmetric about it,
    as an interval for a mean is. Not for intervals of a difference between groups.
    """
    low, high = _number("low", low), _number("high", high)
    if not low < high:
        raise ValueError(f"the lower limit ({_fmt(low)}) must be smaller than the upper limit ({_fmt(high)})")
    level = _number("level", level)
    if not 0 < level < 1:
        hint = f" (write {level / 100:g}, not {level:g})" if 1 < level < 100 else ""
        raise ValueError(f"level must be between 0 and 1{hint}; got {level:g}")
    _choice("distribution", distribution, ("t", "normal"))
    n = _sample_size(n, 1, "")
    p = (1 + level) / 2
    if distribution == "t" and n < CI_T_BELOW_N:
        if n < 2:
            raise ValueError(
                "a t-based interval needs n >= 2 (n - 1 degrees of freedom); use distribution='normal' "
                "if the interval came from the normal distribution"
            )
        q = t_quantile(p, n - 1)
        rule = f"t quantile with {n - 1} df, since n < {CI_T_BELOW_N}"
    else:
        q = _z(p)
        rule = "normal quantile" + (f", since n >= {CI_T_BELOW_N}" if distribution == "t" else "")
    sd = math.sqrt(n) * (high - low) / (2 * q)
    mean = (low + high) / 2
    note = (
        f"SD {_fmt(sd)} = sqrt({n}) x ({_fmt(high)} - {_fmt(low)}) / (2 x {q:.4f}) from the {100 * level:.4g}% "
        f"CI of the group mean ({rule}; {HANDBOOK}); mean {_fmt(mean)} taken as the interval's midpoint"
    )
    return Converted(mean, sd, "ci-to-sd", note)


# --------------------------------------------------------------------------------------------------------------
# units of the review's laboratory outcomes

MICRO = "\u00b5"  # MICRO SIGN, the spelling this module writes; GREEK SMALL LETTER MU, 'u' and 'mcg' are read too

# powers of ten relative to grams and litres
_MASS = {"g": 0, "mg": -3, MICRO + "g": -6, "ng": -9, "pg": -12}
_VOLUME = {"L": 0, "dL": -1, "mL": -3}


@dataclass(frozen=True)
class _Analyte:
    name: str
    units: tuple[str, ...]
    has_basis: bool = False  # D-dimer: reported in fibrinogen-equivalent (FEU) or D-dimer units (DDU)


_ANALYTES = {
    "crp": _Analyte("CRP", ("mg/L", "mg/dL", MICRO + "g/mL")),
    "d-dimer": _Analyte("D-dimer", ("mg/L", MICRO + "g/mL", MICRO + "g/L", "ng/mL"), has_basis=True),
    "il-6": _Analyte("IL-6", ("pg/mL", "ng/L", "ng/mL")),
}
_ANALYTE_NAMES = {
    "crp": "crp",
    "creactiveprotein": "crp",
    "hscrp": "crp",
    "ddimer": "d-dimer",
    "il6": "il-6",
    "interleukin6": "il-6",
}

_UNIT = re.compile(r"(mcg|ug|\u00b5g|\u03bcg|mg|ng|pg|g)/(l|dl|ml)")
_BASIS = re.compile(r"\(?\b(feu|ddu)\b\)?", re.IGNORECASE)


def supported_units() -> dict[str, tuple[str, ...]]:
    """Analyte name -> the units `convert_unit` reads for it."""
    return {a.name: a.units for a in _ANALYTES.values()}


def _supported_text() -> str:
    return "; ".join(
        f"{a.name}: {', '.join(a.units)}" + (" (optionally followed by FEU or DDU)" if a.has_basis else "")
        for a in _ANALYTES.values()
    )


def _analyte(name: str) -> _Analyte:
    if not isinstance(name, str):
        raise ValueError(f"the analyte must be a name such as 'CRP', not {name!r}")
    key = _ANALYTE_NAMES.get(re.sub(r"[^a-z0-9]", "", name.lower()))
    if key is None:
        raise ValueError(f"no unit conversions for the analyte {name!r}; supported: {_supported_text()}")
    return _ANALYTES[key]


def _unit(text: str, analyte: _Analyte, role: str) -> tuple[str, str | None]:
    """(canonical unit, 'FEU' / 'DDU' / None) for a unit string such as 'ug/ml FEU' or 'µg FEU/mL'."""
    if not isinstance(text, str):
        raise ValueError(f"{role} must be a unit string such as 'mg/L', not {text!r}")
    bases = {b.upper() for b in _BASIS.findall(text)}
    if len(bases) > 1:
        raise ValueError(f"{role} {text!r} names both FEU and DDU")
    basis = bases.pop() if bases else None
    bare = re.sub(r"\s+", "", _BASIS.sub(" ", text))
    match = _UNIT.fullmatch(bare.lower())
    if match is None:
        raise ValueError(
            f"cannot read the {role} {text!r} for {analyte.name}; supported units for {analyte.name}: "
            f"{', '.join(analyte.units)}"
        )
    mass, volume = match.groups()
    if mass in ("mcg", "ug", "\u03bcg"):
        mass = MICRO + "g"
    unit = mass + "/" + {"l": "L", "dl": "dL", "ml": "mL"}[volume]
    if unit not in analyte.units:
        raise ValueError(
            f"{analyte.name} in {unit} is not supported ({role} {text!r}); supported units for "
            f"{analyte.name}: {', '.join(analyte.units)}"
        )
    if basis and not analyte.has_basis:
        raise ValueError(f"{role} {text!r}: FEU and DDU apply to D-dimer only, not to {analyte.name}")
    return unit, basis


def _exponent(unit: str) -> int:
    mass, volume = unit.split("/")
    return _MASS[mass] - _VOLUME[volume]


def convert_unit(value: float, from_unit: str, to_unit: str, analyte: str) -> ConvertedUnit:
    """`value` in `from_unit` expressed in `to_unit`, for CRP, D-dimer or IL-6.

    CRP: mg/L, mg/dL (1 mg/dL = 10 mg/L), µg/mL (= mg/L).
    D-dimer: mg/L = µg/mL; ng/mL = µg/L = mg/L / 1000. A unit may carry the assay's reporting basis, "FEU"
    (fibrinogen-equivalent units) or "DDU" (D-dimer units): "mg/L FEU", "ng/mL DDU", "µg FEU/mL". FEU and DDU
    are never converted into each other: there is no fixed factor that holds across assays (FEU is often said to
    be about twice DDU, but that depends on the assay), so mixing them raises. A basis on the source unit is
    carried to the result; a basis asked for on the target that the source does not state raises too.
    IL-6: pg/mL = ng/L; 1 ng/mL = 1000 pg/mL.

    These are pure changes of scale, so the same conversion applies to a mean, SD, median, quartile or limit.
    'ug', 'mcg' and the Greek letter mu are read as the micro sign; case and spaces do not matter.
    """
    value = _number("value", value)
    spec = _analyte(analyte)
    source, source_basis = _unit(from_unit, spec, "from_unit")
    target, target_basis = _unit(to_unit, spec, "to_unit")

    if spec.has_basis:
        if source_basis and target_basis and source_basis != target_basis:
            raise ValueError(
                f"{spec.name}: the assay's reporting unit differs (FEU vs DDU): {from_unit!r} is in {source_basis}, "
                f"{to_unit!r} in {target_basis}. FEU (fibrinogen-equivalent units) and DDU (D-dimer units) must "
                "not be silently mixed: no fixed factor converts one into the other reliably across assays. Keep "
                "the value in its own basis, analyse the two bases separately, or leave the study out"
            )
        if target_basis and not source_basis:
            raise ValueError(
                f"{spec.name}: {from_unit!r} does not say whether the assay reports in FEU or DDU, so the value "
                f"cannot be labelled {target_basis}; find the basis in the study's methods, or convert to "
                f"{target!r} without a basis"
            )
    basis = source_basis or target_basis
    shown_source = source + (f" {basis}" if basis else "")
    shown_target = target + (f" {basis}" if basis else "")

    shift = _exponent(source) - _exponent(target)
    if shift >= 0:
        result = value * 10**shift
        how = f"x {10**shift}"
    else:
        result = value / 10**-shift
        how = f"/ {10**-shift}"
    unstated = " (FEU or DDU not stated)" if spec.has_basis and not basis else ""
    if shift == 0:
        note = (
            f"{spec.name} {_fmt(value)} {shown_source} is the same quantity as {_fmt(result)} {shown_target}"
            f"{unstated}; no arithmetic"
        )
        return ConvertedUnit(result, shown_target, None, note)
    note = f"{spec.name} {_fmt(value)} {shown_source} converted to {_fmt(result)} {shown_target} ({how}){unstated}"
    return ConvertedUnit(result, shown_target, "unit", note)


def _quad(*args, **kwargs):
    """scipy.integrate.quad, imported on first use: few reviews need the integrals, every build would pay the import."""
    from scipy import integrate

    return integrate.quad(*args, **kwargs)
