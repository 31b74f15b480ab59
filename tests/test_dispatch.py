"""Hand-computed cases of the six-phase rules and the other strategies (pvbess.simulate)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pvbess import Battery, DataError, SixPhaseRules, kpis, physics, simulate

TZ = "America/Lima"


def site(start: str, pv, ev, mall, freq: str = "h") -> pd.DataFrame:
    """A site table starting at local time ``start`` (e.g. '2024-03-01 06:00')."""
    n = max(len(np.atleast_1d(x)) for x in (pv, ev, mall))
    idx = pd.date_range(start, periods=n, freq=freq, tz=TZ)
    return pd.DataFrame({"pv_kwh": np.broadcast_to(np.asarray(pv, float), n),
                         "ev_kwh": np.broadcast_to(np.asarray(ev, float), n),
                         "mall_kwh": np.broadcast_to(np.asarray(mall, float), n)}, index=idx)


def battery(**kw) -> Battery:
    base = dict(capacity_kwh=1000.0, power_charge_kw=100.0, power_discharge_kw=100.0,
                eta_charge=0.9, eta_discharge=0.9, soc_min=0.2, soc_max=1.0, soc_initial=0.2)
    base.update(kw)
    return Battery(**base)


RULES = SixPhaseRules(peak_threshold_kw=400.0)


def col(b, name):
    return b[name].to_numpy()


# -- physics helpers --------------------------------------------------------------------------

def test_physics_limits_and_update():
    assert physics.charge_limit(950.0, 1000.0, 0.5, 400.0, 1.0) == 100.0
    assert physics.charge_limit(200.0, 1000.0, 0.9, 100.0, 0.25) == 25.0
    assert physics.charge_limit(1000.0, 1000.0, 0.9, 100.0, 1.0) == 0.0
    assert physics.discharge_limit(250.0, 200.0, 0.8, 100.0, 1.0) == pytest.approx(40.0)
    assert physics.discharge_limit(200.0, 200.0, 0.8, 100.0, 1.0) == 0.0
    assert physics.discharge_limit(900.0, 200.0, 0.8, 100.0, 0.5) == 50.0
    assert physics.apply_step(500.0, 100.0, 0.0, 0.9, 0.9, 200.0, 1000.0) == pytest.approx(590.0)
    assert physics.apply_step(500.0, 0.0, 90.0, 0.9, 0.9, 200.0, 1000.0) == pytest.approx(400.0)
    # the clamp only removes rounding: a full discharge lands exactly on E_min
    e = 200.0 + 1.0 / 3.0
    d = physics.discharge_limit(e, 200.0, 0.7, 1e9, 1.0)
    assert physics.apply_step(e, 0.0, d, 0.9, 0.7, 200.0, 1000.0) == 200.0
    assert physics.step_loss(100.0, 0.0, 0.9, 0.8) == pytest.approx(10.0)
    assert physics.step_loss(0.0, 80.0, 0.9, 0.8) == pytest.approx(20.0)


# -- the six phases ---------------------------------------------------------------------------

def test_morning_charge_phase_1():
    # 06:00-08:00, PV charges the battery first (100 kW), the rest serves the mall
    b = simulate(site("2024-03-01 06:00", [150.0, 150.0, 30.0], 0.0, 50.0), battery(), RULES)
    assert list(col(b, "phase")) == [1, 1, 1]
    np.testing.assert_allclose(col(b, "pv_to_bess_kwh"), [100.0, 100.0, 30.0])
    np.testing.assert_allclose(col(b, "pv_to_mall_kwh"), [50.0, 50.0, 0.0])
    np.testing.assert_allclose(col(b, "grid_to_mall_kwh"), [0.0, 0.0, 50.0])
    np.testing.assert_allclose(col(b, "soe_end_kwh"), [290.0, 380.0, 407.0])
    np.testing.assert_allclose(col(b, "bess_loss_kwh"), [10.0, 10.0, 3.0])
    assert col(b, "bess_discharge_kwh").sum() == 0.0


def test_morning_charge_limited_by_room():
    # 50 kWh of room at eta_c 0.9 -> at most 55.56 kWh AC; the rest goes to the mall and export
    b = simulate(site("2024-03-01 07:00", 200.0, 0.0, 100.0), battery(soc_initial=0.95),
                 RULES)
    assert b["pv_to_bess_kwh"].iloc[0] == pytest.approx(50.0 / 0.9)
    assert b["soe_end_kwh"].iloc[0] == 1000.0
    assert b["pv_export_kwh"].iloc[0] == pytest.approx(200.0 - 100.0 - 50.0 / 0.9)


def test_ev_priority_phase_2():
    # 09:00: PV -> EV (80) -> battery (40) -> mall (0); mall from the grid
    b = simulate(site("2024-03-01 09:00", 120.0, 80.0, 100.0), battery(), RULES)
    r = b.iloc[0]
    assert r["phase"] == 2
    assert (r["pv_to_ev_kwh"], r["pv_to_bess_kwh"], r["pv_to_mall_kwh"]) == (80.0, 40.0, 0.0)
    assert r["grid_to_mall_kwh"] == 100.0 and r["grid_to_ev_kwh"] == 0.0
    assert r["soe_end_kwh"] == pytest.approx(236.0)


def test_holding_phase_3():
    # SOC 0.5 >= hold_soc 0.5: no charging; PV -> EV -> mall -> export
    rules = RULES.replace(hold_soc=0.5)
    b = simulate(site("2024-03-01 11:00", [300.0, 300.0], 50.0, 100.0),
                 battery(soc_initial=0.5), rules)
    assert list(col(b, "phase")) == [3, 3]
    np.testing.assert_allclose(col(b, "pv_to_bess_kwh"), 0.0)
    np.testing.assert_allclose(col(b, "pv_export_kwh"), 150.0)
    np.testing.assert_allclose(col(b, "soe_end_kwh"), 500.0)


def test_peak_shaving_by_discharge_phase_4():
    # no PV, mall 500 and 550 kWh against a 400 kW threshold: discharge 100 (the second one
    # power-limited), grid 400 and 450
    b = simulate(site("2024-03-01 12:00", 0.0, 0.0, [500.0, 550.0, 300.0]), battery(
        soc_initial=0.6), RULES)
    assert list(col(b, "phase")) == [4, 4, 2]
    np.testing.assert_allclose(col(b, "bess_to_mall_kwh"), [100.0, 100.0, 0.0])
    np.testing.assert_allclose(col(b, "grid_to_mall_kwh"), [400.0, 450.0, 300.0])
    np.testing.assert_allclose(col(b, "soe_end_kwh"), [600 - 100 / 0.9, 600 - 200 / 0.9,
                                                   600 - 200 / 0.9])


def test_no_peak_shaving_before_peak_start():
    b = simulate(site("2024-03-01 09:00", 0.0, 0.0, 500.0), battery(soc_initial=0.6), RULES)
    assert b["bess_discharge_kwh"].iloc[0] == 0.0 and b["phase"].iloc[0] == 2


def test_peak_shaving_takes_back_the_charge():
    # PV 300 charges 100 first (phase 2); mall 650 leaves g = 450 > 400: take back 50 of the
    # charge (no losses), no discharge
    b = simulate(site("2024-03-01 12:00", 300.0, 0.0, 650.0), battery(), RULES)
    r = b.iloc[0]
    assert r["pv_to_bess_kwh"] == 50.0 and r["pv_to_mall_kwh"] == 250.0
    assert r["bess_discharge_kwh"] == 0.0 and r["grid_to_mall_kwh"] == 400.0
    assert r["soe_end_kwh"] == pytest.approx(245.0) and r["phase"] == 4


def test_peak_shaving_takes_back_then_discharges():
    # mall 800: g = 600, need 200: take back the whole charge (100), then discharge 100
    b = simulate(site("2024-03-01 12:00", 300.0, 0.0, 800.0), battery(soc_initial=0.5), RULES)
    r = b.iloc[0]
    assert r["pv_to_bess_kwh"] == 0.0 and r["bess_charge_kwh"] == 0.0
    assert r["pv_to_mall_kwh"] == 300.0 and r["bess_to_mall_kwh"] == 100.0
    assert r["grid_to_mall_kwh"] == 400.0
    assert r["soe_end_kwh"] == pytest.approx(500.0 - 100.0 / 0.9) and r["phase"] == 4


def test_ev_deficit_phase_5_first_in_the_budget():
    rules = RULES.replace(closure_start_h=21.0)
    # 19:00: EV 80 fully from the battery; 20:00: EV 150, power 100 -> grid 50 and no peak
    # shaving left for the mall (the budget is spent on the EVs first)
    b = simulate(site("2024-03-01 19:00", 0.0, [80.0, 150.0], [100.0, 600.0]),
                 battery(soc_initial=0.6), rules)
    assert list(col(b, "phase")) == [5, 5]
    np.testing.assert_allclose(col(b, "bess_to_ev_kwh"), [80.0, 100.0])
    np.testing.assert_allclose(col(b, "grid_to_ev_kwh"), [0.0, 50.0])
    np.testing.assert_allclose(col(b, "bess_to_mall_kwh"), [0.0, 0.0])
    np.testing.assert_allclose(col(b, "grid_to_mall_kwh"), [100.0, 600.0])


def test_ev_deficit_limited_by_stored_energy():
    rules = RULES.replace(closure_start_h=21.0)
    b = simulate(site("2024-03-01 19:00", 0.0, 80.0, 100.0), battery(soc_initial=0.25), rules)
    # 50 kWh above E_min deliver 45 kWh AC
    assert b["bess_to_ev_kwh"].iloc[0] == pytest.approx(45.0)
    assert b["grid_to_ev_kwh"].iloc[0] == pytest.approx(35.0)
    assert b["soe_end_kwh"].iloc[0] == 200.0


def test_closure_spreads_evenly_to_soc_min():
    # 17:00-21:00 with 500 kWh above E_min, eta_d 0.9: 450 kWh AC over 5 h = 90 per step
    s = site("2024-03-01 17:00", np.zeros(6), 0.0, 300.0)
    b = simulate(s, battery(soc_initial=0.7, power_discharge_kw=200.0),
                 RULES.replace(peak_threshold_kw=math.inf))
    np.testing.assert_allclose(col(b, "bess_to_mall_kwh"), [90.0] * 5 + [0.0])
    np.testing.assert_allclose(col(b, "soe_end_kwh"), [600, 500, 400, 300, 200, 200], atol=1e-9)
    assert list(col(b, "phase")) == [5, 5, 5, 5, 5, 6]
    k = kpis(b)
    assert (k["closure_days"], k["closure_miss_days"]) == (1.0, 0.0)


def test_closure_counts_ev_and_peak_deliveries():
    # EV 30 per step is served first and counts toward the 90 kWh target; the mall gets 60
    s = site("2024-03-01 17:00", np.zeros(5), 30.0, 300.0)
    b = simulate(s, battery(soc_initial=0.7, power_discharge_kw=200.0),
                 RULES.replace(peak_threshold_kw=math.inf))
    np.testing.assert_allclose(col(b, "bess_to_ev_kwh"), 30.0)
    np.testing.assert_allclose(col(b, "bess_to_mall_kwh"), 60.0)
    assert b["soe_end_kwh"].iloc[-1] == pytest.approx(200.0, abs=1e-9)


def test_closure_takes_back_pv_charge_before_discharging():
    # 17:00, PV 50 would charge (phase 2) but the closure first sends it to the mall, then
    # discharges its target (90 kWh) into the remaining draw
    s = site("2024-03-01 17:00", [50.0, 0.0, 0.0, 0.0, 0.0], 0.0, 300.0)
    b = simulate(s, battery(soc_initial=0.7, power_discharge_kw=200.0),
                 RULES.replace(peak_threshold_kw=math.inf))
    r = b.iloc[0]
    assert r["pv_to_bess_kwh"] == 0.0 and r["pv_to_mall_kwh"] == 50.0
    assert r["bess_to_mall_kwh"] == pytest.approx(90.0)
    assert r["grid_to_mall_kwh"] == pytest.approx(160.0)
    assert b["soe_end_kwh"].iloc[-1] == pytest.approx(200.0, abs=1e-9)


def test_closure_takeback_alone_keeps_charging_the_rest():
    # 17:00, PV 120 charges 100 (phase 2), 20 to the mall, whose remaining draw is 30: the
    # closure takes 30 back from the charge; 70 stay in the battery, so no discharge (never both)
    s = site("2024-03-01 17:00", 120.0, 0.0, 50.0)
    b = simulate(s, battery(soc_initial=0.7), RULES.replace(peak_threshold_kw=math.inf))
    r = b.iloc[0]
    assert r["pv_to_bess_kwh"] == pytest.approx(70.0) and r["pv_to_mall_kwh"] == 50.0
    assert r["bess_discharge_kwh"] == 0.0 and r["grid_to_mall_kwh"] == 0.0
    assert r["soe_end_kwh"] == pytest.approx(700.0 + 0.9 * 70.0) and r["phase"] == 2


def test_closure_miss_under_power_limit():
    # 500 kWh above E_min (eta_d 1) but only 50 kW for 5 h: 250 delivered, the day is a miss
    # that the power did not allow; the battery idles at 450 kWh, nothing is dumped
    s = site("2024-03-01 17:00", np.zeros(7), 0.0, 300.0)
    b = simulate(s, battery(soc_initial=0.7, power_discharge_kw=50.0, eta_discharge=1.0),
                 RULES.replace(peak_threshold_kw=math.inf))
    np.testing.assert_allclose(col(b, "bess_to_mall_kwh"), [50.0] * 5 + [0.0, 0.0])
    np.testing.assert_allclose(col(b, "soe_end_kwh")[-3:], 450.0)
    k = kpis(b)
    assert k["closure_miss_days"] == 1.0
    assert k["closure_miss_power_allowed_days"] == 0.0


def test_closure_miss_that_the_power_allowed_is_counted():
    # enough power, but the mall only takes 20 kWh per step: a miss the power allowed
    s = site("2024-03-01 17:00", np.zeros(5), 0.0, 20.0)
    b = simulate(s, battery(soc_initial=0.7, eta_discharge=1.0), RULES)
    k = kpis(b)
    assert (k["closure_miss_days"], k["closure_miss_power_allowed_days"]) == (1.0, 1.0)


def test_ev_outside_opening_hours_is_served():
    # 05:00 night (PV -> EV), 07:00 morning (battery first, then EV), 23:00 night from the grid
    s = site("2024-03-01 05:00", [10.0, 0.0, 150.0], 40.0, 0.0)
    b = simulate(s, battery(), RULES)
    np.testing.assert_allclose(col(b, "pv_to_ev_kwh"), [10.0, 0.0, 40.0])
    np.testing.assert_allclose(col(b, "grid_to_ev_kwh"), [30.0, 40.0, 0.0])
    np.testing.assert_allclose(col(b, "pv_to_bess_kwh"), [0.0, 0.0, 100.0])
    assert list(col(b, "phase")) == [6, 1, 1]
    b = simulate(site("2024-03-01 23:00", 0.0, 40.0, 0.0), battery(soc_initial=0.9), RULES)
    assert b["grid_to_ev_kwh"].iloc[0] == 40.0 and b["bess_discharge_kwh"].iloc[0] == 0.0


def test_export_limit_curtails():
    rules = RULES.replace(hold_soc=0.5, export_limit_kw=150.0)
    b = simulate(site("2024-03-01 13:00", 500.0, 0.0, 100.0), battery(soc_initial=0.5), rules)
    r = b.iloc[0]
    assert (r["pv_export_kwh"], r["pv_curtailed_kwh"]) == (150.0, 250.0)
    b = simulate(site("2024-03-01 13:00", 500.0, 0.0, 100.0), battery(), rules,
                 strategy="pv_only")
    assert (b["pv_export_kwh"].iloc[0], b["pv_curtailed_kwh"].iloc[0]) == (150.0, 250.0)
    # 15-minute steps: 150 kW allows 37.5 kWh per step
    b = simulate(site("2024-03-01 13:00", [125.0, 125.0], 0.0, 25.0, freq="15min"),
                 battery(soc_initial=0.5), rules)
    np.testing.assert_allclose(col(b, "pv_export_kwh"), 37.5)
    np.testing.assert_allclose(col(b, "pv_curtailed_kwh"), 62.5)


def test_quarter_hour_steps():
    # P = 100 kW -> 25 kWh per 15-minute step; closure spreads over 20 quarter-hours
    s = site("2024-03-01 06:00", 50.0, 0.0, 10.0, freq="15min")
    b = simulate(s.iloc[:4], battery(), RULES)
    np.testing.assert_allclose(col(b, "pv_to_bess_kwh"), 25.0)
    np.testing.assert_allclose(col(b, "pv_to_mall_kwh"), 10.0)
    np.testing.assert_allclose(col(b, "pv_export_kwh"), 15.0)
    s = site("2024-03-01 17:00", np.zeros(24), 0.0, 300.0, freq="15min")
    b = simulate(s, battery(soc_initial=0.7, power_discharge_kw=400.0),
                 RULES.replace(peak_threshold_kw=math.inf))
    np.testing.assert_allclose(col(b, "bess_to_mall_kwh")[:20], 450.0 / 20)
    np.testing.assert_allclose(col(b, "bess_to_mall_kwh")[20:], 0.0)
    assert b["soe_end_kwh"].iloc[19] == pytest.approx(200.0, abs=1e-9)
    # peak shaving per quarter-hour: threshold 400 kW = 100 kWh per step
    s = site("2024-03-01 12:00", 0.0, 0.0, [130.0, 110.0], freq="15min")
    b = simulate(s, battery(soc_initial=0.6), RULES)
    np.testing.assert_allclose(col(b, "bess_to_mall_kwh"), [25.0, 10.0])
    np.testing.assert_allclose(col(b, "grid_to_mall_kwh"), [105.0, 100.0])


def test_a_full_day_by_hand():
    # a small day with eta 1: morning charge, EV from PV, hold, peak shave, closure
    hours = np.arange(24)
    pv = np.where((hours >= 6) & (hours < 18), 200.0, 0.0)
    ev = np.where((hours >= 9) & (hours < 22), 50.0, 0.0)
    mall = np.full(24, 100.0)
    mall[12] = 600.0
    b = simulate(site("2024-03-01 00:00", pv, ev, mall),
                 battery(eta_charge=1.0, eta_discharge=1.0, soc_initial=0.2,
                         power_discharge_kw=200.0), RULES.replace(hold_soc=0.7))
    soc = col(b, "soe_end_kwh")
    # 06-08 charge 100/h -> 500; 09-10 charge 100 -> 700 (hold from 0.7); 11 hold
    np.testing.assert_allclose(soc[5:12], [200, 300, 400, 500, 600, 700, 700])
    # 12:00 holds (SOC 0.7), PV 200 -> EV 50 -> mall 150; g = 450 > 400: discharge 50
    assert b["bess_to_mall_kwh"].iloc[12] == 50.0 and soc[12] == 650.0
    # 13:00 SOC 0.65 charges 100 -> 750, then holds; 17:00 closure: PV 200 covers EV 50 and
    # the mall 100, so nothing is left to discharge into; 18-21 spread 550 over 4 h: 137.5 per
    # step, EV 50 first, the mall 87.5
    np.testing.assert_allclose(soc[13:18], 750.0)
    assert b["bess_discharge_kwh"].iloc[17] == 0.0 and b["pv_export_kwh"].iloc[17] == 50.0
    np.testing.assert_allclose(col(b, "bess_to_ev_kwh")[18:22], 50.0)
    np.testing.assert_allclose(col(b, "bess_to_mall_kwh")[18:22], 87.5)
    assert soc[21] == pytest.approx(200.0, abs=1e-9)
    assert list(col(b, "phase")[[0, 6, 9, 11, 12, 18, 22]]) == [6, 1, 2, 3, 4, 5, 6]


# -- the other strategies ---------------------------------------------------------------------

def test_grid_only_and_pv_only():
    s = site("2024-03-01 12:00", [300.0, 50.0], [50.0, 100.0], [100.0, 100.0])
    g = simulate(s, battery(), RULES, strategy="grid_only")
    np.testing.assert_allclose(col(g, "grid_import_kwh"), [150.0, 200.0])
    np.testing.assert_allclose(col(g, "pv_curtailed_kwh"), [300.0, 50.0])
    assert (col(g, "phase") == 0).all()
    p = simulate(s, battery(), RULES, strategy="pv_only")
    np.testing.assert_allclose(col(p, "pv_export_kwh"), [150.0, 0.0])
    np.testing.assert_allclose(col(p, "grid_to_mall_kwh"), [0.0, 100.0])
    np.testing.assert_allclose(col(p, "grid_to_ev_kwh"), [0.0, 50.0])
    np.testing.assert_allclose(col(p, "soe_end_kwh"), 200.0)


def test_self_consumption():
    s = site("2024-03-01 22:00", [300.0, 0.0, 0.0], [50.0, 100.0, 0.0], [100.0, 100.0, 10.0])
    b = simulate(s, battery(), RULES, strategy="self_consumption")
    np.testing.assert_allclose(col(b, "pv_to_bess_kwh"), [100.0, 0.0, 0.0])
    np.testing.assert_allclose(col(b, "pv_export_kwh"), [50.0, 0.0, 0.0])
    # 90 stored -> 81 AC: EV first
    np.testing.assert_allclose(col(b, "bess_to_ev_kwh"), [0.0, 81.0, 0.0])
    np.testing.assert_allclose(col(b, "grid_to_ev_kwh"), [0.0, 19.0, 0.0])
    np.testing.assert_allclose(col(b, "soe_end_kwh"), [290.0, 200.0, 200.0])


def test_schedule_clips_and_reports_the_deviation():
    s = site("2024-03-01 12:00", [300.0, 300.0, 0.0, 0.0], [0.0, 0.0, 50.0, 50.0], 100.0)
    sp = [150.0, 50.0, -80.0, -300.0]
    b = simulate(s, battery(soc_initial=0.5), RULES, strategy="schedule", setpoint_kwh=sp)
    # +150 clipped to 100 by power; +50 followed from PV; -80 followed (EV 50 then mall 30);
    # -300 clipped to 100 by power (EV 50, mall 50)
    np.testing.assert_allclose(col(b, "bess_charge_kwh"), [100.0, 50.0, 0.0, 0.0])
    np.testing.assert_allclose(col(b, "bess_discharge_kwh"), [0.0, 0.0, 80.0, 100.0])
    np.testing.assert_allclose(col(b, "bess_to_ev_kwh"), [0.0, 0.0, 50.0, 50.0])
    np.testing.assert_allclose(col(b, "setpoint_deviation_kwh"), [-50.0, 0.0, 0.0, 200.0])
    np.testing.assert_allclose(col(b, "grid_to_bess_kwh"), 0.0)
    assert (col(b, "phase") == 0).all()
    # a charge without PV surplus is refused unless grid charging is allowed
    s = site("2024-03-01 01:00", 0.0, 0.0, 100.0)
    b = simulate(s, battery(), RULES, strategy="schedule", setpoint_kwh=[60.0])
    assert b["bess_charge_kwh"].iloc[0] == 0.0
    assert b["setpoint_deviation_kwh"].iloc[0] == -60.0
    b = simulate(s, battery(), RULES, strategy="schedule", setpoint_kwh=[60.0],
                 allow_grid_charge=True)
    assert b["grid_to_bess_kwh"].iloc[0] == 60.0 and b["grid_import_kwh"].iloc[0] == 160.0
    assert b["soe_end_kwh"].iloc[0] == pytest.approx(254.0)


def test_schedule_battery_export():
    s = site("2024-03-01 01:00", 0.0, 0.0, 30.0)
    b = simulate(s, battery(soc_initial=0.8), RULES, strategy="schedule", setpoint_kwh=[-90.0])
    assert b["bess_discharge_kwh"].iloc[0] == 30.0 and b["bess_export_kwh"].iloc[0] == 0.0
    b = simulate(s, battery(soc_initial=0.8), RULES.replace(export_limit_kw=40.0),
                 strategy="schedule", setpoint_kwh=[-90.0], allow_battery_export=True)
    # 30 to the mall, 40 exported (the export limit), deviation 20
    assert b["bess_to_mall_kwh"].iloc[0] == 30.0 and b["bess_export_kwh"].iloc[0] == 40.0
    assert b["setpoint_deviation_kwh"].iloc[0] == pytest.approx(20.0)


# -- the table and its errors -----------------------------------------------------------------

def test_table_schema_and_attrs():
    s = site("2024-03-01 00:00", 0.0, 0.0, 100.0)
    b = simulate(s)
    assert b.index.equals(s.index)
    assert b.attrs["strategy"] == "six_phase" and b.attrs["dt_h"] == 1.0
    assert Battery.from_dict(b.attrs["battery"]) == Battery()
    assert b["tariff_period"].iloc[0] == "HFP"
    assert b["co2_kg"].iloc[0] == pytest.approx(45.21)
    assert b["energy_cost_pen"].iloc[0] == pytest.approx(28.0)
    assert b["setpoint_kwh"].isna().all()


@pytest.mark.parametrize("mutate, words", [
    (lambda f: f.assign(ev_kwh=f.ev_kwh.where(f.index != f.index[3], -1.0)),
     ["ev_kwh", "row 3", "kWh"]),
    (lambda f: f.assign(mall_kwh=f.mall_kwh.where(f.index != f.index[2], np.nan)),
     ["mall_kwh", "row 2"]),
    (lambda f: f.drop(columns="pv_kwh"), ["pv_kwh", "missing"]),
    (lambda f: f.tz_localize(None), ["tz-aware"]),
    (lambda f: f.drop(index=f.index[4]), ["gap", "row 4"]),
])
def test_bad_input_is_named(mutate, words):
    s = mutate(site("2024-03-01 00:00", np.zeros(8), 0.0, 100.0))
    with pytest.raises(DataError) as err:
        simulate(s)
    for w in words:
        assert w in str(err.value)


def test_bad_options():
    s = site("2024-03-01 00:00", np.zeros(3), 0.0, 100.0)
    with pytest.raises(ValueError, match="strategy"):
        simulate(s, strategy="magic")
    with pytest.raises(DataError, match="setpoint"):
        simulate(s, strategy="schedule")
    with pytest.raises(DataError, match="row 1"):
        simulate(s, strategy="schedule", setpoint_kwh=[0.0, np.nan, 0.0])
    with pytest.raises(DataError, match="expected 3"):
        simulate(s, strategy="schedule", setpoint_kwh=[0.0])
    with pytest.raises(ValueError, match="schedule"):
        simulate(s, setpoint_kwh=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="schedule"):
        simulate(s, allow_grid_charge=True)
    with pytest.raises(DataError, match="no rows"):
        simulate(s.iloc[:0])
    one = simulate(s.iloc[:1])  # one step is enough when the index knows its frequency
    assert one["grid_import_kwh"].iloc[0] == 100.0
