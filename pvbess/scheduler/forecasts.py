"""Load and PV forecasts for the scheduler (the "EnergyManager" role): four providers.

Every provider is built on the site's actual table (``load_kwh``, ``pv_kwh``, ``buy_price``,
``sell_price`` on a regular tz-aware index) and answers ``forecast(index)``: the load and PV
expected over the periods of ``index``, *issued at the start of* ``index[0]``. Prices are known
for the day and passed through unchanged.

Causality: apart from :class:`PerfectForecast` (and the noise-free part of
:class:`NoisyForecast`), a provider reads only actual values of periods before ``index[0]``.
A forecast is a pure function of (data, issue period, target periods, seed), so a plan made
after a restart at period ``s`` equals the plan an uninterrupted run made at ``s``.

Cold start: where no earlier day exists (the first day of the data), the history-based
providers fall back to the actual value of the period (documented, deterministic).
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod

import numpy as np
import pandas as pd

from ..timeseries import DataError, check_energy_columns, epoch_ns, step_hours

#: Columns a forecast returns. Energies per period [kWh]; prices [currency/kWh].
FORECAST_COLUMNS: tuple[str, ...] = ("load_kwh", "pv_kwh", "buy_price", "sell_price")


def _check_actual(actual: pd.DataFrame) -> float:
    dt_h = step_hours(actual.index)
    check_energy_columns(actual, ("load_kwh", "pv_kwh"), "kWh")
    for name in ("buy_price", "sell_price"):
        if name not in actual.columns:
            raise DataError(f"column {name!r} [currency/kWh] is missing; have "
                            f"{list(actual.columns)}")
        values = actual[name].to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise DataError(f"column {name!r} [currency/kWh]: {values[i]} at row {i} "
                            f"({actual.index[i]})")
    return dt_h


class ForecastProvider(ABC):
    """Base class: a forecast of load and PV over the site's actual table.

    Parameters
    ----------
    actual : pandas.DataFrame
        ``load_kwh``, ``pv_kwh`` [kWh per period], ``buy_price``, ``sell_price``
        [currency/kWh] on a regular tz-aware index.
    """

    name: str = "base"

    def __init__(self, actual: pd.DataFrame) -> None:
        self.dt_h = _check_actual(actual)
        self.index = actual.index
        self._ns = epoch_ns(self.index)  # the period starts, int64 UTC [ns]
        self.periods_per_day = int(round(24.0 / self.dt_h))
        self._load = actual["load_kwh"].to_numpy(dtype=np.float64).copy()
        self._pv = actual["pv_kwh"].to_numpy(dtype=np.float64).copy()
        self._buy = actual["buy_price"].to_numpy(dtype=np.float64).copy()
        self._sell = actual["sell_price"].to_numpy(dtype=np.float64).copy()
        for arr in (self._load, self._pv, self._buy, self._sell):
            arr.setflags(write=False)

    def positions(self, index: pd.DatetimeIndex) -> tuple[int, int]:
        """(start, stop) rows of the actual table covered by ``index`` (contiguous)."""
        if len(index) == 0:
            raise ValueError("forecast: empty index")
        if getattr(index, "tz", None) is None:
            raise DataError(f"forecast: the periods must be a tz-aware DatetimeIndex, got "
                            f"{type(index).__name__} {index[:1]!r}")
        # on the int64 nanoseconds: no Timestamp boxing (this runs for every plan)
        ns, mine = epoch_ns(index), self._ns
        start = int(mine.searchsorted(ns[0]))
        if start >= len(mine) or mine[start] != ns[0]:
            raise DataError(f"forecast: {index[0]} is outside the data "
                            f"({self.index[0]} .. {self.index[-1]})") from None
        stop = start + len(index)
        if stop > len(mine) or mine[stop - 1] != ns[-1]:
            raise DataError(f"forecast: periods {index[0]} .. {index[-1]} are not a contiguous "
                            f"run of the data ({self.index[0]} .. {self.index[-1]})")
        return start, stop

    def forecast_arrays(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """The forecast of rows ``start:stop`` issued at ``start`` (arrays, no index)."""
        load, pv = self._predict(start, stop)
        return {"load_kwh": load, "pv_kwh": pv, "buy_price": self._buy[start:stop].copy(),
                "sell_price": self._sell[start:stop].copy()}

    def forecast(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        """Load, PV and prices over ``index``, issued at the start of ``index[0]``.

        Returns
        -------
        pandas.DataFrame
            Columns :data:`FORECAST_COLUMNS` on ``index``. [kWh], [currency/kWh]
        """
        start, stop = self.positions(index)
        return pd.DataFrame(self.forecast_arrays(start, stop), index=index)

    @abstractmethod
    def _predict(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(load, pv) for rows start:stop, issued at row ``start``."""

    def _history_mean(self, start: int, stop: int, n_days: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean of the same period on up to ``n_days`` earlier days known at ``start``."""
        ppd = self.periods_per_day
        if stop - start <= ppd and start >= n_days * ppd:
            # a day at most (every re-plan): each row lags whole days, all of them known; the
            # sums start from zero (0.0 + x: -0.0 counts as 0.0)
            load_sum, pv_sum = self._load[start - ppd:stop - ppd] + 0.0, \
                self._pv[start - ppd:stop - ppd] + 0.0
            for k in range(2, n_days + 1):
                load_sum += self._load[start - k * ppd:stop - k * ppd]
                pv_sum += self._pv[start - k * ppd:stop - k * ppd]
            return load_sum / n_days, pv_sum / n_days
        rows = np.arange(start, stop)
        load_sum = np.zeros(rows.size)
        pv_sum = np.zeros(rows.size)
        count = np.zeros(rows.size)
        # lag the target by whole days until it is known at the issue row
        first = rows - ppd * np.maximum(1, -(-(rows - start + 1) // ppd))
        for k in range(n_days):
            src = first - k * ppd
            ok = src >= 0
            load_sum[ok] += self._load[src[ok]]
            pv_sum[ok] += self._pv[src[ok]]
            count[ok] += 1
        have = count > 0
        load = np.where(have, load_sum / np.maximum(count, 1), self._load[start:stop])
        pv = np.where(have, pv_sum / np.maximum(count, 1), self._pv[start:stop])
        return load, pv

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.index)} periods of {self.dt_h} h)"


class PerfectForecast(ForecastProvider):
    """Perfect foresight: the actual load and PV."""

    name = "perfect"

    def _predict(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        return self._load[start:stop].copy(), self._pv[start:stop].copy()


class PersistenceForecast(ForecastProvider):
    """Persistence: the same period of the day before (the most recent day known at issue)."""

    name = "persistence"

    def _predict(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        return self._history_mean(start, stop, 1)


class MeanProfileForecast(ForecastProvider):
    """The mean of the same period over the previous ``days`` days (7 by default).

    Parameters
    ----------
    actual : pandas.DataFrame
    days : int
        How many earlier days to average (fewer at the start of the data).
    """

    name = "mean7"

    def __init__(self, actual: pd.DataFrame, days: int = 7) -> None:
        super().__init__(actual)
        if not isinstance(days, (int, np.integer)) or days < 1:
            raise ValueError(f"MeanProfileForecast.days = {days!r}: must be an integer >= 1")
        self.days = int(days)

    def _predict(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        return self._history_mean(start, stop, self.days)


class NoisyForecast(ForecastProvider):
    """Perfect foresight times ``max(0, 1 + sigma * z)``, z standard normal, seeded.

    The noise of a forecast issued at period start ``t`` is drawn from a generator seeded with
    ``(seed, t in epoch seconds)``: the same issue time always gives the same forecast, and
    each re-plan sees fresh errors (as a real forecast re-issued every period would).

    Parameters
    ----------
    actual : pandas.DataFrame
    load_noise, pv_noise : float
        Relative standard deviations of the load and PV errors. [-]
    seed : int
        Non-negative seed.
    """

    name = "noisy"

    def __init__(self, actual: pd.DataFrame, load_noise: float = 0.1, pv_noise: float = 0.1,
                 seed: int = 0) -> None:
        super().__init__(actual)
        for label, value in (("load_noise", load_noise), ("pv_noise", pv_noise)):
            if isinstance(value, bool) or not (isinstance(value, numbers.Real)  # numpy too
                                               and np.isfinite(value) and value >= 0):
                raise ValueError(f"NoisyForecast.{label} = {value!r}: must be a finite "
                                 "number >= 0")
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"NoisyForecast.seed = {seed!r}: must be an integer >= 0")
        self.load_noise = float(load_noise)
        self.pv_noise = float(pv_noise)
        self.seed = int(seed)
        self._issue_s = epoch_ns(self.index) // 1_000_000_000

    def _predict(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        issue = int(self._issue_s[start])
        rng = np.random.default_rng([self.seed, issue & 0xFFFFFFFF, (issue >> 32) & 0xFFFFFFFF])
        z = rng.standard_normal((2, stop - start))
        load = self._load[start:stop] * np.maximum(0.0, 1.0 + self.load_noise * z[0])
        pv = self._pv[start:stop] * np.maximum(0.0, 1.0 + self.pv_noise * z[1])
        return load, pv


FORECASTS: dict[str, type[ForecastProvider]] = {
    "perfect": PerfectForecast,
    "persistence": PersistenceForecast,
    "mean7": MeanProfileForecast,
    "noisy": NoisyForecast,
}


def make_forecast(kind: str | ForecastProvider, actual: pd.DataFrame,
                  **options: object) -> ForecastProvider:
    """A provider by name (``"perfect"``, ``"persistence"``, ``"mean7"``, ``"noisy"``).

    An existing :class:`ForecastProvider` is returned unchanged (``options`` must be empty).
    """
    if isinstance(kind, ForecastProvider):
        if options:
            raise ValueError(f"forecast options {sorted(options)} given with a ready provider")
        return kind
    cls = FORECASTS.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"forecast = {kind!r}: must be one of {sorted(FORECASTS)} "
                         "or a ForecastProvider")
    return cls(actual, **options)  # type: ignore[arg-type]
