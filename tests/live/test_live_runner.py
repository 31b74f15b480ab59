"""The live runner on an accelerated clock against the real test Home Assistant, with an inverter
emulator (tests/live/helpers.py) behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pvbess
from pvbess.live.ha import Reading
from pvbess.live.runner import READING_KEY, LiveRunner
from pvbess.scheduler.db import DatabaseLockedError

from .helpers import BATTERY, SECTION, TZ, Clock, InverterEmulator, config, inverter_state

pytestmark = pytest.mark.xdist_group("home_assistant")

DAYS = 2
HOURS = np.arange(24 * DAYS) % 24
#: PV [kWh per hour]: a clear bell 6..18 h, the second day cloudier; load: base and evening.
PV = np.clip(3.0 * np.sin(np.pi * (HOURS - 6) / 12), 0, None)
PV[24:] *= 0.7
LOAD = 0.6 + 1.4 * ((HOURS >= 18) & (HOURS < 22)) + 0.3 * ((HOURS >= 7) & (HOURS < 9))
#: Buy by local hour: cheap night, dear evening; sell flat. [currency/kWh]
BUY = np.where(HOURS[:24] < 6, 0.3, np.where((HOURS[:24] >= 18) & (HOURS[:24] < 22), 1.0, 0.6))


def prices(index: pd.DatetimeIndex):
    hour = index.tz_convert(TZ).hour
    return BUY[hour], np.full(len(index), 0.1)


def counters_config(server):
    """PV and load read from their energy counters: the record can equal the emulator."""
    sensors = {**SECTION["sensors"], "pv": "sensor.pv_energy", "load": "sensor.load_energy"}
    return config(server, sensors=sensors)


def window_at(plan, ts) -> tuple[str, float]:
    """(mode, power) of the plan's time-of-use window holding period ``ts``."""
    for w in pvbess.tou_intervals(plan.setpoints).itertuples():
        if w.start <= ts < w.end:
            return w.mode, w.power_kw
    raise AssertionError(f"{ts} is in no window of the plan")


def new_runner(server, clock, db) -> LiveRunner:
    controller = pvbess.HomeAssistantController(
        counters_config(server), BATTERY, tz=TZ, clock=clock, ha_time=clock.ha_time,
        prices=lambda ts: tuple(float(a[0]) for a in prices(pd.DatetimeIndex([ts]))))
    return LiveRunner(controller, BATTERY, prices, db, fallback=(LOAD[:24], PV[:24]))


def drive(server, db, days: int = DAYS, restart_at: int | None = None,
          outage: int | None = None, down: tuple[int, int] | None = None):
    """Run ``days`` on the accelerated clock: the emulator runs each period, the runner ticks
    at every boundary and at 23:55; a new runner (a restart) takes over at boundary
    ``restart_at``; Home Assistant is stopped just before boundary ``outage`` and started again
    within the period after it; the runner stops just before boundary ``down[0]`` and a new
    one starts at boundary ``down[1]`` (the inverter keeps its last setting meanwhile).
    Returns (runner, emulator, the TOU window in force in each period the runner ran, what
    happened around the outage or the restart)."""
    index = pd.date_range("2024-03-01", periods=24 * days, freq="h", tz=TZ)
    emulator = InverterEmulator(server, BATTERY, LOAD, PV)
    emulator.publish(0)
    clock = Clock("2024-03-01 00:00:01")
    runner = new_runner(server, clock, db)
    runner.tick()
    expected, seen = [], {}
    for k, ts in enumerate(index):
        expected.append(None if runner is None else window_at(runner.manager.current_plan, ts))
        if ts.hour == 23 and runner is not None:  # tomorrow's plan at 23:55
            clock.now = ts + pd.Timedelta(minutes=55)
            runner.tick()
            if k + 1 < len(index):
                assert runner.manager.current_plan.index[0] == index[k + 1]
        if outage == k + 1:
            server.stop()
        emulator.run_period(k)
        if outage == k:
            seen["restart_s"] = server.start()
            seen["inverter_after_restart"] = inverter_state(server)
            emulator.publish(k + 1)
        clock.now = ts + pd.Timedelta(hours=1, seconds=1)
        if restart_at == k + 1 or (down is not None and down[0] == k + 1):
            runner.manager.db.close()  # the process ends; a new one starts on the same file
            runner = None
        if restart_at == k + 1 or (down is not None and down[1] == k + 1):
            runner = new_runner(server, clock, db)
        if runner is not None:
            runner.tick()
        if k == outage or (down is not None and k + 1 == down[1]):
            seen["reconstruction"] = dict(runner.manager.last_reconstruction)
    return runner, emulator, expected, seen


