"""Loaders for users' own data: meter and energy CSV files, and weather files.

Every loader returns energy per interval in kWh (or weather in SI units) on a regular, tz-aware
index that labels the interval START, whatever the file's own convention. Bad input never passes
silently: each problem raises :class:`pvbess.timeseries.DataError` naming the file, the line in
the file (1-based, the header is line 1), the timestamp as written and the problem.

Conventions
-----------
- ``label="end"``: a timestamp closes its interval (meter exports: ``00:15`` is 00:00-00:15), so
  the first hour of a year holds three quarter-hours in the raw file and the last row is the next
  year's ``00:00``. ``label="start"``: a timestamp opens its interval.
- Power units (``W``, ``kW``, ``MW``) are mean power over the interval: energy = P * dt, dt taken
  from the (regular) time step. Energy units (``Wh``, ``kWh``, ``MWh``) are per interval.
- Naive timestamps are local clock times in ``tz``; a local time that does not exist or occurs
  twice in ``tz`` (daylight-saving change) is an error unless ``ambiguous="infer"`` resolves it.
  Timestamps carrying a UTC offset (``2024-01-01 00:00:00-05:00``) are converted to ``tz``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .site import Site
from .timeseries import DataError, step_hours

__all__ = ["read_energy_csv", "read_meter_csv", "read_weather", "to_hourly"]

Label = Literal["start", "end"]

_HOUR_NS = 3_600_000_000_000

#: energy units -> factor to kWh per interval
_ENERGY_UNITS = {"wh": 1e-3, "kwh": 1.0, "mwh": 1e3}
#: power units (mean over the interval) -> factor to kW
_POWER_UNITS = {"w": 1e-3, "kw": 1.0, "mw": 1e3}
_KNOWN_UNITS = "W, kW, MW (mean power over the interval) or Wh, kWh, MWh (energy per interval)"

_SEPARATORS = (";", ",", "\t", "|")
_NAN_WORDS = {"nan", "na", "n/a", "null", "none", "#n/a", "#value!", "-"}
_TIME_NAME = re.compile(r"fecha|date|time|hora|timestamp|periodo|period|instant", re.IGNORECASE)
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_H24 = re.compile(r"([ T])24:00(?::00)?$")
_H24_TEST = re.compile(r"[ T]24:00(?::00)?$")


# -------------------------------------------------------------------------------------------
# reading a delimited text file into string cells, keeping file line numbers
# -------------------------------------------------------------------------------------------
@dataclasses.dataclass
class _Table:
    """String cells of a delimited file and where each data row sits in the file."""

    path: str
    frame: pd.DataFrame  # all cells as stripped str
    first_line: int  # 1-based file line of data row 0

    def line(self, i: int) -> int:
        return self.first_line + int(i)


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")  # strips a UTF-8 byte-order mark
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")  # Spanish Excel exports


def _sniff_sep(header: str, sample: Sequence[str], path: str, line: int) -> str:
    best, best_count = None, 0
    for sep in _SEPARATORS:
        n = header.count(sep)
        rows = [line for line in sample if line.strip()]
        if n > best_count and sum(line.count(sep) >= n for line in rows) * 2 >= len(rows):
            best, best_count = sep, n
    if best is None:
        raise DataError(f"{path}: line {line} (header): cannot detect the column separator (tried "
                        f"{', '.join(repr(s) for s in _SEPARATORS)}); pass sep=...")
    return best


def _read_table(path: str | Path, sep: str | None, skiprows: int = 0) -> _Table:
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise DataError(f"{name}: file not found")
    lines = _decode(path).splitlines()
    h = skiprows
    while h < len(lines) and not lines[h].strip():
        h += 1
    if h >= len(lines):
        raise DataError(f"{name}: no header line (the file is empty)")
    if sep is None:
        sep = _sniff_sep(lines[h], lines[h + 1:h + 20], name, h + 1)
    body = "\n".join(lines[h:])
    try:
        frame = pd.read_csv(io.StringIO(body), sep=sep, dtype=str, keep_default_na=False,
                            na_filter=False, skip_blank_lines=False, engine="c")
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+)", str(exc))
        where = f"line {int(match.group(1)) + h}: " if match else ""
        raise DataError(f"{name}: {where}wrong number of fields ({exc}); separator {sep!r}") \
            from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: no header line (the file is empty)") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.apply(lambda col: col.str.strip())
    # drop trailing empty lines; an empty line inside the data is an error later (empty cells)
    empty = (frame == "").all(axis=1).to_numpy()
    n = len(frame)
    while n and empty[n - 1]:
        n -= 1
    frame = frame.iloc[:n]
    if n == 0:
        raise DataError(f"{name}: no data rows below the header (line {h + 1})")
    return _Table(path=name, frame=frame, first_line=h + 2)


def _find_column(table: _Table, name: str, what: str) -> str:
    cols = list(table.frame.columns)
    if name in cols:
        return name
    folded = [c for c in cols if c.casefold() == str(name).strip().casefold()]
    if len(folded) == 1:
        return folded[0]
    raise DataError(f"{table.path}: line {table.first_line - 1} (header): {what} column {name!r} "
                    f"is missing; the file has columns {cols}")


# -------------------------------------------------------------------------------------------
# timestamps
# -------------------------------------------------------------------------------------------
def _candidate_formats(sample: str, dayfirst: bool) -> list[str]:
    if re.match(r"^\d{4}-\d{1,2}-\d{1,2}", sample):
        return ["ISO8601"]
    if re.match(r"^\d{4}/\d{1,2}/\d{1,2}", sample):
        return ["%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"]
    dm = ("%d", "%m") if dayfirst else ("%m", "%d")
    out = []
    for s in ("/", "-", "."):
        for y in ("%Y", "%y"):
            date = f"{dm[0]}{s}{dm[1]}{s}{y}"
            out += [f"{date} %H:%M:%S", f"{date} %H:%M"]
    return out


def _row(table: _Table, texts: np.ndarray, i: int) -> str:
    return f"line {table.line(i)} ({texts[i] or 'empty timestamp'})"


def _where(table: _Table, texts: np.ndarray, i: int) -> str:
    return f"{table.path}: {_row(table, texts, i)}"


def _parse_times(table: _Table, col: str, tz: str, dayfirst: bool, time_format: str | None,
                 ambiguous: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Parse the timestamp column to a tz-aware ns index; returns it and the raw texts."""
    texts = table.frame[col].to_numpy(dtype=object)
    empty = np.flatnonzero(texts == "")
    if empty.size:
        i = int(empty[0])
        what = ("empty line" if (table.frame.iloc[i] == "").all()
                else f"empty cell in column {col!r}")
        raise DataError(f"{table.path}: line {table.line(i)}: missing timestamp ({what})")
    cells = pd.Series(texts, dtype=str)
    h24 = cells.str.contains(_H24_TEST).to_numpy()
    if h24.any():  # "31/12/2024 24:00" is the next day's 00:00
        cells = cells.str.replace(_H24, r"\g<1>00:00", regex=True)
    with_offset = cells.str.contains(_OFFSET).to_numpy()
    if with_offset.any() and not with_offset.all():
        i = int(np.flatnonzero(with_offset != with_offset[0])[0])
        raise DataError(f"{_where(table, texts, i)}: timestamp "
                        f"{'without' if with_offset[0] else 'with'} a UTC offset while line "
                        f"{table.line(0)} {'has' if with_offset[0] else 'has none'}")
    utc = bool(with_offset[0])
    formats = [time_format] if time_format else _candidate_formats(cells.iloc[0], dayfirst)
    parsed = None
    for fmt in formats:
        try:
            first = pd.to_datetime(cells.iloc[:1], format=fmt, utc=utc)
        except (ValueError, TypeError):
            continue
        if first.notna().all():
            parsed = pd.to_datetime(cells, format=fmt, utc=utc, errors="coerce")
            break
    if parsed is None:
        raise DataError(f"{_where(table, texts, 0)}: unparseable timestamp {texts[0]!r} in column "
                        f"{col!r} (dayfirst={dayfirst}); pass time_format=...")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{_where(table, texts, i)}: unparseable timestamp {texts[i]!r} in column "
                        f"{col!r} (expected the format of line {table.line(0)}: {texts[0]!r})")
    index = pd.DatetimeIndex(parsed).as_unit("ns")
    if h24.any():
        index = index + pd.to_timedelta(np.where(h24, _HOUR_NS * 24, 0), unit="ns")
    if utc:
        return index.tz_convert(tz), texts
    return _localize(index, tz, table, texts, ambiguous), texts


