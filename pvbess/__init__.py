"""pvbess: exact, fast PV + battery sizing and operation.

The public API is flat: ``pvbess.Battery``, ``pvbess.simulate``, ``pvbess.optimize_schedule``, ...
Names are imported lazily (PEP 562) so ``import pvbess`` stays fast and a notebook pays for numba,
pvlib or HiGHS only when it uses them.
"""

from __future__ import annotations

from ._lazy import lazy_exports

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
    "generate_iquitos": "inputs.dataset",
    "load_iquitos": "inputs.dataset",
    "write_iquitos": "inputs.dataset",
    "EVFleet": "inputs.ev",
    "simulate_ev": "inputs.ev",
    "pv_ac_kwh": "inputs.pvmodel",
    "generate_weather": "inputs.weather",
    "WeatherModel": "inputs.weather",
    "MallLoad": "inputs.mall",
    # --- loaders (issue 2) ---
    "read_meter_csv": "inputs.loaders",
    "read_energy_csv": "inputs.loaders",
    "read_weather": "inputs.weather_files",
    "to_hourly": "inputs.loaders",
    "align_to_index": "inputs.align",
    "site_with_meters": "inputs.align",
    # --- dispatch, balance, kpis (issue 3) ---
    "simulate": "balance",
    "check_balance": "identities",
    "balance_residuals": "identities",
    "max_residuals": "identities",
    "flow_residuals": "identities",
    "IDENTITIES": "identities",
    "run_specs": "balance_specs",
    "RunSpecs": "balance_specs",
    "STRATEGIES": "balance",
    "kpis": "indicators",
    "VARIABLES": "variables",
    "TABLE_COLUMNS": "variables",
    "simulate_many": "batch",
    # --- optimal scheduling (issue 4) ---
    "SchedulingProblem": "optimize.problem",
    "DemandCharge": "optimize.problem",
    "CHARGE_SOURCES": "physics",
    "optimize_schedule": "optimize.schedule",
    "exact_schedule": "optimize.exact",
    "ScheduleResult": "optimize.result",
    "evaluate_plan": "optimize.result",
    "read_peer_scenario": "studies.peer",
    "peer_scenarios": "studies.peer",
    "iquitos_optimal_dispatch": "studies.optimal_dispatch",
    "bill_ladder": "studies.forecast_value",
    "site_bill": "bill",
    "BILL_COLUMNS": "bill",
    # --- figures and reports (issue 5) ---
    "plot_day_balance": "plotting",
    "plot_export_and_peak_shaving": "plotting",
    "plot_pv_local_vs_export": "plotting",
    "plot_mall_peak_shaving": "plotting",
    "plot_first_week": "plotting",
    "plot_bess_windows": "plotting",
    "plot_energy_flows": "plotting",
    "plot_pv_representative_days": "plotting",
    "plot_daily_balance": "plotting",
    "plot_supply_shares": "plotting",
    "plot_energy_waterfall": "plotting",
    "plot_soc_heatmap": "plotting",
    "plot_bess_operation": "plotting",
    "plot_pv_destinations": "plotting",
    "plot_co2": "plotting",
    "plot_pv_utilization": "plotting",
    "FIGURES": "plotting",
    "scenario_label": "plotting",
    "COLORS": "plotting.palette",
    "render_report": "report.render",
    "read_summary": "report.artefacts",
    "read_balance": "report.artefacts",
    "write_balance": "report.artefacts",
    # --- sizing sweeps (issue 6) ---
    "sweep": "studies.sizing",
    "expand_grid": "studies.sizing",
    "best_designs": "studies.sizing",
    "GRID_PARAMETERS": "studies.sizing",
    "sweep_summary": "studies.sweep_files",
    "write_sweep": "studies.sweep_files",
    "read_sweep": "studies.sweep_files",
    "Economics": "studies.economics",
    "appraise": "studies.economics",
    "annuity_factor": "studies.economics",
    "capex_pen": "studies.economics",
    "battery_life_years": "studies.economics",
    "replacement_present_value": "studies.economics",
    "npv": "studies.economics",
    "simple_payback": "studies.economics",
    "lcos": "studies.economics",
    "cost_per_tonne_co2": "studies.economics",
    "pareto_front": "studies.pareto",
    "plot_sweep_heatmap": "plotting.sweep",
    "plot_sweep_heatmaps": "plotting.sweep",
    "plot_pareto": "plotting.sweep",
    "sweep_explorer": "plotting.interactive",
    # --- event-sourced scheduler (issue 7) ---
    "HourlyEvent": "scheduler.events",
    "HistoricalDataStore": "scheduler.events",
    "HistoryError": "scheduler.events",
    "ScheduleStore": "scheduler.schedules",
    "StoredSchedule": "scheduler.schedules",
    "DailyViewBuilder": "scheduler.daily_view",
    "OptimizationEngine": "scheduler.engine",
    "SimpleBatterySystemManager": "scheduler.manager",
    "SimulatedController": "scheduler.controller",
    "Program": "scheduler.controller",
    "tou_intervals": "scheduler.controller",
    "PerfectForecast": "scheduler.forecasts",
    "PersistenceForecast": "scheduler.forecasts",
    "MeanProfileForecast": "scheduler.forecasts",
    "NoisyForecast": "scheduler.forecasts",
    "replay": "scheduler.replay",
    "SiteBatteryEnv": "learn.env",  # learned controllers (issue 16; the rl extra)
    "HomeAssistantController": "live.ha",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
