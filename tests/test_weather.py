"""The stochastic weather generator against the site facts, plus its building blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess.site import Site
from pvbess.timeseries import DataError
from pvbess.inputs.weather import (
    IQUITOS_MONTHLY_GHI_KWH_M2,
    WeatherModel,
    _cycle,
    _kt_from_normal,
    _kt_quantile_function,
    clearsky_mean,
    daily_clearsky_index,
    generate_weather,
    year_index,
)


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    return generate_weather(2025, seed=7)


def test_year_index_is_hourly_local_interval_start():
    idx = year_index(2025)
    assert len(idx) == 8760 and str(idx.tz) == "America/Lima"
    assert idx[0] == pd.Timestamp("2025-01-01 00:00", tz="America/Lima")
    assert len(year_index(2024)) == 8784
    assert len(year_index(2025, freq="15min")) == 4 * 8760


def test_monthly_ghi_matches_facts(weather):
    monthly = weather["ghi_wm2"].groupby(weather.index.month).sum() / 1000.0
    np.testing.assert_allclose(monthly.to_numpy(), IQUITOS_MONTHLY_GHI_KWH_M2, rtol=0.03)
    assert abs(monthly.sum() - 1668.0) < 0.01 * 1668.0


def test_daily_clearsky_index_statistics(weather):
    kt = daily_clearsky_index(weather)
    assert len(kt) == 365
    assert kt.mean() == pytest.approx(0.70, abs=0.02)
    assert kt.std() == pytest.approx(0.16, abs=0.02)
    np.testing.assert_allclose(kt.quantile([0.05, 0.25, 0.5, 0.75, 0.95]).to_numpy(),
                               [0.43, 0.61, 0.72, 0.82, 0.93], atol=0.04)
    assert 0.15 < kt.autocorr(1) < 0.50
    monthly = kt.groupby(kt.index.month).mean().to_numpy()
    np.testing.assert_allclose(monthly, [0.66, 0.60, 0.69, 0.67, 0.65, 0.72, 0.71, 0.78, 0.79,
                                         0.77, 0.71, 0.66], atol=0.03)
    # the stored daily index is the one recomputed from GHI
    stored = weather["kt_daily"].groupby(weather.index.normalize()).first()
    np.testing.assert_allclose(stored.to_numpy(), kt.to_numpy(), atol=0.01)


def test_afternoons_are_cloudier_than_mornings(weather):
    ratio = weather["ghi_wm2"] / weather["ghi_clear_wm2"].where(weather["ghi_clear_wm2"] > 50)
    by_hour = ratio.groupby(weather.index.hour).mean()
    assert by_hour.loc[8:10].mean() > by_hour.loc[14:16].mean() + 0.05


def test_night_is_dark_and_components_close(weather):
    night = weather["ghi_clear_wm2"] == 0
    assert night.sum() > 3000
    assert (weather.loc[night, ["ghi_wm2", "dni_wm2", "dhi_wm2"]] == 0).all().all()
    assert (weather[["ghi_wm2", "dni_wm2", "dhi_wm2"]] >= 0).all().all()
    assert (weather["dhi_wm2"] <= weather["ghi_wm2"] + 1e-9).all()
    # GHI = DHI + DNI cos(zenith) at the mid-interval sun (Erbs closes exactly)
    import pvlib

    from pvbess.inputs.weather import pvlib_quiet

    site = Site()
    mid = weather.index + pd.Timedelta(minutes=30)
    with pvlib_quiet():
        zen = pvlib.location.Location(site.latitude, site.longitude).get_solarposition(
            mid)["apparent_zenith"].to_numpy()
    day = zen < 85
    rebuilt = weather["dhi_wm2"].to_numpy() + weather["dni_wm2"].to_numpy() * np.cos(
        np.radians(zen))
    np.testing.assert_allclose(rebuilt[day], weather["ghi_wm2"].to_numpy()[day], atol=1.0)


def test_temperature_and_wind(weather):
    by_hour = weather["temp_air_c"].groupby(weather.index.hour).mean()
    assert by_hour[6] == pytest.approx(23.6, abs=0.3)
    assert by_hour[13] == pytest.approx(28.7, abs=0.3)
    assert by_hour.idxmin() in (4, 5, 6) and by_hour.idxmax() in (12, 13, 14)
    monthly = weather["temp_air_c"].groupby(weather.index.month).mean()
    assert monthly.min() > 24.4 and monthly.max() < 26.9
    assert weather["wind_ms"].mean() == pytest.approx(0.8, abs=0.06)
    assert (weather["wind_ms"] > 0).all()


def test_deterministic_for_a_seed_and_different_across_seeds():
    a = generate_weather(2025, seed=3)
    b = generate_weather(2025, seed=3)
    c = generate_weather(2025, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["ghi_wm2"], c["ghi_wm2"])


def test_quarter_hourly_weather_keeps_the_monthly_ghi():
    w = generate_weather(2025, seed=1, freq="15min")
    monthly = w["ghi_wm2"].groupby(w.index.month).sum() * 0.25 / 1000.0
    np.testing.assert_allclose(monthly.to_numpy(), IQUITOS_MONTHLY_GHI_KWH_M2, rtol=1e-9)


def test_clearsky_mean_is_the_interval_average():
    """Hourly means from 4 sub-points agree with a 1-minute integration within 1 % a day."""
    hourly = year_index(2025)[:48]
    minutes = pd.date_range(hourly[0], periods=48 * 60, freq="min")
    fine = clearsky_mean(minutes)["ghi"]
    coarse = clearsky_mean(hourly)["ghi"]
    daily_fine = fine.groupby(fine.index.normalize()).sum() / 60.0
    daily_coarse = coarse.groupby(coarse.index.normalize()).sum()
    np.testing.assert_allclose(daily_coarse.to_numpy(), daily_fine.to_numpy(), rtol=0.01)
    by_hour_fine = fine.groupby(fine.index.floor("h")).mean()
    np.testing.assert_allclose(coarse.to_numpy(), by_hour_fine.to_numpy(), atol=15.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-4, 4), min_size=2, max_size=50))
def test_kt_map_is_monotone_and_hits_the_quantiles(z):
    zq, q = _kt_quantile_function(WeatherModel().kt_quantiles)
    z = np.sort(np.asarray(z))
    out = _kt_from_normal(z, zq, q)
    assert np.all(np.diff(out) >= -1e-12)
    np.testing.assert_allclose(_kt_from_normal(zq.copy(), zq, q), q)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.0, 23.0), st.floats(1.0, 10.0), st.floats(0.1, 5.0))
def test_temperature_cycle_shape(t_min, rise, power):
    model = WeatherModel(temp_min_hour=t_min, temp_max_hour=min(t_min + rise, 24.0))
    hours = np.linspace(0.0, 24.0, 481)
    g = _cycle(hours, model, power)
    assert np.all((g >= -1e-12) & (g <= 1 + 1e-12))
    assert _cycle(np.array([model.temp_min_hour]), model, power)[0] == pytest.approx(0.0)
    assert _cycle(np.array([model.temp_max_hour]), model, power)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("change", [
    {"monthly_ghi_kwh_m2": (100.0,) * 11},
    {"monthly_ghi_kwh_m2": (100.0,) * 11 + (-1.0,)},
    {"kt_quantiles": (0.5, 0.4, 0.6, 0.7, 0.8)},
    {"kt_lag1": 1.0},
    {"kt_min": 0.9, "kt_max": 0.5},
    {"temp_min_c": 30.0},
    {"temp_min_hour": 14.0},
    {"wind_mean_ms": 0.0},
])
def test_weather_model_rejects_bad_parameters(change):
    with pytest.raises(ValueError):
        WeatherModel(**change)


@pytest.mark.parametrize("freq", ["banana", "-1h", "7min"])
def test_generate_weather_refuses_a_bad_step(freq):
    with pytest.raises(DataError, match=rf"freq={freq!r}"):
        generate_weather(2025, freq=freq)


def test_year_index_refuses_a_bad_zone():
    with pytest.raises(DataError, match=r"tz='Mars/Olympus'"):
        year_index(2025, tz="Mars/Olympus")
