"""Benchmark of the six-phase dispatch: one year, and the batch throughput.

Prints (numbers, never asserts):

- the median time of one 8,760-step six-phase year in the compiled kernel after JIT warm-up
  (target: 0.5 ms or less), and of the full ``pvbess.simulate`` call (kernel + DataFrame);
- the throughput of ``pvbess.simulate_many`` (annual runs per second, target >= 5,000 on 2 cores),
  kernel only and end to end, with the process CPU time per run (less sensitive to other load).

Run: ``.venv/bin/python benchmarks/bench_dispatch.py [--configs 4000] [--repeat 200]``.
Numbers depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numba
import numpy as np
import pandas as pd

# submodule imports: run as a script, ``pvbess`` may resolve through the editable install's
# finder as a bare namespace package without the lazy top-level names
from pvbess import dispatch
from pvbess.balance import simulate
from pvbess.batch import config_params, simulate_many
from pvbess.batch_kernel import kpi_sums
from pvbess.battery import Battery
from pvbess.indicators import kpi_calendar, kpis
from pvbess.rules import SixPhaseRules
from pvbess.tariff import Tariff
from pvbess.timeseries import local_hours


def iquitos_or_synthetic() -> tuple[pd.DataFrame, str]:
    try:
        from pvbess.inputs.dataset import load_iquitos

        return load_iquitos()[["pv_kwh", "ev_kwh", "mall_kwh"]], "Iquitos year"
    except Exception as err:  # noqa: BLE001 - fall back to a synthetic year, say so
        idx = pd.date_range("2025-01-01", periods=8760, freq="h", tz="America/Lima")
        h = local_hours(idx)
        rng = np.random.default_rng(0)
        site = pd.DataFrame({
            "pv_kwh": np.clip(np.sin((h - 6) / 12 * np.pi), 0, None) * 3000
            * rng.uniform(0.3, 1.0, len(idx)),
            "ev_kwh": np.where((h >= 9) & (h < 22), 90.0, 0.0),
            "mall_kwh": 1400 + 800 * np.clip(np.sin((h - 7) / 15 * np.pi), 0, None)}, index=idx)
        return site, f"synthetic year (load_iquitos failed: {err})"


def timings(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=4000, help="batch size")
    parser.add_argument("--repeat", type=int, default=200, help="repeats of the single year")
    args = parser.parse_args()

    site, label = iquitos_or_synthetic()
    print(f"site: {label}, {len(site)} steps; {os.cpu_count()} CPUs, "
          f"numba threads {numba.get_num_threads()}")
    print(f"load average before: {os.getloadavg()[0]:.2f} (other work on the machine skews these)")

    pv, ev, mall = (site[c].to_numpy(dtype=float) for c in ("pv_kwh", "ev_kwh", "mall_kwh"))
    hour = local_hours(site.index)
    setpoint = np.zeros(len(site))
    p = dispatch.make_params(Battery(), SixPhaseRules())

    def one_year():
        dispatch.run(dispatch.SIX_PHASE, pv, ev, mall, hour, setpoint, 1.0, p)

    one_year()  # JIT warm-up (or cache load)
    t = timings(one_year, args.repeat)
    print(f"six-phase year, kernel:        median {statistics.median(t) * 1e3:.3f} ms, "
          f"min {min(t) * 1e3:.3f} ms (target <= 0.5 ms)")
    simulate(site)
    t = timings(lambda: simulate(site), max(args.repeat // 10, 5))
    print(f"six-phase year, simulate():    median {statistics.median(t) * 1e3:.3f} ms "
          f"(kernel + checks + DataFrame)")
    kpis(simulate(site))
    b = simulate(site)
    t = timings(lambda: kpis(b), max(args.repeat // 10, 5))
    print(f"kpis() of a year:              median {statistics.median(t) * 1e3:.3f} ms")

    rng = np.random.default_rng(1)
    n = args.configs
    configs = pd.DataFrame({"capacity_kwh": rng.uniform(0, 6000, n),
                            "power_kw": rng.uniform(50, 1500, n),
                            "closure_start_h": rng.choice([16.0, 17.0, 18.0], n),
                            "pv_scale": rng.uniform(0.5, 1.5, n)})
    hour_c, day, month, labels, peak, price = kpi_calendar(site.index, Tariff())
    params = config_params(configs)

    def kernel():
        kpi_sums(dispatch.SIX_PHASE, pv, ev, mall, hour_c, day, month, peak, price, 1.0, params,
                 len(labels))

    kernel()  # warm-up
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(3):
        w, c = time.perf_counter(), time.process_time()
        kernel()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    print(f"batch kernel, {n} annual runs: {n / best_wall:,.0f} runs/s wall "
          f"({best_wall:.3f} s), CPU {best_cpu / n * 1e3:.3f} ms per run "
          f"(-> {n / best_cpu * numba.get_num_threads():,.0f} runs/s if the "
          f"threads had their cores to themselves); target >= 5,000 runs/s on 2 cores")
    w = time.perf_counter()
    simulate_many(site, configs)
    wall = time.perf_counter() - w
    print(f"simulate_many() end to end:    {n / wall:,.0f} runs/s ({wall:.3f} s, incl. config "
          f"validation)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
