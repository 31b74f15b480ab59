"""Numbers in delimited files: the unit a header states, the file's decimal mark, ceilings.

The private machinery behind :mod:`pvbess.inputs.loaders` and
:mod:`pvbess.inputs.weather_files`. A unit written in a column's header is honoured, and a
caller's unit that contradicts it is refused. The decimal mark is decided once per file from
every numeric column (``1.200`` beside ``1,5`` is one thousand two hundred, not 1.2); a cell
that contradicts the file's convention, or a file that never settles it, is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..timeseries import DataError
from ._csv import _Table, _duration, _where
from .limits import MAX_SITE_POWER_KW, max_energy_kwh

#: energy units -> factor to kWh per interval
_ENERGY_UNITS = {"wh": 1e-3, "kwh": 1.0, "mwh": 1e3}
#: power units (mean over the interval) -> factor to kW
_POWER_UNITS = {"w": 1e-3, "kw": 1.0, "mw": 1e3}
_KNOWN_UNITS = "W, kW, MW (mean power over the interval) or Wh, kWh, MWh (energy per interval)"

_NAN_WORDS = {"nan", "na", "n/a", "null", "none", "#n/a", "#value!", "-"}
_MARKS = (".", ",")
#: one mark once, grouping three digits: "1.200" is 1.2 or 1200 depending on the file
_AMBIGUOUS = {m: re.compile(rf"^[+-]?[1-9]\d{{0,2}}\{m}\d{{3}}$") for m in _MARKS}
#: a number whose thousands are grouped by ``m`` (the other mark, if any, is the decimal)
_GROUPED = {m: re.compile(rf"^[+-]?[1-9]\d{{0,2}}(?:\{m}\d{{3}})+(?:\{o}\d*)?$")
            for m, o in (_MARKS, _MARKS[::-1])}
#: rows looked at first when a file uses one mark only (the whole file if they settle nothing)
_SAMPLE_ROWS = 1000
#: a unit in brackets closing a column name: 'GHI [kW/m2]', 'temp (F)'
_BRACKET_UNIT = re.compile(r"[\[(]\s*([^\s\[\]()]{1,12})\s*[\])]\s*$")


# -------------------------------------------------------------------------------------------
# units
# -------------------------------------------------------------------------------------------
def _unit_key(unit: str) -> str:
    return re.sub(r"\s+", "", str(unit)).replace("²", "2").lower()


def _unit_factor(unit: str, column: str, path: str) -> tuple[float, bool]:
    """(factor to kWh or kW, is_power) of a unit name; unknown -> DataError."""
    key = _unit_key(unit)
    if key in _ENERGY_UNITS:
        return _ENERGY_UNITS[key], False
    if key in _POWER_UNITS:
        return _POWER_UNITS[key], True
    raise DataError(f"{path}: column {column!r}: unknown unit {unit!r}; known units are "
                    f"{_KNOWN_UNITS}")


def _is_energy_unit(unit: str | None) -> bool:
    return unit is not None and _unit_key(unit) in {**_ENERGY_UNITS, **_POWER_UNITS}


def _header_unit(column: str) -> str | None:
    """A unit in brackets closing a column name ('GHI [kW/m2]', 'temp (F)'), else None."""
    m = _BRACKET_UNIT.search(str(column))
    return m.group(1) if m else None


def _unit_from_name(column: str) -> str | None:
    """An energy/power unit written in a column name: 'pv [kW]', 'pv (kWh)', 'pv_kw', 'kWh'."""
    bracket = _header_unit(column)
    if bracket is not None:
        return bracket
    m = re.search(r"(?:^|[_\s])([kKmM]?[wW][hH]?)$", column)
    return m.group(1) if m else None


def _settle_unit(path: str, column: str, header: str | None, given: str | None, given_as: str,
                 same: Callable[[str, str], bool], arg: str) -> str:
    """The unit of a column: the header's, or the caller's; a contradiction is an error.

    ``given_as`` shows how the caller gave it (``unit='kWh'``); ``arg`` names the argument
    that supplies a unit when the header has none.
    """
    if header is None and given is None:
        raise DataError(f"{path}: column {column!r}: no unit in the header; pass {arg}=... or "
                        f"write it in the header (e.g. {column} [kWh])")
    if header is not None and given is not None and not same(header, given):
        raise DataError(f"{path}: column {column!r}: the header says {header} but {given_as} "
                        f"was given; correct the header or drop the argument")
    return header if header is not None else given


def _same_energy_unit(path: str, column: str) -> Callable[[str, str], bool]:
    def same(a: str, b: str) -> bool:
        return _unit_factor(a, column, path) == _unit_factor(b, column, path)
    return same


# -------------------------------------------------------------------------------------------
# the decimal mark of a file
# -------------------------------------------------------------------------------------------
def _mark_evidence(cells: pd.Series) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per cell: which decimal mark it proves ('.' / ','), and whether it is ambiguous."""
    joined = "".join(cells.tolist())  # one pass tells which marks occur at all
    present = [m for m in _MARKS if m in joined]
    none = np.zeros(len(cells), dtype=bool)
    if not present:
        return {m: none for m in _MARKS}, none
    count = {m: (cells.str.count(re.escape(m)).to_numpy() if m in present
                 else np.zeros(len(cells), dtype=np.int64)) for m in _MARKS}
    proves, ambiguous = {}, none.copy()
    for m, o in (_MARKS, _MARKS[::-1]):
        single = (count[m] == 1) & (count[o] == 0)
        amb = single & cells.str.match(_AMBIGUOUS[m]).to_numpy() if single.any() else none
        ambiguous |= amb
        proves[m] = (single & ~amb) | ((count[o] > 1) & (count[m] == 0))  # 0.250; 1.200.000
    if len(present) == 2:  # 1.200,5: the mark that comes last is the decimal
        last = {m: cells.str.rfind(m).to_numpy() for m in _MARKS}
        both = (count["."] > 0) & (count[","] > 0)
        for m, o in (_MARKS, _MARKS[::-1]):
            proves[m] = proves[m] | (both & (last[m] > last[o]))
    return proves, ambiguous


