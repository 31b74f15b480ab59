"""Weather files for users' own sites: PVGIS TMY, EPW (through pvlib.iotools) and simple CSVs.

Every reader returns ``ghi_wm2``, ``dni_wm2``, ``dhi_wm2`` (when the file has them),
``temp_air_c`` and ``wind_ms`` on a regular, tz-aware index labelling the interval START, with
units converted and names harmonised for :func:`pvbess.inputs.pvmodel.pv_ac_kwh`. Bad input raises
:class:`pvbess.timeseries.DataError` naming the file, line, timestamp and problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..site import Site
from ..timeseries import DataError, check_tz, step_hours
from ._csv import (
    _Table,
    Label,
    _check_steps,
    _decode,
    _new_year,
    _regular_index,
    _step_of,
)
from ._numbers import _parse_numbers
from ._weather_csv import UNITS_SHOWN, WEATHER_COLUMNS, read_weather_csv
from .limits import PLAUSIBLE

#: small negative readings (sensor offsets at night, rounding) are set to 0 and counted in
#: ``attrs["clipped_to_zero"]``; anything below these is an error
_NEGATIVE_TOLERANCE = {"ghi_wm2": -10.0, "dni_wm2": -10.0, "dhi_wm2": -10.0, "wind_ms": -0.5}
#: rows of a typical (non-leap) year of hourly data
_TYPICAL_YEAR_ROWS = 8760
#: PVGIS TMY CSV column -> target column
_PVGIS_NAMES = {"G(h)": "ghi_wm2", "Gb(n)": "dni_wm2", "Gd(h)": "dhi_wm2", "T2m": "temp_air_c",
                "WS10m": "wind_ms"}
_PVGIS_SITE = {"Latitude (decimal degrees)": "latitude", "Longitude (decimal degrees)": "longitude",
               "Elevation (m)": "elevation_m"}

_PVLIB_NAMES = {"ghi": "ghi_wm2", "dni": "dni_wm2", "dhi": "dhi_wm2", "temp_air": "temp_air_c",
                "wind_speed": "wind_ms"}

def _weather_kind(path: Path, kind: str | None) -> tuple[str, str]:
    """('pvgis', 'csv'|'json') or ('epw', '') or ('csv', '')."""
    if kind is not None:
        kind = kind.lower()
        if kind not in ("pvgis", "epw", "csv"):
            raise DataError(f"{path}: kind={kind!r}: must be 'pvgis', 'epw' or 'csv'")
    suffix = path.suffix.lower()
    head = _decode(path)[:200].lstrip() if path.is_file() else ""
    if kind is None:
        if suffix == ".epw" or head.startswith("LOCATION"):
            kind = "epw"
        elif suffix == ".json" or head.startswith("Latitude (decimal degrees)"):
            kind = "pvgis"
        else:
            kind = "csv"
    if kind == "pvgis":
        fmt = "json" if (suffix == ".json" or head.startswith("{")) else "csv"
        return kind, fmt
    return kind, ""


def _wrap_year(utc: pd.DatetimeIndex, tz: str, year: int) -> np.ndarray:
    """Positions that put a typical-year UTC index, re-dated to ``year``, on the local year.

    Hours before local 1 January (west of UTC) move to the end of the year and hours after the
    local year's end (east of UTC) to its start, as pvlib's ``roll_utc_offset`` does.
    """
    first, last = _new_year(year, tz).value, _new_year(year + 1, tz).value
    ns = utc.asi8.copy()
    span = last - first
    ns = np.where(ns < first, ns + span, np.where(ns >= last, ns - span, ns))
    return ns


def _coerce_year(index: pd.DatetimeIndex, year: int, path: str) -> pd.DatetimeIndex:
    """Replace the year of each timestamp (UTC clock), keeping month/day/time."""
    bad = (index.month == 2) & (index.day == 29)
    if bad.any():
        raise DataError(f"{path}: row {int(np.flatnonzero(bad)[0])}: 29 February in a typical "
                        f"year; cannot re-date it to {year}")
    if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        raise DataError(f"{path}: year={year} is a leap year; a typical (365-day) weather year "
                        f"needs a non-leap year")
    naive = index.tz_convert("UTC").tz_localize(None)
    parts = pd.DataFrame({"year": year, "month": naive.month, "day": naive.day,
                          "hour": naive.hour, "minute": naive.minute})
    return pd.DatetimeIndex(pd.to_datetime(parts)).tz_localize("UTC").as_unit("ns")


def _read_pvgis_csv(path: Path) -> tuple[pd.DataFrame, list[str], dict]:
    """A PVGIS TMY CSV: data rows from the ``time(UTC)`` header to the first blank line.

    Read here rather than by pvlib so that a bad cell or a row cut short is named by its line
    and column. Returns the target columns on the UTC index, each row's line, the site.
    """
    name = str(path)
    lines = _decode(path).splitlines()
    head = next((n for n, line in enumerate(lines) if line.startswith("time(UTC)")), None)
    if head is None:
        raise DataError(f"{name}: not a PVGIS TMY csv file (no 'time(UTC),...' header line)")
    site = {}
    for line in lines[:head]:
        key, _, value = line.partition(":")
        if key.strip() in _PVGIS_SITE:
            try:
                site[_PVGIS_SITE[key.strip()]] = float(value)
            except ValueError:
                pass  # site metadata is informative only
    body = []
    for line in lines[head + 1:]:
        if not line[:1].isdigit():  # a blank line or the legend ('T2m: 2-m air temperature')
            break
        body.append(line.split(","))
    columns = [c.strip() for c in lines[head].split(",")]
    for k, cells in enumerate(body):
        if len(cells) != len(columns):
            raise DataError(f"{name}: line {head + 2 + k}: {len(cells)} field(s) where the header "
                            f"(line {head + 1}) has {len(columns)} (a row cut short?)")
    if not body:
        raise DataError(f"{name}: no data rows below the header (line {head + 1})")
    frame = pd.DataFrame(body, columns=columns).apply(lambda col: col.str.strip())
    table = _Table(path=name, frame=frame, first_line=head + 2)
    texts = frame["time(UTC)"].to_numpy(dtype=object)
    stamps = pd.to_datetime(frame["time(UTC)"], format="%Y%m%d:%H%M", utc=True, errors="coerce")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{name}: line {table.line(i)}, column 'time(UTC)': unparseable "
                        f"timestamp {texts[i]!r} (expected YYYYMMDD:HHMM, as line "
                        f"{table.line(0)}: {texts[0]!r})")
    missing = [c for c in ("G(h)", "T2m", "WS10m") if c not in columns]
    if missing:
        raise DataError(f"{name}: line {head + 1} (header): PVGIS column(s) {missing} missing")
    data = {target: _parse_numbers(table, source, texts, UNITS_SHOWN[target], ".", True)
            for source, target in _PVGIS_NAMES.items() if source in columns}
    out = pd.DataFrame(data, index=pd.DatetimeIndex(stamps).as_unit("ns"))
    return out, [f"line {table.line(i)}" for i in range(len(out))], site


def _check_typical_year(n: int, name: str, kind: str, year: int | None) -> None:
    """A typical-year file (PVGIS TMY, EPW) must hold a whole year of hourly rows."""
    if n == 0:
        raise DataError(f"{name}: no data rows (a {kind.upper()} file holds "
                        f"{_TYPICAL_YEAR_ROWS:,} hourly rows)")
    whole = n == _TYPICAL_YEAR_ROWS or (kind == "epw" and year is None and n == 8784)
    if not whole:
        hint = "cut short?" if n < _TYPICAL_YEAR_ROWS else "extra rows?"
        raise DataError(f"{name}: {n:,} hourly rows; a typical year ({kind.upper()}) needs "
                        f"{_TYPICAL_YEAR_ROWS:,} (the file {hint})")


def _finish_weather(frame: pd.DataFrame, rows: Sequence[str], path: str, tz: str,
                    year: int | None, wrap: bool) -> pd.DataFrame:
    """Sort onto the local year, check the step and value ranges; ``rows`` names each row."""
    index = pd.DatetimeIndex(frame.index).as_unit("ns")
    if index.tz is None:
        raise DataError(f"{path}: weather timestamps without a time zone")
    index = index.tz_convert("UTC")
    if year is not None:
        index = _coerce_year(index, year, path)
        ns = _wrap_year(index, tz, year) if wrap else index.asi8
    else:
        ns = index.asi8
    rows = np.asarray(rows, dtype=object)
    if year is not None:
        order = np.argsort(ns, kind="stable")
        ns, rows = ns[order], rows[order]
        frame = frame.iloc[order]
    stamps = pd.DatetimeIndex(pd.to_datetime(ns, unit="ns", utc=True)).tz_convert(tz)

    def where(i: int) -> str:
        return f"{rows[i]} ({stamps[i]})"

    step = _step_of(stamps, None, where, path)
    _check_steps(stamps, step, where, path)
    out = pd.DataFrame(index=_regular_index(stamps, step, "interval_start"))
    clipped: dict[str, int] = {}
    for col in WEATHER_COLUMNS:
        if col not in frame.columns:
            continue
        values = np.array(pd.to_numeric(frame[col], errors="coerce"), dtype=np.float64)
        limit = PLAUSIBLE[col]
        lo, hi = limit.low, limit.high
        small = (values < lo) & (values >= _NEGATIVE_TOLERANCE.get(col, lo))
        if small.any():
            values[small] = lo
            clipped[col] = int(small.sum())
        bad = np.flatnonzero(~np.isfinite(values) | (values < lo) | (values > hi))
        if bad.size:
            i = int(bad[0])
            v = values[i]
            bound = (f"above the ceiling of {hi:g} {limit.unit}" if v > hi
                     else f"below the floor of {lo:g} {limit.unit}")
            problem = ("missing value" if not np.isfinite(v) else
                       f"value {v:g} outside the plausible range [{lo:g}, {hi:g}]: {bound} "
                       f"({limit.why}; pvbess.inputs.limits). A wrong unit, or a missing-value "
                       f"code such as EPW's 9999/99.9/999?")
            raise DataError(f"{path}: {where(i)}, column {col!r} [{limit.unit}]: {problem}")
        out[col] = values
    out.attrs["clipped_to_zero"] = clipped
    return out


def read_weather(path: str | Path, kind: Literal["pvgis", "epw", "csv"] | None = None, *,
                 tz: str = "America/Lima", year: int | None = 2023,
                 columns: Mapping[str, str] | None = None, units: Mapping[str, str] | None = None,
                 timestamp_col: str | None = None, label: Label = "start",
                 dayfirst: bool = True, sep: str | None = None, time_format: str | None = None,
                 decimal: str | None = None, default_wind_ms: float | None = None,
                 site: Site | None = None) -> pd.DataFrame:
    """Read a weather file (PVGIS TMY csv/json, EPW, or a simple CSV) into harmonised columns.

    Parameters
    ----------
    path : str or Path
        The file.
    kind : {'pvgis', 'epw', 'csv'}, optional
        Detected when None: ``.epw`` or a ``LOCATION`` line -> EPW; ``.json`` or a PVGIS
        ``Latitude (decimal degrees)`` header -> PVGIS TMY; anything else -> simple CSV.
    tz : str
        Time zone of the returned index.
    year : int or None
        PVGIS and EPW typical years mix months of different years: they are re-dated to this
        non-leap year (default 2023: recent, so ``tz`` has today's rules; America/Lima kept
        daylight saving in 1990, pvlib's default year) and put on the local calendar year
        (the UTC hours that fall on the previous local day wrap to the year's end). None keeps
        the file's dates (they must then be sorted). Ignored for a simple CSV.
    columns : mapping, optional
        Simple CSV only: source column -> target (``ghi_wm2``, ``dni_wm2``, ``dhi_wm2``,
        ``temp_air_c``, ``wind_ms``); unmapped targets are found by common names (``GHI``,
        ``G(h)``, ``T2m``, ``temp_air``, ``WS10m``, ``irradiancia_ghi``, ``temperatura_c``...).
    units : mapping, optional
        Simple CSV only, keyed by target or source name: irradiance ``W/m2`` (default),
        ``kW/m2``, or irradiation per interval ``Wh/m2``/``kWh/m2`` (divided by dt);
        temperature ``C`` (default), ``K``, ``F``; wind ``m/s`` (default) or ``km/h``. A unit
        in brackets in the header (``GHI [kW/m2]``, ``temp (F)``) is honoured without it; an
        entry that contradicts the header is refused.
    timestamp_col, label, dayfirst, sep, time_format, decimal
        Simple CSV only, as in :func:`read_meter_csv` (default ``label='start'``).
    default_wind_ms : float, optional
        Constant wind speed when a simple CSV has no wind column (otherwise an error). [m/s]
    site : Site, optional
        When given and the file has no DNI/DHI, they are estimated from GHI by the Erbs
        decomposition at the mid-interval solar position of the site (``attrs["dni_dhi"]`` is
        then ``"erbs"``); without it such a file returns GHI only.

    Returns
    -------
    pandas.DataFrame
        ``ghi_wm2``, ``dni_wm2``, ``dhi_wm2`` (when the file has them) [W/m2], ``temp_air_c``
        [C], ``wind_ms`` [m/s]; a regular tz-aware index of interval starts. ``attrs`` holds the
        source, the kind and the site metadata the file gives (latitude, longitude, elevation).

    Notes
    -----
    EPW values are for the hour *ending* at the EPW hour (pvlib labels them at its start).
    PVGIS TMY timestamps (UTC) are used as pvlib returns them, as the hour start.

    Raises
    ------
    DataError
        On an unreadable file, a missing column, an irregular index (gap, duplicate, rows out
        of order, daylight-saving jump), a PVGIS/EPW file that is not a whole typical year
        (8,760 hourly rows), a missing value, a value outside its plausible range
        (:mod:`pvbess.inputs.limits`), an unknown or contradicted unit, or an unknown ``tz``.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise DataError(f"{name}: file not found")
    check_tz(tz)
    kind, fmt = _weather_kind(path, kind)
    if kind == "csv":
        frame, rows, name, step_h = read_weather_csv(
            path, tz=tz, columns=columns, units=units, timestamp_col=timestamp_col, label=label,
            dayfirst=dayfirst, sep=sep, time_format=time_format, decimal=decimal,
            default_wind_ms=default_wind_ms)
        out = _finish_weather(frame, rows, name, tz, None, wrap=False)
        out.attrs = {**out.attrs, "source": name, "kind": "csv", "step_h": step_h}
        if site is not None and not {"dni_wm2", "dhi_wm2"} <= set(out.columns):
            out = _decompose(out, site)
        return out
    if kind == "pvgis" and fmt == "csv":
        data, rows, attrs = _read_pvgis_csv(path)
    else:
        data, rows, attrs = _read_with_pvlib(path, kind, fmt)
    _check_typical_year(len(data), name, kind, year)
    out = _finish_weather(data, rows, name, tz, year, wrap=True)
    out.attrs = {**out.attrs, "source": name, "kind": kind,
                 **{k: v for k, v in attrs.items() if v is not None}}
    return out


def _read_with_pvlib(path: Path, kind: str, fmt: str) -> tuple[pd.DataFrame, list[str], dict]:
    """An EPW or a PVGIS TMY JSON through pvlib: target columns, each row's place, the site."""
    from pvlib import iotools  # heavy: imported only when a weather file is read

    name = str(path)
    try:
        if kind == "pvgis":
            data, meta = iotools.read_pvgis_tmy(str(path), pvgis_format=fmt, map_variables=True)
        else:
            data, meta = iotools.read_epw(str(path))
    except (ValueError, KeyError, IndexError, TypeError, json.JSONDecodeError) as exc:
        raise DataError(f"{name}: not a readable {kind.upper()} {fmt} file "
                        f"({type(exc).__name__}: {exc})") from None
    data = data.rename(columns=_PVLIB_NAMES)
    missing = [c for c in ("ghi_wm2", "temp_air_c", "wind_ms") if c not in data.columns]
    if missing:
        raise DataError(f"{name}: {kind.upper()} file without column(s) {missing}")
    if kind == "pvgis":
        meta_in = meta.get("inputs", {})
        site = meta_in.get("location", meta_in)
        rows = [f"record {i}" for i in range(len(data))]
        attrs = {"latitude": site.get("latitude"), "longitude": site.get("longitude"),
                 "elevation_m": site.get("elevation")}
    else:
        rows = [f"line {9 + i}" for i in range(len(data))]  # 8 header lines
        attrs = {"latitude": meta.get("latitude"), "longitude": meta.get("longitude"),
                 "elevation_m": meta.get("altitude"), "city": meta.get("city")}
    return data, rows, attrs


def _decompose(weather: pd.DataFrame, site: Site) -> pd.DataFrame:
    """Add DNI and DHI estimated from GHI (Erbs) at the mid-interval solar position."""
    import pvlib

    from .weather import pvlib_quiet

    dt_h = step_hours(weather.index)
    mid = weather.index + pd.Timedelta(hours=dt_h / 2.0)
    loc = pvlib.location.Location(site.latitude, site.longitude, site.tz, site.altitude_m)
    ghi = weather["ghi_wm2"].to_numpy(dtype=float)
    with pvlib_quiet():
        zenith = loc.get_solarposition(mid)["apparent_zenith"].to_numpy()
        parts = pvlib.irradiance.erbs(ghi, zenith, mid.day_of_year.to_numpy())
    out = weather.copy()
    out.insert(1, "dni_wm2", np.nan_to_num(np.asarray(parts["dni"], dtype=float)))
    out.insert(2, "dhi_wm2", np.nan_to_num(np.asarray(parts["dhi"], dtype=float)))
    out.attrs = {**weather.attrs, "dni_dhi": "erbs"}
    return out
