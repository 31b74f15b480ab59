"""Tests of pvbess.inputs.loaders: meter/energy CSV files, hourly aggregation and weather files."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess import read_energy_csv, read_meter_csv, read_weather, to_hourly
from pvbess.timeseries import DataError

LIMA = "America/Lima"


def write(folder: Path, name: str, text: str, *, bom: bool = False) -> Path:
    path = folder / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def meter_text(values, *, start="2024-01-01 00:15", freq="15min", fmt="%-d/%m/%Y %-H:%M",
               header="FECHAHORA;kWh", sep=";") -> str:
    """A file like the mall's: end-of-interval labels, d/mm/YYYY H:MM, ';' separated."""
    stamps = pd.date_range(start, periods=len(values), freq=freq)
    lines = [header] + [f"{t.strftime(fmt)}{sep}{v}" for t, v in zip(stamps, values)]
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------------
# read_meter_csv: format, labels, units
# -------------------------------------------------------------------------------------------
def test_mall_format_end_labels_first_hour_holds_three_quarter_hours(tmp_path):
    values = [158, 161, 168, 168, 151, 155, 172, 160]  # 00:15 .. 02:00 (end labels)
    path = write(tmp_path, "meter.csv", meter_text(values), bom=True)
    s = read_meter_csv(path)
    assert s.name == "energy_kwh"
    assert str(s.index.tz) == LIMA and s.index.freq == pd.Timedelta("15min")
    assert s.index[0] == pd.Timestamp("2024-01-01 00:00", tz=LIMA)  # 00:15 closes 00:00-00:15
    assert s.index[-1] == pd.Timestamp("2024-01-01 01:45", tz=LIMA)
    assert s.tolist() == values
    # in the raw file the hour "0" holds three rows (0:15, 0:30, 0:45); 1:00 also ends hour 00
    hourly = to_hourly(s)
    assert hourly.index.tolist() == [pd.Timestamp("2024-01-01 00:00", tz=LIMA),
                                     pd.Timestamp("2024-01-01 01:00", tz=LIMA)]
    assert hourly.tolist() == [158 + 161 + 168 + 168, 151 + 155 + 172 + 160]


def test_start_labels_keep_timestamps(tmp_path):
    values = [1, 2, 3, 4]
    path = write(tmp_path, "m.csv", meter_text(values, start="2024-01-01 00:00"))
    s = read_meter_csv(path, label="start")
    assert s.index[0] == pd.Timestamp("2024-01-01 00:00", tz=LIMA)
    assert to_hourly(s).tolist() == [10.0]
    # the same file read as end-labelled is one step earlier
    assert read_meter_csv(path, label="end").index[0] == pd.Timestamp("2023-12-31 23:45", tz=LIMA)


def test_generic_comma_iso_file_and_column_choice(tmp_path):
    text = ("meter_id,timestamp,energy_kwh\n"
            "A,2024-05-01 00:00:00,1.5\nA,2024-05-01 00:30:00,2.5\nA,2024-05-01 01:00:00,3.0\n")
    path = write(tmp_path, "g.csv", text)
    s = read_meter_csv(path, value_col="energy_kwh", label="end", tz="UTC")
    assert s.index[0] == pd.Timestamp("2024-04-30 23:30", tz="UTC")
    assert s.attrs["step_h"] == 0.5
    assert s.tolist() == [1.5, 2.5, 3.0]


def test_tab_separator_and_decimal_comma(tmp_path):
    text = "fecha\tenergia kWh\n01/02/2024 10:00\t1,25\n01/02/2024 10:15\t2,5\n"
    s = read_meter_csv(write(tmp_path, "t.csv", text), label="start")
    assert s.index[0] == pd.Timestamp("2024-02-01 10:00", tz=LIMA)  # day first
    assert s.tolist() == [1.25, 2.5]
    s2 = read_meter_csv(write(tmp_path, "t2.csv", text), label="start", dayfirst=False)
    assert s2.index[0] == pd.Timestamp("2024-01-02 10:00", tz=LIMA)


def test_hour_24_means_next_midnight(tmp_path):
    text = "datetime;kWh\n31/12/2024 23:00;1\n31/12/2024 24:00;2\n"
    s = read_meter_csv(write(tmp_path, "h24.csv", text), freq="1h")
    assert s.index.tolist() == [pd.Timestamp("2024-12-31 22:00", tz=LIMA),
                                pd.Timestamp("2024-12-31 23:00", tz=LIMA)]


def test_timestamps_with_utc_offsets_are_converted(tmp_path):
    text = ("datetime,kWh\n2024-01-01 05:00:00+00:00,1\n2024-01-01 05:15:00+00:00,2\n")
    s = read_meter_csv(write(tmp_path, "o.csv", text), label="start")
    assert s.index[0] == pd.Timestamp("2024-01-01 00:00", tz=LIMA)


