"""Benchmark the DP kernel and HiGHS: prints wall times (machine shared: numbers are noisy).

Run: .venv/bin/python benchmarks/bench_optimize.py

- a 96-period quarter-hour day, 30 kWh battery, 0.025 kWh grid (target <= 50 ms);
- the Iquitos year (hourly, 2,000 kWh battery) at 10 kWh and at the default grid (target <= 2 s),
  and the HiGHS LP solve of the same year beside it.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

# submodule imports: run as a script, pvbess resolves through the editable install's finder
from pvbess.battery import Battery
from pvbess.optimize.exact import exact_schedule
from pvbess.optimize.schedule import optimize_schedule
from pvbess.tariff import Tariff
from _timing import best_of  # benchmarks/: the script's folder is on the path


def _day(seed: int = 1):
    rng = np.random.default_rng(seed)
    t = 96
    hours = np.arange(t) * 0.25
    buy = 1.0 + 0.6 * np.sin(2 * np.pi * (hours - 8) / 24) + rng.normal(0, 0.2, t)
    sell = 0.6 * buy - 0.1
    pv = np.clip(6 * np.sin(np.pi * (hours - 6) / 12), 0, None) * 0.25 * rng.uniform(0.6, 1, t)
    load = rng.uniform(0.3, 2.5, t) * 0.25
    b = Battery(capacity_kwh=30.0, power_charge_kw=10.0, power_discharge_kw=10.0,
                eta_charge=0.95, eta_discharge=0.95, soc_min=0.1, soc_initial=0.3,
                wear_cost_per_kwh=0.05)
    return {"buy": buy, "sell": sell, "load_kwh": load, "pv_kwh": pv, "battery": b, "dt_h": 0.25,
                "terminal_value": 0.8}


def _year(seed: int = 0):
    try:
        import importlib

        site = importlib.import_module("pvbess.inputs.dataset").load_iquitos()
        source = "pvbess.load_iquitos()"
    except Exception:  # noqa: BLE001 - the dataset may not exist yet: synthetic stand-in
        idx = pd.date_range("2025-01-01", periods=8760, freq="h", tz="America/Lima")
        rng = np.random.default_rng(seed)
        h = idx.hour.to_numpy()
        pv = np.clip(np.sin(np.pi * (h - 6) / 12), 0, None) * 3342 * rng.uniform(0.3, 1, 8760)
        mall = (500 + 1750 * np.clip(np.sin(np.pi * (h - 8) / 15), 0, None)) \
            * rng.uniform(0.9, 1.1, 8760)
        ev = np.where((h >= 9) & (h < 21), 100 * rng.uniform(0.5, 1.5, 8760), 0.0)
        site = pd.DataFrame({"pv_kwh": pv, "ev_kwh": ev, "mall_kwh": mall}, index=idx)
        source = "synthetic stand-in"
    idx = site.index
    buy = pd.Series(Tariff().energy_price(idx), index=idx)
    kw = {"buy": buy, "sell": pd.Series(0.0, index=idx),
              "load_kwh": site["ev_kwh"] + site["mall_kwh"], "pv_kwh": site["pv_kwh"],
              "battery": Battery(), "co2_price_per_kg": 0.1, "co2_kg_per_kwh": 0.4521}
    return kw, source


def main() -> None:
    day = _day()
    optimize_schedule(**day, energy_step_kwh=0.025)  # compile / load the numba cache
    t, r = best_of(lambda: optimize_schedule(**day, energy_step_kwh=0.025), repeat=5)
    tx, x = best_of(lambda: exact_schedule(**day), repeat=3)
    print(f"day 96 x 15 min, 30 kWh, 0.025 kWh grid ({r.info['states']} states): "
          f"DP {t * 1e3:.1f} ms (target <= 50 ms); HiGHS {x.method} {tx * 1e3:.1f} ms; "
          f"DP - exact = {r.objective - x.objective:+.5f}")
    t, r = best_of(lambda: optimize_schedule(**day), repeat=5)
    print(f"day, default grid ({r.info['states']} states): DP {t * 1e3:.1f} ms; "
          f"DP - exact = {r.objective - x.objective:+.5f}")

    kw, source = _year()
    tx, x = best_of(lambda: exact_schedule(**kw), repeat=2)
    for step in (10.0, None):
        t, r = best_of(lambda step=step: optimize_schedule(**kw, energy_step_kwh=step),
                        repeat=3)
        gap = (r.objective - x.objective) / abs(x.objective)
        print(f"Iquitos year ({source}), grid {r.info['energy_step_kwh']:.2f} kWh "
              f"({r.info['states']} states): DP {t:.2f} s (target <= 2 s); "
              f"HiGHS {x.method} {tx:.2f} s; DP vs exact {100 * gap:+.4f} %")


if __name__ == "__main__":
    main()
