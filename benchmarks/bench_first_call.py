"""First call of the public entry points in a fresh process, after the set-up's warm-up.

Each entry point runs in its own fresh ``python`` subprocess (nothing compiled in memory), which
prints the import time (``pvbess`` and the entry point's module, numba included) and the wall
time of the entry point's first call: with the
numba cache filled by ``python -m pvbess.warmup`` (what ``make test`` and ``make report`` run), the
first call costs the cache load plus the work, with no compilation. Target: 1 s or less each.

Usage: ``.venv/bin/python benchmarks/bench_first_call.py [--no-warmup] [--repeat N]``.
Numbers are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each child: import (timed: "import"), build small inputs (not timed), then time the first call.
CALLS = {
    "simulate": ("from pvbess.balance import simulate", "", "simulate(site)"),
    "optimize_schedule": (
        "from pvbess.optimize.schedule import optimize_schedule\n"
        "from pvbess.optimize.problem import SchedulingProblem\nfrom pvbess.battery import Battery",
        "problem = SchedulingProblem.from_site(site.iloc[:24], Battery())",
        "optimize_schedule(problem)"),
    "sweep six-phase": (
        "from pvbess.studies.sizing import sweep", "",
        'sweep(site, {"capacity_kwh": [0.0, 1000.0, 2000.0], "power_kw": [500.0, 1000.0]}, '
        "progress=False)"),
    "sweep optimal (week)": (
        "from pvbess.studies.sizing import sweep", "week = site.iloc[:24 * 7]",
        'sweep(week, {"capacity_kwh": [1000.0, 2000.0]}, strategy="optimal", progress=False)'),
    "replay (1 day)": (
        "from pvbess.scheduler.replay import replay", "",
        'replay(site, forecast="persistence", days=1, compare=False, progress=False)'),
}


def _child(name: str) -> str:
    imports, prepare, call = CALLS[name]
    return "\n".join([
        "import json, time", "t0 = time.perf_counter()", "import pvbess", imports,
        "t_import = time.perf_counter() - t0",
        "from pvbess.inputs.dataset import load_iquitos", "site = load_iquitos()", prepare,
        "t0, c0 = time.perf_counter(), time.process_time()", call,
        "t_call, c_call = time.perf_counter() - t0, time.process_time() - c0",
        'print(json.dumps({"import_s": t_import, "call_s": t_call, "cpu_s": c_call}))'])


def first_call(name: str) -> dict[str, float]:
    """Import and first-call times of one entry point in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    out = subprocess.run([sys.executable, "-c", _child(name)], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-warmup", action="store_true",
                        help="do not run python -m pvbess.warmup first")
    parser.add_argument("--repeat", type=int, default=1, help="fresh processes per entry point")
    args = parser.parse_args()
    if not args.no_warmup:
        t0 = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-m", "pvbess.warmup"], env=env, cwd=ROOT, check=True)
        print(f"warm-up (python -m pvbess.warmup): {time.perf_counter() - t0:6.2f} s")
    print(f"{'entry point':<22} {'import [s]':>10} {'first call [s]':>15} {'its CPU [s]':>12}"
          "   target <= 1 s (CPU < wall: the machine was busy)")
    for name in CALLS:
        runs = [first_call(name) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["call_s"])
        verdict = "OK" if best["call_s"] <= 1.0 else "MISSED"
        print(f"{name:<22} {best['import_s']:>10.2f} {best['call_s']:>15.2f} "
              f"{best['cpu_s']:>12.2f}   {verdict}",
              flush=True)


if __name__ == "__main__":
    main()
