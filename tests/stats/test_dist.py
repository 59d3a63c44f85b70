"""builder/stats/dist.py calls two tail functions through scipy.special.cython_special instead of the ufuncs of
scipy.special that scipy.stats uses: they must give the very same numbers, bit for bit, as Python floats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from builder.stats import dist

DFS = [1, 2, 3, 4, 7, 12, 29, 30, 99, 999, 1e5, 0.5, 2.5]


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("df", DFS)
def test_t_two_sided_p_is_the_ufuncs(df):
    rng = np.random.default_rng(int(df * 10))
    ts = np.concatenate(
        [
            rng.standard_cauchy(300) * rng.choice([1e-6, 1e-2, 1.0, 10.0, 1e4], 300),
            [0.0, -0.0, 1.96, -2.18, 40.0, np.inf, -np.inf, np.nan, 1e300],
        ]
    )
    for t in ts.tolist():
        got = dist.t_two_sided_p(t, df)
        assert type(got) is float
        assert same(got, float(2 * special.stdtr(float(df), -abs(t)))), t


@pytest.mark.parametrize("df", DFS)
def test_chi2_sf_is_the_ufuncs(df):
    rng = np.random.default_rng(int(df * 10) + 1)
    qs = np.concatenate(
        [
            np.abs(rng.standard_cauchy(300)) * rng.choice([1e-6, 1e-2, 1.0, 10.0, 1e4], 300),
            [0.0, float(df), float(df) - 1, 1e300, np.inf, np.nan],
        ]
    )
    for q in qs.tolist():
        got = dist.chi2_sf(q, df)
        assert type(got) is float
        assert same(got, float(special.chdtrc(float(df), q))), q
