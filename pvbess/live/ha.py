"""The scheduler's ``Controller`` over a real Home Assistant.

:class:`HomeAssistantController` reads the configured meters (battery state of charge, PV, load,
grid import and export) through Home Assistant's REST API, converted by each entity's
``unit_of_measurement``, and sets the inverter period by period from the plan it was given:
a mode (``charge`` / ``discharge`` / ``idle``, the windows of :func:`pvbess.tou_intervals`) and a
power, written as ``input_select``/``select`` options and ``input_number``/``number`` values, or
one script call.

Time is the caller's: :meth:`HomeAssistantController.sample` takes a reading (at least at every
period boundary; more often makes the integral of power sensors better),
:meth:`HomeAssistantController.enforce` writes the setting of the period that has started, and
:meth:`HomeAssistantController.read_period` turns the samples around a completed period into an
:class:`~pvbess.HourlyEvent`, or None when a boundary was not read (the period is missing, never
invented).

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
from ..scheduler.events import HourlyEvent, period_of
from ..timeseries import DataError
from .client import RestClient
from .config import (ENERGY_UNITS, NUMBER_SERVICE, POWER_UNITS, SELECT_SERVICE, SENSORS,
                     HomeAssistantConfig)

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
    other meter as power [kW] or as a counter [kWh] (``kind``: ``"power"``/``"energy"``)."""

    time: pd.Timestamp
    soe_kwh: float
    values: dict[str, float]
    kinds: dict[str, str]

    def to_json(self) -> str:
        return json.dumps({"time": self.time.isoformat(), "soe_kwh": self.soe_kwh,
                           "values": self.values, "kinds": self.kinds}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Reading:
        raw = json.loads(text)
        return cls(time=pd.Timestamp(raw["time"]), soe_kwh=float(raw["soe_kwh"]),
                   values={k: float(v) for k, v in raw["values"].items()}, kinds=raw["kinds"])


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

    Raises
    ------
    InvalidTokenError, UnreachableError
        At construction, when Home Assistant refuses the token or does not answer.
    """

    def __init__(self, config: HomeAssistantConfig, battery: Battery, *, dt_h: float = 1.0,
                 tz: str = "UTC", clock: Callable[[], pd.Timestamp] = _wall_clock,
                 prices: Callable[[pd.Timestamp], tuple[float, float]] | None = None,
                 client: RestClient | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.battery = battery
        self.dt_h = float(dt_h)
        self.tz = tz
        self.clock = clock
        self.prices = prices or (lambda ts: (0.0, 0.0))
        self._wall = wall_clock
        self.client = client or RestClient(config.url, config.token, timeout_s=config.timeout_s,
                                           retries=config.retries, backoff_s=config.backoff_s)
        self.client.check()  # a bad token or URL is an error now, not at the first period
        self._program: dict[int, float] = {}  # period start [ns] -> setpoint [kWh AC]
        self._cap: dict[int, float] = {}  # period start [ns] -> import cap [kWh]
        self._times: list[int] = []  # sample times [ns], sorted
        self._samples: dict[int, Reading] = {}
        #: Every setting written: (clock time, mode, power [kW]).
        self.written: list[tuple[pd.Timestamp, str, float]] = []

    # -- reading ------------------------------------------------------------------------
    def _value(self, sensor: str) -> tuple[float, str]:
        """(value, unit) of a configured sensor, checked for availability and age."""
        entity = self.config.sensors[sensor]
        state = self.client.state(entity)
        raw = str(state.get("state", "")).strip()
        unit = (state.get("attributes") or {}).get("unit_of_measurement")
        if raw.lower() in NO_VALUE:
            raise SensorError(f"{entity} ({sensor}) is {raw or 'empty'}: no reading")
        limit = self.config.stale_after_s.get(sensor)
        if limit is not None:
            updated = dt.datetime.fromisoformat(state["last_updated"]).timestamp()
            age = self._wall() - updated
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

    def _soe_kwh(self) -> float:
        entity = self.config.sensors["soc"]
        value, unit = self._value("soc")
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

    def _meter(self, sensor: str) -> tuple[float, str]:
        """(value [kW or kWh], kind) of a power or energy meter."""
        entity = self.config.sensors[sensor]
        value, unit = self._value(sensor)
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

    def sample(self) -> Reading:
        """Read every meter now (``clock()``) and keep the reading for :meth:`read_period`."""
        now = pd.Timestamp(self.clock())
        values, kinds = {}, {}
        soe = self._soe_kwh()
        for sensor in SENSORS[1:]:
            values[sensor], kinds[sensor] = self._meter(sensor)
        reading = Reading(time=now, soe_kwh=soe, values=values, kinds=kinds)
        self.remember(reading)
        log.info("read at %s: stored %.3f kWh, %s", now, soe,
                 ", ".join(f"{k} {v:.3f} {'kW' if kinds[k] == 'power' else 'kWh'}"
                           for k, v in values.items()))
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
        e = self._soe_kwh()
        b = self.battery
        if not b.e_min_kwh <= e <= b.e_max_kwh:
            log.warning("stored %.3f kWh is outside the plans' window [%g, %g] kWh: planning "
                        "from its nearest end", e, b.e_min_kwh, b.e_max_kwh)
        return min(max(e, b.e_min_kwh), b.e_max_kwh)

    def read_period(self, timestamp: Any) -> HourlyEvent | None:
        """The completed period starting at ``timestamp`` from the samples at its boundaries
        (power sensors: the trapezoid over every sample in between; counters: the difference);
        None when a boundary was not sampled or a counter went back (a reset)."""
        start = pd.Timestamp(timestamp)
        end = start + pd.Timedelta(hours=self.dt_h)
        i, j = self._near(start), self._near(end)
        if i is None or j is None or j <= i:
            return None
        first, last = self._samples[self._times[i]], self._samples[self._times[j]]
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

    def apply(self, program: pd.Series, import_cap_kwh: pd.Series | None = None) -> None:
        """Keep ``program`` (setpoints [kWh AC per period], + charge / - discharge) for its
        periods, replacing what was there, and write the setting of the current period if the
        program covers it. ``import_cap_kwh`` is kept (:meth:`import_cap`) for an inverter
        with a grid import limit."""
        values = np.asarray(program, dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError("HomeAssistantController.apply: program has non-finite setpoints")
        caps = (np.full(len(values), np.inf) if import_cap_kwh is None
                else np.asarray(import_cap_kwh, dtype=np.float64))
        for ts, value, cap in zip(program.index, values, caps):
            self._program[ts.value] = float(value)
            self._cap[ts.value] = float(cap)
        if len(values) and self._current_period().value in self._program:
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

    def enforce(self) -> tuple[str, float]:
        """Write the setting of the period now running; returns it."""
        mode, power = self.setting(self._current_period())
        self.write(mode, power)
        return mode, power

    def safe_mode(self) -> None:
        """Write the documented safe mode (``inverter.safe_mode``, power 0)."""
        self.write(self.config.inverter.safe_mode, 0.0)

    def write(self, mode: str, power_kw: float) -> None:
        """Set the inverter: the mode's option and the power (in ``power_unit``), or call the
        script with ``mode`` and ``power_kw``."""
        inv = self.config.inverter
        if inv.script is not None:
            self.client.call_service("script", "turn_on", {
                "entity_id": inv.script, "variables": {"mode": mode, "power_kw": power_kw}})
        else:
            domain = inv.mode.split(".")[0]
            self.client.call_service(domain, SELECT_SERVICE[domain], {
                "entity_id": inv.mode, "option": inv.options[mode]})
            domain = inv.power.split(".")[0]
            self.client.call_service(domain, NUMBER_SERVICE[domain], {
                "entity_id": inv.power, "value": round(power_kw / POWER_UNITS[inv.power_unit], 6)})
        self.written.append((pd.Timestamp(self.clock()), mode, power_kw))
        log.info("wrote %s %.3f kW", mode, power_kw)

    def __repr__(self) -> str:
        return (f"HomeAssistantController({self.config.url}, {len(self._samples)} samples, "
                f"{len(self._program)} programmed periods)")
