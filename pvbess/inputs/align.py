"""A meter year of your own beside the bundled one: days matched by weekday, leap days handled.

A mall or EV meter follows the week (weekends differ from weekdays), while PV follows the
calendar. Moving a 2024 meter year onto the bundled 2025 index date for date would put every
Saturday on a Friday. :func:`align_to_index` instead gives each target day the source day of the
*same weekday* nearest to its calendar date (whole weeks apart: three days off at most, a week
more at the ends of the source year), and
each step its value at the same local time of day. A leap day in either year needs nothing
special: every target day finds a source day, and a source day may serve twice or not at all
near the year's ends. :func:`site_with_meters` swaps such columns into a site table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..timeseries import DataError
from .loaders import read_meter_csv, to_hourly

__all__ = ["align_to_index", "site_with_meters"]


def _nearest_same_weekday(day: dt.date, source_days: set[dt.date], years: list[int]) -> dt.date:
    """The source day of ``day``'s weekday nearest to its date in any source year."""
    best = None
    for year in years:
        try:
            base = day.replace(year=year)
        except ValueError:  # 29 February in a common year
            base = dt.date(year, 2, 28)
        shift = (day.weekday() - base.weekday() + 3) % 7 - 3  # in [-3, 3]
        for weeks in (0, -1, 1, -2, 2):  # near the ends of the source year, a week in
            candidate = base + dt.timedelta(days=shift + 7 * weeks)
            if candidate in source_days:
                gap = abs((candidate - base).days)
                if best is None or gap < best[0]:
                    best = (gap, candidate)
                break
    if best is None:
        raise DataError(f"no source day with the weekday of {day} ({day:%A}) within two weeks of "
                        f"its date in the source year(s) {years}")
    return best[1]


def align_to_index(data: pd.Series | pd.DataFrame, index: pd.DatetimeIndex
                   ) -> pd.Series | pd.DataFrame:
    """``data`` (a time series of another year) on ``index``, day by day by weekday.

    Parameters
    ----------
    data : pandas.Series or DataFrame
        Energies per step on a tz-aware index with the same step as ``index`` (e.g. from
        :func:`pvbess.read_meter_csv` and :func:`pvbess.to_hourly`). [kWh per step]
    index : pandas.DatetimeIndex
        The target steps, tz-aware (e.g. ``pvbess.load_iquitos().index``).

    Returns
    -------
    Same type as ``data``, on ``index``: each target day holds the source day of the same
    weekday nearest to its calendar date, step by step at the same local time of day.

    Raises
    ------
    DataError
        An index without a time zone, a step mismatch, or a target day without a source day of
        its weekday within two weeks of its date (the source covers too little of the year).
    """
    for name, idx in (("data", data.index), ("index", index)):
        if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
            raise DataError(f"align_to_index: {name} needs a tz-aware DatetimeIndex")
    if len(data) == 0 or len(index) == 0:
        raise DataError("align_to_index: data and index need at least one step")
    source_local = data.index.tz_convert(index.tz).tz_localize(None)
    source = data.set_axis(source_local)
    source = source[~source.index.duplicated(keep="first")]  # the repeated hour of a DST end
    target_local = index.tz_localize(None)
    target_days = target_local.normalize()
    source_days = {d.date() for d in source.index.normalize().unique()}
    years = sorted({d.year for d in source_days})
    mapping = {d: _nearest_same_weekday(d.date(), source_days, years)
               for d in target_days.unique()}
    shift = np.array([(pd.Timestamp(mapping[d]) - d).as_unit("ns").value for d in target_days],
                     dtype="int64")
    lookup = pd.DatetimeIndex(target_local.as_unit("ns").asi8 + shift)
    step = pd.Timedelta(np.diff(index.as_unit("ns").asi8).min() if len(index) > 1 else 0)
    # nearest within one step: a clock hour the source day skipped (DST) takes its neighbour
    values = source.sort_index().reindex(lookup, method="nearest",
                                         tolerance=step if step > pd.Timedelta(0) else None)
    missing = np.flatnonzero(values.isna().to_numpy().reshape(len(values), -1).any(axis=1))
    if missing.size:
        i = int(missing[0])
        raise DataError(f"align_to_index: no source value at {lookup[i]} (local) for target step "
                        f"{index[i]}; the source has a gap or another step length")
    return values.set_axis(index)


def site_with_meters(site: pd.DataFrame, meters: Mapping[str, str | Path], *,
                     tz: str | None = None) -> pd.DataFrame:
    """``site`` with some energy columns replaced by meter files of any year.

    Parameters
    ----------
    site : pandas.DataFrame
        A site table (e.g. the bundled ``pvbess.load_iquitos()``). [kWh per step]
    meters : mapping
        Column -> meter CSV (read by :func:`pvbess.read_meter_csv`, its unit from the header),
        e.g. ``{"mall_kwh": "my_mall_2024.csv"}``. Sub-hourly meters are summed to hours when
        the site is hourly; the year is matched to the site's by weekday
        (:func:`align_to_index`).
    tz : str, optional
        Zone of the meters' clock (default: the site's).
    """
    out = site.copy()
    zone = tz or str(site.index.tz)
    for column, path in meters.items():
        if column not in site.columns:
            raise DataError(f"{path}: column {column!r} is not in the site table "
                            f"({list(site.columns)})")
        meter = read_meter_csv(path, tz=zone)
        site_step = pd.Timedelta(np.diff(site.index.as_unit("ns").asi8).min())
        if site_step == pd.Timedelta(hours=1):
            meter = to_hourly(meter)
        out[column] = align_to_index(meter, site.index).to_numpy(dtype=float)
    return out
