"""Record the behaviour baseline of pvbess: the numbers the package produces at commit 81e1ce0.

What
    The headline numbers of every study, recomputed through the public API (``pvbess.X`` names
    only), written to this folder:

    - ``designs.json`` / ``designs.npz``: for each design params file (``params/iquitos.yaml``,
      ``large_battery.yaml``, ``pv_only.yaml``) the balance table of notebook 01 (every column,
      float64 exact, with its index) and the figures notebook 01 writes into ``summary.json``
      (scenario, specs, ``kpis``, ``baselines`` incl. the ``optimal`` column) plus its monthly
      KPI table;
    - ``optimal_dispatch.json``: the ``pvbess.iquitos_optimal_dispatch()`` table;
    - ``sweeps.json``: ``pvbess.sweep`` on notebook 03's default grid (six_phase, 54 designs, and
      its ``pvbess.sweep_summary``) and strategy ``optimal`` on 3 designs;
    - ``replay.json`` / ``replay.npz``: ``pvbess.replay`` as params/scheduling_replay.yaml
      configures notebook 04 (21 days, persistence forecast), plus 14 days of perfect forecast:
      comparison tables and the realised per-period flows;
    - ``schedules.json`` / ``schedules.npz``: ``pvbess.optimize_schedule`` and
      ``pvbess.exact_schedule`` (objective, cost, summary, trajectories) on the Iquitos year;
    - ``peer.json`` / ``peer.npz``: the same on the 39 bess-manager scenarios
      (``pvbess.peer_scenarios``; needs ``PVBESS_SHARED`` or ``../shared``);
    - ``batch.json``: ``pvbess.simulate_many`` on 4 configurations x 4 strategies, and
      ``pvbess.kpis`` of the 5 strategies of ``pvbess.STRATEGIES`` on the Iquitos year.

    Every optimiser result is keyed by the *explicit* arguments of its call (all keywords spelled
    out, stored next to the result): later work changes some defaults on purpose (demand charges
    in the optimiser), and the test must keep comparing energy-only runs with energy-only runs.
    Specs (Battery, SixPhaseRules, Tariff, Site, PVPlant, Economics) are stored as their
    ``asdict()`` and rebuilt with ``from_dict``, so a changed default cannot slip in either.

From which commit
    81e1ce0 ("Split loaders: meter/energy files, weather files, and the shared CSV machinery"),
    before the package restructure (subpackages, unified physics code).

Why
    The restructure's acceptance rule is "no behaviour change": ``tests/test_baseline.py``
    recomputes everything here through the same public calls (the functions ``compute_*`` below,
    which it imports) and asserts equality to 1e-9 relative. Re-recording is legitimate only for
    a deliberate behaviour change, noted in the commit that re-records (say which numbers moved
    and why); never to make a failing baseline test pass.

Run from the repository root (about 20 s once numba's cache is warm)::

    MPLBACKEND=Agg PYTHONPATH=. PVBESS_SHARED=../shared python tests/data/baseline/record.py \
        [--reports DIR]

Without the shared corpus, peer.json / peer.npz are left as they are (a warning says so).
Recording twice gives the same numbers bit for bit (checked at 81e1ce0; the .npz archives'
zip timestamps differ).

Not recorded or not compared: wall-clock times (``solve_time_s``, replay ``info['wall_s']``);
summary.json's ``checks`` block (``pvbess.report.balance_residuals`` is not a public name: kept
in designs.json under ``not_recomputed`` for reference only) and its constant ``schema`` /
``run_id``; the notebooks' figures and interactive views.

``--reports DIR`` cross-checks the recomputation against reports rendered by
``python -m pvbess.report params/iquitos.yaml params/large_battery.yaml params/pv_only.yaml
params/scheduling_replay.yaml --reports-dir DIR`` (summary.json, balance.csv.gz, sweep.csv.gz,
sweep_summary.json, scheduling_replay.json). That check, and reading the notebooks' default
parameters, use internal helpers (``pvbess.report``) at record time only; the ``compute_*``
functions use public names only.

JSON files are written with Python's ``json`` (floats as their shortest round-trip repr, so
exact; NaN and infinities as the non-strict tokens ``NaN`` / ``Infinity``, which ``json.loads``
reads back). Arrays go to compressed ``.npz`` files (keys ``<group>__<name>``).
"""

from __future__ import annotations

import dataclasses

import argparse
import ast
import inspect
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import pvbess

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]  # the repository root (tests/data/baseline/ -> .)
COMMIT = "81e1ce0"
INF = math.inf

# ------------------------------------------------------------------------------------------
# The inputs of each study, spelled out (what the params files and notebooks resolve to)
# ------------------------------------------------------------------------------------------
#: Params files of the designs (notebook 01).
DESIGN_FILES = ("iquitos.yaml", "large_battery.yaml", "pv_only.yaml")

#: Notebook 03's default sizing grid (its parameters cell; params/iquitos.yaml keeps them).
SWEEP_GRID = {
    "capacity_kwh": [0.0, 500.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0],
    "power_kw": [100.0, 200.0, 400.0, 600.0, 800.0, 1200.0],
    "pv_scale": [1.0],
    "peak_threshold_kw": [1900.0],
}
#: Designs of the small ``optimal`` sweep (one row each).
OPTIMAL_SWEEP_DESIGNS = {"capacity_kwh": [1000.0, 2000.0, 4000.0],
                         "power_kw": [200.0, 400.0, 800.0]}
