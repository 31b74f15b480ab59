"""Weather files for users' own sites: PVGIS TMY, EPW (through pvlib.iotools) and simple CSVs.

Every reader returns ``ghi_wm2``, ``dni_wm2``, ``dhi_wm2`` (when the file has them),
``temp_air_c`` and ``wind_ms`` on a regular, tz-aware index labelling the interval START, with
units converted and names harmonised for :func:`pvbess.inputs.pvmodel.pv_ac_kwh`. Bad input raises
:class:`pvbess.timeseries.DataError` naming the file, line, timestamp and problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ._csv import (
    _HOUR_NS,
    Label,
    _check_steps,
    _decode,
    _find_column,
    _load_times,
    _new_year,
    _parse_numbers,
    _read_table,
    _regular_index,
    _step_of,
)
from ..site import Site
from ..timeseries import DataError, step_hours

# -------------------------------------------------------------------------------------------
# weather
# -------------------------------------------------------------------------------------------
WEATHER_COLUMNS = ("ghi_wm2", "dni_wm2", "dhi_wm2", "temp_air_c", "wind_ms")

_PVLIB_NAMES = {"ghi": "ghi_wm2", "dni": "dni_wm2", "dhi": "dhi_wm2", "temp_air": "temp_air_c",
                "wind_speed": "wind_ms"}

#: normalised source name -> target column (simple weather CSV)
_WEATHER_ALIASES = {
    "ghi_wm2": ("ghi", "ghiwm2", "gh", "globalhorizontal", "globalhorizontalirradiance",
                "irradianciaghi", "irradianceghi", "ghiwm2"),
    "dni_wm2": ("dni", "dniwm2", "gbn", "directnormal", "directnormalirradiance"),
    "dhi_wm2": ("dhi", "dhiwm2", "gdh", "diffusehorizontal", "diffusehorizontalirradiance"),
    "temp_air_c": ("tempair", "tempairc", "t2m", "temperature", "temperaturec", "temp", "tempc",
                   "temperatura", "temperaturac", "tamb", "tair", "airtemperature", "drybulb"),
    "wind_ms": ("windspeed", "windms", "ws10m", "wind", "windspeedms", "velocidadviento",
                "velocidadvientoms", "viento", "ws"),
}

#: weather units -> (scale, offset) to the target unit; irradiance energy units need dt
_IRRADIANCE_UNITS = {"w/m2": 1.0, "wm2": 1.0, "w/m^2": 1.0, "kw/m2": 1e3, "kwm2": 1e3,
                     "kw/m^2": 1e3}
_IRRADIATION_UNITS = {"wh/m2": 1.0, "whm2": 1.0, "wh/m^2": 1.0, "kwh/m2": 1e3, "kwhm2": 1e3,
                      "kwh/m^2": 1e3}
_TEMPERATURE_UNITS = {"c": (1.0, 0.0), "degc": (1.0, 0.0), "°c": (1.0, 0.0),
                      "k": (1.0, -273.15), "f": (5 / 9, -32 * 5 / 9), "degf": (5 / 9, -32 * 5 / 9),
                      "°f": (5 / 9, -32 * 5 / 9)}
_WIND_UNITS = {"m/s": 1.0, "ms": 1.0, "km/h": 1 / 3.6, "kmh": 1 / 3.6, "kph": 1 / 3.6}

#: plausible physical ranges (catch unit mistakes and EPW missing-value codes 9999/99.9/999)
_RANGES = {"ghi_wm2": (0.0, 1500.0), "dni_wm2": (0.0, 1500.0), "dhi_wm2": (0.0, 1000.0),
           "temp_air_c": (-70.0, 60.0), "wind_ms": (0.0, 75.0)}
#: small negative readings (sensor offsets at night, rounding) are set to 0 and counted in
#: ``attrs["clipped_to_zero"]``; anything below these is an error
_NEGATIVE_TOLERANCE = {"ghi_wm2": -10.0, "dni_wm2": -10.0, "dhi_wm2": -10.0, "wind_ms": -0.5}
_UNITS_SHOWN = {"ghi_wm2": "W/m2", "dni_wm2": "W/m2", "dhi_wm2": "W/m2", "temp_air_c": "C",
                "wind_ms": "m/s"}


def _norm(name: str) -> str:
    name = re.sub(r"[\[(].*?[\])]", "", str(name))
    return re.sub(r"[^0-9a-z]", "", name.lower())


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


def _pvgis_first_line(path: Path) -> int | None:
    for n, line in enumerate(_decode(path).splitlines(), start=1):
        if line.startswith("time(UTC)"):
            return n + 1
    return None


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
        lo, hi = _RANGES[col]
        small = (values < lo) & (values >= _NEGATIVE_TOLERANCE.get(col, lo))
        if small.any():
            values[small] = lo
            clipped[col] = int(small.sum())
        bad = np.flatnonzero(~np.isfinite(values) | (values < lo) | (values > hi))
        if bad.size:
            i = int(bad[0])
            problem = ("missing value" if not np.isfinite(values[i]) else
                       f"value {values[i]:g} outside the plausible range [{lo:g}, {hi:g}] (wrong "
                       f"unit, or a missing-value code such as EPW's 9999/99.9/999?)")
            raise DataError(f"{path}: {where(i)}, column {col!r} [{_UNITS_SHOWN[col]}]: {problem}")
        out[col] = values
    out.attrs["clipped_to_zero"] = clipped
    return out


def read_weather(path: str | Path, kind: Literal["pvgis", "epw", "csv"] | None = None, *,
                 tz: str = "America/Lima", year: int | None = 2023,
                 columns: Mapping[str, str] | None = None, units: Mapping[str, str] | None = None,
                 timestamp_col: str | None = None, label: Label = "start",
                 dayfirst: bool = True, sep: str | None = None, time_format: str | None = None,
                 default_wind_ms: float | None = None, site: Site | None = None) -> pd.DataFrame:
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
        temperature ``C`` (default), ``K``, ``F``; wind ``m/s`` (default) or ``km/h``.
    timestamp_col, label, dayfirst, sep, time_format
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
        On an unreadable file, a missing column, an irregular index (gap, duplicate, unsorted,
        daylight-saving jump), a missing value or a value outside its plausible range.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise DataError(f"{name}: file not found")
    kind, fmt = _weather_kind(path, kind)
    if kind == "csv":
        out = _read_weather_csv(path, tz=tz, columns=columns, units=units,
                                timestamp_col=timestamp_col, label=label, dayfirst=dayfirst,
                                sep=sep, time_format=time_format, default_wind_ms=default_wind_ms)
        if site is not None and not {"dni_wm2", "dhi_wm2"} <= set(out.columns):
            out = _decompose(out, site)
        return out
    from pvlib import iotools  # heavy: imported only when a weather file is read

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
        first = _pvgis_first_line(path) if fmt == "csv" else None
        rows = ([f"line {first + i}" for i in range(len(data))] if first is not None
                else [f"record {i}" for i in range(len(data))])
        attrs = {"latitude": site.get("latitude"), "longitude": site.get("longitude"),
                 "elevation_m": site.get("elevation")}
    else:
        rows = [f"line {9 + i}" for i in range(len(data))]  # 8 header lines
        attrs = {"latitude": meta.get("latitude"), "longitude": meta.get("longitude"),
                 "elevation_m": meta.get("altitude"), "city": meta.get("city")}
    out = _finish_weather(data, rows, name, tz, year, wrap=True)
    out.attrs = {**out.attrs, "source": name, "kind": kind,
                 **{k: v for k, v in attrs.items() if v is not None}}
    return out


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


def _read_weather_csv(path: Path, *, tz: str, columns: Mapping[str, str] | None,
                      units: Mapping[str, str] | None, timestamp_col: str | None, label: str,
                      dayfirst: bool, sep: str | None, time_format: str | None,
                      default_wind_ms: float | None) -> pd.DataFrame:
    table = _read_table(path, sep)
    index, texts, step, tcol = _load_times(table, timestamp_col, label, tz, dayfirst, None,
                                           time_format, "raise", None, None)
    mapping: dict[str, str] = {}  # target -> source
    for source, target in (columns or {}).items():
        if target not in WEATHER_COLUMNS:
            raise DataError(f"{table.path}: columns maps {source!r} to unknown target "
                            f"{target!r}; targets are {list(WEATHER_COLUMNS)}")
        mapping[target] = _find_column(table, source, target)
    for col in table.frame.columns:
        if col == tcol or col in mapping.values():
            continue
        for target, aliases in _WEATHER_ALIASES.items():
            if target not in mapping and _norm(col) in aliases:
                mapping[target] = col
    for target in ("ghi_wm2", "temp_air_c"):
        if target not in mapping:
            raise DataError(f"{table.path}: line {table.first_line - 1} (header): no {target} "
                            f"column among {list(table.frame.columns)}; pass columns=...")
    if "wind_ms" not in mapping and default_wind_ms is None:
        raise DataError(f"{table.path}: line {table.first_line - 1} (header): no wind_ms column "
                        f"among {list(table.frame.columns)}; pass columns=... or "
                        f"default_wind_ms=...")
    units = dict(units or {})
    step_h = step / _HOUR_NS
    data: dict[str, np.ndarray] = {}
    for target in WEATHER_COLUMNS:
        if target not in mapping:
            continue
        source = mapping[target]
        unit = units.get(target, units.get(source))
        if target.endswith("_wm2"):
            key = (unit or "W/m2").replace(" ", "").replace("²", "2").lower()
            if key in _IRRADIANCE_UNITS:
                scale, offset = _IRRADIANCE_UNITS[key], 0.0
            elif key in _IRRADIATION_UNITS:
                scale, offset = _IRRADIATION_UNITS[key] / step_h, 0.0
            else:
                raise DataError(f"{table.path}: column {source!r}: unknown unit {unit!r}; known "
                                f"W/m2, kW/m2 (mean irradiance) or Wh/m2, kWh/m2 (per interval)")
        elif target == "temp_air_c":
            key = (unit or "C").replace(" ", "").lower()
            if key not in _TEMPERATURE_UNITS:
                raise DataError(f"{table.path}: column {source!r}: unknown unit {unit!r}; known "
                                f"C, K, F")
            scale, offset = _TEMPERATURE_UNITS[key]
        else:
            key = (unit or "m/s").replace(" ", "").lower()
            if key not in _WIND_UNITS:
                raise DataError(f"{table.path}: column {source!r}: unknown unit {unit!r}; known "
                                f"m/s, km/h")
            scale, offset = _WIND_UNITS[key], 0.0
        raw = _parse_numbers(table, source, texts, unit or _UNITS_SHOWN[target], None,
                             allow_negative=True)
        data[target] = raw * scale + offset
    if "wind_ms" not in data:
        data["wind_ms"] = np.full(len(index), float(default_wind_ms))
    frame = pd.DataFrame(data, index=index)
    rows = [f"line {table.line(i)}" for i in range(len(frame))]
    out = _finish_weather(frame, rows, table.path, tz, None, wrap=False)
    out.attrs = {**out.attrs, "source": table.path, "kind": "csv", "step_h": step_h}
    return out
