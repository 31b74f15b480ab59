"""The variables table: name, unit, sign and meaning of every balance column and every KPI.

One source of truth for notebooks, reports and tests (tests hold :func:`pvbess.simulate`'s columns
and :func:`pvbess.kpis`' names equal to the rows here).
"""

from __future__ import annotations

import pandas as pd

# (name, kind, unit, sign, meaning); "per step" energies are kWh in the step of the index.
_ROWS = (
    # inputs
    ("pv_kwh", "balance", "kWh", ">= 0", "PV AC generation in the step (input)"),
    ("ev_kwh", "balance", "kWh", ">= 0", "EV charging demand in the step (input)"),
    ("mall_kwh", "balance", "kWh", ">= 0", "mall demand in the step (input)"),
    # PV use
    ("pv_to_ev_kwh", "balance", "kWh", ">= 0", "PV serving the EV chargers"),
    ("pv_to_bess_kwh", "balance", "kWh", ">= 0",
     "PV drawn into the battery (AC side, before charging losses)"),
    ("pv_to_mall_kwh", "balance", "kWh", ">= 0", "PV serving the mall"),
    ("pv_export_kwh", "balance", "kWh", ">= 0",
     "PV exported to the grid (at most export_limit_kw * dt)"),
    ("pv_curtailed_kwh", "balance", "kWh", ">= 0",
     "PV not used (above the export limit; all PV in strategy grid_only)"),
    # battery delivery
    ("bess_to_ev_kwh", "balance", "kWh", ">= 0", "battery AC delivery to the EV chargers"),
    ("bess_to_mall_kwh", "balance", "kWh", ">= 0", "battery AC delivery to the mall"),
    ("bess_export_kwh", "balance", "kWh", ">= 0",
     "battery AC delivery to the grid (schedule with allow_battery_export only; else 0)"),
    # grid
    ("grid_to_ev_kwh", "balance", "kWh", ">= 0", "grid import serving the EV chargers"),
    ("grid_to_mall_kwh", "balance", "kWh", ">= 0", "grid import serving the mall"),
    ("grid_to_bess_kwh", "balance", "kWh", ">= 0",
     "grid import charging the battery (schedule with allow_grid_charge only; else 0)"),
    ("grid_import_kwh", "balance", "kWh", ">= 0",
     "total grid import = grid_to_ev + grid_to_mall + grid_to_bess"),
    # battery
    ("bess_charge_kwh", "balance", "kWh", ">= 0",
     "AC energy drawn by the battery = pv_to_bess + grid_to_bess (stores eta_c times this)"),
    ("bess_discharge_kwh", "balance", "kWh", ">= 0",
     "AC energy delivered by the battery = bess_to_ev + bess_to_mall + bess_export "
     "(removes this / eta_d from storage)"),
    ("bess_loss_kwh", "balance", "kWh", ">= 0",
     "conversion loss = (1 - eta_c) * bess_charge + bess_discharge * (1/eta_d - 1)"),
    ("soe_end_kwh", "balance", "kWh", "in [E_min, E_max]", "stored energy at the END of the step"),
    ("soc_frac", "balance", "-", "in [soc_min, soc_max]",
     "state of charge at the END of the step = soe_end_kwh / capacity_kwh"),
    ("phase", "balance", "-", "0..6",
     "six-phase label: 6 night idle, 1 morning charge, 2 day charging/available, 3 holding, "
     "4 peak shaving moved energy (PV taken back from the charge or battery delivery), 5 the "
     "battery delivered to the EVs or for the closure (wins over 4); 0 for every other "
     "strategy"),
    ("setpoint_kwh", "balance", "kWh", "+ charge, - discharge",
     "requested AC battery energy (strategy schedule; NaN otherwise)"),
    ("setpoint_deviation_kwh", "balance", "kWh", "actual - setpoint",
     "(bess_charge - bess_discharge) - setpoint_kwh: what the physics clipped (schedule; NaN "
     "otherwise)"),
    ("tariff_period", "balance", "-", "HP/HFP", "tariff period of the step (local clock)"),
    ("energy_price_pen_per_kwh", "balance", "PEN/kWh", ">= 0", "energy price of the step"),
    ("energy_cost_pen", "balance", "PEN", ">= 0",
     "grid_import * energy price (demand charges are monthly, see the KPIs)"),
    ("co2_kg", "balance", "kg", ">= 0", "grid_import * grid emission factor"),
)