#: Energy-only DP options of the optimal sweep, explicit (step 1 kWh: not the per-design default).
OPTIMAL_SWEEP_OPTIONS = {"allow_grid_charge": False, "energy_step_kwh": 1.0}

#: ``optimize_schedule`` keyword defaults at 81e1ce0 (checked against the signature when
#: recording). Every call below passes all of them explicitly.
OPTIMIZE_DEFAULTS = dict(dt_h=None, initial_kwh=None, terminal_value=0.0, allow_grid_charge=True,
                         allow_battery_export=True, allow_curtailment=True, import_limit_kw=INF,
                         export_limit_kw=INF, inverter_ac_limit_kw=INF, export_price_floor=None,
                         co2_price_per_kg=0.0, co2_kg_per_kwh=0.0, energy_step_kwh=None)
#: ``exact_schedule``'s extra keywords at 81e1ce0: no demand charges (energy only), no time limit.
EXACT_EXTRA = dict(demand_charges=(), time_limit_s=None)

#: Deliberate renames since the record (issue 10: one name per quantity, as in
#: ``pvbess.VARIABLES``): recorded name -> today's. ``tests/test_baseline.py`` reads the recorded
#: files through this map (keys, column lists and ``.npz`` names), so the numbers stay the
#: recorded ones.
RENAMED = {
    "soc_kwh": "soe_end_kwh",
    "battery_charged_kwh": "bess_charge_kwh", "battery_discharged_kwh": "bess_discharge_kwh",
    "charge_kwh": "bess_charge_kwh", "discharge_kwh": "bess_discharge_kwh",
    "charged_kwh": "bess_charge_kwh", "discharged_kwh": "bess_discharge_kwh",
    "import_kwh": "grid_import_kwh", "export_kwh": "grid_export_kwh",
    "curtailed_kwh": "pv_curtailed_kwh", "battery_setpoint_kwh": "setpoint_kwh",
    "pv_to_battery_kwh": "pv_to_bess_kwh", "grid_to_battery_kwh": "grid_to_bess_kwh",
    "battery_to_load_kwh": "bess_to_load_kwh", "battery_to_grid_kwh": "bess_export_kwh",
    "pv_to_grid_kwh": "pv_export_kwh",
}

#: ``simulate_many`` configurations (columns of the configs table).
BATCH_CONFIGS = {
    "capacity_kwh": [2000.0, 1000.0, 4000.0, 0.0],
    "power_kw": [400.0, 600.0, 800.0, 100.0],
    "pv_scale": [1.0, 1.5, 0.5, 1.2],
    "round_trip_efficiency": [0.95, 0.90, 0.92, 0.95],
    "soc_min": [0.2, 0.1, 0.3, 0.2],
    "soc_initial": [0.2, 0.5, 0.3, 0.2],
    "peak_threshold_kw": [1900.0, 1700.0, 2100.0, 1900.0],
    "export_limit_kw": [INF, 500.0, INF, 1000.0],
}
BATCH_STRATEGIES = ("six_phase", "self_consumption", "pv_only", "grid_only")

#: Notebook 04 as params/scheduling_replay.yaml configures it, every keyword explicit.
REPLAY_RUNS = {
    "configured": {"forecast": "persistence", "days": 21},
    "perfect_14d": {"forecast": "perfect", "days": 14},
}

GROUP_SEP = "__"


# ------------------------------------------------------------------------------------------
# Serialisation helpers (shared with the test)
# ------------------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """Python scalars / lists / dicts of a value (numpy and pandas scalars unwrapped)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (pd.Timestamp, pd.Period)):
        return str(value)
    return value


def frame_record(frame: pd.DataFrame) -> dict:
    """A table as JSON-ready dict: index, column order, dtypes and every value (exact)."""
    return {"index_name": frame.index.name, "index": [plain(v) for v in frame.index],
            "columns": [str(c) for c in frame.columns],
            "dtypes": {str(c): str(t) for c, t in frame.dtypes.items()},
            "data": {str(c): [plain(v) for v in frame[c].tolist()] for c in frame.columns}}


def index_record(index: pd.DatetimeIndex) -> tuple[dict, np.ndarray]:
    """Metadata (JSON) and the UTC instants in ns (array) of a tz-aware DatetimeIndex."""
    meta = {"name": index.name, "tz": str(index.tz), "dtype": str(index.dtype),
            "freq": index.freqstr, "length": len(index)}
    return meta, utc_ns(index)


