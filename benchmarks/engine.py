"""Microseconds per model fit, ours against metafor's rma(), for k = 13 and k = 1000 studies.

Run from the repository root: `.venv/bin/python benchmarks/engine.py`. metafor is timed only when Rscript
with metafor is available (it is not a dependency). Both fit the same simulated log odds ratios.

"per fit" compares like with like: our random-effects fit without the Q-profile interval of tau² against
`rma()`, which does not compute it either; the "+ Q-profile" rows time the full result the site uses (metafor
needs a separate `confint()` call for it). Each figure is the fastest of REPEATS equal blocks of fits, on
both sides, so that a moment of load from other processes does not count; the header gives the machine's load,
because the figures still move with it.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from builder.stats import fixed_iv, random_effects  # noqa: E402
from builder.stats.effects import EffectSizes  # noqa: E402

REPEATS = 5
WARM_UP = 0.5  # seconds of untimed fits before each of our rows

MODELS = [
    ("REML, HKSJ", "REML", "hksj", 'method="REML", test="knha"'),
    ("+ Q-profile", "REML", "hksj+profile", None),
    ("DL, Wald", "DL", "wald", 'method="DL"'),
    ("PM, Wald", "PM", "wald", 'method="PM"'),
    ("fixed effect", None, None, 'method="FE"'),
]


def data(k: int, seed: int = 1) -> EffectSizes:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.02, 0.5, k)
    yi = rng.normal(-0.5, np.sqrt(vi + 0.1))
    return EffectSizes(yi, vi, np.ones(k, dtype=bool), np.zeros(k, dtype=bool))


def warm_up(fit, seconds: float = WARM_UP) -> None:
    """Fit for `seconds` before timing. On the 2-core development machine a fresh process was seen, in some
    runs, to fit up to 1.7 times slower during its first quarter second than later, which covered all REPEATS
    blocks of the first row timed (REML with HKSJ at k = 13). metafor's blocks last long enough (a quarter
    second each) for the best of them to be past such a start."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        fit()


def ours(es: EffectSizes, tau2: str | None, ci: str | None, n: int) -> float:
    if tau2 is None:
        fit = lambda: fixed_iv(es)  # noqa: E731
    else:  # rma() alone computes no CI for tau²; "+ Q-profile" adds our confint()-equivalent
        profile = ci.endswith("+profile")
        fit = lambda: random_effects(es, tau2, ci.removesuffix("+profile"), tau2_interval=profile)  # noqa: E731
    warm_up(fit)
    block = max(1, n // REPEATS)
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(block):
            fit()
        best = min(best, (time.perf_counter() - start) / block)
    return best * 1e6


def metafor(es: EffectSizes, args: str, n: int) -> float | None:
    if not shutil.which("Rscript"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        path.write_text("yi,vi\n" + "\n".join(f"{float(y)!r},{float(v)!r}" for y, v in zip(es.yi, es.vi)) + "\n")
        block = max(1, n // REPEATS)
        script = (
            f'suppressMessages(library(metafor)); d <- read.csv("{path.as_posix()}"); '
            f"invisible(rma(yi, vi, data=d, {args})); best <- Inf; "
            f'for (b in seq_len({REPEATS})) {{ s <- proc.time()[["elapsed"]]; '
            f"for (i in seq_len({block})) invisible(rma(yi, vi, data=d, {args})); "
            f'best <- min(best, (proc.time()[["elapsed"]] - s) / {block}) }}; '
            f"cat(best * 1e6)"
        )
        proc = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr.strip().splitlines()[-1], file=sys.stderr)
            return None
        return float(proc.stdout.split()[-1])


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    print(
        f"{dt.date.today().isoformat()}, Python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, load average {load()} (1, 5, 15 min)"
    )
    print(f"{'model':<14} {'k':>5} {'builder µs/fit':>15} {'metafor µs/fit':>15} {'ratio':>7}")
    for k, n_ours, n_r in ((13, 10000, 250), (1000, 1000, 20)):
        es = data(k)
        for name, tau2, ci, args in MODELS:
            mine = ours(es, tau2, ci, n_ours)
            theirs = metafor(es, args, n_r) if args else None
            ratio = f"{theirs / mine:7.1f}" if theirs else "      —"
            theirs_text = f"{theirs:15.1f}" if theirs else f"{'not measured':>15}"
            print(f"{name:<14} {k:>5} {mine:15.1f} {theirs_text} {ratio}")
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
