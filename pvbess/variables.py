"""The variables table: name, unit, sign and meaning of every balance column, KPI and scheduler
column (plans, stored schedules, recorded events, the daily view).

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


# Columns of the scheduler's tables that the balance table does not have (kind "scheduler").
# Shared quantities (bess_charge_kwh, grid_import_kwh, soe_end_kwh, setpoint_kwh, ...) are the
# balance rows above: one name, one meaning, whichever table holds them.
_SCHEDULER_ROWS = (
    ("dt_h", "h", "> 0", "period length"),
    ("load_kwh", "kWh", ">= 0", "site demand in the period (input; ev + mall at Iquitos)"),
    ("buy_price", "currency/kWh", "", "price of imported energy, incl. any CO2 price"),
    ("sell_price", "currency/kWh", "", "price paid for exported energy"),
    ("soe_start_kwh", "kWh", "in [E_min, E_max]", "stored energy at the START of the period"),
    ("pv_to_load_kwh", "kWh", ">= 0", "PV serving the load"),
    ("grid_to_load_kwh", "kWh", ">= 0", "grid import serving the load"),
    ("bess_to_load_kwh", "kWh", ">= 0", "battery AC delivery to the load"),
    ("grid_export_kwh", "kWh", ">= 0", "total grid export = pv_export + bess_export"),
    ("wear_cost", "currency", ">= 0", "battery wear: wear_cost_per_kwh * eta_c * bess_charge"),
    ("grid_only_cost", "currency", "", "load * buy_price: no PV, no battery"),
    ("solar_only_cost", "currency", "",
     "max(load - pv, 0) * buy_price - max(pv - load, 0) * sell_price: PV, no battery"),
    ("optimized_cost", "currency", "",
     "grid_import * buy_price - grid_export * sell_price + wear_cost"),
    ("savings_vs_grid_only", "currency", "+ saved", "grid_only_cost - optimized_cost"),
    ("savings_vs_solar_only", "currency", "+ saved", "solar_only_cost - optimized_cost"),
    ("action", "-", "", "grid_charging | solar_storage | load_support | battery_export | "
     "solar_export | idle"),
)

#: The scheduler's tables, column by column (every name is a row of :data:`VARIABLES`):
#: ``plan`` = ``ScheduleResult.periods``, ``schedule`` = a stored plan, ``event`` = a recorded
#: period, ``daily_view`` = ``DailyView.periods``.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "plan": (
        "load_kwh", "pv_kwh", "buy_price", "sell_price", "soe_start_kwh", "soe_end_kwh",
        "bess_charge_kwh", "bess_discharge_kwh", "setpoint_kwh", "pv_to_load_kwh",
        "pv_to_bess_kwh", "pv_export_kwh", "grid_to_load_kwh", "grid_to_bess_kwh",
        "bess_to_load_kwh", "bess_export_kwh", "pv_curtailed_kwh", "grid_import_kwh",
        "grid_export_kwh", "co2_kg", "wear_cost", "grid_only_cost", "solar_only_cost",
        "optimized_cost", "savings_vs_grid_only", "savings_vs_solar_only", "action",
    ),
    "schedule": (
        "load_kwh", "pv_kwh", "buy_price", "sell_price", "soe_start_kwh", "soe_end_kwh",
        "bess_charge_kwh", "bess_discharge_kwh", "setpoint_kwh", "grid_import_kwh",
        "grid_export_kwh", "pv_curtailed_kwh", "wear_cost", "optimized_cost",
    ),
    "event": (
        "dt_h", "soe_start_kwh", "soe_end_kwh", "pv_kwh", "load_kwh", "grid_import_kwh",
        "grid_export_kwh", "bess_charge_kwh", "bess_discharge_kwh", "pv_curtailed_kwh",
        "buy_price", "sell_price", "wear_cost",
    ),
    "daily_view": (
        "load_kwh", "pv_kwh", "buy_price", "sell_price", "soe_start_kwh", "soe_end_kwh",
        "bess_charge_kwh", "bess_discharge_kwh", "grid_import_kwh", "grid_export_kwh",
        "pv_curtailed_kwh", "wear_cost", "grid_only_cost", "solar_only_cost", "optimized_cost",
        "savings_vs_grid_only", "savings_vs_solar_only",
    ),
}


def _build() -> pd.DataFrame:
    rows = [dict(name=n, kind=k, unit=u, sign=s, meaning=m) for n, k, u, s, m in _ROWS]
    sums = [r for r in rows if r["name"] not in ("pv_kwh", "ev_kwh", "mall_kwh")
            and r["unit"] == "kWh" and r["name"] not in ("soe_end_kwh", "setpoint_kwh",
                                                         "setpoint_deviation_kwh")]
    kpi_rows = [dict(name=r["name"], kind="kpi", unit="kWh", sign=">= 0",
                     meaning=f"sum over the period of {r['name']}")
                for r in rows[:3] + sums]
    kpi_rows += [dict(name=n, kind="kpi", unit=u, sign=s, meaning=m) for n, u, s, m in _KPI_ROWS]
    scheduler_rows = [dict(name=n, kind="scheduler", unit=u, sign=s, meaning=m)
                      for n, u, s, m in _SCHEDULER_ROWS]
    table = pd.DataFrame(rows + kpi_rows + scheduler_rows,
                         columns=["name", "kind", "unit", "sign", "meaning"])
    return table


#: Every balance column (kind ``"balance"``), KPI (kind ``"kpi"``) and scheduler-only column
#: (kind ``"scheduler"``): name, kind, unit, sign, meaning. Balance and scheduler energies are
#: per step (period) of the index; KPI energies are sums over the period.
VARIABLES: pd.DataFrame = _build()


# --- words and numbers for readers --------------------------------------------------------------
#: Unit of a name by its suffix (longest suffix wins), for names outside :data:`VARIABLES`
#: (sweep and economics columns).
_SUFFIX_UNITS = (
    ("_pen_per_kwh", "PEN/kWh"), ("_pen_per_year", "PEN/yr"), ("_pen_per_usd", "PEN/USD"),
    ("_usd_per_kwh", "USD/kWh"), ("_usd_per_kw", "USD/kW"), ("_years", "yr"), ("_kwh", "kWh"),
    ("_kwp", "kWp"), ("_kw", "kW"), ("_frac", "-"), ("_pen", "PEN"), ("_usd", "USD"),
    ("_kg", "kg"), ("_t", "t"), ("_h", "h"), ("_days", "d"), ("_pct", "%"),
)
#: Words for the parts of a name (an acronym keeps its capitals).
_WORDS = {
    "pv": "PV", "bess": "battery", "ev": "EV", "co2": "CO2", "hp": "HP", "hfp": "HFP",
    "npv": "NPV", "lcos": "LCOS", "eac": "equivalent annual cost", "soe": "stored energy",
    "soc": "state of charge", "kpi": "KPI", "irr": "IRR", "dp": "DP", "lp": "LP",
    "frac": "", "vs": "vs", "pen": "", "kwh": "", "kw": "", "kg": "", "t": "", "h": "",
}
#: Words for names where the rule would read badly (figures, tables and widgets use them).
LABELS = {
    "capacity_kwh": "battery capacity", "power_kw": "battery power", "pv_scale": "PV scale",
    "peak_threshold_kw": "peak threshold", "grid_import_kwh": "grid import",
    "grid_export_kwh": "grid export", "pv_curtailed_kwh": "PV curtailed",
    "soe_start_kwh": "stored energy at the start", "soe_end_kwh": "stored energy at the end",
    "bess_charge_kwh": "battery charge (AC)", "bess_discharge_kwh": "battery discharge (AC)",
    "setpoint_kwh": "battery setpoint (+ charge)", "co2_t": "CO2 of the grid imports",
    "co2_kg": "CO2 of the grid imports", "total_cost_pen": "grid bill",
    "self_sufficiency_frac": "self-sufficiency", "self_consumption_frac": "PV self-consumption",
    "equivalent_full_cycles": "equivalent full cycles", "closure_miss_days": "closure misses",
    "pv_kwh": "PV generation", "ev_kwh": "EV charging demand", "mall_kwh": "mall demand",
    "load_kwh": "load", "closure_days": "closure days", "pen_per_usd": "exchange rate",
    "gap_vs_exact": "gap to the exact optimum", "peak_grid_kw": "peak grid import",
    "peak_grid_hp_kw": "peak grid import in HP", "peak_grid_hfp_kw": "peak grid import in HFP",
    "power_charge_kw": "battery charge power", "power_discharge_kw": "battery discharge power",
    "pv_kwp": "PV size", "export_limit_kw": "PV export limit",
    "round_trip_efficiency": "round-trip efficiency",
    "hours_above_peak_after_h": "hours above the peak threshold",
    "eac_pen_per_year": "equivalent annual cost",
    "optimal_saving_share_frac": "share of the optimal saving",
    "demand_cost_pen": "demand charges", "co2_site_kg": "site CO2 (grid import)",
    "co2_net_kg": "grid-wide CO2 (import - export)", "train_time_s": "training time",
    "train_steps": "training steps",
}
#: Units of names that neither :data:`VARIABLES` nor a suffix tells.
_UNITS = {"pen_per_usd": "PEN/USD", "gap_vs_exact": "PEN", "pv_scale": "-",
          "round_trip_efficiency": "-", "train_time_s": "s", "train_steps": "periods"}


#: Which way is better, for the quantities a study ranks designs by ("higher" / "lower");
#: figures colour "better" the same way whatever the quantity.
_HIGHER_BETTER = ("self_sufficiency_frac", "self_consumption_frac", "ev_pv_share_frac",
                  "npv_vs_grid_pen", "npv_vs_pv_pen", "co2_avoided_vs_grid_only_t",
                  "co2_avoided_vs_pv_only_t", "savings_vs_grid_only", "savings_vs_solar_only",
                  "optimal_saving_share_frac")
_LOWER_BETTER_SUFFIXES = ("_cost_pen", "_charge_pen", "_pen_per_year", "_pen_per_kwh",
                          "_years", "co2_t", "co2_kg", "_above_peak_after_h", "peak_grid_kw",
                          "peak_grid_hp_kw", "peak_grid_hfp_kw", "cost_per_tco2_vs_grid_pen",
                          "cost_per_tco2_vs_pv_pen", "grid_import_kwh", "closure_miss_days",
                          "capex_pv_pen", "capex_bess_pen", "gap_vs_exact")


def better(name: str) -> str | None:
    """``"higher"`` or ``"lower"`` when one way is better for this quantity, else None."""
    if name in _HIGHER_BETTER:
        return "higher"
    if name.endswith(_LOWER_BETTER_SUFFIXES):
        return "lower"
    return None


def unit_of(name: str) -> str:
    """The unit of a column or KPI: its :data:`VARIABLES` row, else its name's suffix, else "-"."""
    if name in _UNITS:
        return _UNITS[name]
    rows = VARIABLES.loc[VARIABLES["name"] == name, "unit"]
    if len(rows):
        return str(rows.iloc[0])
    for suffix, unit in _SUFFIX_UNITS:
        if name.endswith(suffix):
            return unit
    return "-"


