"""The one battery physics (pvbess.physics) and every consumer of its site meter.

The rules' schedule strategy (the ``dispatch`` kernel), the scheduler's simulated plant, the DP's
period cost and the plan evaluator all meter a period through :func:`pvbess.physics.meter`; the
property test below holds them to the same charge, discharge, import, export and curtailment with
every limit on (export, import, hybrid inverter), grid charging and battery export on or off and
negative prices.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pvbess import Battery, SimulatedController, SixPhaseRules, dispatch, physics
from pvbess.optimize.dp import _period
from pvbess.optimize.result import evaluate_plan
from pvbess.scheduler.controller import _execute

INF = math.inf
TOL = 1e-9  # [kWh]
FLOWS = ("c", "d", "imp", "exp", "u")
SPLIT = ("pv_to_load", "pv_to_battery", "pv_to_grid", "grid_to_battery", "battery_to_load",
         "battery_to_grid")


# -- the battery ------------------------------------------------------------------------------
def test_battery_helpers_hand_cases():
    assert physics.split_round_trip(0.81) == (0.9, 0.9)
    eta = physics.split_round_trip(np.array([0.64, 1.0]))[0]
    np.testing.assert_array_equal(eta, [0.8, 1.0])
    assert Battery.from_round_trip(0.81).eta_charge == 0.9
    assert physics.energy_change(100.0, 0.0, 0.9, 0.8) == 90.0
    assert physics.energy_change(0.0, 80.0, 0.9, 0.8) == -100.0
    assert physics.ac_flows(90.0, 0.9, 0.8) == (100.0, 0.0)
    assert physics.ac_flows(-100.0, 0.9, 0.8) == (0.0, 80.0)
    assert physics.move_range(900.0, 200.0, 1000.0, 300.0, 50.0) == (-50.0, 100.0)
    assert physics.move_range(150.0, 200.0, 1000.0, 300.0, 50.0) == (0.0, 300.0)
    assert physics.wear_cost(physics.stored_energy(100.0, 0.9), 0.02) == pytest.approx(1.8)
    assert physics.equivalent_full_cycles(800.0, 0.8, 500.0) == 2.0
    assert physics.deliverable(500.0, 400.0, 0.5) == 50.0
    np.testing.assert_array_equal(
        physics.trajectory(10.0, np.array([5.0, -30.0, 100.0]), 0.0, 50.0), [10, 15, 0, 50])
    loss = physics.step_loss(np.array([100.0, 0.0]), np.array([0.0, 80.0]), 0.9, 0.8)
    np.testing.assert_allclose(loss, [10.0, 20.0])


def test_meter_hand_cases():
    # export limit: PV above it is curtailed
    assert physics.meter(0.0, 0.0, 10.0, 50.0, 0.3, 0.1, 25.0, INF, INF, False, True) == \
        (0.0, 25.0, 15.0, True)
    # the battery's output has priority over PV at the export limit
    assert physics.meter(0.0, 30.0, 10.0, 50.0, 0.3, 0.1, 25.0, INF, INF, False, True) == \
        (0.0, 25.0, 45.0, True)
    # hybrid inverter: charging absorbs DC PV above the AC limit
    assert physics.meter(20.0, 0.0, 25.0, 50.0, 0.3, 0.1, INF, INF, 10.0, False, True) == \
        (15.0, 0.0, 20.0, True)
    assert not physics.meter(70.0, 0.0, 25.0, 50.0, 0.3, 0.1, INF, INF, 10.0, False, True)[3]
    # negative sell price: the PV export is curtailed, never the battery's
    assert physics.meter(0.0, 30.0, 10.0, 5.0, 0.3, -0.05, INF, INF, INF, True, True) == \
        (0.0, 20.0, 5.0, True)
    # negative buy price: curtail PV and import up to the import limit
    assert physics.meter(0.0, 0.0, 10.0, 50.0, -0.1, 0.0, INF, 8.0, INF, True, True) == \
        (8.0, 0.0, 48.0, True)
    # curtailing by choice never pushes the inverter past its limit, nor makes a charge without
    # grid charging draw on the grid
    assert physics.meter(2.0, 0.0, 0.0, 3.0, 0.0, -0.25, INF, INF, 1.0, True, True) == \
        (1.0, 0.0, 2.0, True)
    assert physics.meter(2.0, 0.0, 0.0, 3.0, 0.0, -0.25, INF, INF, INF, True, False) == \
        (0.0, 0.0, 1.0, True)
    # the import limit binds the battery only: load above it is served
    assert physics.import_cap(30.0, 5.0, 10.0, INF) == 25.0
    assert physics.import_cap(30.0, 50.0, 10.0, 20.0) == 10.0
    assert physics.import_cap(30.0, 50.0, 5.0, 20.0) == 10.0
    assert physics.meter(0.0, 0.0, 30.0, 50.0, 0.3, 0.1, INF, 5.0, 20.0, False, True) == \
        (10.0, 0.0, 30.0, True)


def test_clip_setpoint_hand_cases():
    args = (100.0, 10.0, 90.0, 0.9, 0.8, 20.0, 30.0)  # e, e_min, e_max, eta_c, eta_d, cmax, dmax
    e, e_min, e_max, eta_c, eta_d, cmax, dmax = args

    def clip(sp, load, pv, grid=True, export=True, xlim=INF, ilim=INF, acap=INF, e=50.0):
        s, d = physics.surplus_deficit(load, pv)
        return physics.clip_setpoint(sp, e, load, pv, s, d, e_min, e_max, eta_c, eta_d, cmax,
                                     dmax, grid, export, xlim, ilim, acap)

    assert clip(50.0, 10.0, 0.0) == (20.0, 0.0)  # power
    assert clip(50.0, 10.0, 0.0, e=85.0) == pytest.approx((5 / 0.9, 0.0))  # window
    assert clip(50.0, 10.0, 15.0, grid=False) == (5.0, 0.0)  # PV surplus only
    assert clip(50.0, 10.0, 0.0, ilim=25.0) == (15.0, 0.0)  # import limit
    assert clip(50.0, 30.0, 0.0, ilim=25.0) == (0.0, 0.0)  # the load alone is above it
    assert clip(50.0, 10.0, 2.0, acap=6.0) == (8.0, 0.0)  # inverter: pv + AC limit
    assert clip(-50.0, 10.0, 0.0) == (0.0, 30.0)
    assert clip(-50.0, 10.0, 0.0, export=False) == (0.0, 10.0)
    assert clip(-50.0, 10.0, 0.0, xlim=5.0) == (0.0, 15.0)  # load + export limit
    assert clip(-50.0, 10.0, 0.0, acap=12.0) == (0.0, 12.0)
    assert clip(-50.0, 10.0, 0.0, e=12.0) == pytest.approx((0.0, 1.6))  # nothing left


# -- every consumer, one meter ----------------------------------------------------------------
@st.composite
def periods(draw):
    cap = draw(st.floats(10.0, 2000.0))
    soc_min = draw(st.floats(0.0, 0.5))
    soc_max = draw(st.floats(soc_min + 0.1, 1.0))
    battery = Battery(capacity_kwh=cap, power_charge_kw=draw(st.floats(0.0, 500.0)),
                      power_discharge_kw=draw(st.floats(0.0, 500.0)),
                      eta_charge=draw(st.floats(0.7, 1.0)),
                      eta_discharge=draw(st.floats(0.7, 1.0)), soc_min=soc_min, soc_max=soc_max,
                      soc_initial=soc_min, wear_cost_per_kwh=draw(st.floats(0.0, 0.1)))
    e = draw(st.floats(battery.e_min_kwh, battery.e_max_kwh))
    limit = st.one_of(st.just(INF), st.just(0.0), st.floats(0.0, 600.0))
    return dict(
        battery=battery, e=e, dt=draw(st.sampled_from([1.0, 0.25])),
        ev=draw(st.floats(0.0, 300.0)), mall=draw(st.floats(0.0, 600.0)),
        pv=draw(st.one_of(st.just(0.0), st.floats(0.0, 900.0))),
        sp=draw(st.one_of(st.just(0.0), st.floats(-700.0, 700.0))),
        buy=draw(st.floats(-0.2, 0.6)), sell=draw(st.floats(-0.3, 0.4)),
        xlim=draw(limit), ilim=draw(limit),
        acap=draw(st.one_of(st.just(INF), st.floats(1.0, 900.0))),
        grid=draw(st.booleans()), export=draw(st.booleans()), curtail=draw(st.booleans()))


def _rules(q):
    """The rules' schedule strategy (dispatch kernel), one step; curtailment only where forced."""
    b = q["battery"]
    p = dispatch.make_params(b, SixPhaseRules(export_limit_kw=q["xlim"]),
                             charge_source="any" if q["grid"] else "surplus",
                             allow_battery_export=q["export"],
                             import_limit_kw=q["ilim"], inverter_ac_limit_kw=q["acap"])
    p[dispatch.P_E0] = q["e"]
    one = np.ones(1)
    o = dispatch.run(dispatch.SCHEDULE, q["pv"] * one, q["ev"] * one, q["mall"] * one,
                     12.0 * one, q["sp"] * one, q["dt"], p)[:, 0]
    r = {"c": o[dispatch.O_PV_BESS] + o[dispatch.O_GRID_BESS],
         "d": o[dispatch.O_BESS_EV] + o[dispatch.O_BESS_MALL] + o[dispatch.O_BESS_EXPORT],
         "imp": o[dispatch.O_GRID_EV] + o[dispatch.O_GRID_MALL] + o[dispatch.O_GRID_BESS],
         "exp": o[dispatch.O_PV_EXPORT] + o[dispatch.O_BESS_EXPORT],
         "u": o[dispatch.O_PV_CURT], "e_end": o[dispatch.O_SOC],
         # the EV-before-mall split, summed over EV and mall
         "pv_to_load": o[dispatch.O_PV_EV] + o[dispatch.O_PV_MALL],
         "pv_to_battery": o[dispatch.O_PV_BESS], "pv_to_grid": o[dispatch.O_PV_EXPORT],
         "grid_to_battery": o[dispatch.O_GRID_BESS],
         "battery_to_load": o[dispatch.O_BESS_EV] + o[dispatch.O_BESS_MALL],
         "battery_to_grid": o[dispatch.O_BESS_EXPORT]}
    assert o.min() >= 0.0
    # the EV-before-mall split adds up
    assert o[dispatch.O_PV_EV] + o[dispatch.O_PV_BESS] + o[dispatch.O_PV_MALL] \
        + o[dispatch.O_PV_EXPORT] + o[dispatch.O_PV_CURT] == pytest.approx(q["pv"], abs=TOL)
    assert o[dispatch.O_PV_EV] + o[dispatch.O_BESS_EV] + o[dispatch.O_GRID_EV] == \
        pytest.approx(q["ev"], abs=TOL)
    assert o[dispatch.O_PV_MALL] + o[dispatch.O_BESS_MALL] + o[dispatch.O_GRID_MALL] == \
        pytest.approx(q["mall"], abs=TOL)
    if not q["grid"]:
        assert o[dispatch.O_GRID_BESS] == 0.0
    if not q["export"]:
        assert o[dispatch.O_BESS_EXPORT] <= TOL
    return r


