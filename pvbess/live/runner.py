"""The live runner: the scheduler's three scenarios on the clock, over Home Assistant.

:meth:`LiveRunner.tick` is called often (every few seconds on the real clock; by the test on an
accelerated one) and does what is due:

- start-up: the safe mode, then :meth:`~pvbess.SimpleBatterySystemManager.restart_and_reconstruct`
  of the running period (the day's history rebuilt from the database, with the periods the
  previous process did not record rebuilt from its boundary readings, kept in the database's
  meta table as ``live.reading.<period start>``; the rest of the day re-planned);
- each period boundary: a reading of every meter (retried by the following ticks while within
  :data:`~pvbess.live.ha.BOUNDARY_TOLERANCE_S`), the completed period recorded and the rest of
  the day re-planned (:meth:`~pvbess.SimpleBatterySystemManager.update_hourly_schedule`), or,
  when a boundary could not be read, the period recorded as missing and the day re-planned from
  the database (``restart_and_reconstruct``); then the running period's setting written;
- at 23:55: tomorrow's plan (:meth:`~pvbess.SimpleBatterySystemManager.create_tomorrows_schedule`).

Home Assistant unreachable or a reading refused never stops the runner: it logs, and the next
boundary it can read re-plans. A period whose boundary no process read (the runner stopped,
Home Assistant unreachable) is rebuilt from the recorder's history where Home Assistant ran
through it (:meth:`~pvbess.live.ha.HomeAssistantController.recall`); the reading is stored as
``live.reading.<boundary>`` with ``"source": "history"`` and :meth:`LiveRunner.record` marks the
period ``history``. Periods the history cannot vouch for stay missing in the record. At
start-up, the periods of the previous :data:`RECOVERY_DAYS` days after the last recorded one are
recovered too (today's by the reconstruction).

Forecasts are the scheduler's providers (:func:`pvbess.scheduler.forecasts.make_forecast`) over
the recorded history, rebuilt before every plan; periods not recorded (the future, gaps) are
forecast from ``fallback`` (load and PV per period of the day [kWh], default 0). Prices come from
``prices``. With a ``tariff`` (an engine option) the plans are on the full bill: its demand
charges on each month's peaks, the peaks already recorded this month as the incumbents, and the
inverter gets the peak guard's import cap per period.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..battery import Battery
from ..scheduler.events import day_index
from ..scheduler.forecasts import make_forecast
from ..scheduler.engine import OptimizationEngine
from ..scheduler.manager import TOMORROW_LEAD, SimpleBatterySystemManager
from .client import EntityNotFoundError, HomeAssistantError
from .ha import BOUNDARY_TOLERANCE_S, HomeAssistantController, Reading, SensorError

log = logging.getLogger("pvbess.live")

#: The database's meta key of a boundary reading (+ the period start, ISO).
READING_KEY = "live.reading."
#: What a failed reading or write raises: logged, the runner carries on (an entity missing
#: too: Home Assistant sets them up after it answers; a wrong id is refused at start-up).
FAULTS = (HomeAssistantError, SensorError, EntityNotFoundError)
#: Days before today whose missed periods a start-up recovers (after the last recorded one).
RECOVERY_DAYS = 1


class LiveRunner:
    """The scheduler on the clock (module docstring).

    Parameters
    ----------
    controller : HomeAssistantController
        Its clock is the runner's.
    battery : Battery
    prices : callable
        ``prices(index) -> (buy, sell)`` arrays [currency/kWh] for a DatetimeIndex of periods.
    db : path or ``":memory:"``
        The record (one writer: a second runner on the same file is refused).
    forecast : str
        A provider name of :func:`pvbess.scheduler.forecasts.make_forecast`.
    fallback : (load, pv) arrays per period of the day, optional
        Forecast where nothing is recorded. [kWh]
    **engine_options
        Of :class:`~pvbess.scheduler.engine.OptimizationEngine`, e.g. ``tariff`` (full-bill
        plans).
    """

    def __init__(self, controller: HomeAssistantController, battery: Battery,
                 prices: Callable[[pd.DatetimeIndex], tuple[Any, Any]], db: Any = ":memory:",
                 *, forecast: str = "persistence",
                 fallback: tuple[Any, Any] | None = None, **engine_options: Any) -> None:
        self.controller = controller
        self.clock = controller.clock
        self.dt_h, self.tz = controller.dt_h, controller.tz
        self.prices = prices
        self.forecast_kind = forecast
        per_day = int(round(24 / self.dt_h))
        self.fallback = (np.zeros(per_day), np.zeros(per_day)) if fallback is None else (
            np.asarray(fallback[0], dtype=float), np.asarray(fallback[1], dtype=float))
        now = self._period(self.clock())
        engine = OptimizationEngine(battery, **engine_options)
        self.manager = SimpleBatterySystemManager(engine, controller, self._forecast(now), db)
        self.period: pd.Timestamp | None = None  # the running period, once started
        self.sampled: set[pd.Timestamp] = set()  # boundaries read
        self.planned_days: set[str] = set()

    def _period(self, ts: Any) -> pd.Timestamp:
        now = pd.Timestamp(ts).tz_convert(self.tz)
        day = day_index(now.date().isoformat(), self.dt_h, self.tz)
        return day[day.searchsorted(now, side="right") - 1]

    def _forecast(self, now: pd.Timestamp):
        """The provider over the recorded history and the fallback, to the end of tomorrow."""
        frame = self.manager.history.to_frame() if hasattr(self, "manager") else None
        first = now.normalize() - pd.Timedelta(days=1)
        if frame is not None and len(frame):
            first = min(first, frame.index[0].tz_convert(self.tz).normalize())
        index = pd.date_range(first, now.normalize() + pd.Timedelta(days=2),
                              freq=pd.Timedelta(hours=self.dt_h), inclusive="left")
        k = ((index - index.normalize()) / pd.Timedelta(hours=self.dt_h)).astype(int)
        k = np.minimum(k, len(self.fallback[0]) - 1)
        table = pd.DataFrame({"load_kwh": self.fallback[0][k], "pv_kwh": self.fallback[1][k]},
                             index=index)
        if frame is not None and len(frame):
            known = frame.index.intersection(index)
            table.loc[known, "load_kwh"] = frame.loc[known, "load_kwh"]
            table.loc[known, "pv_kwh"] = frame.loc[known, "pv_kwh"]
        table["buy_price"], table["sell_price"] = self.prices(index)
        return make_forecast(self.forecast_kind, table)

    def _refresh(self, now: pd.Timestamp) -> None:
        self.manager.forecast = self._forecast(now)

    def tick(self) -> None:
        """Do what is due at ``clock()`` (module docstring)."""
        now = pd.Timestamp(self.clock()).tz_convert(self.tz)
        period = self._period(now)
        if self.period is None:
            self._start(now, period)
        elif period > self.period:
            self._boundary(now, period)
        elif period not in self.sampled and (now - period).total_seconds() <= \
                BOUNDARY_TOLERANCE_S:
            self._boundary(now, period)  # the boundary's reading failed: try again
        tomorrow = (now.normalize() + pd.Timedelta(days=1)).date().isoformat()
        if now >= now.normalize() + pd.Timedelta(days=1) - TOMORROW_LEAD and \
                tomorrow not in self.planned_days:
            try:
                self._refresh(now)
                self.manager.create_tomorrows_schedule(tomorrow)
                self.planned_days.add(tomorrow)
                log.info("planned %s", tomorrow)
            except FAULTS as e:
                log.error("tomorrow's plan failed (retried next tick): %s", e)
        self._keep_recalled()

    def _keep_recalled(self) -> None:
        """Store the boundary readings taken from the history (a restart reuses them)."""
        for reading in self.controller.take_recalled():
            key = f"{READING_KEY}{reading.time.tz_convert(self.tz).isoformat()}"
            try:
                self.manager.db.put_meta(key, reading.to_json())
            except ValueError as e:  # a reading already stored for it: keep the first
                log.error("boundary reading not stored: %s", e)

    def record(self) -> pd.DataFrame:
        """The recorded periods (:meth:`~pvbess.HistoricalDataStore.to_frame`) with
        ``source``: ``"history"`` where a boundary's reading came from the recorder's
        history, else ``"measured"``."""
        frame = self.manager.history.to_frame()
        recalled = pd.to_datetime([
            key[len(READING_KEY):] for key, text in
            self.manager.db.meta_items(READING_KEY).items()
            if Reading.from_json(text).source == "history"], utc=True)
        index = frame.index.tz_convert("UTC")
        step = pd.Timedelta(hours=self.dt_h)
        from_history = index.isin(recalled) | (index + step).isin(recalled)
        return frame.assign(source=np.where(from_history, "history", "measured"))

    def _sample(self, period: pd.Timestamp) -> None:
        """Read at a boundary and keep the reading in the database (a restart needs it)."""
        reading = self.controller.sample()
        self.sampled.add(period)
        self.manager.db.put_meta(f"{READING_KEY}{period.isoformat()}", reading.to_json())

    def _restore(self, day: str) -> None:
        """The boundary readings a previous process stored for ``day`` (and its end)."""
        index = day_index(day, self.dt_h, self.tz)
        for ts in index.append(pd.DatetimeIndex([index[-1] + pd.Timedelta(hours=self.dt_h)])):
            text = self.manager.db.get_meta(f"{READING_KEY}{ts.isoformat()}")
            if text is not None:
                self.controller.remember(Reading.from_json(text))
                self.sampled.add(ts)

    def _recover_earlier_days(self, period: pd.Timestamp) -> None:
        """Record the periods before ``period``'s day since the last recorded one (at most
        :data:`RECOVERY_DAYS` back) that the controller or the history can give."""
        frame = self.manager.history.to_frame()
        if frame.empty:
            return
        step = pd.Timedelta(hours=self.dt_h)
        today = period.normalize()
        first = max(frame.index[-1].tz_convert(self.tz) + step,
                    today - pd.Timedelta(days=RECOVERY_DAYS))
        periods = pd.date_range(first, today, freq=step, inclusive="left")
        if len(periods) == 0:
            return
        for day in sorted({ts.date().isoformat() for ts in periods}):
            self._restore(day)
        recovered, missing = self.manager.recover_periods(periods)
        log.info("earlier days: recovered %s, missing %s", [str(t) for t in recovered],
                 [str(t) for t in missing])

    def _start(self, now: pd.Timestamp, period: pd.Timestamp) -> None:
        try:
            self.controller.safe_mode()
            self._restore(period.date().isoformat())
            if period not in self.sampled and \
                    (now - period).total_seconds() <= BOUNDARY_TOLERANCE_S:
                self._sample(period)
            self._recover_earlier_days(period)
            self._refresh(now)
            self.manager.restart_and_reconstruct(period)
            self.planned_days.add(period.date().isoformat())
            log.info("started at %s: %s", now, self.manager.last_reconstruction)
        except FAULTS as e:
            log.error("start-up at %s failed (retried next tick): %s", now, e)
            return
        self.period = period

    def _boundary(self, now: pd.Timestamp, period: pd.Timestamp) -> None:
        first_try = period != self.period
        self.period = period
        try:
            self._sample(period)
        except FAULTS as e:
            log.error("no reading at %s: %s", period, e)
            return
        completed = period - pd.Timedelta(hours=self.dt_h)
        try:
            self._refresh(now)
            if first_try and self.controller.read_period(completed) is not None:
                self.manager.update_hourly_schedule(completed)
            else:  # a boundary unread: what the controller or the history gives, re-planned
                if completed.normalize() != period.normalize():
                    self._recover_earlier_days(period)
                if period > period.normalize() or \
                        period.date().isoformat() not in self.planned_days:
                    self.manager.restart_and_reconstruct(period)
                    self.planned_days.add(period.date().isoformat())
                    log.warning("re-planned at %s; missing periods %s", period,
                                self.manager.last_reconstruction.get("missing"))
            self.controller.enforce()
        except FAULTS as e:
            log.error("period %s: %s", period, e)