@pytest.mark.parametrize("unit, factor", [("kWh", 1.0), ("Wh", 1e-3), ("MWh", 1e3),
                                          ("kW", 0.25), ("W", 0.25e-3), ("MW", 250.0),
                                          ("kwh", 1.0), (" kW ", 0.25)])
def test_units_on_15_min_steps(tmp_path, unit, factor):
    values = [0, 4, 8, 12]
    text = meter_text(values, header="FECHAHORA;lectura")  # no unit in the header
    s = read_meter_csv(write(tmp_path, "u.csv", text), unit=unit)
    np.testing.assert_allclose(s.to_numpy(), np.array(values) * factor, rtol=1e-15)


def test_unit_from_column_name(tmp_path):
    s = read_meter_csv(write(tmp_path, "n.csv", meter_text([4, 8], header="time;P [kW]")),
                       unit=None)
    assert s.tolist() == [1.0, 2.0]


@settings(max_examples=25, deadline=None)
@given(kw=st.lists(st.floats(0, 5000, allow_nan=False, width=32), min_size=4, max_size=40),
       minutes=st.sampled_from([5, 10, 15, 30, 60]))
def test_power_becomes_energy_p_times_dt(kw, minutes):
    with tempfile.TemporaryDirectory() as folder:
        text = meter_text([repr(float(v)) for v in kw], freq=f"{minutes}min",
                          start="2024-03-01 00:00", header="time;load")
        s = read_meter_csv(write(Path(folder), "p.csv", text), unit="kW", label="start")
    np.testing.assert_allclose(s.to_numpy(), np.array(kw, dtype=float) * minutes / 60,
                               rtol=1e-15, atol=0)
    assert s.attrs["step_h"] == minutes / 60


# -------------------------------------------------------------------------------------------
# read_meter_csv: every bad input names file, line, timestamp and problem
# -------------------------------------------------------------------------------------------
GOOD = ["1/01/2024 0:15;1", "1/01/2024 0:30;2", "1/01/2024 0:45;3", "1/01/2024 1:00;4",
        "1/01/2024 1:15;5"]


def bad_file(tmp_path, rows, header="FECHAHORA;kWh"):
    return write(tmp_path, "bad.csv", "\n".join([header, *rows]) + "\n")


@pytest.mark.parametrize("row, line, words", [
    (";7", 4, ["line 4", "missing timestamp", "FECHAHORA"]),
    ("1/01/2024 0:4x;7", 4, ["line 4", "unparseable timestamp '1/01/2024 0:4x'"]),
    ("2024-13-01 00:45;7", 4, ["line 4", "unparseable timestamp"]),
    ("1/01/2024 0:45;", 4, ["line 4", "(1/01/2024 0:45)", "missing value (empty cell)", "[kWh]"]),
    ("1/01/2024 0:45;NaN", 4, ["line 4", "(1/01/2024 0:45)", "missing value (NaN: 'NaN')"]),
    ("1/01/2024 0:45;abc", 4, ["line 4", "(1/01/2024 0:45)", "non-numeric value 'abc'"]),
    ("1/01/2024 0:45;-3", 4, ["line 4", "(1/01/2024 0:45)", "negative value -3"]),
    ("1/01/2024 0:45;inf", 4, ["line 4", "infinite value"]),
])
def test_bad_cells(tmp_path, row, line, words):
    rows = GOOD[:2] + [row] + GOOD[3:]
    path = bad_file(tmp_path, rows)
    with pytest.raises(DataError) as err:
        read_meter_csv(path)
    msg = str(err.value)
    assert str(path) in msg
    for word in words:
        assert word in msg, msg


def test_empty_line_inside_the_data(tmp_path):
    rows = GOOD[:2] + [""] + GOOD[3:]
    with pytest.raises(DataError, match=r"bad.csv: line 4: missing timestamp \(empty line\)"):
        read_meter_csv(bad_file(tmp_path, rows))
    # trailing empty lines are fine
    assert len(read_meter_csv(write(tmp_path, "t.csv", "\n".join(["t;kWh", *GOOD, "", ""])))) == 5


def test_duplicate_timestamp(tmp_path):
    rows = GOOD[:3] + ["1/01/2024 0:45;9"] + GOOD[3:]
    with pytest.raises(DataError, match=r"line 5 \(1/01/2024 0:45\): duplicate timestamp .*line 4"):
        read_meter_csv(bad_file(tmp_path, rows))


