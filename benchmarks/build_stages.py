"""Wall time and peak memory of each build stage, for synthetic reviews of growing size.

Run from the repository root:

    .venv/bin/python benchmarks/build_stages.py [--sizes 21,100,500] [--outcomes 40] [--seed 1]
                                                [--memory rss|tracemalloc] [--no-cold]

For every size, benchmarks/synthetic.py writes a project into a temporary folder, and a fresh Python process
runs the stages of `builder.publish.build.build` one by one, as build() chains them:

    load + validate   builder.ingest.loader.load (YAML parsing, pydantic models, cross-file checks)
    compute           builder.analysis.run.run_all (effect sizes, pooled models, sensitivity panels,
                      leave-one-out and cumulative analyses)
    figures + Markdown  copy docs/, version context, builder.report.pages.render_site (forest plots, pages),
                      and the MkDocs configuration, as builder.publish.build.render writes them
    MkDocs            builder.publish.build.mkdocs_build (a `mkdocs build --strict` subprocess)

Then another fresh process times the whole `builder.publish.build.build` cold (new interpreter, imports included,
no earlier build/ or site/), so its figure can be compared with the sum of the stages. A third builds the
review once (untimed), corrects one number in one study file (the first mean, or event count, of the middle
study) and times the rebuild in a fresh interpreter: what a maintainer waits for after fixing a typo.

Memory, by default (`--memory rss`): for the Python stages, the growth of the worker process's peak resident
set size over the stage (getrusage ru_maxrss after minus before; 0 means the stage stayed below an earlier
peak), and the process's peak after it; for MkDocs, the peak RSS of the mkdocs child (its VmHWM, read from
/proc while it runs; see ChildPeak).
With `--memory tracemalloc` the Python stages report the peak of memory allocated through Python's allocators
(tracemalloc, numpy included) during the stage instead; tracemalloc slows allocation-heavy code, so the times
of that run are inflated. A stage that fails prints its error; the stages that need its output are skipped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MARK = "@@build-stages@@ "
STAGES = ("load + validate", "compute", "figures + Markdown", "MkDocs")


def _maxrss_mb(who=resource.RUSAGE_SELF) -> float:
    kb = resource.getrusage(who).ru_maxrss  # kilobytes on Linux (bytes on macOS)
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


def _cpu(who=resource.RUSAGE_SELF) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


class ChildPeak:
    """Peak resident set size of the child processes started inside the `with` block (MB).

    getrusage(RUSAGE_CHILDREN) is no use here: Linux carries the parent's high-water mark into a forked
    child across exec, so a small mkdocs child started by a large builder process would report the builder's
    size. Instead, while the block runs, every subprocess.Popen records its pid, and a thread reads each such
    child's own high-water mark (VmHWM in /proc/<pid>/status) every 20 ms; the mark only grows, so the last
    reading misses at most the last 20 ms of the child's life. The thread reads nothing while no child runs, so
    it does not slow the Python stages. Without /proc the RUSAGE_CHILDREN figure is used and `exact` is False."""

    def __init__(self):
        import threading

        self.peak_kb = 0
        self.exact = Path("/proc/self/status").exists()
        self.pids: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._original = subprocess.Popen.__init__

    def _read(self, pid: int) -> None:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kb = max(self.peak_kb, int(line.split()[1]))
        except (OSError, ValueError):
            pass

    def _poll(self) -> None:
        while not self._stop.wait(0.02):
            for pid in list(self.pids):
                self._read(pid)

    def __enter__(self) -> ChildPeak:
        if self.exact:
            original, pids = self._original, self.pids

            def recording_init(popen, *args, **kwargs):
                original(popen, *args, **kwargs)
                pids.append(popen.pid)

            subprocess.Popen.__init__ = recording_init
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.exact:
            subprocess.Popen.__init__ = self._original
            self._stop.set()
            self._thread.join()

    @property
    def mb(self) -> float:
        return self.peak_kb / 1024 if self.exact else _maxrss_mb(resource.RUSAGE_CHILDREN)


def _error(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}{where}" + (" [...]" if len(text) > 1 else "")


def _folder_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


# ------------------------------------------------------------------------------------------------ the workers
def _generate(studies: int, outcomes: int, seed: int, tmp: Path) -> tuple[Path, float, dict]:
    sys.path.insert(0, str(HERE))
    import synthetic

    start = time.perf_counter()
    project = synthetic.write_project(tmp / "project", studies, outcomes, seed)
    seconds = time.perf_counter() - start
    n, size = _folder_size(project / "data")
    return project, seconds, {"data_files": n, "data_mb": size / 2**20}


def _today() -> dt.date:
    sys.path.insert(0, str(HERE))
    import synthetic

    return max(dt.date.today(), synthetic.REVIEW_DATE)


def worker_stages(studies: int, outcomes: int, seed: int, memory: str) -> dict:
    import tracemalloc

    out: dict = {"stages": {}, "info": {}}
    tmp = Path(tempfile.mkdtemp(prefix="build-stages-"))
    try:
        project, seconds, info = _generate(studies, outcomes, seed, tmp)
        out["info"].update(info, generate_s=seconds)
        start = time.perf_counter()
        import yaml

        from builder.analysis import run as analysis
        from builder.ingest.loader import load
        from builder.publish import build as site
        from builder.report import pages

        out["info"]["import_s"] = time.perf_counter() - start
        today = _today()
        state: dict = {}

        def stage_load():
            state["data"] = load(project / "data", today=today)
            return {"analyses": len(state["data"].review.analyses)}

        def stage_compute():
            state["results"] = analysis.run_all(state["data"])
            fits = sum(1 for r in state["results"] if r.fit is not None)
            refits = sum(len(rows) for r in state["results"] for rows in r.followups.values())
            return {"pooled": fits, "followup_rows": refits}

        def stage_render():
            data, results = state["data"], state["results"]
            src = tmp / "src"
            shutil.copytree(project / "docs", src / "docs")
            info = site.version_context(project, data, results, today=today)
            nav = pages.render_site(data, results, project / "templates", src / "docs", info)
            config = site.site_config(project, nav, data.review.short_title)
            path = src / "mkdocs.yml"
            path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
            state["config"] = path
            n, size = _folder_size(src / "docs")
            return {"files": n, "mb": size / 2**20}

        def stage_mkdocs():
            site.mkdocs_build(state["config"], tmp / "site", state["data"].review.date)
            n, size = _folder_size(tmp / "site")
            return {"files": n, "mb": size / 2**20}

        needs = {
            "load + validate": (),
            "compute": ("data",),
            "figures + Markdown": ("data", "results"),
            "MkDocs": ("config", "data"),
        }
        runs = {
            "load + validate": stage_load,
            "compute": stage_compute,
            "figures + Markdown": stage_render,
            "MkDocs": stage_mkdocs,
        }
        for name in STAGES:
            missing = [k for k in needs[name] if k not in state]
            if missing:
                out["stages"][name] = {"skipped": "an earlier stage failed"}
                continue
            child = name == "MkDocs"
            traced = memory == "tracemalloc" and not child
            if traced:
                tracemalloc.start()
            rss_before = _maxrss_mb()
            cpu_before = _cpu(resource.RUSAGE_CHILDREN if child else resource.RUSAGE_SELF)
            start = time.perf_counter()
            record: dict = {}
            try:
                with ChildPeak() as children:
                    record["detail"] = runs[name]()
            except BaseException as exc:  # noqa: BLE001 - report and go on with what can still run
                if isinstance(exc, KeyboardInterrupt):
                    raise
                record["error"] = _error(exc)
            record["wall_s"] = time.perf_counter() - start
            record["cpu_s"] = _cpu(resource.RUSAGE_CHILDREN if child else resource.RUSAGE_SELF) - cpu_before
            if child:
                record["mem_mb"] = children.mb
                record["mem_kind"] = "child peak RSS" if children.exact else "child peak RSS (upper bound)"
            elif traced:
                record["mem_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
                record["mem_kind"] = "tracemalloc peak"
                tracemalloc.stop()
            else:
                record["mem_mb"] = _maxrss_mb() - rss_before
                record["mem_kind"] = "peak RSS growth"
            record["process_peak_mb"] = _maxrss_mb()
            out["stages"][name] = record
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _timed_build(project: Path, site_dir: Path, today: dt.date) -> dict:
    """Wall and CPU time and peak memory of one `builder.publish.build.build`, imports included (the first import of
    the builder happens here), and how many pages it re-rendered when it reused an earlier build's."""
    record: dict = {}
    cpu_before = _cpu() + _cpu(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    children = ChildPeak()
    report: dict = {}
    try:
        with children:
            from builder.publish.build import build

            build(project, site=site_dir, today=today, report=report)
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, KeyboardInterrupt):
            raise
        record["error"] = _error(exc)
    record["wall_s"] = time.perf_counter() - start
    record["cpu_s"] = _cpu() + _cpu(resource.RUSAGE_CHILDREN) - cpu_before
    record["process_peak_mb"] = _maxrss_mb()
    record["child_peak_mb"] = children.mb
    record["pages"] = report.get("pages")
    return record


