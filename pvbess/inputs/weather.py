"""A stochastic weather year on top of pvlib clear sky: GHI/DNI/DHI, air temperature and wind.

The model reproduces published climate facts of a site (monthly GHI, the distribution and
persistence of the daily clear-sky index, the mean daily temperature cycle) without copying any
measured series. Defaults are Iquitos, Peru (PVGIS TMY 2005-2020 facts, see
``shared/specs/iquitos_site.md``).

Rows are labelled by the START of their interval (local standard time); irradiance is the mean
over the interval [W/m2] and the solar position is taken at mid-interval.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._spec import SpecBase
from ..site import Site
from ..timeseries import DataError, check_tz

#: Monthly GHI of the Iquitos TMY (Jan..Dec). [kWh/m2]
IQUITOS_MONTHLY_GHI_KWH_M2 = (141.7, 120.6, 146.6, 130.7, 123.4, 123.2,
                              130.2, 154.7, 158.2, 162.2, 143.9, 132.8)
#: Assumed monthly mean air temperature (Jan..Dec), spanning the published 24.8-26.5 C. [C]
IQUITOS_MONTHLY_TEMP_C = (26.3, 26.2, 26.0, 25.8, 25.5, 24.8,
                          24.9, 25.6, 26.2, 26.5, 26.5, 26.4)

@contextlib.contextmanager
def pvlib_quiet():
    """Silence pandas' deprecation of ``DatetimeIndex.dayofyear``, which pvlib 0.16 still calls.

    Only that one message is ignored, only inside pvlib calls; other warnings stay errors.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*dayofyear is deprecated",
                                category=FutureWarning)
        warnings.filterwarnings("ignore", message=r".*dayofyear is deprecated",
                                category=DeprecationWarning)
        yield


_SUBSTEPS = 4  # clear sky is averaged over this many points per step (captures sunrise/sunset)


@dataclass(frozen=True)
class WeatherModel(SpecBase):
    """Parameters of the stochastic weather generator. Defaults are the Iquitos facts.

    Parameters
    ----------
    monthly_ghi_kwh_m2 : tuple of 12 float
        Target monthly GHI (Jan..Dec); the generated GHI matches it exactly. [kWh/m2]
    kt_quantiles : tuple of 5 float
        5/25/50/75/95 % quantiles of the daily clear-sky index (shape of its distribution). [-]
    kt_std : float
        Standard deviation of the daily clear-sky index over the year. [-]
    kt_lag1 : float
        Lag-1 autocorrelation of the daily clear-sky index. [-]
    kt_min, kt_max : float
        Bounds of the daily clear-sky index. [-]
    afternoon_drop : float
        Relative drop of the hourly clear-sky index from 06:00 to 18:00 solar time (tropical
        afternoons are cloudier). [-]
    hourly_sigma : float
        Log-standard deviation of the hourly cloud noise on a half-cloudy day. [-]
    hourly_lag1 : float
        Hour-to-hour autocorrelation of the cloud noise. [-]
    monthly_temp_c : tuple of 12 float
        Monthly mean air temperature (Jan..Dec). [C]
    temp_min_c, temp_max_c : float
        Mean daily minimum (at ``temp_min_hour``) and maximum (at ``temp_max_hour``). [C]
    temp_min_hour, temp_max_hour : float
        Local clock times of the mean daily minimum and maximum; the defaults 06:30 and 13:30
        put them in the hourly rows labelled 06:00 and 13:00 (interval means). [h]
    temp_daily_std_c : float
        Standard deviation of the day-to-day temperature anomaly. [C]
    wind_mean_ms : float
        Mean wind speed at 10 m. [m/s]
    """

    monthly_ghi_kwh_m2: tuple = IQUITOS_MONTHLY_GHI_KWH_M2
    kt_quantiles: tuple = (0.43, 0.61, 0.72, 0.82, 0.93)
    kt_std: float = 0.16
    kt_lag1: float = 0.31
    kt_min: float = 0.08
    kt_max: float = 0.98
    afternoon_drop: float = 0.25
    hourly_sigma: float = 0.35
    hourly_lag1: float = 0.6
    monthly_temp_c: tuple = IQUITOS_MONTHLY_TEMP_C
    temp_min_c: float = 23.6
    temp_max_c: float = 28.7
    temp_min_hour: float = 6.5
    temp_max_hour: float = 13.5
    temp_daily_std_c: float = 0.6
    wind_mean_ms: float = 0.8

    def __post_init__(self) -> None:
        for name, n in (("monthly_ghi_kwh_m2", 12), ("kt_quantiles", 5), ("monthly_temp_c", 12)):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != n or not np.all(np.isfinite(value)):
                self._fail(name, getattr(self, name), f"must be {n} finite numbers")
            object.__setattr__(self, name, value)
        if min(self.monthly_ghi_kwh_m2) <= 0:
            self._fail("monthly_ghi_kwh_m2", self.monthly_ghi_kwh_m2, "must be > 0 kWh/m2")
        if np.any(np.diff(self.kt_quantiles) <= 0):
            self._fail("kt_quantiles", self.kt_quantiles, "must be strictly increasing")
        self._positive("kt_std", "hourly_sigma", "wind_mean_ms")
        self._non_negative("temp_daily_std_c")
        self._fraction("kt_min", "kt_max", "afternoon_drop")
        if not self.kt_min < self.kt_max:
            self._fail("kt_max", self.kt_max, "must exceed kt_min")
        for name in ("kt_lag1", "hourly_lag1"):
            self._finite(name)
            if not -1 < getattr(self, name) < 1:
                self._fail(name, getattr(self, name), "must lie in (-1, 1)")
        self._hour("temp_min_hour", "temp_max_hour")
        if not self.temp_min_hour < self.temp_max_hour:
            self._fail("temp_max_hour", self.temp_max_hour, "must come after temp_min_hour")
        if not self.temp_min_c < self.temp_max_c:
            self._fail("temp_max_c", self.temp_max_c, "must exceed temp_min_c")