def test_unsorted_timestamps(tmp_path):
    rows = [GOOD[0], GOOD[2], GOOD[1], GOOD[3], GOOD[4]]
    with pytest.raises(DataError, match=r"line 4 \(1/01/2024 0:30\): timestamps not sorted.*"
                                        r"line 3 \(1/01/2024 0:45\)"):
        read_meter_csv(bad_file(tmp_path, rows))


def test_gap(tmp_path):
    rows = GOOD[:2] + GOOD[4:] + ["1/01/2024 1:30;1", "1/01/2024 1:45;1"]
    with pytest.raises(DataError, match=r"line 4 \(1/01/2024 1:15\): gap: 2 missing interval\(s\) "
                                        r"of 15 min after .*line 3 \(1/01/2024 0:30\)"):
        read_meter_csv(bad_file(tmp_path, rows))


def test_gap_with_freq_given_and_irregular_step(tmp_path):
    rows = ["1/01/2024 0:15;1", "1/01/2024 0:20;1", "1/01/2024 0:35;1", "1/01/2024 0:50;1"]
    with pytest.raises(DataError, match=r"line 3 \(1/01/2024 0:20\): irregular step of "
                                        r"5 min \(expected 15 min\)"):
        read_meter_csv(bad_file(tmp_path, rows), freq="15min")


def test_one_hour_step_change_forward_and_back(tmp_path):
    forward = GOOD[:3] + ["1/01/2024 2:00;1", "1/01/2024 2:15;1"]
    with pytest.raises(DataError, match=r"line 5 \(1/01/2024 2:00\): gap: the clock jumps forward "
                                        r"by one hour"):
        read_meter_csv(bad_file(tmp_path, forward))
    back = GOOD[:4] + ["1/01/2024 0:15;1", "1/01/2024 0:30;1", "1/01/2024 0:45;1"]
    with pytest.raises(DataError, match=r"line 6 \(1/01/2024 0:15\): the clock steps back by one "
                                        r"hour"):
        read_meter_csv(bad_file(tmp_path, back))


def test_dst_nonexistent_and_ambiguous_local_times(tmp_path):
    spring = ["31/03/2024 1:30;1", "31/03/2024 1:45;1", "31/03/2024 2:00;1", "31/03/2024 2:15;1"]
    with pytest.raises(DataError, match=r"line 4 \(31/03/2024 2:00\): local time .* does not exist "
                                        r"in Europe/Madrid"):
        read_meter_csv(bad_file(tmp_path, spring), tz="Europe/Madrid")
    # a correct fall-back file repeats 02:00-02:45: ambiguous unless resolved by order
    stamps = ["1:30", "1:45", "2:00", "2:15", "2:30", "2:45",
              "2:00", "2:15", "2:30", "2:45", "3:00"]
    fall = [f"27/10/2024 {t};1" for t in stamps]
    path = bad_file(tmp_path, fall)
    with pytest.raises(DataError, match=r"line 4 \(27/10/2024 2:00\): local time .* is ambiguous "
                                        r"in Europe/Madrid"):
        read_meter_csv(path, tz="Europe/Madrid", label="start")
    s = read_meter_csv(path, tz="Europe/Madrid", label="start", ambiguous="infer")
    assert len(s) == 11 and s.index.freq == pd.Timedelta("15min")
    assert (np.diff(s.index.asi8) == 15 * 60 * 10**9).all()


def test_wrong_length(tmp_path):
    path = bad_file(tmp_path, GOOD)
    with pytest.raises(DataError, match=r"line 6 \(1/01/2024 1:15\): wrong length: expected 4 "
                                        r"intervals, found 5"):
        read_meter_csv(path, expected_rows=4)
    with pytest.raises(DataError, match=r"line 2 \(1/01/2024 0:15\): wrong length: expected 35136 "
                                        r"intervals .* full year 2024"):
        read_meter_csv(path, year=2024)
    assert len(read_meter_csv(path, expected_rows=5)) == 5


def test_full_year_check_accepts_a_full_year(tmp_path):
    path = write(tmp_path, "y.csv", meter_text([1] * 8760, start="2023-01-01 01:00", freq="h"))
    assert len(read_meter_csv(path, year=2023)) == 8760
    with pytest.raises(DataError, match="full year 2024"):
        read_meter_csv(path, year=2024)


def test_unknown_unit_missing_column_and_bad_label(tmp_path):
    path = bad_file(tmp_path, GOOD)
    with pytest.raises(DataError, match=r"bad.csv: column 'kWh': unknown unit 'kWhh'; known units"):
        read_meter_csv(path, unit="kWhh")
    with pytest.raises(DataError, match=r"line 1 \(header\): value column 'foo' is missing; the "
                                        r"file has columns \['FECHAHORA', 'kWh'\]"):
        read_meter_csv(path, value_col="foo")
    with pytest.raises(DataError, match=r"timestamp column 'fecha_x' is missing"):
        read_meter_csv(path, timestamp_col="fecha_x")
    with pytest.raises(DataError, match="label='middle'"):
        read_meter_csv(path, label="middle")


