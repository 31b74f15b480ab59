"""The peak guard: the plant holds imports the forecast missed under the month's peak."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sched_synthetic import STEP_KWH, make_site, small_battery

from pvbess import (
    OptimizationEngine,
    SimpleBatterySystemManager,
    SimulatedController,
    Tariff,
    replay,
)
from pvbess.scheduler.forecasts import ForecastProvider
from pvbess.scheduler.replay import REPLAY, site_actuals

SITE = make_site(days=3, seed=5)


class LowForecast(ForecastProvider):
    """The actual load, 15 % low (a forecast that misses every peak), and the actual PV."""

    name = "low"

    def _predict(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        return 0.85 * self._load[start:stop], self._pv[start:stop].copy()


def drive(peak_guard: bool):
    """The manager over SITE by hand; yields (cap, planned import, peak before, event)."""
    actual = site_actuals(SITE)
    battery = small_battery()
    ctl = SimulatedController(actual, battery)
    engine = OptimizationEngine(battery, tariff=Tariff(), energy_step_kwh=STEP_KWH)
    mgr = SimpleBatterySystemManager(engine, ctl, LowForecast(actual), peak_guard=peak_guard)
    groups = Tariff().demand_group(actual.index)
    mgr.create_tomorrows_schedule(actual.index[0].date())
    rows = []
    while not ctl.finished:
        ts = ctl.now
        k = int(actual.index.get_loc(ts))
        planned = float(mgr.current_plan.column("grid_import_kwh")[0])
        before = mgr.peaks_kw.get(str(groups[k]), 0.0)
        cap = ctl.import_cap(ts)
        event = ctl.run_period()
        rows.append((cap, planned, before, event))
        if mgr.update_hourly_schedule(event.timestamp) is None and not ctl.finished:
            mgr.create_tomorrows_schedule(ctl.now.date())
    return battery, rows


def test_the_cap_is_the_recorded_or_planned_peak_and_holds_where_the_battery_can():
    battery, rows = drive(peak_guard=True)
    guarded = 0
    for cap, planned, before, ev in rows:
        dt = ev.dt_h
        # never below what the plan imports nor below the month's recorded peak
        assert cap >= planned - 1e-9 and cap >= before * dt - 1e-9
        assert cap == pytest.approx(max(before * dt, cap))
        at_limit = ev.soe_end_kwh <= battery.e_min_kwh + 1e-9 or \
            ev.bess_discharge_kwh >= battery.power_discharge_kw * dt - 1e-9
        assert ev.grid_import_kwh <= cap + 1e-9 or at_limit
        guarded += ev.grid_import_kwh > planned + 1e-6
    assert guarded < len(rows)


def test_without_the_guard_the_controller_has_no_cap():
    _, rows = drive(peak_guard=False)
    assert all(math.isinf(cap) for cap, *_ in rows)


def _replay(**options):
    actual = site_actuals(SITE)
    return replay(SITE, battery=small_battery(), energy_step_kwh=STEP_KWH,
                  forecast=LowForecast(actual), **options)


def test_the_guard_lowers_the_demand_charges_a_low_forecast_lets_through():
    on, off = _replay(peak_guard=True), _replay(peak_guard=False)
    c_on, c_off = on.comparison.loc[REPLAY], off.comparison.loc[REPLAY]
    assert c_on["demand_cost_pen"] < c_off["demand_cost_pen"]
    assert c_on["total_cost_pen"] < c_off["total_cost_pen"]
    bal = on.balance
    lhs = bal["load_kwh"] + bal["bess_charge_kwh"] + bal["grid_export_kwh"] \
        + bal["pv_curtailed_kwh"]
    rhs = bal["pv_kwh"] + bal["bess_discharge_kwh"] + bal["grid_import_kwh"]
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-9)


def test_no_guard_on_energy_only_plans():
    on = _replay(peak_guard=True, bill="energy", compare=False)
    off = _replay(peak_guard=False, bill="energy", compare=False)
    pd.testing.assert_frame_equal(on.balance, off.balance, check_exact=True)


def test_no_cap_where_the_tariff_charges_no_demand():
    """A window without a demand charge is not guarded: holding its import would buy nothing."""
    actual = site_actuals(SITE)
    battery = small_battery()
    tariff = Tariff(demand_hfp_pen_per_kw_month=0.0)
    ctl = SimulatedController(actual, battery)
    engine = OptimizationEngine(battery, tariff=tariff, energy_step_kwh=STEP_KWH)
    mgr = SimpleBatterySystemManager(engine, ctl, LowForecast(actual))
    plan = mgr.create_tomorrows_schedule(actual.index[0].date())
    caps = mgr.import_caps(plan)
    peak = tariff.is_peak(plan.index)
    assert np.isinf(caps[~peak]).all() and np.isfinite(caps[peak]).all()
    assert caps[peak] == pytest.approx(np.full(peak.sum(), plan.column("grid_import_kwh")[peak].max()))


def test_a_new_forecast_over_other_periods_keeps_the_demand_groups_right():
    """A live runner replaces the manager's forecast before each plan (its history grows):
    the caps of a plan are those a manager built on the new forecast gives."""
    actual = site_actuals(SITE)
    battery = small_battery()

    def manager(forecast):
        engine = OptimizationEngine(battery, tariff=Tariff(), energy_step_kwh=STEP_KWH)
        return SimpleBatterySystemManager(engine, SimulatedController(actual, battery),
                                          forecast)

    replaced = manager(LowForecast(actual.iloc[:48]))  # the first two days
    replaced.forecast = LowForecast(actual)  # all three
    fresh = manager(LowForecast(actual))
    day = actual.index[48].date()
    caps = replaced.import_caps(replaced.create_tomorrows_schedule(day))
    np.testing.assert_array_equal(caps, fresh.import_caps(fresh.create_tomorrows_schedule(day)))
    assert np.isfinite(caps).any()
    other_zone = actual.tz_convert("UTC")
    with pytest.raises(ValueError, match="the manager's are"):
        replaced.forecast = LowForecast(other_zone)
