"""builder/ingest/conversions.py: mean and SD from medians, SD from an SE or a CI, and lab-unit conversions.

R's `meta` package is not installed here, so nothing below is pinned from it. Instead each estimator is checked
against
* the published formulas, recomputed in this file in a different form from the module's (Shi et al.'s weighted
  form, eq. 10, against the module's shortcut form, eq. 11; normal quantiles from the standard library's
  NormalDist instead of scipy);
* numbers printed elsewhere: the examples in the help pages of R package metaBLUE 1.0.0 (`Wan.std`,
  `Luo.mean`), entries of Wan et al.'s Tables 1 and 2, exact expected ranges of 2 and 3 normal draws, and the
  t value of the Cochrane Handbook's example (section 6.5.2.2);
* properties every location-scale estimator must have: shifting all five numbers by a constant shifts the mean
  by it and leaves the SD alone, scaling by c > 0 scales both, mirroring the summary negates the mean.
"""

from __future__ import annotations

import math
import re
from dataclasses import FrozenInstanceError
from statistics import NormalDist

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.contract.common import Provenance
from builder.ingest.conversions import (
    CI_T_BELOW_N,
    MICRO,
    Converted,
    _expected_normal_order_statistic,
    _expected_normal_range,
    convert_unit,
    mean_sd_from_five_numbers,
    mean_sd_from_median_iqr,
    mean_sd_from_median_range,
    sd_from_ci,
    sd_from_se,
    supported_units,
    wan_iqr_divisor,
    wan_range_divisor,
)

PHI_INV = NormalDist().inv_cdf

# --------------------------------------------------------------------------------------------------------------
# the published formulas, written out again


def xi(n):  # Wan et al. 2014, eq. 9
    return 2 * PHI_INV((n - 0.375) / (n + 0.25))


def eta(n):  # Wan et al. 2014, eq. 16
    return 2 * PHI_INV((0.75 * n - 0.125) / (n + 0.25))


def luo_range(a, m, b, n):  # Luo et al. 2018, eq. 7
    w = 4 / (4 + n**0.75)
    return w * (a + b) / 2 + (1 - w) * m


def luo_iqr(q1, m, q3, n):  # Luo et al. 2018, eq. 11
    w = 0.7 + 0.39 / n
    return w * (q1 + q3) / 2 + (1 - w) * m


def luo_five(a, q1, m, q3, b, n):  # Luo et al. 2018, eq. 15
    w1 = 2.2 / (2.2 + n**0.75)
    w2 = 0.7 - 0.72 / n**0.55
    return w1 * (a + b) / 2 + w2 * (q1 + q3) / 2 + (1 - w1 - w2) * m


def shi_sd(a, q1, q3, b, n):  # Shi et al. 2020, eq. 10: a weighted mean of Wan's two estimates
    w = 1 / (1 + 0.07 * n**0.6)
    return w * (b - a) / xi(n) + (1 - w) * (q3 - q1) / eta(n)


SUMMARIES = [  # (minimum, q1, median, q3, maximum, n)
    (1.0, 4.0, 6.0, 9.0, 20.0, 30),
    (0.2, 1.1, 2.9, 7.4, 41.0, 12),
    (-3.0, -1.0, 0.5, 1.5, 4.0, 5),
    (10.0, 12.0, 12.5, 13.0, 15.0, 2),
    (100.0, 180.0, 230.0, 310.0, 950.0, 251),
    (0.01, 0.3, 0.45, 0.9, 8.0, 1000),
]


@pytest.mark.parametrize("a, q1, m, q3, b, n", SUMMARIES)
def test_median_iqr_matches_luo_and_wan(a, q1, m, q3, b, n):
    got = mean_sd_from_median_iqr(m, q1, q3, n)
    assert got.mean == pytest.approx(luo_iqr(q1, m, q3, n), rel=1e-12)
    assert got.sd == pytest.approx((q3 - q1) / eta(n), rel=1e-9)
    assert got.method == "median-iqr-to-mean-sd"
    wan = mean_sd_from_median_iqr(m, q1, q3, n, mean_method="wan")
    assert wan.mean == pytest.approx((q1 + m + q3) / 3, rel=1e-12)  # Wan eq. 14
    assert wan.sd == got.sd


