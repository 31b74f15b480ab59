"""The stochastic mall load against the meter facts, plus its ceiling and input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess.inputs.mall import (
    IQUITOS_MALL_MEAN_KW,
    IQUITOS_MALL_MONTHLY_MWH,
    IQUITOS_MALL_STD_KW,
    MallLoad,
    _soft_ceiling,
    simulate_mall,
)
from pvbess.timeseries import DataError
from pvbess.inputs.weather import year_index


@pytest.fixture(scope="module")
def mall() -> pd.Series:
    return simulate_mall(year_index(2025), seed=9)


def test_monthly_and_annual_energy_exact(mall):
    monthly = mall.groupby(mall.index.month).sum() / 1000.0
    np.testing.assert_allclose(monthly.to_numpy(), IQUITOS_MALL_MONTHLY_MWH, rtol=1e-9)
    assert mall.sum() == pytest.approx(12_368_653, rel=0.01)


def test_profile_spread_and_peak(mall):
    by_hour = mall.groupby(mall.index.hour)
    np.testing.assert_allclose(by_hour.mean().to_numpy(), IQUITOS_MALL_MEAN_KW, rtol=0.05)
    np.testing.assert_allclose(by_hour.std().to_numpy(), IQUITOS_MALL_STD_KW, rtol=0.10)
    assert mall.max() == pytest.approx(2763, rel=0.05)
    daily = mall.groupby(mall.index.normalize()).sum()
    assert daily.std() / daily.mean() == pytest.approx(0.086, abs=0.02)
    assert 3300 < (mall > 1900).sum() < 4400  # meter: 3,832 h above 1,900 kW
    assert (mall >= 0).all()


def test_deterministic_for_a_seed():
    idx = year_index(2025)
    pd.testing.assert_series_equal(simulate_mall(idx, seed=2), simulate_mall(idx, seed=2))
    assert not np.allclose(simulate_mall(idx, seed=2), simulate_mall(idx, seed=3))


@settings(max_examples=15, deadline=None)
@given(st.floats(0.3, 3.0), st.floats(0.0, 0.2), st.floats(1.1, 1.5),
       st.integers(0, 2**32 - 1))
def test_targets_hold_for_other_sites(scale, cv, peak_factor, seed):
    base = MallLoad()
    model = MallLoad(mean_kw=tuple(scale * v for v in base.mean_kw),
                     std_kw=tuple(scale * v for v in base.std_kw),
                     monthly_mwh=tuple(scale * v for v in base.monthly_mwh),
                     daily_cv=cv, peak_kw=peak_factor * scale * max(base.mean_kw))
    load = simulate_mall(year_index(2025), model, seed=seed)
    monthly = load.groupby(load.index.month).sum() / 1000.0
    np.testing.assert_allclose(monthly.to_numpy(), model.monthly_mwh, rtol=1e-9)
    assert (load >= 0).all()
    assert load.max() <= model.peak_kw * 1.001


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-100.0, 5000.0), min_size=2, max_size=40),
       st.floats(0.0, 2000.0), st.floats(1.0, 1000.0))
def test_soft_ceiling_is_monotone_and_bounded(x, knee, span):
    x = np.sort(np.asarray(x))
    y = _soft_ceiling(x, knee, knee + span)
    assert np.all(np.diff(y) >= -1e-9)
    assert np.all(y < knee + span + 1e-9)
    below = x <= knee
    np.testing.assert_array_equal(y[below], x[below])


def test_bad_index_and_parameters():
    idx = year_index(2025)
    with pytest.raises(DataError, match="hourly"):
        simulate_mall(year_index(2025, freq="15min"))
    with pytest.raises(DataError, match="whole local days"):
        simulate_mall(idx[3:])
    with pytest.raises(DataError, match="calendar year"):
        simulate_mall(idx[: 24 * 60])
    with pytest.raises(ValueError, match="mean_kw"):
        MallLoad(mean_kw=(1.0,) * 23)
    with pytest.raises(ValueError, match="peak_kw"):
        MallLoad(peak_kw=2000.0)
    with pytest.raises(ValueError, match="daily_lag1"):
        MallLoad(daily_lag1=1.0)
