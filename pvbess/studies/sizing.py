"""What-if sizing sweeps: thousands of designs, their KPIs, their economics and the Pareto front.

:func:`sweep` expands a grid of parameters (a full factorial from a mapping, or a table of
configurations), checks all of it before any work starts, runs the designs in chunks through
:func:`pvbess.simulate_many` (one numba-parallel call per chunk, so all cores are used while the
memory stays flat: only one chunk's KPI rows are alive at a time), optionally on a
dask.distributed cluster, and adds the economics (:mod:`pvbess.studies.economics`) and the Pareto front
of cost against CO2 (:func:`pvbess.pareto_front`).

Grid parameters
---------------
The field names of :class:`pvbess.Battery` and :class:`pvbess.SixPhaseRules`, plus

* ``power_kw``: sets ``power_charge_kw`` and ``power_discharge_kw`` together [kW];
* ``round_trip_efficiency``: sets ``eta_charge = eta_discharge = sqrt(rte)`` [-];
* ``pv_scale``: multiplies the PV series (and the PV plant's kWp in the economics) [-].

Fields not in the grid keep the values of the ``battery`` and ``rules`` arguments.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from ..balance import simulate
from ..batch import simulate_many
from ..battery import Battery
from ..indicators import kpis
from ..optimize.schedule import optimize_schedule
from ..optimize.problem import SchedulingProblem
from ..pv import PVPlant
from ..physics import split_round_trip
from ..rules import SixPhaseRules
from ..site import Site
from ..tariff import Tariff
from ..timeseries import check_energy_columns, step_hours
from .economics import Economics, appraise
from .pareto import pareto_front

__all__ = [
    "GRID_PARAMETERS",
    "best_designs",
    "expand_grid",
    "read_sweep",
    "sweep",
    "sweep_summary",
    "write_sweep",
]

_BATTERY_FIELDS = tuple(f.name for f in dataclasses.fields(Battery))
_RULES_FIELDS = tuple(f.name for f in dataclasses.fields(SixPhaseRules))
_EXTRA = ("power_kw", "round_trip_efficiency", "pv_scale")

#: Every name a sweep grid may use.
GRID_PARAMETERS: tuple[str, ...] = _BATTERY_FIELDS + _RULES_FIELDS + _EXTRA

#: Parameters that are sizes: negative values are an error. [kWh, kW, -]
_SIZES = ("capacity_kwh", "power_charge_kw", "power_discharge_kw", "power_kw", "pv_scale",
          "peak_threshold_kw", "export_limit_kw")
#: Parameters that may be +inf (a limit that does not bind).
_MAY_BE_INF = ("peak_threshold_kw", "export_limit_kw")

STRATEGIES = ("six_phase", "optimal")


def _is_number(value: Any) -> bool:
    return isinstance(value, (Real, np.number)) and not isinstance(value, (bool, np.bool_))


def _check_values(name: str, values: Iterable[Any], problems: list[str]) -> list[float]:
    """The values of one parameter as floats, appending every problem found to ``problems``."""
    out: list[float] = []
    for i, value in enumerate(values):
        where = f"{name}[{i}] = {value!r}"
        if not _is_number(value):
            problems.append(f"{where}: must be a number, got {type(value).__name__}")
            continue
        v = float(value)
        if math.isnan(v) or (math.isinf(v) and name not in _MAY_BE_INF):
            problems.append(f"{where}: must be finite")
            continue
        if name in _SIZES and v < 0:
            problems.append(f"{where}: a size must be >= 0")
            continue
        out.append(v)
    return out


def _check_names(names: Iterable[str], problems: list[str]) -> None:
    names = list(names)
    unknown = [n for n in names if n not in GRID_PARAMETERS]
    if unknown:
        problems.append(f"unknown parameter(s) {unknown}; known parameters are "
                        f"{sorted(GRID_PARAMETERS)}")
    both = [n for n in ("power_charge_kw", "power_discharge_kw") if n in names]
    if "power_kw" in names and both:
        problems.append(f"power_kw sets power_charge_kw and power_discharge_kw together; "
                        f"do not also give {both}")
    etas = [n for n in ("eta_charge", "eta_discharge") if n in names]
    if "round_trip_efficiency" in names and etas:
        problems.append(f"round_trip_efficiency sets eta_charge and eta_discharge together; "
                        f"do not also give {etas}")


def _raise(problems: list[str]) -> None:
    if problems:
        raise ValueError("invalid sweep grid:\n  - " + "\n  - ".join(problems))


def expand_grid(grid: Mapping[str, Iterable[Any]] | pd.DataFrame) -> pd.DataFrame:
    """The configurations of a grid, one row each, after checking every name and value.

    Parameters
    ----------
    grid : mapping or pandas.DataFrame
        A mapping of parameter -> non-empty list of values (the full factorial, in the order
        of ``itertools.product`` over the keys as given) or a table with one configuration per
        row. Names must be in :data:`GRID_PARAMETERS`.

    Returns
    -------
    pandas.DataFrame
        Float columns named after the parameters, index ``config`` = 0..n-1.

    Raises
    ------
    ValueError
        Listing every problem: unknown names, empty lists, non-numeric or non-finite values,
        negative sizes, ``power_kw`` given together with ``power_charge_kw``/``power_discharge_kw``.
    """
    problems: list[str] = []
    if isinstance(grid, pd.DataFrame):
        _check_names(grid.columns, problems)
        if len(grid) == 0 or len(grid.columns) == 0:
            problems.append("the table of configurations is empty")
        columns = {}
        for name in grid.columns:
            columns[name] = _check_values(str(name), grid[name].tolist(), problems)
        _raise(problems)
        table = pd.DataFrame(columns)
    elif isinstance(grid, Mapping):
        if not grid:
            problems.append("the grid has no parameters")
        _check_names(grid.keys(), problems)
        lists: dict[str, list[float]] = {}
        for name, values in grid.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                problems.append(f"{name} = {values!r}: expected a list of values")
                continue
            values = list(values)
            if not values:
                problems.append(f"{name}: empty list of values")
                continue
            lists[name] = _check_values(str(name), values, problems)
        _raise(problems)
        rows = list(itertools.product(*lists.values()))
        table = pd.DataFrame(rows, columns=list(lists), dtype=float)
    else:
        raise ValueError(f"invalid sweep grid: expected a mapping of parameter -> values or a "
                         f"DataFrame of configurations, got {type(grid).__name__}")
    table.index = pd.RangeIndex(len(table), name="config")
    return table


def _specs_of(row: Mapping[str, float], battery: Battery, rules: SixPhaseRules
              ) -> tuple[Battery, SixPhaseRules, float]:
    """The Battery, SixPhaseRules and pv_scale of one configuration."""
    b = {k: row[k] for k in _BATTERY_FIELDS if k in row}
    if "power_kw" in row:
        b["power_charge_kw"] = b["power_discharge_kw"] = row["power_kw"]
    if "round_trip_efficiency" in row:
        rte = row["round_trip_efficiency"]
        if not 0 < rte <= 1:
            raise ValueError(f"round_trip_efficiency = {rte!r}: must lie in (0, 1]")
        b["eta_charge"], b["eta_discharge"] = split_round_trip(rte)
    r = {k: row[k] for k in _RULES_FIELDS if k in row}
    return battery.replace(**b), rules.replace(**r), float(row.get("pv_scale", 1.0))


def _check_specs(configs: pd.DataFrame, battery: Battery, rules: SixPhaseRules) -> None:
    """Build every distinct Battery and SixPhaseRules once, so cross-field errors
    (soc_min >= soc_max, hours out of order, ...) surface before any simulation."""
    problems: list[str] = []
    groups = [[c for c in configs.columns
               if c in _BATTERY_FIELDS or c in ("power_kw", "round_trip_efficiency")],
              [c for c in configs.columns if c in _RULES_FIELDS]]
    for cols in groups:
        if not cols:
            continue
        distinct = configs[cols].drop_duplicates()
        for config, row in zip(distinct.index, distinct.to_dict("records")):
            try:
                _specs_of(row, battery, rules)
            except ValueError as err:
                problems.append(f"config {config} ({row}): {err}")
                if len(problems) >= 10:
                    break
    _raise(problems)


# -- running the designs ---------------------------------------------------------------------
def _scaled_site(site: pd.DataFrame, pv_scale: float) -> pd.DataFrame:
    if pv_scale == 1.0:
        return site
    scaled = site.copy()
    scaled["pv_kwh"] = site["pv_kwh"].to_numpy(dtype=float) * pv_scale
    return scaled


def _full_configs(configs: pd.DataFrame, battery: Battery, rules: SixPhaseRules) -> pd.DataFrame:
    """Every Battery and SixPhaseRules field plus pv_scale, one row per configuration."""
    full = pd.DataFrame(index=configs.index)
    for name in _BATTERY_FIELDS:
        full[name] = configs[name] if name in configs else float(getattr(battery, name))
    if "power_kw" in configs:
        full["power_charge_kw"] = configs["power_kw"]
        full["power_discharge_kw"] = configs["power_kw"]
    if "round_trip_efficiency" in configs:
        full["eta_charge"], full["eta_discharge"] = split_round_trip(
            configs["round_trip_efficiency"])
    for name in _RULES_FIELDS:
        full[name] = configs[name] if name in configs else float(getattr(rules, name))
    full["pv_scale"] = configs["pv_scale"] if "pv_scale" in configs else 1.0
    return full.astype(float)


def _kpis_optimal(site: pd.DataFrame, configs: pd.DataFrame, battery: Battery,
                  rules: SixPhaseRules, tariff, co2_kg_per_kwh: float,
                  options: Mapping[str, Any]) -> pd.DataFrame:
    """KPIs of the optimal dispatch: a DP plan per design, replayed by ``simulate``."""

    source = options.get("charge_source") or (
        "any" if options.get("allow_grid_charge", False) else "pv"
        if options.get("bill", "full") == "full" else "surplus")
    rows = []
    for row in configs.to_dict("records"):
        b, r, scale = _specs_of(row, battery, rules)
        scaled = _scaled_site(site, scale)
        problem = SchedulingProblem.from_site(
            scaled, b, tariff, charge_source=source, co2_kg_per_kwh=co2_kg_per_kwh,
            demand_charges=options.get("bill", "full") == "full", allow_battery_export=False,
            export_limit_kw=r.export_limit_kw)
        plan = optimize_schedule(problem, energy_step_kwh=options.get("energy_step_kwh"))
        balance = simulate(scaled, b, r, "schedule", tariff=tariff, co2_kg_per_kwh=co2_kg_per_kwh,
                           setpoint_kwh=plan.setpoint_kwh, charge_source=source)
        rows.append(kpis(balance))
    return pd.DataFrame(rows, index=configs.index)


def _run_chunk(site: pd.DataFrame, configs: pd.DataFrame, battery: Battery, rules: SixPhaseRules,
               tariff, co2_kg_per_kwh: float, strategy: str,
               options: Mapping[str, Any]) -> pd.DataFrame:
    """KPIs of one chunk of configurations (runs locally or on a dask worker)."""
    if strategy == "optimal":
        return _kpis_optimal(site, configs, battery, rules, tariff, co2_kg_per_kwh, options)

    return simulate_many(site, configs, battery=battery, rules=rules, tariff=tariff,
                         co2_kg_per_kwh=co2_kg_per_kwh)


def _chunks(configs: pd.DataFrame, chunk_size: int) -> list[pd.DataFrame]:
    return [configs.iloc[i:i + chunk_size] for i in range(0, len(configs), chunk_size)]


def _run_local(site, chunks, args, progress: bool, total: int) -> list[pd.DataFrame]:
    from tqdm.auto import tqdm

    if not progress:
        return [_run_chunk(site, chunk, *args) for chunk in chunks]
    # honest progress: the first design alone on its own bar (it pays the one-time compile),
    # then the rest in steps of about 1/25 of the sweep (one design for the optimal dispatch)
    step = 1 if args[4] == "optimal" else -(-total // 25)
    steps = [s for chunk in chunks for s in _chunks(chunk, step)]
    steps[:1] = [s for s in (steps[0].iloc[:1], steps[0].iloc[1:]) if len(s)]
    with tqdm(total=1, unit="design", desc="sweep: first design (compiles once)") as bar:
        results = [_run_chunk(site, steps[0], *args)]
        bar.update(1)
    with tqdm(total=total, initial=1, unit="design", desc="sweep") as bar:
        for chunk in steps[1:]:
            results.append(_run_chunk(site, chunk, *args))
            bar.update(len(chunk))
    return results


def _run_dask(client, site, chunks, args, progress: bool, total: int) -> list[pd.DataFrame]:
    from distributed import as_completed
    from tqdm.auto import tqdm

    site_future = client.scatter(site, broadcast=True)
    futures = [client.submit(_run_chunk, site_future, chunk, *args, pure=False)
               for chunk in chunks]
    position = {f.key: i for i, f in enumerate(futures)}
    results: list[pd.DataFrame | None] = [None] * len(futures)
    with tqdm(total=total, unit="design", disable=not progress, desc="sweep (dask)") as bar:
        for future in as_completed(futures):
            i = position[future.key]
            results[i] = future.result()
            bar.update(len(chunks[i]))
            future.release()
    return results  # type: ignore[return-value]


def _baseline_bills(site: pd.DataFrame, full: pd.DataFrame, battery: Battery,
                    rules: SixPhaseRules, tariff, co2_kg_per_kwh: float) -> pd.DataFrame:
    """Bill of the grid-only and PV-only baselines for each design's PV scale and export cap."""

    kw = {"battery": battery, "rules": rules, "tariff": tariff, "co2_kg_per_kwh": co2_kg_per_kwh}
    grid_only = simulate_many(site, pd.DataFrame({"pv_scale": [1.0]}), strategy="grid_only",
                              **kw)["total_cost_pen"].iloc[0]
    keys = full[["pv_scale", "export_limit_kw"]]
    distinct = keys.drop_duplicates().reset_index(drop=True)
    bills = simulate_many(site, distinct, strategy="pv_only", **kw)["total_cost_pen"]
    lookup = dict(zip(distinct.itertuples(index=False, name=None), bills))
    return pd.DataFrame({
        "bill_grid_only_pen": float(grid_only),
        "bill_pv_only_pen": [lookup[k] for k in keys.itertuples(index=False, name=None)],
    }, index=full.index)


