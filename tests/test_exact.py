"""The exact model (HiGHS): LP where exact, MILP otherwise; hand-known optima."""

from __future__ import annotations

import numpy as np
import pytest

from pvbess import Battery, evaluate_plan, exact_schedule, optimize_schedule


def _bat(**kw):
    base = {"capacity_kwh": 10.0, "power_charge_kw": 10.0, "power_discharge_kw": 10.0,
                "eta_charge": 1.0, "eta_discharge": 1.0, "soc_min": 0.0, "soc_max": 1.0, "soc_initial": 0.0}
    base.update(kw)
    return Battery(**base)


def test_lp_arbitrage_with_losses():
    b = _bat(eta_charge=0.9, eta_discharge=0.9, wear_cost_per_kwh=0.1)
    r = exact_schedule([1.0, 2.0], [0.0, 0.0], [0.0, 9.0], [0.0, 0.0], b)
    assert r.method == "lp"
    assert r.objective == pytest.approx(10.0 + 1.8 + 0.9, abs=1e-6)
    np.testing.assert_allclose(r.soe_kwh, [0.0, 9.0, 0.0], atol=1e-6)


def test_sell_above_buy_needs_milp():
    # sell > buy: the LP would import and export without bound; binaries forbid it
    r = exact_schedule([1.0], [2.0], [1.0], [0.0], _bat(), import_limit_kw=5.0)
    assert r.method == "milp"
    assert r.objective == pytest.approx(1.0, abs=1e-6)  # buy the load, nothing else
    dp = optimize_schedule([1.0], [2.0], [1.0], [0.0], _bat(), import_limit_kw=5.0)
    assert dp.objective == pytest.approx(r.objective, abs=1e-9)


def test_negative_price_dumping_needs_milp():
    # negative buy price, no curtailment, load 0, battery full: the LP would charge and
    # discharge at once to burn energy through losses; the DP model cannot.
    b = _bat(eta_charge=0.5, eta_discharge=0.5, soc_initial=0.5)
    kw = {"buy": [-1.0, -1.0], "sell": [-2.0, -2.0], "load_kwh": [0.0, 0.0], "pv_kwh": [0.0, 0.0],
              "battery": b, "allow_curtailment": False}
    r = exact_schedule(**kw)
    dp = optimize_schedule(**kw)
    assert r.method == "milp"
    assert r.objective <= dp.objective + 1e-6
    assert dp.objective <= r.objective + 1e-6


def test_demand_charge_shaves_the_peak():
    # 2 periods of 1 h; load 4 then 0; battery starts with 4 kWh; demand price 10 /kW
    b = _bat(soc_initial=0.4)
    mask = np.array([True, True])
    r = exact_schedule([1.0, 1.0], [0.0, 0.0], [4.0, 0.0], [0.0, 0.0], b,
                       demand_charges=[(mask, 10.0)])
    assert r.info["demand_cost"] == pytest.approx(0.0, abs=1e-6)
    assert r.cost == pytest.approx(0.0, abs=1e-6)
    # no stored energy: import 4 kW at the peak; or split 2 + 2 by charging first
    b0 = _bat()
    r = exact_schedule([1.0, 1.0], [0.0, 0.0], [0.0, 4.0], [0.0, 0.0], b0,
                       demand_charges=[(mask, 10.0)])
    assert r.info["demand_cost"] == pytest.approx(20.0, abs=1e-6)
    assert r.objective == pytest.approx(4.0 + 20.0, abs=1e-6)


def test_exact_plan_through_the_plant():
    rng = np.random.default_rng(3)
    t = 48
    buy = 1 + 0.5 * rng.random(t)
    sell = 0.5 * buy
    load = rng.uniform(0, 1, t)
    pv = np.clip(np.sin(np.linspace(-1, 4, t)), 0, None) * 2
    b = _bat(eta_charge=0.95, eta_discharge=0.95, soc_min=0.1, soc_initial=0.5,
             power_charge_kw=3.0, power_discharge_kw=3.0)
    r = exact_schedule(buy, sell, load, pv, b, dt_h=0.5, terminal_value=0.7)
    plan = evaluate_plan(buy, sell, load, pv, b, dt_h=0.5, terminal_value=0.7,
                         soe_kwh=r.soe_kwh)
    assert r.method == "lp"
    assert plan.objective == pytest.approx(r.objective, abs=1e-6)
