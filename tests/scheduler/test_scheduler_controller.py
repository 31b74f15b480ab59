"""SimulatedController physics and the TOU intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sched_synthetic import make_site, small_battery

from pvbess import Battery, SimulatedController, tou_intervals
from pvbess.optimize.result import evaluate_plan
from pvbess.physics import site_step
from pvbess.scheduler.controller import (GUARD_TOL_KWH, Controller, Program, as_program,
                                         guarded_step, program_from_intervals)
from pvbess.scheduler.events import day_index, period_of
from pvbess.scheduler.replay import site_actuals

TZ = "America/Lima"


def one_period(load, pv, setpoint, e0, battery, sell=0.1, **options):
    idx = pd.date_range("2024-03-01 10:00", periods=2, freq="h", tz=TZ)
    actual = pd.DataFrame({"load_kwh": [load, 0.0], "pv_kwh": [pv, 0.0],
                           "buy_price": [0.3, 0.3], "sell_price": [sell, 0.1]}, index=idx)
    ctl = SimulatedController(actual, battery, initial_kwh=e0, **options)
    ctl.apply(pd.Series([setpoint], index=idx[:1]))
    return ctl.run_period(), ctl


def test_hand_cases():
    b = Battery(capacity_kwh=100, power_charge_kw=20, power_discharge_kw=30, eta_charge=0.9,
                eta_discharge=0.8, soc_min=0.1, soc_max=0.9, soc_initial=0.5,
                wear_cost_per_kwh=0.01)
    e, ctl = one_period(10.0, 0.0, 50.0, 50.0, b)  # power limit
    assert e.bess_charge_kwh == 20.0 and e.grid_import_kwh == 30.0
    assert e.soe_end_kwh == pytest.approx(68.0) and ctl.read_energy_kwh() == e.soe_end_kwh
    assert e.wear_cost == pytest.approx(0.01 * 18.0)
    e, _ = one_period(10.0, 0.0, 50.0, 85.0, b)  # headroom: (90 - 85) / 0.9
    assert e.bess_charge_kwh == pytest.approx(5 / 0.9) and e.soe_end_kwh == 90.0
    e, _ = one_period(10.0, 0.0, -50.0, 50.0, b)  # discharge into export
    assert e.bess_discharge_kwh == 30.0 and e.grid_export_kwh == pytest.approx(20.0)
    assert e.soe_end_kwh == pytest.approx(50 - 30 / 0.8)
    e, _ = one_period(10.0, 0.0, -50.0, 50.0, b, allow_battery_export=False)
    assert e.bess_discharge_kwh == 10.0 and e.grid_export_kwh == 0.0
    e, _ = one_period(10.0, 15.0, 20.0, 50.0, b, allow_grid_charge=False)
    assert e.bess_charge_kwh == 5.0 and e.grid_import_kwh == 0.0
    e, _ = one_period(10.0, 50.0, 0.0, 50.0, b, export_limit_kw=25.0)
    assert e.grid_export_kwh == 25.0 and e.pv_curtailed_kwh == 15.0
    e, _ = one_period(10.0, 50.0, 0.0, 50.0, b, sell=-0.05)  # negative price: curtail
    assert e.grid_export_kwh == 0.0 and e.pv_curtailed_kwh == 40.0
    e, _ = one_period(10.0, 5.0, -30.0, 50.0, b, sell=-0.05)  # battery export is not PV
    assert e.grid_export_kwh == pytest.approx(20.0) and e.pv_curtailed_kwh == pytest.approx(5.0)
    e, _ = one_period(10.0, 0.0, -50.0, 12.0, b)  # nothing left above soc_min
    assert e.bess_discharge_kwh == pytest.approx(2.0 * 0.8) and e.soe_end_kwh == 10.0


@settings(max_examples=200, deadline=None)
@given(load=st.floats(0, 500), pv=st.floats(0, 500), setpoint=st.floats(-400, 400),
       soc=st.floats(0.2, 1.0), grid_charge=st.booleans(), export=st.booleans(),
       xlim=st.sampled_from([math.inf, 0.0, 50.0]), sell=st.sampled_from([0.1, -0.1]))
def test_energy_closes_and_stays_in_the_window(load, pv, setpoint, soc, grid_charge, export,
                                               xlim, sell):
    b = Battery(capacity_kwh=1000, power_charge_kw=200, power_discharge_kw=150)
    e, _ = one_period(load, pv, setpoint, soc * 1000, b, sell=sell, allow_grid_charge=grid_charge,
                      allow_battery_export=export, export_limit_kw=xlim)
    lhs = e.load_kwh + e.bess_charge_kwh + e.grid_export_kwh + e.pv_curtailed_kwh
    rhs = e.pv_kwh + e.bess_discharge_kwh + e.grid_import_kwh
    assert lhs == pytest.approx(rhs, abs=1e-9 * (1 + lhs))
    assert b.e_min_kwh <= e.soe_end_kwh <= b.e_max_kwh
    assert e.bess_charge_kwh * e.bess_discharge_kwh == 0
    assert e.pv_curtailed_kwh <= e.pv_kwh + 1e-9
    stored = b.eta_charge * e.bess_charge_kwh - e.bess_discharge_kwh / b.eta_discharge
    assert e.soe_end_kwh - e.soe_start_kwh == pytest.approx(stored, abs=1e-9)
    if not grid_charge:
        assert e.bess_charge_kwh <= max(pv - load, 0.0) + 1e-9
    if not export:
        assert e.bess_discharge_kwh <= max(load - pv, 0.0) + 1e-9


def test_executing_a_plan_on_its_own_forecast_reproduces_the_plant_check():
    """Same physics: the controller's meter equals evaluate_plan's, period by period."""
    site = make_site(days=1, seed=11)
    actual = site_actuals(site)
    b = small_battery()
    # alternating charge/discharge keeps the trajectory inside the window
    res = evaluate_plan(actual["buy_price"], actual["sell_price"], actual["load_kwh"],
                        actual["pv_kwh"], b, setpoint_kwh=np.where(
                            np.arange(len(actual)) % 2 == 0, 20.0, -15.0))
    ctl = SimulatedController(actual, b)
    assert isinstance(ctl, Controller)
    ctl.apply(res.periods["setpoint_kwh"])
    events = [ctl.run_period() for _ in range(len(actual))]
    got = pd.DataFrame([e.as_row() for e in events]).set_index("timestamp")
    for mine, theirs in (("grid_import_kwh", "grid_import_kwh"), ("grid_export_kwh", "grid_export_kwh"),
                         ("bess_charge_kwh", "bess_charge_kwh"), ("soe_end_kwh", "soe_end_kwh"),
                         ("bess_discharge_kwh", "bess_discharge_kwh")):
        np.testing.assert_allclose(got[mine].to_numpy(), res.periods[theirs].to_numpy(),
                                   rtol=0, atol=1e-9, err_msg=mine)
    assert ctl.finished and ctl.now is None
    with pytest.raises(RuntimeError, match="no periods left"):
        ctl.run_period()


def test_an_unprogrammed_controller_idles_and_keeps_its_records():
    actual = site_actuals(make_site(days=1))
    ctl = SimulatedController(actual, small_battery(), start=actual.index[5])
    e = ctl.run_period()
    assert e.timestamp == actual.index[5] and e.bess_charge_kwh == 0.0
    assert e.bess_discharge_kwh == 0.0 and e.soe_end_kwh == e.soe_start_kwh
    assert ctl.read_period(actual.index[5]) == e and ctl.read_period(actual.index[6]) is None
    with pytest.raises(ValueError, match="outside the battery window"):
        SimulatedController(actual, small_battery(), initial_kwh=1e6)


def test_tou_intervals_hand_case():
    idx = pd.date_range("2024-03-01", periods=6, freq="h", tz=TZ)
    program = pd.Series([0.0, 50.0, 50.0, 20.0, -30.0, -30.0], index=idx)
    tou = tou_intervals(program)
    assert tou["mode"].tolist() == ["idle", "charge", "charge", "discharge"]
    assert tou["power_kw"].tolist() == [0.0, 50.0, 20.0, 30.0]
    assert tou["periods"].tolist() == [1, 2, 1, 2]
    assert tou["start"].iloc[1] == idx[1] and tou["end"].iloc[-1] == idx[-1] + pd.Timedelta("1h")
    assert tou["energy_kwh"].tolist() == [0.0, 100.0, 20.0, 60.0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([0.0, 12.5, 40.0, -7.25, -40.0]), min_size=1, max_size=48),
       st.sampled_from([1.0, 0.25]))
def test_tou_round_trip(values, dt_h):
    idx = pd.date_range("2024-03-01", periods=len(values), freq=pd.Timedelta(hours=dt_h), tz=TZ)
    program = pd.Series(values, index=idx)
    tou = tou_intervals(program)
    assert tou["periods"].sum() == len(values)
    same = (tou["mode"].to_numpy()[1:] == tou["mode"].to_numpy()[:-1]) & \
        (np.diff(tou["power_kw"].to_numpy()) == 0)
    assert not same.any()  # neighbouring windows always differ
    back = program_from_intervals(tou, idx)
    np.testing.assert_allclose(back.to_numpy(), program.to_numpy(), rtol=1e-12, atol=1e-12)


# -- the peak guard --------------------------------------------------------------------------

def _step_args(load, pv, e, b, grid_charge, export, xlim, sell):
    return (e, load, pv, 0.3, sell, b.e_min_kwh, b.e_max_kwh, b.eta_charge, b.eta_discharge,
            b.power_charge_kw, b.power_discharge_kw, grid_charge, export, xlim, math.inf,
            math.inf, True)


@settings(max_examples=400, deadline=None)
@given(load=st.floats(0, 500), pv=st.floats(0, 500), setpoint=st.floats(-400, 400),
       cap=st.one_of(st.floats(0, 600), st.just(math.inf)), soc=st.floats(0.2, 1.0),
       grid_charge=st.sampled_from([0, 1, 2]), export=st.booleans(),
       xlim=st.sampled_from([math.inf, 0.0, 50.0]), sell=st.sampled_from([0.1, -0.1]))
def test_peak_guard_invariants(load, pv, setpoint, cap, soc, grid_charge, export, xlim, sell):
    """The guard: energy closes, the window holds, never charge and discharge at once, never
    more import than the program, and above the cap only what a full discharge leaves."""
    b = Battery(capacity_kwh=1000, power_charge_kw=200, power_discharge_kw=150)
    args = _step_args(load, pv, soc * 1000, b, grid_charge, export, xlim, sell)
    plain = site_step(setpoint, *args)
    c, d, imp, exp, u, e1 = guarded_step(setpoint, cap, *args)
    lhs = load + c + exp + u
    assert lhs == pytest.approx(pv + d + imp, abs=1e-9 * (1 + lhs))
    assert b.e_min_kwh <= e1 <= b.e_max_kwh
    assert e1 - soc * 1000 == pytest.approx(b.eta_charge * c - d / b.eta_discharge, abs=1e-9)
    assert c * d == 0 and c >= 0 and d >= 0
    assert imp <= plain[2] + 1e-12
    if plain[2] <= cap + GUARD_TOL_KWH:
        assert (c, d, imp, exp, u, e1) == plain  # nothing to guard: the program runs
    else:
        full = site_step(-1e9, *args)[2]  # the import left by the largest discharge
        assert imp == pytest.approx(max(cap, full), abs=1e-9)


def test_peak_guard_hand_case():
    b = Battery(capacity_kwh=100, power_charge_kw=20, power_discharge_kw=30, eta_charge=0.9,
                eta_discharge=0.8, soc_min=0.1, soc_max=0.9, soc_initial=0.5)
    idx = pd.date_range("2024-03-01 10:00", periods=2, freq="h", tz=TZ)
    actual = pd.DataFrame({"load_kwh": [100.0, 100.0], "pv_kwh": [0.0, 0.0],
                           "buy_price": [0.3, 0.3], "sell_price": [0.1, 0.1]}, index=idx)
    ctl = SimulatedController(actual, b, initial_kwh=50.0)
    # planned: charge 10; cap 85: the guard drops the charge and discharges 5
    ctl.apply(pd.Series([10.0, -5.0], index=idx), import_cap_kwh=pd.Series([85.0, 0.0], idx))
    assert ctl.import_cap(idx[0]) == 85.0
    e = ctl.run_period()
    assert e.bess_charge_kwh == 0.0 and e.bess_discharge_kwh == pytest.approx(15.0)
    assert e.grid_import_kwh == pytest.approx(85.0)
    e = ctl.run_period()  # cap 0: all that is left above soc_min, (31.25 - 10) * 0.8
    assert e.bess_discharge_kwh == pytest.approx(17.0) and e.grid_import_kwh == \
        pytest.approx(83.0) and e.soe_end_kwh == pytest.approx(10.0)
    with pytest.raises(ValueError, match="import_cap_kwh"):
        ctl.apply(pd.Series([0.0], index=idx[:1]), import_cap_kwh=pd.Series([-1.0], idx[:1]))


@pytest.mark.parametrize("day, periods", [("2024-03-31", 23), ("2024-10-27", 25),
                                          ("2024-06-01", 24)])
def test_a_program_keeps_its_periods_across_a_dst_change(day, periods):
    index = day_index(day, 1.0, "Europe/Berlin")
    assert len(index) == periods
    series = pd.Series(np.linspace(-5.0, 5.0, periods), index=index)
    program = Program.from_series(series, import_cap_kwh=series.abs() + 1.0)
    np.testing.assert_array_equal(program.period_ns, index.asi8)
    pd.testing.assert_series_equal(program.setpoints, series.rename("setpoint_kwh"),
                                   check_freq=False)
    assert as_program(program) is program and as_program(series.iloc[:0]) is None
    for k, ts in enumerate(index):  # the day's periods, as the day index numbers them
        assert period_of(ts, 1.0) == (day, k)
    with pytest.raises(ValueError, match="not the start of a period"):
        period_of(index[1] + pd.Timedelta(minutes=30), 1.0)


def test_a_program_refuses_what_no_plant_can_run():
    start = pd.Timestamp("2024-03-01 10:00", tz=TZ)
    with pytest.raises(ValueError, match="non-finite"):
        Program(start, 1.0, np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="import_cap_kwh"):
        Program(start, 1.0, np.array([1.0, 2.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="import_cap_kwh"):
        Program(start, 1.0, np.array([1.0]), np.array([-0.5]))
    with pytest.raises(ValueError, match="tz-aware"):
        Program(start.tz_localize(None), 1.0, np.array([1.0]))
    with pytest.raises(ValueError, match="put the caps in it"):
        as_program(Program(start, 1.0, np.array([1.0])), pd.Series([1.0]))


def test_a_program_and_its_series_program_the_plant_alike():
    site = site_actuals(make_site(days=1))
    setpoints = pd.Series(np.where(np.arange(24) % 5 == 0, 12.0, -6.0), index=site.index)
    caps = pd.Series(np.full(24, 90.0), index=site.index)
    runs = []
    for program in (Program.from_series(setpoints, caps), setpoints):
        ctl = SimulatedController(site, small_battery())
        ctl.apply(program, None if isinstance(program, Program) else caps)
        runs.append([ctl.run_period() for _ in range(24)])
    assert runs[0] == runs[1]
