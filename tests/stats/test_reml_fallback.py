"""REML where plain Fisher scoring oscillates and never converges (found by the synthetic-review generator).

metafor 3.8.1's rma(method="REML") stops with "Fisher scoring algorithm did not converge" on these data;
with control = list(stepadj = 0.5, threshold = 1e-12) it gives tau² = 0.734387610673. Our estimator falls
back to a bracketing root search of the same estimating equation and must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

from builder.stats.tau2 import reml

YI = np.array([-11.6, -8.8, -3.0, -4.0, -14.8, -5.3, -5.2, -6.7, -8.5, -1.6])
VI = np.array(
    [
        49.91729411764705,
        54.48584967320261,
        44.34771739130436,
        16.582033333333335,
        117.64333333333333,
        19.073555555555558,
        17.211951219512194,
        29.63948717948718,
        5.7038067807768265,
        8.047553107789142,
    ]
)


def test_oscillating_fisher_scoring_still_finds_the_reml_estimate():
    # 1e-9: metafor's value is printed to 12 decimals; the yi here are rounded from the generator's 1e-15 noise
    assert reml(YI, VI) == pytest.approx(0.734387610673, abs=1e-9)
