"""pvbess: exact, fast PV + battery sizing and operation.

The public API is flat: ``pvbess.Battery``, ``pvbess.simulate``, ``pvbess.optimize_schedule``, ...
Names are imported lazily (PEP 562) so ``import pvbess`` stays fast and a notebook pays for numba,
pvlib or HiGHS only when it uses them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    # specs and input checks
    "Battery": "battery",
    "PVPlant": "pv",
    "Site": "site",
    "Tariff": "tariff",
    "SixPhaseRules": "rules",
    "DataError": "timeseries",
    "step_hours": "timeseries",
    # --- dataset (issue 2) ---
    "generate_iquitos": "dataset",
    "load_iquitos": "dataset",
    "write_iquitos": "dataset",
    "EVFleet": "ev",
    "pv_ac_kwh": "pvmodel",
    "generate_weather": "weather",
    "WeatherModel": "weather",
    "MallLoad": "mall",
    # --- loaders (issue 2) ---
    "read_meter_csv": "loaders",
    "read_energy_csv": "loaders",
    "read_weather": "weather_files",
    "to_hourly": "loaders",
    # --- dispatch, balance, kpis (issue 3) ---
    "simulate": "balance",
    "check_balance": "balance",
    "balance_residuals": "balance",
    "max_residuals": "balance",
    "flow_residuals": "balance",
    "STRATEGIES": "balance",
    "kpis": "indicators",
    "VARIABLES": "variables",
    "simulate_many": "batch",
    # --- optimal scheduling (issue 4) ---
    "optimize_schedule": "optimize",
    "exact_schedule": "exact",
    "ScheduleResult": "schedule_result",
    "evaluate_plan": "schedule_result",
    "read_peer_scenario": "peer",
    "peer_scenarios": "peer",
    "iquitos_optimal_dispatch": "optimal_dispatch",
    # --- figures and reports (issue 5) ---
    "plot_day_balance": "figures",
    "plot_export_and_peak_shaving": "figures",
    "plot_pv_local_vs_export": "figures",
    "plot_mall_peak_shaving": "figures",
    "plot_first_week": "figures",
    "plot_bess_windows": "figures",
    "plot_energy_flows": "figures",
    "plot_pv_representative_days": "figures",
    "plot_daily_balance": "figures",
    "plot_supply_shares": "figures",
    "plot_energy_waterfall": "figures",
    "plot_soc_heatmap": "figures",
    "plot_bess_operation": "figures",
    "plot_pv_destinations": "figures",
    "plot_co2": "figures",
    "plot_pv_utilization": "figures",
    "FIGURES": "figures",
    "scenario_label": "figures",
    "COLORS": "palette",
    "render_report": "report.render",
    "read_summary": "report.artefacts",
    "read_balance": "report.artefacts",
    "write_balance": "report.artefacts",
    # --- sizing sweeps (issue 6) ---
    "sweep": "sizing",
    "expand_grid": "sizing",
    "best_designs": "sizing",
    "GRID_PARAMETERS": "sizing",
    "sweep_summary": "sizing",
    "write_sweep": "sizing",
    "read_sweep": "sizing",
    "Economics": "economics",
    "appraise": "economics",
    "annuity_factor": "economics",
    "capex_pen": "economics",
    "battery_life_years": "economics",
    "replacement_present_value": "economics",
    "npv": "economics",
    "simple_payback": "economics",
    "lcos": "economics",
    "cost_per_tonne_co2": "economics",
    "pareto_front": "pareto",
    "plot_sweep_heatmap": "sizing_plots",
    "plot_sweep_heatmaps": "sizing_plots",
    "plot_pareto": "sizing_plots",
    "sweep_explorer": "sizing_plots",
    # --- event-sourced scheduler (issue 7) ---
    "HourlyEvent": "scheduler.events",
    "HistoricalDataStore": "scheduler.events",
    "ScheduleStore": "scheduler.schedules",
    "StoredSchedule": "scheduler.schedules",
    "DailyViewBuilder": "scheduler.daily_view",
    "OptimizationEngine": "scheduler.manager",
    "SimpleBatterySystemManager": "scheduler.manager",
    "SimulatedController": "scheduler.controller",
    "tou_intervals": "scheduler.controller",
    "PerfectForecast": "scheduler.forecasts",
    "PersistenceForecast": "scheduler.forecasts",
    "MeanProfileForecast": "scheduler.forecasts",
    "NoisyForecast": "scheduler.forecasts",
    "replay": "scheduler.replay",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pvbess' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # cache: the next access skips __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
