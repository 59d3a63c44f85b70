"""Follow-up refits of an M-H random-effects analysis (RevMan's "M-H, Random": method MH, tau2 DL, Wald interval)
take tau² from the Mantel-Haenszel Q exactly as the main fit does, not ordinary DerSimonian-Laird tau²."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import TODAY
from revman_project import FIXTURES, minimal_project

from builder.analysis import sensitivity
from builder.analysis.fitting import Refitter
from builder.analysis.run import run_all
from builder.ingest.loader import load
from builder.interchange.importer import import_into
from builder.stats.effects import log_odds_ratio
from builder.stats.mh import mantel_haenszel_or
from builder.stats.random import random_effects

# The refits see the same numbers as the main fit, summed in another order at most: agreement to rounding.
ROUNDING = 1e-12


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    tmp_path: Path = tmp_path_factory.mktemp("mh-random")
    text = (FIXTURES / "Fleiss1993.rm5").read_bytes()
    random_file = tmp_path / "Random.rm5"
    random_file.write_bytes(
        text.replace(b'RANDOM="NO" SCALE="100.0" SORT_BY="USER"', b'RANDOM="YES" SCALE="100.0" SORT_BY="USER"', 1)
    )
    project = minimal_project(tmp_path / "review")
    import_into(random_file, project, today=TODAY)
    found = next(r for r in run_all(load(project / "data", today=TODAY)) if r.spec.id == "analysis-1-1")
    assert (found.spec.model, found.spec.method, found.spec.tau2, found.spec.interval) == ("random", "MH", "DL", "wald")
    return found


def _same(a, b) -> None:
    for name in ("estimate", "ci_low", "ci_high"):
        assert math.isclose(getattr(a, name), getattr(b, name), rel_tol=ROUNDING, abs_tol=ROUNDING), name
    assert math.isclose(a.heterogeneity.tau2, b.heterogeneity.tau2, rel_tol=ROUNDING, abs_tol=ROUNDING), "tau2"


def test_all_studies_cumulative_row_is_the_main_fit(result):
    rows = sensitivity.cumulative(result)
    assert len(rows) == len(result.rows)
    _same(rows[-1].fit, result.fit)


def test_leave_one_out_row_is_a_direct_fit_of_the_rest(result):
    """Without the first trial: tau² by DerSimonian-Laird's formula at the Mantel-Haenszel Q of the six left, and
    inverse-variance pooling at that tau², computed here from the 2x2 tables."""
    rows = sensitivity.leave_one_out(result)
    cells = np.array(
        [[r.inputs[c] for c in ("events_exp", "total_exp", "events_ctrl", "total_ctrl")] for r in result.rows[1:]]
    )
    es = log_odds_ratio(*cells.T)
    q = mantel_haenszel_or(*cells.T, es).heterogeneity.q
    w = 1 / es.vi
    k = len(w)
    tau2 = max(0.0, (q - (k - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    ws = 1 / (es.vi + tau2)
    estimate = float((ws * es.yi).sum() / ws.sum())
    got = rows[0].fit
    assert math.isclose(got.heterogeneity.tau2, tau2, rel_tol=ROUNDING, abs_tol=ROUNDING)
    assert math.isclose(got.estimate, estimate, rel_tol=ROUNDING, abs_tol=ROUNDING)
    # ... and not ordinary DerSimonian-Laird tau² of the same six trials. The aspirin trials agree well, so the two
    # Q statistics differ only in the eighth digit; still far beyond rounding.
    assert not math.isclose(random_effects(es, "DL", "wald").heterogeneity.tau2, tau2, rel_tol=1e-3 * 1e-6)


def test_refitter_gives_the_main_fit_on_all_studies(result):
    refit = Refitter.of(result)
    _same(refit.on(np.ones(len(result.rows), dtype=bool)), result.fit)