@pytest.mark.parametrize("a, q1, m, q3, b, n", SUMMARIES)
def test_median_range_matches_luo_and_wan(a, q1, m, q3, b, n):
    got = mean_sd_from_median_range(m, a, b, n)
    assert got.mean == pytest.approx(luo_range(a, m, b, n), rel=1e-12)
    assert got.sd == pytest.approx((b - a) / xi(n), rel=1e-9)
    assert got.method == "median-range-to-mean-sd"
    wan = mean_sd_from_median_range(m, a, b, n, mean_method="wan")
    assert wan.mean == pytest.approx((a + 2 * m + b) / 4 + (a - 2 * m + b) / (4 * n), rel=1e-12)  # Wan eq. 2


@pytest.mark.parametrize("a, q1, m, q3, b, n", SUMMARIES)
def test_five_numbers_match_luo_shi_and_wan(a, q1, m, q3, b, n):
    got = mean_sd_from_five_numbers(a, q1, m, q3, b, n)
    assert got.mean == pytest.approx(luo_five(a, q1, m, q3, b, n), rel=1e-12)
    assert got.sd == pytest.approx(shi_sd(a, q1, q3, b, n), rel=1e-9)
    wan = mean_sd_from_five_numbers(a, q1, m, q3, b, n, mean_method="wan", sd_method="wan")
    assert wan.mean == pytest.approx((a + 2 * q1 + 2 * m + 2 * q3 + b) / 8, rel=1e-12)  # Wan eq. 10
    assert wan.sd == pytest.approx(((b - a) / xi(n) + (q3 - q1) / eta(n)) / 2, rel=1e-9)  # Wan eq. 13


def test_shi_weight_moves_from_range_to_iqr_as_n_grows():
    """Shi's weight on the range-based estimate, 1 / (1 + 0.07 n^0.6), falls with n: only a summary whose
    range and IQR disagree shows it, so take one whose range suggests a larger SD than its IQR."""

    def range_based(n):
        return (20 - 0) / xi(n)

    def iqr_based(n):
        return (11 - 9) / eta(n)

    for n in (5, 50, 500, 5000):
        sd = mean_sd_from_five_numbers(0, 9, 10, 11, 20, n).sd
        assert iqr_based(n) < sd < range_based(n)
    share = [
        (mean_sd_from_five_numbers(0, 9, 10, 11, 20, n).sd - iqr_based(n)) / (range_based(n) - iqr_based(n))
        for n in (5, 50, 500, 5000)
    ]
    assert share == sorted(share, reverse=True)
    assert share[0] == pytest.approx(1 / (1 + 0.07 * 5**0.6), rel=1e-9)


def test_printed_metablue_examples():
    """R package metaBLUE 1.0.0 prints, in its help pages, Wan.std(c(1, 4, 10), 30, "S1") = 2.205578 and
    Luo.mean(c(1, 4, 10), 30, "S1") = 4.356748 (minimum 1, median 4, maximum 10, n = 30)."""
    got = mean_sd_from_median_range(4, 1, 10, 30)
    assert got.sd == pytest.approx(2.205578, abs=5e-7)
    assert got.mean == pytest.approx(4.356748, abs=5e-7)


# --------------------------------------------------------------------------------------------------------------
# Wan's divisors: formula and exact ("table") values


def test_formula_divisors():
    for n in (2, 3, 5, 10, 27, 50, 51, 200, 202, 10_000):
        assert wan_range_divisor(n) == pytest.approx(xi(n), rel=1e-12)
        assert wan_iqr_divisor(n) == pytest.approx(eta(n), rel=1e-12)
    # for large n the IQR divisor tends to the normal's IQR, 2 * 0.6745 = 1.349
    assert wan_iqr_divisor(10**7) == pytest.approx(2 * PHI_INV(0.75), rel=1e-6)


