"""Loaders for users' own data: meter and energy CSV files, and their hourly aggregation.

Every loader returns energy per interval in kWh on a regular, tz-aware
index that labels the interval START, whatever the file's own convention. Bad input never passes
silently: each problem raises :class:`pvbess.timeseries.DataError` naming the file, the line in
the file (1-based, the header is line 1), the timestamp as written and the problem.

Conventions
-----------
- ``label="end"``: a timestamp closes its interval (meter exports: ``00:15`` is 00:00-00:15), so
  the first hour of a year holds three quarter-hours in the raw file and the last row is the next
  year's ``00:00``. ``label="start"``: a timestamp opens its interval.
- Power units (``W``, ``kW``, ``MW``) are mean power over the interval: energy = P * dt, dt taken
  from the (regular) time step. Energy units (``Wh``, ``kWh``, ``MWh``) are per interval. The
  unit written in a header is honoured; a caller's unit only fills in for a header without one.
- One decimal mark per file, decided from every value column; the other mark may only group
  thousands. Energy per step above the ceiling of :mod:`pvbess.inputs.limits` is refused.
- Naive timestamps are local clock times in ``tz``; a local time that does not exist or occurs
  twice in ``tz`` (daylight-saving change) is an error unless ``ambiguous="infer"`` resolves it.
  Timestamps carrying a UTC offset (``2024-01-01 00:00:00-05:00``) are converted to ``tz``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ._csv import _HOUR_NS, Label, _duration, _find_column, _load_times, _read_table
from ._numbers import (
    _energy_kwh,
    _is_energy_unit,
    _file_decimal,
    _same_energy_unit,
    _settle_unit,
    _unit_from_name,
)
from ..timeseries import DataError, step_hours


def read_meter_csv(path: str | Path, *, sep: str | None = None, timestamp_col: str | None = None,
                   value_col: str | None = None, label: Label = "end", tz: str = "America/Lima",
                   dayfirst: bool = True, unit: str | None = None,
                   freq: str | pd.Timedelta | None = None, decimal: str | None = None,
                   time_format: str | None = None, expected_rows: int | None = None,
                   year: int | None = None, ambiguous: Literal["raise", "infer"] = "raise",
                   skiprows: int = 0) -> pd.Series:
    """Read a utility meter export: one timestamp column and one energy (or power) column.

    Parameters
    ----------
    path : str or Path
        The CSV file (a UTF-8 byte-order mark and a cp1252 encoding are handled).
    sep : str, optional
        Column separator; detected from the header line (``;``, ``,``, tab, ``|``) when None.
    timestamp_col : str, optional
        Timestamp column; when None, the first column whose name looks like a date/time
        (``FECHAHORA``, ``datetime``, ``timestamp``, ...) or whose first cell parses as one.
    value_col : str, optional
        Value column; when None, the only other column, or the one whose name holds the unit.
    label : {'end', 'start'}
        Whether a timestamp closes (meter convention) or opens its interval.
    tz : str
        IANA time zone of the local clock (naive timestamps) or to convert to (with offsets).
    dayfirst : bool
        ``1/02/2024`` is 1 February when True, January 2 when False (ISO dates are unaffected).
    unit : str or None
        Unit of the values: ``Wh``, ``kWh``, ``MWh`` per interval or ``W``, ``kW``, ``MW`` mean
        power. The unit written in the column name (``kWh``, ``P [kW]``, ``load_kw``) is
        honoured; ``unit`` is needed only when the header has none, and must agree with it.
    freq : str or Timedelta, optional
        The expected step (``"15min"``); inferred as the most common step when None.
    decimal : str, optional
        Decimal mark (``'.'`` or ``','``); when None, decided once for the whole file from
        every value column (``1.200`` beside ``1,5`` is 1200). The other mark may only group
        thousands.
    time_format : str, optional
        An explicit ``strftime`` format of the timestamps.
    expected_rows : int, optional
        Require exactly this many intervals.
    year : int, optional
        Require exactly one full calendar year (local ``tz``) at the step.
    ambiguous : {'raise', 'infer'}
        A repeated local hour (daylight-saving fall-back) is an error, or resolved by order.
    skiprows : int
        Lines to skip before the header (preamble of some exports).

    Returns
    -------
    pandas.Series
        ``energy_kwh``: energy per interval [kWh], indexed by the interval start (tz-aware,
        regular, with a frequency). ``attrs`` holds ``source``, ``column``, ``unit``, ``label``
        and ``step_h``.

    Raises
    ------
    DataError
        Naming the file, the line and the timestamp, for: a missing column, a missing or
        unparseable timestamp, a daylight-saving jump, a duplicate, an unsorted row, a gap,
        a wrong length, a missing, non-numeric or negative value, an energy per step above
        the ceiling of :mod:`pvbess.inputs.limits`, an unknown unit, no unit at all, a unit
        that contradicts the header, or a cell that contradicts the file's decimal mark.

    Examples
    --------
    >>> kwh = read_meter_csv("mall_meter_15min_2024.csv")  # doctest: +SKIP
    >>> to_hourly(kwh).sum()  # doctest: +SKIP
    """
    table = _read_table(path, sep, skiprows)
    index, texts, step, tcol = _load_times(table, timestamp_col, label, tz, dayfirst, freq,
                                           time_format, ambiguous, expected_rows, year)
    if value_col is None:
        others = [c for c in table.frame.columns if c != tcol]
        if len(others) != 1:
            hinted = [c for c in others if _is_energy_unit(_unit_from_name(c))]
            if len(hinted) != 1:
                raise DataError(f"{table.path}: line {table.first_line - 1} (header): cannot tell "
                                f"the value column among {others}; pass value_col=...")
            others = hinted
        value_col = others[0]
    else:
        value_col = _find_column(table, value_col, "value")
    unit = _settle_unit(table.path, value_col, _unit_from_name(value_col), unit,
                        f"unit={unit!r}", _same_energy_unit(table.path, value_col), "unit")
    mark = _file_decimal(table, [value_col], texts, decimal)
    kwh = _energy_kwh(table, value_col, texts, unit, mark, step, False, decimal is not None)
    step_h = step / _HOUR_NS
    out = pd.Series(kwh, index=index, name="energy_kwh")
    out.attrs = {"source": table.path, "column": value_col, "unit": unit, "label": label,
                 "step_h": step_h}
    return out


def read_energy_csv(path: str | Path, columns: Mapping[str, str] | Sequence[str] | None = None,
                    *, units: Mapping[str, str] | None = None, label: Label,
                    timestamp_col: str | None = None, tz: str = "America/Lima",
                    dayfirst: bool = True, freq: str | pd.Timedelta | None = None,
                    sep: str | None = None, decimal: str | None = None,
                    time_format: str | None = None, expected_rows: int | None = None,
                    year: int | None = None, allow_negative: Iterable[str] = (),
                    ambiguous: Literal["raise", "infer"] = "raise",
                    skiprows: int = 0) -> pd.DataFrame:
    """Read a CSV of several energy or power columns into kWh per interval.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    columns : mapping or sequence of str, optional
        Source column -> target name (``{"PV [kW]": "pv_kwh"}``), or source columns to keep
        under their own names; None keeps every column but the timestamp.
    units : mapping, optional
        Unit per column, keyed by source or target name: ``W``, ``kW``, ``MW`` (mean power over
        the interval; energy = P * dt) or ``Wh``, ``kWh``, ``MWh`` (energy per interval). The
        unit written in a column's name (``pv [kW]``, ``pv_kwh``) is honoured; an entry is
        needed only for a column without one, and must agree with the name otherwise.
    label : {'start', 'end'}
        Whether a timestamp opens or closes its interval (required: a wrong guess shifts
        everything by one step).
    timestamp_col, tz, dayfirst, freq, sep, decimal, time_format, expected_rows, year, ambiguous,
    skiprows
        As in :func:`read_meter_csv`.
    allow_negative : iterable of str
        Columns (source or target names) that may be negative (e.g. a net grid meter).

    Returns
    -------
    pandas.DataFrame
        One float column per target name: energy per interval [kWh], indexed by the interval
        start (tz-aware, regular). ``attrs`` holds ``source``, ``units``, ``label``, ``step_h``.

    Raises
    ------
    DataError
        As :func:`read_meter_csv`, for every column.
    """
    table = _read_table(path, sep, skiprows)
    index, texts, step, tcol = _load_times(table, timestamp_col, label, tz, dayfirst, freq,
                                           time_format, ambiguous, expected_rows, year)
    if columns is None:
        mapping = {c: c for c in table.frame.columns if c != tcol}
    elif isinstance(columns, Mapping):
        mapping = dict(columns)
    else:
        mapping = {c: c for c in columns}
    if not mapping:
        raise DataError(f"{table.path}: no value columns besides the timestamp {tcol!r}")
    units = dict(units or {})
    negative_ok = set(allow_negative)
    step_h = step / _HOUR_NS
    data: dict[str, np.ndarray] = {}
    used_units: dict[str, str] = {}
    sources = {target: _find_column(table, source, "value") for source, target in mapping.items()}
    mark = _file_decimal(table, list(sources.values()), texts, decimal)
    for source, target in mapping.items():
        col = sources[target]
        key = source if source in units else target
        unit = _settle_unit(table.path, col, _unit_from_name(col), units.get(key),
                            f"units={{{key!r}: {units.get(key)!r}}}",
                            _same_energy_unit(table.path, col), "units")
        data[target] = _energy_kwh(table, col, texts, unit, mark, step,
                                   source in negative_ok or target in negative_ok,
                                   decimal is not None)
        used_units[target] = unit
    out = pd.DataFrame(data, index=index)
    out.attrs = {"source": table.path, "units": used_units, "label": label, "step_h": step_h}
    return out


# -------------------------------------------------------------------------------------------
# aggregation
# -------------------------------------------------------------------------------------------
def to_hourly(data: pd.Series | pd.DataFrame, *,
              incomplete: Literal["raise", "drop"] = "raise") -> pd.Series | pd.DataFrame:
    """Sum sub-hourly energy per interval into clock hours, by interval start.

    The intervals starting at 00:00, 00:15, 00:30 and 00:45 make the hour labelled 00:00
    (local clock of the index, so daylight-saving and half-hour offsets are respected).

    Parameters
    ----------
    data : Series or DataFrame
        Energy per interval [kWh] on a regular, tz-aware index of interval starts whose step
        divides one hour (1, 5, 10, 15, 20, 30 or 60 min, ...). NaN stays NaN in its hour.
    incomplete : {'raise', 'drop'}
        An hour at either end that holds fewer intervals than a full hour (e.g. a file that
        starts at 00:15) is an error, or is dropped. Never summed partially.

    Returns
    -------
    Series or DataFrame
        Energy per hour [kWh], indexed by the hour start (frequency ``h``); same name/columns.

    Raises
    ------
    DataError
        On an irregular or naive index, a step that does not divide one hour, a non-numeric
        column, or an incomplete hour (with ``incomplete='raise'``).

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=8, freq="15min", tz="America/Lima")
    >>> to_hourly(pd.Series(1.0, index=idx)).tolist()
    [4.0, 4.0]
    """
    if incomplete not in ("raise", "drop"):
        raise DataError(f"incomplete={incomplete!r}: must be 'raise' or 'drop'")
    if not isinstance(data, (pd.Series, pd.DataFrame)):
        raise DataError(f"to_hourly: expected a Series or DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise DataError("to_hourly: no data (an empty " + type(data).__name__ + ")")
    step_h = step_hours(data.index)  # validates: tz-aware, sorted, regular
    index = pd.DatetimeIndex(data.index).as_unit("ns")
    step = (int(index.asi8[1] - index.asi8[0]) if len(index) > 1
            else int(pd.Timedelta(hours=step_h).as_unit("ns").value))
    if step > _HOUR_NS or _HOUR_NS % step:
        raise DataError(f"index: a step of {_duration(step)} does not divide one "
                        f"hour")
    frame = data.to_frame() if isinstance(data, pd.Series) else data
    for name in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[name]):
            raise DataError(f"column {name!r} [kWh]: not numeric (dtype {frame[name].dtype})")
    per_hour = _HOUR_NS // step
    utc = index.asi8
    wall = index.tz_localize(None).asi8  # local clock, to align bins on local hours
    keys = utc - np.mod(wall, _HOUR_NS)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    counts = np.diff(np.r_[starts, len(keys)])
    short = np.flatnonzero(counts != per_hour)
    if short.size and incomplete == "raise":
        g = int(short[0])
        hour = pd.Timestamp(int(keys[starts[g]]), unit="ns", tz="UTC").tz_convert(index.tz)
        raise DataError(f"index: incomplete hour starting {hour}: it holds {int(counts[g])} of "
                        f"{per_hour} intervals (row {int(starts[g])}, {index[starts[g]]}); pass "
                        f"incomplete='drop' to drop incomplete hours")
    values = frame.to_numpy(dtype=np.float64)
    sums = np.add.reduceat(values, starts, axis=0) if len(values) else values
    keep = counts == per_hour
    sums, hour_keys = sums[keep], keys[starts][keep]
    if hour_keys.size == 0:
        raise DataError("index: no complete hour in the data")
    hours = pd.DatetimeIndex(pd.to_datetime(hour_keys, unit="ns", utc=True)).tz_convert(index.tz)
    hours = pd.date_range(hours[0], periods=len(hours), freq="h", unit="ns", name=index.name)
    out = pd.DataFrame(sums, index=hours, columns=frame.columns)
    out.attrs = {**data.attrs, "step_h": 1.0}
    if isinstance(data, pd.Series):
        series = out.iloc[:, 0].rename(data.name)
        series.attrs = out.attrs
        return series
    return out