def worker_cold(studies: int, outcomes: int, seed: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="build-cold-"))
    try:
        project, _, _ = _generate(studies, outcomes, seed, tmp)
        today = _today()
        sys.modules.pop("synthetic", None)
        return {"cold": _timed_build(project, tmp / "site", today)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _edit_one_study(project: Path) -> str:
    """Correct one number in one study, as a maintainer fixing a typo would: the first mean (or, failing that,
    event count) of the middle study file, raised by one unit in its last printed digit."""
    files = sorted((project / "data/studies").glob("*.yaml"))
    path = files[len(files) // 2]
    text = path.read_text(encoding="utf-8")
    for field in ("mean", "events"):
        m = re.search(rf"^(\s+{field}: )(\d+)(\.\d+)?$", text, re.M)
        if m:
            digits = len(m.group(3) or ".") - 1
            value = float(m.group(2) + (m.group(3) or "")) + 10**-digits
            new = f"{value:.{digits}f}" if digits else str(int(value))
            path.write_text(text[: m.start(2)] + new + text[m.end(3) if m.group(3) else m.end(2) :], encoding="utf-8")
            return f"{path.name}: {field} {m.group(2)}{m.group(3) or ''} -> {new}"
    raise RuntimeError(f"no mean or events in {path.name}")


def worker_edit(studies: int, outcomes: int, seed: int) -> dict:
    """A build after one study was edited, timed in a fresh interpreter, following an untimed cold build."""
    tmp = Path(tempfile.mkdtemp(prefix="build-edit-"))
    try:
        project, _, _ = _generate(studies, outcomes, seed, tmp)
        today = _today()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        first = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, datetime as dt; from pathlib import Path; "
                "from builder.publish.build import build; build(Path(sys.argv[1]), site=Path(sys.argv[2]), "
                "today=dt.date.fromisoformat(sys.argv[3]))",
                str(project),
                str(tmp / "site"),
                today.isoformat(),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
        if first.returncode != 0:
            return {"edit": {"error": "the first build failed: " + first.stderr.strip()[-300:]}}
        record: dict = {"change": _edit_one_study(project)}
        sys.modules.pop("synthetic", None)
        return {"edit": {**record, **_timed_build(project, tmp / "site", today)}}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------------- driver
def run_worker(args: list[str], timeout: float | None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", *args]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after the time limit of {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": f"worker exited with code {proc.returncode}: " + " | ".join(tail)}


def fmt_s(x: float | None) -> str:
    return "—" if x is None else (f"{x:.2f}" if x < 10 else f"{x:.1f}")


def fmt_mb(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:+.0f}" if signed else f"{x:.0f}"


def print_report(results: dict, args) -> None:
    sizes = list(results)
    mem_note = {
        "rss": "Python stages: growth of the worker's peak RSS over the stage (getrusage ru_maxrss delta); "
        "MkDocs: peak RSS of the mkdocs child process (its VmHWM, sampled from /proc)",
        "tracemalloc": "Python stages: peak of Python-allocated memory during the stage (tracemalloc; its "
        "bookkeeping inflates these stages' times); MkDocs: peak RSS of the mkdocs child process",
    }[args.memory]
    print(
        f"Build stages: synthetic reviews, {args.outcomes} outcomes, seed {args.seed}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    cold_note = "" if args.no_cold else "; cold build: peak RSS of the builder process / of the mkdocs child"
    print(f"memory (MB): {mem_note}{cold_note}; peak MB: the worker process's peak RSS after the stage")
    print()
    header = f"{'studies':>7}  {'stage':<20} {'wall s':>8} {'CPU s':>8} {'mem MB':>8} {'peak MB':>8}  output"
    print(header)
    print("-" * len(header))
    for n in sizes:
        res = results[n]
        stages = res.get("stages", {})
        info = res.get("info", {})
        if "error" in res and not stages:
            print(f"{n:>7}  stages did not run: {res['error']}")
        if info:
            print(
                f"{n:>7}  {'(generate data)':<20} {fmt_s(info.get('generate_s')):>8} {'':>8} {'':>8} {'':>8}  "
                f"{info.get('data_files', 0)} YAML files, {info.get('data_mb', 0):.1f} MB"
            )
            print(f"{n:>7}  {'(import builder)':<20} {fmt_s(info.get('import_s')):>8}")
        total = 0.0
        for name in STAGES:
            st = stages.get(name)
            if st is None:
                continue
            if "skipped" in st:
                print(f"{n:>7}  {name:<20} {'skipped: ' + st['skipped']}")
                continue
            total += st["wall_s"]
            signed = st.get("mem_kind") == "peak RSS growth"
            d = st.get("detail") or {}
            if "error" in st:
                note = "FAILED: " + st["error"]
            elif name == "load + validate":
                note = f"{d.get('analyses')} analyses"
            elif name == "compute":
                note = f"{d.get('pooled')} pooled fits, {d.get('followup_rows')} sensitivity/LOO/cumulative rows"
            else:
                note = f"{d.get('files')} files, {d.get('mb', 0):.1f} MB"
            print(
                f"{n:>7}  {name:<20} {fmt_s(st['wall_s']):>8} {fmt_s(st['cpu_s']):>8} "
                f"{fmt_mb(st.get('mem_mb'), signed):>8} {fmt_mb(st.get('process_peak_mb')):>8}  {note}"
            )
        if stages:
            print(f"{n:>7}  {'sum of the stages':<20} {fmt_s(total):>8}")
        cold = res.get("cold")
        if cold:
            note = "FAILED: " + cold["error"] if "error" in cold else "fresh interpreter, imports included"
            print(
                f"{n:>7}  {'site.build, cold':<20} {fmt_s(cold['wall_s']):>8} {fmt_s(cold['cpu_s']):>8} "
                f"{fmt_mb(cold['process_peak_mb']) + '/' + fmt_mb(cold['child_peak_mb']):>8} {'':>8}  {note}"
            )
        elif res.get("cold_error"):
            print(f"{n:>7}  {'site.build, cold':<20} did not run: {res['cold_error']}")
        edit = res.get("edit")
        if edit:
            if "error" in edit:
                note = "FAILED: " + edit["error"]
            else:
                pages = edit.get("pages")
                note = (
                    f"{pages[0]} of {pages[1]} pages re-rendered" if pages else "full rebuild"
                ) + f"; {edit['change']}"
            print(
                f"{n:>7}  {'after one edit':<20} {fmt_s(edit.get('wall_s')):>8} {fmt_s(edit.get('cpu_s')):>8} "
                f"{fmt_mb(edit.get('process_peak_mb')) + '/' + fmt_mb(edit.get('child_peak_mb')):>8} {'':>8}  "
                f"{note}"
            )
        print()

    # Growth with N: wall time per stage, one column per size.
    print("Wall time (s) by stage and number of studies (share of the sum of the stages)")
    cols = "".join(f"{n:>16}" for n in sizes)
    print(f"{'stage':<20}{cols}")
    sums = {n: sum(st.get("wall_s", 0) for st in results[n].get("stages", {}).values()) for n in sizes}
    whole = {"site.build, cold": "cold", "after one edit": "edit"}
    for name in STAGES + (() if args.no_cold else tuple(whole)):
        cells = ""
        for n in sizes:
            st = results[n].get(whole[name]) if name in whole else results[n].get("stages", {}).get(name)
            if not st or "wall_s" not in st:
                cells += f"{'—':>16}"
                continue
            mark = "!" if "error" in st else ""
            if name in whole or not sums[n]:
                cells += f"{fmt_s(st['wall_s']) + mark:>16}"
            else:
                share = 100 * st["wall_s"] / sums[n]
                cells += f"{fmt_s(st['wall_s']) + mark + f' ({share:.0f}%)':>16}"
        print(f"{name:<20}{cells}")
    if any("error" in st for n in sizes for st in results[n].get("stages", {}).values()):
        print("! the stage failed; its time is up to the failure")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Time each stage of the site build on synthetic reviews.")
    p.add_argument("--sizes", default="21,100,500", help="numbers of studies, comma-separated (default 21,100,500)")
    p.add_argument("--outcomes", type=int, default=40, help="number of outcomes (default 40)")
    p.add_argument("--seed", type=int, default=1, help="seed of the synthetic data (default 1)")
    p.add_argument(
        "--memory",
        choices=("rss", "tracemalloc"),
        default="rss",
        help="how the Python stages' memory is measured (default rss)",
    )
    p.add_argument(
        "--no-cold",
        action="store_true",
        help="skip the cold run of the whole builder.publish.build.build and the rebuild after one edit",
    )
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed per worker process (default 3600)")
    p.add_argument("--json", help="also write the raw measurements to this JSON file")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        kind, studies, outcomes, seed, *rest = args.worker
        try:
            if kind == "stages":
                result = worker_stages(int(studies), int(outcomes), int(seed), rest[0])
            elif kind == "edit":
                result = worker_edit(int(studies), int(outcomes), int(seed))
            else:
                result = worker_cold(int(studies), int(outcomes), int(seed))
        except BaseException as exc:  # noqa: BLE001 - the driver prints it
            result = {"error": _error(exc)}
        print(MARK + json.dumps(result))
        return 0

    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error("--sizes takes numbers separated by commas, e.g. 21,100,500")
    results: dict[int, dict] = {}
    for n in sizes:
        print(
            f"[{time.strftime('%H:%M:%S')}] {n} studies x {args.outcomes} outcomes: stages ...",
            file=sys.stderr,
            flush=True,
        )
        res = run_worker(["stages", str(n), str(args.outcomes), str(args.seed), args.memory], args.timeout)
        if not args.no_cold:
            print(
                f"[{time.strftime('%H:%M:%S')}] {n} studies x {args.outcomes} outcomes: cold build ...",
                file=sys.stderr,
                flush=True,
            )
            cold = run_worker(["cold", str(n), str(args.outcomes), str(args.seed)], args.timeout)
            if "cold" in cold:
                res["cold"] = cold["cold"]
            else:
                res["cold_error"] = cold.get("error", "no result")
            print(
                f"[{time.strftime('%H:%M:%S')}] {n} studies x {args.outcomes} outcomes: cold build, one edit, "
                "rebuild ...",
                file=sys.stderr,
                flush=True,
            )
            res.update(run_worker(["edit", str(n), str(args.outcomes), str(args.seed)], args.timeout))
        results[n] = res
    print_report(results, args)
    if args.json:
        Path(args.json).write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
