"""Benchmark: a 10,000-configuration six-phase sizing sweep of the Iquitos year.

Prints the wall time (first call includes numba compilation/cache load, so the sweep is run
twice and both are shown), the peak Python heap (tracemalloc, second run) and the process's
peak resident memory (``resource.getrusage`` maxrss). Target: 1.5 s or less on 2 cores.
Numbers are noisy when other work shares the cores.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [n_configs]``
"""

from __future__ import annotations

import os
import resource
import sys
import time
import tracemalloc

import numpy as np

# submodule imports: run as a script, pvbess may resolve through the editable install's finder
# as a namespace package, without its lazy top-level names
from pvbess.inputs.dataset import load_iquitos
from pvbess.studies.sizing import sweep


def grid_of(n: int) -> dict[str, list[float]]:
    """About ``n`` designs: capacity x power x PV scale x peak threshold (full factorial)."""
    caps = np.linspace(0.0, 6000.0, 25).tolist()      # [kWh]
    powers = np.linspace(100.0, 2000.0, 20).tolist()  # [kW]
    scales = [0.5, 0.75, 1.0, 1.25, 1.5]              # [-]
    per = len(caps) * len(powers) * len(scales)
    thresholds = np.linspace(1500.0, 2300.0, max(1, round(n / per))).tolist()  # [kW]
    return {"capacity_kwh": caps, "power_kw": powers, "pv_scale": scales,
            "peak_threshold_kw": thresholds}


def main(n: int = 10_000) -> None:
    site = load_iquitos()
    grid = grid_of(n)
    n_configs = int(np.prod([len(v) for v in grid.values()]))
    print(f"bench_sweep: {n_configs:,} six-phase configurations x {len(site):,} hourly steps, "
          f"{os.cpu_count()} CPUs (numba threads: {pvbess_threads()})")
    t0 = time.perf_counter()
    sweep(site, {"capacity_kwh": [1000.0]}, progress=False)  # compile / load the cache
    print(f"  warm-up (1 design, compile or cache load): {time.perf_counter() - t0:7.2f} s")
    tracemalloc.start()
    t0 = time.perf_counter()
    table = sweep(site, grid, progress=False)
    wall = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t0 = time.perf_counter()
    sweep(site, grid, progress=False)
    wall2 = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB
    print(f"  sweep wall time:                       {wall:7.2f} s (under tracemalloc)")
    print(f"  sweep wall time:                       {wall2:7.2f} s "
          f"({n_configs / wall2:,.0f} designs/s; target <= 1.5 s)")
    print(f"  peak Python heap during the sweep:     {peak / 2**20:7.1f} MiB (tracemalloc)")
    print(f"  peak resident memory of the process:   {rss_mb:7.1f} MiB (maxrss)")
    print(f"  result table: {table.shape[0]:,} rows x {table.shape[1]} columns, "
          f"{table.memory_usage(deep=True).sum() / 2**20:.1f} MiB; "
          f"{int(table['pareto'].sum())} designs on the Pareto front")


def pvbess_threads() -> int:
    import numba

    return int(numba.get_num_threads())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
