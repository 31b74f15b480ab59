"""Simple weather CSV files: columns found by common names, units honoured from the header.

The private machinery behind :func:`pvbess.inputs.weather_files.read_weather` for
``kind='csv'``. A unit written in brackets in a header (``GHI [kW/m2]``, ``temp (F)``) is
converted; an unknown one, or a caller's ``units=`` that contradicts it, is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..timeseries import DataError
from ._csv import _HOUR_NS, _find_column, _load_times, _read_table
from ._numbers import _file_decimal, _header_unit, _parse_numbers, _settle_unit, _unit_key

WEATHER_COLUMNS = ("ghi_wm2", "dni_wm2", "dhi_wm2", "temp_air_c", "wind_ms")

#: normalised source name -> target column (simple weather CSV)
_WEATHER_ALIASES = {
    "ghi_wm2": ("ghi", "ghiwm2", "gh", "globalhorizontal", "globalhorizontalirradiance",
                "irradianciaghi", "irradianceghi"),
    "dni_wm2": ("dni", "dniwm2", "gbn", "directnormal", "directnormalirradiance"),
    "dhi_wm2": ("dhi", "dhiwm2", "gdh", "diffusehorizontal", "diffusehorizontalirradiance"),
    "temp_air_c": ("tempair", "tempairc", "t2m", "temperature", "temperaturec", "temp", "tempc",
                   "temperatura", "temperaturac", "tamb", "tair", "airtemperature", "drybulb"),
    "wind_ms": ("windspeed", "windms", "ws10m", "wind", "windspeedms", "velocidadviento",
                "velocidadvientoms", "viento", "ws"),
}

#: harmonised unit of each target column
UNITS_SHOWN = {"ghi_wm2": "W/m2", "dni_wm2": "W/m2", "dhi_wm2": "W/m2", "temp_air_c": "C",
               "wind_ms": "m/s"}

#: weather units -> (scale, offset) to the target unit; irradiation per interval needs dt
_IRRADIANCE_UNITS = {"w/m2": 1.0, "wm2": 1.0, "w/m^2": 1.0, "kw/m2": 1e3, "kwm2": 1e3,
                     "kw/m^2": 1e3}
_IRRADIATION_UNITS = {"wh/m2": 1.0, "whm2": 1.0, "wh/m^2": 1.0, "kwh/m2": 1e3, "kwhm2": 1e3,
                      "kwh/m^2": 1e3}
_TEMPERATURE_UNITS = {"c": (1.0, 0.0), "degc": (1.0, 0.0), "°c": (1.0, 0.0),
                      "k": (1.0, -273.15), "f": (5 / 9, -32 * 5 / 9), "degf": (5 / 9, -32 * 5 / 9),
                      "°f": (5 / 9, -32 * 5 / 9)}
_WIND_UNITS = {"m/s": 1.0, "ms": 1.0, "km/h": 1 / 3.6, "kmh": 1 / 3.6, "kph": 1 / 3.6}


def _norm(name: str) -> str:
    name = re.sub(r"[\[(].*?[\])]", "", str(name))
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _conversion(target: str, unit: str, source: str, path: str,
                step_h: float) -> tuple[float, float]:
    """(scale, offset) from ``unit`` to the target's harmonised unit; unknown -> DataError."""
    key = _unit_key(unit)
    if target.endswith("_wm2"):
        if key in _IRRADIANCE_UNITS:
            return _IRRADIANCE_UNITS[key], 0.0
        if key in _IRRADIATION_UNITS:
            return _IRRADIATION_UNITS[key] / step_h, 0.0
        known = "W/m2, kW/m2 (mean irradiance) or Wh/m2, kWh/m2 (per interval)"
    elif target == "temp_air_c":
        if key in _TEMPERATURE_UNITS:
            return _TEMPERATURE_UNITS[key]
        known = "C, K, F"
    else:
        if key in _WIND_UNITS:
            return _WIND_UNITS[key], 0.0
        known = "m/s, km/h"
    raise DataError(f"{path}: column {source!r}: unknown unit {unit!r} for {target}; known "
                    f"{known}")


def _map_columns(table, tcol: str, columns: Mapping[str, str] | None,
                 default_wind_ms: float | None) -> dict[str, str]:
    """Target -> source column: the caller's mapping, then common names."""
    mapping: dict[str, str] = {}
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
    header = f"{table.path}: line {table.first_line - 1} (header)"
    for target in ("ghi_wm2", "temp_air_c"):
        if target not in mapping:
            raise DataError(f"{header}: no {target} column among {list(table.frame.columns)}; "
                            f"pass columns=...")
    if "wind_ms" not in mapping and default_wind_ms is None:
        raise DataError(f"{header}: no wind_ms column among {list(table.frame.columns)}; pass "
                        f"columns=... or default_wind_ms=...")
    return {t: mapping[t] for t in WEATHER_COLUMNS if t in mapping}


def read_weather_csv(path, *, tz: str, columns: Mapping[str, str] | None,
                     units: Mapping[str, str] | None, timestamp_col: str | None, label: str,
                     dayfirst: bool, sep: str | None, time_format: str | None,
                     decimal: str | None, default_wind_ms: float | None) -> tuple[pd.DataFrame, list[str], str, float]:
    """The converted columns of a simple weather CSV (not yet range-checked).

    Returns the frame on interval starts, the file line of each row, the file name and the
    step in hours.
    """
    table = _read_table(path, sep)
    index, texts, step, tcol = _load_times(table, timestamp_col, label, tz, dayfirst, None,
                                           time_format, "raise", None, None)
    mapping = _map_columns(table, tcol, columns, default_wind_ms)
    units = dict(units or {})
    step_h = step / _HOUR_NS
    mark = _file_decimal(table, list(mapping.values()), texts, decimal)
    data: dict[str, np.ndarray] = {}
    for target, source in mapping.items():
        key = target if target in units else source
        given = units.get(key)
        header = _header_unit(source)

        def same(a: str, b: str, target=target, source=source) -> bool:
            return (_conversion(target, a, source, table.path, step_h)
                    == _conversion(target, b, source, table.path, step_h))

        unit = (_settle_unit(table.path, source, header, given, f"units={{{key!r}: {given!r}}}",
                             same, "units") if header is not None or given is not None
                else UNITS_SHOWN[target])
        scale, offset = _conversion(target, unit, source, table.path, step_h)
        raw = _parse_numbers(table, source, texts, unit, mark, allow_negative=True,
                             explicit=decimal is not None)
        data[target] = raw * scale + offset
    if "wind_ms" not in data:
        data["wind_ms"] = np.full(len(index), float(default_wind_ms))
    frame = pd.DataFrame(data, index=index)
    rows = [f"line {table.line(i)}" for i in range(len(frame))]
    return frame, rows, table.path, step_h
