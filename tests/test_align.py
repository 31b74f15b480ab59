"""A user's meter year beside the bundled year: weekdays kept, leap days handled, the unit of
the meter file honoured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pvbess
from pvbess.inputs.align import align_to_index, site_with_meters


def _coded(index: pd.DatetimeIndex) -> pd.Series:
    """weekday * 1000 + hour + day of year / 1000: the value says where it came from."""
    local = index.tz_localize(None)
    return pd.Series(local.day_of_week * 1000 + local.hour + local.day_of_year / 1000,
                     index=index, dtype=float)


@settings(max_examples=12, deadline=None)
@given(source_year=st.sampled_from([2023, 2024, 2026, 2028]),
       target_year=st.sampled_from([2024, 2025]),
       tz=st.sampled_from(["America/Lima", "Europe/Madrid"]))
def test_every_day_takes_a_day_of_its_weekday_near_its_date(source_year, target_year, tz):
    source = pd.date_range(f"{source_year}-01-01", f"{source_year}-12-31 23:00", freq="h", tz=tz)
    target = pd.date_range(f"{target_year}-01-01", f"{target_year}-12-31 23:00", freq="h", tz=tz)
    out = align_to_index(_coded(source), target)
    local = target.tz_localize(None)
    v = out.to_numpy()
    assert out.index.equals(target) and not out.isna().any()
    assert (np.floor(v / 1000) == local.day_of_week).all()  # the weekday is kept
    hours = np.floor(v) % 1000
    normal = local.hour.to_numpy()
    assert (hours == normal).mean() > 0.999  # the time of day (DST days may differ by an hour)
    gap = np.abs(np.round((v % 1) * 1000) - local.day_of_year.to_numpy())
    gap = np.minimum(gap, 366 - gap)
    assert gap.max() <= 11  # near its date (a week more at the year's ends)


def test_a_meter_file_of_2024_in_watts_replaces_the_mall_of_the_bundled_year(tmp_path):
    site = pvbess.load_iquitos()
    index = pd.date_range("2024-01-01", "2024-12-31 23:45", freq="15min", tz="America/Lima")
    local = index.tz_localize(None)
    weekend = local.day_of_week >= 5
    watts = np.where(weekend, 800_000.0, 1_600_000.0)  # mean power over each quarter hour [W]
    ends = (index + pd.Timedelta(minutes=15)).tz_localize(None)
    pd.DataFrame({"fecha": ends.strftime("%d/%m/%Y %H:%M"), "P [W]": watts}).to_csv(
        tmp_path / "mall_2024.csv", sep=";", index=False)
    out = site_with_meters(site, {"mall_kwh": tmp_path / "mall_2024.csv"})
    assert out.index.equals(site.index)
    assert out[["pv_kwh", "ev_kwh"]].equals(site[["pv_kwh", "ev_kwh"]])
    site_weekend = site.index.tz_localize(None).day_of_week >= 5
    np.testing.assert_allclose(out["mall_kwh"].to_numpy(),
                               np.where(site_weekend, 800.0, 1600.0), rtol=1e-12)  # W -> kWh/h
    pvbess.check_balance(pvbess.simulate(out))


def test_errors_name_what_is_wrong(tmp_path):
    site = pvbess.load_iquitos()
    with pytest.raises(pvbess.DataError, match="not in the site table"):
        site_with_meters(site, {"office_kwh": tmp_path / "x.csv"})
    short = _coded(pd.date_range("2024-03-01", periods=24 * 20, freq="h", tz="America/Lima"))
    with pytest.raises(pvbess.DataError, match="no source day"):
        align_to_index(short, site.index)
    with pytest.raises(pvbess.DataError, match="tz-aware"):
        align_to_index(short.tz_localize(None), site.index)
