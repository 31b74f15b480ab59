"""The optimizer, the rules' plant and the scheduler's controller share one battery physics.

A plan made by the DP, replayed through ``simulate(strategy="schedule")`` (the plant that runs the
rules, built on :mod:`pvbess.physics`), follows exactly the DP's stored-energy trajectory and costs
exactly what the DP reported: the models agree to the kWh and to the sol. With export, import and
inverter limits on, the rules' schedule strategy and the scheduler's simulated plant follow the plan
and meter it as the DP did.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pvbess


def _site(days: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2025-03-01", periods=24 * days, freq="h", tz="America/Lima")
    hour = index.hour.to_numpy()
    pv = np.clip(np.sin(np.pi * (hour - 6) / 12), 0, None) * rng.uniform(200, 900, len(index))
    mall = 300 + 250 * ((hour >= 9) & (hour < 22)) + rng.uniform(0, 150, len(index))
    ev = np.where((hour >= 9) & (hour < 22), rng.uniform(0, 60, len(index)), 0.0)
    return pd.DataFrame({"pv_kwh": pv, "ev_kwh": ev, "mall_kwh": mall}, index=index)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), capacity=st.floats(200.0, 2000.0),
       power=st.floats(50.0, 500.0), rte=st.floats(0.8, 1.0), soc0=st.floats(0.2, 1.0),
       grid_charge=st.booleans())
def test_dp_plan_replayed_through_the_rules_plant(seed, capacity, power, rte, soc0, grid_charge):
    site = _site(days=2, seed=seed)
    battery = pvbess.Battery.from_round_trip(rte, capacity_kwh=capacity, power_charge_kw=power,
                                             power_discharge_kw=power, soc_initial=soc0)
    tariff = pvbess.Tariff()
    buy = tariff.energy_price(site.index)
    load = (site["ev_kwh"] + site["mall_kwh"]).to_numpy()
    plan = pvbess.optimize_schedule(buy, np.zeros(len(site)), load, site["pv_kwh"].to_numpy(),
                                    battery, dt_h=1.0, allow_grid_charge=grid_charge,
                                    allow_battery_export=False)
    balance = pvbess.simulate(site, battery, strategy="schedule",
                              setpoint_kwh=plan.setpoint_kwh, tariff=tariff,
                              allow_grid_charge=grid_charge)
    pvbess.check_balance(balance)
    # the plant follows the plan: no clipping, the same stored energy at every step end
    assert np.abs(balance["setpoint_deviation_kwh"]).max() <= 1e-9
    np.testing.assert_allclose(balance["soe_end_kwh"].to_numpy(), plan.soe_kwh[1:], atol=1e-9)
    # ... the same grid import and the same energy bill
    np.testing.assert_allclose(balance["grid_import_kwh"].to_numpy(),
                               plan.periods["grid_import_kwh"].to_numpy(), atol=1e-9)
    assert balance["energy_cost_pen"].sum() == pytest.approx(plan.cost, abs=1e-6)


def test_optimal_year_is_never_dearer_in_energy_than_the_rules():
    site = pvbess.load_iquitos()
    battery = pvbess.Battery()
    tariff = pvbess.Tariff()
    buy = tariff.energy_price(site.index)
    load = (site["ev_kwh"] + site["mall_kwh"]).to_numpy()
    plan = pvbess.optimize_schedule(buy, np.zeros(len(site)), load, site["pv_kwh"].to_numpy(),
                                    battery, dt_h=1.0, allow_grid_charge=False,
                                    allow_battery_export=False, energy_step_kwh=5.0)
    optimal = pvbess.simulate(site, battery, strategy="schedule",
                              setpoint_kwh=plan.setpoint_kwh, tariff=tariff)
    rules = pvbess.simulate(site, battery, tariff=tariff)
    # same physics, same data: the optimum's energy bill is at or below the rules' (PV-only
    # charging for both, so the comparison is like for like)
    assert optimal["energy_cost_pen"].sum() <= rules["energy_cost_pen"].sum() + 1e-6
    assert optimal["energy_cost_pen"].sum() == pytest.approx(plan.cost, abs=1e-4)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), capacity=st.floats(200.0, 2000.0),
       power=st.floats(50.0, 500.0), rte=st.floats(0.8, 1.0), soc0=st.floats(0.2, 1.0),
       grid_charge=st.booleans(), battery_export=st.booleans(),
       export_kw=st.floats(0.0, 400.0),
       import_kw=st.one_of(st.just(np.inf), st.floats(300.0, 1200.0)),
       inverter_kw=st.one_of(st.just(np.inf), st.floats(150.0, 900.0)))
def test_dp_plan_with_limits_replayed_through_the_rules_and_the_controller(
        seed, capacity, power, rte, soc0, grid_charge, battery_export, export_kw, import_kw,
        inverter_kw):
    """Export, import and inverter limits on: the rules' schedule strategy and the scheduler's
    plant follow the DP's plan and meter it as the DP did (one site meter, pvbess.physics)."""
    from pvbess import dispatch
    from pvbess.scheduler.controller import _execute

    site = _site(days=2, seed=seed)
    rng = np.random.default_rng(seed)
    battery = pvbess.Battery.from_round_trip(rte, capacity_kwh=capacity, power_charge_kw=power,
                                             power_discharge_kw=power, soc_initial=soc0,
                                             wear_cost_per_kwh=0.005)
    buy = pvbess.Tariff().energy_price(site.index) + rng.normal(0.0, 0.03, len(site))
    sell = np.clip(buy * rng.uniform(0.0, 0.9, len(site)), 0.0, None)
    load = (site["ev_kwh"] + site["mall_kwh"]).to_numpy()
    pv = site["pv_kwh"].to_numpy()
    limits = dict(import_limit_kw=import_kw, export_limit_kw=export_kw,
                  inverter_ac_limit_kw=inverter_kw)
    plan = pvbess.optimize_schedule(buy, sell, load, pv, battery, dt_h=1.0,
                                    allow_grid_charge=grid_charge,
                                    allow_battery_export=battery_export,
                                    energy_step_kwh=battery.usable_kwh / 400, **limits)
    p = plan.periods
    sp = plan.setpoint_kwh
    # the rules' schedule strategy (the kernel: simulate() has no import or inverter limit)
    params = dispatch.make_params(battery, pvbess.SixPhaseRules(export_limit_kw=export_kw),
                                  charge_source="any" if grid_charge else "surplus",
                                  allow_battery_export=battery_export,
                                  import_limit_kw=import_kw, inverter_ac_limit_kw=inverter_kw)
    hour = np.asarray(site.index.hour, dtype=float)
    out = dispatch.run(dispatch.SCHEDULE, pv, site["ev_kwh"].to_numpy(),
                       site["mall_kwh"].to_numpy(), hour, sp, 1.0, params)
    rules = {"soe_end_kwh": out[dispatch.O_SOC],
             "grid_import_kwh": out[dispatch.O_GRID_EV] + out[dispatch.O_GRID_MALL]
             + out[dispatch.O_GRID_BESS],
             "grid_export_kwh": out[dispatch.O_PV_EXPORT] + out[dispatch.O_BESS_EXPORT],
             "pv_curtailed_kwh": out[dispatch.O_PV_CURT]}
    # the scheduler's simulated plant, period by period
    e = battery.e_initial_kwh
    rows = []
    for k in range(len(site)):
        c, d, imp, exp, u, e = _execute(
            e, sp[k], load[k], pv[k], 1.0, battery.e_min_kwh, battery.e_max_kwh,
            battery.eta_charge, battery.eta_discharge, power, power, grid_charge,
            battery_export, import_kw, export_kw, inverter_kw, buy[k], sell[k], True)
        rows.append((e, imp, exp, u))
    plant = dict(zip(("soe_end_kwh", "grid_import_kwh", "grid_export_kwh", "pv_curtailed_kwh"),
                     np.array(rows).T, strict=True))
    for name, got in (("rules", rules), ("controller", plant)):
        for col, values in got.items():
            np.testing.assert_allclose(values, p[col].to_numpy(), rtol=0, atol=1e-9,
                                       err_msg=f"{name}: {col}")
    if np.isinf(import_kw) and np.isinf(inverter_kw):  # the public path
        balance = pvbess.simulate(site, battery, pvbess.SixPhaseRules(export_limit_kw=export_kw),
                                  strategy="schedule", setpoint_kwh=sp,
                                  allow_grid_charge=grid_charge,
                                  allow_battery_export=battery_export)
        pvbess.check_balance(balance)
        assert np.abs(balance["setpoint_deviation_kwh"]).max() <= 1e-9
        np.testing.assert_allclose(balance["grid_import_kwh"], p["grid_import_kwh"], atol=1e-9)
