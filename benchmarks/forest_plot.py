"""Time per forest plot: ours (SVG written directly) against metafor's forest() drawn to an SVG device.

Run from the repository root: `.venv/bin/python benchmarks/forest_plot.py [repetitions]`.
metafor is timed only when Rscript with metafor is on the machine (it is not a dependency).
Both draw the same plot: the primary survival analysis of the MSC review (7 studies, REML, HKSJ).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from builder.analysis import run as analysis  # noqa: E402
from builder.ingest.loader import load  # noqa: E402
from builder.report.figures import forest  # noqa: E402

R_SCRIPT = textwrap.dedent("""
    suppressMessages(library(metafor))
    d <- read.csv("{csv}")
    fit <- rma(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = d, method = "REML",
               test = "knha", slab = study)
    n <- {n}
    out <- tempfile(fileext = ".svg")
    start <- proc.time()[["elapsed"]]
    for (i in seq_len(n)) {{
      svg(out, width = 10, height = 4)
      forest(fit, atransf = exp, showweights = TRUE, header = TRUE)
      invisible(dev.off())
    }}
    cat((proc.time()[["elapsed"]] - start) / n * 1000, "\\n")
""")


def ours(result, n: int) -> float:
    forest.render(result)  # warm-up
    start = time.perf_counter()
    for _ in range(n):
        forest.render(result)
    return (time.perf_counter() - start) / n * 1000


def metafor(result, n: int) -> float | None:
    if not shutil.which("Rscript"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        rows = ["study,ai,n1i,ci,n2i"] + [
            f"{r.study.label},{r.inputs['events_exp']},{r.inputs['total_exp']},{r.inputs['events_ctrl']},"
            f"{r.inputs['total_ctrl']}"
            for r in result.rows
        ]
        csv.write_text("\n".join(rows) + "\n")
        proc = subprocess.run(
            ["Rscript", "-e", R_SCRIPT.format(csv=csv.as_posix(), n=n)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return None
        return float(proc.stdout.split()[-1])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    data = load(ROOT / "data")
    result = next(r for r in analysis.run_all(data) if r.spec.id == "survival-primary")
    mine = ours(result, n)
    theirs = metafor(result, max(20, n // 10))
    print(f"forest plot, {len(result.rows)} studies, {n} repetitions")
    print(f"  builder (SVG writer):      {mine:8.3f} ms per plot")
    if theirs is None:
        print("  metafor forest() to svg(): not measured (no Rscript with metafor)")
    else:
        print(f"  metafor forest() to svg(): {theirs:8.3f} ms per plot")
        print(f"  ratio:                     {theirs / mine:8.1f}x faster")


if __name__ == "__main__":
    main()
