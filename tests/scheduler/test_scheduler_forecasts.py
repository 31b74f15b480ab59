"""Forecast providers: hand cases, causality, determinism of the seeded noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sched_synthetic import make_site

from pvbess import MeanProfileForecast, NoisyForecast, PerfectForecast, PersistenceForecast
from pvbess.scheduler.forecasts import make_forecast
from pvbess.scheduler.replay import site_actuals
from pvbess.timeseries import DataError

SITE = make_site(days=10, seed=3)
ACTUAL = site_actuals(SITE)
PPD = 24


def test_perfect_is_the_actual_data_and_prices_pass_through():
    idx = ACTUAL.index[30:50]
    fc = PerfectForecast(ACTUAL).forecast(idx)
    pd.testing.assert_frame_equal(fc, ACTUAL.loc[idx, list(fc.columns)], check_freq=False)


def test_persistence_is_the_same_period_yesterday():
    fc = PersistenceForecast(ACTUAL)
    idx = ACTUAL.index[3 * PPD + 5: 4 * PPD]
    out = fc.forecast(idx)
    np.testing.assert_array_equal(out["load_kwh"], ACTUAL["load_kwh"].iloc[2 * PPD + 5:3 * PPD])
    np.testing.assert_array_equal(out["pv_kwh"], ACTUAL["pv_kwh"].iloc[2 * PPD + 5:3 * PPD])
    np.testing.assert_array_equal(out["buy_price"], ACTUAL["buy_price"].loc[idx])


def test_mean_profile_by_hand_and_warm_up():
    fc = MeanProfileForecast(ACTUAL)
    row = 9 * PPD + 13
    got = fc.forecast(ACTUAL.index[row:row + 1])["load_kwh"].iloc[0]
    want = np.mean([ACTUAL["load_kwh"].iloc[row - k * PPD] for k in range(1, 8)])
    assert got == pytest.approx(want, rel=1e-12)
    row = 2 * PPD + 13  # only two earlier days exist
    got = fc.forecast(ACTUAL.index[row:row + 1])["pv_kwh"].iloc[0]
    want = np.mean([ACTUAL["pv_kwh"].iloc[row - k * PPD] for k in (1, 2)])
    assert got == pytest.approx(want, rel=1e-12)
    assert MeanProfileForecast(ACTUAL, days=1).forecast(ACTUAL.index[row:row + 3]).equals(
        PersistenceForecast(ACTUAL).forecast(ACTUAL.index[row:row + 3]))


def test_cold_start_falls_back_to_the_actual_values():
    idx = ACTUAL.index[:PPD]
    for cls in (PersistenceForecast, MeanProfileForecast):
        out = cls(ACTUAL).forecast(idx)
        np.testing.assert_array_equal(out["load_kwh"], ACTUAL["load_kwh"].iloc[:PPD])


@settings(max_examples=30, deadline=None)
@given(issue=st.integers(0, 9 * PPD - 1), length=st.integers(1, PPD),
       kind=st.sampled_from(["persistence", "mean7"]), bump=st.floats(1.0, 500.0))
def test_history_forecasts_are_causal(issue, length, kind, bump):
    """Changing the data at or after the issue period never changes the forecast."""
    length = min(length, len(ACTUAL) - issue)
    idx = ACTUAL.index[issue:issue + length]
    before = make_forecast(kind, ACTUAL).forecast(idx)
    changed = ACTUAL.copy()
    changed.iloc[issue:, :2] += bump
    after = make_forecast(kind, changed).forecast(idx)
    if issue >= PPD:  # past the cold start, the future is invisible
        pd.testing.assert_frame_equal(before[["load_kwh", "pv_kwh"]],
                                      after[["load_kwh", "pv_kwh"]], check_exact=True)


def test_noise_is_seeded_non_negative_and_per_issue_time():
    a = NoisyForecast(ACTUAL, load_noise=0.2, pv_noise=0.3, seed=5)
    idx = ACTUAL.index[40:64]
    one = a.forecast(idx)
    pd.testing.assert_frame_equal(one, NoisyForecast(ACTUAL, 0.2, 0.3, seed=5).forecast(idx))
    assert not one.equals(NoisyForecast(ACTUAL, 0.2, 0.3, seed=6).forecast(idx))
    later = a.forecast(ACTUAL.index[41:64])  # re-issued an hour later: fresh errors
    assert not np.array_equal(later["load_kwh"].to_numpy(), one["load_kwh"].to_numpy()[1:])
    assert (one[["load_kwh", "pv_kwh"]] >= 0).all().all()
    night = ACTUAL["pv_kwh"].loc[idx].to_numpy() == 0
    assert night.any() and (one["pv_kwh"].to_numpy()[night] == 0).all()
    err = one["load_kwh"] / ACTUAL["load_kwh"].loc[idx] - 1
    assert 0 < err.abs().max() < 1.5
    zero = NoisyForecast(ACTUAL, 0.0, 0.0).forecast(idx)
    pd.testing.assert_frame_equal(zero, PerfectForecast(ACTUAL).forecast(idx))


def test_quarter_hour_persistence():
    actual = site_actuals(make_site(days=3, dt_h=0.25))
    fc = PersistenceForecast(actual)
    assert fc.periods_per_day == 96
    out = fc.forecast(actual.index[150:160])
    np.testing.assert_array_equal(out["load_kwh"], actual["load_kwh"].iloc[54:64])


def test_errors():
    with pytest.raises(ValueError, match="must be one of"):
        make_forecast("oracle", ACTUAL)
    with pytest.raises(ValueError, match="seed"):
        NoisyForecast(ACTUAL, seed=-1)
    with pytest.raises(DataError, match="outside the data"):
        PerfectForecast(ACTUAL).forecast(ACTUAL.index[:3] - pd.Timedelta(days=30))
    with pytest.raises(DataError, match="pv_kwh"):
        PerfectForecast(ACTUAL.assign(pv_kwh=-ACTUAL["pv_kwh"] - 1))
    with pytest.raises(DataError, match="buy_price"):
        PerfectForecast(ACTUAL.drop(columns="buy_price"))
    provider = PerfectForecast(ACTUAL)
    assert make_forecast(provider, ACTUAL) is provider


def _reference_mean(values: np.ndarray, issue: int, row: int, n_days: int) -> float:
    """The same period on up to ``n_days`` earlier days known at ``issue``, by hand: the first
    lag is the smallest whole number of days that puts the row before the issue row."""
    lag = 1
    while row - lag * PPD >= issue:
        lag += 1
    known = [values[row - (lag + k) * PPD] for k in range(n_days) if row - (lag + k) * PPD >= 0]
    if not known:
        return values[row]  # cold start: the actual value
    total = 0.0
    for v in known:  # summed in day order, as the providers do
        total += v
    return total / len(known)


@settings(max_examples=150, deadline=None)
@given(issue=st.integers(0, 10 * PPD - 1), length=st.integers(1, 3 * PPD),
       days=st.integers(1, 8))
def test_history_means_by_hand(issue, length, days):
    """Every window (a re-plan's rest of the day, or days ahead) is the hand mean, bit for bit."""
    length = min(length, len(ACTUAL) - issue)
    fc = MeanProfileForecast(ACTUAL, days=days)
    out = fc.forecast(ACTUAL.index[issue:issue + length])
    for name in ("load_kwh", "pv_kwh"):
        values = ACTUAL[name].to_numpy()
        want = [_reference_mean(values, issue, row, days) for row in range(issue, issue + length)]
        np.testing.assert_array_equal(out[name].to_numpy(), want)
