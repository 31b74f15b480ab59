"""``make report`` end to end: wall time, CPU time and where it goes, notebook by notebook.

Renders the params files (default: every ``params/*.yaml``, what ``make report`` renders) with
``python -m pvbess.report`` into a temporary reports folder, in a fresh process, after the set-up's
warm-up (``python -m pvbess.warmup``: numba kernels load from the cache, as after ``make venv``).
Prints the wall time, the CPU time of the renderer and every kernel it started (user + system,
summed over processes: with N cores the wall time is at least CPU / N), and per notebook: its
wall time with its HTML, the kernel's start (before the first cell runs) and its slowest cells
(papermill records each cell's duration in the executed notebook). Target: ``make report`` in
40 s or less on 2 cores.

Usage: ``.venv/bin/python benchmarks/bench_report.py [--jobs N] [--cells K] [--files]
[--keep DIR] [params.yaml ...]``. Numbers are noisy on a shared machine: on busy cores the wall
time says little, the CPU time still does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _seconds(start: str, end: str) -> float:
    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()


def notebook_times(path: Path, n_cells: int) -> dict:
    """Kernel start, run time and the slowest cells of one executed notebook (papermill's
    metadata) [s]."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    meta = nb["metadata"]["papermill"]
    cells = [(c["metadata"].get("papermill", {}), "".join(c["source"]).strip())
             for c in nb["cells"] if c["cell_type"] == "code"]
    first = next((m["start_time"] for m, _ in cells if m.get("start_time")), meta["end_time"])
    slow = sorted(((m.get("duration") or 0.0, src.splitlines()[0] if src else "")
                   for m, src in cells), reverse=True)[:n_cells]
    return {"duration": meta["duration"], "kernel_start": _seconds(meta["start_time"], first),
            "slowest": slow, "start": meta["start_time"], "end": meta["end_time"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("params", nargs="*", help="params files (default: params/*.yaml)")
    parser.add_argument("--jobs", "-j", type=int, default=0,
                        help="notebooks at once (default: the renderer's, one per core)")
    parser.add_argument("--cells", type=int, default=3, help="slowest cells shown per notebook")
    parser.add_argument("--files", action="store_true",
                        help="list every file of the reports with its size (to diff two runs)")
    parser.add_argument("--keep", default=None, help="render into this folder and keep it")
    parser.add_argument("--no-warmup", action="store_true",
                        help="do not run python -m pvbess.warmup first")
    args = parser.parse_args()
    params = args.params or sorted(str(p) for p in (ROOT / "params").glob("*.yaml"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    if not args.no_warmup:
        subprocess.run([sys.executable, "-m", "pvbess.warmup", "-q"], env=env, cwd=ROOT,
                       check=True)
    with tempfile.TemporaryDirectory(prefix="pvbess-bench-report-") as tmp:
        reports = Path(args.keep) if args.keep else Path(tmp) / "reports"
        argv = [sys.executable, "-m", "pvbess.report", *params, "--reports-dir", str(reports),
                "--no-progress"] + (["--jobs", str(args.jobs)] if args.jobs else [])
        cpu0, t0 = _cpu_children(), time.perf_counter()
        run = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - t0, _cpu_children() - cpu0
        if run.returncode:
            sys.exit(f"make report failed:\n{run.stdout}\n{run.stderr}")
        done = dict(re.findall(r"^\s+(\S+: \S+\.ipynb) and its HTML done in ([\d.]+) s",
                               run.stdout, flags=re.MULTILINE))
        split = re.search(r"this process ([\d.]+) s, its kernels ([\d.]+) s", run.stdout)
        print(f"make report ({len(params)} params files, {os.cpu_count()} cores): "
              f"{wall:6.1f} s wall, {cpu:6.1f} s CPU (renderer and kernels; "
              f"CPU / cores = {cpu / (os.cpu_count() or 1):.1f} s)   target: wall <= 40 s")
        if split:
            print(f"  CPU of the renderer process {float(split[1]):.1f} s, of its kernels "
                  f"{float(split[2]):.1f} s")
        times = {f"{folder.name}: {path.name}": notebook_times(path, args.cells)
                 for folder in sorted(p for p in reports.iterdir() if p.is_dir())
                 for path in sorted(folder.glob("[0-9][0-9]_*.ipynb"))}
        t0 = min(t["start"] for t in times.values())
        print(f"{'notebook':<46} {'ran [s after the first]':>23} {'with HTML':>9} {'kernel':>7} "
              f"{'cells':>6}   slowest cells [s]")
        for key, t in sorted(times.items(), key=lambda kv: kv[1]["start"]):
            slow = "; ".join(f"{d:.1f} {src[:38]}" for d, src in t["slowest"])
            ran = f"{_seconds(t0, t['start']):5.1f} - {_seconds(t0, t['end']):5.1f}"
            print(f"{key:<46} {ran:>23} {done.get(key, 'n/a'):>9} {t['kernel_start']:7.1f} "
                  f"{t['duration'] - t['kernel_start']:6.1f}   {slow}")
        print(f"sum of the notebooks' papermill durations: "
              f"{sum(t['duration'] for t in times.values()):.1f} s")
        if args.files:
            for path in sorted(p for p in reports.rglob("*") if p.is_file()):
                print(f"  {path.relative_to(reports)}  {path.stat().st_size:,} B")


if __name__ == "__main__":
    main()
