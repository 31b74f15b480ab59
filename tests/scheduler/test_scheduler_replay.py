"""replay(): realised balance, comparisons, resumption (in process), parameter checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sched_synthetic import STEP_KWH, make_site, small_battery

from pvbess import replay
from pvbess.scheduler.replay import EXACT, NO_BATTERY, PERFECT_DP, REPLAY, RULES
from pvbess.timeseries import DataError

SITE = make_site(days=4, seed=21)
KW = dict(battery=small_battery(), energy_step_kwh=STEP_KWH)


@pytest.fixture(scope="module")
def perfect():
    return replay(SITE, forecast="perfect", **KW)


def test_balance_closes_and_is_continuous(perfect):
    bal = perfect.balance
    assert perfect.complete and len(bal) == len(SITE) and bal.index.equals(SITE.index)
    lhs = bal["load_kwh"] + bal["battery_charged_kwh"] + bal["grid_export_kwh"] \
        + bal["curtailed_kwh"]
    rhs = bal["pv_kwh"] + bal["battery_discharged_kwh"] + bal["grid_import_kwh"]
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
    scale = cmp_.loc[NO_BATTERY, "cost"]
    assert cmp_.loc[EXACT, "cost"] <= cmp_.loc[PERFECT_DP, "cost"] + 1e-9 * scale
    assert cmp_.loc[EXACT, "cost"] <= cmp_.loc[REPLAY, "cost"] + 1e-9 * scale
    assert cmp_.loc[REPLAY, "cost"] < cmp_.loc[NO_BATTERY, "cost"]
    # day-by-day planning with perfect forecasts is close to whole-horizon foresight
    assert cmp_.loc[REPLAY, "cost"] <= cmp_.loc[PERFECT_DP, "cost"] + 0.01 * scale
    assert cmp_.loc[REPLAY, "cost"] == pytest.approx(perfect.balance["cost"].sum())
    co2 = perfect.balance["grid_import_kwh"].sum() * 0.4521
    assert cmp_.loc[REPLAY, "co2_kg"] == pytest.approx(co2)
    assert cmp_.loc[EXACT, "gap_vs_exact"] == 0.0


def test_forecasts_cost_more_than_perfect(perfect):
    base = perfect.comparison.loc[REPLAY, "cost"]
    scale = perfect.comparison.loc[NO_BATTERY, "cost"]
    for kind in ("persistence", "noisy"):
        res = replay(SITE, forecast=kind, compare=False, **KW)
        assert res.complete and res.comparison.empty
        assert res.balance["cost"].sum() >= base - 1e-3 * scale, kind
        assert res.info["forecast"] == kind


def test_co2_price_and_subset_of_days():
    res = replay(SITE, forecast="mean7", start="2024-03-03", days=1, co2_price_per_kg=0.1,
                 **KW)
    bal = res.balance
    assert len(bal) == 24 and bal.index[0] == pd.Timestamp("2024-03-03", tz="America/Lima")
    assert res.comparison.loc[REPLAY, "cost"] == pytest.approx(
        res.comparison.loc[REPLAY, "energy_cost_pen"] + 0.1 * res.comparison.loc[REPLAY, "co2_kg"])
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
