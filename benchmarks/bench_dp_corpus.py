"""The DP against the exact LP (HiGHS) on the bess-manager corpus, side by side in one run.

For each of the 39 scenarios: the DP on its default grid (``optimize_schedule``), the DP on the
grid of 20,001 states the default used to be for a day, and ``exact_schedule``; best of
``--repeat`` wall times each. Prints median / total / max time and the largest gap to the exact
optimum, and checks the DP never lands above the peer's golden objective (beyond 1e-9: round-off
of the same plan summed in another order). Targets: DP median 3 ms or less, DP total below the
LP's total, gap at most 0.01.

Needs the corpus (``PVBESS_SHARED`` or ``../shared``). Numbers are noisy on a shared machine.

Usage: ``.venv/bin/python benchmarks/bench_dp_corpus.py [--repeat N]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

# run from anywhere: the repository's package first
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pvbess.config import shared_dir  # noqa: E402
from pvbess.optimize.exact import exact_schedule  # noqa: E402
from pvbess.optimize.schedule import optimize_schedule  # noqa: E402
from pvbess.studies.peer import peer_scenarios  # noqa: E402
from _timing import best_of  # noqa: E402  # benchmarks/: the script's folder is on the path

#: DP objective above the peer's golden plan that is round-off, not a worse plan [currency]: a
#: plan equal to the golden one, its costs summed in another order, differs by an ulp or two
GOLDEN_ROUNDOFF = 1e-9
OLD_DAY_STATES = 20_000  # the default grid of a day before issue 12 (20,001 states)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    shared = shared_dir()
    if shared is None:
        raise SystemExit("bench_dp_corpus: the shared corpus is not found (PVBESS_SHARED)")
    scenarios = peer_scenarios(shared / "reference" / "bess-manager")
    rows = []
    for s in scenarios:
        kw = s.kwargs()
        optimize_schedule(**kw)  # numba cache load
        old_step = s.battery.usable_kwh / min(OLD_DAY_STATES, max(200, 8_000_000 // s.periods))
        t_dp, dp = best_of(lambda: optimize_schedule(**kw), args.repeat)
        t_old, old = best_of(lambda: optimize_schedule(**kw, energy_step_kwh=old_step), args.repeat)
        t_lp, lp = best_of(lambda: exact_schedule(**kw), args.repeat)
        golden = s.golden_objective()
        rows.append((s.name, s.periods, dp.info["states"], t_dp, t_old, t_lp,
                     dp.objective - lp.objective, old.objective - lp.objective,
                     np.nan if golden is None else dp.objective - golden))
    print(f"{'scenario':<48} {'T':>4} {'states':>6} {'DP ms':>7} {'old ms':>7} {'LP ms':>7} "
          f"{'DP-LP':>8} {'old-LP':>8} {'DP-gold':>8}")
    for r in rows:
        print(f"{r[0][:48]:<48} {r[1]:>4} {r[2]:>6} {r[3] * 1e3:>7.2f} {r[4] * 1e3:>7.2f} "
              f"{r[5] * 1e3:>7.2f} {r[6]:>8.5f} {r[7]:>8.5f} {r[8]:>8.5f}")
    t = np.array([[r[3], r[4], r[5]] for r in rows])
    gap = np.array([r[6] for r in rows])
    gold = np.array([r[8] for r in rows])
    print(f"\n{'':<24} {'DP (default)':>14} {'DP (20,001)':>14} {'exact LP':>14}")
    for what, f in (("median [ms]", np.median), ("total [ms]", np.sum), ("max [ms]", np.max)):
        print(f"{what:<24} " + " ".join(f"{1e3 * f(t[:, j]):>14.2f}" for j in range(3)))
    print(f"{'max gap to exact':<24} {gap.max():>14.5f} {max(r[7] for r in rows):>14.5f}")
    print(f"DP median {1e3 * np.median(t[:, 0]):.2f} ms (target <= 3 ms): "
          f"{'OK' if np.median(t[:, 0]) <= 3e-3 else 'MISSED'}; DP total "
          f"{'below' if t[:, 0].sum() < t[:, 2].sum() else 'NOT below'} the LP's; max gap "
          f"{gap.max():.5f} (<= 0.01: {'OK' if gap.max() <= 0.01 else 'MISSED'}); "
          f"DP - golden at most {np.nanmax(gold):.2e} (<= {GOLDEN_ROUNDOFF:g}, the same plan "
          f"summed in another order: {'OK' if np.nanmax(gold) <= GOLDEN_ROUNDOFF else 'MISSED'})")


if __name__ == "__main__":
    main()