def test_two_days_recorded_as_the_emulator_ran_them(home_assistant, tmp_path):
    index = pd.date_range("2024-03-01", periods=24 * DAYS, freq="h", tz=TZ)
    runner, emulator, expected, _ = drive(home_assistant, tmp_path / "live.sqlite")
    history = runner.manager.history.to_frame()
    done = pd.DataFrame(emulator.done, index=index)
    assert list(history.index) == list(index)  # every period recorded
    for name in ("soe_start_kwh", "soe_end_kwh", "pv_kwh", "load_kwh", "grid_import_kwh",
                 "grid_export_kwh"):
        np.testing.assert_allclose(history[name], done[name], rtol=0, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(history["bess_charge_kwh"] - history["bess_discharge_kwh"],
                               done["bess_charge_kwh"] - done["bess_discharge_kwh"], atol=1e-6)
    # energy closes every period
    closing = (history["pv_kwh"] + history["grid_import_kwh"] + history["bess_discharge_kwh"]
               - history["load_kwh"] - history["grid_export_kwh"] - history["bess_charge_kwh"]
               - history["pv_curtailed_kwh"])
    assert np.abs(closing).max() < 1e-9
    # the inverter ran each period as the plan in force wanted (its time-of-use window)
    for k, (mode, power) in enumerate(expected):
        assert done["mode"].iloc[k] == mode, index[k]
        assert done["power_kw"].iloc[k] == pytest.approx(power, abs=1e-6), index[k]
    assert set(done["mode"]) >= {"charge", "discharge"}  # the plans did something
    assert (history["buy_price"].to_numpy() == prices(index)[0]).all()
    assert (runner.record()["source"] == "measured").all()  # every boundary read on time


def test_a_restart_mid_day_continues_as_an_uninterrupted_run(home_assistant, tmp_path):
    once, emulated_once, _, _ = drive(home_assistant, tmp_path / "once.sqlite", days=1)
    again, emulated_again, _, _ = drive(home_assistant, tmp_path / "again.sqlite", days=1,
                                     restart_at=13)
    # the period running when the first process stopped, from its stored boundary reading
    assert again.manager.last_reconstruction == {"recovered": [12], "missing": []}
    pd.testing.assert_frame_equal(again.manager.history.to_frame(),
                                  once.manager.history.to_frame(), rtol=0, atol=1e-9)
    assert [(r["mode"], r["power_kw"]) for r in emulated_again.done] == \
        [(r["mode"], r["power_kw"]) for r in emulated_once.done]


def test_a_second_runner_on_the_same_database_is_refused(home_assistant, tmp_path):
    clock = Clock("2024-03-01 00:00:01")
    first = new_runner(home_assistant, clock, tmp_path / "live.sqlite")
    with pytest.raises(DatabaseLockedError, match="another manager is writing"):
        new_runner(home_assistant, clock, tmp_path / "live.sqlite")
    first.manager.db.close()


def test_home_assistant_stopped_and_started_leaves_a_gap_and_recovers(home_assistant,
                                                                       tmp_path, caplog):
    index = pd.date_range("2024-03-01", periods=24, freq="h", tz=TZ)
    runner, emulator, expected, seen = drive(home_assistant, tmp_path / "live.sqlite", days=1,
                                             outage=10)
    history = runner.manager.history.to_frame()
    done = pd.DataFrame(emulator.done, index=index)
    # boundary 10 was never read, and Home Assistant's history cannot tell it (its logbook:
    # it was down then): periods 9 and 10 are missing, recorded as such, not invented
    assert seen["reconstruction"] == {"recovered": [], "missing": [9, 10]}
    assert "boundary 2024-03-01 10:00:00-05:00 stays unread: Home Assistant was not running" \
        in caplog.text
    assert list(history.index) == [ts for k, ts in enumerate(index) if k not in (9, 10)]
    # without Home Assistant the inverter ran its own fallback, the documented safe mode, and
    # Home Assistant came back with the inverter in it
    assert done["mode"].iloc[10] == "idle"
    assert seen["inverter_after_restart"] == ("Self use", 0.0)
    # recovery: the recorded periods are what the emulator did, the plans ran again
    for name in ("soe_start_kwh", "soe_end_kwh", "pv_kwh", "load_kwh", "grid_import_kwh",
                 "grid_export_kwh"):
        np.testing.assert_allclose(history[name], done[name].loc[history.index], atol=1e-6,
                                   err_msg=name)
    for k in range(11, 24):
        assert (done["mode"].iloc[k], done["power_kw"].iloc[k]) == \
            (expected[k][0], pytest.approx(expected[k][1], abs=1e-6)), index[k]
    print(f"Home Assistant restarted in {seen['restart_s']:.1f} s")


def test_periods_missed_while_the_runner_was_down_come_back_from_the_history(home_assistant,
                                                                              tmp_path):
    index = pd.date_range("2024-03-01", periods=48, freq="h", tz=TZ)
    runner, emulator, expected, seen = drive(home_assistant, tmp_path / "live.sqlite", days=2,
                                             down=(22, 26))
    record = runner.record()
    done = pd.DataFrame(emulator.done, index=index)
    # boundaries 22:00 to 01:00 were read by nobody: periods 21:00 to 01:00 rebuilt from the
    # recorder's history, yesterday's at the start-up, today's by the reconstruction
    assert seen["reconstruction"] == {"recovered": [0, 1], "missing": []}
    assert list(record.index) == list(index)
    assert list(record.index[record["source"] == "history"]) == list(index[21:26])
    for name in ("soe_start_kwh", "soe_end_kwh", "pv_kwh", "load_kwh", "grid_import_kwh",
                 "grid_export_kwh"):
        np.testing.assert_allclose(record[name], done[name], rtol=0, atol=1e-6, err_msg=name)
    closing = (record["pv_kwh"] + record["grid_import_kwh"] + record["bess_discharge_kwh"]
               - record["load_kwh"] - record["grid_export_kwh"] - record["bess_charge_kwh"]
               - record["pv_curtailed_kwh"])
    assert np.abs(closing).max() < 1e-9
    # while it was down the inverter kept period 21's setting; then the plans ran again
    assert all((done["mode"].iloc[k], done["power_kw"].iloc[k]) ==
               (done["mode"].iloc[21], done["power_kw"].iloc[21]) for k in range(22, 26))
    for k in [*range(0, 22), *range(26, 48)]:
        assert (done["mode"].iloc[k], done["power_kw"].iloc[k]) == \
            (expected[k][0], pytest.approx(expected[k][1], abs=1e-6)), index[k]
    # the record keeps the recalled boundary readings, marked (a restart reads them back)
    stored = {pd.Timestamp(key[len(READING_KEY):]): Reading.from_json(text).source
              for key, text in runner.manager.db.meta_items(READING_KEY).items()}
    assert sorted(ts for ts, source in stored.items() if source == "history") == \
        list(index[22:26])
