"""What the meter and energy readers refuse (units, decimal marks, ceilings, encodings, order).

Each case here was accepted or crashed before issue 13; the neighbours that must keep working
sit beside it. The readers' general behaviour is tested in ``test_loaders.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess import DataError, read_energy_csv, read_meter_csv
from pvbess.inputs.limits import MAX_SITE_POWER_KW

LIMA = "America/Lima"


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def quarter_hours(values, header="time;P [kW]", start="2024-01-01 00:00", freq="15min",
                  sep=";") -> str:
    stamps = pd.date_range(start, periods=len(values), freq=freq)
    return "\n".join([header] + [f"{t:%Y-%m-%d %H:%M}{sep}{v}"
                                 for t, v in zip(stamps, values)]) + "\n"


# -------------------------------------------------------------------------------------------
# units: the header's unit is honoured; a caller contradicting it is refused
# -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("header, factor", [("P [kW]", 0.25), ("P [W]", 0.25e-3),
                                            ("energia (kWh)", 1.0), ("load_mw", 250.0),
                                            ("Wh", 1e-3)])
def test_meter_unit_comes_from_the_header(tmp_path, header, factor):
    s = read_meter_csv(write(tmp_path, "m.csv", quarter_hours([4, 8], f"time;{header}")),
                       label="start")
    np.testing.assert_allclose(s.to_numpy(), np.array([4, 8]) * factor, rtol=1e-15)


def test_meter_unit_agreeing_with_the_header_is_fine(tmp_path):
    path = write(tmp_path, "m.csv", quarter_hours([4, 8]))
    assert read_meter_csv(path, label="start", unit="kW").tolist() == [1.0, 2.0]
    assert read_meter_csv(path, label="start", unit=" kw ").tolist() == [1.0, 2.0]


def test_meter_unit_contradicting_the_header_is_refused(tmp_path):
    path = write(tmp_path, "m.csv", quarter_hours([4, 8]))
    with pytest.raises(DataError, match=r"m.csv: column 'P \[kW\]': the header says kW but "
                                        r"unit='kWh' was given"):
        read_meter_csv(path, label="start", unit="kWh")


def test_meter_without_any_unit_asks_for_one(tmp_path):
    path = write(tmp_path, "m.csv", quarter_hours([4, 8], "time;lectura"))
    with pytest.raises(DataError, match=r"m.csv: column 'lectura': no unit in the header; pass "
                                        r"unit=\.\.\."):
        read_meter_csv(path, label="start")
    assert read_meter_csv(path, label="start", unit="kWh").tolist() == [4.0, 8.0]


def test_energy_units_contradicting_the_header_are_refused(tmp_path):
    text = quarter_hours([4, 8], "time;pv [kW];load [kWh]")
    text = text.replace(";4\n", ";4;4\n").replace(";8\n", ";8;8\n")
    path = write(tmp_path, "e.csv", text)
    out = read_energy_csv(path, label="start")
    assert out["pv [kW]"].tolist() == [1.0, 2.0] and out["load [kWh]"].tolist() == [4.0, 8.0]
    with pytest.raises(DataError, match=r"e.csv: column 'pv \[kW\]': the header says kW but "
                                        r"units=\{'pv \[kW\]': 'kWh'\} was given"):
        read_energy_csv(path, label="start", units={"pv [kW]": "kWh"})
    with pytest.raises(DataError, match=r"column 'load \[kWh\]': the header says kWh but "
                                        r"units=\{'load': 'W'\}"):
        read_energy_csv(path, {"load [kWh]": "load"}, label="start", units={"load": "W"})


@settings(max_examples=30, deadline=None)
@given(kwh=st.lists(st.integers(0, 4_000_000), min_size=2, max_size=12),
       unit=st.sampled_from(["W", "kW", "MW", "Wh", "kWh", "MWh"]),
       minutes=st.sampled_from([5, 15, 30, 60]))
def test_the_same_energy_written_in_any_unit_reads_the_same(kwh, unit, minutes):
    """kWh per step written as power or energy in W/kW/MW(h) at any step reads back the same."""
    step_h = minutes / 60
    per_kwh = {"W": 1e3 / step_h, "kW": 1 / step_h, "MW": 1e-3 / step_h, "Wh": 1e3, "kWh": 1.0,
               "MWh": 1e-3}[unit]
    energy = np.array(kwh, dtype=float) / 1000  # kWh per step, 3 decimals
    cells = [repr(float(v)) for v in energy * per_kwh]
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), "u.csv",
                     quarter_hours(cells, f"time;meter [{unit}]", freq=f"{minutes}min"))
        got = read_meter_csv(path, label="start", decimal=".")  # '2.364' alone is ambiguous
    np.testing.assert_allclose(got.to_numpy(), energy, rtol=1e-12, atol=1e-12)


# -------------------------------------------------------------------------------------------
# decimal mark: one convention per file
# -------------------------------------------------------------------------------------------
def test_thousands_dot_beside_decimal_comma_reads_as_thousands(tmp_path):
    text = ("time;pv [kWh];load [kWh]\n2024-01-01 00:00;1.200;1,5\n"
            "2024-01-01 00:15;1.250;2,5\n")
    out = read_energy_csv(write(tmp_path, "d.csv", text), label="start")
    assert out["pv [kWh]"].tolist() == [1200.0, 1250.0]
    assert out["load [kWh]"].tolist() == [1.5, 2.5]


def test_a_cell_contradicting_the_file_decimal_mark_is_refused(tmp_path):
    text = ("time;pv [kWh];load [kWh]\n2024-01-01 00:00;1,25;1,5\n"
            "2024-01-01 00:15;1.5;2,5\n")
    with pytest.raises(DataError, match=r"d.csv: line 3 \(2024-01-01 00:15\), column 'pv \[kWh\]'"
                                        r": '1.5' uses '.' as the decimal mark but line 2"):
        read_energy_csv(write(tmp_path, "d.csv", text), label="start")


def test_a_file_of_only_ambiguous_cells_asks_for_decimal(tmp_path):
    text = "time;pv [kWh]\n2024-01-01 00:00;1.200\n2024-01-01 00:15;2.500\n"
    path = write(tmp_path, "a.csv", text)
    with pytest.raises(DataError, match=r"a.csv: line 2 \(2024-01-01 00:00\), column 'pv \[kWh\]'"
                                        r": '1.200' could be 1.2 or 1200; pass decimal="):
        read_meter_csv(path, label="start")
    assert read_meter_csv(path, label="start", decimal=".").tolist() == [1.2, 2.5]
    assert read_meter_csv(path, label="start", decimal=",").tolist() == [1200.0, 2500.0]


def test_an_explicit_decimal_mark_refuses_a_contradicting_cell(tmp_path):
    text = "time;pv [kWh]\n2024-01-01 00:00;1,5\n2024-01-01 00:15;2.5\n"
    with pytest.raises(DataError, match=r"line 3 .*'2.5' uses '.' as the decimal mark but "
                                        r"decimal=',' was given"):
        read_meter_csv(write(tmp_path, "x.csv", text), label="start", decimal=",")


def test_plain_files_keep_reading(tmp_path):
    text = "time,pv [kWh]\n2024-01-01 00:00,1200\n2024-01-01 00:15,0.250\n"
    assert read_meter_csv(write(tmp_path, "p.csv", text), label="start").tolist() == [1200, 0.25]


# -------------------------------------------------------------------------------------------
# plausibility ceilings
# -------------------------------------------------------------------------------------------
def test_energy_above_the_ceiling_is_refused(tmp_path):
    path = write(tmp_path, "c.csv", quarter_hours([1, "1e300"], "time;kWh"))
    ceiling = MAX_SITE_POWER_KW * 0.25
    with pytest.raises(DataError, match=rf"c.csv: line 3 \(2024-01-01 00:15\), column 'kWh' "
                                        rf"\[kWh\]: 1e\+300 kWh per step is above the ceiling of "
                                        rf"{ceiling:,.0f} kWh"):
        read_meter_csv(path, label="start")
    ok = write(tmp_path, "ok.csv", quarter_hours([1, ceiling], "time;kWh"))
    assert read_meter_csv(ok, label="start").iloc[1] == ceiling


def test_power_ceiling_names_the_file_unit(tmp_path):
    path = write(tmp_path, "w.csv", quarter_hours([1, 3e12], "time;P [W]"))
    with pytest.raises(DataError, match=r"w.csv: line 3 .*column 'P \[W\]' \[W\]: .* above the "
                                        r"ceiling"):
        read_meter_csv(path, label="start")


# -------------------------------------------------------------------------------------------
# encodings, order, arguments
# -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_export_with_a_byte_order_mark(tmp_path, encoding):
    text = quarter_hours([4, 8], "time;kWh")
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[encoding]
    path = tmp_path / "u16.csv"
    path.write_bytes(bom + text.encode(encoding))
    assert read_meter_csv(path, label="start").tolist() == [4.0, 8.0]


@pytest.mark.parametrize("freq", ["15min", "1h"])
def test_two_swapped_rows_are_called_out_of_order(tmp_path, freq):
    stamps = pd.date_range("2024-03-01", periods=8, freq=freq)
    order = [0, 1, 2, 4, 3, 5, 6, 7]
    text = "time;kWh\n" + "".join(f"{stamps[i]:%Y-%m-%d %H:%M};1\n" for i in order)
    a, b = f"{stamps[4]:%Y-%m-%d %H:%M}", f"{stamps[3]:%Y-%m-%d %H:%M}"
    with pytest.raises(DataError, match=rf"s.csv: line 6 \({b}\): out of order: it comes before "
                                        rf"line 5 \({a}\) above it"):
        read_meter_csv(write(tmp_path, "s.csv", text), label="start")


def test_a_real_gap_is_still_a_gap(tmp_path):
    stamps = pd.date_range("2024-03-01", periods=8, freq="1h").delete(4)
    text = "time;kWh\n" + "".join(f"{t:%Y-%m-%d %H:%M};1\n" for t in stamps)
    with pytest.raises(DataError, match=r"line 6 .*jumps forward by one hour"):
        read_meter_csv(write(tmp_path, "g.csv", text), label="start")


@pytest.mark.parametrize("freq", ["banana", "-15min", 0])
def test_a_bad_frequency_is_a_data_error(tmp_path, freq):
    path = write(tmp_path, "m.csv", quarter_hours([1, 2], "time;kWh"))
    with pytest.raises(DataError, match=r"freq="):
        read_meter_csv(path, label="start", freq=freq)


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", None, 5])
def test_an_unknown_time_zone_is_a_data_error(tmp_path, tz):
    text = "time;kWh\n2024-01-01 00:00:00+00:00;1\n2024-01-01 00:15:00+00:00;2\n"
    with pytest.raises(DataError, match=r"tz="):
        read_meter_csv(write(tmp_path, "m.csv", text), label="start", tz=tz)


# -------------------------------------------------------------------------------------------
# a corrupted cell anywhere is refused, naming its line and column
# -------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 30), data=st.data(),
       bad=st.sampled_from(["abc", "", "nan", "1,2.3", "1e999", "-4", "1e300", "#N/A", "1..2"]))
def test_one_corrupted_cell_is_refused_naming_its_line(n, data, bad):
    row = data.draw(st.integers(0, n - 1))
    col = data.draw(st.sampled_from(["pv [kWh]", "load [kW]"]))
    stamps = pd.date_range("2024-01-01", periods=n, freq="15min")
    cells = {"pv [kWh]": ["1.5"] * n, "load [kW]": ["2.25"] * n}
    cells[col][row] = bad
    lines = ["time;pv [kWh];load [kW]"] + [f"{stamps[i]:%Y-%m-%d %H:%M};{cells['pv [kWh]'][i]};"
                                           f"{cells['load [kW]'][i]}" for i in range(n)]
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), "r.csv", "\n".join(lines) + "\n")
        with pytest.raises(DataError) as err:
            read_energy_csv(path, label="start")
    message = str(err.value)
    assert f"r.csv: line {row + 2} " in message and repr(col) in message


def _written(value: float, decimal: str, grouped: bool) -> str:
    """``value`` (3 decimals) as a spreadsheet in that locale writes it."""
    text = f"{value:,.3f}" if grouped else f"{value:.3f}"
    if decimal == ",":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(0, 9_999_999), min_size=2, max_size=20),
       decimal=st.sampled_from([".", ","]), grouped=st.booleans(), data=st.data())
def test_either_decimal_convention_reads_the_same_numbers(values, decimal, grouped, data):
    """A file written with a decimal point or comma, thousands grouped or not, reads the same
    numbers once one cell settles the convention (a fraction that is not three digits)."""
    kwh = [v / 1000 for v in values] + [0.5]  # '0.500' / '0,500' cannot group thousands
    order = data.draw(st.permutations(range(len(kwh))))
    cells = [_written(kwh[i], decimal, grouped) for i in order]
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), "d.csv", quarter_hours(cells, "time;pv [kWh]"))
        got = read_meter_csv(path, label="start")
    np.testing.assert_allclose(got.to_numpy(), [kwh[i] for i in order], rtol=1e-15)