def test_wrong_field_count_and_mixed_offsets_and_empty_file(tmp_path):
    rows = GOOD[:2] + ["1/01/2024 0:45;3;9"] + GOOD[3:]
    with pytest.raises(DataError, match=r"bad.csv: line 4: wrong number of fields"):
        read_meter_csv(bad_file(tmp_path, rows))
    text = "t,kWh\n2024-01-01 00:00-05:00,1\n2024-01-01 00:15,1\n"
    with pytest.raises(DataError, match=r"line 3 \(2024-01-01 00:15\): timestamp without a UTC"):
        read_meter_csv(write(tmp_path, "mix.csv", text), label="start")
    with pytest.raises(DataError, match="empty"):
        read_meter_csv(write(tmp_path, "empty.csv", "\n\n"))
    with pytest.raises(DataError, match=r"one.csv: line 3 \(header\): cannot detect the column "
                                        r"separator"):
        read_meter_csv(write(tmp_path, "one.csv", "\n\nkWh\n1\n2\n"))
    with pytest.raises(DataError, match=r"header.csv: no data rows below the header \(line 2\)"):
        read_meter_csv(write(tmp_path, "header.csv", "# exported\nt;kWh\n"), skiprows=1)
    with pytest.raises(DataError, match="file not found"):
        read_meter_csv(tmp_path / "nope.csv")


# -------------------------------------------------------------------------------------------
# read_energy_csv
# -------------------------------------------------------------------------------------------
def test_energy_csv_mixed_units_and_renaming(tmp_path):
    text = ("time,PV [kW],load_w,ev (Wh),grid\n"
            "2024-06-01 00:15,400,200000,5000,-10\n"
            "2024-06-01 00:30,800,100000,2500,5\n")
    path = write(tmp_path, "e.csv", text)
    df = read_energy_csv(path, {"PV [kW]": "pv_kwh", "load_w": "load_kwh", "ev (Wh)": "ev_kwh",
                                "grid": "grid_kwh"}, units={"grid_kwh": "kWh"}, label="end",
                         allow_negative=["grid"])
    assert list(df.columns) == ["pv_kwh", "load_kwh", "ev_kwh", "grid_kwh"]
    assert df.index[0] == pd.Timestamp("2024-06-01 00:00", tz=LIMA)
    assert df["pv_kwh"].tolist() == [100.0, 200.0]  # kW * 0.25 h
    assert df["load_kwh"].tolist() == [50.0, 25.0]  # W / 1000 * 0.25 h
    assert df["ev_kwh"].tolist() == [5.0, 2.5]  # Wh / 1000
    assert df["grid_kwh"].tolist() == [-10.0, 5.0]
    assert df.attrs["units"] == {"pv_kwh": "kW", "load_kwh": "w", "ev_kwh": "Wh", "grid_kwh": "kWh"}
    with pytest.raises(DataError, match=r"line 2 \(2024-06-01 00:15\), column 'grid' \[kWh\]: "
                                        r"negative value -10"):
        read_energy_csv(path, ["grid"], units={"grid": "kWh"}, label="end")


def test_energy_csv_errors(tmp_path):
    text = "time,a,b\n2024-06-01 00:00,1,2\n2024-06-01 01:00,1,x\n"
    path = write(tmp_path, "e.csv", text)
    with pytest.raises(DataError, match=r"column 'a': no unit in the header; pass units="):
        read_energy_csv(path, label="start")
    with pytest.raises(DataError, match=r"value column 'c' is missing"):
        read_energy_csv(path, {"c": "c_kwh"}, units={"c": "kWh"}, label="start")
    with pytest.raises(DataError, match=r"line 3 \(2024-06-01 01:00\), column 'b' \[kW\]: "
                                        r"non-numeric value 'x'"):
        read_energy_csv(path, units={"a": "kW", "b": "kW"}, label="start")
    with pytest.raises(DataError, match=r"column 'a': unknown unit 'kVA'"):
        read_energy_csv(path, ["a"], units={"a": "kVA"}, label="start")
    with pytest.raises(TypeError):
        read_energy_csv(path, ["a"], units={"a": "kWh"})  # label is required


@settings(max_examples=20, deadline=None)
@given(kw=st.lists(st.integers(0, 3000), min_size=8, max_size=8 * 6).map(
    lambda v: v[:len(v) - len(v) % 4]))
