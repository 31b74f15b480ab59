"""The least-cost dispatch of many designs (``sweep(strategy="optimal")``), serial or in parallel.

Each design gets a plan on the whole table that :func:`pvbess.simulate` then replays through the
rules' plant (``strategy="schedule"``), and the KPIs of that replay. The planner
(``optimal_options["solver"]``, :func:`solver_of`): on the full bill the exact optimum by HiGHS
(:func:`pvbess.exact_schedule`), on the energy bill the DP (:func:`pvbess.optimize_schedule`);
either can be asked for. A design without storage (capacity 0: an empty window) has nothing to
plan: it runs with a zero setpoint, i.e. costs what the site costs with no battery.

Why the exact LP on the full bill: sizing plans a whole year per design, where the DP's demand
charges take an outer search over every month's caps (:mod:`pvbess.optimize.full_bill`). On the
Iquitos year (90 designs, 500-4,500 kWh x 100-1,000 kW, charging from PV) HiGHS plans a design in
0.52 s of CPU on average (0.9 s at most; one thread; every one a clean LP, no binaries), the DP
in 0.5-3 s and 0 to 0.19 % above the optimum (e.g. 3,500 kWh x 800 kW: 4,403,288 against
4,394,982 PEN). On the energy bill the DP needs no search: as fast as the LP (about 0.3 s) and
within 0.2 PEN of it. The LP turns into a MILP, much slower, where its optimum would charge and
discharge at once or import and export at once (export paying more than import, negative
prices): ``solver="dp"`` then.

The designs are independent, so :func:`run_chunks` may hand chunks of them to local worker
processes (``n_jobs``); each design's numbers do not depend on where or with whom it ran.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np
import pandas as pd

from ..balance import simulate
from ..battery import Battery
from ..indicators import kpis
from ..optimize.exact import exact_schedule
from ..optimize.problem import SchedulingProblem
from ..optimize.schedule import optimize_schedule
from ..rules import SixPhaseRules

__all__ = ["OPTIONS", "PLANNERS", "charge_source_of", "check_options", "kpis_optimal",
           "parallel_chunk_size", "resolve_n_jobs", "run_chunks", "solver_of"]

#: The site columns a design's run reads.
SITE_COLUMNS = ("pv_kwh", "ev_kwh", "mall_kwh")
#: The planners ``optimal_options["solver"]`` names.
PLANNERS = {"exact": exact_schedule, "dp": optimize_schedule}
#: The keys of ``optimal_options``.
OPTIONS = ("allow_grid_charge", "bill", "charge_source", "energy_step_kwh", "solver")


def check_options(options: Mapping[str, Any]) -> None:
    """ValueError for an unknown key of ``optimal_options`` or an unknown solver."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"optimal_options: unknown option(s) {unknown}")
    solver = options.get("solver")
    if solver is not None and solver not in PLANNERS:
        raise ValueError(f"optimal_options: solver = {solver!r}: must be one of "
                         f"{sorted(PLANNERS)} (or None: the default)")


def solver_of(options: Mapping[str, Any]) -> str:
    """The planner for ``optimal_options``: its ``solver``, else ``"exact"`` on the full bill
    and ``"dp"`` on the energy bill (the module docstring says why)."""
    return options.get("solver") or ("exact" if options.get("bill", "full") == "full" else "dp")


def charge_source_of(options: Mapping[str, Any]) -> str:
    """The battery's charge source for the optimal strategy's ``optimal_options``."""
    return options.get("charge_source") or (
        "any" if options.get("allow_grid_charge", False) else "pv"
        if options.get("bill", "full") == "full" else "surplus")


def _scaled_site(site: pd.DataFrame, pv_scale: float) -> pd.DataFrame:
    if pv_scale == 1.0:
        return site
    scaled = site.copy()
    scaled["pv_kwh"] = site["pv_kwh"].to_numpy(dtype=float) * pv_scale
    return scaled


def kpis_optimal(site: pd.DataFrame, designs: Sequence[tuple[Battery, SixPhaseRules, float]],
                 tariff, co2_kg_per_kwh: float, options: Mapping[str, Any]) -> list[dict]:
    """KPIs of the optimal dispatch of each ``(battery, rules, pv_scale)`` design, in order."""
    source = charge_source_of(options)
    plan = PLANNERS[solver_of(options)]
    rows = []
    for battery, rules, scale in designs:
        scaled = _scaled_site(site, scale)
        if battery.usable_kwh > 0:
            problem = SchedulingProblem.from_site(
                scaled, battery, tariff, charge_source=source, co2_kg_per_kwh=co2_kg_per_kwh,
                demand_charges=options.get("bill", "full") == "full",
                allow_battery_export=False, export_limit_kw=rules.export_limit_kw)
            setpoint = plan(problem, energy_step_kwh=options.get("energy_step_kwh")).setpoint_kwh
        else:  # no storage: nothing to plan
            setpoint = np.zeros(len(scaled))
        balance = simulate(scaled, battery, rules, "schedule", tariff=tariff,
                           co2_kg_per_kwh=co2_kg_per_kwh, setpoint_kwh=setpoint,
                           charge_source=source)
        rows.append(kpis(balance))
    return rows


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Worker processes for ``n_jobs``: None or 1 -> 1 (serial), -1 -> every CPU, k -> k.

    Raises
    ------
    ValueError
        Not a whole number >= 1 (or -1).
    """
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) \
            or not (n_jobs >= 1 or n_jobs == -1):
        raise ValueError(f"n_jobs = {n_jobs!r}: must be a whole number >= 1, or -1 (every CPU)")
    return os.cpu_count() or 1 if n_jobs == -1 else int(n_jobs)


def run_chunks(run: Callable[..., pd.DataFrame], site: pd.DataFrame,
               chunks: list[pd.DataFrame], args: tuple, n_jobs: int,
               on_done: Callable[[int], None]) -> list[pd.DataFrame]:
    """``run(site, chunk, *args)`` for every chunk, in ``n_jobs`` local processes, results in
    chunk order; ``on_done(len(chunk))`` as each finishes.

    Workers are started with ``spawn`` (a fresh interpreter that loads the compiled kernels
    from numba's cache): forking a process that already runs numba's thread pool is unsafe.
    """
    if n_jobs <= 1 or len(chunks) <= 1:
        out = []
        for chunk in chunks:
            out.append(run(site, chunk, *args))
            on_done(len(chunk))
        return out
    site = site[list(SITE_COLUMNS)]
    results: list[pd.DataFrame | None] = [None] * len(chunks)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(n_jobs, len(chunks)), mp_context=context) as pool:
        futures = {pool.submit(run, site, chunk, *args): i for i, chunk in enumerate(chunks)}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            on_done(len(chunks[i]))
    return results  # type: ignore[return-value]


def parallel_chunk_size(n_designs: int, n_jobs: int, chunk_size: int) -> int:
    """Designs per task so that every worker gets several tasks (load balance)."""
    return max(1, min(chunk_size, math.ceil(n_designs / (4 * n_jobs))))
