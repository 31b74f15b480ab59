"""What a run needs of its time index, computed once per index object and shared.

:func:`pvbess.simulate` (the local clock for the rules, the tariff columns) and
:func:`pvbess.kpis` (local days and months, the HP flag and the prices) read the same calendar
of a site index: :func:`step_calendar` computes it once per index object and keeps the last
:data:`CALENDAR_CACHE_SIZE` indexes seen, so repeated runs and their KPIs on one site cost
little more than their kernels.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .tariff import Tariff
from .timeseries import local_hours, step_hours

#: How many index objects :func:`step_calendar` remembers (the least recently used is dropped).
CALENDAR_CACHE_SIZE = 8
#: How many tariffs each remembered index keeps the columns of.
TARIFF_CACHE_SIZE = 4


@dataclass(frozen=True)
class StepCalendar:
    """The step length and local clock of one site index (computed once per index object).

    A DatetimeIndex is immutable, so everything derived from it stays valid while the cache
    holds the index itself (which also keeps its ``id`` from being reused). Arrays here are
    shared: callers hand out copies. ``hour_h`` stays writeable because the compiled kernels read
    it (a read-only array would make numba compile a second signature of each kernel).

    Attributes
    ----------
    index : DatetimeIndex
    dt_h : float
        Step length. [h]
    hour_h : ndarray
        Local clock hour of each step's start (fractional). [h]
    """

    index: pd.DatetimeIndex
    dt_h: float
    hour_h: np.ndarray
    tariffs: dict = field(default_factory=dict, compare=False)
    days: dict = field(default_factory=dict, compare=False)

    def tariff_columns(self, tariff: Tariff) -> tuple:
        """``(tariff_period, energy_price, is_peak)`` per step under ``tariff``.

        ``tariff_period`` is a pandas string array, the other two read-only NumPy arrays
        (float64 PEN/kWh, bool); computed once per (index, tariff).
        """
        key = (type(tariff), tariff)
        with _LOCK:
            got = self.tariffs.get(key)
        if got is None:
            period = pd.Series(tariff.period(self.index)).array
            price = _readonly(np.ascontiguousarray(tariff.energy_price(self.index),
                                                   dtype=np.float64))
            peak = _readonly(np.ascontiguousarray(tariff.is_peak(self.index), dtype=np.bool_))
            got = (period, price, peak)
            with _LOCK:
                self.tariffs[key] = got
                while len(self.tariffs) > TARIFF_CACHE_SIZE:
                    self.tariffs.pop(next(iter(self.tariffs)))
        return got

    def local_days(self) -> tuple[np.ndarray, np.ndarray, pd.PeriodIndex]:
        """``(day key yyyymmdd, month code 0..M-1, month labels)`` per step (read-only)."""
        with _LOCK:
            got = self.days.get("days")
        if got is None:
            index = self.index
            year = np.asarray(index.year, dtype=np.int64)
            mon = np.asarray(index.month, dtype=np.int64)
            day = year * 10000 + mon * 100 + np.asarray(index.day, dtype=np.int64)
            keys, month = np.unique(year * 12 + (mon - 1), return_inverse=True)
            labels = pd.PeriodIndex([pd.Period(year=int(k // 12), month=int(k % 12) + 1,
                                               freq="M") for k in keys], freq="M", name="month")
            got = (_readonly(day), _readonly(np.ascontiguousarray(month, dtype=np.int64)),
                   labels)
            with _LOCK:
                self.days["days"] = got
        return got


_CALENDARS: OrderedDict[int, StepCalendar] = OrderedDict()
_LOCK = threading.Lock()


def _readonly(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False
    return values


def step_calendar(index: pd.Index) -> StepCalendar:
    """The calendar of ``index``, from a small cache keyed by the index object.

    Raises
    ------
    DataError
        The index is not regular and tz-aware (:func:`pvbess.timeseries.step_hours`); nothing
        is cached then.
    """
    key = id(index)
    with _LOCK:
        cal = _CALENDARS.get(key)
        if cal is not None and cal.index is index:
            _CALENDARS.move_to_end(key)
            return cal
    cal = StepCalendar(index, step_hours(index),
                       np.ascontiguousarray(local_hours(index), dtype=np.float64))
    with _LOCK:
        _CALENDARS[key] = cal
        _CALENDARS.move_to_end(key)
        while len(_CALENDARS) > CALENDAR_CACHE_SIZE:
            _CALENDARS.popitem(last=False)
    return cal
