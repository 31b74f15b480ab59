"""What the weather readers refuse: units in headers, truncated years, bad cells, bad zones.

Each case here was accepted or crashed before issue 13. The readers' general behaviour is
tested in ``test_loaders.py`` (its EPW/PVGIS file builders are reused here).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess import DataError, read_weather
from pvbess.inputs.limits import PLAUSIBLE
from test_loaders import EPW_HEADER, epw_row, pvgis_csv, write, write_epw

LIMA = "America/Lima"


def epw_year(hours: int = 8760) -> str:
    """A typical-year EPW (all 2005) with the first ``hours`` rows, on real dates."""
    stamps = pd.date_range("2005-01-01 01:00", periods=8760, freq="h")[:hours]
    rows = []
    for i, t in enumerate(stamps):
        hour = t.hour or 24  # EPW hour 24 closes the day
        day = t - pd.Timedelta(hours=1) if t.hour == 0 else t
        rows.append(epw_row(2005, day.month, day.day, hour, 25.0, 0, 0, 0, 1.0))
    return "\n".join(EPW_HEADER + rows) + "\n"


# -------------------------------------------------------------------------------------------
# units written in a weather CSV header
# -------------------------------------------------------------------------------------------
def weather_csv(header: str, rows: list[str]) -> str:
    stamps = pd.date_range("2024-03-01 10:00", periods=len(rows), freq="h")
    return "\n".join([header] + [f"{t:%Y-%m-%d %H:%M},{r}" for t, r in zip(stamps, rows)]) + "\n"


def test_header_units_are_converted(tmp_path):
    text = weather_csv("time,GHI [kW/m2],temp (F),wind [km/h]", ["0.5,77,3.6", "0.75,86,7.2"])
    w = read_weather(write(tmp_path, "w.csv", text))
    np.testing.assert_allclose(w["ghi_wm2"], [500.0, 750.0])
    np.testing.assert_allclose(w["temp_air_c"], [25.0, 30.0])
    np.testing.assert_allclose(w["wind_ms"], [1.0, 2.0])


def test_header_irradiation_per_interval_is_divided_by_the_step(tmp_path):
    text = weather_csv("time,GHI [Wh/m2],temp [C],wind [m/s]", ["500,25,1", "750,26,1"])
    np.testing.assert_allclose(read_weather(write(tmp_path, "w.csv", text))["ghi_wm2"],
                               [500.0, 750.0])


def test_an_unknown_header_unit_is_refused(tmp_path):
    text = weather_csv("time,GHI [lux],temp [C],wind [m/s]", ["500,25,1", "750,26,1"])
    with pytest.raises(DataError, match=r"w.csv: column 'GHI \[lux\]': unknown unit 'lux'"):
        read_weather(write(tmp_path, "w.csv", text))


def test_a_caller_unit_contradicting_the_header_is_refused(tmp_path):
    text = weather_csv("time,GHI [kW/m2],temp [C],wind [m/s]", ["0.5,25,1", "0.7,26,1"])
    path = write(tmp_path, "w.csv", text)
    with pytest.raises(DataError, match=r"w.csv: column 'GHI \[kW/m2\]': the header says kW/m2 "
                                        r"but units=\{'ghi_wm2': 'W/m2'\} was given"):
        read_weather(path, units={"ghi_wm2": "W/m2"})
    assert read_weather(path, units={"ghi_wm2": "kW/m2"})["ghi_wm2"].tolist() == [500.0, 700.0]


def test_weather_csv_decimal_mark_is_decided_per_file(tmp_path):
    text = ("time;GHI [W/m2];temp [C];wind [m/s]\n2024-03-01 10:00;1.000;25,5;1\n"
            "2024-03-01 11:00;1.050;26;1,5\n")
    w = read_weather(write(tmp_path, "w.csv", text))
    assert w["ghi_wm2"].tolist() == [1000.0, 1050.0] and w["temp_air_c"].tolist() == [25.5, 26]


@pytest.mark.parametrize("col, cell, unit", [("GHI [W/m2]", "2000", "W/m2"),
                                             ("temp [C]", "75", "C"),
                                             ("wind [m/s]", "90", "m/s")])
def test_weather_values_above_the_ceiling_name_line_column_unit_and_ceiling(tmp_path, col, cell,
                                                                            unit):
    rows = {"GHI [W/m2]": "500", "temp [C]": "25", "wind [m/s]": "1"}
    bad = dict(rows, **{col: cell})
    text = ("time,GHI [W/m2],temp [C],wind [m/s]\n2024-03-01 10:00," + ",".join(rows.values())
            + "\n2024-03-01 11:00," + ",".join(bad.values()) + "\n")
    target = {"GHI [W/m2]": "ghi_wm2", "temp [C]": "temp_air_c", "wind [m/s]": "wind_ms"}[col]
    hi = PLAUSIBLE[target].high
    with pytest.raises(DataError, match=rf"w.csv: line 3 \(2024-03-01 11:00:00-05:00\), column "
                                        rf"'{target}' \[{unit}\]: value {cell} .*above the ceiling "
                                        rf"of {hi:g} {unit}"):
        read_weather(write(tmp_path, "w.csv", text))


# -------------------------------------------------------------------------------------------
# whole years where a typical year is promised
# -------------------------------------------------------------------------------------------
def test_a_whole_epw_year_reads(tmp_path):
    w = read_weather(write(tmp_path, "y.epw", epw_year()))
    assert len(w) == 8760 and w.index[0] == pd.Timestamp("2023-01-01 00:00", tz=LIMA)


def test_a_truncated_epw_is_refused_with_its_row_count(tmp_path):
    with pytest.raises(DataError, match=r"t.epw: 4,000 hourly rows; a typical year \(EPW\) needs "
                                        r"8,760"):
        read_weather(write(tmp_path, "t.epw", epw_year(4000)))


def test_a_header_only_epw_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"h.epw: no data rows"):
        read_weather(write(tmp_path, "h.epw", "\n".join(EPW_HEADER) + "\n"))


def test_a_pvgis_csv_cut_short_is_refused_with_its_row_count(tmp_path):
    lines = pvgis_csv(offset_line=False).split("\r\n")
    cut = "\r\n".join(lines[:17 + 4000]) + "\r\n"  # 17 header lines
    with pytest.raises(DataError, match=r"c.csv: 4,000 hourly rows; a typical year \(PVGIS\) "
                                        r"needs 8,760"):
        read_weather(write(tmp_path, "c.csv", cut))


def test_a_bad_pvgis_cell_names_its_line_and_column(tmp_path):
    text = pvgis_csv(offset_line=False).replace("1.2,90,100000", "x.2,90,100000", 1)
    with pytest.raises(DataError, match=r"b.csv: line 18 \(20070101:0000\), column 'WS10m' "
                                        r"\[m/s\]: non-numeric value 'x.2'"):
        read_weather(write(tmp_path, "b.csv", text))


def test_a_pvgis_timestamp_cut_mid_line_names_its_line(tmp_path):
    lines = pvgis_csv(offset_line=False).split("\r\n")
    cut = "\r\n".join(lines[:17 + 4000]) + "\r\n2010031"
    with pytest.raises(DataError, match=r"c.csv: line 4018: 1 field\(s\) where the header \(line "
                                        r"17\) has 10 \(a row cut short\?\)"):
        read_weather(write(tmp_path, "c.csv", cut))
    lines[20] = "2007-01-01 03:00" + lines[20][lines[20].index(","):]
    with pytest.raises(DataError, match=r"b.csv: line 21, column 'time\(UTC\)': unparseable "
                                        r"timestamp '2007-01-01 03:00' \(expected YYYYMMDD:HHMM"):
        read_weather(write(tmp_path, "b.csv", "\r\n".join(lines)))


@pytest.mark.parametrize("tz", ["Mars/Olympus", ""])
def test_an_unknown_time_zone_is_a_data_error(tmp_path, tz):
    with pytest.raises(DataError, match=r"tz="):
        read_weather(write_epw(tmp_path), tz=tz)


@settings(max_examples=25, deadline=None)
@given(ghi=st.lists(st.integers(0, 1400), min_size=2, max_size=10),
       temp=st.integers(-40, 50), ghi_unit=st.sampled_from(["W/m2", "kW/m2", "Wh/m2"]),
       temp_unit=st.sampled_from(["C", "K", "F"]), minutes=st.sampled_from([15, 30, 60]))
def test_weather_written_in_any_known_unit_reads_the_same(ghi, temp, ghi_unit, temp_unit,
                                                         minutes):
    """Irradiance in W/m2, kW/m2 or Wh/m2 per step and temperature in C, K or F read back to
    the same W/m2 and C."""
    to_file = {"W/m2": 1.0, "kW/m2": 1e-3, "Wh/m2": minutes / 60}[ghi_unit]
    t_file = {"C": temp, "K": temp + 273.15, "F": temp * 9 / 5 + 32}[temp_unit]
    stamps = pd.date_range("2024-03-01 10:00", periods=len(ghi), freq=f"{minutes}min")
    text = f"time;GHI [{ghi_unit}];temp [{temp_unit}];wind [m/s]\n" + "".join(
        f"{t:%Y-%m-%d %H:%M};{g * to_file!r};{t_file!r};1.5\n" for t, g in zip(stamps, ghi))
    with tempfile.TemporaryDirectory() as folder:
        w = read_weather(write(Path(folder), "w.csv", text), decimal=".")
    np.testing.assert_allclose(w["ghi_wm2"], ghi, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(w["temp_air_c"], temp, rtol=1e-12, atol=1e-9)
