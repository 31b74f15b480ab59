"""A stochastic mall load calibrated to meter facts: mean/std profile by hour, monthly energy, peak.

Defaults are the Iquitos mall (15-minute meter, 2024; see ``shared/specs/iquitos_site.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._spec import SpecBase
from ..timeseries import DataError, step_hours

#: Mean load by hour of day 00..23 (meter 2024). [kW]
IQUITOS_MALL_MEAN_KW = (531, 483, 470, 460, 453, 435, 514, 660, 868, 1121, 1712, 2194, 2240,
                        2251, 2274, 2281, 2264, 2244, 2220, 2189, 2148, 1990, 1228, 657)
#: Standard deviation of the load by hour of day 00..23. [kW]
IQUITOS_MALL_STD_KW = (86, 93, 92, 89, 77, 67, 76, 96, 139, 162, 217, 251, 246, 244, 243, 244,
                       240, 208, 188, 179, 175, 176, 206, 134)
#: Monthly energy Jan..Dec (sums to the annual 12,368,653 kWh). [MWh]
IQUITOS_MALL_MONTHLY_MWH = (1067.3, 1017.3, 1009.3, 1000.5, 990.0, 938.1, 1004.6, 1041.5,
                            1093.0, 1102.8, 1048.4, 1055.8)


@dataclass(frozen=True)
class MallLoad(SpecBase):
    """Facts the mall load model reproduces. Defaults are the Iquitos mall meter (2024).

    Parameters
    ----------
    mean_kw : tuple of 24 float
        Mean load by hour of day (row label = interval start). [kW]
    std_kw : tuple of 24 float
        Standard deviation of the load by hour of day. [kW]
    monthly_mwh : tuple of 12 float
        Energy of each month Jan..Dec; matched exactly. [MWh]
    daily_cv : float
        Standard deviation over mean of the daily energy. [-]
    daily_lag1 : float
        Day-to-day autocorrelation of the daily level. [-]
    hourly_lag1 : float
        Hour-to-hour autocorrelation of the residual noise. [-]
    peak_kw : float
        Annual peak of the hourly load (reached through a soft ceiling). [kW]
    """

    mean_kw: tuple = IQUITOS_MALL_MEAN_KW
    std_kw: tuple = IQUITOS_MALL_STD_KW
    monthly_mwh: tuple = IQUITOS_MALL_MONTHLY_MWH
    daily_cv: float = 0.086
    daily_lag1: float = 0.6
    hourly_lag1: float = 0.7
    peak_kw: float = 2763.0

    def __post_init__(self) -> None:
        for name, n in (("mean_kw", 24), ("std_kw", 24), ("monthly_mwh", 12)):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != n or not np.all(np.isfinite(value)) or min(value) < 0:
                self._fail(name, getattr(self, name), f"must be {n} finite numbers >= 0")
            object.__setattr__(self, name, value)
        self._non_negative("daily_cv")
        self._positive("peak_kw")
        for name in ("daily_lag1", "hourly_lag1"):
            self._finite(name)
            if not -1 < getattr(self, name) < 1:
                self._fail(name, getattr(self, name), "must lie in (-1, 1)")
        if self.peak_kw <= max(self.mean_kw):
            self._fail("peak_kw", self.peak_kw, "must exceed the largest hourly mean")


def _soft_ceiling(x: np.ndarray, knee: float, cap: float) -> np.ndarray:
    """Identity below ``knee``; above it, compress smoothly toward ``cap`` (never reached)."""
    over = np.maximum(x - knee, 0.0)
    span = cap - knee
    return np.where(x > knee, knee + over / (1.0 + over / span), x)


def _shape(daily: np.ndarray, sd: np.ndarray, e: np.ndarray, month: np.ndarray,
           target: np.ndarray, knee: float, peak_kw: float) -> np.ndarray:
    """Daily level x profile + noise, soft ceiling solved for the peak, monthly rescale."""
    raw = np.maximum((daily + sd[None, :] * e).ravel(), 0.0)

    def finish(cap: float) -> np.ndarray:
        load = raw
        for _ in range(1 if cap == np.inf else 6):  # ceiling and monthly rescale, to a fixed point
            if cap < np.inf:
                load = _soft_ceiling(load, knee, cap)
            got = np.bincount(month, weights=load, minlength=12)
            load = load * (target / got)[month]
        return load

    if finish(np.inf).max() <= peak_kw:
        return finish(np.inf)
    lo, hi = knee + 1e-6, 4.0 * peak_kw
    for _ in range(50):  # the peak grows with the cap
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if finish(mid).max() < peak_kw else (lo, mid)
    return finish(0.5 * (lo + hi))


def simulate_mall(index: pd.DatetimeIndex, model: MallLoad = MallLoad(), seed: int = 0,
                  rng: np.random.Generator | None = None) -> pd.Series:
    """Hourly mall energy. [kWh]

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Hourly, tz-aware, labelled by interval start, a whole calendar year of local days.
    model : MallLoad
        The facts to reproduce.
    seed : int
        Seed of the ``numpy`` Generator (ignored when ``rng`` is given).
    rng : numpy.random.Generator, optional
        Random source.

    Returns
    -------
    pandas.Series
        ``mall_kwh``, energy per hour (= mean power over the hour). [kWh]

    Notes
    -----
    ``load[d, h] = level[month] * f[d] * mean_kw[h] + sd[h] * e[d, h]`` where ``f`` is an
    AR(1) daily factor (its spread within a month chosen so the daily energy has the
    coefficient of variation ``daily_cv`` including the between-month spread), ``e`` is an
    hour-to-hour AR(1) standard-normal noise and ``sd[h]`` the part of ``std_kw[h]`` the daily
    factor does not explain (corrected in three rounds for what the ceiling and the clipping
    at zero take away). Values above a knee (``max(mean_kw)`` plus its std, or half way to
    ``peak_kw`` if that is lower) pass a soft ceiling whose cap is solved so the annual peak
    equals ``peak_kw``; ceiling and a rescale of each month to ``monthly_mwh`` are repeated to
    a fixed point, the rescale last, so the monthly energies are exact.

    Examples
    --------
    >>> from pvbess.inputs.weather import year_index
    >>> mall = simulate_mall(year_index(2025), seed=1)
    >>> round(mall.sum())
    12368600
    """
    from scipy.signal import lfilter

    if step_hours(index) != 1.0:
        raise DataError("index: simulate_mall needs an hourly index (1 h steps)")
    if len(index) % 24 or index[0].hour != 0:
        raise DataError("index: simulate_mall needs whole local days starting at 00:00")
    rng = np.random.default_rng(seed) if rng is None else rng
    n_days = len(index) // 24
    month = np.asarray(index.month) - 1
    if len(np.unique(month)) != 12:
        raise DataError("index: simulate_mall needs a whole calendar year (12 months)")
    month_of_day = month[::24]
    mean = np.asarray(model.mean_kw)
    std = np.asarray(model.std_kw)
    target = np.asarray(model.monthly_mwh) * 1000.0
    days_in_month = np.bincount(month_of_day, minlength=12)
    per_day = target / days_in_month
    level = per_day / (target.sum() / n_days)
    cv_within = np.sqrt(max(model.daily_cv ** 2 - np.var(level[month_of_day]), 0.0))

    eps = rng.standard_normal(n_days)
    eps[1:] *= np.sqrt(1.0 - model.daily_lag1 ** 2)
    f = 1.0 + cv_within * lfilter([1.0], [1.0, -model.daily_lag1], eps)

    sd = np.sqrt(np.maximum(std ** 2 - (model.daily_cv * mean) ** 2, (0.3 * std) ** 2))
    eps = rng.standard_normal(n_days * 24)
    eps[1:] *= np.sqrt(1.0 - model.hourly_lag1 ** 2)
    e = lfilter([1.0], [1.0, -model.hourly_lag1], eps).reshape(n_days, 24)

    top = float(mean.max())
    knee = top + min(float(std[int(mean.argmax())]), 0.5 * (model.peak_kw - top))
    hour = np.arange(n_days * 24) % 24
    daily = (level[month_of_day] * f)[:, None] * mean[None, :]
    load = _shape(daily, sd, e, month, target, knee, model.peak_kw)
    for _ in range(3):  # the ceiling and the clipping at 0 narrow the spread: widen the noise
        got = np.sqrt(np.bincount(hour, weights=(load - np.bincount(hour, weights=load)[hour]
                                                 / n_days) ** 2) / (n_days - 1))
        sd = np.sqrt(np.clip(sd ** 2 + std ** 2 - got ** 2, (0.2 * std) ** 2, (2.0 * std) ** 2))
        load = _shape(daily, sd, e, month, target, knee, model.peak_kw)
    return pd.Series(load, index=index, name="mall_kwh")