def test_energy_csv_to_hourly_conserves_energy(kw):
    with tempfile.TemporaryDirectory() as folder:
        stamps = pd.date_range("2024-01-01 00:15", periods=len(kw), freq="15min")
        lines = ["ts;mall_kw"] + [f"{t:%d/%m/%Y %H:%M};{v}" for t, v in zip(stamps, kw)]
        path = write(Path(folder), "kw.csv", "\n".join(lines))
        df = read_energy_csv(path, {"mall_kw": "mall_kwh"}, units={"mall_kw": "kW"}, label="end")
    hourly = to_hourly(df)
    expected = np.array(kw, dtype=float).reshape(-1, 4).sum(axis=1) * 0.25
    assert hourly["mall_kwh"].tolist() == expected.tolist()
    assert hourly["mall_kwh"].sum() == sum(kw) * 0.25


# -------------------------------------------------------------------------------------------
# to_hourly
# -------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(minutes=st.sampled_from([1, 5, 10, 15, 20, 30, 60]), hours=st.integers(1, 30),
       seed=st.integers(0, 2**32 - 1), tz=st.sampled_from([LIMA, "UTC", "Asia/Kolkata"]))
def test_to_hourly_exact_sums(minutes, hours, seed, tz):
    per_hour = 60 // minutes
    values = np.random.default_rng(seed).integers(0, 10_000, hours * per_hour).astype(float)
    idx = pd.date_range("2024-07-01 00:00", periods=values.size, freq=f"{minutes}min", tz=tz)
    hourly = to_hourly(pd.Series(values, index=idx, name="x"))
    assert hourly.name == "x"
    assert hourly.tolist() == values.reshape(hours, per_hour).sum(axis=1).tolist()
    assert hourly.sum() == values.sum()
    assert (hourly.index.minute == 0).all() and hourly.index.freq == pd.Timedelta("1h")
    assert str(hourly.index.tz) == tz


def test_to_hourly_frame_and_nan(tmp_path):
    idx = pd.date_range("2024-01-01", periods=8, freq="15min", tz=LIMA)
    df = pd.DataFrame({"a": np.arange(8.0), "b": [1.0, np.nan] + [1.0] * 6}, index=idx)
    out = to_hourly(df)
    assert out["a"].tolist() == [6.0, 22.0]
    assert math.isnan(out["b"].iloc[0]) and out["b"].iloc[1] == 4.0  # NaN is not dropped


def test_to_hourly_incomplete_hours(tmp_path):
    idx = pd.date_range("2024-01-01 00:15", periods=7, freq="15min", tz=LIMA)
    s = pd.Series(1.0, index=idx)
    with pytest.raises(DataError, match=r"incomplete hour starting 2024-01-01 00:00:00-05:00: it "
                                        r"holds 3 of 4 intervals"):
        to_hourly(s)
    out = to_hourly(s, incomplete="drop")
    assert out.index.tolist() == [pd.Timestamp("2024-01-01 01:00", tz=LIMA)]
    assert out.tolist() == [4.0]
    with pytest.raises(DataError, match="no complete hour"):
        to_hourly(s.iloc[:3], incomplete="drop")


def test_to_hourly_bad_index():
    idx = pd.date_range("2024-01-01", periods=8, freq="45min", tz=LIMA)
    with pytest.raises(DataError, match="does not divide one hour"):
        to_hourly(pd.Series(1.0, index=idx))
    with pytest.raises(DataError, match="tz-aware"):
        to_hourly(pd.Series(1.0, index=idx.tz_localize(None)))
    irregular = idx[[0, 1, 3]]
    with pytest.raises(DataError, match="gap"):
        to_hourly(pd.Series(1.0, index=irregular))
    with pytest.raises(DataError, match="column 'c'"):
        to_hourly(pd.DataFrame({"c": ["x"] * 4},
                               index=pd.date_range("2024-01-01", periods=4, freq="15min", tz=LIMA)))


def test_to_hourly_across_dst_changes():
    spring = pd.date_range("2024-03-31 00:00", "2024-04-01 00:00", freq="15min", tz="Europe/Madrid",
                           inclusive="left")
    out = to_hourly(pd.Series(1.0, index=spring))
    assert len(out) == 23 and (out == 4.0).all()
    fall = pd.date_range("2024-10-27 00:00", "2024-10-28 00:00", freq="15min", tz="Europe/Madrid",
                         inclusive="left")
    out = to_hourly(pd.Series(1.0, index=fall))
    assert len(out) == 25 and (out == 4.0).all()


# -------------------------------------------------------------------------------------------
# weather files
# -------------------------------------------------------------------------------------------
EPW_HEADER = [
    "LOCATION,Iquitos,LOR,PER,TMY,843770,-3.75,-73.25,-5.0,104.0",
    "DESIGN CONDITIONS,0", "TYPICAL/EXTREME PERIODS,0", "GROUND TEMPERATURES,0",
    "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0", "COMMENTS 1,crafted for pvbess tests", "COMMENTS 2,",
    "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31",
]


