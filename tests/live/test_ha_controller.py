"""HomeAssistantController against the real Home Assistant of tests/live/conftest.py.

The meters are input_number helpers shown through template sensors in mixed units (SOC %, PV W,
load kW, import kWh counter, export Wh counter); the inverter is an input_select (mode) and an
input_number (power, kW).
"""

from __future__ import annotations

import time

import pandas as pd
import pytest

import pvbess
from pvbess.live.client import (EntityNotFoundError, InvalidTokenError, RestClient,
                                UnreachableError)
from pvbess.live.config import home_assistant_config
from pvbess.live.ha import SensorError

from .conftest import free_port
from .helpers import BATTERY, SECTION, TZ, Clock, config, inverter_state, set_meters

pytestmark = pytest.mark.xdist_group("home_assistant")

@pytest.fixture
def site(home_assistant):
    """Meters at a known start; the inverter in its initial (safe) mode."""
    set_meters(home_assistant, meter_soc=40.0, meter_pv_w=2500.0, meter_load_w=1800.0,
               meter_import_kwh=12.5, meter_export_kwh=3.25)
    return home_assistant


def test_readings_are_converted_by_their_units(site):
    clock = Clock("2024-03-01 10:00")
    ctl = pvbess.HomeAssistantController(config(site), BATTERY, tz=TZ, clock=clock)
    assert ctl.read_energy_kwh() == pytest.approx(4.0)  # 40 % of 10 kWh
    reading = ctl.sample()
    assert reading.values == pytest.approx({"pv": 2.5, "load": 1.8, "grid_import": 12.5,
                                            "grid_export": 3.25})  # W, kW, kWh, Wh
    assert reading.kinds == {"pv": "power", "load": "power", "grid_import": "energy",
                             "grid_export": "energy"}


def test_a_period_is_measured_between_its_boundary_samples(site):
    clock = Clock("2024-03-01 10:00")
    ctl = pvbess.HomeAssistantController(config(site), BATTERY, tz=TZ, clock=clock,
                                         prices=lambda ts: (0.6, 0.2))
    ctl.sample()
    clock.now += pd.Timedelta(minutes=30)
    set_meters(site, meter_pv_w=3500.0, meter_load_w=800.0)
    ctl.sample()
    clock.now += pd.Timedelta(minutes=30)
    set_meters(site, meter_soc=55.0, meter_pv_w=1500.0, meter_import_kwh=12.75,
               meter_export_kwh=3.5)
    ctl.sample()
    start = pd.Timestamp("2024-03-01 10:00", tz=TZ)
    event = ctl.read_period(start)
    assert event.period == 10 and event.dt_h == 1.0
    # trapezoid over 10:00, 10:30, 11:00
    assert event.pv_kwh == pytest.approx(0.25 * (2.5 + 3.5) + 0.25 * (3.5 + 1.5))
    assert event.load_kwh == pytest.approx(0.25 * (1.8 + 0.8) + 0.25 * (0.8 + 0.8))
    assert event.grid_import_kwh == pytest.approx(0.25)
    assert event.grid_export_kwh == pytest.approx(0.25)
    net = event.pv_kwh + event.grid_import_kwh - event.load_kwh - event.grid_export_kwh
    assert event.bess_charge_kwh - event.bess_discharge_kwh == pytest.approx(net)
    assert (event.soe_start_kwh, event.soe_end_kwh) == pytest.approx((4.0, 5.5))
    assert (event.buy_price, event.sell_price) == (0.6, 0.2)
    # the next period has no end sample: missing, not invented
    assert ctl.read_period(start + pd.Timedelta(hours=1)) is None


