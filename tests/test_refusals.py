"""Public entry points refuse bad input with a pvbess.DataError naming what and where: specs
with a wrong type or an unknown zone, energies beyond any site's power (a unit mistake or a
corrupted cell such as 1e300)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pvbess
from pvbess.timeseries import MAX_SITE_POWER_KW


@pytest.mark.parametrize("make, words", [
    (lambda: pvbess.Tariff(energy_hp_pen_per_kwh="abc"), ["Tariff.energy_hp_pen_per_kwh", "number"]),
    (lambda: pvbess.Site(tz="Mars/Olympus"), ["Site.tz", "Mars/Olympus"]),
    (lambda: pvbess.Battery(capacity_kwh=float("nan")), ["Battery.capacity_kwh"]),
    (lambda: pvbess.Battery.from_dict({"capacity": 1.0}), ["Battery", "unknown", "capacity"]),
])
def test_specs_refuse_with_a_data_error(make, words):
    with pytest.raises(pvbess.DataError) as err:
        make()
    for word in words:
        assert word in str(err.value)


def _site(hours: int = 48, freq: str = "h") -> pd.DataFrame:
    index = pd.date_range("2025-06-01", periods=hours, freq=freq, tz="America/Lima")
    return pd.DataFrame({"pv_kwh": 100.0, "ev_kwh": 10.0, "mall_kwh": 500.0}, index=index)


@settings(max_examples=25, deadline=None)
@given(row=st.integers(0, 47), column=st.sampled_from(["pv_kwh", "ev_kwh", "mall_kwh"]),
       value=st.sampled_from([1e300, 2e6, 1.0000001e6, float(np.finfo(float).max)]),
       freq=st.sampled_from(["h", "15min"]))
def test_an_energy_beyond_any_site_is_refused_naming_column_and_row(row, column, value, freq):
    site = _site(freq=freq)
    dt = 1.0 if freq == "h" else 0.25
    site.iloc[row, site.columns.get_loc(column)] = value * dt
    with pytest.raises(pvbess.DataError) as err:
        pvbess.simulate(site)
    text = str(err.value)
    assert column in text and f"row {row}" in text and "ceiling" in text and "kWh" in text


def test_the_ceiling_itself_is_accepted():
    site = _site()
    site["mall_kwh"] = MAX_SITE_POWER_KW  # a 1 GW site for every hour: absurd, but possible
    assert len(pvbess.simulate(site)) == len(site)
