"""The learning environment: gymnasium's checker, the plant's invariants under random actions, and
the rewards of an episode equal to minus the full bill of the same flows replayed by simulate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

gym = pytest.importorskip("gymnasium", reason="the rl extra (gymnasium) is not installed")

from gymnasium.utils.env_checker import check_env  # noqa: E402

import pvbess  # noqa: E402
from pvbess.bill import site_bill  # noqa: E402
from pvbess.learn import OBSERVATION_NAMES, SiteBatteryEnv  # noqa: E402


def _site(pv, ev, mall, start="2025-01-30 12:00"):
    idx = pd.date_range(start, periods=len(pv), freq="h", tz="America/Lima")
    return pd.DataFrame({"pv_kwh": pv, "ev_kwh": ev, "mall_kwh": mall}, index=idx)


def _day_site(hours=72):
    h = np.arange(hours)
    pv = np.clip(900 * np.sin((h % 24 - 6) / 12 * np.pi), 0, None)
    mall = 600 + 300 * ((h % 24 >= 9) & (h % 24 < 22))
    ev = 80.0 * ((h % 24 >= 18) & (h % 24 < 23))
    return _site(pv, ev, mall.astype(float))


def _run(env, actions):
    env.reset(seed=0)
    rewards, infos = [], []
    for a in actions:
        _, r, done, truncated, info = env.step(np.array([a], dtype=np.float32))
        rewards.append(r)
        infos.append(info)
        assert not truncated
        if done:
            break
    return np.array(rewards), infos


def _replayed_bill(env, co2_price):
    bal = pvbess.simulate(env.site, env.battery, strategy="schedule",
                          setpoint_kwh=env.setpoints(), charge_source=env.charge_source,
                          allow_battery_export=env.allow_battery_export, tariff=env.tariff,
                          co2_kg_per_kwh=env.co2_kg_per_kwh)
    bill = site_bill(bal["grid_import_kwh"], bal["pv_export_kwh"] + bal["bess_export_kwh"],
                     bal.index, env.tariff, co2_kg_per_kwh=env.co2_kg_per_kwh,
                     co2_price_per_kg=co2_price, bess_charge_kwh=bal["bess_charge_kwh"],
                     bess_discharge_kwh=bal["bess_discharge_kwh"],
                     wear_cost_per_kwh_stored=env.battery.wear_cost_per_kwh,
                     eta_charge=env.battery.eta_charge)
    return bal, bill


@pytest.mark.parametrize("forecast", [None, "persistence", "perfect"])
def test_env_passes_gymnasium_checker(forecast):
    env = SiteBatteryEnv(_day_site(), forecast=forecast, forecast_periods=4 if forecast else 0)
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (len(OBSERVATION_NAMES) + (8 if forecast else 0),)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), hours=st.integers(2, 60),
       capacity=st.floats(0.0, 3000.0), power=st.floats(0.0, 800.0),
       soc0=st.floats(0.0, 1.0), source=st.sampled_from(["any", "pv", "surplus"]),
       export=st.booleans(), co2_price=st.floats(0.0, 2.0), wear=st.floats(0.0, 0.1))
def test_random_actions_keep_the_plant_and_the_bill(data, hours, capacity, power, soc0, source,
                                                    export, co2_price, wear):
    energy = st.floats(0.0, 2000.0)
    pv, ev, mall = (data.draw(st.lists(energy, min_size=hours, max_size=hours)) for _ in range(3))
    actions = data.draw(st.lists(st.floats(-1.5, 1.5), min_size=hours, max_size=hours))
    battery = pvbess.Battery(capacity_kwh=capacity, power_charge_kw=power,
                             power_discharge_kw=power * 0.8, soc_min=0.1, soc_max=0.9,
                             soc_initial=0.1 + 0.8 * soc0, wear_cost_per_kwh=wear)
    env = SiteBatteryEnv(_site(pv, ev, mall), battery, charge_source=source,
                         allow_battery_export=export, co2_price_per_kg=co2_price)
    rewards, infos = _run(env, actions)
    assert len(rewards) == hours
    for k, i in enumerate(infos):
        closing = (pv[k] + i["grid_import_kwh"] + i["bess_discharge_kwh"]
                   - (ev[k] + mall[k] + i["bess_charge_kwh"] + i["grid_export_kwh"]
                      + i["pv_curtailed_kwh"]))
        assert abs(closing) <= 1e-9, (k, closing)
        assert battery.e_min_kwh - 1e-9 <= i["soe_end_kwh"] <= battery.e_max_kwh + 1e-9
        assert min(i["bess_charge_kwh"], i["bess_discharge_kwh"]) == 0.0
    bal, bill = _replayed_bill(env, co2_price)
    flows = env.episode_flows()
    for name in ("grid_import_kwh", "bess_charge_kwh", "bess_discharge_kwh", "soe_end_kwh"):
        np.testing.assert_allclose(flows[name], bal[name], rtol=0, atol=1e-9)
    total = bill["total_cost_pen"]
    assert abs(-rewards.sum() - total) <= 1e-9 * max(abs(total), 1.0)
    parts = ("energy_cost_pen", "demand_cost_pen", "co2_cost_pen", "wear_cost_pen")
    for part in parts:
        assert sum(i[part] for i in infos) == pytest.approx(bill[part], rel=1e-9, abs=1e-9)


def test_a_trained_style_episode_replays_to_the_same_bill():
    """A full month of the Iquitos table, a policy from the observation: the bill the environment
    summed equals the bill of ``simulate(strategy="schedule")`` on its setpoints (1e-6)."""
    site = pvbess.load_iquitos()[["pv_kwh", "ev_kwh", "mall_kwh"]].loc["2025-03"]
    env = SiteBatteryEnv(site, co2_price_per_kg=0.1)
    obs, _ = env.reset(seed=1)
    hour_cos = OBSERVATION_NAMES.index("hour_cos")
    peak = env.tariff.is_peak(site.index)
    total, done, k = 0.0, False, 0
    while not done:  # charge by day, discharge in the evening
        a = -1.0 if peak[k] else -obs[hour_cos]
        obs, r, done, _, _ = env.step(np.array([a], dtype=np.float32))
        total += r
        k += 1
    _, bill = _replayed_bill(env, 0.1)
    assert bill["bess_discharge_kwh"] > 0 and bill["demand_cost_pen"] > 0
    assert -total == pytest.approx(bill["total_cost_pen"], rel=1e-6)


def test_demand_increment_is_charged_when_the_peak_rises():
    """Two flat-load periods in one demand group: the first pays price x peak, the second (the
    same import) nothing; a higher third pays only the increase."""
    site = _site([0.0] * 3, [0.0] * 3, [100.0, 100.0, 150.0], start="2025-03-03 10:00")
    env = SiteBatteryEnv(site, pvbess.Battery(capacity_kwh=0.0))
    rewards, infos = _run(env, [0.0, 0.0, 0.0])
    price = env.tariff.demand_hfp_pen_per_kw_month
    assert [i["demand_cost_pen"] for i in infos] == pytest.approx([100 * price, 0.0, 50 * price])
    energy = env.tariff.energy_hfp_pen_per_kwh
    assert rewards == pytest.approx(-np.array([100 * (energy + price), 100 * energy,
                                               150 * energy + 50 * price]))


def test_weights_scale_the_parts_of_the_reward():
    site = _day_site(30)
    full = SiteBatteryEnv(site, co2_price_per_kg=0.2)
    weighted = SiteBatteryEnv(site, co2_price_per_kg=0.2, energy_weight=0.5, demand_weight=0.0,
                              reward_scale=0.01)
    actions = np.sin(np.arange(30))
    _, infos = _run(full, actions)
    rewards, _ = _run(weighted, actions)
    expected = sum(0.5 * i["energy_cost_pen"] + i["co2_cost_pen"] for i in infos)
    assert -rewards.sum() == pytest.approx(0.01 * expected, rel=1e-12)


@pytest.mark.parametrize("bad", [{"energy_weight": -1.0}, {"co2_price_per_kg": float("nan")},
                                 {"forecast_periods": 3}, {"scale_kwh": 0.0},
                                 {"charge_source": "wind"}])
def test_bad_options_are_refused(bad):
    with pytest.raises(pvbess.DataError):
        SiteBatteryEnv(_day_site(24), **bad)


def test_step_after_the_end_is_refused():
    env = SiteBatteryEnv(_day_site(2))
    _run(env, [0.0, 0.0])
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.array([0.0], dtype=np.float32))
