"""The optimization engine (a pure wrapper of the DP) and the battery system manager.

The manager coordinates the three scenarios of the event-sourced design:

- :meth:`SimpleBatterySystemManager.create_tomorrows_schedule` (at 23:55): optimize the whole next
  day from the battery's real state, store the plan, program the controller;
- :meth:`SimpleBatterySystemManager.update_hourly_schedule` (after each period): record the
  completed period from the controller's measurements, re-optimize the rest of the day from the
  real state, store, program;
- :meth:`SimpleBatterySystemManager.restart_and_reconstruct` (at any time): rebuild today's history
  (the store, and the controller's own records where the store has gaps), re-optimize the rest
  of the day, store, program.

Every plan is a pure function of (battery state, forecasts issued at the plan's first period,
prices), so the plan a restart makes at period ``s`` is the plan an uninterrupted run made there.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..battery import Battery
from ..variables import TABLE_COLUMNS
from ..optimize.dp import dp_schedule
from ..optimize.full_bill import full_bill_schedule
from ..optimize.replan import BackwardCache
from ..optimize.schedule import optimize_schedule
from ..optimize.problem import SchedulingProblem
from ..physics import resolve_charge_source
from ..tariff import Tariff
from ..timeseries import epoch_ns
from .controller import Controller, Program, tou_intervals
from .db import Database, open_database
from .events import HistoricalDataStore, HourlyEvent, _aware, day_index, period_of
from .forecasts import ForecastProvider
from .record import verify_record
from .schedules import ScheduleStore

#: Columns of a plan table (energies per period [kWh], prices [currency/kWh], costs
#: [currency]; names as in :data:`pvbess.optimize.result.PERIOD_COLUMNS`) plus ``action``.
PLAN_COLUMNS: tuple[str, ...] = TABLE_COLUMNS["schedule"]

_PLAN_ROW = {name: i for i, name in enumerate(PLAN_COLUMNS)}

#: Minutes before midnight at which tomorrow's schedule is made (the design's 23:55).
TOMORROW_LEAD = pd.Timedelta(minutes=5)


@dataclass(frozen=True)
class OptimizationInput:
    """What one optimization needs: the periods, their forecasts and prices, the battery state.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        The periods to plan (regular, tz-aware).
    load_kwh, pv_kwh : numpy.ndarray
        Forecast load and PV per period. [kWh]
    buy_price, sell_price : numpy.ndarray
        Prices per period (buy includes any CO2 price). [currency/kWh]
    initial_kwh : float
        Stored energy at the start of ``index[0]``. [kWh]
    incumbent_peaks_kw : dict, optional
        Highest import power already recorded in each demand-charge group's billing period
        (by group name, :meth:`pvbess.Tariff.demand_group`). [kW]
    """

    index: pd.DatetimeIndex
    load_kwh: np.ndarray
    pv_kwh: np.ndarray
    buy_price: np.ndarray
    sell_price: np.ndarray
    initial_kwh: float
    incumbent_peaks_kw: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.index)
        for name in ("load_kwh", "pv_kwh", "buy_price", "sell_price"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,):
                raise ValueError(f"OptimizationInput.{name}: shape {arr.shape}, expected ({n},)")
            object.__setattr__(self, name, arr)
        if not math.isfinite(self.initial_kwh):
            raise ValueError(f"OptimizationInput.initial_kwh = {self.initial_kwh!r} [kWh]")


@dataclass(frozen=True)
class Plan:
    """An optimization result, normalised for storage and for the controller.

    Attributes
    ----------
    index : pandas.DatetimeIndex
        The planned periods (tz-aware starts).
    values : numpy.ndarray
        Shape ``(len(PLAN_COLUMNS), len(index))``: the columns of :data:`PLAN_COLUMNS`.
    actions : tuple of str
        What the battery does per period (``grid_charging``, ``solar_storage``, ...).
    objective : float
        The optimizer's objective (cost minus terminal value). [currency]
    method : str
        ``"dp"`` or the name of the optimizer used.
    solve_time_s : float
        Wall time of the solve. [s]
    summary : dict
        The optimizer's totals.
    """

    index: pd.DatetimeIndex
    values: np.ndarray
    actions: tuple[str, ...]
    objective: float
    method: str
    solve_time_s: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (len(PLAN_COLUMNS), len(self.index))
        if self.values.shape != shape or len(self.actions) != shape[1]:
            raise ValueError(f"Plan: values of shape {self.values.shape} and "
                             f"{len(self.actions)} actions, expected {shape}")

    def column(self, name: str) -> np.ndarray:
        """One column of :data:`PLAN_COLUMNS` as an array (read-only view)."""
        view = self.values[_PLAN_ROW[name]]
        view.flags.writeable = False
        return view

    @property
    def table(self) -> pd.DataFrame:
        """One row per planned period: :data:`PLAN_COLUMNS` and ``action``."""
        table = pd.DataFrame(self.values.T.copy(), index=self.index, columns=list(PLAN_COLUMNS))
        table["action"] = list(self.actions)
        return table

    @property
    def setpoints(self) -> pd.Series:
        """AC setpoint per period, + charge / - discharge. [kWh]"""
        return pd.Series(self.column("setpoint_kwh"), index=self.index,
                         name="setpoint_kwh")

    def tou_intervals(self) -> pd.DataFrame:
        """The plan as time-of-use windows (:func:`pvbess.scheduler.controller.tou_intervals`)."""
        return tou_intervals(self.setpoints)


class OptimizationEngine:
    """A pure wrapper of the DP kernel: :class:`OptimizationInput` in, :class:`Plan` out.

    Parameters
    ----------
    battery : Battery
    tariff : Tariff, optional
        Its demand charges enter every plan (the full bill): each group's price on raising the
        group's incumbent peak. None: energy-only plans.
    terminal_value : float
        Value per kWh stored above ``e_min`` at the end of each plan (the end of the day).
        [currency/kWh]
    charge_source : {"any", "pv", "surplus"}, optional
        Where the battery may charge from (:data:`pvbess.CHARGE_SOURCES`).
    allow_grid_charge, allow_battery_export : bool
        Options of :meth:`pvbess.SchedulingProblem.build` (``allow_grid_charge`` is the older
        spelling of ``charge_source``).
    import_limit_kw, export_limit_kw : float
        Grid limits. [kW]
    energy_step_kwh : float, optional
        DP grid step (default: the optimizer's). [kWh]
    optimizer : callable, optional
        A function with the signature of :func:`pvbess.optimize_schedule` returning a
        ``ScheduleResult`` (default the DP; e.g. ``pvbess.exact_schedule`` for the LP/MILP).
    search_states : int, optional
        States of the full-bill cap search's coarse grid
        (:func:`pvbess.optimize.full_bill.full_bill_schedule`) for the default optimizer;
        default that function's (1,024 for a day).
    """

    def __init__(self, battery: Battery, *, tariff: Tariff | None = None,
                 terminal_value: float = 0.0, charge_source: str | None = None,
                 allow_grid_charge: bool | None = None, allow_battery_export: bool = True,
                 import_limit_kw: float = math.inf, export_limit_kw: float = math.inf,
                 energy_step_kwh: float | None = None, optimizer: Any = None,
                 search_states: int | None = None) -> None:
        self.battery = battery
        self.tariff = tariff
        self.optimizer = optimize_schedule if optimizer is None else optimizer
        self.energy_step_kwh = energy_step_kwh
        self.search_states = None if optimizer is not None else search_states
        self._tails = BackwardCache()  # a day's re-plans share their unchanged tails
        # the demand-charge groups of the last plan's index (the re-plans of a day are
        # suffixes of one index): (last period, periods, step, groups)
        self._charges: tuple[pd.Timestamp, int, float, list] | None = None
        self.options: dict[str, Any] = dict(
            terminal_value=float(terminal_value),
            charge_source=resolve_charge_source(charge_source, allow_grid_charge),
            allow_battery_export=bool(allow_battery_export),
            import_limit_kw=float(import_limit_kw), export_limit_kw=float(export_limit_kw))

    def problem(self, inputs: OptimizationInput) -> SchedulingProblem:
        """The scheduling problem of ``inputs`` (with the demand charges of the engine's tariff,
        each group at its incumbent peak)."""
        dt_h = _step(inputs.index)
        groups = ()
        if self.tariff is not None:
            groups = [(mask, price, inputs.incumbent_peaks_kw.get(name, 0.0), name)
                      for mask, price, _, name in self._demand_charges(inputs.index, dt_h)]
        return SchedulingProblem.build(
            inputs.buy_price, inputs.sell_price, inputs.load_kwh, inputs.pv_kwh, self.battery,
            dt_h=dt_h, initial_kwh=float(inputs.initial_kwh),
            demand_charges=groups, **self.options)

    def _demand_charges(self, index: pd.DatetimeIndex, dt_h: float) -> list:
        """``tariff.demand_charges(index)``, the groups of a suffix of the last index cut
        from its groups (same order, empty groups left out, as the tariff does): a day's
        re-plans then cost no calendar work."""
        last = self._charges
        if last is not None and last[0] == index[-1] and last[1] >= len(index) \
                and last[2] == dt_h:
            cut = last[1] - len(index)
            return [(mask[cut:], price, incumbent, name)
                    for mask, price, incumbent, name in last[3] if mask[cut:].any()]
        charges = self.tariff.demand_charges(index)
        self._charges = (index[-1], len(index), dt_h, charges)
        return charges

    def optimize(self, inputs: OptimizationInput) -> Plan:
        """Optimize the periods of ``inputs`` from ``inputs.initial_kwh``. Pure: the plan depends
        on ``inputs`` alone (a re-plan of the last plan's tail may reuse its backward pass)."""
        problem = self.problem(inputs)
        if self.search_states is not None and problem.demand_charges:
            result = full_bill_schedule(problem, energy_step_kwh=self.energy_step_kwh,
                                        search_states=self.search_states)
        elif self.optimizer is optimize_schedule and not problem.demand_charges:
            result = dp_schedule(problem, self.energy_step_kwh, tails=self._tails)
        else:
            result = self.optimizer(problem, energy_step_kwh=self.energy_step_kwh)
        columns = result.columns  # the arrays: no table per re-plan
        values = np.empty((len(PLAN_COLUMNS), len(inputs.index)))
        for i, name in enumerate(PLAN_COLUMNS):
            values[i] = columns[name]
        return Plan(index=inputs.index, values=values,
                    actions=tuple(columns["action"].tolist()),
                    objective=float(result.objective), method=str(result.method),
                    solve_time_s=float(result.solve_time_s), summary=dict(result.summary))

    def __repr__(self) -> str:
        return (f"OptimizationEngine({self.battery!r}, tariff={self.tariff!r}, "
                f"{self.options}, energy_step_kwh={self.energy_step_kwh!r}, "
                f"search_states={self.search_states!r})")


# a re-plan each period: the day's periods boxed and sliced once, not per plan
@functools.lru_cache(maxsize=64)
def _day_stamps(day: str, dt_h: float, tz: str) -> tuple[pd.Timestamp, ...]:
    """The period starts of a local day (:func:`~pvbess.scheduler.events.day_index`), boxed."""
    return tuple(day_index(day, dt_h, tz))


def _step(index: pd.DatetimeIndex) -> float:
    if len(index) > 1:
        ns = epoch_ns(index)
        return int(ns[1] - ns[0]) / 3_600_000_000_000  # ns per hour
    if index.freq is not None:
        return pd.Timedelta(index.freq) / pd.Timedelta(hours=1)
    raise ValueError("a one-period plan needs an index with a frequency")


class SimpleBatterySystemManager:
    """The facade: three methods for the three scenarios.

    Parameters
    ----------
    engine : OptimizationEngine
    controller : Controller
        The plant (a real inverter or :class:`~pvbess.scheduler.controller.SimulatedController`).
    forecast : ForecastProvider
        Load/PV forecasts and the day's prices; its data also fixes the period length and the
        local time zone.
    db : Database, path or ``":memory:"``
        Where the history and the schedules are kept (one file, one writer). Its record is
        verified first (:func:`~pvbess.scheduler.record.verify_record`): a broken or foreign
        history raises :class:`~pvbess.scheduler.events.HistoryError`.
    peak_guard : bool
        With a full-bill engine (a tariff with demand charges), program the controller with an
        import cap per period besides the setpoints: the higher of the month's recorded peak
        of the period's demand-charge group and the peak the plan itself sets in that group
        (:meth:`import_caps`). The plant then holds an import the forecast missed under that
        peak as far as the battery allows (:func:`~pvbess.scheduler.controller.guarded_step`).
        No effect on energy-only plans.
    """

    def __init__(self, engine: OptimizationEngine, controller: Controller,
                 forecast: ForecastProvider,
                 db: Database | str | os.PathLike[str] = ":memory:", *,
                 peak_guard: bool = True) -> None:
        self.engine = engine
        self.controller = controller
        self.forecast = forecast
        self.db = open_database(db)
        self.db.check_writable()
        self.history = HistoricalDataStore(self.db)
        self.schedules = ScheduleStore(self.db)
        self.dt_h = forecast.dt_h
        self.tz = str(forecast.index.tz)
        # a start-up trusts nothing in the file: a broken or foreign record stops it here
        verify_record(self.db, dt_h=self.dt_h, tz=self.tz)
        self.current_plan: Plan | None = None
        self.last_reconstruction: dict[str, list[int]] = {}
        self.peak_guard = bool(peak_guard)
        self.peaks_kw: dict[str, float] = self._recorded_peaks()

    @property
    def forecast(self) -> ForecastProvider:
        """The forecasts and prices the plans use. A new provider (a live runner's, rebuilt
        from the grown history) may span other periods, but keeps the period length and zone."""
        return self._forecast

    @forecast.setter
    def forecast(self, provider: ForecastProvider) -> None:
        if hasattr(self, "_forecast") and (provider.dt_h != self.dt_h
                                           or str(provider.index.tz) != self.tz):
            raise ValueError(f"a forecast of {provider.dt_h} h periods in "
                             f"{provider.index.tz}; the manager's are {self.dt_h} h in {self.tz}")
        self._forecast = provider
        # the demand-charge group of every period of the data, once (timestamp work is slow)
        self._group_code = np.zeros(len(provider.index), dtype=np.int64)
        self._group_names: list[str] = []
        self._priced: set[str] = set()  # the groups with a demand charge (price > 0)
        if self.engine.tariff is not None:
            local = provider.index
            codes, names = pd.factorize(self.engine.tariff.demand_group(local))
            self._group_code = codes.astype(np.int64)
            self._group_names = [str(n) for n in names]
            self._priced = {str(g[3]) for g in self.engine.tariff.demand_charges(local)}

    def _group_of(self, timestamps: pd.DatetimeIndex) -> np.ndarray:
        """The demand-charge group of each period (:meth:`pvbess.Tariff.demand_group`)."""
        rows = self.forecast.index.get_indexer(timestamps)
        if np.any(rows < 0):  # outside the data: ask the tariff
            return np.asarray(self.engine.tariff.demand_group(timestamps.tz_convert(self.tz)),
                              dtype=object)
        return np.asarray(self._group_names, dtype=object)[self._group_code[rows]]

    def _group_at(self, timestamp: pd.Timestamp) -> str:
        """The demand-charge group of one period."""
        try:
            return self._group_names[self._group_code[self.forecast.index.get_loc(timestamp)]]
        except KeyError:  # outside the data: ask the tariff
            return str(self._group_of(pd.DatetimeIndex([timestamp]))[0])

    def _recorded_peaks(self) -> dict[str, float]:
        """Highest recorded import power per demand-charge group (billing month x window),
        rebuilt from the history: what every plan of that month starts from. [kW]"""
        tariff = self.engine.tariff
        frame = self.history.to_frame()
        if tariff is None or frame.empty:
            return {}
        kw = frame["grid_import_kwh"].to_numpy() / self.dt_h
        groups = self._group_of(frame.index)
        return {str(g): float(v) for g, v in pd.Series(kw).groupby(groups).max().items()}

    def import_caps(self, plan: Plan) -> np.ndarray | None:
        """The peak guard's import cap of each period of ``plan`` [kWh per period], or None
        (no guard: energy-only engine, or ``peak_guard=False``).

        The cap of a period in demand-charge group ``g`` is ``max(P_g, plan peak_g) * dt``:
        ``P_g`` the highest import power recorded so far in ``g`` (:attr:`peaks_kw`), ``plan
        peak_g`` the highest the plan imports in ``g``. Up to it the import costs no more
        demand charge than the plan already accepts. Periods of a group without a charge
        (price 0) have no cap (``inf``).
        """
        if not self.peak_guard or self.engine.tariff is None:
            return None
        first, stop = self.forecast.positions(plan.index)
        codes = self._group_code[first:stop]
        planned = plan.column("grid_import_kwh")
        caps = np.empty(len(planned))
        for code in np.unique(codes):
            mask = codes == code
            name = self._group_names[code]
            recorded = self.peaks_kw.get(name, 0.0)
            caps[mask] = max(recorded * self.dt_h, float(planned[mask].max())) \
                if name in self._priced else np.inf
        return caps

    # -- helpers --------------------------------------------------------------------------
    def day_index(self, day: Any) -> pd.DatetimeIndex:
        """The period starts of a local day."""
        return day_index(str(day), self.dt_h, self.tz)

    def _locate(self, timestamp: Any) -> tuple[str, int, pd.DatetimeIndex]:
        """(local day, index within it, the day's period starts) of a period start."""
        ts = _aware(timestamp)
        if str(ts.tz) != self.tz:
            ts = ts.tz_convert(self.tz)
        day, k = period_of(ts, self.dt_h)  # raises unless ts starts a period of the day
        return day, k, self.day_index(day)

    def _plan(self, day: str, start: int, index: pd.DatetimeIndex, scenario: str,
              created_at: pd.Timestamp) -> Plan:
        rows = index[start:]
        first, stop = self.forecast.positions(rows)
        fc = self.forecast.forecast_arrays(first, stop)
        inputs = OptimizationInput(index=rows, load_kwh=fc["load_kwh"], pv_kwh=fc["pv_kwh"],
                                   buy_price=fc["buy_price"], sell_price=fc["sell_price"],
                                   initial_kwh=float(self.controller.read_energy_kwh()),
                                   incumbent_peaks_kw=dict(self.peaks_kw))
        plan = self.engine.optimize(inputs)
        self.schedules.store_plan(
            plan.values, PLAN_COLUMNS, plan.actions, created_at=created_at, day=day,
            start_period=start, scenario=scenario, objective=plan.objective,
            method=plan.method, dt_h=self.dt_h, day_periods=len(index), summary=plan.summary,
            index=rows)
        self.controller.apply(Program(_day_stamps(day, self.dt_h, self.tz)[start], self.dt_h,
                                      plan.column("setpoint_kwh"), self.import_caps(plan)))
        self.current_plan = plan
        return plan

    def _record(self, timestamp: pd.Timestamp) -> HourlyEvent | None:
        event = self.controller.read_period(timestamp)
        if event is not None:
            self.history.record_event(event)
            if self.engine.tariff is not None:
                group = self._group_at(event.timestamp)
                kw = event.grid_import_kwh / self.dt_h
                self.peaks_kw[group] = max(self.peaks_kw.get(group, 0.0), kw)
        return event

    # -- the three scenarios --------------------------------------------------------------
    def create_tomorrows_schedule(self, day: Any) -> Plan:
        """Optimize the whole of local day ``day`` from the battery's current state.

        Run at 23:55 of the day before (the stored creation time); stores the plan as scenario
        ``"tomorrow"`` and programs the controller with it.
        """
        index = self.day_index(pd.Timestamp(str(day)).date().isoformat())
        iso = index[0].date().isoformat()
        return self._plan(iso, 0, index, "tomorrow", index[0] - TOMORROW_LEAD)

    def update_hourly_schedule(self, completed_period: Any) -> Plan | None:
        """Record the completed period, then re-optimize the rest of its day.

        Parameters
        ----------
        completed_period : timestamp
            Start of the period that has just finished (tz-aware).

        Returns
        -------
        Plan or None
            The new plan from the next period to the end of the day; None after the day's
            last period (tomorrow's schedule takes over).

        Raises
        ------
        RuntimeError
            The controller has no measurements of ``completed_period``.
        """
        day, k, index = self._locate(completed_period)
        stamps = _day_stamps(day, self.dt_h, self.tz)
        if self._record(stamps[k]) is None:
            raise RuntimeError(f"update_hourly_schedule: the controller has no measurements "
                               f"of the period starting {stamps[k]}")
        if k + 1 >= len(index):
            return None
        return self._plan(day, k + 1, index, "hourly", stamps[k + 1])

    def restart_and_reconstruct(self, current_period: Any) -> Plan:
        """Rebuild today's history up to ``current_period`` and re-optimize the rest of the day.

        Periods of the day before ``current_period`` missing from the store are taken from the
        controller's own records where it has them; the periods still missing are listed in
        :attr:`last_reconstruction` (``{"recovered": [...], "missing": [...]}``).
        """
        day, k, index = self._locate(current_period)
        recovered, missing = self.recover_periods(index[:k])
        self.last_reconstruction = {"recovered": [index.get_loc(t) for t in recovered],
                                    "missing": [index.get_loc(t) for t in missing]}
        return self._plan(day, k, index, "restart", index[k])

    def recover_periods(self, periods: pd.DatetimeIndex
                        ) -> tuple[list[pd.Timestamp], list[pd.Timestamp]]:
        """Record the completed ``periods`` the store lacks from the controller's records
        (the month's peaks follow); nothing is planned. Returns the period starts recorded
        now and those still missing (the controller has no measurements)."""
        recovered, missing = [], []
        stored: dict[str, set[int]] = {}
        for ts in periods:
            day, k = period_of(ts, self.dt_h)
            if day not in stored:
                stored[day] = set(self.history.get_completed_periods(day))
            if k not in stored[day]:
                (recovered if self._record(ts) is not None else missing).append(ts)
        return recovered, missing

    def __repr__(self) -> str:
        return (f"SimpleBatterySystemManager({self.db!r}, {len(self.history)} events, "
                f"{len(self.schedules)} schedules)")
