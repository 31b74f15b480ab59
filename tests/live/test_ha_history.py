"""A boundary nobody read comes back from the real Home Assistant's recorder history.

The test clock is accelerated: a boundary maps to the wall time when the clock first showed it
(:meth:`helpers.Clock.ha_time`), after the meters for it were written."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import pvbess

from .helpers import BATTERY, TZ, Clock, client, config, set_meters

pytestmark = pytest.mark.xdist_group("home_assistant")

START = pd.Timestamp("2024-03-01 10:00", tz=TZ)
HOUR = pd.Timedelta(hours=1)
SECOND = pd.Timedelta(seconds=1)


def test_a_missed_boundary_is_recalled_from_the_history(home_assistant):
    """Counters differenced between the recalled states, power meters integrated over the
    recorder's states (each held until the next), the reading marked as from the history."""
    clock = Clock("2024-03-01 09:59:59")
    set_meters(home_assistant, meter_soc=40.0, meter_pv_w=2000.0, meter_load_w=1000.0,
               meter_import_kwh=1.0, meter_export_kwh=0.0)
    clock.now = START + SECOND
    ctl = pvbess.HomeAssistantController(config(home_assistant), BATTERY, tz=TZ, clock=clock,
                                         ha_time=clock.ha_time, prices=lambda ts: (0.5, 0.1))
    ctl.sample()
    set_meters(home_assistant, meter_soc=50.0, meter_import_kwh=1.5, meter_export_kwh=0.25)
    clock.now = START + HOUR + SECOND  # the 11:00 boundary passes unread (the runner is down)
    set_meters(home_assistant, meter_pv_w=3000.0)
    changed = pd.Timestamp(client(home_assistant).state("sensor.pv_power")["last_changed"])
    set_meters(home_assistant, meter_soc=55.0, meter_import_kwh=1.75, meter_export_kwh=0.5)
    clock.now = START + 2 * HOUR + SECOND
    ctl.sample()

    first = ctl.read_period(START)
    recalled = ctl.take_recalled()
    assert [(r.time, r.source) for r in recalled] == [(START + HOUR, "history")]
    assert (first.soe_start_kwh, first.soe_end_kwh) == pytest.approx((4.0, 5.0))
    assert (first.grid_import_kwh, first.grid_export_kwh) == pytest.approx((0.5, 0.25))
    # PV and load held at 2 kW and 1 kW through the whole period
    assert (first.pv_kwh, first.load_kwh) == pytest.approx((2.0, 1.0), rel=1e-12)
    net = first.pv_kwh + first.grid_import_kwh - first.load_kwh - first.grid_export_kwh
    assert first.bess_charge_kwh - first.bess_discharge_kwh == pytest.approx(net, abs=1e-12)

    second = ctl.read_period(START + HOUR)
    assert ctl.take_recalled() == []  # the recalled boundary is kept, not asked for again
    assert second.soe_start_kwh == first.soe_end_kwh  # one reading per boundary
    assert (second.grid_import_kwh, second.grid_export_kwh) == pytest.approx((0.25, 0.25))
    # PV 2 kW until Home Assistant's change to 3 kW, as a share of the period in its time
    a, b = clock.ha_time(START + HOUR), clock.ha_time(START + 2 * HOUR)
    share = (b - changed) / (b - a)
    assert 0 < share < 1
    assert second.pv_kwh == pytest.approx(2.0 + share, rel=1e-9)


def test_a_recalled_state_older_than_stale_after_s_is_refused(home_assistant):
    clock = Clock("2024-03-01 09:59:59")
    set_meters(home_assistant, meter_soc=40.0, meter_pv_w=100.0, meter_load_w=100.0,
               meter_import_kwh=2.0, meter_export_kwh=1.0)
    time.sleep(0.6)  # SOC then older than its 0.5 s limit at the boundary
    clock.now = START + SECOND
    clock.now = START + HOUR
    ctl = pvbess.HomeAssistantController(config(home_assistant, stale_after_s={"soc": 0.5}),
                                         BATTERY, tz=TZ, clock=clock, ha_time=clock.ha_time)
    assert ctl.recall(START) is None
    # the same boundary without the limit (staleness is opt-in)
    ctl = pvbess.HomeAssistantController(config(home_assistant), BATTERY, tz=TZ, clock=clock,
                                         ha_time=clock.ha_time)
    assert ctl.recall(START).soe_kwh == pytest.approx(4.0)
    # without the history, a boundary not read is a missing period
    ctl = pvbess.HomeAssistantController(config(home_assistant, history=False), BATTERY, tz=TZ,
                                         clock=clock, ha_time=clock.ha_time)
    assert ctl.read_period(START) is None
