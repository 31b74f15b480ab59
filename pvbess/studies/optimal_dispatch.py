"""Iquitos: optimal dispatch of the site battery for a year against the six-phase rules.

One function, :func:`iquitos_optimal_dispatch`, returns a small table with one row per strategy:

- ``dp``: :func:`pvbess.optimize_schedule` on the HP/HFP energy prices plus the CO2 price
  (the DP does not see demand charges; they are computed afterwards on its import profile);
- ``exact``: :func:`pvbess.exact_schedule`, the same energy-only model solved exactly (the DP's
  bound);
- ``exact_demand``: the exact model with the demand charges inside, as an LP with one peak variable
  per month and window (HP, HFP);
- ``six_phase``: the rule-based dispatch (:func:`pvbess.simulate`), if available.

Demand charges for every row: per calendar month, the peak import power inside the HP window times
the HP price plus the peak inside the HFP window times the HFP price (both per kW-month).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..battery import Battery
from ..physics import stored_energy, wear_cost
from ..rules import SixPhaseRules
from ..tariff import Tariff
from ..timeseries import DataError, check_energy_columns, step_hours

__all__ = ["demand_charge_groups", "demand_cost", "iquitos_optimal_dispatch"]

STRATEGY_COLUMNS = ("energy_cost_pen", "demand_cost_pen", "wear_cost_pen", "co2_kg",
                    "co2_cost_pen", "total_cost_pen", "import_kwh", "export_kwh",
                    "solve_time_s")


def demand_charge_groups(index: pd.DatetimeIndex, tariff: Tariff | None = None
                         ) -> list[tuple[np.ndarray, float]]:
    """Demand-charge groups for :func:`pvbess.exact_schedule`: (mask, price per kW) for each
    calendar month (local clock) and window (HP, HFP). [PEN/kW-month]"""
    tariff = Tariff() if tariff is None else tariff
    peak = tariff.is_peak(index)
    months = index.year * 12 + index.month
    groups = []
    for m in np.unique(months):
        in_month = np.asarray(months == m)
        groups.append((in_month & peak, tariff.demand_hp_pen_per_kw_month))
        groups.append((in_month & ~peak, tariff.demand_hfp_pen_per_kw_month))
    return [(mask, price) for mask, price in groups if mask.any()]


def demand_cost(import_kwh: np.ndarray, index: pd.DatetimeIndex, tariff: Tariff | None = None
                ) -> float:
    """Demand charges of an import profile (monthly peaks per window). [PEN]"""
    dt = step_hours(index)
    kw = np.asarray(import_kwh, dtype=float) / dt
    return float(sum(price * kw[mask].max() for mask, price in demand_charge_groups(index, tariff)))


def iquitos_optimal_dispatch(site: pd.DataFrame | None = None, battery: Battery | None = None,
                             *, tariff: Tariff | None = None, rules: SixPhaseRules | None = None,
                             co2_price_pen_per_kg: float = 0.0, co2_kg_per_kwh: float = 0.4521,
                             allow_grid_charge: bool = True, allow_battery_export: bool = False,
                             energy_step_kwh: float | None = None, exact: bool = True,
                             with_demand: bool = True, six_phase: bool = True
                             ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Annual cost and CO2 of optimal battery dispatch at Iquitos, against the six-phase rules.

    Parameters
    ----------
    site : DataFrame, optional
        ``pv_kwh``, ``ev_kwh``, ``mall_kwh`` on a regular tz-aware index (default
        ``pvbess.load_iquitos()``). [kWh]
    battery : Battery, optional
        The site battery, default ``Battery()`` (starts at ``battery.e_initial_kwh``; terminal value 0).
    tariff : Tariff, optional
        Default ``Tariff()``: HP/HFP energy prices [PEN/kWh], demand charges [PEN/kW-month], export price.
    rules : SixPhaseRules, optional
        For the six-phase row (default ``SixPhaseRules()``).
    co2_price_pen_per_kg : float
        CO2 price added to the buy price. [PEN/kg]
    co2_kg_per_kwh : float
        Grid emission factor. [kg/kWh]
    allow_grid_charge : bool
        False = PV-only charging.
    allow_battery_export : bool
        Let the battery export (the site exports at ``tariff.export_pen_per_kwh``).
    energy_step_kwh : float, optional
        DP grid step. [kWh]
    exact, with_demand, six_phase : bool
        Which comparison rows to compute.

    Returns
    -------
    table : DataFrame
        Rows ``dp``, ``exact``, ``exact_demand``, ``six_phase`` (as requested); columns
        ``energy_cost_pen`` (import cost minus export revenue), ``demand_cost_pen``,
        ``wear_cost_pen``, ``co2_kg``, ``co2_cost_pen``, ``total_cost_pen`` (sum of the costs),
        ``import_kwh``, ``export_kwh``, ``solve_time_s``.
    results : dict
        The :class:`pvbess.ScheduleResult` objects (and the six-phase balance table).
    """
    from ..optimize.exact import exact_schedule
    from ..optimize.dp import optimize_schedule

    battery = Battery() if battery is None else battery
    tariff = Tariff() if tariff is None else tariff
    rules = SixPhaseRules() if rules is None else rules
    if site is None:
        import pvbess

        loader = getattr(pvbess, "load_iquitos", None)
        if loader is None:
            raise DataError("site: pvbess.load_iquitos is not available; pass a site table")
        site = loader()
    check_energy_columns(site, ["pv_kwh", "ev_kwh", "mall_kwh"])
    index = site.index
    dt = step_hours(index)
    load = site["ev_kwh"].to_numpy(float) + site["mall_kwh"].to_numpy(float)
    pv = site["pv_kwh"].to_numpy(float)
    buy = pd.Series(tariff.energy_price(index), index=index)
    sell = pd.Series(np.full(len(index), tariff.export_pen_per_kwh), index=index)
    kw = {"buy": buy, "sell": sell, "load_kwh": pd.Series(load, index=index),
              "pv_kwh": pd.Series(pv, index=index), "battery": battery, "dt_h": dt,
              "allow_grid_charge": allow_grid_charge, "allow_battery_export": allow_battery_export,
              "co2_price_per_kg": co2_price_pen_per_kg, "co2_kg_per_kwh": co2_kg_per_kwh}
    rows: dict[str, dict[str, float]] = {}
    results: dict[str, Any] = {}

    def row(res, demand: float | None = None) -> dict[str, float]:
        p = res.periods
        imp = p["import_kwh"].to_numpy()
        energy = float((imp * tariff.energy_price(index)).sum()
                       - (p["export_kwh"] * p["sell_price"]).sum())
        co2 = float(imp.sum() * co2_kg_per_kwh)
        dem = demand_cost(imp, index, tariff) if demand is None else demand
        wear = float(p["wear_cost"].sum())
        co2_cost = co2 * co2_price_pen_per_kg
        return {"energy_cost_pen": energy, "demand_cost_pen": dem, "wear_cost_pen": wear,
                "co2_kg": co2, "co2_cost_pen": co2_cost,
                "total_cost_pen": energy + dem + wear + co2_cost,
                "import_kwh": float(imp.sum()), "export_kwh": float(p["export_kwh"].sum()),
                "solve_time_s": res.solve_time_s}

    dp = optimize_schedule(**kw, energy_step_kwh=energy_step_kwh)
    results["dp"] = dp
    rows["dp"] = row(dp)
    if exact:
        ex = exact_schedule(**kw)
        results["exact"] = ex
        rows["exact"] = row(ex)
    if with_demand:
        exd = exact_schedule(**kw, demand_charges=demand_charge_groups(index, tariff))
        results["exact_demand"] = exd
        rows["exact_demand"] = row(exd)
    if six_phase:
        try:
            from ..balance import simulate
        except ImportError:  # pragma: no cover - the balance module is a colleague's
            simulate = None
        if simulate is not None:
            import time

            t0 = time.perf_counter()
            bal = simulate(site, battery, rules, "six_phase", tariff=tariff,
                           co2_kg_per_kwh=co2_kg_per_kwh)
            elapsed = time.perf_counter() - t0
            imp = bal["grid_import_kwh"].to_numpy(float)
            exp = (bal["pv_export_kwh"] + bal["bess_export_kwh"]).to_numpy(float)
            energy = float((imp * tariff.energy_price(index)).sum()
                           - (exp * tariff.export_pen_per_kwh).sum())
            stored = stored_energy(bal["bess_charge_kwh"].to_numpy(float), battery.eta_charge)
            wear = float(wear_cost(stored.sum(), battery.wear_cost_per_kwh))
            dem = demand_cost(imp, index, tariff)
            co2 = float(imp.sum() * co2_kg_per_kwh)
            rows["six_phase"] = {
                "energy_cost_pen": energy, "demand_cost_pen": dem, "wear_cost_pen": wear,
                "co2_kg": co2, "co2_cost_pen": co2 * co2_price_pen_per_kg,
                "total_cost_pen": energy + dem + wear + co2 * co2_price_pen_per_kg,
                "import_kwh": float(imp.sum()), "export_kwh": float(exp.sum()),
                "solve_time_s": elapsed}
            results["six_phase"] = bal
    table = pd.DataFrame.from_dict(rows, orient="index")[list(STRATEGY_COLUMNS)]
    table.index.name = "strategy"
    return table, results