def _controller(q, load):
    b, dt = q["battery"], q["dt"]
    out = _execute(q["e"], q["sp"], load, q["pv"], dt, b.e_min_kwh, b.e_max_kwh, b.eta_charge,
                   b.eta_discharge, b.power_charge_kw, b.power_discharge_kw, q["grid"],
                   q["export"], q["ilim"], q["xlim"], q["acap"], q["buy"], q["sell"],
                   q["curtail"])
    return dict(zip((*FLOWS, "e_end"), out, strict=True))


def _public_controller(q, load):
    """SimulatedController.run_period (no inverter limit, curtailment where it pays)."""
    idx = pd.date_range("2024-03-01 10:00", periods=2, freq=pd.Timedelta(hours=q["dt"]),
                        tz="America/Lima")
    actual = pd.DataFrame({"load_kwh": [load, 0.0], "pv_kwh": [q["pv"], 0.0],
                           "buy_price": [q["buy"], 0.0], "sell_price": [q["sell"], 0.0]},
                          index=idx)
    ctl = SimulatedController(actual, q["battery"], allow_grid_charge=q["grid"],
                              allow_battery_export=q["export"], import_limit_kw=q["ilim"],
                              export_limit_kw=q["xlim"], initial_kwh=q["e"])
    ctl.apply(pd.Series([q["sp"]], index=idx[:1]))
    ev = ctl.run_period()
    return {"c": ev.bess_charge_kwh, "d": ev.bess_discharge_kwh,
            "imp": ev.grid_import_kwh, "exp": ev.grid_export_kwh, "u": ev.pv_curtailed_kwh,
            "e_end": ev.soe_end_kwh, "wear": ev.wear_cost}


