"""Helpers of the live tests: the test site's entities, an accelerated clock, meters written and
awaited, and an inverter emulator that moves the stored energy with :mod:`pvbess.physics`."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

import pvbess
from pvbess.live.client import RestClient, UnreachableError
from pvbess.live.config import home_assistant_config
from pvbess.physics import CHARGE_CODES, site_step

TZ = "America/Lima"
BATTERY = pvbess.Battery(capacity_kwh=10.0, power_charge_kw=5.0, power_discharge_kw=5.0,
                         soc_min=0.1, soc_max=0.9, soc_initial=0.5)
SECTION = {
    "url": None, "token_env": "TEST_HA_TOKEN", "retries": 1, "backoff_s": 0.05,
    "sensors": {"soc": "sensor.battery_soc", "pv": "sensor.pv_power",
                "load": "sensor.load_power", "grid_import": "sensor.grid_import_energy",
                "grid_export": "sensor.grid_export_energy"},
    "inverter": {"mode": "input_select.inverter_mode", "power": "input_number.inverter_power",
                 "options": {"charge": "Charge", "discharge": "Discharge",
                             "idle": "Self use"}},
}
#: The template sensor (and its value in the sensor's unit) each meter helper shows.
SHOWN_AS = {"meter_soc": ("sensor.battery_soc", 1.0), "meter_pv_w": ("sensor.pv_power", 1.0),
            "meter_load_w": ("sensor.load_power", 1e-3),
            "meter_import_kwh": ("sensor.grid_import_energy", 1.0),
            "meter_export_kwh": ("sensor.grid_export_energy", 1e3),
            "meter_pv_kwh": ("sensor.pv_energy", 1.0),
            "meter_load_kwh": ("sensor.load_energy", 1.0)}


class Clock:
    """The scheduler's clock, moved by the test (an accelerated clock).

    :meth:`ha_time` maps its times to Home Assistant's (the wall clock, in its recorder): a
    time maps to the wall time at which the clock first showed it or a later time, so the
    states written before the clock was moved on are those in force then.
    """

    def __init__(self, start: str) -> None:
        self._shown: list[tuple[pd.Timestamp, pd.Timestamp]] = []  # (clock, wall), in order
        self.now = pd.Timestamp(start, tz=TZ)

    @property
    def now(self) -> pd.Timestamp:
        return self._now

    @now.setter
    def now(self, value: pd.Timestamp) -> None:
        self._now = value
        self._shown.append((value, pd.Timestamp.now(tz="UTC")))

    def __call__(self) -> pd.Timestamp:
        return self._now

    def ha_time(self, ts: pd.Timestamp) -> pd.Timestamp:
        first_shown, first_wall = self._shown[0]
        if ts < first_shown:  # before the test: as long before its start
            return first_wall - (first_shown - ts)
        for shown, wall in self._shown:
            if shown >= ts:
                return wall
        return pd.Timestamp.now(tz="UTC")


def config(server, **changes):
    section = {**SECTION, "url": server.url, **changes}
    return home_assistant_config(section, environ={"TEST_HA_TOKEN": server.token})


def client(server) -> RestClient:
    return RestClient(server.url, server.token, retries=0)


def set_meters(server, **values: float) -> None:
    """Write meter helpers and wait until their template sensors show the new values."""
    c = client(server)
    for name, value in values.items():
        c.call_service("input_number", "set_value",
                       {"entity_id": f"input_number.{name}", "value": value})
    deadline = time.monotonic() + 10.0
    for name, value in values.items():
        sensor, factor = SHOWN_AS[name]
        while True:
            state = c.state(sensor)["state"]
            if value < 0 and state == "unavailable":
                break
            try:
                if math.isclose(float(state), value * factor, rel_tol=1e-9, abs_tol=1e-6):
                    break
            except ValueError:
                pass
            assert time.monotonic() < deadline, f"{sensor} still {state}, want {value * factor}"
            time.sleep(0.05)


def inverter_state(server) -> tuple[str, float]:
    c = client(server)
    return (c.state("input_select.inverter_mode")["state"],
            float(c.state("input_number.inverter_power")["state"]))



#: The inverter's options back to the modes.
MODE_OF = {"Charge": "charge", "Discharge": "discharge", "Self use": "idle"}


class InverterEmulator:
    """A battery and site behind the test Home Assistant.

    Each period it reads the inverter's setting from Home Assistant, runs the period with
    :func:`pvbess.physics.site_step` on the given load and PV, and writes the meters back
    through the REST API (SOC %, cumulative PV, load, import, export counters [kWh]; PV and
    load power too). What it did is kept in :attr:`done` (one dict per period).
    """

    def __init__(self, server, battery: pvbess.Battery, load_kwh, pv_kwh, dt_h: float = 1.0):
        self.server, self.battery, self.dt_h = server, battery, dt_h
        self.load = np.asarray(load_kwh, dtype=float)
        self.pv = np.asarray(pv_kwh, dtype=float)
        self.e = battery.e_initial_kwh
        self.counters = {"meter_pv_kwh": 0.0, "meter_load_kwh": 0.0, "meter_import_kwh": 0.0,
                         "meter_export_kwh": 0.0}
        self.done: list[dict] = []

    def publish(self, k: int) -> None:
        """The meters at the start of period ``k`` (power: that period's mean)."""
        k = min(k, len(self.load) - 1)
        set_meters(self.server, meter_soc=100.0 * self.e / self.battery.capacity_kwh,
                   meter_pv_w=1e3 * self.pv[k] / self.dt_h,
                   meter_load_w=1e3 * self.load[k] / self.dt_h, **self.counters)

    def run_period(self, k: int) -> dict:
        """Period ``k`` with the setting Home Assistant shows now; the meters at its end.

        Without Home Assistant the inverter falls back to its own self-consumption (``idle``,
        the safe mode the README asks an installation to configure) and publishes nothing."""
        try:
            mode, power = inverter_state(self.server)
        except UnreachableError:
            mode, power = "Self use", 0.0
        sign = {"charge": 1.0, "discharge": -1.0, "idle": 0.0}[MODE_OF[mode]]
        b = self.battery
        c, d, imp, exp, u, e_end = site_step(
            sign * power * self.dt_h, self.e, self.load[k], self.pv[k], 0.0, 0.0, b.e_min_kwh,
            b.e_max_kwh, b.eta_charge, b.eta_discharge, b.power_charge_kw * self.dt_h,
            b.power_discharge_kw * self.dt_h, CHARGE_CODES["any"], True, math.inf, math.inf,
            math.inf, False)
        row = {"mode": MODE_OF[mode], "power_kw": power, "soe_start_kwh": self.e,
               "soe_end_kwh": e_end, "pv_kwh": self.pv[k] - u, "load_kwh": self.load[k],
               "grid_import_kwh": imp, "grid_export_kwh": exp, "bess_charge_kwh": c,
               "bess_discharge_kwh": d}
        self.done.append(row)
        self.e = e_end
        for meter, key in (("meter_pv_kwh", "pv_kwh"), ("meter_load_kwh", "load_kwh"),
                           ("meter_import_kwh", "grid_import_kwh"),
                           ("meter_export_kwh", "grid_export_kwh")):
            self.counters[meter] += row[key]
        try:
            self.publish(k + 1)
        except UnreachableError:
            pass  # Home Assistant is down: the meters are published when it is back
        return row