def test_exact_expected_values_against_closed_forms():
    # E(range) of 2 and 3 standard normal draws: 2 / sqrt(pi) and 3 / sqrt(pi)
    assert _expected_normal_range(2) == pytest.approx(2 / math.sqrt(math.pi), rel=1e-10)
    assert _expected_normal_range(3) == pytest.approx(3 / math.sqrt(math.pi), rel=1e-10)
    # the median of an odd sample has expectation 0; E(max of 2) = 1 / sqrt(pi)
    assert _expected_normal_order_statistic(3, 5) == pytest.approx(0, abs=1e-10)
    assert _expected_normal_order_statistic(2, 2) == pytest.approx(1 / math.sqrt(math.pi), rel=1e-10)
    # symmetry: E(Z_(r)) = -E(Z_(n+1-r))
    assert _expected_normal_order_statistic(4, 21) == pytest.approx(
        -_expected_normal_order_statistic(18, 21), rel=1e-10
    )


@pytest.mark.parametrize("n, printed", [(2, 1.128), (3, 1.693), (5, 2.326), (10, 3.078), (30, 4.086), (50, 4.498)])
def test_table_range_divisor_matches_wan_table_1(n, printed):
    assert wan_range_divisor(n, "table") == printed


@pytest.mark.parametrize("q, printed", [(1, 0.990), (2, 1.144), (10, 1.303), (50, 1.340)])
def test_table_iqr_divisor_matches_wan_table_2(q, printed):
    # meta looks up Q = ceiling((n - 1) / 4), so every n from 4Q - 2 to 4Q + 1 gets Table 2's value for Q
    for n in range(max(2, 4 * q - 2), 4 * q + 2):
        assert wan_iqr_divisor(n, "table") == printed


def test_table_entry_where_the_published_rounding_differs():
    """Wan's Table 1 prints 3.259 for n = 12; the integral is 3.25846 (the quality-control constant d2 for
    n = 12 is 3.258), so the computed value is used. Table 2's Q = 12 and Q = 24 (1.311, 1.330) likewise
    round up values of 1.31047 and 1.32949. These three differ from R's meta by 0.001."""
    assert wan_range_divisor(12, "table") == 3.258
    assert _expected_normal_range(12) == pytest.approx(3.25846, abs=1e-5)


def test_table_mode_switches_to_the_formula_where_the_tables_end():
    assert wan_range_divisor(51, "table") == wan_range_divisor(51)
    assert wan_range_divisor(50, "table") != pytest.approx(wan_range_divisor(50), rel=1e-6)
    assert wan_iqr_divisor(202, "table") == wan_iqr_divisor(202)
    assert wan_iqr_divisor(201, "table") != pytest.approx(wan_iqr_divisor(201), rel=1e-6)
    # the range formula approximates the exact expected range: 4.5% too large at n = 2, within 1.5% from n = 5
    assert wan_range_divisor(2) == pytest.approx(_expected_normal_range(2), rel=0.045)
    for n in range(5, 51):
        assert wan_range_divisor(n) == pytest.approx(_expected_normal_range(n), rel=0.015)


def test_table_mode_reaches_the_estimators():
    table = mean_sd_from_median_range(4, 1, 10, 5, small_n="table")
    assert table.sd == pytest.approx(9 / 2.326, rel=1e-12)
    assert "Table 1" in table.note
    table = mean_sd_from_median_iqr(4, 3, 6, 5, small_n="table")
    assert table.sd == pytest.approx(3 / 0.990, rel=1e-12)
    five = mean_sd_from_five_numbers(1, 3, 4, 6, 10, 5, sd_method="wan", small_n="table")
    assert five.sd == pytest.approx((9 / 2.326 + 3 / 0.990) / 2, rel=1e-12)
    # Shi's estimator has no table variant
    assert (
        mean_sd_from_five_numbers(1, 3, 4, 6, 10, 5, small_n="table").sd
        == mean_sd_from_five_numbers(1, 3, 4, 6, 10, 5).sd
    )


# --------------------------------------------------------------------------------------------------------------
# location-scale properties


