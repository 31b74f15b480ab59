"""replay(): realised balance, comparisons, resumption (in process), parameter checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sched_synthetic import STEP_KWH, make_site, small_battery

from pvbess import replay
from pvbess.scheduler.replay import (
    COMPARISON_COLUMNS, EXACT, NO_BATTERY, PERFECT_DP, REPLAY, RULES,
)
from pvbess.timeseries import DataError

SITE = make_site(days=4, seed=21)
KW = dict(battery=small_battery(), energy_step_kwh=STEP_KWH)


@pytest.fixture(scope="module")
def perfect():
    return replay(SITE, forecast="perfect", **KW)


def test_balance_closes_and_is_continuous(perfect):
    bal = perfect.balance
    assert perfect.complete and len(bal) == len(SITE) and bal.index.equals(SITE.index)
    lhs = bal["load_kwh"] + bal["bess_charge_kwh"] + bal["grid_export_kwh"] \
        + bal["pv_curtailed_kwh"]
    rhs = bal["pv_kwh"] + bal["bess_discharge_kwh"] + bal["grid_import_kwh"]
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(bal["soe_start_kwh"].to_numpy()[1:],
                                  bal["soe_end_kwh"].to_numpy()[:-1])
    np.testing.assert_allclose(bal["load_kwh"], SITE["ev_kwh"] + SITE["mall_kwh"])
    b = small_battery()
    assert bal["soe_end_kwh"].between(b.e_min_kwh, b.e_max_kwh).all()
    assert perfect.info["scenarios"] == {"tomorrow": 4, "hourly": 92, "restart": 0}
    assert perfect.info["plans"] == 96


def test_comparison_orders_the_strategies(perfect):
    cmp_ = perfect.comparison
    assert list(cmp_.index) == [REPLAY, PERFECT_DP, EXACT, RULES, NO_BATTERY]
    assert list(cmp_.columns) == list(COMPARISON_COLUMNS)
    total = cmp_["total_cost_pen"]
    scale = total[NO_BATTERY]
    # the exact bound is below every strategy on the full bill, no battery is dearest
    assert total[EXACT] <= total.min() + 1e-9 * scale
    assert total[REPLAY] < total[NO_BATTERY]
    # day-by-day planning with perfect forecasts is close to whole-horizon foresight
    assert total[REPLAY] <= total[PERFECT_DP] + 0.01 * scale
    # the replay's bill is its recorded periods' energy bill plus the demand charges
    energy = perfect.balance["cost"].sum()
    assert total[REPLAY] == pytest.approx(energy + cmp_.loc[REPLAY, "demand_cost_pen"])
    co2 = perfect.balance["grid_import_kwh"].sum() * 0.4521
    assert cmp_.loc[REPLAY, "co2_site_kg"] == pytest.approx(co2)
    assert cmp_.loc[EXACT, "gap_vs_exact"] == 0.0
    np.testing.assert_allclose(cmp_["gap_vs_exact"], total - total[EXACT])


def test_energy_only_plans_lose_demand_charges(perfect):
    energy = replay(SITE, forecast="perfect", bill="energy", **KW).comparison
    full = perfect.comparison
    # an energy-only scheduler pays less for energy and more in demand charges
    assert energy.loc[REPLAY, "energy_cost_pen"] <= full.loc[REPLAY, "energy_cost_pen"] + 1e-6
    assert energy.loc[REPLAY, "total_cost_pen"] >= full.loc[REPLAY, "total_cost_pen"] - 1e-6


def test_forecasts_cost_more_than_perfect(perfect):
    base = perfect.comparison.loc[REPLAY, "total_cost_pen"]
    scale = perfect.comparison.loc[NO_BATTERY, "total_cost_pen"]
    for kind in ("persistence", "noisy"):
        res = replay(SITE, forecast=kind, **KW)
        assert res.complete
        assert res.comparison.loc[REPLAY, "total_cost_pen"] >= base - 1e-3 * scale, kind
        assert res.info["forecast"] == kind


def test_co2_price_and_subset_of_days():
    res = replay(SITE, forecast="mean7", start="2024-03-03", days=1, co2_price_per_kg=0.1,
                 **KW)
    bal = res.balance
    row = res.comparison.loc[REPLAY]
    assert len(bal) == 24 and bal.index[0] == pd.Timestamp("2024-03-03", tz="America/Lima")
    assert row["co2_cost_pen"] == pytest.approx(0.1 * row["co2_site_kg"])
    assert bal["cost"].sum() == pytest.approx(row["energy_cost_pen"] + row["co2_cost_pen"]
                                              + row["wear_cost_pen"])
    tariff = np.where(bal.index.hour >= 18, 0.45, 0.28)
    tariff[bal.index.hour >= 23] = 0.28
    np.testing.assert_allclose(bal["buy_price"], tariff + 0.1 * 0.4521, rtol=1e-12)


@pytest.mark.parametrize("chunks", [[5, 19, 1, 30, 100], [24, 24, 48]])
def test_interrupted_and_resumed_replay_equals_uninterrupted(tmp_path, chunks):
    kw = dict(forecast="noisy", forecast_options={"seed": 3}, compare=False, **KW)
    whole = replay(SITE, **kw)
    db = tmp_path / "r.sqlite"
    done = 0
    for n in chunks:
        part = replay(SITE, db=db, stop_after=n, **kw)
        done = min(done + n, len(SITE))
        assert len(part.balance) == done and part.complete == (done == len(SITE))
    pd.testing.assert_frame_equal(part.balance, whole.balance, check_exact=True)
    again = replay(SITE, db=db, **kw)  # a finished replay resumes to itself
    pd.testing.assert_frame_equal(again.balance, whole.balance, check_exact=True)
    assert again.info["plans"] == 0


def test_parameter_and_data_checks(tmp_path):
    db = tmp_path / "p.sqlite"
    replay(SITE, db=db, stop_after=3, compare=False, **KW)
    with pytest.raises(ValueError, match="pass resume=True"):
        replay(SITE, db=db, resume=False, compare=False, **KW)
    with pytest.raises(ValueError, match="other data or parameters"):
        replay(SITE, db=db, forecast="persistence", compare=False, **KW)
    changed = SITE.copy()
    changed.iloc[50, 0] += 1.0
    with pytest.raises(ValueError, match="other data or parameters"):
        replay(changed, db=db, compare=False, **KW)
    with pytest.raises(DataError, match="midnight"):
        replay(SITE.iloc[3:], compare=False, **KW)
    with pytest.raises(DataError, match="whole day"):
        replay(SITE, days=9, compare=False, **KW)
    with pytest.raises(DataError, match="mall_kwh"):
        replay(SITE.drop(columns="mall_kwh"), compare=False, **KW)