def year_index(year: int, tz: str = "America/Lima", freq: str = "h") -> pd.DatetimeIndex:
    """All steps of a calendar year in local time, labelled by interval start.

    Raises
    ------
    DataError
        On an unknown time zone, or a step that is not a positive divisor of one hour.
    """
    check_tz(tz)
    try:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except (ValueError, TypeError):
        step = None
    if step is None or step <= pd.Timedelta(0) or pd.Timedelta(hours=1) % step:
        raise DataError(f"freq={freq!r}: the step must divide one hour (e.g. 'h', '15min')")
    start = pd.Timestamp(year=year, month=1, day=1, tz=tz)
    end = pd.Timestamp(year=year + 1, month=1, day=1, tz=tz)
    return pd.date_range(start, end, freq=freq, inclusive="left")


def clearsky_mean(index: pd.DatetimeIndex, site: Site = Site()) -> pd.DataFrame:
    """Ineichen clear sky (bundled Linke turbidity) averaged over each interval. [W/m2]

    Rows are labelled by interval start; the value is the mean of ``_SUBSTEPS`` evaluations
    at the centres of equal sub-intervals, so sunrise and sunset steps get their share.
    Returns columns ghi, dni, dhi.
    """
    import pvlib

    from ..timeseries import step_hours

    dt_h = step_hours(index)
    offsets = (np.arange(_SUBSTEPS) + 0.5) / _SUBSTEPS * dt_h * 3600.0
    times = (index.repeat(_SUBSTEPS)
             + pd.to_timedelta(np.tile(offsets, len(index)), unit="s"))
    loc = pvlib.location.Location(site.latitude, site.longitude, site.tz, site.altitude_m)
    times = pd.DatetimeIndex(times)
    dni_extra = pvlib.irradiance.get_extra_radiation(times.day_of_year.to_numpy())
    with pvlib_quiet():
        cs = loc.get_clearsky(times, model="ineichen",
                              dni_extra=pd.Series(dni_extra, index=times))
    values = cs[["ghi", "dni", "dhi"]].to_numpy().reshape(len(index), _SUBSTEPS, 3).mean(axis=1)
    return pd.DataFrame(values, index=index, columns=["ghi", "dni", "dhi"])