def five_numbers():
    values = st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False), min_size=5, max_size=5)
    return values.map(sorted).filter(lambda v: v[3] - v[1] > 1e-3 and v[4] - v[0] > 1e-3)


ESTIMATORS = {
    "iqr": lambda v, n, **kw: mean_sd_from_median_iqr(v[2], v[1], v[3], n, **kw),
    "range": lambda v, n, **kw: mean_sd_from_median_range(v[2], v[0], v[4], n, **kw),
    "five": lambda v, n, **kw: mean_sd_from_five_numbers(*v, n, **kw),
}
VARIANTS = [
    ("iqr", {}),
    ("iqr", {"mean_method": "wan"}),
    ("range", {}),
    ("range", {"mean_method": "wan"}),
    ("five", {}),
    ("five", {"mean_method": "wan", "sd_method": "wan"}),
    ("five", {"sd_method": "wan", "small_n": "table"}),
]


@pytest.mark.parametrize("kind, options", VARIANTS)
@settings(max_examples=60, derandomize=True, deadline=None)
@given(v=five_numbers(), n=st.integers(2, 5000), shift=st.floats(-1e3, 1e3), scale=st.floats(0.01, 100))
def test_shift_scale_and_mirror(kind, options, v, n, shift, scale):
    estimate = ESTIMATORS[kind]
    base = estimate(v, n, **options)
    size = max(abs(x) for x in v) + abs(shift) + 1
    assert base.sd > 0
    assert min(v) <= base.mean <= max(v)

    shifted = estimate([x + shift for x in v], n, **options)
    assert shifted.mean == pytest.approx(base.mean + shift, abs=1e-9 * size)
    assert shifted.sd == pytest.approx(base.sd, abs=1e-9 * size)

    scaled = estimate([x * scale for x in v], n, **options)
    assert scaled.mean == pytest.approx(base.mean * scale, rel=1e-9, abs=1e-9 * size * scale)
    assert scaled.sd == pytest.approx(base.sd * scale, rel=1e-9)

    mirrored = estimate([-x for x in reversed(v)], n, **options)
    assert mirrored.mean == pytest.approx(-base.mean, abs=1e-9 * size)
    assert mirrored.sd == pytest.approx(base.sd, rel=1e-9)


def test_symmetric_summary_gives_the_median_as_mean():
    for n in (2, 7, 40, 900):
        assert mean_sd_from_five_numbers(0, 3, 5, 7, 10, n).mean == pytest.approx(5)
        assert mean_sd_from_median_iqr(5, 3, 7, n).mean == pytest.approx(5)
        assert mean_sd_from_median_range(5, 0, 10, n).mean == pytest.approx(5)


def test_monotone_in_spread_and_sample_size():
    # a wider IQR or range means a larger SD
    assert mean_sd_from_median_iqr(5, 4, 6, 30).sd < mean_sd_from_median_iqr(5, 3, 7, 30).sd
    assert mean_sd_from_median_range(5, 1, 9, 30).sd < mean_sd_from_median_range(5, 0, 10, 30).sd
    # a given range is more extreme in a large sample, so the SD it implies shrinks with n
    sds = [mean_sd_from_median_range(5, 0, 10, n).sd for n in (2, 5, 20, 100, 1000)]
    assert sds == sorted(sds, reverse=True)
    # Luo: the larger the sample, the less the mid-range counts and the nearer the mean is to the median
    means = [mean_sd_from_median_range(2, 0, 20, n).mean for n in (2, 5, 20, 100, 1000)]
    assert means == sorted(means, reverse=True)
    assert means[-1] == pytest.approx(2, abs=0.2)


