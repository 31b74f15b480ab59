"""The pvlib PV model: yield, hand-computed STC case, clipping, time step, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess.pv import PVPlant
from pvbess.inputs.pvmodel import pv_ac_kwh, pv_ac_power
from pvbess.timeseries import DataError
from pvbess.inputs.weather import generate_weather


def _noon_weather(ghi, dhi=None, dni=0.0, temp=25.0, wind=1.0, freq="h", periods=None):
    ghi = np.atleast_1d(np.asarray(ghi, dtype=float))
    n = len(ghi) if periods is None else periods
    index = pd.date_range("2025-03-21 11:30", periods=n, freq=freq, tz="America/Lima")
    return pd.DataFrame({"ghi_wm2": ghi, "dni_wm2": dni,
                         "dhi_wm2": ghi if dhi is None else dhi,
                         "temp_air_c": temp, "wind_ms": wind}, index=index)


def test_annual_specific_yield_in_expected_range():
    weather = generate_weather(2025, seed=11)
    plant = PVPlant()
    kwh = pv_ac_kwh(weather, plant)
    yield_kwh_kwp = kwh.sum() / plant.dc_kwp
    assert 1250 <= yield_kwh_kwp <= 1450
    assert kwh.max() <= plant.ac_kw + 1e-9
    assert (kwh >= 0).all()
    night = weather["ghi_wm2"] == 0
    assert (kwh[night] == 0).all()


def test_hand_computed_dc_at_standard_conditions():
    """Flat plant, diffuse-only 1000 W/m2 -> POA 1000; air temperature set so the cell is at 25 C."""
    plant = PVPlant(tilt_deg=0.0, ac_kw=10_000.0)
    wind = 1.0
    temp_air = 25.0 - 1000.0 / (25.0 + 6.84 * wind)  # Faiman: T_cell = T_air + G/(u0+u1 v)
    out = pv_ac_power(_noon_weather([1000.0, 1000.0], temp=temp_air, wind=wind), plant)
    assert out["poa_wm2"].iloc[0] == pytest.approx(1000.0, rel=1e-9)
    assert out["temp_cell_c"].iloc[0] == pytest.approx(25.0, abs=1e-9)
    assert out["dc_kw"].iloc[0] == pytest.approx(plant.dc_kwp * (1 - plant.losses_pct / 100))
    assert 0.9 * out["dc_kw"].iloc[0] < out["ac_kw"].iloc[0] < out["dc_kw"].iloc[0]


def test_inverter_clips_at_ac_rating():
    plant = PVPlant(dc_kwp=4050.0, ac_kw=2000.0)
    out = pv_ac_power(_noon_weather([1100.0, 1100.0], temp=20.0), plant)
    np.testing.assert_allclose(out["ac_kw"], 2000.0)


def test_energy_is_power_times_step():
    plant = PVPlant()
    hourly = _noon_weather([600.0, 600.0], freq="h")
    quarter = _noon_weather([600.0] * 4, freq="15min")
    p = pv_ac_power(quarter, plant)["ac_kw"]
    np.testing.assert_allclose(pv_ac_kwh(quarter, plant), p * 0.25)
    assert pv_ac_kwh(hourly, plant).iloc[0] == pytest.approx(pv_ac_power(hourly, plant)["ac_kw"]
                                                             .iloc[0])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.0, 1300.0), min_size=3, max_size=12),
       st.floats(0.0, 45.0), st.floats(0.0, 359.0), st.floats(500.0, 5000.0))
def test_ac_is_bounded_and_monotone_in_irradiance(ghi, tilt, azimuth, ac_kw):
    plant = PVPlant(tilt_deg=tilt, azimuth_deg=azimuth, ac_kw=ac_kw)
    ghi = np.asarray(ghi)
    low = pv_ac_power(_noon_weather(ghi, dhi=0.5 * ghi, dni=0.5 * ghi), plant)["ac_kw"]
    high = pv_ac_power(_noon_weather(1.1 * ghi, dhi=0.55 * ghi, dni=0.55 * ghi), plant)["ac_kw"]
    assert (low >= 0).all() and (high <= ac_kw + 1e-9).all()
    assert (high.to_numpy() >= low.to_numpy() - 1e-9).all()


def test_ghi_only_weather_is_decomposed():
    weather = generate_weather(2025, seed=11).iloc[: 24 * 14]
    full = pv_ac_kwh(weather)
    ghi_only = pv_ac_kwh(weather.drop(columns=["dni_wm2", "dhi_wm2"]))
    # the generated DNI/DHI come from the same Erbs split: identical energy
    np.testing.assert_allclose(ghi_only, full, rtol=1e-9, atol=1e-9)
    with pytest.raises(DataError, match="dhi_wm2"):
        pv_ac_kwh(weather.drop(columns=["dhi_wm2"]))


def test_bad_weather_is_a_clear_error():
    w = _noon_weather([500.0, 500.0, 500.0])
    with pytest.raises(DataError, match="temp_air_c"):
        pv_ac_kwh(w.drop(columns="temp_air_c"))
    w.iloc[1, w.columns.get_loc("ghi_wm2")] = np.nan
    with pytest.raises(DataError, match=r"'ghi_wm2' \[W/m2\].*row 1"):
        pv_ac_kwh(w)
    w = _noon_weather([500.0, -5.0, 500.0])
    with pytest.raises(DataError, match="negative"):
        pv_ac_kwh(w)
    with pytest.raises(DataError, match="tz-aware"):
        pv_ac_kwh(_noon_weather([1.0, 2.0]).tz_localize(None))
