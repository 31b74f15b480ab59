"""Reading delimited text files with errors that name the file, line, timestamp and problem.

The private machinery behind :mod:`pvbess.inputs.loaders` (meter and energy files) and
:mod:`pvbess.inputs.weather_files`: separator and encoding sniffing, timestamp parsing (local time,
end/start labels, daylight-saving checks) and regular-step checks. Numbers and their units are
in :mod:`pvbess.inputs._numbers`.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..timeseries import DataError, check_tz

Label = Literal["start", "end"]

_HOUR_NS = 3_600_000_000_000

_SEPARATORS = (";", ",", "\t", "|")
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
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with a byte-order mark (Excel "Unicode")
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: byte {exc.start}: not valid UTF-16 although the file "
                            f"starts with a UTF-16 byte-order mark") from None
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
        step = _freq_step(freq)
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


def _freq_step(freq) -> pd.Timedelta:
    """A step given as ``"15min"``, ``"1h"`` or a Timedelta; anything else is a DataError."""
    try:
        return pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except (ValueError, TypeError):
        pass
    try:
        step = pd.Timedelta(freq)
    except (ValueError, TypeError):
        step = pd.NaT
    if step is pd.NaT or isinstance(freq, bool):
        raise DataError(f"freq={freq!r}: not a time step; give one such as '15min' or '1h'")
    return step


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
    back = np.flatnonzero(diffs < 0)
    if back.size and back[0] == i + 1:  # a jump forward then back: rows swapped, not a gap
        j = int(back[0])
        raise DataError(f"{path}: {where(j + 1)}: out of order: it comes before {where(j)} "
                        f"above it")
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
    check_tz(tz)
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