def _dp_period(q, load, delta):
    b, dt = q["battery"], q["dt"]
    cost, c, d, imp, exp, u = _period(
        delta, load, q["pv"], q["buy"], q["sell"], q["xlim"] * dt, q["ilim"] * dt,
        q["acap"] * dt, b.eta_charge, b.eta_discharge, b.power_charge_kw * dt,
        b.power_discharge_kw * dt, b.wear_cost_per_kwh, q["grid"], q["export"], q["curtail"])
    assert cost < np.inf, "the DP rejects the change of stored energy the plant made"
    return {"c": c, "d": d, "imp": imp, "exp": exp, "u": u, "cost": cost}


def _evaluator(q, load, e_end):
    opts = dict(dt_h=q["dt"], import_limit_kw=q["ilim"], export_limit_kw=q["xlim"],
                inverter_ac_limit_kw=q["acap"], allow_grid_charge=q["grid"],
                allow_battery_export=q["export"], allow_curtailment=q["curtail"])
    r = evaluate_plan([q["buy"]], [q["sell"]], [load], [q["pv"]], q["battery"],
                      soe_kwh=[q["e"], e_end], **opts)
    row = r.periods.iloc[0]
    if not q["grid"]:
        assert row["grid_to_bess_kwh"] <= TOL
    return {"c": row["bess_charge_kwh"], "d": row["bess_discharge_kwh"], "imp": row["grid_import_kwh"],
            "exp": row["grid_export_kwh"], "u": row["pv_curtailed_kwh"], "cost": r.cost,
            **{k: row[f"{k}_kwh"] for k in SPLIT}}