def _localize(naive: pd.DatetimeIndex, tz: str, table: _Table, texts: np.ndarray,
              ambiguous: str) -> pd.DatetimeIndex:
    try:
        strict = naive.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    except Exception as exc:  # noqa: BLE001 - an unknown tz name, reported as such
        raise DataError(f"{table.path}: unknown time zone tz={tz!r} ({exc})") from None
    bad = np.flatnonzero(strict.isna())
    if not bad.size:
        return strict
    ambiguous_rows = []
    for i in bad:
        try:
            naive[i:i + 1].tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except Exception as exc:  # noqa: BLE001 - pandas raises pytz/zoneinfo-specific errors
            if "ambiguous" in type(exc).__name__.lower() or "ambiguous" in str(exc).lower():
                ambiguous_rows.append(int(i))
                continue
            i = int(i)
            raise DataError(f"{_where(table, texts, i)}: local time {naive[i]} does not exist in "
                            f"{tz} (the clock jumps forward at a daylight-saving change); give "
                            f"timestamps with a UTC offset or use a fixed-offset tz") from None
    if ambiguous == "infer":
        try:
            return naive.tz_localize(tz, ambiguous="infer", nonexistent="raise")
        except Exception as exc:  # noqa: BLE001
            i = ambiguous_rows[0]
            raise DataError(f"{_where(table, texts, i)}: local time {naive[i]} is ambiguous in "
                            f"{tz} and cannot be inferred ({exc})") from None
    i = ambiguous_rows[0]
    raise DataError(f"{_where(table, texts, i)}: local time {naive[i]} is ambiguous in {tz} (it "
                    f"occurs twice at a daylight-saving change); give timestamps with a UTC "
                    f"offset, use a fixed-offset tz, or pass ambiguous='infer'")


