"""The inverter's setting written to the real test Home Assistant: Growatt-style time-of-use
slots (input_datetime, input_select, input_number, input_boolean helpers), a script that gets
the period's mode, power and import limit, and the import limit entity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import pvbess

from .helpers import BATTERY, SECTION, TZ, Clock, client, config

pytestmark = pytest.mark.xdist_group("home_assistant")

OPTION = {"charge": "Charge", "discharge": "Discharge", "idle": "Self use"}
SLOTS = [{"start": f"input_datetime.slot{i}_start", "end": f"input_datetime.slot{i}_end",
          "mode": f"input_select.slot{i}_mode", "power": f"input_number.slot{i}_power",
          "enabled": f"input_boolean.slot{i}_enabled"} for i in (1, 2)]
#: The rest of a day from 10:00 [kWh per hour]: charge 2, idle, discharge 1.5, charge 1, idle,
#: charge 0.5 until midnight.
DAY = pd.date_range("2024-03-01 10:00", periods=14, freq="h", tz=TZ)
PROGRAM = pd.Series([2.0, 2.0, 0.0, -1.5, -1.5, 1.0] + [0.0] * 6 + [0.5, 0.5], index=DAY)


def shown_slots(server) -> list[tuple]:
    """(start, end, mode option, power [kW], enabled) of each slot as Home Assistant shows it."""
    c = client(server)
    return [(c.state(s["start"])["state"], c.state(s["end"])["state"],
             c.state(s["mode"])["state"], float(c.state(s["power"])["state"]),
             c.state(s["enabled"])["state"]) for s in SLOTS]


def expected_slots(running: pd.Timestamp) -> list[tuple]:
    """The plan's charge and discharge windows (pvbess.tou_intervals) not yet over, from the
    running period on, as slots: midnight as 23:59:59, the unused slots off."""
    windows = pvbess.tou_intervals(PROGRAM)
    rows = []
    for w in windows[(windows["mode"] != "idle") & (windows["end"] > running)].itertuples():
        end = "23:59:59" if w.end == w.end.normalize() else f"{w.end:%H:%M:%S}"
        rows.append((f"{max(w.start, running):%H:%M:%S}", end, OPTION[w.mode],
                     pytest.approx(w.power_kw, abs=1e-9), "on"))
    rows += [("00:00:00", "00:00:00", "Self use", 0.0, "off")] * len(SLOTS)
    return rows[:len(SLOTS)]


def test_the_slots_show_the_days_charge_and_discharge_windows(home_assistant):
    clock = Clock("2024-03-01 10:20")
    inverter = {**SECTION["inverter"], "slots": SLOTS}
    ctl = pvbess.HomeAssistantController(config(home_assistant, inverter=inverter), BATTERY,
                                         tz=TZ, clock=clock)
    ctl.apply(PROGRAM)
    assert shown_slots(home_assistant) == expected_slots(DAY[0])
    for hour in (11, 14, 15, 16, 23):
        clock.now = pd.Timestamp(f"2024-03-01 {hour}:10", tz=TZ)
        ctl.enforce()
        assert shown_slots(home_assistant) == expected_slots(clock.now.floor("h")), hour
    # the mode and power entities too: the running period's window
    assert (client(home_assistant).state("input_select.inverter_mode")["state"],
            float(client(home_assistant).state("input_number.inverter_power")["state"])) == \
        ("Charge", 0.5)
    ctl.safe_mode()
    assert shown_slots(home_assistant) == [("00:00:00", "00:00:00", "Self use", 0.0, "off")] * 2


def test_the_script_gets_each_periods_mode_power_and_import_limit(home_assistant):
    clock = Clock("2024-03-01 10:20")
    inverter = {"script": "script.pvbess_set_inverter", "import_limit": "input_number.import_limit"}
    ctl = pvbess.HomeAssistantController(config(home_assistant, inverter=inverter), BATTERY,
                                         tz=TZ, clock=clock)
    caps = pd.Series(np.where(DAY.hour < 18, 2.5, np.inf), index=DAY)  # [kWh per hour]
    ctl.apply(PROGRAM, import_cap_kwh=caps)
    c = client(home_assistant)
    windows = pvbess.tou_intervals(PROGRAM)
    for ts in DAY:
        clock.now = ts + pd.Timedelta(minutes=1)
        ctl.enforce()
        window = windows[(windows["start"] <= ts) & (ts < windows["end"])].iloc[0]
        cap = caps[ts]
        assert (c.state("input_select.script_mode")["state"],
                float(c.state("input_number.script_power")["state"]),
                float(c.state("input_number.script_import_limit")["state"]),
                float(c.state("input_number.import_limit")["state"])) == \
            (window["mode"], pytest.approx(window["power_kw"], abs=1e-9),
             cap if math.isfinite(cap) else -1.0, cap if math.isfinite(cap) else 50.0), ts
    ctl.safe_mode()
    assert (c.state("input_select.script_mode")["state"],
            float(c.state("input_number.script_import_limit")["state"])) == ("idle", -1.0)