def _same(name, got, ref):
    for k in FLOWS:
        assert got[k] == pytest.approx(ref[k], abs=TOL), (name, k, got[k], ref[k])


def _case(sp, ev, mall, pv, **kw):
    """A hand-picked period for ``@example`` (the corners random draws rarely reach)."""
    q = dict(battery=Battery(capacity_kwh=1000.0, power_charge_kw=400.0, power_discharge_kw=400.0,
                             soc_min=0.1, soc_initial=0.1, wear_cost_per_kwh=0.01),
             e=600.0, dt=1.0, ev=ev, mall=mall, pv=pv, sp=sp, buy=0.3, sell=0.1, xlim=INF,
             ilim=INF, acap=INF, grid=True, export=True, curtail=False)
    q.update(kw)
    return q


@settings(max_examples=300, deadline=None)
@given(q=periods())
# battery export at the export limit with a PV surplus: PV is curtailed, not the battery
@example(q=_case(-300.0, 20.0, 80.0, 300.0, xlim=50.0))
@example(q=_case(-300.0, 20.0, 80.0, 300.0, xlim=50.0, sell=-0.1, curtail=True))
# grid charging under the import limit; the load alone above it
@example(q=_case(300.0, 30.0, 70.0, 0.0, ilim=150.0))
@example(q=_case(300.0, 30.0, 270.0, 0.0, ilim=150.0))
# hybrid inverter: PV-only charging absorbs the DC overflow; discharge at the AC limit
@example(q=_case(200.0, 50.0, 200.0, 500.0, acap=100.0, grid=False))
@example(q=_case(-300.0, 50.0, 200.0, 80.0, acap=100.0, xlim=20.0))
# inverter and import limits together: the idle import (load - AC limit) is served
@example(q=_case(0.0, 100.0, 300.0, 500.0, acap=100.0, ilim=50.0))
@example(q=_case(100.0, 100.0, 300.0, 500.0, acap=100.0, ilim=50.0, grid=False))
# negative prices: curtail to import more (buy < 0), curtail the PV export (sell < 0)
@example(q=_case(0.0, 20.0, 80.0, 300.0, buy=-0.1, sell=0.05, ilim=200.0, curtail=True))
@example(q=_case(-30.0, 0.0, 10.0, 5.0, sell=-0.05, curtail=True))
# no grid charging at a zero export limit, with a vanishing power limit
@example(q=_case(1.0, 0.0, 0.0, 1.0, xlim=0.0, grid=False, export=False,
                 battery=Battery(capacity_kwh=10.0, power_charge_kw=4e-218, soc_min=0.0,
                                 soc_initial=0.0), e=0.0))