def label(name: str, *, unit: bool = True) -> str:
    """Words for a column or KPI name, with its unit: ``"grid import [kWh]"``.

    Fractions read as percentages (``"self-sufficiency [%]"``), as :func:`format_value` prints
    them.
    """
    words = LABELS.get(name)
    if words is None:
        stem = name
        for suffix, _ in _SUFFIX_UNITS:
            if name.endswith(suffix):
                stem = name[: -len(suffix)]
                break
        words = " ".join(w for w in (_WORDS.get(p, p) for p in stem.split("_")) if w)
    u = unit_of(name)
    if not unit or u == "-" and not name.endswith("_frac"):
        return words
    return f"{words} [{'%' if u == '-' else u}]"


def format_value(name: str, value: object) -> str:
    """A value as a reader wants it: thousands separators, digits by unit, fractions in %."""
    if value is None or isinstance(value, str):
        return "n/a" if value is None else value
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if x != x or x in (float("inf"), float("-inf")):
        return "n/a"
    u = unit_of(name)
    if name.endswith("_frac"):
        return f"{round(100 * x, 1) + 0.0:,.1f}"  # + 0.0: no "-0.0" for a tiny negative
    if u in ("d", "h") or float(x).is_integer() and abs(x) >= 1:
        return f"{x:,.0f}"
    digits = {"PEN/kWh": 4, "USD/kWh": 4, "t": 1, "yr": 1, "-": 2, "%": 2}.get(u)
    if digits is None:
        digits = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2
    return f"{round(x, digits) + 0.0:,.{digits}f}"  # + 0.0: no "-0.0"
