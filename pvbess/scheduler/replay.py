"""Replay: the manager over a whole dataset, period by period, on a simulated plant.

:func:`replay` runs :class:`~pvbess.scheduler.manager.SimpleBatterySystemManager` over a site
table (the Iquitos year, or a run of days) with a chosen forecast: every day starts with
tomorrow's schedule, every completed period is recorded and the rest of the day re-planned.
It returns the realised balance (the recorded events) and a comparison of its cost and CO2
against perfect-foresight DP over the whole horizon, the exact optimum (HiGHS, a lower bound)
and the six-phase rules.

Crash safety: with a file database, a replay killed at any point (even SIGKILL) and started
again with ``resume=True`` continues from the last recorded period through
``restart_and_reconstruct`` and gives exactly the realised result of an uninterrupted run. The
simulated plant is paused while the process is down (it restarts from the last recorded state).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..balance import simulate
from ..battery import Battery
from ..bill import BILL_COLUMNS, bill_table, site_bill
from ..optimize.schedule import optimize_schedule
from ..optimize.exact import exact_schedule
from ..rules import SixPhaseRules
from ..site import Site
from ..optimize.problem import SchedulingProblem
from ..physics import resolve_charge_source
from ..tariff import Tariff
from ..timeseries import DataError, epoch_ns, step_hours
from .controller import SimulatedController
from .db import Database, open_database
from .events import EVENT_VALUES, HistoricalDataStore, HistoryError, HourlyEvent
from .forecasts import ForecastProvider, make_forecast
from .engine import OptimizationEngine, OptimizationInput
from .manager import SimpleBatterySystemManager
from .progress import ReplayProgress, day_ends
from .record import verify_record

#: Rows of :attr:`ReplayResult.comparison`.
REPLAY = "replay"
PERFECT_DP = "perfect_foresight_dp"
EXACT = "exact_bound"
RULES = "six_phase_rules"
NO_BATTERY = "no_battery"
#: The strategies of the comparison in words (its progress bar names the one running).
STRATEGY_WORDS = {REPLAY: "the replay", PERFECT_DP: "perfect-foresight DP",
                  EXACT: "exact bound (LP)", RULES: "six-phase rules", NO_BATTERY: "no battery"}

#: Energy-grid states of the replay's plans by default: a step of ``usable_kwh / 400`` (4 kWh
#: for the Iquitos battery). Each plan is re-made every period from the true state and the DP
#: replays its policy with exact candidate actions, so a coarser grid than a single day-ahead
#: plan needs costs little: on the Iquitos year with the persistence forecast the realised cost
#: differs by 0.002 % from that with the optimizer's 2,000-state default (0.8 kWh), for less
#: CPU per plan (the gap grows with the DP's cost per state; a re-plan whose forecasts did not
#: change reuses the day's backward pass, :mod:`pvbess.optimize.replan`, and only replays it);
#: 200 states cost 0.09 % more energy on the energy-only year. Pass ``energy_step_kwh`` to choose.
REPLAY_GRID_STATES = 400

#: States of the full-bill cap search's coarse grid in the replay's plans by default
#: (:func:`pvbess.optimize.full_bill.full_bill_schedule`; its own default is 1,024 for a day).
#: Each plan is re-made every period from the true state and the recorded peaks, so the caps'
#: small upward bias on a coarser grid costs little: on the Iquitos year with the persistence
#: forecast (no peak guard) the realised bill is 5,000,194 PEN against 4,999,940 at 1,024
#: states (+0.005 %; January alone +0.06 %), for about a sixth of the CPU per re-plan; 64
#: states save another 10 % of the CPU for +0.04 % on the year's bill (with the guard).
#: Pass ``search_states`` to choose.
REPLAY_SEARCH_STATES = 128

#: Columns of :attr:`ReplayResult.comparison`: the bill (:data:`pvbess.bill.BILL_COLUMNS`) and
#: ``gap_vs_exact`` (``total_cost_pen`` minus the exact bound's). [PEN]
COMPARISON_COLUMNS: tuple[str, ...] = (*BILL_COLUMNS, "gap_vs_exact")


@dataclass(frozen=True)
class ReplayResult:
    """What a replay realised and how it compares.

    Attributes
    ----------
    balance : pandas.DataFrame
        One row per replayed period (the recorded events) on the tz-aware index: the event
        values (:data:`~pvbess.scheduler.events.EVENT_VALUES`), ``cost`` [currency]
        (import * buy - export * sell + wear; buy includes the CO2 price), ``energy_cost_pen``
        [PEN] (import * tariff price - export * sell) and ``co2_kg`` [kg].
    comparison : pandas.DataFrame
        Rows ``replay``, ``perfect_foresight_dp``, ``exact_bound``, ``six_phase_rules``,
        ``no_battery`` (those that apply), columns :data:`COMPARISON_COLUMNS`;
        ``gap_vs_exact`` is ``cost - exact cost`` [currency]. Empty when ``compare=False``
        or the replay is unfinished.
    complete : bool
        True when every period of the horizon has been recorded.
    info : dict
        ``plans`` (made by this call), ``scenarios`` (counts in the database), ``wall_s``,
        ``resumed_at`` (timestamp or None), ``forecast``, ``db``, ``periods``.
    """

    balance: pd.DataFrame
    comparison: pd.DataFrame
    complete: bool
    info: dict[str, Any] = field(default_factory=dict)


def site_actuals(site_table: pd.DataFrame, *, tariff: Tariff | None = None,
                 co2_price_per_kg: float = 0.0, co2_kg_per_kwh: float | None = None,
                 export_price: float | None = None) -> pd.DataFrame:
    """The replay's actual table: ``load_kwh``, ``pv_kwh``, ``buy_price``, ``sell_price``,
    ``energy_price``.

    Load is ``load_kwh`` if present, else ``ev_kwh + mall_kwh``. ``buy_price`` and
    ``sell_price`` columns are used when present; otherwise buy is the tariff's energy price
    and sell ``export_price`` (default the tariff's ``export_pen_per_kwh``). The CO2 price times
    the emission factor is added to buy; ``energy_price`` keeps the buy price without it.

    Parameters
    ----------
    site_table : pandas.DataFrame
        Energies per period [kWh] on a regular tz-aware index.
    tariff : Tariff, optional
        Default ``Tariff()`` (OSINERGMIN MT3).
    co2_price_per_kg : float
        CO2 price. [currency/kg]
    co2_kg_per_kwh : float, optional
        Grid emission factor (default ``Site().co2_kg_per_kwh``). [kg/kWh]
    export_price : float, optional
        Price paid for exports. [currency/kWh]
    """
    for name, value in (("co2_price_per_kg", co2_price_per_kg), ("co2_kg_per_kwh", co2_kg_per_kwh)):
        if value is not None and (isinstance(value, bool) or not (
                isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0)):
            raise ValueError(f"{name} = {value!r}: must be a finite number >= 0")
    problem = SchedulingProblem.from_site(site_table, Battery(), tariff,
                                          co2_price_per_kg=co2_price_per_kg,
                                          co2_kg_per_kwh=co2_kg_per_kwh, export_price=export_price)
    return pd.DataFrame({"load_kwh": problem.load_kwh, "pv_kwh": problem.pv_kwh,
                         "buy_price": problem.buy, "sell_price": problem.sell,
                         "energy_price": problem.energy_price}, index=site_table.index)


def _fingerprint(actual: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(epoch_ns(actual.index).tobytes())
    h.update(str(actual.index.tz).encode())
    for name in ("load_kwh", "pv_kwh", "buy_price", "sell_price"):
        h.update(np.ascontiguousarray(actual[name].to_numpy(dtype="<f8")).tobytes())
    return h.hexdigest()


def _horizon(index: pd.DatetimeIndex, dt_h: float, start: Any, days: int | None) -> tuple[int, int]:
    """Positions ``[first, stop)`` of ``days`` local calendar days from ``start`` (a day with a
    daylight-saving change has 23 or 25 hourly periods)."""
    ppd = int(round(24.0 / dt_h))
    if abs(ppd * dt_h - 24.0) > 1e-9:
        raise DataError(f"index: a step of {dt_h} h does not divide the day")
    if start is None:
        first = 0
        if index[0] != index[0].normalize():
            raise DataError(f"index: the data must start at local midnight, starts {index[0]}")
    else:
        ts = pd.Timestamp(str(start)).tz_localize(index.tz)
        try:
            first = int(index.get_loc(ts))
        except KeyError:
            raise DataError(f"start = {start!r}: local midnight {ts} is not in the data "
                            f"({index[0]} .. {index[-1]})") from None
    first_day = index[first].tz_localize(None).normalize()
    end_of_data = index[-1] + pd.Timedelta(hours=dt_h)
    available = (end_of_data.normalize().tz_localize(None) - first_day).days
    if isinstance(days, bool) or not (days is None or isinstance(days, numbers.Integral)):
        raise DataError(f"days = {days!r}: must be a whole number of days")
    n_days = available if days is None else int(days)
    if n_days < 1 or n_days > available:
        raise DataError(f"days = {days!r}: the data holds {available} whole day(s) from "
                        f"{index[first]}")
    end = (first_day + pd.Timedelta(days=n_days)).tz_localize(index.tz)
    return first, int(index.searchsorted(end))


def replay(site_table: pd.DataFrame, *, battery: Battery | None = None,
           forecast: str | ForecastProvider = "perfect", db: Database | str | os.PathLike[str]
           = ":memory:", resume: bool = True, start: Any = None, days: int | None = None,
           tariff: Tariff | None = None, co2_price_per_kg: float = 0.0,
           co2_kg_per_kwh: float | None = None, export_price: float | None = None,
           bill: str = "full", terminal_value: float = 0.0, charge_source: str | None = None,
           allow_grid_charge: bool | None = None,
           allow_battery_export: bool = True, import_limit_kw: float = math.inf,
           export_limit_kw: float = math.inf, energy_step_kwh: float | None = None,
           forecast_options: dict[str, Any] | None = None, compare: bool = True,
           rules: SixPhaseRules | None = None, stop_after: int | None = None,
           on_period: Callable[[HourlyEvent], None] | None = None,
           peak_guard: bool = True, search_states: int | None = None,
           progress: bool = True) -> ReplayResult:
    """Run the scheduler over a dataset with a chosen forecast on a simulated plant.

    Parameters
    ----------
    site_table : pandas.DataFrame
        ``pv_kwh`` and ``load_kwh`` (or ``ev_kwh`` + ``mall_kwh``) per period [kWh] on a regular
        tz-aware index starting at local midnight (e.g. :func:`pvbess.load_iquitos`); optional
        ``buy_price`` / ``sell_price`` columns [currency/kWh] (see :func:`site_actuals`).
    battery : Battery, optional
        Default ``Battery()`` (the Iquitos design); the replay starts at ``e_initial_kwh``.
    forecast : str or ForecastProvider
        ``"perfect"``, ``"persistence"``, ``"mean7"``, ``"noisy"`` or a provider built on
        :func:`site_actuals` of the same table.
    db : Database, path or ``":memory:"``
        Where events and schedules go. A file makes the replay resumable.
    resume : bool
        Continue a replay already in ``db`` (same data and parameters, checked); if False a
        ``db`` holding events is an error.
    start, days : optional
        Replay ``days`` whole days from local date ``start`` (default: all of the data).
        Forecasts still see the data before ``start``.
    tariff, co2_price_per_kg, co2_kg_per_kwh, export_price
        Prices, see :func:`site_actuals`; the tariff's demand charges too.
    bill : {"full", "energy"}
        ``"full"``: every plan sees the demand charges (each group's incumbent peak read from
        the history) and the comparison is on the full bill. ``"energy"``: energy-only plans
        (the comparison still shows the demand charges each strategy incurs).
    terminal_value, charge_source, allow_grid_charge, allow_battery_export, import_limit_kw,
    export_limit_kw, energy_step_kwh
        Options of every plan (:class:`OptimizationEngine`) and of the plant
        (``charge_source`` default ``"any"``; ``allow_grid_charge`` is its older spelling). The DP step
        defaults to ``battery.usable_kwh / REPLAY_GRID_STATES`` [kWh].
    forecast_options : dict, optional
        Keyword options of the forecast provider (e.g. ``{"seed": 1, "load_noise": 0.05}``).
    compare : bool
        Also run the comparisons (DP and exact over the whole horizon, six-phase rules).
    rules : SixPhaseRules, optional
        For the six-phase comparison (needs ``ev_kwh`` and ``mall_kwh``); default
        ``SixPhaseRules()``.
    stop_after : int, optional
        Run at most this many periods in this call, then return (``complete=False`` if
        periods remain); call again with ``resume=True`` to continue.
    on_period : callable, optional
        Called with each recorded event once the period's re-plan is stored.
    peak_guard : bool
        With ``bill="full"``, the plant holds each period's import under the month's recorded
        peak of its demand-charge group or the plan's own peak there, whichever is higher, as
        far as the battery allows (:class:`SimpleBatterySystemManager`'s ``peak_guard``):
        a persistence forecast that misses a load peak otherwise lets it set the month's
        demand charge. No effect with ``bill="energy"``.
    search_states : int, optional
        States of the full-bill plans' cap search (default :data:`REPLAY_SEARCH_STATES`).
    progress : bool
        Show tqdm progress bars (a widget in Jupyter): the first period alone, as it pays the
        one-time compile of the kernels; then one step per replayed local day; then one step
        per strategy of the comparison.

    Returns
    -------
    ReplayResult
    """
    t0 = time.perf_counter()
    if bill not in ("full", "energy"):
        raise DataError(f"bill = {bill!r}: must be 'full' or 'energy'")
    battery = Battery() if battery is None else battery
    tariff = Tariff() if tariff is None else tariff
    if energy_step_kwh is None:
        energy_step_kwh = battery.usable_kwh / REPLAY_GRID_STATES
    search_states = REPLAY_SEARCH_STATES if search_states is None else int(search_states)
    actual = site_actuals(site_table, tariff=tariff, co2_price_per_kg=co2_price_per_kg,
                          co2_kg_per_kwh=co2_kg_per_kwh, export_price=export_price)
    dt_h = step_hours(actual.index)
    index = actual.index
    first, stop = _horizon(index, dt_h, start, days)
    factor = Site().co2_kg_per_kwh if co2_kg_per_kwh is None else float(co2_kg_per_kwh)
    provider = make_forecast(forecast, actual, **(forecast_options or {}))
    if isinstance(forecast, ForecastProvider) and not provider.index.equals(index):
        raise DataError("forecast: the provider's data index differs from site_table's")
    source = resolve_charge_source(charge_source, allow_grid_charge)
    plant = dict(charge_source=source, allow_battery_export=allow_battery_export,
                 import_limit_kw=import_limit_kw, export_limit_kw=export_limit_kw)
    engine = OptimizationEngine(battery, tariff=tariff if bill == "full" else None,
                                terminal_value=terminal_value, energy_step_kwh=energy_step_kwh,
                                search_states=search_states, **plant)
    config = json.dumps({
        "data": _fingerprint(actual), "first": str(index[first]), "stop": str(index[stop - 1]),
        "battery": battery.asdict(), "forecast": _forecast_name(provider),
        "forecast_options": {k: repr(v) for k, v in sorted((forecast_options or {}).items())},
        "terminal_value": float(terminal_value), "energy_step_kwh": energy_step_kwh,
        **{k: repr(v) for k, v in plant.items()},
        **({"bill": bill, "tariff": tariff.asdict()} if bill != "energy" else {}),
        **({"peak_guard": True} if bill != "energy" and peak_guard else {}),
        **({"search_states": search_states} if bill != "energy" else {}),
    }, sort_keys=True)

    database = open_database(db)
    owns_db = database is not db
    try:
        database.check_writable()
        history = HistoricalDataStore(database)
        _check_record(database, history, config, index[first:stop], dt_h)
        if len(history) and not resume:
            raise ValueError(f"{database.path}: already holds {len(history)} recorded periods; "
                             "pass resume=True to continue it or use a fresh database")
        database.put_meta("replay_config", config)
        last = history.last_event()
        resumed_at = None
        if last is None:
            pos = first
            controller = SimulatedController(actual, battery, start=index[first], **plant)
        else:  # the plant restarts from the last recorded state (a checked prefix)
            pos = first + len(history)
            controller = SimulatedController(actual, battery, start=index[min(pos, stop - 1)],
                                             initial_kwh=last.soe_end_kwh, **plant)
        manager = SimpleBatterySystemManager(engine, controller, provider, database,
                                             peak_guard=peak_guard)
        budget = stop - pos if stop_after is None else min(int(stop_after), stop - pos)
        bars = ReplayProgress(progress, f"replay {_forecast_name(provider)}",
                              day_ends(index[first:stop], first))
        if pos < stop and budget > 0 and last is not None:
            resumed_at = index[pos]
        plans = _run_periods(manager, controller, index, pos, stop, budget, resumed_at, on_period,
                             bars)
        balance = _balance(history, actual, index[first], index[stop - 1], factor)
        complete = len(balance) == stop - first
        if complete:  # the record's length, so a resume sees its last events removed
            database.put_meta("replay_events", str(len(history)))
        comparison = pd.DataFrame(columns=list(COMPARISON_COLUMNS))
        if compare and complete:
            comparison = _compare(balance, actual.iloc[first:stop], site_table.iloc[first:stop],
                                  battery, engine, factor, tariff, rules, co2_price_per_kg,
                                  plant, bars)
        info = {"plans": plans, "scenarios": manager.schedules.scenario_counts(),
                "wall_s": time.perf_counter() - t0, "resumed_at": resumed_at,
                "forecast": _forecast_name(provider), "db": database.path,
                "periods": stop - first}
        return ReplayResult(balance=balance, comparison=comparison, complete=complete,
                            info=info)
    finally:
        if owns_db:
            database.close()


def _forecast_name(provider: ForecastProvider) -> str:
    return getattr(provider, "name", repr(provider))


def _run_periods(manager: SimpleBatterySystemManager, controller: SimulatedController,
                 index: pd.DatetimeIndex, pos: int, stop: int, budget: int,
                 resumed_at: pd.Timestamp | None,
                 on_period: Callable[[HourlyEvent], None] | None, bars: ReplayProgress) -> int:
    """Run ``budget`` periods from position ``pos`` (re-planning after each, tomorrow's schedule
    at each day's end); return the number of plans made."""
    if pos >= stop or budget <= 0:
        return 0
    plans, done = 1, 0

    def one_period() -> None:
        nonlocal pos, done, plans
        event = controller.run_period()
        plan = manager.update_hourly_schedule(event.timestamp)
        plans += plan is not None
        pos += 1
        done += 1
        if on_period is not None:
            on_period(event)
        if plan is None and pos < stop and done < budget:
            manager.create_tomorrows_schedule(index[pos].date())
            plans += 1

    with bars.bar("first period (compiles once)", 1, "period") as bar:
        if resumed_at is None:
            manager.create_tomorrows_schedule(index[pos].date())
        else:
            manager.restart_and_reconstruct(index[pos])
        one_period()
        bar.update(1)
    with bars.bar("", len(bars.day_ends), "day", bars.days_done(pos)) as bar:
        while pos < stop and done < budget:
            one_period()
            if bars.ends_a_day(pos):
                bar.update(1)
    return plans


def _check_record(database: Database, history: HistoricalDataStore, config: str,
                  horizon: pd.DatetimeIndex, dt_h: float) -> None:
    """Refuse to resume on a record that is broken, foreign or not this replay's."""
    stored = database.get_meta("replay_config")
    if stored is not None and stored != config:
        raise ValueError(f"{database.path}: holds a replay with other data or parameters; "
                         "use another database file")
    n = verify_record(database, dt_h=dt_h, tz=str(horizon.tz))
    if n == 0:
        return
    if stored is None:
        raise HistoryError(f"{database.path}: holds {n} recorded periods but no replay "
                           "configuration (not a replay's record); refusing to adopt it")
    recorded = history.to_frame().index
    positions = horizon.get_indexer(recorded)
    bad = np.flatnonzero(positions != np.arange(n))
    if len(bad):
        day, period = history.to_frame()[["day", "period"]].iloc[bad[0]]
        where = "outside the replayed data" if positions[bad[0]] < 0 else \
            f"not the replay's period #{bad[0]} ({horizon[bad[0]]})"
        raise HistoryError(f"{database.path}: the recorded history is broken at period "
                           f"{period} of {day} ({recorded[bad[0]]}): {where}; refusing to "
                           "resume on it")
    finished = database.get_meta("replay_events")
    if finished is not None and int(finished) != n:
        raise HistoryError(f"{database.path}: the recorded history is broken after period "
                           f"{recorded[-1]}: the finished replay recorded {finished} periods, "
                           f"the file holds {n}; refusing to resume on it")


def _balance(history: Any, actual: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp,
             factor: float) -> pd.DataFrame:
    frame = history.to_frame()
    if len(frame):
        frame = frame.loc[(frame.index >= first) & (frame.index <= last)]
    frame = frame[list(EVENT_VALUES)].copy()
    energy = actual["energy_price"].reindex(frame.index).to_numpy()
    frame["cost"] = (frame["grid_import_kwh"] * frame["buy_price"]
                     - frame["grid_export_kwh"] * frame["sell_price"] + frame["wear_cost"])
    frame["energy_cost_pen"] = (frame["grid_import_kwh"].to_numpy() * energy
                                - frame["grid_export_kwh"] * frame["sell_price"])
    frame["co2_kg"] = frame["grid_import_kwh"] * factor
    return frame


def _compare(balance: pd.DataFrame, actual: pd.DataFrame, site_table: pd.DataFrame,
             battery: Battery, engine: OptimizationEngine, factor: float, tariff: Tariff,
             rules: SixPhaseRules | None, co2_price_per_kg: float,
             plant: dict[str, Any], bars: ReplayProgress) -> pd.DataFrame:
    """The replay against perfect foresight, the exact bound, the rules and no battery, each
    priced by :func:`pvbess.bill.site_bill` over the replayed horizon (one progress step each)."""
    index = actual.index
    wear = dict(wear_cost_per_kwh_stored=battery.wear_cost_per_kwh, eta_charge=battery.eta_charge)

    def priced(imp: Any, exp: Any, charge: Any, discharge: Any, final: float) -> dict:
        return site_bill(imp, exp, index, tariff, co2_kg_per_kwh=factor,
                         co2_price_per_kg=co2_price_per_kg, energy_price=actual["energy_price"],
                         sell_price=actual["sell_price"], bess_charge_kwh=charge,
                         bess_discharge_kwh=discharge, final_stored_kwh=final, **wear)

    with_rules = {"ev_kwh", "mall_kwh"} <= set(site_table.columns)
    rows: dict[str, dict[str, float]] = {}
    rows[REPLAY] = priced(balance["grid_import_kwh"], balance["grid_export_kwh"],
                          balance["bess_charge_kwh"], balance["bess_discharge_kwh"],
                          float(balance["soe_end_kwh"].iloc[-1]))
    horizon = OptimizationInput(index=index, load_kwh=actual["load_kwh"].to_numpy(),
                                pv_kwh=actual["pv_kwh"].to_numpy(),
                                buy_price=actual["buy_price"].to_numpy(),
                                sell_price=actual["sell_price"].to_numpy(),
                                initial_kwh=float(balance["soe_start_kwh"].iloc[0]))
    problem = engine.problem(horizon)
    solvers = {PERFECT_DP: lambda: optimize_schedule(problem,
                                                     energy_step_kwh=engine.energy_step_kwh),
               EXACT: lambda: exact_schedule(problem)}
    with bars.bar("comparison", 3 + with_rules, "strategy", rate=False) as bar:
        for name, solve in solvers.items():
            bar.set_postfix_str(STRATEGY_WORDS[name])
            result = solve()
            p = result.periods
            rows[name] = priced(p["grid_import_kwh"], p["grid_export_kwh"], p["bess_charge_kwh"],
                                p["bess_discharge_kwh"], float(result.soe_kwh[-1]))
            bar.update(1)
        if with_rules:
            bar.set_postfix_str(STRATEGY_WORDS[RULES])
            bal = simulate(site_table[["pv_kwh", "ev_kwh", "mall_kwh"]], battery,
                           SixPhaseRules() if rules is None else rules, "six_phase",
                           tariff=tariff, co2_kg_per_kwh=factor)
            rows[RULES] = priced(bal["grid_import_kwh"],
                                 bal["pv_export_kwh"] + bal["bess_export_kwh"],
                                 bal["bess_charge_kwh"], bal["bess_discharge_kwh"],
                                 float(bal["soe_end_kwh"].iloc[-1]))
            bar.update(1)
        bar.set_postfix_str(STRATEGY_WORDS[NO_BATTERY])
        net = actual["load_kwh"].to_numpy() - actual["pv_kwh"].to_numpy()
        imp = np.maximum(net, 0.0)
        exp = np.minimum(np.maximum(-net, 0.0), plant["export_limit_kw"] * step_hours(index))
        rows[NO_BATTERY] = priced(imp, exp, 0.0, 0.0, float(balance["soe_start_kwh"].iloc[0]))
        bar.set_postfix_str("", refresh=False)  # done: the last name would read as a status
        bar.update(1)
    table = bill_table(rows)
    table["gap_vs_exact"] = table["total_cost_pen"] - rows[EXACT]["total_cost_pen"]
    return table[list(COMPARISON_COLUMNS)]