def test_every_consumer_meters_a_period_alike(q):
    b = q["battery"]
    load = q["ev"] + q["mall"]
    ref = _controller(q, load)
    c, d, imp, exp, u, e_end = (ref[k] for k in (*FLOWS, "e_end"))
    # invariants of the one meter
    assert min(c, d, imp, exp, u) >= 0.0
    assert c * d == 0.0
    assert q["pv"] + imp + d == pytest.approx(load + c + exp + u, abs=TOL)
    assert b.e_min_kwh <= e_end <= b.e_max_kwh
    assert e_end - q["e"] == pytest.approx(
        physics.energy_change(c, d, b.eta_charge, b.eta_discharge), abs=TOL)
    assert u <= q["pv"] + TOL and exp <= q["xlim"] * q["dt"] + TOL
    assert imp <= physics.import_cap(load, q["pv"], q["ilim"] * q["dt"],
                                     q["acap"] * q["dt"]) + TOL
    assert abs(q["pv"] - u - c + d) <= q["acap"] * q["dt"] + TOL
    if not q["grid"]:
        assert c <= max(q["pv"] - load, 0.0) + TOL
    if not q["export"]:
        assert d <= max(load - q["pv"], 0.0) + TOL
    # the same numbers from every consumer
    delta = e_end - q["e"]
    dp = _dp_period(q, load, delta)
    _same("dp._period", dp, ref)
    plan = _evaluator(q, load, e_end)
    _same("evaluate_plan", plan, ref)
    assert plan["cost"] == pytest.approx(dp["cost"], abs=1e-9)
    if not q["curtail"]:  # the rules have no prices: curtailment only where forced
        rules = _rules(q)
        _same("schedule strategy", rules, ref)
        assert rules["e_end"] == pytest.approx(e_end, abs=TOL)
        for k in SPLIT:  # the evaluator's split of the same meter
            assert rules[k] == pytest.approx(plan[k], abs=TOL), (k, rules[k], plan[k])
    if q["acap"] == INF and q["curtail"]:
        public = _public_controller(q, load)
        _same("SimulatedController", {k: public[k] for k in FLOWS}, ref)
        stored = max(e_end - q["e"], 0.0)
        assert public["wear"] == pytest.approx(b.wear_cost_per_kwh * stored, abs=1e-9)
    # clipping never throws energy away: what the setpoint asked beyond the result is
    # infeasible for the DP's meter (or beyond the battery's own limits)
    step = 1e-6
    if q["sp"] > c + step and c < physics.charge_limit(
            q["e"], b.e_max_kwh, b.eta_charge, b.power_charge_kw, q["dt"]) - step:
        more = physics.stored_energy(c + step, b.eta_charge)
        assert _period(more, load, q["pv"], q["buy"], q["sell"], q["xlim"] * q["dt"],
                       q["ilim"] * q["dt"], q["acap"] * q["dt"], b.eta_charge,
                       b.eta_discharge, b.power_charge_kw * q["dt"],
                       b.power_discharge_kw * q["dt"], 0.0, q["grid"], q["export"],
                       q["curtail"])[0] == np.inf
    if -q["sp"] > d + step and d < physics.discharge_limit(
            q["e"], b.e_min_kwh, b.eta_discharge, b.power_discharge_kw, q["dt"]) - step:
        more = -physics.removed_energy(d + step, b.eta_discharge)
        assert _period(more, load, q["pv"], q["buy"], q["sell"], q["xlim"] * q["dt"],
                       q["ilim"] * q["dt"], q["acap"] * q["dt"], b.eta_charge,
                       b.eta_discharge, b.power_charge_kw * q["dt"],
                       b.power_discharge_kw * q["dt"], 0.0, q["grid"], q["export"],
                       q["curtail"])[0] == np.inf


