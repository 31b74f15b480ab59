"""The scheduler's ``Controller`` over a real Home Assistant.

:class:`HomeAssistantController` reads the configured meters (battery state of charge, PV, load,
grid import and export) through Home Assistant's REST API, converted by each entity's
``unit_of_measurement``, and sets the inverter period by period from the plan it was given:
a mode (``charge`` / ``discharge`` / ``idle``, the windows of :func:`pvbess.tou_intervals`) and a
power, written as ``input_select``/``select`` options and ``input_number``/``number`` values, or
one script call, with the period's import cap and the day's time-of-use slots
(:mod:`pvbess.live.inverter`).

Time is the caller's: :meth:`HomeAssistantController.sample` takes a reading (at least at every
period boundary; more often makes the integral of power sensors better),
:meth:`HomeAssistantController.enforce` writes the setting of the period that has started, and
:meth:`HomeAssistantController.read_period` turns the samples around a completed period into an
:class:`~pvbess.HourlyEvent`, or None when a boundary was not read (the period is missing, never
invented), unless the recorder's history can vouch for it (:meth:`recall`; history on by default):
then the boundary is taken from the history, marked ``source="history"``.

Safe mode: the inverter setting ``safe_mode`` (default ``idle``: the inverter's own
self-consumption, e.g. Growatt's "load first") is written at start (:meth:`safe_mode`), in every
period the plan does not cover, and by :meth:`enforce` after any reading was refused. While Home
Assistant is unreachable nothing can be written: configure the inverter's own fallback on loss of
communication to the same mode.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..battery import Battery
from ..physics import stored_energy, wear_cost
from ..scheduler.controller import Program, as_program
from ..scheduler.events import HourlyEvent, period_of
from ..timeseries import DataError
from .client import EntityNotFoundError, HomeAssistantError, RestClient
from .config import ENERGY_UNITS, POWER_UNITS, SENSORS, HomeAssistantConfig
from .history import NotVouchedError, Recorder, state_at, time_mean
from .inverter import slot_windows, write_setting, write_slots

log = logging.getLogger("pvbess.live")

#: States Home Assistant reports for an entity without a value.
NO_VALUE = frozenset({"unavailable", "unknown", "none", ""})
#: A boundary sample may be this far from the boundary. [s]
BOUNDARY_TOLERANCE_S = 120.0
#: Readings below zero by at most this much are zero (meters' rounding). [kW or kWh]
NEGATIVE_TOLERANCE = 1e-6


class SensorError(DataError):
    """A meter's reading refused: unavailable, stale, an unknown unit, or outside physical
    limits. Names the entity, its value and unit."""


@dataclass(frozen=True)
class Reading:
    """One converted reading of every meter at ``time``: SOC as stored energy [kWh], each
    other meter as power [kW] or as a counter [kWh] (``kind``: ``"power"``/``"energy"``).
    ``source``: ``"sampled"`` (read at the time) or ``"history"`` (the recorder's states in
    force at ``time``, :meth:`HomeAssistantController.recall`)."""

    time: pd.Timestamp
    soe_kwh: float
    values: dict[str, float]
    kinds: dict[str, str]
    source: str = "sampled"

    def to_json(self) -> str:
        raw = {"time": self.time.isoformat(), "soe_kwh": self.soe_kwh, "values": self.values,
               "kinds": self.kinds}
        if self.source != "sampled":  # a sampled reading's text as before sources existed
            raw["source"] = self.source
        return json.dumps(raw, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Reading:
        raw = json.loads(text)
        return cls(time=pd.Timestamp(raw["time"]), soe_kwh=float(raw["soe_kwh"]),
                   values={k: float(v) for k, v in raw["values"].items()}, kinds=raw["kinds"],
                   source=raw.get("source", "sampled"))


def _wall_clock() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


class HomeAssistantController:
    """The scheduler's ``Controller`` over Home Assistant's REST API.

    Parameters
    ----------
    config : HomeAssistantConfig
        URL, token, entities, units (:func:`pvbess.live.config.read_home_assistant_config`).
    battery : Battery
        Capacity (SOC % -> kWh) and the limits a reading must respect.
    dt_h : float
        Period length. [h]
    tz : str
        The site's IANA zone (period starts are local).
    clock : callable, optional
        ``clock() -> tz-aware Timestamp``: the scheduler's time (an accelerated clock in tests).
    prices : callable, optional
        ``prices(period_start) -> (buy, sell)`` [currency/kWh] for the recorded events
        (default 0, 0).
    client : RestClient, optional
        Built from ``config`` when omitted.
    wall_clock : callable, optional
        ``wall_clock() -> epoch seconds``: Home Assistant's time, for the age of a state.
    ha_time : callable, optional
        ``ha_time(timestamp) -> tz-aware Timestamp``: Home Assistant's time (its recorder's)
        when ``clock`` showed ``timestamp``. Default the same instant: ``clock`` is the wall
        clock. An accelerated clock maps its times to when they were shown.

    Raises
    ------
    InvalidTokenError, UnreachableError
        At construction, when Home Assistant refuses the token or does not answer.
    EntityNotFoundError
        At construction, when Home Assistant runs and lacks a configured entity.
    """

    def __init__(self, config: HomeAssistantConfig, battery: Battery, *, dt_h: float = 1.0,
                 tz: str = "UTC", clock: Callable[[], pd.Timestamp] = _wall_clock,
                 prices: Callable[[pd.Timestamp], tuple[float, float]] | None = None,
                 client: RestClient | None = None,
                 wall_clock: Callable[[], float] = time.time,
                 ha_time: Callable[[pd.Timestamp], pd.Timestamp] | None = None) -> None:
        self.config = config
        self.battery = battery
        self.dt_h = float(dt_h)
        self.tz = tz
        self.clock = clock
        self.prices = prices or (lambda ts: (0.0, 0.0))
        self._wall = wall_clock
        self.ha_time = ha_time or (lambda ts: pd.Timestamp(ts).tz_convert("UTC"))
        self.client = client or RestClient(config.url, config.token, timeout_s=config.timeout_s,
                                           retries=config.retries, backoff_s=config.backoff_s)
        self.client.check()  # a bad token or URL is an error now, not at the first period
        self.check_entities()
        self._program: dict[int, float] = {}  # period start [ns] -> setpoint [kWh AC]
        self._cap: dict[int, float] = {}  # period start [ns] -> import cap [kWh]
        self._times: list[int] = []  # sample times [ns], sorted
        self._samples: dict[int, Reading] = {}
        #: Every setting written: (clock time, mode, power [kW]).
        self.written: list[tuple[pd.Timestamp, str, float]] = []
        #: Readings taken from the history and not yet handed on (:meth:`take_recalled`).
        self._recalled: list[Reading] = []
        self._unvouched: set[int] = set()  # boundaries [ns] the history cannot vouch for
        self.recorder = Recorder(self.client)

    def entities(self) -> list[str]:
        """Every entity the configuration names."""
        inv = self.config.inverter
        named = [*self.config.sensors.values(), inv.mode, inv.power, inv.script,
                 inv.import_limit, *(e for slot in inv.slots for e in (
                     slot.start, slot.end, slot.mode, slot.power, slot.enabled))]
        return [e for e in named if e is not None]

    def check_entities(self) -> None:
        """Raise :class:`~pvbess.live.client.EntityNotFoundError` naming each configured
        entity Home Assistant lacks; only once it runs (while it starts, entities are still
        being set up, and a reading or write that meets one missing is a fault retried)."""
        config = self.client.request("GET", "/api/config")
        if not isinstance(config, dict) or config.get("state") != "RUNNING":
            return
        known = {state["entity_id"] for state in self.client.request("GET", "/api/states")}
        missing = [e for e in self.entities() if e not in known]
        if missing:
            raise EntityNotFoundError(f"Home Assistant at {self.config.url} has no entity "
                                      f"{missing}: check home_assistant.sensors and inverter")

    # -- reading ------------------------------------------------------------------------
    def _check(self, sensor: str, state: dict, now_s: float) -> tuple[float, str]:
        """(value, unit) of a state of a configured sensor, checked for availability and, if
        ``stale_after_s`` names the sensor, its age at ``now_s`` [epoch s]."""
        entity = self.config.sensors[sensor]
        raw = str(state.get("state", "")).strip()
        unit = (state.get("attributes") or {}).get("unit_of_measurement")
        if raw.lower() in NO_VALUE:
            raise SensorError(f"{entity} ({sensor}) is {raw or 'empty'}: no reading")
        limit = self.config.stale_after_s.get(sensor)
        if limit is not None:
            updated = dt.datetime.fromisoformat(state["last_updated"]).timestamp()
            age = now_s - updated
            if age > limit:
                raise SensorError(f"{entity} ({sensor}) is stale: last updated {age:.0f} s "
                                  f"ago (stale_after_s {limit:g})")
        try:
            value = float(raw)
        except ValueError:
            raise SensorError(f"{entity} ({sensor}) = {raw!r} [{unit}]: not a number") from None
        if not math.isfinite(value):
            raise SensorError(f"{entity} ({sensor}) = {raw!r} [{unit}]: not finite")
        return value, unit

    def _soe_kwh(self, state: dict, now_s: float) -> float:
        entity = self.config.sensors["soc"]
        value, unit = self._check("soc", state, now_s)
        if unit == "%":
            if not -NEGATIVE_TOLERANCE <= value <= 100.0 + NEGATIVE_TOLERANCE:
                raise SensorError(f"{entity} (soc) = {value} %: outside 0..100 %")
            return min(max(value, 0.0), 100.0) / 100.0 * self.battery.capacity_kwh
        if unit in ENERGY_UNITS:
            kwh = value * ENERGY_UNITS[unit]
            if not -NEGATIVE_TOLERANCE <= kwh <= self.battery.capacity_kwh * (1 + 1e-6):
                raise SensorError(f"{entity} (soc) = {value} {unit}: outside the battery's "
                                  f"0..{self.battery.capacity_kwh} kWh")
            return min(max(kwh, 0.0), self.battery.capacity_kwh)
        raise SensorError(f"{entity} (soc): unit {unit!r} is not '%' nor one of "
                          f"{sorted(ENERGY_UNITS)}")

    def _meter(self, sensor: str, state: dict, now_s: float) -> tuple[float, str]:
        """(value [kW or kWh], kind) of a state of a power or energy meter."""
        entity = self.config.sensors[sensor]
        value, unit = self._check(sensor, state, now_s)
        if unit in POWER_UNITS:
            kind, value_c = "power", value * POWER_UNITS[unit]
            if value_c > self.config.max_power_kw:
                raise SensorError(f"{entity} ({sensor}) = {value} {unit}: above the site's "
                                  f"max_power_kw {self.config.max_power_kw:g} kW")
        elif unit in ENERGY_UNITS:
            kind, value_c = "energy", value * ENERGY_UNITS[unit]
        else:
            raise SensorError(f"{entity} ({sensor}): unit {unit!r} is not a power "
                              f"{sorted(POWER_UNITS)} nor an energy {sorted(ENERGY_UNITS)}")
        if value_c < -NEGATIVE_TOLERANCE:
            raise SensorError(f"{entity} ({sensor}) = {value} {unit}: negative")
        return max(value_c, 0.0), kind

    def _reading(self, states: dict[str, dict], at: pd.Timestamp, now_s: float,
                 source: str = "sampled") -> Reading:
        """The :class:`Reading` of one state per sensor (by sensor name)."""
        values, kinds = {}, {}
        soe = self._soe_kwh(states["soc"], now_s)
        for sensor in SENSORS[1:]:
            values[sensor], kinds[sensor] = self._meter(sensor, states[sensor], now_s)
        return Reading(time=at, soe_kwh=soe, values=values, kinds=kinds, source=source)

    def sample(self) -> Reading:
        """Read every meter now (``clock()``) and keep the reading for :meth:`read_period`."""
        now = pd.Timestamp(self.clock())
        states = {sensor: self.client.state(self.config.sensors[sensor]) for sensor in SENSORS}
        reading = self._reading(states, now, self._wall())
        self.remember(reading)
        log.info("read at %s: stored %.3f kWh, %s", now, reading.soe_kwh,
                 ", ".join(f"{k} {v:.3f} {'kW' if reading.kinds[k] == 'power' else 'kWh'}"
                           for k, v in reading.values.items()))
        return reading

    def remember(self, reading: Reading) -> None:
        """Keep a reading (one taken now, or one a previous process stored) for
        :meth:`read_period`."""
        ns = reading.time.value
        if ns not in self._samples:
            bisect.insort(self._times, ns)
        self._samples[ns] = reading

    def _near(self, ts: pd.Timestamp) -> int | None:
        """Index in ``_times`` of the sample nearest ``ts`` within the tolerance."""
        i = bisect.bisect_left(self._times, ts.value)
        best = None
        for j in (i - 1, i):
            if 0 <= j < len(self._times):
                gap = abs(self._times[j] - ts.value) / 1e9
                if gap <= BOUNDARY_TOLERANCE_S and (best is None or
                                                    gap < abs(self._times[best] - ts.value) / 1e9):
                    best = j
        return best

    # -- the Controller protocol -------------------------------------------------------
    def read_energy_kwh(self) -> float:
        """Stored energy now, from the SOC sensor, for a plan: within the battery's window
        ``[e_min, e_max]`` (a battery management system may hold a little more or less than
        the plans' window; the record keeps what was measured). [kWh]"""
        e = self._soe_kwh(self.client.state(self.config.sensors["soc"]), self._wall())
        b = self.battery
        if not b.e_min_kwh <= e <= b.e_max_kwh:
            log.warning("stored %.3f kWh is outside the plans' window [%g, %g] kWh: planning "
                        "from its nearest end", e, b.e_min_kwh, b.e_max_kwh)
        return min(max(e, b.e_min_kwh), b.e_max_kwh)

    # -- the recorder's history ------------------------------------------------------------
    def recall(self, boundary: Any) -> Reading | None:
        """The reading at a past ``boundary`` from the recorder's history: each meter's state in
        force then, if Home Assistant ran through it (:func:`pvbess.live.history.ran_through`)
        and every state passes the checks of a live reading (``stale_after_s`` against the
        boundary). None (logged) otherwise: the boundary stays unread."""
        ts = pd.Timestamp(boundary)
        at = self.ha_time(ts)
        entities = [self.config.sensors[s] for s in SENSORS]
        lookback = pd.Timedelta(seconds=max(self.config.stale_after_s.values(), default=0) + 1)
        try:
            rows = self.recorder.states(entities, at, at, self.ha_time(self.clock()), lookback)
            states = {s: state_at(rows.get(e, []), at) for s, e in zip(SENSORS, entities)}
            unknown = [self.config.sensors[s] for s, state in states.items() if state is None]
            if unknown:
                raise SensorError(f"the recorder has no state of {unknown}")
            reading = self._reading(states, ts, at.timestamp(), source="history")
        except (NotVouchedError, SensorError) as e:
            log.warning("boundary %s stays unread: %s", ts, e)
            if getattr(e, "final", True):
                self._unvouched.add(ts.value)
            return None
        except (HomeAssistantError, DataError) as e:
            log.warning("no history for %s: %s", ts, e)
            return None
        self.remember(reading)
        self._recalled.append(reading)
        log.info("boundary %s from the recorder's history: stored %.3f kWh", ts,
                 reading.soe_kwh)
        return reading

    def take_recalled(self) -> list[Reading]:
        """The readings :meth:`recall` made since the last call (the runner stores them)."""
        taken, self._recalled = self._recalled, []
        return taken

    def _boundary(self, ts: pd.Timestamp) -> int | None:
        """Index in ``_times`` of the boundary's reading: the sample nearest ``ts``, or one
        recalled from the history once ``ts`` is past live reading."""
        i = self._near(ts)
        late = pd.Timestamp(self.clock()) - ts > pd.Timedelta(seconds=BOUNDARY_TOLERANCE_S)
        if i is None and late and self.config.history and ts.value not in self._unvouched:
            if self.recall(ts) is not None:
                i = self._near(ts)
        return i

    def _history_energy(self, sensor: str, start: pd.Timestamp) -> float | None:
        """A power meter's energy over the period from the recorder's states [kWh], or None
        when Home Assistant did not run through the period or a state has no value."""
        a, b = self.ha_time(start), self.ha_time(start + pd.Timedelta(hours=self.dt_h))
        entity = self.config.sensors[sensor]
        try:
            rows = self.recorder.states([entity], a, b, self.ha_time(self.clock()))
            mean_kw = time_mean(rows.get(entity, []), a, b,
                                lambda r: self._meter(sensor, r, b.timestamp())[0])
        except (NotVouchedError, HomeAssistantError, DataError, ValueError) as e:
            log.warning("period %s missing: no history of %s (%s)", start, entity, e)
            return None
        return mean_kw * self.dt_h

    def read_period(self, timestamp: Any) -> HourlyEvent | None:
        """The completed period starting at ``timestamp`` from the readings at its boundaries
        (power sensors: the trapezoid over every sample in between, or with a boundary from
        the history, the time-weighted mean of the recorder's states; counters: the
        difference); None when a boundary was not read nor recalled, or a counter went back
        (a reset)."""
        start = pd.Timestamp(timestamp)
        end = start + pd.Timedelta(hours=self.dt_h)
        i, j = self._boundary(start), self._boundary(end)
        if i is None or j is None or j <= i:
            return None
        first, last = self._samples[self._times[i]], self._samples[self._times[j]]
        recalled = "history" in (first.source, last.source)
        energy = {}
        for sensor in SENSORS[1:]:
            if first.kinds[sensor] != last.kinds[sensor]:
                return None
            if first.kinds[sensor] == "energy":
                energy[sensor] = last.values[sensor] - first.values[sensor]
                if energy[sensor] < -NEGATIVE_TOLERANCE:
                    log.warning("%s went back over %s (a counter reset): period missing",
                                self.config.sensors[sensor], start)
                    return None
            elif recalled:
                energy[sensor] = self._history_energy(sensor, start)
                if energy[sensor] is None:
                    return None
            else:
                t = np.array(self._times[i:j + 1], dtype=np.float64) / 3.6e12  # [h]
                p = np.array([self._samples[k].values[sensor] for k in self._times[i:j + 1]])
                # scaled to the period: boundary samples up to the tolerance off
                energy[sensor] = float(np.trapezoid(p, t)) * self.dt_h / (t[-1] - t[0])
            energy[sensor] = max(energy[sensor], 0.0)
        net = energy["pv"] + energy["grid_import"] - energy["load"] - energy["grid_export"]
        charge, discharge = max(net, 0.0), max(-net, 0.0)
        buy, sell = self.prices(start)
        return HourlyEvent(
            timestamp=start, period=period_of(start, self.dt_h)[1], dt_h=self.dt_h,
            soe_start_kwh=first.soe_kwh, soe_end_kwh=last.soe_kwh, pv_kwh=energy["pv"],
            load_kwh=energy["load"], grid_import_kwh=energy["grid_import"],
            grid_export_kwh=energy["grid_export"], bess_charge_kwh=charge,
            bess_discharge_kwh=discharge, buy_price=buy, sell_price=sell,
            wear_cost=wear_cost(stored_energy(charge, self.battery.eta_charge),
                                self.battery.wear_cost_per_kwh))

    def apply(self, program: Program | pd.Series, import_cap_kwh: pd.Series | None = None
              ) -> None:
        """Keep the program's setpoints [kWh AC per period, + charge / - discharge] and the
        peak guard's import caps [kWh per period] for their periods (a :class:`Program`, or a
        Series and its caps: :func:`~pvbess.scheduler.controller.as_program`), replacing what
        was there, and write the setting of the current period if the program covers it."""
        program = as_program(program, import_cap_kwh)
        if program is None:
            return
        caps = program.import_cap_kwh
        for i, ns in enumerate(program.period_ns.tolist()):
            self._program[ns] = float(program.setpoint_kwh[i])
            self._cap[ns] = math.inf if caps is None else float(caps[i])
        if self._current_period().value in self._program:
            self.enforce()

    # -- the inverter --------------------------------------------------------------------
    def _current_period(self) -> pd.Timestamp:
        now = pd.Timestamp(self.clock()).tz_convert(self.tz)
        day = now.normalize()
        k = math.floor((now - day) / pd.Timedelta(hours=self.dt_h) + 1e-9)
        return day + pd.Timedelta(hours=self.dt_h * k)

    def setting(self, period: Any) -> tuple[str, float]:
        """(mode, power [kW AC]) for a period: the program's, or the safe mode's."""
        ts = pd.Timestamp(period)
        if ts.value not in self._program:
            return self.config.inverter.safe_mode, 0.0
        power = self._program[ts.value] / self.dt_h
        if power > 1e-9:
            return "charge", power
        if power < -1e-9:
            return "discharge", -power
        return "idle", 0.0

    def import_cap(self, period: Any) -> float:
        """The peak guard's import cap for a period (``inf``: none). [kWh]"""
        return self._cap.get(pd.Timestamp(period).value, math.inf)

    def day_program(self, period: Any) -> pd.Series:
        """The setpoints [kWh AC] from ``period`` to the end of its local day (0 where no
        plan covers a period: idle), on a regular index: what the slots show."""
        ts = pd.Timestamp(period).tz_convert(self.tz)
        index = pd.date_range(ts, ts.normalize() + pd.Timedelta(days=1),
                              freq=pd.Timedelta(hours=self.dt_h), inclusive="left")
        return pd.Series([self._program.get(t.value, 0.0) for t in index], index=index,
                         name="setpoint_kwh")

    def enforce(self) -> tuple[str, float]:
        """Write the setting of the period now running (and the day's slots); returns it."""
        period = self._current_period()
        mode, power = self.setting(period)
        self.write(mode, power, self.import_cap(period) / self.dt_h)
        if self.config.inverter.slots:
            write_slots(self.client, self.config.inverter, slot_windows(
                self.day_program(period), len(self.config.inverter.slots)))
        return mode, power

    def safe_mode(self) -> None:
        """Write the documented safe mode (``inverter.safe_mode``, power 0, no import cap, no
        slot in use)."""
        self.write(self.config.inverter.safe_mode, 0.0)
        if self.config.inverter.slots:
            write_slots(self.client, self.config.inverter, None)

    def write(self, mode: str, power_kw: float, import_limit_kw: float = math.inf) -> None:
        """Set the inverter (:func:`pvbess.live.inverter.write_setting`)."""
        write_setting(self.client, self.config.inverter, mode, power_kw, import_limit_kw)
        self.written.append((pd.Timestamp(self.clock()), mode, power_kw))
        log.info("wrote %s %.3f kW%s", mode, power_kw, "" if math.isinf(import_limit_kw)
                 else f", import limit {import_limit_kw:.3f} kW")

    def __repr__(self) -> str:
        return (f"HomeAssistantController({self.config.url}, {len(self._samples)} samples, "
                f"{len(self._program)} programmed periods)")