def epw_row(year, month, day, hour, temp, ghi, dni, dhi, wind):
    fields = [year, month, day, hour, 60, "?9?9?9?9E0?9?9?9?9?9?9?9?9?9?9?9?9?9?9?9*9*9?9?9?9",
              temp, 20.0, 80, 100000, 0, 1415, 300, ghi, dni, dhi, 0, 0, 0, 0, 90, wind,
              5, 5, 20.0, 77777, 9, 999999999, 40, 0.1, 0, 88, 0.2, 0, 0]
    return ",".join(str(f) for f in fields)


def write_epw(folder, hours=8760, ghi_at=None):
    """A typical-year EPW: 1 January from 2011, the rest from 2005; hour i holds GHI 10 * i
    for i < 100 (then cycles), so the first rows are easy to recognise."""
    rows = []
    days = pd.date_range("2005-01-01", periods=365, freq="D")
    for i in range(hours):
        day, hour = divmod(i, 24)
        k = i % 100
        ghi = (ghi_at or {}).get(i, 10 * k)
        rows.append(epw_row(2011 if day == 0 else 2005, days[day].month, days[day].day, hour + 1,
                            20 + k / 10, ghi, 2 * k, k, 1.5))
    return write(folder, "site.epw", "\n".join(EPW_HEADER + rows) + "\n")


def test_read_epw(tmp_path):
    w = read_weather(write_epw(tmp_path))
    assert list(w.columns) == ["ghi_wm2", "dni_wm2", "dhi_wm2", "temp_air_c", "wind_ms"]
    assert w.index[0] == pd.Timestamp("2023-01-01 00:00", tz=LIMA)  # EPW hour 1 = 00:00-01:00
    assert w.index.freq == pd.Timedelta("1h") and len(w) == 8760
    assert w["ghi_wm2"].iloc[:48].tolist() == [10.0 * i for i in range(48)]
    assert w["dni_wm2"].iloc[5] == 10.0 and w["dhi_wm2"].iloc[5] == 5.0
    assert w["temp_air_c"].iloc[10] == pytest.approx(21.0)
    assert (w["wind_ms"] == 1.5).all()
    assert w.attrs["kind"] == "epw" and w.attrs["latitude"] == -3.75
    with pytest.raises(DataError, match=r"site.epw: line 33 \(2005-01-02 00:00:00-05:00\): "
                                        r"timestamps not sorted: .* before line 32 \(2011"):
        read_weather(write_epw(tmp_path), kind="epw", year=None)  # keeps the mixed file years


def test_epw_missing_code_names_the_line(tmp_path):
    with pytest.raises(DataError, match=r"site.epw: line 14 \(2023-01-01 05:00:00-05:00\), column "
                                        r"'ghi_wm2' \[W/m2\]: value 9999 outside the plausible"):
        read_weather(write_epw(tmp_path, ghi_at={5: 9999}))


def pvgis_csv(offset_line=True, ghi=None):
    utc = pd.date_range("2001-01-01", periods=8760, freq="h")
    years = {1: 2007, 2: 2012, 3: 2015, 4: 2009, 5: 2010, 6: 2016, 7: 2006, 8: 2014, 9: 2018,
             10: 2019, 11: 2008, 12: 2020}
    lines = ["Latitude (decimal degrees): -3.750", "Longitude (decimal degrees): -73.250",
             "Elevation (m): 104.0"]
    if offset_line:
        lines.append("Irradiance Time Offset (h): 0.1761")
    lines.append("month,year")
    lines += [f"{m},{y}" for m, y in years.items()]
    lines.append("time(UTC),T2m,RH,G(h),Gb(n),Gd(h),IR(h),WS10m,WD10m,SP")
    ghi = np.arange(8760) % 1000 if ghi is None else ghi
    for i, t in enumerate(utc):
        stamp = f"{years[t.month]}{t:%m%d}:{t:%H}00"
        lines.append(f"{stamp},{20 + t.hour / 10:.2f},80,{ghi[i]},{ghi[i] / 2},{ghi[i] / 4},350,"
                     f"1.2,90,100000")
    lines += ["T2m: 2-m air temperature (degree Celsius)", "G(h): Global irradiance (W/m2)"]
    return "\r\n".join(lines) + "\r\n"