def _years(site: pd.DataFrame) -> float:
    """Years the table covers: 1 for a calendar year (365 or 366 days), else hours / 8760."""
    hours = len(site) * step_hours(site.index)
    return 1.0 if 8760.0 <= hours <= 8784.0 else hours / 8760.0


def sweep(site: pd.DataFrame, grid: Mapping[str, Iterable[Any]] | pd.DataFrame, *,
          battery: Battery = Battery(), rules: SixPhaseRules = SixPhaseRules(),
          tariff=None, location=None, pv=None, economics=None, strategy: str = "six_phase",
          chunk_size: int = 500, progress: bool = True, client=None,
          optimal_options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Simulate and appraise many designs: one row of KPIs and economics per configuration.

    Parameters
    ----------
    site : pandas.DataFrame
        ``pv_kwh``, ``ev_kwh``, ``mall_kwh`` per step on a regular tz-aware index (one year in
        practice, e.g. :func:`pvbess.load_iquitos`). [kWh]
    grid : mapping or pandas.DataFrame
        Parameter -> list of values (full factorial) or one configuration per row; names from
        :data:`GRID_PARAMETERS` (see :func:`expand_grid`).
    battery, rules : Battery, SixPhaseRules
        The base design; the grid overrides its fields.
    tariff : Tariff, optional
        Prices for the bills (default :class:`pvbess.Tariff`).
    location : Site, optional
        Emission factor of grid imports and exchange rate (default :class:`pvbess.Site`).
    pv : PVPlant, optional
        The PV plant at ``pv_scale = 1`` (its ``dc_kwp`` prices the PV; default
        :class:`pvbess.PVPlant`).
    economics : Economics, optional
        Cost assumptions (default :class:`pvbess.Economics`).
    strategy : {"six_phase", "optimal"}
        The six-phase rules (:func:`pvbess.simulate_many`, fast), or the least-cost dispatch: a
        dynamic-programming plan (:func:`pvbess.optimize_schedule`) on the full bill (energy
        and demand charges; battery charged from PV as the rules, see ``optimal_options``)
        replayed by :func:`pvbess.simulate` with ``strategy="schedule"`` (slow: about one
        optimisation per design).
    chunk_size : int
        Designs per call; one chunk's results are alive at a time. [-]
    progress : bool
        Show a tqdm progress bar.
    client : distributed.Client, optional
        Run the chunks on this dask cluster instead of locally.
    optimal_options : mapping, optional
        For the ``"optimal"`` strategy: ``bill`` (``"full"``, the default: the DP sees the
        demand charges; ``"energy"``: energy prices only), ``charge_source`` (default ``"pv"``
        on the full bill, as the rules; ``"surplus"`` energy-only; ``allow_grid_charge=True`` is
        ``"any"``) and ``energy_step_kwh``.

    Returns
    -------
    pandas.DataFrame
        Index ``config``. Columns: the design (``capacity_kwh``, ``power_charge_kw``,
        ``power_discharge_kw``, ``power_kw`` (the larger), ``pv_scale``, ``pv_kwp`` and every
        other swept parameter), the KPIs of :func:`pvbess.kpis` (over the table),
        ``bill_grid_only_pen`` and ``bill_pv_only_pen`` (the baselines' ``total_cost_pen``), the
        economics of :data:`pvbess.studies.economics.APPRAISAL_COLUMNS` (annual flows = period flows /
        years covered), and ``pareto`` (on the front of ``eac_pen_per_year`` against ``co2_t``).
        ``attrs`` holds ``parameters`` (the swept names), ``strategy`` and the specs as dicts.

    Raises
    ------
    ValueError
        An invalid grid (every problem listed), strategy, chunk size or client, before any
        simulation starts.
    DataError
        A bad site table.
    """

    tariff = Tariff() if tariff is None else tariff
    location = Site() if location is None else location
    pv = PVPlant() if pv is None else pv
    economics = Economics() if economics is None else economics
    for name, value, cls in (("battery", battery, Battery), ("rules", rules, SixPhaseRules),
                             ("tariff", tariff, Tariff), ("location", location, Site),
                             ("pv", pv, PVPlant), ("economics", economics, Economics)):
        if not isinstance(value, cls):
            raise ValueError(f"{name}: expected a pvbess.{cls.__name__}, got "
                             f"{type(value).__name__}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy = {strategy!r}: must be one of {STRATEGIES}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) \
            or chunk_size < 1:
        raise ValueError(f"chunk_size = {chunk_size!r}: must be a whole number >= 1")
    if client is not None and not all(hasattr(client, a) for a in ("submit", "scatter")):
        raise ValueError(f"client: expected a distributed.Client, got {type(client).__name__}")
    options = dict(optimal_options or {})
    unknown = sorted(set(options) - {"allow_grid_charge", "charge_source", "bill",
                                     "energy_step_kwh"})
    if unknown:
        raise ValueError(f"optimal_options: unknown option(s) {unknown}")
    configs = expand_grid(grid)
    _check_specs(configs, battery, rules)
    step_hours(site.index)
    check_energy_columns(site, ("pv_kwh", "ev_kwh", "mall_kwh"))

    co2 = float(location.co2_kg_per_kwh)
    args = (battery, rules, tariff, co2, strategy, options)
    chunks = _chunks(configs, int(chunk_size))
    if client is None:
        parts = _run_local(site, chunks, args, progress, len(configs))
    else:
        parts = _run_dask(client, site, chunks, args, progress, len(configs))
    kpi = pd.concat(parts)

    full = _full_configs(configs, battery, rules)
    design = pd.DataFrame({
        "capacity_kwh": full["capacity_kwh"],
        "power_charge_kw": full["power_charge_kw"],
        "power_discharge_kw": full["power_discharge_kw"],
        "power_kw": np.maximum(full["power_charge_kw"], full["power_discharge_kw"]),
        "pv_scale": full["pv_scale"],
        "pv_kwp": full["pv_scale"] * pv.dc_kwp,
    }, index=configs.index)
    for name in configs.columns:
        if name not in design:
            design[name] = configs[name]
    bills = _baseline_bills(site, full, battery, rules, tariff, co2)
    years = _years(site)
    money = appraise(
        economics, pv_kwp=design["pv_kwp"], capacity_kwh=design["capacity_kwh"],
        power_kw=design["power_kw"], cycles_per_year=kpi["equivalent_full_cycles"] / years,
        discharge_kwh_per_year=kpi["bess_discharge_kwh"] / years,
        bill_pen_per_year=kpi["total_cost_pen"] / years,
        bill_grid_only_pen_per_year=bills["bill_grid_only_pen"] / years,
        bill_pv_only_pen_per_year=bills["bill_pv_only_pen"] / years,
        co2_t_per_year=kpi["co2_t"] / years,
        co2_grid_only_t_per_year=kpi["co2_baseline_grid_only_t"] / years,
        co2_pv_only_t_per_year=kpi["co2_baseline_pv_only_t"] / years,
        charge_cost_pen_per_year=(kpi["pv_to_bess_kwh"] * tariff.export_pen_per_kwh
                                  + kpi["grid_to_bess_kwh"] * tariff.energy_hfp_pen_per_kwh)
        / years,
        pen_per_usd=location.pen_per_usd, index=configs.index)
    table = pd.concat([design, kpi, bills, money], axis=1)
    table["pareto"] = pareto_front(table["eac_pen_per_year"].to_numpy(),
                                   table["co2_t"].to_numpy())
    table.attrs.update({
        "parameters": list(configs.columns), "strategy": strategy,
        "battery": battery.asdict(), "rules": rules.asdict(), "tariff": tariff.asdict(),
        "site": location.asdict(), "pv": pv.asdict(), "economics": economics.asdict(),
        "years": years,
    })
    return table


#: Columns of :func:`best_designs` besides the ranking column.
_BEST_COLUMNS = ("capacity_kwh", "power_kw", "pv_scale", "self_sufficiency_frac", "co2_t",
                 "equivalent_full_cycles", "total_cost_pen", "capex_bess_pen", "npv_vs_pv_pen",
                 "payback_vs_pv_years", "lcos_pen_per_kwh", "cost_per_tco2_vs_pv_pen", "pareto")


def best_designs(table: pd.DataFrame, by: str = "npv_vs_pv_pen", n: int = 10, *,
                 ascending: bool = False, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The ``n`` best designs of a sweep ranked by one column (largest first by default)."""
    if by not in table.columns:
        raise ValueError(f"by = {by!r}: not a column of the sweep table")
    cols = [c for c in (columns or _BEST_COLUMNS) if c in table.columns and c != by]
    extra = [c for c in table.attrs.get("parameters", ()) if c in table.columns and c not in cols
             and c != by]
    return table.sort_values(by, ascending=ascending, kind="stable").head(n)[[by, *extra, *cols]]


# -- files ------------------------------------------------------------------------------------
SWEEP_TABLE_NAME = "sweep.csv.gz"
SWEEP_SUMMARY_NAME = "sweep_summary.json"
SWEEP_SUMMARY_SCHEMA = "pvbess.sweep_summary/1"

#: Headline columns of the best design in :func:`sweep_summary`.
_SUMMARY_COLUMNS = ("capacity_kwh", "power_kw", "pv_scale", "pv_kwp", "self_sufficiency_frac",
                    "co2_t", "co2_avoided_vs_pv_only_t", "equivalent_full_cycles",
                    "total_cost_pen", "capex_bess_pen", "npv_vs_grid_pen", "npv_vs_pv_pen",
                    "payback_vs_pv_years", "lcos_pen_per_kwh", "cost_per_tco2_vs_pv_pen",
                    "eac_pen_per_year")


def _plain(value: Any) -> Any:
    """JSON-ready: NaN and infinities become None; numpy scalars become Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def sweep_summary(table: pd.DataFrame, *, run_id: str = "sweep",
                  by: str = "npv_vs_pv_pen") -> dict:
    """Headline figures of a sweep as a JSON-ready dict (schema ``pvbess.sweep_summary/1``).

    Holds the number of designs, the swept parameters and their values, the strategy, the
    size of the Pareto front, the best design by ``by`` (largest) with its headline columns,
    and the specs (``table.attrs``). NaN and infinities become null.
    """
    best = table.loc[table[by].idxmax()]
    params = list(table.attrs.get("parameters", ()))
    return _plain({
        "schema": SWEEP_SUMMARY_SCHEMA,
        "run_id": run_id,
        "strategy": table.attrs.get("strategy"),
        "n_designs": len(table),
        "parameters": {p: sorted(table[p].unique().tolist()) for p in params},
        "n_pareto": int(table["pareto"].sum()),
        "best_by": by,
        "best_config": int(best.name),
        "best": {c: best[c] for c in (*params, *_SUMMARY_COLUMNS) if c in table.columns},
        "specs": {k: table.attrs.get(k) for k in ("battery", "rules", "tariff", "site", "pv",
                                                  "economics", "years")},
    })


def _atomic_write(path, write) -> None:
    """Call ``write(tmp_path)`` and move the file into place only if it succeeded."""
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_sweep(table: pd.DataFrame, directory, *, run_id: str = "sweep",
                by: str = "npv_vs_pv_pen"):
    """Write ``sweep.csv.gz`` (the table) and ``sweep_summary.json`` into ``directory``.

    Both are written to a temporary name and moved into place. Returns the two paths.
    """
    import json
    from pathlib import Path

    directory = Path(directory)
    table_path = directory / SWEEP_TABLE_NAME
    summary_path = directory / SWEEP_SUMMARY_NAME
    _atomic_write(table_path, lambda tmp: table.to_csv(tmp, compression="gzip"))
    text = json.dumps(sweep_summary(table, run_id=run_id, by=by), indent=1, allow_nan=False)
    _atomic_write(summary_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return table_path, summary_path


def read_sweep(directory) -> tuple[pd.DataFrame, dict]:
    """Read back what :func:`write_sweep` wrote: the table and the summary dict."""
    import json
    from pathlib import Path

    directory = Path(directory)
    table = pd.read_csv(directory / SWEEP_TABLE_NAME, index_col="config")
    summary = json.loads((directory / SWEEP_SUMMARY_NAME).read_text(encoding="utf-8"))
    if summary.get("schema") != SWEEP_SUMMARY_SCHEMA:
        raise ValueError(f"{directory / SWEEP_SUMMARY_NAME}: schema {summary.get('schema')!r}, "
                         f"expected {SWEEP_SUMMARY_SCHEMA!r}")
    return table, summary