def _step_of(index: pd.DatetimeIndex, freq: str | pd.Timedelta | None, where, path: str) -> int:
    """The regular step in ns (from ``freq`` or the most common positive difference)."""
    if freq is not None:
        try:
            step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
        except (ValueError, TypeError):
            step = pd.Timedelta(freq)
        if step <= pd.Timedelta(0):
            raise DataError(f"freq={freq!r}: the step must be positive")
        return int(step.as_unit("ns").value)
    diffs = np.diff(index.asi8)
    positive = diffs[diffs > 0]
    if positive.size == 0:
        raise DataError(f"{path}: {where(0)}: cannot infer the time step from a single timestamp "
                        f"(or only duplicates); pass freq=...")
    values, counts = np.unique(positive, return_counts=True)
    return int(values[np.argmax(counts)])


def _duration(ns: int) -> str:
    """A readable duration: '15 min', '1 h', '2190 days 23:00:00'."""
    if ns % _HOUR_NS == 0 and abs(ns) < 48 * _HOUR_NS:
        return f"{ns // _HOUR_NS} h"
    if ns % 60_000_000_000 == 0 and abs(ns) < _HOUR_NS:
        return f"{ns // 60_000_000_000} min"
    return str(pd.Timedelta(ns, unit="ns"))


def _check_steps(index: pd.DatetimeIndex, step: int, where, path: str) -> None:
    """Every difference must equal ``step``; the error names the first bad pair of rows."""
    diffs = np.diff(index.asi8)
    bad = np.flatnonzero(diffs != step)
    if not bad.size:
        return
    i = int(bad[0])
    d = int(diffs[i])
    td, st = _duration(d), _duration(step)
    before, after = where(i), where(i + 1)
    if d == 0:
        problem = f"duplicate timestamp (the same instant as {before})"
    elif d == step - _HOUR_NS:
        problem = (f"the clock steps back by one hour after {before} (a daylight-saving change "
                   f"recorded on a clock without it?)")
    elif d < 0:
        problem = f"timestamps not sorted: this comes {_duration(-d)} before {before}"
    elif d == step + _HOUR_NS:
        problem = (f"gap: the clock jumps forward by one hour after {before}, "
                   f"{d // step - 1} missing interval(s) of {st} (a daylight-saving change or a "
                   f"missing hour)")
    elif d % step == 0:
        problem = f"gap: {d // step - 1} missing interval(s) of {st} after {before}"
    else:
        problem = f"irregular step of {td} (expected {st}) after {before}"
    raise DataError(f"{path}: {after}: {problem}")