def test_read_pvgis_tmy_csv_wraps_utc_onto_the_local_year(tmp_path):
    path = write(tmp_path, "tmy_-3.750_-73.250.csv", pvgis_csv())
    w = read_weather(path, tz=LIMA, year=2023)
    assert len(w) == 8760 and w.index.freq == pd.Timedelta("1h")
    assert w.index[0] == pd.Timestamp("2023-01-01 00:00", tz=LIMA)
    assert w.index[-1] == pd.Timestamp("2023-12-31 23:00", tz=LIMA)
    # local 00:00 is 05:00 UTC, row 5 of the file; the UTC hours 00-04 of 1 January close the year
    assert w["ghi_wm2"].iloc[0] == 5.0
    assert w["ghi_wm2"].iloc[-5:].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert w["dni_wm2"].iloc[0] == 2.5 and w["dhi_wm2"].iloc[0] == 1.25
    assert w["temp_air_c"].iloc[0] == pytest.approx(20.5) and (w["wind_ms"] == 1.2).all()
    assert w.attrs["kind"] == "pvgis" and w.attrs["latitude"] == -3.75
    assert w["ghi_wm2"].sum() == (np.arange(8760) % 1000).sum()  # nothing lost in the wrap
    with pytest.raises(DataError, match="leap year"):
        read_weather(path, year=2024)


def test_pvgis_csv_bad_value_names_line(tmp_path):
    ghi = np.arange(8760) % 1000.0
    ghi[100] = -50
    path = write(tmp_path, "tmy.csv", pvgis_csv(offset_line=False, ghi=ghi))
    # header: 3 site lines, month,year + 12 lines, the column line -> data from line 18
    with pytest.raises(DataError, match=r"tmy.csv: line 118 .* column 'ghi_wm2' \[W/m2\]: value "
                                        r"-50 outside the plausible range"):
        read_weather(path)


def test_read_pvgis_tmy_json(tmp_path):
    utc = pd.date_range("2001-01-01", periods=8760, freq="h")
    records = [{"time(UTC)": f"2010{t:%m%d}:{t:%H}00", "T2m": 25.0, "RH": 80.0,
                "G(h)": float(i % 500), "Gb(n)": 0.0, "Gd(h)": float(i % 500) / 2, "IR(h)": 350.0,
                "WS10m": 0.8, "WD10m": 90.0, "SP": 100000.0} for i, t in enumerate(utc)]
    src = {"inputs": {"location": {"latitude": -3.75, "longitude": -73.25, "elevation": 104.0}},
           "outputs": {"months_selected": [{"month": m, "year": 2010} for m in range(1, 13)],
                       "tmy_hourly": records},
           "meta": {"inputs": {}, "outputs": {}}}
    path = tmp_path / "tmy.json"
    path.write_text(json.dumps(src))
    w = read_weather(path, tz="UTC")
    assert w.index[0] == pd.Timestamp("2023-01-01 00:00", tz="UTC") and len(w) == 8760
    assert w["ghi_wm2"].tolist() == [float(i % 500) for i in range(8760)]
    assert w.attrs["longitude"] == -73.25
    with pytest.raises(DataError, match="not a readable PVGIS json file"):
        read_weather(write(tmp_path, "broken.json", "{not json"))


def test_simple_weather_csv_units_and_aliases(tmp_path):
    text = ("Fecha;GHI [kWh/m2];T2m [K];wind (km/h)\n"
            "01/03/2024 06:00;0,05;298,15;3,6\n01/03/2024 06:30;0,1;299,15;7,2\n")
    w = read_weather(write(tmp_path, "w.csv", text),
                     units={"ghi_wm2": "kWh/m2", "temp_air_c": "K", "wind_ms": "km/h"})
    assert list(w.columns) == ["ghi_wm2", "temp_air_c", "wind_ms"]  # no dni/dhi in the file
    assert w.index[0] == pd.Timestamp("2024-03-01 06:00", tz=LIMA)
    np.testing.assert_allclose(w["ghi_wm2"], [100.0, 200.0])  # kWh/m2 per 0.5 h -> W/m2
    np.testing.assert_allclose(w["temp_air_c"], [25.0, 26.0])
    np.testing.assert_allclose(w["wind_ms"], [1.0, 2.0])


def test_simple_weather_csv_decomposition_with_a_site(tmp_path):
    from pvbess import Site

    hours = pd.date_range("2024-03-01 00:00", periods=24, freq="h")
    ghi = [0] * 7 + [100, 300, 500, 700, 800, 850, 800, 700, 500, 300, 100] + [0] * 6
    text = "time,ghi,temp_air,wind_speed\n" + "\n".join(
        f"{t:%Y-%m-%d %H:%M},{g},26,1" for t, g in zip(hours, ghi))
    path = write(tmp_path, "g.csv", text)
    assert "dni_wm2" not in read_weather(path).columns
    w = read_weather(path, site=Site())
    assert list(w.columns) == ["ghi_wm2", "dni_wm2", "dhi_wm2", "temp_air_c", "wind_ms"]
    assert w.attrs["dni_dhi"] == "erbs"
    assert (w["dhi_wm2"] <= w["ghi_wm2"] + 1e-9).all() and (w["dni_wm2"] >= 0).all()
    assert (w[["dni_wm2", "dhi_wm2"]].iloc[:6] == 0).all().all()  # night
    assert w["dhi_wm2"].iloc[12] > 0 and w["dni_wm2"].iloc[12] > 0


