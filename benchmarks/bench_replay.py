"""Time a full-year hourly replay of the Iquitos site: 8,760 re-plans (target: <= 60 s).

Prints the wall time of the replay loop (tomorrow's schedule each day + 23 hourly re-plans,
every period recorded in SQLite), per plan, and the comparison table. Runs on a file database
(in a temporary folder) as a real deployment would, and once on ``:memory:`` for reference.

Usage: ``.venv/bin/python benchmarks/bench_replay.py [--step KWH] [--forecast NAME] [--days N]``.
Numbers are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

# run from anywhere: the repository's package first (an editable install may be incomplete)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import pvbess  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=None,
                        help="DP energy step [kWh] (default: the optimizer's default)")
    parser.add_argument("--forecast", default="persistence")
    parser.add_argument("--days", type=int, default=None, help="replay only N days")
    args = parser.parse_args()

    site = pvbess.load_iquitos()
    battery = pvbess.Battery()
    options = dict(battery=battery, forecast=args.forecast, energy_step_kwh=args.step,
                   days=args.days)
    # warm-up: numba compilation / cache load, not part of the timing
    pvbess.replay(site, **{**options, "days": 1}, compare=False)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "replay.sqlite"
        t0, c0 = time.perf_counter(), time.process_time()
        result = pvbess.replay(site, db=db, compare=False, **options)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        size_mb = db.stat().st_size / 1e6
    plans = result.info["plans"]
    from pvbess.scheduler.replay import REPLAY_GRID_STATES

    step = battery.usable_kwh / REPLAY_GRID_STATES if args.step is None else args.step
    print(f"Iquitos hourly replay, forecast={args.forecast}, DP step={step:g} kWh"
          f"{' (the replay default)' if args.step is None else ''}")
    print(f"  periods {len(result.balance)}, plans {plans} {result.info['scenarios']}")
    print(f"  file DB:   {wall:7.2f} s  ({1e3 * wall / plans:.2f} ms per re-plan), "
          f"database {size_mb:.1f} MB   target <= 60 s: {'OK' if wall <= 60 else 'MISSED'}")
    print(f"  CPU time of this process: {cpu:7.2f} s ({1e3 * cpu / plans:.2f} ms per re-plan; "
          "wall > CPU means the machine was busy)")
    t0 = time.perf_counter()
    mem = pvbess.replay(site, compare=True, **options)
    wall_mem = time.perf_counter() - t0
    print(f"  :memory: + comparisons: {wall_mem:7.2f} s")
    pd.testing.assert_frame_equal(mem.balance, result.balance, check_exact=True)
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.float_format", "{:,.1f}".format):
        print(mem.comparison)


if __name__ == "__main__":
    main()
