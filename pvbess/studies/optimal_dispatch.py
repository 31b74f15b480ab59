"""Iquitos: optimal dispatch of the site battery for a year against the six-phase rules, on the
full bill the site pays.

:func:`iquitos_optimal_dispatch` returns one row per strategy, each priced by
:func:`pvbess.bill.site_bill` (energy, demand charges, wear, CO2; site and grid-wide CO2):

- ``dp``: :func:`pvbess.optimize_schedule` on the full bill (demand charges inside);
- ``exact``: :func:`pvbess.exact_schedule`, the same problem solved exactly: the bound of every
  full-bill strategy;
- ``six_phase``: the rules (:func:`pvbess.simulate`);
- ``no_battery``: PV without a battery (``simulate(strategy="pv_only")``).

Every strategy starts from the same stored energy and ends free (no value on what is left,
``final_stored_kwh`` says how much). With ``bill="energy"`` the optimizers leave the demand
charges out (rows ``dp_energy_only``, ``exact_energy_only``); their bills still show the demand
charges their import profile incurs, which is why they lose to the rules on the real bill.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from ..balance import simulate
from ..battery import Battery
from ..bill import BILL_COLUMNS, bill_table, site_bill
from ..inputs.dataset import load_iquitos
from ..optimize.schedule import optimize_schedule
from ..optimize.exact import exact_schedule
from ..optimize.problem import SchedulingProblem
from ..rules import SixPhaseRules
from ..site import Site
from ..tariff import Tariff
from ..timeseries import DataError

__all__ = ["STRATEGY_COLUMNS", "iquitos_optimal_dispatch"]

#: Columns of the comparison table.
STRATEGY_COLUMNS = (*BILL_COLUMNS, "solve_time_s")


def iquitos_optimal_dispatch(site: pd.DataFrame | None = None, battery: Battery | None = None,
                             *, tariff: Tariff | None = None, rules: SixPhaseRules | None = None,
                             co2_price_pen_per_kg: float = 0.0,
                             co2_kg_per_kwh: float | None = None, charge_source: str = "pv",
                             allow_battery_export: bool = False, bill: str = "full",
                             energy_step_kwh: float | None = None, dp: bool = True,
                             exact: bool = True,
                             six_phase: bool = True, no_battery: bool = True
                             ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Annual bill and CO2 of the optimal battery dispatch at Iquitos, against the rules.

    Parameters
    ----------
    site : DataFrame, optional
        ``pv_kwh``, ``ev_kwh``, ``mall_kwh`` on a regular tz-aware index (default
        ``pvbess.load_iquitos()``). [kWh]
    battery : Battery, optional
        Default ``Battery()``; every strategy starts at ``battery.e_initial_kwh``.
    tariff : Tariff, optional
        Default ``Tariff()`` (MT3): energy prices, demand charges, export price.
    rules : SixPhaseRules, optional
        For the six-phase row (default ``SixPhaseRules()``); its export limit applies to all.
    co2_price_pen_per_kg : float
        CO2 price on the site's emissions, part of every optimizer's objective. [PEN/kg]
    co2_kg_per_kwh : float, optional
        Grid emission factor (default ``Site().co2_kg_per_kwh``). [kg/kWh]
    charge_source : {"any", "pv", "surplus"}
        Where the optimizers may charge from (default ``"pv"``, as the rules do).
    allow_battery_export : bool
        Let the optimizers discharge into the grid (the rules never do).
    bill : {"full", "energy"}
        ``"full"``: the optimizers see the demand charges. ``"energy"``: energy-only optimizers
        (rows ``dp_energy_only`` and ``exact_energy_only``).
    energy_step_kwh : float, optional
        DP grid step. [kWh]
    dp, exact, six_phase, no_battery : bool
        Which rows to compute.

    Returns
    -------
    table : DataFrame
        One row per strategy; columns :data:`STRATEGY_COLUMNS` (:data:`pvbess.bill.BILL_COLUMNS`
        and ``solve_time_s``).
    results : dict
        The :class:`pvbess.ScheduleResult` objects and the balance tables, by row.
    """
    if bill not in ("full", "energy"):
        raise DataError(f"bill = {bill!r}: must be 'full' or 'energy'")
    battery = Battery() if battery is None else battery
    tariff = Tariff() if tariff is None else tariff
    rules = SixPhaseRules() if rules is None else rules
    site = load_iquitos() if site is None else site
    factor = Site().co2_kg_per_kwh if co2_kg_per_kwh is None else float(co2_kg_per_kwh)
    index = site.index
    problem = SchedulingProblem.from_site(
        site, battery, tariff, co2_kg_per_kwh=factor, co2_price_per_kg=co2_price_pen_per_kg,
        charge_source=charge_source, allow_battery_export=allow_battery_export,
        demand_charges=bill == "full", export_limit_kw=rules.export_limit_kw)
    suffix = "" if bill == "full" else "_energy_only"
    priced = dict(co2_kg_per_kwh=factor, co2_price_per_kg=co2_price_pen_per_kg)
    rows: dict[str, dict[str, float]] = {}
    results: dict[str, Any] = {}

    def plan_row(name: str, res: Any) -> None:
        p = res.periods
        rows[name] = {**site_bill(p["grid_import_kwh"], p["grid_export_kwh"], index, tariff,
                                  bess_charge_kwh=p["bess_charge_kwh"],
                                  bess_discharge_kwh=p["bess_discharge_kwh"],
                                  wear_cost_per_kwh_stored=battery.wear_cost_per_kwh,
                                  eta_charge=battery.eta_charge,
                                  final_stored_kwh=float(res.soe_kwh[-1]), **priced),
                      "solve_time_s": res.solve_time_s}
        results[name] = res

    def rules_row(name: str, strategy: str) -> None:
        t0 = time.perf_counter()
        bal = simulate(site, battery, rules, strategy, tariff=tariff, co2_kg_per_kwh=factor)
        elapsed = time.perf_counter() - t0
        rows[name] = {**site_bill(bal["grid_import_kwh"], bal["pv_export_kwh"]
                                  + bal["bess_export_kwh"], index, tariff,
                                  bess_charge_kwh=bal["bess_charge_kwh"],
                                  bess_discharge_kwh=bal["bess_discharge_kwh"],
                                  wear_cost_per_kwh_stored=battery.wear_cost_per_kwh,
                                  eta_charge=battery.eta_charge,
                                  final_stored_kwh=float(bal["soe_end_kwh"].iloc[-1]), **priced),
                      "solve_time_s": elapsed}
        results[name] = bal

    if dp:
        plan_row("dp" + suffix, optimize_schedule(problem, energy_step_kwh=energy_step_kwh))
    if exact:
        plan_row("exact" + suffix, exact_schedule(problem))
    if six_phase:
        rules_row("six_phase", "six_phase")
    if no_battery:
        rules_row("no_battery", "pv_only")
    return bill_table(rows, extra=("solve_time_s",)), results