def _new_year(year: int, tz: str) -> pd.Timestamp:
    """Local midnight opening 1 January of ``year`` (shifted forward if the clock skips it)."""
    return pd.Timestamp(year=year, month=1, day=1).tz_localize(tz, nonexistent="shift_forward",
                                                               ambiguous=False)


def _check_length(starts: pd.DatetimeIndex, step: int, where, expected_rows: int | None,
                  year: int | None, tz: str, path: str) -> None:
    n = len(starts)
    st = _duration(step)
    if year is not None:
        first, last = _new_year(year, tz), _new_year(year + 1, tz)
        want = (last.value - first.value) // step
        if n != want or starts[0] != first:
            raise DataError(f"{path}: {where(0)}: wrong length: expected {want} intervals of "
                            f"{st} covering the full year {year} from {first}, found {n} from "
                            f"{starts[0]} to {starts[-1]} (last row: {where(n - 1)})")
    if expected_rows is not None and n != expected_rows:
        raise DataError(f"{path}: {where(n - 1)}: wrong length: expected {expected_rows} "
                        f"intervals, found {n} (first row: {where(0)})")


def _regular_index(starts: pd.DatetimeIndex, step: int, name: str) -> pd.DatetimeIndex:
    out = pd.date_range(start=starts[0], periods=len(starts), freq=pd.Timedelta(step, unit="ns"),
                        unit="ns", name=name)
    return out


# -------------------------------------------------------------------------------------------
# values and units
# -------------------------------------------------------------------------------------------
def _unit_factor(unit: str, column: str, path: str) -> tuple[float, bool]:
    """(factor to kWh or kW, is_power) of a unit name; unknown -> DataError."""
    key = re.sub(r"\s+", "", str(unit)).lower()
    if key in _ENERGY_UNITS:
        return _ENERGY_UNITS[key], False
    if key in _POWER_UNITS:
        return _POWER_UNITS[key], True
    raise DataError(f"{path}: column {column!r}: unknown unit {unit!r}; known units are "
                    f"{_KNOWN_UNITS}")


def _unit_from_name(column: str) -> str | None:
    """A unit written in a column name: 'pv [kW]', 'pv (kWh)', 'pv_kw', 'kWh'."""
    m = re.search(r"[\[(]\s*([kKmM]?[wW][hH]?)\s*[\])]\s*$", column)
    if m:
        return m.group(1)
    m = re.search(r"(?:^|[_\s])([kKmM]?[wW][hH]?)$", column)
    return m.group(1) if m else None