def _first(hits: Sequence[tuple[str, np.ndarray]]) -> tuple[int, str] | None:
    """(row, column) of the first True in file order over several columns."""
    best = None
    for col, mask in hits:
        rows = np.flatnonzero(mask)
        if rows.size and (best is None or rows[0] < best[0]):
            best = (int(rows[0]), col)
    return best


def _file_decimal(table: _Table, columns: Sequence[str], texts: np.ndarray,
                  decimal: str | None) -> str:
    """The decimal mark of the file: ``decimal`` if given, else decided from every column."""
    if decimal is not None:
        if decimal not in _MARKS:
            raise DataError(f"{table.path}: decimal={decimal!r}: must be '.' or ','")
        return decimal
    present = {m for col in columns for m in _MARKS if m in "".join(table.frame[col].tolist())}
    if len(present) == 1:  # one mark only: a cell near the top that proves it settles the file
        (mark,) = present
        if any(_mark_evidence(table.frame[col].iloc[:_SAMPLE_ROWS])[0][mark].any()
               for col in columns):
            return mark
    proves: dict[str, list] = {m: [] for m in _MARKS}
    ambiguous = []
    for col in columns:
        p, a = _mark_evidence(table.frame[col])
        for m in _MARKS:
            proves[m].append((col, p[m]))
        ambiguous.append((col, a))
    first = {m: _first(proves[m]) for m in _MARKS}
    if first["."] is not None and first[","] is not None:
        (i, ci), (j, cj) = sorted([first["."], first[","]])
        mark_i = "." if first["."] == (i, ci) else ","
        mark_j = "," if mark_i == "." else "."
        raise DataError(f"{_where(table, texts, j)}, column {cj!r}: "
                        f"{table.frame[cj].iloc[j]!r} uses {mark_j!r} as the decimal mark but "
                        f"line {table.line(i)}, column {ci!r}: {table.frame[ci].iloc[i]!r} uses "
                        f"{mark_i!r}; one file has one decimal mark (pass decimal=...)")
    for m in _MARKS:
        if first[m] is not None:
            return m
    amb = _first(ambiguous)
    if amb is not None:
        i, col = amb
        cell = table.frame[col].iloc[i]
        mark = "." if "." in cell else ","
        as_decimal = float(cell.replace(mark, "."))
        as_grouped = float(cell.replace(mark, ""))
        raise DataError(f"{_where(table, texts, i)}, column {col!r}: {cell!r} could be "
                        f"{as_decimal:g} or {as_grouped:g}; pass decimal='.' or decimal=','")
    return "."


# -------------------------------------------------------------------------------------------
# cells to numbers
# -------------------------------------------------------------------------------------------
def _parse_numbers(table: _Table, col: str, texts: np.ndarray, unit: str, decimal: str,
                   allow_negative: bool, what: str = "value", explicit: bool = False
                   ) -> np.ndarray:
    """The cells of ``col`` as floats, with ``decimal`` as the file's decimal mark.

    The other mark may only group thousands (``1.200,5`` in a decimal-comma file); any other
    use of it is refused naming the line. ``explicit`` says the caller chose ``decimal``.
    """
    cells = table.frame[col]
    raw = cells.to_numpy(dtype=object)
    other = "," if decimal == "." else "."
    has_other = other in "".join(cells.tolist())
    misuse = ((cells.str.contains(other, regex=False) & ~cells.str.match(_GROUPED[other]))
              .to_numpy() if has_other else np.zeros(len(cells), dtype=bool))
    if misuse.any():
        i = int(np.flatnonzero(misuse)[0])
        cell = raw[i]
        problem = (f"{cell!r} uses {other!r} as the decimal mark but decimal={decimal!r} was given"
                   if explicit else
                   f"{cell!r} is not a number with {decimal!r} as the file's decimal mark (and "
                   f"{other!r} grouping thousands)")
        raise DataError(f"{_where(table, texts, i)}, column {col!r} [{unit}]: {problem}")
    if has_other:
        cells = cells.str.replace(other, "", regex=False)
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
        elif cell.lower() in _NAN_WORDS:
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
                            f"{raw[i]} (must be >= 0)")
    return values


def _energy_kwh(table: _Table, col: str, texts: np.ndarray, unit: str, decimal: str,
                step_ns: int, allow_negative: bool, explicit: bool) -> np.ndarray:
    """A column of energy or power in ``unit`` as kWh per step, within the ceiling."""
    factor, is_power = _unit_factor(unit, col, table.path)
    values = _parse_numbers(table, col, texts, unit, decimal, allow_negative, explicit=explicit)
    step_h = step_ns / 3.6e12
    kwh = values * factor * (step_h if is_power else 1.0)
    ceiling = max_energy_kwh(step_h)
    over = np.flatnonzero(np.abs(kwh) > ceiling)
    if over.size:
        i = int(over[0])
        raise DataError(f"{_where(table, texts, i)}, column {col!r} [{unit}]: {abs(kwh[i]):g} kWh "
                        f"per step is above the ceiling of {ceiling:,.0f} kWh "
                        f"({MAX_SITE_POWER_KW:,.0f} kW for {_duration(step_ns)}, "
                        f"pvbess.inputs.limits); the cell reads {table.frame[col].iloc[i]!r}")
    return kwh