@pytest.mark.parametrize("seed", [1, 3, 5, 7])
@pytest.mark.parametrize("limits", [dict(inverter_ac_limit_kw=5.0),
                                    dict(allow_grid_charge=False, allow_battery_export=False,
                                         export_limit_kw=1.0)])
def test_exact_plan_meters_to_its_objective_and_bounds_the_dp(seed, limits):
    """With negative prices, curtailment by choice respects the inverter limit and the
    no-grid-charging option in the DP, the plan evaluator and the LP alike."""
    from pvbess import exact_schedule, optimize_schedule

    rng = np.random.default_rng(seed)
    t, dt = 96, 0.25
    h = np.arange(t) * dt
    buy = rng.normal(1.0, 0.4, t) + 0.5 * np.sin(2 * np.pi * (h - 8) / 24)
    sell = 0.7 * buy - 0.2 + rng.normal(0, 0.1, t)
    sell[rng.uniform(size=t) < 0.2] *= -1.0
    sell = np.where(rng.uniform(size=t) < 0.1, -np.abs(sell) - 0.05, sell)
    buy = np.where(rng.uniform(size=t) < 0.05, -0.1, buy)
    sell = np.minimum(sell, buy)
    pv = np.clip(8 * np.sin(np.pi * (h - 6) / 12), 0, None) * dt * rng.uniform(0.4, 1.0, t)
    load = rng.uniform(0.3, 4.0, t) * dt
    battery = Battery(capacity_kwh=20.0, power_charge_kw=6.0, power_discharge_kw=6.0,
                      eta_charge=0.95, eta_discharge=0.95, soc_min=0.1, soc_initial=0.5,
                      wear_cost_per_kwh=0.01)
    kw = dict(dt_h=dt, terminal_value=0.3, **limits)
    ex = exact_schedule(buy, sell, load, pv, battery, **kw)
    assert ex.info["plant_objective"] == pytest.approx(ex.objective, abs=1e-6)
    dp = optimize_schedule(buy, sell, load, pv, battery, **kw)
    assert ex.objective - 1e-6 <= dp.objective <= ex.objective + 0.01
    p = dp.periods
    if "inverter_ac_limit_kw" in limits:
        through = p["pv_kwh"] - p["pv_curtailed_kwh"] - p["bess_charge_kwh"] + p["bess_discharge_kwh"]
        assert np.abs(through).max() <= 5.0 * dt + 1e-9
    else:
        assert p["grid_to_bess_kwh"].max() <= 1e-9
