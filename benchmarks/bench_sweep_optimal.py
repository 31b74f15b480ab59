"""Benchmark: the full-bill optimal dispatch of many designs of the Iquitos year, in parallel.

``sweep(strategy="optimal")`` plans each design on the full bill (energy and demand charges;
by default exactly, with HiGHS; ``--solver dp``: the DP's cap search) and replays the plan; the
designs are independent, so ``n_jobs`` worker processes share them. Prints the wall time with
``n_jobs`` = 1 (this process) and 2 (target: 100 designs in 30 s or less on 2 cores) side by
side, and checks both tables are identical. Numbers are noisy when other work shares the cores.

Run: ``.venv/bin/python benchmarks/bench_sweep_optimal.py [n_designs] [--jobs 1,2] [--solver dp]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pvbess.inputs.dataset import load_iquitos  # noqa: E402
from pvbess.studies.sizing import sweep  # noqa: E402


def designs(n: int) -> pd.DataFrame:
    """``n`` designs: capacity x power (10 x n/10), capacity 0 included (no battery)."""
    caps = np.linspace(0.0, 4500.0, 10)                              # [kWh]
    powers = np.linspace(100.0, 1000.0, max(1, int(np.ceil(n / 10))))  # [kW]
    grid = [(c, p) for p in powers for c in caps][:n]
    return pd.DataFrame(grid, columns=["capacity_kwh", "power_kw"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=100)
    parser.add_argument("--jobs", default="1,2", help="comma-separated n_jobs values")
    parser.add_argument("--solver", choices=("exact", "dp"), default=None,
                        help="optimal_options['solver'] (default: the sweep's)")
    args = parser.parse_args()
    options = {"solver": args.solver}
    site = load_iquitos()[["pv_kwh", "ev_kwh", "mall_kwh"]]
    grid = designs(args.n)
    sweep(site.iloc[:48], grid.iloc[:2], strategy="optimal", progress=False,
          optimal_options=options)  # cache load
    print(f"bench_sweep_optimal: {len(grid)} full-bill optimal designs x {len(site):,} hours, "
          f"{os.cpu_count()} CPUs, solver {args.solver or 'default'}")
    tables = {}
    for jobs in (int(j) for j in args.jobs.split(",")):
        t0 = time.perf_counter()
        tables[jobs] = sweep(site, grid, strategy="optimal", progress=False, n_jobs=jobs,
                             optimal_options=options)
        wall = time.perf_counter() - t0
        print(f"  n_jobs={jobs}: {wall:7.1f} s ({wall / len(grid):.2f} s per design)"
              f"{'   target <= 30 s: ' + ('OK' if wall <= 30 else 'MISSED') if jobs > 1 else ''}",
              flush=True)
    first, *others = tables.values()
    for other in others:
        pd.testing.assert_frame_equal(other, first, check_exact=True)
    if others:
        print("  tables identical across n_jobs: yes")


if __name__ == "__main__":
    main()