def utc_ns(index: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(index.tz_convert("UTC").tz_localize(None), dtype="datetime64[ns]"
                      ).astype(np.int64)


def column_array(series: pd.Series) -> np.ndarray:
    """A column as a numpy array that ``np.savez`` stores without pickling."""
    values = series.to_numpy()
    if values.dtype == object or isinstance(series.dtype, pd.StringDtype) \
            or pd.api.types.is_string_dtype(series.dtype):
        return np.asarray([str(v) for v in series.tolist()], dtype=str)
    return np.ascontiguousarray(values)


def spec_of(cls_name: str, values: dict):
    """Rebuild a spec from its recorded ``asdict()`` (``pvbess.<cls>.from_dict``)."""
    return getattr(pvbess, cls_name).from_dict(values)


# ------------------------------------------------------------------------------------------
# The computations (public pvbess names only; the test calls these same functions)
# ------------------------------------------------------------------------------------------
def site_table() -> pd.DataFrame:
    """The bundled Iquitos year (``pvbess.load_iquitos``)."""
    return pvbess.load_iquitos()


def compute_design(site: pd.DataFrame, p: dict, energy_step_kwh: float | None) -> dict:
    """Notebook 01 for one params set ``p`` (its resolved parameters): what summary.json holds.

    The optimal column's DP is called with every keyword explicit, including the energy step
    (``energy_step_kwh``; the recorded one is the DP's default step at 81e1ce0).
    """
    assert not p["data_path"], "the designs use the bundled Iquitos data"
    site = site.assign(pv_kwh=site["pv_kwh"] * p["pv_scale"])
    battery = pvbess.Battery.from_round_trip(
        p["round_trip_efficiency"], capacity_kwh=p["capacity_kwh"], power_charge_kw=p["power_kw"],
        power_discharge_kw=p["power_kw"], soc_min=p["soc_min"], soc_max=p["soc_max"],
        soc_initial=p["soc_initial"])
    rules = pvbess.SixPhaseRules(
        charge_start_h=p["charge_start_h"], ev_start_h=p["ev_start_h"],
        peak_start_h=p["peak_start_h"], closure_start_h=p["closure_start_h"],
        close_h=p["close_h"], hold_soc=p["hold_soc"], peak_threshold_kw=p["peak_threshold_kw"],
        export_limit_kw=p["export_limit_kw"] if p["export_limit_kw"] >= 0 else INF)
    tariff = pvbess.Tariff(energy_hp_pen_per_kwh=p["energy_hp_pen_per_kwh"],
                           energy_hfp_pen_per_kwh=p["energy_hfp_pen_per_kwh"])
    co2 = p["co2_kg_per_kwh"]
    strategy = p["strategy"]
    balance = pvbess.simulate(site, battery, rules, strategy, tariff=tariff, co2_kg_per_kwh=co2)
    balance.attrs.update(run_id=p["run_id"], pv_kwp=p["pv_kwp"] * p["pv_scale"])
    kpi = pvbess.kpis(balance)
    baselines = {name: pvbess.simulate(site, battery, rules, name, tariff=tariff,
                                       co2_kg_per_kwh=co2)
                 for name in (["grid_only", "pv_only", "self_consumption"]
                              if p["run_baselines"] else []) if name != strategy}
    baseline_kpis = {name: pvbess.kpis(b) for name, b in baselines.items()}
    plan = None
    if p["run_optimal"]:
        # energy-only least-cost plan of notebook 01: no grid charging, no battery export
        plan = pvbess.optimize_schedule(
            balance["energy_price_pen_per_kwh"], 0.0 * balance["pv_kwh"],
            site["ev_kwh"] + site["mall_kwh"], site["pv_kwh"], battery,
            **{**OPTIMIZE_DEFAULTS, "dt_h": pvbess.step_hours(site.index),
               "initial_kwh": battery.e_initial_kwh, "allow_grid_charge": False,
               "allow_battery_export": False, "energy_step_kwh": energy_step_kwh})
        optimal = pvbess.simulate(site, battery, rules, "schedule", tariff=tariff,
                                  co2_kg_per_kwh=co2, setpoint_kwh=plan.setpoint_kwh,
                                  allow_grid_charge=False, allow_battery_export=False)
        baseline_kpis["optimal"] = pvbess.kpis(optimal)
    attrs = balance.attrs
    summary = {
        "scenario": pvbess.scenario_label(balance),
        "strategy": attrs.get("strategy"),
        "start": str(balance.index[0]),
        "end": str(balance.index[-1]),
        "n_steps": len(balance),
        "dt_h": attrs.get("dt_h"),
        "pv_kwp": attrs.get("pv_kwp"),
        "co2_kg_per_kwh": attrs.get("co2_kg_per_kwh"),
        "battery": attrs.get("battery"),
        "rules": attrs.get("rules"),
        "tariff": attrs.get("tariff"),
        "kpis": dict(kpi),
        "baselines": {k: dict(v) for k, v in baseline_kpis.items()},
    }
    return {"balance": balance, "summary": plain(summary),
            "monthly": pvbess.kpis(balance, freq="monthly"), "plan": plan}


def optimal_dispatch_kwargs(rec: dict) -> dict:
    """The explicit arguments of the ``iquitos_optimal_dispatch`` call (its defaults today)."""
    a = rec["args"]
    return dict(site=None, battery=spec_of("Battery", rec["battery"]),
                tariff=spec_of("Tariff", rec["tariff"]),
                rules=spec_of("SixPhaseRules", rec["rules"]), **a)


def compute_optimal_dispatch(rec: dict) -> pd.DataFrame:
    """The recorded ``iquitos_optimal_dispatch`` table, rebuilt through today's API.

    Deliberate API change since 81e1ce0 (issue 11): the study compares on the full bill with
    rows ``dp``, ``exact``, ``six_phase``, ``no_battery`` and :data:`pvbess.bill.BILL_COLUMNS`.
    The recorded rows are the same computations under other names: ``dp``/``exact`` are today's
    ``bill="energy"`` rows, ``exact_demand`` is today's full-bill ``exact`` row, with
    ``allow_grid_charge=True`` spelled ``charge_source="any"``; column ``co2_kg`` is now
    ``co2_site_kg`` (``import_kwh``, ``export_kwh``: see :data:`RENAMED`). Without the DP (the full-bill DP is not part of the record).
    """
    a = dict(optimal_dispatch_kwargs(rec))
    a["charge_source"] = "any" if a.pop("allow_grid_charge") else "surplus"
    a.pop("with_demand")
    energy, _ = pvbess.iquitos_optimal_dispatch(**a, bill="energy", no_battery=False)
    full, _ = pvbess.iquitos_optimal_dispatch(**{**a, "six_phase": False, "exact": True},
                                              bill="full", no_battery=False, dp=False)
    table = pd.concat([energy.rename(index={"dp_energy_only": "dp",
                                            "exact_energy_only": "exact"}),
                       full.rename(index={"exact": "exact_demand"})])
    table = table.loc[["dp", "exact", "exact_demand", "six_phase"]]
    table = table.rename(columns={"co2_site_kg": "co2_kg"})
    return table[["energy_cost_pen", "demand_cost_pen", "wear_cost_pen", "co2_kg",
                  "co2_cost_pen", "total_cost_pen", "grid_import_kwh", "grid_export_kwh"]]


def _sweep_specs(rec: dict) -> dict:
    return {k: spec_of(cls, rec["specs"][k]) for k, cls in (
        ("battery", "Battery"), ("rules", "SixPhaseRules"), ("tariff", "Tariff"),
        ("location", "Site"), ("pv", "PVPlant"), ("economics", "Economics"))}


def compute_sweep_six_phase(site: pd.DataFrame, rec: dict) -> tuple[pd.DataFrame, dict]:
    """Notebook 03's sweep (six_phase, default grid) and its ``sweep_summary``."""
    table = pvbess.sweep(site[["pv_kwh", "ev_kwh", "mall_kwh"]], rec["grid"], **_sweep_specs(rec),
                         strategy="six_phase", chunk_size=500, progress=False, client=None,
                         optimal_options=None)
    return table, pvbess.sweep_summary(table, run_id="iquitos", by="npv_vs_pv_pen")


def compute_sweep_optimal(site: pd.DataFrame, rec: dict) -> pd.DataFrame:
    """The small ``optimal`` sweep (energy-only DP per design, explicit options)."""
    # deliberate change since 81e1ce0 (issue 11): the optimal sweep is on the full bill unless
    # bill="energy" (what was recorded)
    return pvbess.sweep(site[["pv_kwh", "ev_kwh", "mall_kwh"]],
                        pd.DataFrame(rec["optimal_designs"]), **_sweep_specs(rec),
                        strategy="optimal", chunk_size=500, progress=False, client=None,
                        optimal_options={**rec["optimal_options"], "bill": "energy"})


def peer_step_81e1ce0(s) -> float:
    """The DP's default energy step at 81e1ce0 for a bess-manager scenario (every period
    convex there): ``usable / clip(8_000_000 // periods, 200, 20_000)``. [kWh] Since issue 12
    the default follows the problem (value of the window, horizon); the record keeps this one."""
    return s.battery.usable_kwh / min(20_000, max(200, 8_000_000 // s.periods))


def replay_kwargs(rec: dict) -> dict:
    """Every keyword of notebook 04's ``pvbess.replay`` call, explicit."""
    a = dict(rec["args"])
    return dict(battery=spec_of("Battery", rec["battery"]), tariff=spec_of("Tariff", rec["tariff"]),
                rules=spec_of("SixPhaseRules", rec["rules"]), **a)


def compute_replay(site: pd.DataFrame, rec: dict):
    """Notebook 04's replay, energy-only as recorded.

    Deliberate API change since 81e1ce0 (issue 11): plans see the demand charges unless
    ``bill="energy"`` (what was recorded), and the comparison has the bill's columns; the
    recorded columns are rebuilt from them (``cost`` = energy + wear + CO2 cost, the energy bill
    the plans minimised; ``gap_vs_exact`` on that cost).
    """
    result = pvbess.replay(site[["pv_kwh", "ev_kwh", "mall_kwh"]], **replay_kwargs(rec),
                           bill="energy")
    c = result.comparison
    if c.empty:
        return result
    old = pd.DataFrame({
        "cost": c["energy_cost_pen"] + c["wear_cost_pen"] + c["co2_cost_pen"],
        "energy_cost_pen": c["energy_cost_pen"], "co2_kg": c["co2_site_kg"],
        "grid_import_kwh": c["grid_import_kwh"], "grid_export_kwh": c["grid_export_kwh"],
        "bess_charge_kwh": c["bess_charge_kwh"], "bess_discharge_kwh": c["bess_discharge_kwh"],
        "final_soe_kwh": c["final_stored_kwh"]}, index=c.index)
    old["gap_vs_exact"] = old["cost"] - old.loc["exact_bound", "cost"]
    return dataclasses.replace(result, comparison=old)


def iquitos_schedule_inputs(site: pd.DataFrame, tariff_dict: dict) -> dict:
    """Energy-price inputs of the Iquitos year (as ``iquitos_optimal_dispatch`` builds them)."""
    tariff = spec_of("Tariff", tariff_dict)
    index = site.index
    return dict(buy=np.asarray(tariff.energy_price(index), dtype=float),
                sell=np.full(len(index), tariff.export_pen_per_kwh),
                load_kwh=site["ev_kwh"].to_numpy(float) + site["mall_kwh"].to_numpy(float),
                pv_kwh=site["pv_kwh"].to_numpy(float))


def compute_schedule(kind: str, inputs: dict, battery_dict: dict, kwargs: dict):
    """``optimize_schedule`` (kind "dp") or ``exact_schedule`` (kind "exact"), explicit args."""
    battery = spec_of("Battery", battery_dict)
    if kind == "dp":
        return pvbess.optimize_schedule(**inputs, battery=battery, **kwargs)
    return pvbess.exact_schedule(**inputs, battery=battery, **kwargs)


def schedule_record(res) -> tuple[dict, dict[str, np.ndarray]]:
    scal = {"objective": res.objective, "cost": res.cost, "method": res.method,
            "summary": dict(res.summary)}
    arrays = {"soe_kwh": np.asarray(res.soe_kwh, dtype=float),
              "setpoint_kwh": np.asarray(res.setpoint_kwh, dtype=float)}
    return plain(scal), arrays


def peer_inputs(s) -> dict:
    return dict(buy=s.buy, sell=s.sell, load_kwh=s.load_kwh, pv_kwh=s.pv_kwh)


def peer_scalar_kwargs(s) -> dict:
    """The scenario's keyword arguments other than the arrays and the battery, on top of the
    81e1ce0 defaults (so every keyword is explicit)."""
    own = {k: v for k, v in s.kwargs().items()
           if k not in ("buy", "sell", "load_kwh", "pv_kwh", "battery")}
    return plain({**OPTIMIZE_DEFAULTS, **own})


def _batch_specs(rec: dict) -> tuple:
    return (spec_of("Battery", rec["battery"]), spec_of("SixPhaseRules", rec["rules"]),
            spec_of("Tariff", rec["tariff"]), rec["co2_kg_per_kwh"])


def compute_simulate_many(site: pd.DataFrame, rec: dict) -> dict[str, pd.DataFrame]:
    """``simulate_many`` of the recorded configurations, one table per strategy."""
    battery, rules, tariff, co2 = _batch_specs(rec)
    configs = pd.DataFrame(rec["configs"])
    return {s: pvbess.simulate_many(site[["pv_kwh", "ev_kwh", "mall_kwh"]], configs,
                                    battery=battery, rules=rules, strategy=s, tariff=tariff,
                                    co2_kg_per_kwh=co2)
            for s in rec["batch_strategies"]}


def compute_strategy_kpis(site: pd.DataFrame, rec: dict, setpoint_kwh: np.ndarray
                          ) -> pd.DataFrame:
    """``kpis`` of each strategy of ``pvbess.STRATEGIES`` on the Iquitos year; ``schedule``
    follows ``setpoint_kwh`` (the Iquitos default-argument DP plan) with grid charging and
    battery export allowed, as in that plan."""
    battery, rules, tariff, co2 = _batch_specs(rec)
    out = {}
    for s in rec["strategies"]:
        extra = {}
        if s == "schedule":
            extra = dict(setpoint_kwh=setpoint_kwh, allow_grid_charge=True,
                         allow_battery_export=True)
        bal = pvbess.simulate(site[["pv_kwh", "ev_kwh", "mall_kwh"]], battery, rules, s,
                              tariff=tariff, co2_kg_per_kwh=co2, **extra)
        out[s] = pvbess.kpis(bal)
    return pd.DataFrame(out).T


# ------------------------------------------------------------------------------------------
# Recording (record time only)
# ------------------------------------------------------------------------------------------
def _design_params(name: str) -> dict:
    """Notebook 01's parameters for a params file: the notebook's defaults, overridden by the
    file (the renderer's rule), with the file's run_id."""
    from pvbess.report import load_params, notebook_parameters

    nb = ROOT / "notebooks" / "01_annual_simulation.ipynb"
    defaults = {k: ast.literal_eval(v) for k, v in notebook_parameters(nb).items()}
    given = load_params(ROOT / "params" / name)
    p = {k: (given[k] if k in given else v) for k, v in defaults.items()}
    p.pop("output_dir", None)
    return p


def _check_signature_defaults() -> None:
    sig = inspect.signature(pvbess.optimize_schedule)
    for k, v in OPTIMIZE_DEFAULTS.items():
        d = sig.parameters[k].default
        assert d == v or (d is v), (k, d, v)
    sig = inspect.signature(pvbess.exact_schedule)
    for k, v in {**OPTIMIZE_DEFAULTS, **EXACT_EXTRA}.items():
        d = sig.parameters[k].default
        assert d == v or (d is v), (k, d, v)


def _same(a: Any, b: Any) -> bool:
    """Exact equality of plain values (NaN equals NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _jsonable_like_report(value: Any) -> Any:
    """NaN / inf -> None, as pvbess.report writes summary.json."""
    if isinstance(value, dict):
        return {k: _jsonable_like_report(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable_like_report(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    np.savez_compressed(path, **arrays)


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def record(reports: Path | None) -> None:
    _check_signature_defaults()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    if head != COMMIT:
        print(f"warning: HEAD is {head}, not {COMMIT}: update COMMIT and say why", file=sys.stderr)
    site = site_table()
    checks: list[str] = []

    # 1. designs -------------------------------------------------------------------------
    designs: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for file in DESIGN_FILES:
        p = _design_params(file)
        run_id = p["run_id"]
        step = None
        if p["run_optimal"]:
            # resolve the DP's default energy step once, then pass it explicitly
            probe = compute_design(site, p, None)
            step = probe["plan"].info["energy_step_kwh"]
        out = compute_design(site, p, step)
        if step is not None:  # explicit step == default step, bit for bit
            assert np.array_equal(out["plan"].soe_kwh, probe["plan"].soe_kwh)
            assert _same(out["summary"], probe["summary"])
        bal = out["balance"]
        meta, ns = index_record(bal.index)
        arrays[f"{run_id}{GROUP_SEP}index_utc_ns"] = ns
        for c in bal.columns:
            arrays[f"{run_id}{GROUP_SEP}{c}"] = column_array(bal[c])
        designs[run_id] = {
            "params_file": f"params/{file}", "params": plain(p),
            "optimal_energy_step_kwh": step,
            "summary": out["summary"],
            "balance": {"index": meta, "columns": list(bal.columns),
                        "dtypes": {c: str(t) for c, t in bal.dtypes.items()}},
            "monthly_kpis": frame_record(out["monthly"]),
        }
        if reports is not None:
            folder = reports / run_id
            saved = json.loads((folder / "summary.json").read_text())
            assert saved["params"] == designs[run_id]["params"], (run_id, "params")
            mine = _jsonable_like_report(out["summary"])
            theirs = {k: saved[k] for k in mine}
            assert _same(mine, theirs), (run_id, "summary differs from the rendered one")
            designs[run_id]["not_recomputed"] = {
                "note": ("summary.json 'checks' (pvbess.report.balance_residuals) is not a public "
                         "pvbess name; recorded from the rendered report, not compared"),
                "checks": saved["checks"]}
            rendered = pvbess.read_balance(folder)
            assert list(rendered.columns) == list(bal.columns)
            for c in bal.columns:
                a, b = rendered[c].to_numpy(), bal[c].to_numpy()
                assert (a == b).all() if a.dtype.kind not in "f" else np.array_equal(
                    a, b, equal_nan=True), c
            assert rendered.index.equals(bal.index)
            checks.append(f"{run_id}: summary.json and balance.csv.gz equal the recomputation")
    _dump(HERE / "designs.json", designs)
    _save_npz(HERE / "designs.npz", arrays)

    # 2a. iquitos_optimal_dispatch -------------------------------------------------------------
    od_rec = {"battery": pvbess.Battery().asdict(), "tariff": pvbess.Tariff().asdict(),
              "rules": pvbess.SixPhaseRules().asdict(),
              "args": dict(co2_price_pen_per_kg=0.0, co2_kg_per_kwh=0.4521,
                           allow_grid_charge=True, allow_battery_export=False,
                           energy_step_kwh=None, exact=True, with_demand=True, six_phase=True)}
    default_table, default_res = pvbess.iquitos_optimal_dispatch()
    od_rec["args"]["energy_step_kwh"] = default_res["dp"].info["energy_step_kwh"]
    table = compute_optimal_dispatch(od_rec)
    assert table.equals(default_table.drop(columns=["solve_time_s"])), "explicit != default call"
    od_rec["note"] = ("iquitos_optimal_dispatch(**args) with every keyword explicit (its defaults "
                      "at 81e1ce0; energy_step_kwh = the DP's default step); site=None loads "
                      "pvbess.load_iquitos(). Column solve_time_s (wall clock) is not recorded.")
    od_rec["table"] = frame_record(table)
    _dump(HERE / "optimal_dispatch.json", od_rec)

    # 2b. sweeps ---------------------------------------------------------------------------
    nb3 = dict(round_trip_efficiency=0.95, soc_min=0.20, soc_max=1.00, soc_initial=0.20,
               pv_kwp=4050.0, co2_kg_per_kwh=0.4521, pen_per_usd=3.75)
    battery = pvbess.Battery.from_round_trip(nb3["round_trip_efficiency"], soc_min=nb3["soc_min"],
                                             soc_max=nb3["soc_max"],
                                             soc_initial=nb3["soc_initial"])
    pv = pvbess.PVPlant(dc_kwp=nb3["pv_kwp"], ac_kw=nb3["pv_kwp"] / pvbess.PVPlant().dc_ac_ratio)
    economics = pvbess.Economics(
        pv_capex_usd_per_kwp=800.0, battery_capex_usd_per_kwh=300.0,
        battery_capex_usd_per_kw=250.0, pv_om_frac_per_year=0.01,
        battery_om_frac_per_year=0.025, battery_cycle_life=6000.0,
        battery_calendar_life_years=15.0, battery_replacement_frac=0.6, discount_rate=0.08,
        lifetime_years=25)
    sw_rec = {
        "note": ("notebook 03 defaults: pvbess.sweep(site, grid, **specs, strategy='six_phase') "
                 "and pvbess.sweep_summary(table, run_id='iquitos'); 'optimal': the same specs "
                 "on optimal_designs with optimal_options (energy-only DP, explicit step)"),
        "grid": SWEEP_GRID, "optimal_designs": OPTIMAL_SWEEP_DESIGNS,
        "optimal_options": OPTIMAL_SWEEP_OPTIONS,
        "specs": {"battery": battery.asdict(),
                  "rules": pvbess.SixPhaseRules(peak_threshold_kw=1900.0,
                                                export_limit_kw=INF).asdict(),
                  "tariff": pvbess.Tariff(energy_hp_pen_per_kwh=0.45,
                                          energy_hfp_pen_per_kwh=0.28).asdict(),
                  "location": pvbess.Site(co2_kg_per_kwh=nb3["co2_kg_per_kwh"],
                                          pen_per_usd=nb3["pen_per_usd"]).asdict(),
                  "pv": pv.asdict(), "economics": economics.asdict()},
    }
    six, six_summary = compute_sweep_six_phase(site, sw_rec)
    sw_rec["six_phase"] = frame_record(six)
    sw_rec["six_phase_summary"] = plain(six_summary)
    sw_rec["optimal"] = frame_record(compute_sweep_optimal(site, sw_rec))
    if reports is not None:
        saved_table, saved_summary = pvbess.read_sweep(reports / "iquitos")
        mine = six
        assert list(saved_table.columns) == list(mine.columns)
        for c in mine.columns:
            assert np.array_equal(saved_table[c].to_numpy(), mine[c].to_numpy(), equal_nan=(
                mine[c].dtype.kind == "f")), c
        assert _same(saved_summary, sw_rec["six_phase_summary"])
        checks.append("iquitos: sweep.csv.gz and sweep_summary.json equal the recomputation")
    _dump(HERE / "sweeps.json", sw_rec)

    # 2c. replay ---------------------------------------------------------------------------
    nb4_battery = pvbess.Battery.from_round_trip(0.95, capacity_kwh=2000.0, power_charge_kw=400.0,
                                                 power_discharge_kw=400.0, soc_min=0.20,
                                                 soc_initial=0.20)
    rp_rec: dict[str, Any] = {}
    rp_arrays: dict[str, np.ndarray] = {}
    for key, run in REPLAY_RUNS.items():
        rec = {"battery": nb4_battery.asdict(), "tariff": pvbess.Tariff().asdict(),
               "rules": pvbess.SixPhaseRules().asdict(),
               "args": dict(forecast=run["forecast"], db=":memory:", resume=True, start=None,
                            days=run["days"], co2_price_per_kg=0.0, co2_kg_per_kwh=0.4521,
                            export_price=0.0, terminal_value=0.0, allow_grid_charge=True,
                            allow_battery_export=True, import_limit_kw=INF,
                            export_limit_kw=INF,
                            energy_step_kwh=nb4_battery.usable_kwh / 400,
                            forecast_options=None, compare=True, stop_after=None,
                            on_period=None)}
        result = compute_replay(site, rec)
        # as notebook 04 calls it (defaults for the rest) -> the same numbers
        nb_call = pvbess.replay(site[["pv_kwh", "ev_kwh", "mall_kwh"]], battery=nb4_battery,
                                forecast=run["forecast"], forecast_options=None,
                                db=":memory:", resume=True, start=None, days=run["days"],
                                co2_price_per_kg=0.0, allow_grid_charge=True,
                                energy_step_kwh=None)
        assert result.comparison.equals(nb_call.comparison), key
        assert result.balance.equals(nb_call.balance), key
        assert result.complete
        comp, bal = result.comparison, result.balance
        exact = comp.loc["exact_bound", "cost"]
        rec["headline"] = plain({
            "periods": int(len(bal)), "plans": int(result.info["plans"]),
            "scenarios": result.info["scenarios"],
            "replay_gap_vs_exact_pct": float(100 * comp.loc["replay", "gap_vs_exact"] / exact)})
        rec["comparison"] = frame_record(comp)
        meta, ns = index_record(bal.index)
        rec["balance"] = {"index": meta, "columns": list(bal.columns),
                          "dtypes": {c: str(t) for c, t in bal.dtypes.items()}}
        rp_arrays[f"{key}{GROUP_SEP}index_utc_ns"] = ns
        for c in bal.columns:
            rp_arrays[f"{key}{GROUP_SEP}{c}"] = column_array(bal[c])
        rec["args"] = plain(rec["args"])
        rp_rec[key] = rec
        if reports is not None and key == "configured":
            saved = json.loads((reports / "scheduling_replay" / "scheduling_replay.json"
                                ).read_text())
            assert saved["periods"] == rec["headline"]["periods"]
            assert saved["plans"] == rec["headline"]["plans"]
            assert saved["replay_gap_vs_exact_pct"] == rec["headline"]["replay_gap_vs_exact_pct"]
            for col in ("cost", "co2_kg"):
                assert saved[col] == {k: float(v) for k, v in comp[col].items()}, col
            checks.append("scheduling_replay: scheduling_replay.json equals the recomputation")
    rp_rec["note"] = ("pvbess.replay(site[['pv_kwh','ev_kwh','mall_kwh']], **args) with "
                      "battery/tariff/rules from their dicts; 'configured' is notebook 04 as "
                      "params/scheduling_replay.yaml sets it (every default spelled out; "
                      "energy_step_kwh = usable / 400, the replay default). Realised flows in "
                      "replay.npz. info['wall_s'] and info['db'] are not recorded.")
    _dump(HERE / "replay.json", rp_rec)
    _save_npz(HERE / "replay.npz", rp_arrays)

    # 2d. optimize_schedule / exact_schedule on the Iquitos year -------------------------------
    sc_battery = pvbess.Battery().asdict()
    sc_tariff = pvbess.Tariff().asdict()
    inputs = iquitos_schedule_inputs(site, sc_tariff)
    probe = pvbess.optimize_schedule(**inputs, battery=pvbess.Battery(), dt_h=1.0)
    sc_rec: dict[str, Any] = {
        "note": ("Iquitos year, energy prices (Tariff().energy_price), sell = export price, "
                 "load = ev + mall, Battery(); default arguments of 81e1ce0, all spelled out "
                 "(energy_step_kwh = the DP's default step). Trajectories in schedules.npz."),
        "battery": sc_battery, "tariff": sc_tariff, "runs": {}}
    sc_arrays: dict[str, np.ndarray] = {}
    kw = plain({**OPTIMIZE_DEFAULTS, "dt_h": 1.0,
                "initial_kwh": pvbess.Battery.from_dict(sc_battery).e_initial_kwh,
                "energy_step_kwh": probe.info["energy_step_kwh"]})
    for kind, kwargs in (("dp", kw), ("exact", {**kw, **EXACT_EXTRA})):
        res = compute_schedule(kind, inputs, sc_battery, kwargs)
        if kind == "dp":
            assert np.array_equal(res.soe_kwh, probe.soe_kwh) and res.cost == probe.cost
            dp_setpoint = res.setpoint_kwh
        scal, arr = schedule_record(res)
        sc_rec["runs"][f"iquitos_{kind}"] = {"kind": kind, "kwargs": plain(kwargs), **scal}
        for k, v in arr.items():
            sc_arrays[f"iquitos_{kind}{GROUP_SEP}{k}"] = v
    _dump(HERE / "schedules.json", sc_rec)
    _save_npz(HERE / "schedules.npz", sc_arrays)

    # 2e. the bess-manager corpus --------------------------------------------------------------
    from pvbess.config import shared_dir

    shared = shared_dir()
    if shared is None:
        print("warning: shared/ not found: peer.json / peer.npz NOT (re)written", file=sys.stderr)
    else:
        scenarios = pvbess.peer_scenarios(shared / "reference" / "bess-manager")
        assert len(scenarios) == 39
        pe_rec: dict[str, Any] = {
            "note": ("pvbess.peer_scenarios(shared/reference/bess-manager); per scenario "
                     "optimize_schedule / exact_schedule(buy, sell, load_kwh, pv_kwh, "
                     "Battery.from_dict(battery), **kwargs) with every keyword explicit "
                     "(the scenario's own options over the 81e1ce0 defaults; the DP's "
                     "energy_step_kwh = its 81e1ce0 default step for the scenario, "
                     "peer_step_81e1ce0)"),
            "scenarios": {}}
        pe_arrays: dict[str, np.ndarray] = {}
        for s in scenarios:
            base = peer_scalar_kwargs(s)
            runs = {}
            for kind in ("dp", "exact"):
                kwargs = ({**base, "energy_step_kwh": peer_step_81e1ce0(s)}
                          if kind == "dp" else {**base, **EXACT_EXTRA})
                res = compute_schedule(kind, peer_inputs(s), s.battery.asdict(), kwargs)
                if kind == "dp":
                    # deliberate change since 81e1ce0 (issue 12): the default grid follows the
                    # problem (pvbess.optimize.dp.default_energy_step), coarser on these days;
                    # the recorded runs keep the 81e1ce0 default step, explicit
                    default_dp = pvbess.optimize_schedule(**s.kwargs())
                    assert default_dp.objective <= res.objective + 0.01, s.name
                else:
                    assert res.objective == pvbess.exact_schedule(**s.kwargs()).objective
                scal, arr = schedule_record(res)
                runs[kind] = {"kwargs": plain(kwargs), **scal}
                for k, v in arr.items():
                    pe_arrays[f"{s.name}{GROUP_SEP}{kind}{GROUP_SEP}{k}"] = v
            pe_rec["scenarios"][s.name] = {"battery": s.battery.asdict(), **runs}
        _dump(HERE / "peer.json", pe_rec)
        _save_npz(HERE / "peer.npz", pe_arrays)

    # 2f. simulate_many and the 5 strategies ---------------------------------------------------
    ba_rec: dict[str, Any] = {
        "note": ("simulate_many(site, DataFrame(configs), battery, rules, strategy, tariff, "
                 "co2_kg_per_kwh) per strategy; strategy_kpis: kpis(simulate(site, battery, "
                 "rules, s, tariff, co2)) for each of pvbess.STRATEGIES, 'schedule' following "
                 "schedules.json's iquitos_dp plan with allow_grid_charge=True and "
                 "allow_battery_export=True"),
        "battery": pvbess.Battery().asdict(), "rules": pvbess.SixPhaseRules().asdict(),
        "tariff": pvbess.Tariff().asdict(), "co2_kg_per_kwh": 0.4521,
        "configs": BATCH_CONFIGS, "batch_strategies": list(BATCH_STRATEGIES),
        "strategies": sorted(pvbess.STRATEGIES)}
    assert len(ba_rec["strategies"]) == 5
    ba_rec["simulate_many"] = {s: frame_record(t)
                               for s, t in compute_simulate_many(site, ba_rec).items()}
    ba_rec["strategy_kpis"] = frame_record(compute_strategy_kpis(site, ba_rec, dp_setpoint))
    _dump(HERE / "batch.json", ba_rec)

    _dump(HERE / "meta.json", {
        "commit": COMMIT, "recorded_at_head": head,
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                     "pandas": pd.__version__, **_versions("numba", "scipy", "highspy")},
        "cross_checks": checks or ["(no --reports given: rendered reports not compared)"]})
    for f in sorted(HERE.iterdir()):
        if f.suffix in (".json", ".npz"):
            print(f"{f.name:24s} {f.stat().st_size / 1024:9.1f} KiB")
    print("\n".join(checks))


def _versions(*names: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            out[n] = "?"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=Path, default=None,
                        help="folder of rendered reports to cross-check against")
    args = parser.parse_args(argv)
    record(args.reports)
    return 0


if __name__ == "__main__":
    sys.exit(main())