def _parse_numbers(table: _Table, col: str, texts: np.ndarray, unit: str,
                   decimal: str | None, allow_negative: bool, what: str = "value") -> np.ndarray:
    cells = table.frame[col]
    raw = cells.to_numpy(dtype=object)
    if decimal is None:  # "1,5" in a ';' file is a decimal comma
        has_comma = cells.str.contains(",", regex=False)
        decimal = "," if has_comma.any() and not cells.str.contains(".", regex=False).any() \
            else "."
    if decimal != ".":
        cells = cells.str.replace(decimal, ".", regex=False)
    values = np.asarray(pd.to_numeric(cells.to_numpy(dtype=object), errors="coerce"),
                        dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        cell = raw[i]
        if cell == "":
            problem = f"missing {what} (empty cell)"
        elif cell.lower() in _NAN_WORDS or cell.lower() == "nan":
            problem = f"missing {what} (NaN: {cell!r})"
        elif np.isinf(values[i]):
            problem = f"infinite {what} {cell!r}"
        else:
            problem = f"non-numeric {what} {cell!r}"
        raise DataError(f"{_where(table, texts, i)}, column {col!r} [{unit}]: {problem}")
    if not allow_negative:
        neg = np.flatnonzero(values < 0)
        if neg.size:
            i = int(neg[0])
            raise DataError(f"{_where(table, texts, i)}, column {col!r} [{unit}]: negative {what} "
                            f"{raw[i]} (energy and power must be >= 0)")
    return values


# -------------------------------------------------------------------------------------------
# shared pipeline of the energy loaders
# -------------------------------------------------------------------------------------------
def _check_label(label: str) -> None:
    if label not in ("start", "end"):
        raise DataError(f"label={label!r}: must be 'start' (a timestamp opens its interval) or "
                        f"'end' (a timestamp closes it)")


def _detect_time_column(table: _Table, dayfirst: bool) -> str:
    cols = list(table.frame.columns)
    named = [c for c in cols if _TIME_NAME.search(c)]
    for c in named + [c for c in cols if c not in named]:
        sample = table.frame[c].iloc[0]
        for fmt in _candidate_formats(sample, dayfirst):
            try:
                if pd.to_datetime(pd.Series([sample]), format=fmt).notna().all():
                    return c
            except (ValueError, TypeError):
                continue
    if named:  # a timestamp-like name whose first cell does not parse: report that cell
        return named[0]
    raise DataError(f"{table.path}: line {table.first_line - 1} (header): no timestamp column "
                    f"found among {cols}; pass timestamp_col=...")


def _load_times(table: _Table, timestamp_col: str | None, label: str, tz: str, dayfirst: bool,
                freq, time_format: str | None, ambiguous: str, expected_rows: int | None,
                year: int | None) -> tuple[pd.DatetimeIndex, np.ndarray, int, str]:
    """Parse and validate the time column; returns (interval starts, texts, step ns, column)."""
    _check_label(label)
    if ambiguous not in ("raise", "infer"):
        raise DataError(f"ambiguous={ambiguous!r}: must be 'raise' or 'infer'")
    col = (_find_column(table, timestamp_col, "timestamp") if timestamp_col is not None
           else _detect_time_column(table, dayfirst))
    stamps, texts = _parse_times(table, col, tz, dayfirst, time_format, ambiguous)

    def where(i: int) -> str:
        return _row(table, texts, i)

    step = _step_of(stamps, freq, where, table.path)
    _check_steps(stamps, step, where, table.path)
    starts = stamps - pd.Timedelta(step, unit="ns") if label == "end" else stamps
    _check_length(starts, step, where, expected_rows, year, tz, table.path)
    return _regular_index(starts, step, "interval_start"), texts, step, col


def read_meter_csv(path: str | Path, *, sep: str | None = None, timestamp_col: str | None = None,
                   value_col: str | None = None, label: Label = "end", tz: str = "America/Lima",
                   dayfirst: bool = True, unit: str | None = "kWh",
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
        power; None reads it from the column name (``kWh``, ``P [kW]``, ``load_kw``).
    freq : str or Timedelta, optional
        The expected step (``"15min"``); inferred as the most common step when None.
    decimal : str, optional
        Decimal mark; a comma is detected when values hold commas and no dots.
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
        a wrong length, a missing, non-numeric or negative value, or an unknown unit.

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
            hinted = [c for c in others if _unit_from_name(c) is not None]
            if len(hinted) != 1:
                raise DataError(f"{table.path}: line {table.first_line - 1} (header): cannot tell "
                                f"the value column among {others}; pass value_col=...")
            others = hinted
        value_col = others[0]
    else:
        value_col = _find_column(table, value_col, "value")
    if unit is None:
        unit = _unit_from_name(value_col)
        if unit is None:
            raise DataError(f"{table.path}: column {value_col!r}: no unit in its name; pass "
                            f"unit=... ({_KNOWN_UNITS})")
    factor, is_power = _unit_factor(unit, value_col, table.path)
    values = _parse_numbers(table, value_col, texts, unit, decimal, False)
    step_h = step / _HOUR_NS
    kwh = values * factor * (step_h if is_power else 1.0)
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
        the interval; energy = P * dt) or ``Wh``, ``kWh``, ``MWh`` (energy per interval). A
        column without an entry takes the unit written in its name (``pv [kW]``, ``pv_kwh``).
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
    for source, target in mapping.items():
        col = _find_column(table, source, "value")
        unit = units.get(source, units.get(target, _unit_from_name(col)))
        if unit is None:
            raise DataError(f"{table.path}: column {col!r}: no unit given and none in its name; "
                            f"pass units={{{col!r}: ...}} ({_KNOWN_UNITS})")
        factor, is_power = _unit_factor(unit, col, table.path)
        values = _parse_numbers(table, col, texts, unit, decimal,
                                source in negative_ok or target in negative_ok)
        data[target] = values * factor * (step_h if is_power else 1.0)
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
