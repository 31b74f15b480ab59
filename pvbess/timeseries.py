"""Checks on time-indexed inputs: a regular tz-aware index and clean energy columns.

Every public function that takes a table runs these first, so bad input fails with an error that
names the column, the row and the unit, before any work is done.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo

import numpy as np
import pandas as pd


class DataError(ValueError):
    """Bad input data; the message names the column, the row and the unit."""


def check_tz(tz) -> None:
    """Require a time zone pandas knows (an IANA name such as 'America/Lima', or 'UTC')."""
    ok = isinstance(tz, tzinfo) or (isinstance(tz, str) and tz.strip() == tz and tz != "")
    if ok:
        try:
            pd.Timestamp("2000-01-01").tz_localize(tz)
        except (KeyError, ValueError, TypeError, OSError):  # ZoneInfoNotFoundError is a KeyError
            ok = False
    if not ok:
        raise DataError(f"tz={tz!r}: unknown time zone; give an IANA name such as "
                        f"'America/Lima' or 'UTC'")


def _row_label(index: pd.Index, position: int) -> str:
    return f"row {position} ({index[position]})"


def epoch_ns(index: pd.DatetimeIndex) -> np.ndarray:
    """The timestamps as int64 nanoseconds since the epoch (UTC), whatever the index's unit
    (pandas >= 3 defaults to "us"); no conversion when it is in ns already. [ns]"""
    return index.asi8 if index.unit == "ns" else index.as_unit("ns").asi8


def step_hours(index: pd.Index) -> float:
    """The time step of a regular, tz-aware DatetimeIndex. [h]

    Raises
    ------
    DataError
        If the index is not a tz-aware DatetimeIndex, has fewer than two entries and no
        frequency, is unsorted, has duplicates, or is irregular (names the first bad row).
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"index: expected a DatetimeIndex, got {type(index).__name__}")
    if index.tz is None:
        raise DataError("index: timestamps must be tz-aware (e.g. tz_localize('America/Lima'))")
    if len(index) < 2:
        if index.freq is not None:
            return pd.Timedelta(index.freq).total_seconds() / 3600.0
        raise DataError("index: need at least two timestamps (or a frequency) to know the step")
    ns = epoch_ns(index)
    diffs = np.diff(ns)
    step = diffs[0]
    if step <= 0:
        problem = "duplicate timestamp" if step == 0 else "timestamps not sorted"
        raise DataError(f"index: {problem} at {_row_label(index, 1)}")
    bad = np.flatnonzero(diffs != step)
    if bad.size:
        i = int(bad[0]) + 1
        delta = pd.Timedelta(int(diffs[bad[0]]), unit="ns")
        if diffs[bad[0]] == 0:
            problem = "duplicate timestamp"
        elif diffs[bad[0]] < 0:
            problem = "timestamps not sorted"
        elif diffs[bad[0]] > step:
            problem = f"gap of {delta} (expected a step of {pd.Timedelta(int(step), unit='ns')})"
        else:
            problem = f"irregular step of {delta} (expected {pd.Timedelta(int(step), unit='ns')})"
        raise DataError(f"index: {problem} at {_row_label(index, i)}")
    return float(step) / 3.6e12


#: The largest mean power a pvbess site may have on any meter: 1 GW, physically impossible
#: for a site, so an energy above it per step is a unit mistake or a corrupted cell. [kW]
MAX_SITE_POWER_KW = 1_000_000.0


def check_energy_columns(frame: pd.DataFrame, columns: Iterable[str], unit: str = "kWh") -> None:
    """Require numeric, finite, non-negative columns, each step at most
    :data:`MAX_SITE_POWER_KW` for the step's length; the error names column, row and unit."""
    for name in columns:
        if name not in frame.columns:
            raise DataError(f"column {name!r} [{unit}] is missing; have {list(frame.columns)}")
        col = frame[name]
        if not pd.api.types.is_numeric_dtype(col):
            raise DataError(f"column {name!r} [{unit}]: not numeric (dtype {col.dtype})")
        values = col.to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise DataError(f"column {name!r} [{unit}]: {values[i]} (missing or infinite) at "
                            f"{_row_label(frame.index, i)}")
        bad = np.flatnonzero(values < 0)
        if bad.size:
            i = int(bad[0])
            raise DataError(f"column {name!r} [{unit}]: negative value {values[i]} at "
                            f"{_row_label(frame.index, i)}")
        if unit.startswith("kWh"):
            ceiling = MAX_SITE_POWER_KW * _longest_step_h(frame.index)
            bad = np.flatnonzero(values > ceiling)
            if bad.size:
                i = int(bad[0])
                raise DataError(f"column {name!r} [{unit}]: {values[i]:.6g} at "
                                f"{_row_label(frame.index, i)} is above the ceiling of "
                                f"{ceiling:.6g} kWh per step (a {MAX_SITE_POWER_KW:,.0f} kW site; "
                                "a unit mistake or a corrupted cell?)")


def _longest_step_h(index: pd.Index) -> float:
    """The longest step of a time index [h]; 1 h when the index cannot say."""
    if isinstance(index, pd.DatetimeIndex) and len(index) > 1:
        steps = np.diff(epoch_ns(index)) / 3.6e12
        if np.isfinite(steps).all() and steps.max() > 0:
            return float(steps.max())
    return 1.0


def local_hours(index: pd.DatetimeIndex) -> np.ndarray:
    """Local clock time of each step start in hours (06:15 -> 6.25). [h]"""
    return np.asarray(index.hour + index.minute / 60.0 + index.second / 3600.0, dtype=np.float64)