# --------------------------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: mean_sd_from_median_iqr(5, 6, 9, 20), "q1 (6) is larger than median (5)"),
        (lambda: mean_sd_from_median_iqr(10, 6, 9, 20), "median (10) is larger than q3 (9)"),
        (lambda: mean_sd_from_median_iqr(5, 5, 5, 20), "q1 and q3 are equal"),
        (lambda: mean_sd_from_median_range(5, 7, 9, 20), "minimum (7) is larger than median (5)"),
        (lambda: mean_sd_from_median_range(5, 5, 5, 20), "minimum and maximum are equal"),
        (lambda: mean_sd_from_five_numbers(1, 2, 3, 4, 3.5, 20), "q3 (4) is larger than maximum (3.5)"),
        (lambda: mean_sd_from_five_numbers(2, 1, 3, 4, 5, 20), "minimum (2) is larger than q1 (1)"),
        (lambda: mean_sd_from_five_numbers(1, 3, 3, 3, 5, 20), "q1 and q3 are equal"),
        (lambda: mean_sd_from_median_iqr(5, 4, 6, 1), "at least 2"),
        (lambda: mean_sd_from_median_iqr(5, 4, 6, 0), "at least 1"),
        (lambda: mean_sd_from_median_iqr(5, 4, 6, -3), "at least 1"),
        (lambda: mean_sd_from_median_iqr(5, 4, 6, 12.5), "whole number"),
        (lambda: mean_sd_from_median_iqr(5, 4, 6, True), "whole number"),
        (lambda: mean_sd_from_median_iqr(5, 4, 6, "12"), "whole number"),
        (lambda: mean_sd_from_median_iqr(float("nan"), 4, 6, 12), "finite"),
        (lambda: mean_sd_from_median_range(5, 4, float("inf"), 12), "finite"),
        (lambda: mean_sd_from_median_range("5", 4, 6, 12), "must be a number"),
        (lambda: mean_sd_from_median_iqr(5, 4, 6, 12, mean_method="hozo"), "mean_method"),
        (lambda: mean_sd_from_five_numbers(1, 2, 3, 4, 5, 12, sd_method="bland"), "sd_method"),
        (lambda: mean_sd_from_median_range(5, 4, 6, 12, small_n="exact"), "small_n"),
        (lambda: sd_from_se(0, 10), "positive"),
        (lambda: sd_from_se(-1, 10), "positive"),
        (lambda: sd_from_se(1, 0), "at least 1"),
        (lambda: sd_from_ci(5, 5, 10), "smaller than the upper limit"),
        (lambda: sd_from_ci(6, 5, 10), "smaller than the upper limit"),
        (lambda: sd_from_ci(1, 5, 10, level=95), "write 0.95"),
        (lambda: sd_from_ci(1, 5, 10, level=0), "between 0 and 1"),
        (lambda: sd_from_ci(1, 5, 10, distribution="z"), "distribution"),
        (lambda: sd_from_ci(1, 5, 1), "n >= 2"),
    ],
)
def test_validation(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_small_n_is_checked_even_where_it_does_not_apply():
    with pytest.raises(ValueError, match="small_n"):
        mean_sd_from_five_numbers(1, 2, 3, 4, 5, 12, small_n="exact")
    with pytest.raises(ValueError, match="small_n"):
        mean_sd_from_median_iqr(3, 2, 4, 12, small_n="meta")


def test_equal_neighbours_are_allowed():
    # ties between neighbouring numbers are possible (discrete data); only a zero IQR or range is refused
    got = mean_sd_from_five_numbers(0, 2, 2, 5, 9, 40)
    assert got.sd > 0
    assert mean_sd_from_median_iqr(3, 3, 8, 40).sd > 0


def test_whole_float_sample_size_is_accepted():
    assert mean_sd_from_median_iqr(5, 4, 7, 30.0) == mean_sd_from_median_iqr(5, 4, 7, 30)


# --------------------------------------------------------------------------------------------------------------
# SD from SE and CI


def test_sd_from_se():
    got = sd_from_se(0.4, 25)
    assert got.sd == pytest.approx(2.0)
    assert got.mean is None
    assert got.method == "se-to-sd"
    assert sd_from_se(1.5, 1).sd == 1.5


def test_sd_from_ci_small_sample_uses_t_as_in_the_handbook_example():
    # Cochrane Handbook 6.5.2.2: for n = 25 the 95% t value is 2.0639 (24 df), so the divisor is 4.128, not 3.92
    got = sd_from_ci(1.42, 4.56, 25)
    assert got.sd == pytest.approx(5 * (4.56 - 1.42) / (2 * 2.0639), rel=2e-5)
    assert got.mean == pytest.approx((1.42 + 4.56) / 2)
    assert got.method == "ci-to-sd"
    assert "t quantile with 24 df" in got.note


def test_sd_from_ci_large_sample_uses_normal():
    # Handbook: 3.92, 3.29 and 5.15 standard errors wide for 95%, 90% and 99% intervals of large samples
    for level, width_in_se in ((0.95, 3.92), (0.90, 3.29), (0.99, 5.15)):
        got = sd_from_ci(10, 14, 400, level=level)
        assert got.sd == pytest.approx(20 * 4 / width_in_se, rel=2e-3)
        assert got.sd == pytest.approx(20 * 4 / (2 * PHI_INV((1 + level) / 2)), rel=1e-12)


def test_sd_from_ci_threshold_is_explicit():
    assert CI_T_BELOW_N == 60
    below, at = sd_from_ci(1, 3, CI_T_BELOW_N - 1), sd_from_ci(1, 3, CI_T_BELOW_N)
    assert "t quantile with 58 df" in below.note
    assert "normal quantile" in at.note
    assert at.sd == pytest.approx(math.sqrt(60) * 2 / (2 * PHI_INV(0.975)), rel=1e-12)
    # t's quantile is larger, so the same interval implies a smaller SD below the threshold
    assert below.sd / math.sqrt(59) < at.sd / math.sqrt(60)
    # distribution="normal" ignores n
    small = sd_from_ci(1, 3, 10, distribution="normal")
    assert small.sd == pytest.approx(math.sqrt(10) * 2 / (2 * PHI_INV(0.975)), rel=1e-12)
    assert sd_from_ci(1, 3, 1, distribution="normal").sd > 0


# --------------------------------------------------------------------------------------------------------------
# results feed the provenance model


def test_results_are_frozen_and_fit_provenance():
    results = [
        mean_sd_from_median_iqr(5, 4, 7, 30),
        mean_sd_from_median_range(5, 1, 12, 30),
        mean_sd_from_five_numbers(1, 4, 5, 7, 12, 30),
        sd_from_se(0.3, 30),
        sd_from_ci(2, 4, 30),
        convert_unit(1.2, "mg/dL", "mg/L", "CRP"),
    ]
    for result in results:
        with pytest.raises(FrozenInstanceError):
            result.note = "changed"
        provenance = Provenance(
            kind="inferred", source="Table 2 of the study", reasoning="converted", **result.provenance_fields()
        )
        assert provenance.conversion == result.method
        assert provenance.transformation == result.note
    assert isinstance(results[0], Converted)
    assert "Luo et al. 2018" in results[0].note and "Wan et al. 2014" in results[0].note
    assert "Shi et al. 2020" in results[2].note and "five-number summary" in results[2].note


# --------------------------------------------------------------------------------------------------------------
# units

MU = MICRO + "g"


@pytest.mark.parametrize(
    "analyte, value, from_unit, to_unit, expected",
    [
        ("CRP", 1.2, "mg/dL", "mg/L", 12),
        ("CRP", 35, "mg/L", "mg/dL", 3.5),
        ("CRP", 8, MU + "/mL", "mg/L", 8),
        ("C-reactive protein", 0.7, "mg/dl", "mg/l", 7),
        ("D-dimer", 0.5, "mg/L", "ng/mL", 500),
        ("D-dimer", 0.5, "mg/L", MU + "/L", 500),
        ("D-dimer", 0.5, "mg/L", MU + "/mL", 0.5),
        ("D-dimer", 1830, "ng/mL", "mg/L", 1.83),
        ("D-dimer", 1.83, "mg/L FEU", "ng/mL FEU", 1830),
        ("D-dimer", 240, "ng/mL DDU", "mg/L DDU", 0.24),
        ("ddimer", 2.1, "ug/mL", "ng/mL", 2100),
        ("IL-6", 3, "ng/mL", "pg/mL", 3000),
        ("IL-6", 45.2, "pg/mL", "ng/L", 45.2),
        ("interleukin-6", 12, "pg/ml", "ng/ml", 0.012),
    ],
)
def test_unit_values(analyte, value, from_unit, to_unit, expected):
    assert convert_unit(value, from_unit, to_unit, analyte).value == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("analyte", ["CRP", "D-dimer", "IL-6"])
def test_unit_round_trips(analyte):
    units = supported_units()[analyte]
    for value in (0.013, 1.0, 7.25, 1234.5):
        for a in units:
            for b in units:
                there = convert_unit(value, a, b, analyte)
                back = convert_unit(there.value, there.unit, a, analyte)
                assert back.value == pytest.approx(value, rel=1e-14)
                assert back.unit == a


def test_unit_spellings():
    expected = convert_unit(0.9, MU + "/mL", "ng/mL", "D-dimer").value
    for spelling in ("ug/mL", "ug/ml", "UG/ML", "mcg/mL", "\u03bcg/mL", " \u00b5g / mL "):
        got = convert_unit(0.9, spelling, "ng/mL", "D-dimer")
        assert got.value == expected
    for spelling in ("mg/L FEU", "mg/L (FEU)", "mg FEU/L", "mg/l feu"):
        got = convert_unit(0.9, spelling, "ng/mL", "D-dimer")
        assert got.value == pytest.approx(900)
        assert got.unit == "ng/mL FEU"
    assert convert_unit(1, "ug/mL", "mg/L", "D-dimer").unit == "mg/L"
    assert convert_unit(1, "mg/L", "ug/mL", "CRP").unit == MU + "/mL"


def test_identity_is_not_a_conversion():
    same = convert_unit(0.8, "ug/mL FEU", "mg/L FEU", "D-dimer")
    assert same.value == 0.8 and same.method is None
    assert "conversion" not in same.provenance_fields()
    changed = convert_unit(0.8, "mg/L FEU", "ng/mL FEU", "D-dimer")
    assert changed.method == "unit"
    assert changed.provenance_fields()["conversion"] == "unit"
    assert "FEU or DDU not stated" in convert_unit(0.8, "mg/L", "ng/mL", "D-dimer").note


@pytest.mark.parametrize(
    "from_unit, to_unit", [("mg/L FEU", "mg/L DDU"), ("ng/mL DDU", "ug/mL FEU"), ("ug FEU/mL", "ng DDU/mL")]
)
def test_feu_and_ddu_are_never_mixed(from_unit, to_unit):
    with pytest.raises(ValueError, match=r"reporting unit differs \(FEU vs DDU\)") as error:
        convert_unit(1.0, from_unit, to_unit, "D-dimer")
    assert "reporting unit" in str(error.value)
    assert "must not be silently mixed" in str(error.value)


def test_unit_errors():
    with pytest.raises(ValueError, match="does not say whether the assay reports in FEU or DDU"):
        convert_unit(1.0, "mg/L", "ng/mL FEU", "D-dimer")
    with pytest.raises(ValueError, match="names both FEU and DDU"):
        convert_unit(1.0, "mg/L FEU DDU", "ng/mL", "D-dimer")
    with pytest.raises(ValueError, match="D-dimer only"):
        convert_unit(1.0, "mg/L FEU", "mg/dL", "CRP")
    with pytest.raises(ValueError, match="no unit conversions for the analyte 'ferritin'.*CRP: mg/L, mg/dL"):
        convert_unit(1.0, "ng/mL", "ug/L", "ferritin")
    with pytest.raises(ValueError, match="IL-6 in mg/dL is not supported.*pg/mL, ng/L, ng/mL"):
        convert_unit(1.0, "mg/dL", "pg/mL", "IL-6")
    with pytest.raises(ValueError, match="cannot read the from_unit 'mmol/L' for CRP"):
        convert_unit(1.0, "mmol/L", "mg/L", "CRP")
    with pytest.raises(ValueError, match="finite"):
        convert_unit(float("nan"), "mg/L", "mg/dL", "CRP")