def test_a_plan_is_written_period_by_period_and_home_assistant_shows_it(site):
    clock = Clock("2024-03-01 10:20")
    ctl = pvbess.HomeAssistantController(config(site), BATTERY, tz=TZ, clock=clock)
    idx = pd.date_range("2024-03-01 10:00", periods=4, freq="h", tz=TZ)
    program = pd.Series([2.0, 2.0, -1.5, 0.0], index=idx)
    ctl.apply(program)
    assert inverter_state(site) == ("Charge", 2.0)
    shown = {}
    for ts in idx:
        clock.now = ts + pd.Timedelta(seconds=5)
        ctl.enforce()
        shown[ts] = inverter_state(site)
    # every period shows its time-of-use window's mode and power
    names = {"charge": "Charge", "discharge": "Discharge", "idle": "Self use"}
    for window in pvbess.tou_intervals(program).itertuples():
        for ts in idx[(idx >= window.start) & (idx < window.end)]:
            assert shown[ts] == (names[window.mode], pytest.approx(window.power_kw))
    # after the plan: the safe mode
    clock.now = idx[-1] + pd.Timedelta(hours=1)
    assert ctl.enforce() == ("idle", 0.0)
    assert inverter_state(site) == ("Self use", 0.0)


def test_an_invalid_token_is_a_clear_error_at_start(site):
    with pytest.raises(InvalidTokenError, match="refused the access token"):
        pvbess.HomeAssistantController(
            home_assistant_config({**SECTION, "url": site.url},
                                  environ={"TEST_HA_TOKEN": "not-a-token"}), BATTERY)


def test_an_entity_home_assistant_lacks_is_a_clear_error_at_start(site):
    sensors = {**SECTION["sensors"], "pv": "sensor.pv_powr"}
    inverter = {**SECTION["inverter"], "import_limit": "input_number.no_such_limit"}
    with pytest.raises(EntityNotFoundError, match=r"no entity \['sensor.pv_powr', "
                                                  r"'input_number.no_such_limit'\]"):
        pvbess.HomeAssistantController(config(site, sensors=sensors, inverter=inverter),
                                       BATTERY)


def test_an_unreachable_server_is_retried_with_backoff_then_an_error():
    waits = []
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    cfg = home_assistant_config({**SECTION, "url": url, "retries": 3, "backoff_s": 0.5},
                                environ={"TEST_HA_TOKEN": "any"})
    rest = RestClient(cfg.url, cfg.token, retries=cfg.retries, backoff_s=cfg.backoff_s,
                      sleep=waits.append)
    with pytest.raises(UnreachableError, match="unreachable.*4 attempts"):
        pvbess.HomeAssistantController(cfg, BATTERY, client=rest)
    assert waits == [0.5, 1.0, 2.0]


def test_an_unavailable_sensor_is_refused(site):
    ctl = pvbess.HomeAssistantController(config(site), BATTERY, tz=TZ)
    set_meters(site, meter_soc=-1.0)  # the template's availability turns false
    with pytest.raises(SensorError, match="sensor.battery_soc .*unavailable"):
        ctl.read_energy_kwh()


def test_a_stale_sensor_is_refused(site):
    ctl = pvbess.HomeAssistantController(config(site, stale_after_s={"soc": 60}), BATTERY,
                                         tz=TZ, wall_clock=lambda: time.time() + 3600)
    with pytest.raises(SensorError, match="sensor.battery_soc .*stale"):
        ctl.read_energy_kwh()


def test_a_value_outside_physical_limits_is_refused(site):
    ctl = pvbess.HomeAssistantController(config(site, max_power_kw=2.0), BATTERY, tz=TZ)
    with pytest.raises(SensorError, match=r"sensor.pv_power \(pv\) = 2500.0 W: above"):
        ctl.sample()
    set_meters(site, meter_soc=100.0)
    ten_kwh = pvbess.Battery(capacity_kwh=10.0, soc_max=1.0)
    assert pvbess.HomeAssistantController(config(site), ten_kwh).read_energy_kwh() == 10.0
    # a full battery above the plans' window (soc_max 0.9) is planned from the window's top
    assert pvbess.HomeAssistantController(config(site), BATTERY).read_energy_kwh() == 9.0
    set_meters(site, meter_soc=100.5)
    with pytest.raises(SensorError, match=r"sensor.battery_soc \(soc\) = 100.5 %: outside"):
        pvbess.HomeAssistantController(config(site), ten_kwh).read_energy_kwh()