_KPI_ROWS = (
    ("load_kwh", "kWh", ">= 0", "ev + mall"),
    ("self_sufficiency_frac", "-", "<= 1", "1 - grid_import / load"),
    ("self_consumption_frac", "-", "in [0, 1]", "1 - (pv_export + pv_curtailed) / pv"),
    ("ev_pv_share_frac", "-", "in [0, 1]", "pv_to_ev / ev"),
    ("ev_bess_share_frac", "-", "in [0, 1]", "bess_to_ev / ev"),
    ("ev_grid_share_frac", "-", "in [0, 1]", "grid_to_ev / ev"),
    ("equivalent_full_cycles", "-", ">= 0",
     "(bess_discharge / eta_d) / usable_kwh: energy taken out of storage over the usable window"),
    ("closure_days", "d", ">= 0",
     "local days with closure-window steps up to close_h (a last day cut short is not counted)"),
    ("closure_miss_days", "d", ">= 0",
     "closure days ending (at close_h) above E_min + 1e-6 kWh"),
    ("closure_miss_power_allowed_days", "d", ">= 0",
     "closure misses where (E0 - E_min) * eta_d <= P_discharge * (close_h - t0) at the day's first "
     "closure step (the power allowed the closure; should be 0)"),
    ("hours_above_peak_before_h", "h", ">= 0",
     "time with the mall demand alone above peak_threshold_kw"),
    ("hours_above_peak_pv_only_h", "h", ">= 0",
     "time with the mall's grid draw, with PV and no battery, above peak_threshold_kw"),
    ("hours_above_peak_after_h", "h", ">= 0",
     "time with the mall's grid draw (grid_to_mall) above peak_threshold_kw"),
    ("peak_grid_kw", "kW", ">= 0", "largest grid_import / dt"),
    ("peak_grid_hp_kw", "kW", ">= 0", "largest grid_import / dt in HP steps"),
    ("peak_grid_hfp_kw", "kW", ">= 0", "largest grid_import / dt in HFP steps"),
    ("co2_t", "t", ">= 0", "grid_import * emission factor"),
    ("co2_baseline_grid_only_t", "t", ">= 0", "baseline (a), no PV and no battery: load * factor"),
    ("co2_baseline_pv_only_t", "t", ">= 0",
     "baseline (b), PV without battery: sum of max(0, load - pv) * factor"),
    ("co2_avoided_vs_grid_only_t", "t", "+ avoided", "baseline (a) - co2_t"),
    ("co2_avoided_vs_pv_only_t", "t", "+ avoided", "baseline (b) - co2_t"),
    ("co2_export_displaced_t", "t", ">= 0",
     "(pv_export + bess_export) * factor: diesel displaced elsewhere, not part of the site's "
     "avoided CO2"),
    ("grid_import_hp_kwh", "kWh", ">= 0", "grid import in HP steps"),
    ("grid_import_hfp_kwh", "kWh", ">= 0", "grid import in HFP steps"),
    ("energy_cost_hp_pen", "PEN", ">= 0", "HP grid import * HP price"),
    ("energy_cost_hfp_pen", "PEN", ">= 0", "HFP grid import * HFP price"),
    ("energy_cost_pen", "PEN", ">= 0", "energy_cost_hp + energy_cost_hfp"),
    ("demand_charge_hp_pen", "PEN", ">= 0",
     "sum over calendar months of (max HP grid draw [kW]) * HP demand rate"),
    ("demand_charge_hfp_pen", "PEN", ">= 0",
     "sum over calendar months of (max HFP grid draw [kW]) * HFP demand rate"),
    ("demand_charge_pen", "PEN", ">= 0", "demand_charge_hp + demand_charge_hfp"),
    ("export_revenue_pen", "PEN", ">= 0", "(pv_export + bess_export) * export price"),
    ("total_cost_pen", "PEN", "", "energy_cost + demand_charge - export_revenue"),
)


def _build() -> pd.DataFrame:
    rows = [dict(name=n, kind=k, unit=u, sign=s, meaning=m) for n, k, u, s, m in _ROWS]
    sums = [r for r in rows if r["name"] not in ("pv_kwh", "ev_kwh", "mall_kwh")
            and r["unit"] == "kWh" and r["name"] not in ("soe_end_kwh", "setpoint_kwh",
                                                         "setpoint_deviation_kwh")]
    kpi_rows = [dict(name=r["name"], kind="kpi", unit="kWh", sign=">= 0",
                     meaning=f"sum over the period of {r['name']}")
                for r in rows[:3] + sums]
    kpi_rows += [dict(name=n, kind="kpi", unit=u, sign=s, meaning=m) for n, u, s, m in _KPI_ROWS]
    table = pd.DataFrame(rows + kpi_rows, columns=["name", "kind", "unit", "sign", "meaning"])
    return table


#: Every balance column (kind ``"balance"``) and KPI (kind ``"kpi"``): name, kind, unit, sign,
#: meaning. Balance energies are per step of the index; KPI energies are sums over the period.
VARIABLES: pd.DataFrame = _build()
