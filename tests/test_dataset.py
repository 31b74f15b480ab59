"""The committed Iquitos dataset against the site facts; determinism; loading and its errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from pvbess.config import IQUITOS_DIR
from pvbess.inputs.dataset import (
    COLUMNS,
    HOURLY_FILE,
    PROVENANCE_FILE,
    SOCKETS_FILE,
    generate_iquitos,
    load_iquitos,
    main,
    write_iquitos,
)
from pvbess.inputs.mall import IQUITOS_MALL_MEAN_KW, IQUITOS_MALL_MONTHLY_MWH
from pvbess.timeseries import DataError
from pvbess.inputs.weather import IQUITOS_MONTHLY_GHI_KWH_M2, daily_clearsky_index

EV_PROFILE_09_20_KW = [41, 47, 56, 69, 81, 91, 102, 111, 122, 129, 134, 137]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return load_iquitos(sockets=True)


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    return generate_iquitos()


def test_shape_index_and_columns(data):
    assert len(data) == 8760
    assert str(data.index.tz) == "America/Lima"
    assert data.index[0] == pd.Timestamp("2025-01-01 00:00", tz="America/Lima")
    assert (np.diff(data.index) == pd.Timedelta(hours=1)).all()
    assert set(COLUMNS) <= set(data.columns)
    assert [c for c in data.columns if c.startswith("socket_")] == [
        f"socket_{s:02d}_kwh" for s in range(38)]


def test_annual_totals(data):
    assert 1250 <= data["pv_kwh"].sum() / 4050.0 <= 1450
    assert data["pv_kwh"].max() <= 3342.0
    assert data["ev_kwh"].sum() == pytest.approx(408_000, rel=0.01)
    assert data["mall_kwh"].sum() == pytest.approx(12_368_653, rel=0.01)
    monthly = data["mall_kwh"].groupby(data.index.month).sum() / 1000.0
    np.testing.assert_allclose(monthly.to_numpy(), IQUITOS_MALL_MONTHLY_MWH, rtol=1e-6)


def test_weather_facts(data):
    monthly = data["ghi_wm2"].groupby(data.index.month).sum() / 1000.0
    np.testing.assert_allclose(monthly.to_numpy(), IQUITOS_MONTHLY_GHI_KWH_M2, rtol=0.03)
    kt = daily_clearsky_index(data)
    assert kt.mean() == pytest.approx(0.70, abs=0.02)
    assert kt.std() == pytest.approx(0.16, abs=0.02)
    np.testing.assert_allclose(kt.quantile([0.05, 0.5, 0.95]).to_numpy(), [0.43, 0.72, 0.93],
                               atol=0.04)
    assert 0.15 < kt.autocorr(1) < 0.5
    temp = data["temp_air_c"].groupby(data.index.hour).mean()
    assert temp[6] == pytest.approx(23.6, abs=0.3) and temp[13] == pytest.approx(28.7, abs=0.3)
    assert data["wind_ms"].mean() == pytest.approx(0.8, abs=0.06)


def test_load_profiles_and_peak(data):
    mall = data["mall_kwh"].groupby(data.index.hour).mean()
    np.testing.assert_allclose(mall.to_numpy(), IQUITOS_MALL_MEAN_KW, rtol=0.05)
    assert data["mall_kwh"].max() == pytest.approx(2763, rel=0.05)
    daily = data["mall_kwh"].groupby(data.index.normalize()).sum()
    assert daily.std() / daily.mean() == pytest.approx(0.086, abs=0.02)
    ev = data["ev_kwh"].groupby(data.index.hour).mean()
    np.testing.assert_allclose(ev.loc[9:20].to_numpy(), EV_PROFILE_09_20_KW, rtol=0.05)


def test_ev_only_in_opening_hours_and_sockets_add_up(data):
    hours = data.index.hour
    closed = (hours < 9) | (hours >= 22)
    sockets = data[[f"socket_{s:02d}_kwh" for s in range(38)]]
    assert (data.loc[closed, "ev_kwh"] == 0).all()
    assert (sockets[closed] == 0).all().all()
    assert sockets.to_numpy().max() <= 7.4 + 1e-9
    np.testing.assert_allclose(sockets.sum(axis=1), data["ev_kwh"], atol=1e-6)
    daily = data["ev_kwh"].groupby(data.index.normalize()).sum()
    assert daily.mean() == pytest.approx(1119, rel=0.02) and 35 < daily.std() < 75


def test_fresh_generation_matches_the_committed_files(fresh, tmp_path):
    # Same numbers as the committed data; the files are byte-identical while the library versions
    # recorded in provenance.json are the installed ones (a numpy/pvlib upgrade may move the last
    # digits, which is why the comparison is numeric: re-run `make data` when it drifts further).
    write_iquitos(tmp_path, frame=fresh)
    pd.testing.assert_frame_equal(load_iquitos(tmp_path, sockets=True),
                                  load_iquitos(IQUITOS_DIR, sockets=True), check_freq=False,
                                  rtol=1e-9, atol=1e-9)
    new = json.loads((tmp_path / PROVENANCE_FILE).read_text())
    old = json.loads((IQUITOS_DIR / PROVENANCE_FILE).read_text())
    for key in ("parameters", "columns", "seed", "year", "rows", "random_streams", "generator"):
        assert new[key] == old[key], key
    if new["libraries"] == old["libraries"]:
        for name in (HOURLY_FILE, SOCKETS_FILE, PROVENANCE_FILE):
            assert (tmp_path / name).read_bytes() == (IQUITOS_DIR / name).read_bytes(), name


def test_generation_is_deterministic_for_a_seed(fresh):
    pd.testing.assert_frame_equal(generate_iquitos(), fresh)
    other = generate_iquitos(seed=1)
    assert not np.allclose(other["mall_kwh"], fresh["mall_kwh"])
    assert not np.allclose(other["ghi_wm2"], fresh["ghi_wm2"])


def test_provenance_records_parameters_and_checksums():
    import hashlib

    prov = json.loads((IQUITOS_DIR / PROVENANCE_FILE).read_text())
    assert prov["generator"] == "pvbess.inputs.dataset.generate_iquitos"
    assert prov["seed"] == 2025 and prov["year"] == 2025 and prov["rows"] == 8760
    assert set(prov["parameters"]) == {"site", "pv_plant", "weather", "ev_fleet", "mall"}
    assert prov["parameters"]["ev_fleet"]["socket_kw"] == 7.4
    assert set(prov["columns"]) == set(COLUMNS)
    assert "created" not in json.dumps(prov).lower()
    for name, info in prov["files"].items():
        assert hashlib.sha256((IQUITOS_DIR / name).read_bytes()).hexdigest() == info["sha256"]
    total = sum(p.stat().st_size for p in IQUITOS_DIR.iterdir())
    assert total < 5_000_000


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="pvbess.inputs.dataset"):
        load_iquitos(tmp_path)
    lines = (IQUITOS_DIR / HOURLY_FILE).read_text().splitlines(keepends=True)
    (tmp_path / HOURLY_FILE).write_text("".join(lines[:-24]))
    with pytest.raises(DataError, match="8,760"):
        load_iquitos(tmp_path)
    frame = pd.read_csv(IQUITOS_DIR / HOURLY_FILE)
    frame.drop(columns="mall_kwh").to_csv(tmp_path / HOURLY_FILE, index=False)
    with pytest.raises(DataError, match="mall_kwh"):
        load_iquitos(tmp_path)
    frame.loc[5, "ev_kwh"] = -1.0
    frame.to_csv(tmp_path / HOURLY_FILE, index=False)
    with pytest.raises(DataError, match=r"line 7 \(2025-01-01T05:00:00-0500\), column 'ev_kwh' "
                                        r"\[kWh\]: negative value -1.0"):
        load_iquitos(tmp_path)
    frame.loc[5, "ev_kwh"] = 0.0
    frame.loc[[10, 11], "time"] = frame.loc[[11, 10], "time"].to_numpy()
    frame.to_csv(tmp_path / HOURLY_FILE, index=False)
    with pytest.raises(DataError, match=r"line 13 \(2025-01-01T10:00:00-0500\): out of order: it "
                                        r"comes before line 12"):
        load_iquitos(tmp_path)


def test_write_rejects_an_incomplete_frame(fresh, tmp_path):
    with pytest.raises(DataError, match="socket_37_kwh"):
        write_iquitos(tmp_path, frame=fresh.drop(columns="socket_37_kwh"))
    assert not list(tmp_path.iterdir())


def test_cli_writes_a_loadable_folder(tmp_path, capsys):
    out = tmp_path / "iq"
    assert main(["--out", str(out), "--seed", "3"]) == 0
    assert "8760 rows" in capsys.readouterr().out
    table = load_iquitos(out)
    assert len(table) == 8760
    assert json.loads((out / PROVENANCE_FILE).read_text())["seed"] == 3
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    # a single file path works too
    shutil.copy(out / HOURLY_FILE, tmp_path / "copy.csv")
    assert len(load_iquitos(tmp_path / "copy.csv")) == 8760


def test_mall_profile_close_to_the_meter_reference(shared, data):
    """Calibration check against the real meter (hourly means of the 2024 file, gaps dropped)."""
    ref = pd.read_csv(shared / "reference" / "pvbesscar" / "mall_demand_hourly_2024.csv")
    ref = ref[ref["mall_demand_kwh"] > 0]
    hours = pd.to_datetime(ref["datetime"]).dt.hour
    ref_mean = ref["mall_demand_kwh"].groupby(hours).mean()
    ours = data["mall_kwh"].groupby(data.index.hour).mean()
    np.testing.assert_allclose(ours.to_numpy(), ref_mean.to_numpy(), rtol=0.06)
    assert data["mall_kwh"].max() == pytest.approx(ref["mall_demand_kwh"].max(), rel=0.05)


def _hourly_lines() -> list[str]:
    return (IQUITOS_DIR / HOURLY_FILE).read_text().splitlines(keepends=True)


@pytest.mark.parametrize("column, cell, problem", [
    ("ev_kwh", "abc", r"non-numeric value 'abc'"),
    ("pv_kwh", "", r"missing value \(empty cell\)"),
    ("ghi_wm2", "-3", r"negative value -3"),
    ("mall_kwh", "1e300", r"1e\+300 kWh per step is above the ceiling"),
])
def test_load_errors_name_the_file_line_and_column(tmp_path, column, cell, problem):
    frame = pd.read_csv(IQUITOS_DIR / HOURLY_FILE, dtype=str, keep_default_na=False)
    frame.loc[7, column] = cell
    frame.to_csv(tmp_path / HOURLY_FILE, index=False)
    with pytest.raises(DataError, match=rf"{HOURLY_FILE}: line 9 \(2025-01-01T07:00:00-0500\), "
                                        rf"column '{column}' \[[^\]]+\]: {problem}"):
        load_iquitos(tmp_path)


def test_load_errors_name_a_bad_timestamp_and_swapped_rows(tmp_path):
    lines = _hourly_lines()
    bad = lines.copy()
    bad[4] = "not-a-time" + bad[4][bad[4].index(","):]
    (tmp_path / HOURLY_FILE).write_text("".join(bad))
    with pytest.raises(DataError, match=rf"{HOURLY_FILE}: line 5, column 'time': unparseable "
                                        r"timestamp 'not-a-time'"):
        load_iquitos(tmp_path)
    swapped = lines.copy()
    swapped[11], swapped[12] = swapped[12], swapped[11]
    (tmp_path / HOURLY_FILE).write_text("".join(swapped))
    with pytest.raises(DataError, match=rf"{HOURLY_FILE}: line 13 \(2025-01-01T10:00:00-0500\): "
                                        r"out of order"):
        load_iquitos(tmp_path)


def test_load_socket_errors_name_the_socket_file(tmp_path):
    shutil.copy(IQUITOS_DIR / HOURLY_FILE, tmp_path / HOURLY_FILE)
    lines = (IQUITOS_DIR / SOCKETS_FILE).read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace(",", ",x", 1)
    (tmp_path / SOCKETS_FILE).write_text("".join(lines))
    with pytest.raises(DataError, match=rf"{SOCKETS_FILE}: line 4 .*column 'socket_00_kwh' "
                                        r"\[kWh\]: non-numeric value 'x"):
        load_iquitos(tmp_path, sockets=True)


def test_load_refuses_an_unknown_zone(tmp_path):
    with pytest.raises(DataError, match=r"tz='Mars/Olympus'"):
        load_iquitos(IQUITOS_DIR, tz="Mars/Olympus")
