"""Benchmark the full bill (energy + demand charges) at Iquitos: the DP's cap search against the
LP bound and the six-phase rules. Prints wall times and costs (machine shared: times are noisy).

Run: .venv/bin/python benchmarks/bench_full_bill.py

The Iquitos year (pvbess.load_iquitos(), hourly), default design (2,000 kWh / 400 kW), starting at
400 kWh, free end (terminal value 0), no battery export, MT3 tariff; for each charge source
("any", "pv", "surplus"): the full-bill DP (target <= 2 s after JIT) and the full-bill LP (target
<= 3 s), their costs and gap, and the rules' bill beside them.
"""

from __future__ import annotations

import time

import numpy as np

# submodule imports: run as a script, pvbess resolves through the editable install's finder
from pvbess.balance import simulate
from pvbess.battery import Battery
from pvbess.bill import demand_cost
from pvbess.inputs.dataset import load_iquitos
from pvbess.optimize.exact import exact_schedule
from pvbess.optimize.schedule import optimize_schedule
from pvbess.tariff import Tariff
from _timing import best_of  # benchmarks/: the script's folder is on the path


def demand_charge_groups(index, tariff):
    """(mask, price per kW) of the tariff's demand-charge groups."""
    return [(mask, price) for mask, price, _, _ in tariff.demand_charges(index)]


def main() -> None:
    site = load_iquitos()
    tariff = Tariff()
    idx = site.index
    battery = Battery()
    inputs = {"buy": tariff.energy_price(idx), "sell": np.zeros(len(idx)),
              "load_kwh": (site["ev_kwh"] + site["mall_kwh"]).to_numpy(float),
              "pv_kwh": site["pv_kwh"].to_numpy(float), "battery": battery}
    opts = {"dt_h": 1.0, "allow_battery_export": False, "terminal_value": 0.0,
            "demand_charges": demand_charge_groups(idx, tariff)}

    t0 = time.perf_counter()
    bal = simulate(site, battery, strategy="six_phase", tariff=tariff)
    t_rules = time.perf_counter() - t0
    imp = bal["grid_import_kwh"].to_numpy(float)
    rules_energy = float((imp * tariff.energy_price(idx)).sum())
    rules_demand = demand_cost(imp, idx, tariff)
    rules = rules_energy + rules_demand
    print(f"Iquitos year, {len(idx)} h, battery {battery.capacity_kwh:,.0f} kWh / "
          f"{battery.power_charge_kw:,.0f} kW, start {battery.e_initial_kwh:,.0f} kWh, free end")
    print(f"six-phase rules: {rules:>12,.0f} PEN (energy {rules_energy:,.0f}, demand "
          f"{rules_demand:,.0f}) in {t_rules:.2f} s")
    # compile / load the numba caches outside the timings
    optimize_schedule(**{k: (v[:48] if isinstance(v, np.ndarray) else v)
                         for k, v in inputs.items()}, dt_h=1.0, charge_source="pv",
                      demand_charges=[(np.ones(48, dtype=bool), 10.0)])
    for source in ("any", "pv", "surplus"):
        t_lp, lp = best_of(lambda s=source: exact_schedule(**inputs, **opts, charge_source=s),
                            repeat=2)
        t_dp, dp = best_of(lambda s=source: optimize_schedule(**inputs, **opts,
                                                               charge_source=s))
        gap = (dp.objective - lp.objective) / lp.objective
        lp_energy = lp.objective - lp.info["demand_cost"]
        print(f"charge source {source!r}:")
        print(f"  LP {lp.method}: {lp.objective:>12,.0f} PEN (energy {lp_energy:,.0f}, demand "
              f"{lp.info['demand_cost']:,.0f}) in {t_lp:.2f} s (target <= 3 s)")
        print(f"  DP:     {dp.objective:>12,.0f} PEN (energy {dp.summary['energy_cost']:,.0f}, "
              f"demand {dp.summary['demand_cost']:,.0f}) in {t_dp:.2f} s (target <= 2 s; "
              f"search {dp.info['search_time_s']:.2f} s, {dp.info['block_evaluations']} block "
              f"DPs on {dp.info['search_states']} states, final DP "
              f"{dp.info['final_time_s']:.2f} s)")
        print(f"  DP - LP = {dp.objective - lp.objective:+,.0f} PEN ({100 * gap:+.3f} %); "
              f"DP - rules = {dp.objective - rules:+,.0f} PEN "
              f"({100 * (dp.objective - rules) / rules:+.2f} %)")


if __name__ == "__main__":
    main()
