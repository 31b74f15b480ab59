"""The bess-manager corpus (shared/reference/bess-manager, 39 scenarios).

Skipped with a clear reason when ../shared is absent (the ``shared`` fixture); CI runs it.
"""

from __future__ import annotations

import numpy as np
import pytest

from pvbess import evaluate_plan, exact_schedule, optimize_schedule, peer_scenarios
from pvbess.studies.peer import read_peer_scenario

# Two golden files report a discharge action (AC) larger than their own SOE drop allows
# (|action| > -dSOE * eta_d, by 0.0048 and 0.0025 kWh: energy from nowhere). Their golden cost
# counts the action, so it is lower than the trajectory's cost by exactly that phantom energy at
# the period's price; the test below checks this explanation instead of a tolerance.
PHANTOM_DISCHARGE = {"regression_2026_08_08_143843", "regression_2026_08_17_624"}


@pytest.fixture(scope="module")
def corpus(shared):
    scenarios = peer_scenarios(shared / "reference" / "bess-manager")
    assert len(scenarios) == 39
    return scenarios


def test_reader_maps_fields(shared):
    s = read_peer_scenario(shared / "reference" / "bess-manager" / "scenarios"
                           / "synthetic_clear_sky_ac_clipping.json")
    assert s.dt_h == 0.25 and s.periods == 96
    assert s.battery.e_min_kwh == pytest.approx(1.0) and s.battery.e_max_kwh == pytest.approx(10.0)
    assert s.options["inverter_ac_limit_kw"] == pytest.approx(5.0)
    assert s.options["allow_curtailment"] is False
    # price formula: (p*1 + 0.5)*1 + 0 = p + 0.5 ; sell = p + 0
    assert np.allclose(s.buy - s.sell, 0.5)
    assert s.golden is not None and len(s.golden["soe_trajectory"]) == 97


def test_golden_trajectories_reproduce_golden_costs(corpus):
    for s in corpus:
        kw = s.kwargs()
        kw.pop("initial_kwh")
        r = evaluate_plan(soe_kwh=s.golden["soe_trajectory"], **kw)
        p = r.periods
        action = np.asarray(s.golden["actions"])
        phantom = np.where(action < 0, -action - p["bess_discharge_kwh"].to_numpy(), 0.0)
        price = np.where(p["grid_export_kwh"].to_numpy() > 0, p["sell_price"], p["buy_price"])
        phantom_value = float((phantom * price).sum())
        assert (phantom > 1e-6).any() == (s.name in PHANTOM_DISCHARGE), s.name
        assert r.cost - phantom_value == pytest.approx(s.golden["battery_solar_cost"], abs=1e-6), \
            s.name
        if "base_cost" in s.expected:  # grid-only baseline: sum(load * buy), upstream tolerance
            assert r.summary["grid_only_cost"] == pytest.approx(s.expected["base_cost"],
                                                                abs=1e-3), s.name


def test_dp_at_most_golden_and_at_least_exact(corpus):
    for s in corpus:
        dp = optimize_schedule(**s.kwargs())
        ex = exact_schedule(**s.kwargs())
        golden = s.golden_objective()
        # the default grid follows the problem (issue 12): never above the peer's golden
        # plan, never more than 0.01 above the exact optimum
        assert dp.objective <= golden + 1e-9, (s.name, dp.objective, golden)
        assert ex.objective - 1e-6 <= dp.objective <= ex.objective + 0.01, \
            (s.name, dp.objective, ex.objective)
        assert ex.objective <= golden + 1e-6, s.name
        plan = evaluate_plan(soe_kwh=dp.soe_kwh, **{k: v for k, v in s.kwargs().items()
                                                    if k != "initial_kwh"})
        assert plan.cost == pytest.approx(dp.cost, abs=1e-9), s.name


# ------------------------------------------------------------------ reader, without the corpus
def _write(folder, name, data, golden=None):
    import json

    (folder / "scenarios").mkdir(exist_ok=True)
    (folder / "scenarios" / f"{name}.json").write_text(json.dumps(data))
    if golden is not None:
        (folder / "golden").mkdir(exist_ok=True)
        (folder / "golden" / f"{name}.json").write_text(json.dumps(golden))
    return folder / "scenarios" / f"{name}.json"


_BATTERY = {"initial_soe": 1.0, "min_soe_kwh": 2.0, "max_soe_kwh": 10.0,
            "efficiency_charge": 0.9, "efficiency_discharge": 0.95, "cycle_cost_per_kwh": 0.1,
            "max_charge_power_kw": 4.0, "max_discharge_power_kw": 5.0}


def test_reader_price_formulas_and_defaults(tmp_path):
    p = np.array([0.5, 1.0, -0.2, 2.0])
    path = _write(tmp_path, "a", {"base_prices": p.tolist(), "home_consumption": [1, 1, 1, 1],
                                  "solar_production": [0, 2, 3, 0], "battery": _BATTERY,
                                  "terminal_value_per_kwh": 0.7})
    s = read_peer_scenario(path)
    # defaults: markup 0.08, VAT 1.25, additional 0.773, tax reduction 0.1988
    np.testing.assert_allclose(s.buy, (p + 0.08) * 1.25 + 0.773)
    np.testing.assert_allclose(s.sell, p + 0.1988)
    assert s.dt_h == 1.0 and s.golden is None and s.golden_objective() is None
    assert s.initial_kwh == 1.0  # below the window: kept as given
    assert s.battery.e_min_kwh == pytest.approx(2.0) and s.battery.capacity_kwh == 10.0
    assert s.battery.eta_charge == 0.9 and s.battery.power_discharge_kw == 5.0
    assert s.terminal_value == 0.7 and s.options == {"allow_curtailment": False}


def test_reader_options_and_golden(tmp_path):
    bat = {**_BATTERY, "inverter_max_ac_power_kw": 10.0, "inverter_ac_power_margin": 0.05,
           "export_curtailment_enabled": True, "export_curtailment_active": True,
           "export_curtailment_price_floor": 0.1}
    data = {"buy_price": [1.0, 2.0], "sell_price": [0.05, 0.5], "home_consumption": [0, 1],
            "solar_production": [1, 0], "battery": bat, "period_duration_hours": 0.25,
            "price_data": {"markup_rate": 9.0}, "terminal_value_per_kwh": 0.0}
    golden = {"soe_trajectory": [1.0, 1.9, 1.9], "battery_solar_cost": 2.0}
    s = read_peer_scenario(_write(tmp_path, "b", data, golden))
    np.testing.assert_allclose(s.buy, [1.0, 2.0])  # final prices win over price_data
    assert s.dt_h == 0.25
    assert s.options["inverter_ac_limit_kw"] == pytest.approx(9.5)
    assert s.options["export_price_floor"] == pytest.approx(0.1)
    assert s.golden_objective() == pytest.approx(2.0)
    # the golden plan through the plant: PV 1 kWh stores 0.9; export blocked (sell < floor)
    kw = s.kwargs()
    kw.pop("initial_kwh")
    r = evaluate_plan(soe_kwh=golden["soe_trajectory"], **kw)
    assert r.periods["grid_export_kwh"].iloc[0] == pytest.approx(0.0)
    assert r.cost == pytest.approx(0.1 * 0.9 + 2.0 * 1.0)
    assert [x.name for x in peer_scenarios(tmp_path)] == ["b"]
