"""What-if sizing sweeps: thousands of designs, their KPIs, their economics and the Pareto front.

:func:`sweep` expands a grid of parameters (a full factorial from a mapping, or a table of
configurations), checks all of it before any work starts, runs the designs in chunks through
the kernel of :func:`pvbess.simulate_many` (:func:`pvbess.batch.kpi_table`: one numba-parallel
call per chunk, so all cores are used while the memory stays flat: only one chunk's KPI rows are
alive at a time), optionally on a dask.distributed cluster (``client``) or, for the slow optimal
strategy (one optimisation per design), in local worker processes (``n_jobs``,
:mod:`pvbess.studies.optimal_designs`), and adds the economics (:mod:`pvbess.studies.economics`)
and the Pareto front of cost against CO2 (:func:`pvbess.pareto_front`).

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

from ..batch import design_columns, design_params, design_problems, kpi_table, simulate_many
from ..battery import Battery
from ..pv import PVPlant
from ..rules import SixPhaseRules
from ..site import Site
from ..tariff import Tariff
from ..timeseries import DataError, check_energy_columns, step_hours
from .economics import Economics, appraise
from .optimal_designs import (
    check_options,
    kpis_optimal,
    parallel_chunk_size,
    resolve_n_jobs,
    run_chunks,
)
from .pareto import pareto_front
from .sweep_files import (  # noqa: F401 - re-exported: the files of a sweep
    SWEEP_SUMMARY_NAME,
    SWEEP_SUMMARY_SCHEMA,
    SWEEP_TABLE_NAME,
    read_sweep,
    sweep_summary,
    write_sweep,
)

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


def _check_column(name: str, column: pd.Series, problems: list[str]) -> np.ndarray | list:
    """:func:`_check_values` of a table column, as arrays when the column is numeric."""
    if column.dtype.kind not in "iuf":
        return _check_values(name, column.tolist(), problems)
    values = column.to_numpy(dtype=float)
    finite = np.isfinite(values) | (np.isinf(values) if name in _MAY_BE_INF else False)
    negative = finite & (values < 0) if name in _SIZES else np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(~finite | negative):
        why = "must be finite" if not finite[i] else "a size must be >= 0"
        problems.append(f"{name}[{i}] = {column.iloc[i].item()!r}: {why}")
    return values


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
        raise DataError("invalid sweep grid:\n  - " + "\n  - ".join(problems))


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
            columns[name] = _check_column(str(name), grid[name], problems)
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


def _check_specs(configs: pd.DataFrame, columns: dict[str, np.ndarray], battery: Battery,
                 rules: SixPhaseRules) -> None:
    """Check every design's Battery and SixPhaseRules as arrays (each distinct combination
    built once), so cross-field errors (soc_min >= soc_max, hours out of order, ...) surface,
    naming the design and the field, before any simulation."""
    problems = [f"config {configs.index[k]} ({configs.iloc[k].to_dict()}): {why}"
                for k, why in design_problems(columns, battery, rules)]
    _raise(problems)


def _designs_of(configs: pd.DataFrame, battery: Battery, rules: SixPhaseRules
                ) -> list[tuple[Battery, SixPhaseRules, float]]:
    """The Battery, SixPhaseRules and pv_scale of each configuration (checked already)."""
    columns = design_columns(configs, battery, rules)
    table = pd.DataFrame({k: v for k, v in columns.items() if k != "round_trip_efficiency"})
    out = []
    for row in table.to_dict("records"):
        b = Battery(**{k: row[k] for k in _BATTERY_FIELDS})
        r = SixPhaseRules(**{k: row[k] for k in _RULES_FIELDS})
        out.append((b, r, float(row["pv_scale"])))
    return out


def _run_chunk(site: pd.DataFrame, configs: pd.DataFrame, battery: Battery, rules: SixPhaseRules,
               tariff, co2_kg_per_kwh: float, strategy: str,
               options: Mapping[str, Any]) -> pd.DataFrame:
    """KPIs of one chunk of configurations (runs locally, in a worker process or on dask)."""
    if strategy == "optimal":
        rows = kpis_optimal(site, _designs_of(configs, battery, rules), tariff, co2_kg_per_kwh,
                            options)
        return pd.DataFrame(rows, index=configs.index)
    # the sweep checked every design before any chunk runs: no second check here
    params = design_params(design_columns(configs, battery, rules))
    return kpi_table(site, params, configs.index, tariff=tariff, co2_kg_per_kwh=co2_kg_per_kwh)


def _chunks(configs: pd.DataFrame, chunk_size: int) -> list[pd.DataFrame]:
    return [configs.iloc[i:i + chunk_size] for i in range(0, len(configs), chunk_size)]


def _run_local(site, chunks, args, progress: bool, total: int, n_jobs: int
               ) -> list[pd.DataFrame]:
    from tqdm.auto import tqdm

    if not progress:
        return run_chunks(_run_chunk, site, chunks, args, n_jobs, lambda n: None)
    # honest progress: the first design alone on its own bar (it pays the one-time compile),
    # then the rest in steps of about 1/25 of the sweep (one design for the optimal dispatch)
    step = 1 if args[4] == "optimal" else -(-total // 25)
    steps = [s for chunk in chunks for s in _chunks(chunk, step)]
    first = steps[0].iloc[:1]
    rest = [s for s in (steps[0].iloc[1:], *steps[1:]) if len(s)]
    with tqdm(total=1, unit="design", desc="sweep: first design (compiles once)") as bar:
        results = [_run_chunk(site, first, *args)]
        bar.update(1)
    with tqdm(total=total, initial=1, unit="design", desc="sweep") as bar:
        results += run_chunks(_run_chunk, site, rest, args, n_jobs, bar.update)
    return results


def _dask_threads(client) -> int:
    """Threads of the dask cluster (1 if it cannot say)."""
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001 - a client-like object that cannot say: one worker
        return 1


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


def _check_arguments(*, strategy: str, chunk_size: Any, client: Any,
                     options: Mapping[str, Any], **specs: Any) -> None:
    """The arguments of :func:`sweep` besides the grid and the site (ValueError)."""
    classes = {"battery": Battery, "rules": SixPhaseRules, "tariff": Tariff, "location": Site,
               "pv": PVPlant, "economics": Economics}
    for name, value in specs.items():
        if not isinstance(value, classes[name]):
            raise ValueError(f"{name}: expected a pvbess.{classes[name].__name__}, got "
                             f"{type(value).__name__}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy = {strategy!r}: must be one of {STRATEGIES}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) \
            or chunk_size < 1:
        raise ValueError(f"chunk_size = {chunk_size!r}: must be a whole number >= 1")
    if client is not None and not all(hasattr(client, a) for a in ("submit", "scatter")):
        raise ValueError(f"client: expected a distributed.Client, got {type(client).__name__}")
    check_options(options)


def sweep(site: pd.DataFrame, grid: Mapping[str, Iterable[Any]] | pd.DataFrame, *,
          battery: Battery = Battery(), rules: SixPhaseRules = SixPhaseRules(),
          tariff=None, location=None, pv=None, economics=None, strategy: str = "six_phase",
          chunk_size: int = 2048, progress: bool = True, client=None, n_jobs: int | None = None,
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
        plan on the full bill (energy and demand charges; battery charged from PV as the rules,
        see ``optimal_options``), by default the exact optimum (:func:`pvbess.exact_schedule`),
        replayed by :func:`pvbess.simulate` with ``strategy="schedule"`` (slow: one
        optimisation per design, about 0.5 s for an hourly year).
    chunk_size : int
        Designs per call (a dask task); one chunk's results are alive at a time. The default,
        a multiple of the batch kernel's 16-design blocks, keeps the number of parallel calls
        small (each ends waiting for its slowest core). [-]
    progress : bool
        Show a tqdm progress bar.
    client : distributed.Client, optional
        Run the chunks on this dask cluster instead of locally.
    n_jobs : int, optional
        ``"optimal"`` strategy: local worker processes sharing the designs (-1: one per CPU;
        default 1, in this process). Each design's row is the same however it ran. The
        six-phase kernel already uses every core (numba threads) and ignores it.
    optimal_options : mapping, optional
        For the ``"optimal"`` strategy: ``bill`` (``"full"``, the default: the plan sees the
        demand charges; ``"energy"``: energy prices only), ``charge_source`` (default ``"pv"``
        on the full bill, as the rules; ``"surplus"`` energy-only; ``allow_grid_charge=True`` is
        ``"any"``), ``solver`` (``"exact"``: :func:`pvbess.exact_schedule`, the default on the
        full bill; ``"dp"``: :func:`pvbess.optimize_schedule`, the default on the energy bill;
        :mod:`pvbess.studies.optimal_designs` says why) and ``energy_step_kwh`` (the DP's).

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
    DataError
        An invalid grid (every problem listed, naming the design and the field) or a bad site
        table, before any simulation starts.
    ValueError
        An invalid strategy, chunk size, ``n_jobs``, client or option.
    """

    tariff = Tariff() if tariff is None else tariff
    location = Site() if location is None else location
    pv = PVPlant() if pv is None else pv
    economics = Economics() if economics is None else economics
    options = dict(optimal_options or {})
    _check_arguments(battery=battery, rules=rules, tariff=tariff, location=location, pv=pv,
                     economics=economics, strategy=strategy, chunk_size=chunk_size,
                     client=client, options=options)
    jobs = resolve_n_jobs(n_jobs)
    configs = expand_grid(grid)
    columns = design_columns(configs, battery, rules)
    _check_specs(configs, columns, battery, rules)
    step_hours(site.index)
    check_energy_columns(site, ("pv_kwh", "ev_kwh", "mall_kwh"))

    co2 = float(location.co2_kg_per_kwh)
    args = (battery, rules, tariff, co2, strategy, options)
    if strategy == "optimal":  # slow designs: several chunks per worker balance the load
        workers = jobs if client is None else _dask_threads(client)
        chunk_size = parallel_chunk_size(len(configs), workers, int(chunk_size))
    chunks = _chunks(configs, int(chunk_size))
    if client is None:
        parts = _run_local(site, chunks, args, progress, len(configs), jobs)
    else:
        parts = _run_dask(client, site, chunks, args, progress, len(configs))
    kpi = pd.concat(parts)

    full = pd.DataFrame(columns, index=configs.index)
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