def test_simple_weather_csv_errors(tmp_path):
    text = "time,radiation,temp\n2024-03-01 06:00,100,25\n2024-03-01 07:00,,26\n"
    path = write(tmp_path, "w.csv", text)
    with pytest.raises(DataError, match=r"no ghi_wm2 column"):
        read_weather(path)
    with pytest.raises(DataError, match=r"no wind_ms column"):
        read_weather(path, columns={"radiation": "ghi_wm2"})
    with pytest.raises(DataError, match=r"line 3 \(2024-03-01 07:00\), column 'radiation' "
                                        r"\[W/m2\]: missing value \(empty cell\)"):
        read_weather(path, columns={"radiation": "ghi_wm2"}, default_wind_ms=1.0)
    with pytest.raises(DataError, match=r"unknown unit 'lux'"):
        read_weather(path, columns={"radiation": "ghi_wm2"}, default_wind_ms=1.0,
                     units={"ghi_wm2": "lux"})
    ok = write(tmp_path, "ok.csv", text.replace(",,", ",50,"))
    w = read_weather(ok, columns={"radiation": "ghi_wm2"}, default_wind_ms=1.0)
    assert w["wind_ms"].tolist() == [1.0, 1.0] and w["ghi_wm2"].tolist() == [100.0, 50.0]
    hot = write(tmp_path, "hot.csv", text.replace(",,", ",50,").replace(",26", ",260"))
    with pytest.raises(DataError, match=r"line 3 .*'temp_air_c' \[C\]: value 260 outside"):
        read_weather(hot, columns={"radiation": "ghi_wm2"}, default_wind_ms=1.0)


# -------------------------------------------------------------------------------------------
# the real files (shared reference corpus)
# -------------------------------------------------------------------------------------------
def test_real_mall_meter_file(shared):
    path = shared / "reference" / "pvbesscar" / "mall_meter_15min_2024.csv"
    s = read_meter_csv(path, year=2024, freq="15min")
    assert len(s) == 35_136
    assert abs(s.sum() - 12_403_168) <= 0.5
    assert s.index[0] == pd.Timestamp("2024-01-01 00:00", tz=LIMA)
    hourly = to_hourly(s)
    assert len(hourly) == 8_784 and hourly.sum() == s.sum()


def test_real_weather_csv(shared):
    w = read_weather(shared / "reference" / "pvbesscar" / "pv_generation_hourly_2024.csv")
    assert len(w) == 8_760 and list(w.columns) == ["ghi_wm2", "temp_air_c", "wind_ms"]
    assert w.index[0] == pd.Timestamp("2024-01-01 00:00", tz=LIMA)
    assert 20 < w["temp_air_c"].mean() < 30


def test_real_hourly_file_groups_by_the_label_hour(shared):
    """Their hourly file sums the quarter-hours by the clock hour of the END label (hour 0 holds
    three), ours by interval start: both from the same meter, shifted by one quarter-hour."""
    folder = shared / "reference" / "pvbesscar"
    quarter = read_meter_csv(folder / "mall_meter_15min_2024.csv").to_numpy()
    theirs = read_meter_csv(folder / "mall_demand_hourly_2024.csv", value_col="mall_demand_kwh",
                            label="start", expected_rows=8760)
    assert theirs.iloc[0] == quarter[:3].sum()  # 0:15, 0:30, 0:45 only
    by_label_hour = np.r_[0.0, quarter][:4 * 8760].reshape(8760, 4).sum(axis=1)
    np.testing.assert_array_equal(theirs.to_numpy(), by_label_hour)
    ours = to_hourly(pd.Series(quarter, index=pd.date_range("2024-01-01", periods=35_136,
                                                            freq="15min", tz=LIMA)))
    assert ours.iloc[0] == quarter[:4].sum()


@pytest.mark.parametrize("index", [pd.DatetimeIndex([], tz=LIMA),
                                   pd.date_range("2024-01-01", periods=0, freq="h", tz=LIMA)])
def test_to_hourly_of_an_empty_series_is_a_data_error(index):
    with pytest.raises(DataError, match=r"to_hourly: no data \(an empty "):
        to_hourly(pd.Series([], index=index, dtype=float))
