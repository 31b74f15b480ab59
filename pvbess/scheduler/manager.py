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

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..battery import Battery
from ..optimize.schedule import optimize_schedule
from ..optimize.problem import SchedulingProblem
from ..physics import resolve_charge_source
from ..tariff import Tariff
from .controller import Controller, tou_intervals
from .db import Database, open_database
from .events import HistoricalDataStore, HourlyEvent, _aware, day_index, period_of
from .forecasts import ForecastProvider
from .schedules import ScheduleStore

#: Columns of a plan table (energies per period [kWh], prices [currency/kWh], costs
#: [currency]; names as in :data:`pvbess.optimize.result.PERIOD_COLUMNS`) plus ``action``.
PLAN_COLUMNS: tuple[str, ...] = (
    "load_kwh", "pv_kwh", "buy_price", "sell_price", "soe_start_kwh", "soe_end_kwh",
    "bess_charge_kwh", "bess_discharge_kwh", "setpoint_kwh", "grid_import_kwh", "grid_export_kwh",
    "pv_curtailed_kwh", "wear_cost", "optimized_cost",
)

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
    """

    def __init__(self, battery: Battery, *, tariff: Tariff | None = None,
                 terminal_value: float = 0.0, charge_source: str | None = None,
                 allow_grid_charge: bool | None = None, allow_battery_export: bool = True,
                 import_limit_kw: float = math.inf, export_limit_kw: float = math.inf,
                 energy_step_kwh: float | None = None, optimizer: Any = None) -> None:
        self.battery = battery
        self.tariff = tariff
        self.optimizer = optimize_schedule if optimizer is None else optimizer
        self.energy_step_kwh = energy_step_kwh
        self.options: dict[str, Any] = dict(
            terminal_value=float(terminal_value),
            charge_source=resolve_charge_source(charge_source, allow_grid_charge),
            allow_battery_export=bool(allow_battery_export),
            import_limit_kw=float(import_limit_kw), export_limit_kw=float(export_limit_kw))

    def problem(self, inputs: OptimizationInput) -> SchedulingProblem:
        """The scheduling problem of ``inputs`` (with the demand charges of the engine's tariff,
        each group at its incumbent peak)."""
        groups = ()
        if self.tariff is not None:
            groups = [(mask, price, inputs.incumbent_peaks_kw.get(name, 0.0), name)
                      for mask, price, _, name in self.tariff.demand_charges(inputs.index)]
        return SchedulingProblem.build(
            inputs.buy_price, inputs.sell_price, inputs.load_kwh, inputs.pv_kwh, self.battery,
            dt_h=_step(inputs.index), initial_kwh=float(inputs.initial_kwh),
            demand_charges=groups, **self.options)

    def optimize(self, inputs: OptimizationInput) -> Plan:
        """Optimize the periods of ``inputs`` from ``inputs.initial_kwh``. Pure: no side effects."""
        result = self.optimizer(self.problem(inputs), energy_step_kwh=self.energy_step_kwh)
        periods = result.periods
        values = np.empty((len(PLAN_COLUMNS), len(inputs.index)))
        for i, name in enumerate(PLAN_COLUMNS):
            values[i] = periods[name].to_numpy(dtype=np.float64)
        return Plan(index=inputs.index, values=values,
                    actions=tuple(str(a) for a in periods["action"].to_numpy()),
                    objective=float(result.objective), method=str(result.method),
                    solve_time_s=float(result.solve_time_s), summary=dict(result.summary))

    def __repr__(self) -> str:
        return (f"OptimizationEngine({self.battery!r}, tariff={self.tariff!r}, "
                f"{self.options}, energy_step_kwh={self.energy_step_kwh!r})")


def _step(index: pd.DatetimeIndex) -> float:
    if len(index) > 1:
        return (index[1] - index[0]) / pd.Timedelta(hours=1)
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
        Where the history and the schedules are kept (one file, one writer).
    """

    def __init__(self, engine: OptimizationEngine, controller: Controller,
                 forecast: ForecastProvider,
                 db: Database | str | os.PathLike[str] = ":memory:") -> None:
        self.engine = engine
        self.controller = controller
        self.forecast = forecast
        self.db = open_database(db)
        self.db.check_writable()
        self.history = HistoricalDataStore(self.db)
        self.schedules = ScheduleStore(self.db)
        self.dt_h = forecast.dt_h
        self.tz = str(forecast.index.tz)
        self.current_plan: Plan | None = None
        self.last_reconstruction: dict[str, list[int]] = {}
        self.peaks_kw: dict[str, float] = self._recorded_peaks()

    def _recorded_peaks(self) -> dict[str, float]:
        """Highest recorded import power per demand-charge group (billing month x window),
        rebuilt from the history: what every plan of that month starts from. [kW]"""
        tariff = self.engine.tariff
        frame = self.history.to_frame()
        if tariff is None or frame.empty:
            return {}
        kw = frame["grid_import_kwh"].to_numpy() / self.dt_h
        groups = tariff.demand_group(frame.index.tz_convert(self.tz))
        return {str(g): float(v) for g, v in pd.Series(kw).groupby(groups).max().items()}

    # -- helpers --------------------------------------------------------------------------
    def day_index(self, day: Any) -> pd.DatetimeIndex:
        """The period starts of a local day."""
        return day_index(str(day), self.dt_h, self.tz)

    def _locate(self, timestamp: Any) -> tuple[str, int, pd.DatetimeIndex]:
        ts = _aware(timestamp).tz_convert(self.tz)
        day, k = period_of(ts, self.dt_h)
        index = self.day_index(day)
        if k >= len(index) or index[k] != ts:
            raise ValueError(f"{ts} is not a period start of {day}")
        return day, k, index

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
        self.controller.apply(plan.setpoints)
        self.current_plan = plan
        return plan

    def _record(self, timestamp: pd.Timestamp) -> HourlyEvent | None:
        event = self.controller.read_period(timestamp)
        if event is not None:
            self.history.record_event(event)
            if self.engine.tariff is not None:
                stamp = pd.DatetimeIndex([event.timestamp]).tz_convert(self.tz)
                group = str(self.engine.tariff.demand_group(stamp)[0])
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
        if self._record(index[k]) is None:
            raise RuntimeError(f"update_hourly_schedule: the controller has no measurements "
                               f"of the period starting {index[k]}")
        if k + 1 >= len(index):
            return None
        return self._plan(day, k + 1, index, "hourly", index[k + 1])

    def restart_and_reconstruct(self, current_period: Any) -> Plan:
        """Rebuild today's history up to ``current_period`` and re-optimize the rest of the day.

        Periods of the day before ``current_period`` missing from the store are taken from the
        controller's own records where it has them; the periods still missing are listed in
        :attr:`last_reconstruction` (``{"recovered": [...], "missing": [...]}``).
        """
        day, k, index = self._locate(current_period)
        stored = set(self.history.get_completed_periods(day))
        recovered, missing = [], []
        for j in range(k):
            if j in stored:
                continue
            (recovered if self._record(index[j]) is not None else missing).append(j)
        self.last_reconstruction = {"recovered": recovered, "missing": missing}
        return self._plan(day, k, index, "restart", index[k])

    def __repr__(self) -> str:
        return (f"SimpleBatterySystemManager({self.db!r}, {len(self.history)} events, "
                f"{len(self.schedules)} schedules)")
