"""The battery system manager (its engine, plans and inputs: :mod:`pvbess.scheduler.engine`).

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
import os
from typing import Any

import numpy as np
import pandas as pd

from .controller import Controller, Program
from .db import Database, open_database
from .engine import PLAN_COLUMNS, OptimizationEngine, OptimizationInput, Plan
from .events import HistoricalDataStore, HourlyEvent, _aware, day_index, period_of
from .forecasts import ForecastProvider
from .record import verify_record
from .schedules import ScheduleStore

__all__ = ["SimpleBatterySystemManager", "TOMORROW_LEAD"]

#: Minutes before midnight at which tomorrow's schedule is made (the design's 23:55).
TOMORROW_LEAD = pd.Timedelta(minutes=5)


# a re-plan each period: the day's periods boxed and sliced once, not per plan
@functools.lru_cache(maxsize=64)
def _day_stamps(day: str, dt_h: float, tz: str) -> tuple[pd.Timestamp, ...]:
    """The period starts of a local day (:func:`~pvbess.scheduler.events.day_index`), boxed."""
    return tuple(day_index(day, dt_h, tz))


@functools.lru_cache(maxsize=4)
def _day_tails(day: str, dt_h: float, tz: str) -> tuple[pd.DatetimeIndex, ...]:
    """``day_index(day)[start:]`` for every start: cut together, while pandas' code is hot
    (one cut per re-plan, between everything else a period runs, costs several times more)."""
    index = day_index(day, dt_h, tz)
    return tuple(index[start:] for start in range(len(index)))


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
        return self._program(day, start, self._stored_plan(day, start, index, scenario,
                                                           created_at))

    def _stored_plan(self, day: str, start: int, index: pd.DatetimeIndex, scenario: str,
                     created_at: pd.Timestamp) -> Plan:
        """The plan of periods ``start`` .. the end of ``day`` from the battery's state, stored."""
        rows = _day_tails(day, self.dt_h, self.tz)[start]
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
        return plan

    def _program(self, day: str, start: int, plan: Plan) -> Plan:
        """Program the controller with ``plan`` (its first period is ``start`` of ``day``)."""
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
        with self.db.transaction():  # the period and its re-plan: one commit
            if self._record(stamps[k]) is None:
                raise RuntimeError(f"update_hourly_schedule: the controller has no "
                                   f"measurements of the period starting {stamps[k]}")
            if k + 1 >= len(index):
                return None
            plan = self._stored_plan(day, k + 1, index, "hourly", stamps[k + 1])
        return self._program(day, k + 1, plan)

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