def _kt_quantile_function(quantiles: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Normal scores and values of the given 5/25/50/75/95 % quantiles (for interpolation)."""
    from scipy.stats import norm

    z = norm.ppf([0.05, 0.25, 0.50, 0.75, 0.95])
    return z, np.asarray(quantiles, dtype=float)


def _kt_from_normal(z: np.ndarray, zq: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Map standard-normal scores onto the quantile function (linear beyond the ends)."""
    out = np.interp(z, zq, q)
    lo, hi = z < zq[0], z > zq[-1]
    out[lo] = q[0] + (z[lo] - zq[0]) * (q[1] - q[0]) / (zq[1] - zq[0])
    out[hi] = q[-1] + (z[hi] - zq[-1]) * (q[-1] - q[-2]) / (zq[-1] - zq[-2])
    return out


def _ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    """A stationary standard-normal AR(1) series."""
    from scipy.signal import lfilter

    eps = rng.standard_normal(n)
    eps[1:] *= np.sqrt(1.0 - rho * rho)
    return lfilter([1.0], [1.0, -rho], eps)


def daily_clearsky_index(weather: pd.DataFrame, site: Site = Site()) -> pd.Series:
    """Daily clear-sky index: daily GHI over daily Ineichen clear-sky GHI. [-]

    ``weather`` needs a ``ghi_wm2`` column on a regular tz-aware index (interval start).
    """
    if "ghi_wm2" not in weather.columns:
        raise DataError(f"column 'ghi_wm2' [W/m2] is missing; have {list(weather.columns)}")
    cs = clearsky_mean(weather.index, site)["ghi"]
    day = weather.index.normalize()
    return (weather["ghi_wm2"].groupby(day).sum() / cs.groupby(day).sum()).rename("kt_daily")


def generate_weather(year: int = 2025, site: Site = Site(), seed: int = 0,
                     model: WeatherModel = WeatherModel(), freq: str = "h",
                     rng: np.random.Generator | None = None) -> pd.DataFrame:
    """A stochastic weather year: irradiance, air temperature and wind.

    Parameters
    ----------
    year : int
        Calendar year (local time of ``site.tz``).
    site : Site
        Location (latitude, longitude, altitude, time zone).
    seed : int
        Seed of the ``numpy`` Generator (ignored when ``rng`` is given).
    model : WeatherModel
        Climate facts to reproduce.
    freq : str
        Step, ``"h"`` or a divisor of an hour such as ``"15min"``.
    rng : numpy.random.Generator, optional
        Random source (for callers that chain several generators on one stream).

    Returns
    -------
    pandas.DataFrame
        On a tz-aware index labelled by interval start, columns ``ghi_wm2``, ``dni_wm2``,
        ``dhi_wm2`` (interval means [W/m2]), ``ghi_clear_wm2`` (Ineichen clear sky [W/m2]),
        ``temp_air_c`` [C], ``wind_ms`` [m/s] and ``kt_daily`` (the day's clear-sky index [-]).

    Notes
    -----
    1. Daily clear-sky index: a latent Gaussian AR(1) (lag-1 ``kt_lag1``) mapped through the
       quantile function of ``kt_quantiles``, added to each month's level (the month's GHI
       over its clear-sky GHI) and clipped to ``[kt_min, kt_max]`` with the month shifted to
       keep its GHI; the anomaly's scale makes the annual standard deviation ``kt_std``
       before clipping (clipping narrows it slightly, to about 0.155 for Iquitos, which keeps
       the upper quantiles closer to the facts).
    2. Within a day the clear-sky index falls linearly with solar time (``afternoon_drop``)
       and carries log-normal AR(1) cloud noise that peaks on half-cloudy days; each day is
       rescaled to its daily index, each month to its GHI.
    3. DNI and DHI from GHI by the Erbs decomposition at mid-interval solar position.
    4. Temperature: monthly mean + a daily cycle with minimum ``temp_min_c`` at
       ``temp_min_hour`` and maximum ``temp_max_c`` at ``temp_max_hour`` (amplitude scaled by
       the day's sunshine) + a day-to-day AR(1) anomaly. Wind: log-normal AR(1) noise around
       ``wind_mean_ms`` with a mild afternoon maximum.

    Examples
    --------
    >>> w = generate_weather(2025, seed=1)
    >>> round(w["ghi_wm2"].sum() / 1000)  # kWh/m2 (hourly steps)
    1668
    """
    import pvlib

    from ..timeseries import step_hours

    rng = np.random.default_rng(seed) if rng is None else rng
    index = year_index(year, site.tz, freq)
    dt_h = step_hours(index)
    n = len(index)
    cs = clearsky_mean(index, site)["ghi"].to_numpy()

    day_codes, days = pd.factorize(index.normalize())
    n_days = len(days)
    month_of_day = np.asarray(days.month) - 1
    cs_day = np.bincount(day_codes, weights=cs * dt_h, minlength=n_days)  # [Wh/m2]
    cs_month = np.bincount(month_of_day, weights=cs_day, minlength=12)
    target_month = np.asarray(model.monthly_ghi_kwh_m2) * 1000.0  # [Wh/m2]
    months_present = np.unique(month_of_day)
    if len(months_present) != 12:
        raise ValueError("generate_weather needs a full calendar year")

    # 1. daily clear-sky index
    zq, q = _kt_quantile_function(model.kt_quantiles)
    z = _ar1(rng, n_days, model.kt_lag1)
    anomaly = _kt_from_normal(z, zq, q)
    anomaly -= anomaly.mean()
    level = target_month / cs_month  # monthly mean clear-sky index implied by the facts
    spread = np.sqrt(max(model.kt_std ** 2 - np.var(level), 1e-6)) / anomaly.std()
    kt_day = _daily_index(level[month_of_day] + spread * anomaly, model, month_of_day,
                          cs_day, cs_month, target_month)

    # 2. hourly shape within the day
    hours = index.hour + index.minute / 60.0 + dt_h / 2.0
    solar_h = np.asarray(hours) + (site.longitude - _std_meridian(index)) / 15.0
    trend = 1.0 + model.afternoon_drop * (12.0 - solar_h) / 12.0
    kd = kt_day[day_codes]
    sigma = model.hourly_sigma * 4.0 * kd * (1.0 - kd)
    noise = _ar1(rng, n, model.hourly_lag1 ** dt_h)
    kt_h = kd * trend * np.exp(sigma * noise - 0.5 * sigma ** 2)
    kt_h = np.minimum(kt_h, 1.1)
    ghi = kt_h * cs
    got_day = np.bincount(day_codes, weights=ghi * dt_h, minlength=n_days)
    scale = np.divide(kt_day * cs_day, got_day, out=np.ones(n_days), where=got_day > 0)
    ghi = ghi * scale[day_codes]
    month_of_row = np.asarray(index.month) - 1
    got_month = np.bincount(month_of_row, weights=ghi * dt_h, minlength=12)
    ghi = ghi * (target_month / got_month)[month_of_row]

    # 3. decomposition at mid-interval
    mid = index + pd.Timedelta(hours=dt_h / 2.0)
    loc = pvlib.location.Location(site.latitude, site.longitude, site.tz, site.altitude_m)
    with pvlib_quiet():
        zenith = loc.get_solarposition(mid)["apparent_zenith"].to_numpy()
        parts = pvlib.irradiance.erbs(ghi, zenith, mid.day_of_year.to_numpy())
    dni = np.nan_to_num(np.asarray(parts["dni"], dtype=float))
    dhi = np.nan_to_num(np.asarray(parts["dhi"], dtype=float))

    # 4. temperature and wind
    temp = _temperature(model, rng, np.asarray(hours), day_codes, kt_day, month_of_day)
    wind = _wind(model, rng, np.asarray(hours), dt_h)

    return pd.DataFrame({
        "ghi_wm2": ghi,
        "dni_wm2": dni,
        "dhi_wm2": dhi,
        "ghi_clear_wm2": cs,
        "temp_air_c": temp,
        "wind_ms": wind,
        "kt_daily": kt_day[day_codes],
    }, index=index)


def _daily_index(kt_day: np.ndarray, model: WeatherModel, month_of_day: np.ndarray,
                 cs_day: np.ndarray, cs_month: np.ndarray, target_month: np.ndarray
                 ) -> np.ndarray:
    """Clip the daily index to its bounds, shifting each month to keep its GHI (a few rounds)."""
    for _ in range(20):
        kt_day = np.clip(kt_day, model.kt_min, model.kt_max)
        got = np.bincount(month_of_day, weights=kt_day * cs_day, minlength=12)
        kt_day = kt_day + ((target_month - got) / cs_month)[month_of_day]
    return np.clip(kt_day, model.kt_min, model.kt_max)


def _std_meridian(index: pd.DatetimeIndex) -> float:
    """Longitude of the time zone's standard meridian (UTC offset x 15). [deg]"""
    return index[0].utcoffset().total_seconds() / 3600.0 * 15.0


def _cycle(hours: np.ndarray, model: WeatherModel, power: float = 1.0) -> np.ndarray:
    """Daily temperature shape in [0, 1]: 0 at the minimum hour, 1 at the maximum hour."""
    h0, h1 = model.temp_min_hour, model.temp_max_hour
    t = (hours - h0) % 24.0
    rise = h1 - h0
    up = 0.5 - 0.5 * np.cos(np.pi * np.clip(t / rise, 0.0, 1.0))
    fall_t = np.clip((t - rise) / (24.0 - rise), 0.0, 1.0)
    down = 0.5 + 0.5 * np.cos(np.pi * fall_t ** power)
    return np.where(t <= rise, up, down)


def _cycle_power(model: WeatherModel) -> float:
    """Exponent of the evening fall that makes the cycle's mean the mean of the monthly means."""
    grid = np.arange(0.0, 24.0, 1.0 / 60.0)
    want = (float(np.mean(model.monthly_temp_c)) - model.temp_min_c) / (
        model.temp_max_c - model.temp_min_c)
    lo, hi = 0.05, 20.0  # the cycle mean falls as the exponent falls
    if not _cycle(grid, model, lo).mean() < want < _cycle(grid, model, hi).mean():
        raise ValueError(f"WeatherModel: the mean of monthly_temp_c ({want:.3f} of the way from "
                         "temp_min_c to temp_max_c) cannot be reached by the daily cycle")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _cycle(grid, model, mid).mean() < want else (lo, mid)
    return 0.5 * (lo + hi)


def _temperature(model: WeatherModel, rng: np.random.Generator, hours: np.ndarray,
                 day_codes: np.ndarray, kt_day: np.ndarray, month_of_day: np.ndarray
                 ) -> np.ndarray:
    grid = np.arange(0.0, 24.0, 1.0 / 60.0)
    power = _cycle_power(model)
    shape_mean = _cycle(grid, model, power).mean()
    amp = model.temp_max_c - model.temp_min_c
    cycle_mean = model.temp_min_c + amp * shape_mean
    annual_mean = float(np.mean(model.monthly_temp_c))
    sun = kt_day / kt_day.mean()  # sunny days swing more
    anomaly = model.temp_daily_std_c * _ar1(rng, len(kt_day), 0.7)
    day_level = (np.asarray(model.monthly_temp_c)[month_of_day] - annual_mean
                 + cycle_mean + anomaly)
    shape = _cycle(hours, model, power) - shape_mean
    return day_level[day_codes] + amp * shape * sun[day_codes]


def _wind(model: WeatherModel, rng: np.random.Generator, hours: np.ndarray,
          dt_h: float) -> np.ndarray:
    diurnal = 1.0 + 0.35 * np.sin(2.0 * np.pi * (hours - 9.0) / 24.0)
    gust = np.exp(0.45 * _ar1(rng, len(hours), 0.7 ** dt_h) - 0.5 * 0.45 ** 2)
    return model.wind_mean_ms * diurnal * gust
