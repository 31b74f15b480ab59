"""The hardware side: a Controller protocol, a simulated plant (digital twin) and TOU intervals.

A controller takes a *program*: the battery setpoints of the rest of the day (AC kWh per period,
``+`` charge, ``-`` discharge), as an inverter takes a day's time-of-use windows. It keeps
running the last program it was given until a new one replaces it, and it measures every
completed period.

:class:`SimulatedController` runs the program on the actual data with the one battery physics and
site meter of :mod:`pvbess.physics` (:func:`~pvbess.physics.site_step`: the same meter as the
rules' schedule strategy, the optimizer and its plant check), so a replay of a year is a faithful
digital twin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from numba import njit

from ..battery import Battery
from ..physics import CHARGE_CODES, resolve_charge_source, site_step, stored_energy, wear_cost
from ..timeseries import DataError, check_energy_columns, epoch_ns, step_hours
from .events import HourlyEvent, _aware, period_of


@dataclass(frozen=True)
class Program:
    """What a controller runs: setpoints of consecutive periods from ``start`` on, and the peak
    guard's import caps over the same periods (a plan as the plant takes it, no table).

    Parameters
    ----------
    start : pandas.Timestamp
        Start of the first period, tz-aware.
    dt_h : float
        Period length. [h]
    setpoint_kwh : numpy.ndarray
        AC setpoint per period, + charge / - discharge. [kWh]
    import_cap_kwh : numpy.ndarray, optional
        The peak guard's cap on grid import per period (``inf``: none; None: no guard).
        [kWh per period]

    Raises
    ------
    ValueError
        A non-finite setpoint, a negative or NaN cap, caps of another length, a naive start.
    """

    start: pd.Timestamp
    dt_h: float
    setpoint_kwh: np.ndarray
    import_cap_kwh: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _aware(self.start))
        values = np.asarray(self.setpoint_kwh, dtype=np.float64).reshape(-1)
        if not np.isfinite(values).all():
            raise ValueError("Program: non-finite setpoints")
        object.__setattr__(self, "setpoint_kwh", values)
        if not self.dt_h > 0:
            raise ValueError(f"Program.dt_h = {self.dt_h!r}: must be > 0 [h]")
        if self.import_cap_kwh is not None:
            caps = np.asarray(self.import_cap_kwh, dtype=np.float64).reshape(-1)
            if caps.shape != values.shape or np.isnan(caps).any() or (caps < 0).any():
                raise ValueError("Program.import_cap_kwh: one cap >= 0 per setpoint (inf: no "
                                 "cap) [kWh]")
            object.__setattr__(self, "import_cap_kwh", caps)

    @classmethod
    def from_series(cls, program: pd.Series, import_cap_kwh: pd.Series | None = None
                    ) -> Program:
        """A program from setpoints on a regular tz-aware index (and caps on the same index)."""
        if len(program) == 0:
            raise ValueError("Program: no periods")
        dt_h = step_hours(program.index) if len(program) > 1 else _single_step(program.index)
        caps = None
        if import_cap_kwh is not None:
            if import_cap_kwh.index is not program.index and \
                    not import_cap_kwh.index.equals(program.index):
                raise DataError("Program: import_cap_kwh is not on the program's periods")
            caps = import_cap_kwh.to_numpy(dtype=np.float64)
        return cls(program.index[0], dt_h, program.to_numpy(dtype=np.float64), caps)

    def __len__(self) -> int:
        return len(self.setpoint_kwh)

    @property
    def period_ns(self) -> np.ndarray:
        """The period starts, UTC [ns]."""
        step = round(self.dt_h * 3_600_000_000_000)
        return self.start.value + step * np.arange(len(self), dtype=np.int64)

    @property
    def index(self) -> pd.DatetimeIndex:
        """The period starts (tz-aware)."""
        return pd.DatetimeIndex(pd.to_datetime(self.period_ns, utc=True)).tz_convert(
            self.start.tz)

    @property
    def setpoints(self) -> pd.Series:
        """AC setpoint per period, + charge / - discharge. [kWh]"""
        return pd.Series(self.setpoint_kwh, index=self.index, name="setpoint_kwh")


def as_program(program: Program | pd.Series, import_cap_kwh: pd.Series | None = None
               ) -> Program | None:
    """``program`` as a :class:`Program` (a Series of setpoints is converted, with its caps);
    None for an empty Series (nothing to run)."""
    if isinstance(program, Program):
        if import_cap_kwh is not None:
            raise ValueError("import_cap_kwh given with a Program: put the caps in it")
        return program
    if not isinstance(program, pd.Series):
        raise TypeError(f"program: expected a Program or a pandas Series of setpoints, got "
                        f"{type(program).__name__}")
    return Program.from_series(program, import_cap_kwh) if len(program) else None


@runtime_checkable
class Controller(Protocol):
    """What the manager needs from the plant (a real inverter or :class:`SimulatedController`)."""

    def read_energy_kwh(self) -> float:
        """Stored energy now. [kWh]"""

    def apply(self, program: Program | pd.Series, import_cap_kwh: pd.Series | None = None
              ) -> None:
        """Run ``program`` from its first period on, replacing whatever was programmed for
        those periods (a :class:`Program`, or setpoints [kWh AC per period, + charge /
        - discharge] as a Series and the caps beside it: :func:`as_program`).

        The program's ``import_cap_kwh`` (None: no cap) is the peak guard's cap on grid import
        per period [kWh]: where the program would import more, the plant charges less or
        discharges more, as far as the battery allows (:func:`guarded_step`), as an
        inverter's peak-shaving (grid import limit) mode does."""

    def read_period(self, timestamp: Any) -> HourlyEvent | None:
        """The measurements of the completed period starting at ``timestamp`` (None if unknown)."""


#: Import above the guard's cap by at most this much is left alone. [kWh]
GUARD_TOL_KWH = 1e-9


@njit(cache=True)
def guarded_step(setpoint_kwh, import_cap_kwh, e, load, pv, buy, sell, e_min, e_max, eta_c,
                 eta_d, charge_max, discharge_max, grid_charge, battery_export, export_limit,
                 import_limit, inverter, curtail):
    """One period of the plant with the peak guard: :func:`pvbess.physics.site_step`, and
    where the programmed setpoint would import more than ``import_cap_kwh``, the setpoint
    lowered by the excess (less charge, or more discharge), clipped again by the physics.

    Parameters are those of :func:`~pvbess.physics.site_step` plus the cap [kWh per period]
    (``inf``: no guard).

    Returns
    -------
    tuple
        ``(c, d, imp, exp, u, e_end)`` [kWh], as :func:`~pvbess.physics.site_step`.

    Notes
    -----
    The rule: with the programmed setpoint ``s``, the charge ``c`` or discharge ``d`` the
    physics let through and its import ``i``, if ``i > cap + GUARD_TOL_KWH`` the plant runs
    ``c - d - (i - cap)`` instead, which
    :func:`~pvbess.physics.clip_setpoint` limits to what the battery (energy, power) and the
    site (no discharge into the grid unless allowed) allow; so the import becomes
    ``max(cap, i(full discharge))``. The guarded step is kept only if it imports less than
    the programmed one, so the guard never raises the import. The demand charge is on the
    month's peak, so holding an import the plan did not expect under the peak the plan (or
    the month) already pays for saves ``price_g`` per kW; the next re-plan starts from the
    energy the guard left.
    """
    r = site_step(setpoint_kwh, e, load, pv, buy, sell, e_min, e_max, eta_c, eta_d, charge_max,
                  discharge_max, grid_charge, battery_export, export_limit, import_limit,
                  inverter, curtail)
    excess = r[2] - import_cap_kwh
    if excess > GUARD_TOL_KWH:
        # from the setpoint the physics let through (a programmed charge above the battery's
        # limits would otherwise absorb the correction)
        g = site_step(r[0] - r[1] - excess, e, load, pv, buy, sell, e_min, e_max, eta_c, eta_d,
                      charge_max, discharge_max, grid_charge, battery_export, export_limit,
                      import_limit, inverter, curtail)
        if g[2] < r[2]:
            return g
    return r


@njit(cache=True)
def _execute(e_kwh: float, setpoint_kwh: float, load_kwh: float, pv_kwh: float, dt_h: float,
             e_min: float, e_max: float, eta_c: float, eta_d: float, p_charge_kw: float,
             p_discharge_kw: float, charge_code: int, allow_battery_export: bool,
             import_limit_kw: float, export_limit_kw: float, inverter_ac_limit_kw: float,
             buy_price: float, sell_price: float, allow_curtailment: bool,
             import_cap_kwh: float = math.inf) -> tuple:
    """One period of the plant: :func:`guarded_step` with the limits in kW.

    The setpoint is clipped to what the battery and the site allow, then metered; PV that cannot
    be exported (export or inverter limit) is curtailed, and so is PV wherever curtailing is
    cheaper (negative prices) when ``allow_curtailment``, as the optimizer's plans assume.
    ``import_cap_kwh`` is the peak guard's cap (``inf``: none).

    Returns (charged, discharged, grid_import, grid_export, curtailed, e_end) [kWh].
    """
    return guarded_step(setpoint_kwh, import_cap_kwh, e_kwh, load_kwh, pv_kwh, buy_price,
                        sell_price, e_min, e_max, eta_c, eta_d, p_charge_kw * dt_h,
                        p_discharge_kw * dt_h, charge_code, allow_battery_export,
                        export_limit_kw * dt_h, import_limit_kw * dt_h,
                        inverter_ac_limit_kw * dt_h, allow_curtailment)


class SimulatedController:
    """A simulated plant: the actual site data, a battery and the shared physics.

    Time advances only through :meth:`run_period`, which executes the programmed setpoint of
    the next period (idle when nothing is programmed) on the actual load and PV, records the
    measurements and moves the clock one period on.

    Parameters
    ----------
    actual : pandas.DataFrame
        ``load_kwh``, ``pv_kwh`` [kWh per period], ``buy_price``, ``sell_price``
        [currency/kWh] on a regular tz-aware index.
    battery : Battery
    charge_source : {"any", "pv", "surplus"}, optional
        Where the battery may charge from (:data:`pvbess.CHARGE_SOURCES`; default ``"any"``).
    allow_grid_charge : bool, optional
        The older spelling: True is ``"any"``; False limits charging to the PV surplus.
    allow_battery_export : bool
        If False, discharging is limited to the actual net load of the period.
    import_limit_kw, export_limit_kw : float
        Grid limits; charging is reduced to respect the import limit, PV beyond the export
        limit is curtailed (and PV wherever curtailing is cheaper: negative prices). [kW]
    initial_kwh : float, optional
        Stored energy at ``start`` (default ``battery.e_initial_kwh``). [kWh]
    start : timestamp, optional
        The first period to run (default the first row of ``actual``).
    """

    def __init__(self, actual: pd.DataFrame, battery: Battery, *,
                 charge_source: str | None = None, allow_grid_charge: bool | None = None,
                 allow_battery_export: bool = True,
                 import_limit_kw: float = math.inf, export_limit_kw: float = math.inf,
                 initial_kwh: float | None = None, start: Any = None) -> None:
        self.dt_h = step_hours(actual.index)
        check_energy_columns(actual, ("load_kwh", "pv_kwh"), "kWh")
        for name in ("buy_price", "sell_price"):
            if name not in actual.columns:
                raise DataError(f"column {name!r} [currency/kWh] is missing; have "
                                f"{list(actual.columns)}")
        self.battery = battery
        self.index = actual.index
        self._ns = epoch_ns(self.index)  # period starts [ns], compared unboxed
        # boxed once, on the first period run: the period starts and (load, pv, buy, sell)
        self._stamps: list[pd.Timestamp] | None = None
        self._measured: list[tuple[float, float, float, float]] = []
        self.charge_source = resolve_charge_source(charge_source, allow_grid_charge)
        self.allow_grid_charge = self.charge_source == "any"
        self.allow_battery_export = bool(allow_battery_export)
        self.import_limit_kw = float(import_limit_kw)
        self.export_limit_kw = float(export_limit_kw)
        self._load = actual["load_kwh"].to_numpy(dtype=np.float64)
        self._pv = actual["pv_kwh"].to_numpy(dtype=np.float64)
        self._buy = actual["buy_price"].to_numpy(dtype=np.float64)
        self._sell = actual["sell_price"].to_numpy(dtype=np.float64)
        self._program = np.zeros(len(self.index))  # setpoint per row, 0 = idle
        self._cap = np.full(len(self.index), np.inf)  # the peak guard's import cap per row
        self._records: dict[int, HourlyEvent] = {}
        self._pos = 0 if start is None else self._row(start)
        e0 = battery.e_initial_kwh if initial_kwh is None else float(initial_kwh)
        if not battery.e_min_kwh - 1e-9 <= e0 <= battery.e_max_kwh + 1e-9:
            raise ValueError(f"SimulatedController.initial_kwh = {e0!r}: outside the battery "
                             f"window [{battery.e_min_kwh}, {battery.e_max_kwh}] kWh")
        self._e = min(max(e0, battery.e_min_kwh), battery.e_max_kwh)

    def _row(self, timestamp: Any) -> int:
        return self._row_ns(_aware(timestamp).value)

    def _row_ns(self, ns: int) -> int:
        """The data row of a period start [UTC ns] (int64: no index lookup machinery)."""
        row = int(self._ns.searchsorted(ns))
        if row < len(self._ns) and self._ns[row] == ns:
            return row
        raise DataError(f"{pd.Timestamp(ns, tz=self.index.tz)} is not a period of the data "
                        f"({self.index[0]} .. {self.index[-1]})")

    # -- the Controller protocol ------------------------------------------------------
    def read_energy_kwh(self) -> float:
        """Stored energy at the start of the next period. [kWh]"""
        return self._e

    def apply(self, program: Program | pd.Series, import_cap_kwh: pd.Series | None = None
              ) -> None:
        """Program the setpoints [kWh AC per period] from the program's first period on, and
        the peak guard's import caps [kWh per period] over the same periods (None: no guard
        there)."""
        program = as_program(program, import_cap_kwh)
        if program is None:
            return
        first, n = self._row_ns(program.start.value), len(program)
        if abs(program.dt_h - self.dt_h) > 1e-9 or first + n > len(self.index):
            raise DataError("SimulatedController.apply: the program is not a contiguous run "
                            "of the data's periods")
        self._program[first:first + n] = program.setpoint_kwh
        caps = program.import_cap_kwh
        self._cap[first:first + n] = np.inf if caps is None else caps
    def read_period(self, timestamp: Any) -> HourlyEvent | None:
        """The measured event of a completed period, or None if this controller has no record."""
        return self._records.get(self._row(timestamp))

    # -- simulation ---------------------------------------------------------------------
    @property
    def now(self) -> pd.Timestamp | None:
        """Start of the next period to run (None once the data is exhausted)."""
        return self.index[self._pos] if self._pos < len(self.index) else None

    @property
    def finished(self) -> bool:
        """True when every period of the data has run."""
        return self._pos >= len(self.index)

    def programmed(self, timestamp: Any) -> float:
        """The setpoint programmed for a period. [kWh AC]"""
        return float(self._program[self._row(timestamp)])

    def import_cap(self, timestamp: Any) -> float:
        """The peak guard's import cap for a period (``inf``: none). [kWh]"""
        return float(self._cap[self._row(timestamp)])

    def run_period(self) -> HourlyEvent:
        """Execute the next period with its programmed setpoint; returns its measurements."""
        if self.finished:
            raise RuntimeError("SimulatedController: no periods left in the data")
        k = self._pos
        b = self.battery
        e0 = self._e
        if self._stamps is None:  # boxed once: one by one costs more than the period
            self._stamps = list(self.index)
            self._measured = list(zip(self._load.tolist(), self._pv.tolist(),
                                      self._buy.tolist(), self._sell.tolist()))
        load, pv, buy, sell = self._measured[k]
        c, d, imp, exp, curt, e1 = _execute(
            e0, self._program[k], load, pv, self.dt_h, b.e_min_kwh,
            b.e_max_kwh, b.eta_charge, b.eta_discharge, b.power_charge_kw, b.power_discharge_kw,
            CHARGE_CODES[self.charge_source], self.allow_battery_export, self.import_limit_kw,
            self.export_limit_kw, math.inf, buy, sell, True, self._cap[k])
        ts = self._stamps[k]
        event = HourlyEvent(
            timestamp=ts, period=period_of(ts, self.dt_h)[1], dt_h=self.dt_h,
            soe_start_kwh=e0, soe_end_kwh=e1, pv_kwh=pv, load_kwh=load, grid_import_kwh=imp,
            grid_export_kwh=exp, bess_charge_kwh=c, bess_discharge_kwh=d,
            pv_curtailed_kwh=curt, buy_price=buy, sell_price=sell,
            wear_cost=wear_cost(stored_energy(c, b.eta_charge), b.wear_cost_per_kwh))
        self._records[k] = event
        self._e = e1
        self._pos = k + 1
        return event

    def __repr__(self) -> str:
        return f"SimulatedController(now={self.now}, energy={self._e:.3f} kWh)"


#: Columns of :func:`tou_intervals`.
TOU_COLUMNS: tuple[str, ...] = ("start", "end", "mode", "power_kw", "energy_kwh", "periods")


def tou_intervals(program: pd.Series, *, tolerance_kw: float = 1e-9) -> pd.DataFrame:
    """A plan's setpoints as time-of-use windows, as an inverter takes them.

    Consecutive periods with the same mode (``charge``, ``discharge``, ``idle``) and the same
    power (within ``tolerance_kw``) form one window.

    Parameters
    ----------
    program : pandas.Series
        Setpoints per period on a regular tz-aware index: AC kWh, + charge / - discharge.
    tolerance_kw : float
        Setpoints closer than this (as power) are one window; ``|power| <= tolerance_kw``
        is idle. [kW]

    Returns
    -------
    pandas.DataFrame
        One row per window: ``start``, ``end`` (exclusive) timestamps, ``mode``, ``power_kw``
        (AC, >= 0, the window's mean), ``energy_kwh`` (AC, >= 0, the window's total) and
        ``periods``.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="h", tz="America/Lima")
    >>> tou_intervals(pd.Series([0.0, 50.0, 50.0, -20.0], index=idx))[["mode", "power_kw"]]
            mode  power_kw
    0       idle       0.0
    1     charge      50.0
    2  discharge      20.0
    """
    if len(program) == 0:
        return pd.DataFrame({c: [] for c in TOU_COLUMNS})
    dt_h = step_hours(program.index) if len(program) > 1 else _single_step(program.index)
    power = np.asarray(program, dtype=np.float64) / dt_h
    if not np.all(np.isfinite(power)):
        raise ValueError("tou_intervals: program has non-finite setpoints")
    mode = np.where(power > tolerance_kw, "charge",
                    np.where(power < -tolerance_kw, "discharge", "idle"))
    rows = []
    start = 0
    for k in range(1, len(power) + 1):
        if k == len(power) or mode[k] != mode[start] or \
                abs(power[k] - power[start]) > tolerance_kw:
            seg = power[start:k]
            energy = float(np.abs(seg).sum() * dt_h) if mode[start] != "idle" else 0.0
            rows.append({"start": program.index[start],
                         "end": program.index[start] + pd.Timedelta(hours=dt_h * (k - start)),
                         "mode": str(mode[start]),
                         "power_kw": energy / (dt_h * (k - start)),
                         "energy_kwh": energy, "periods": k - start})
            start = k
    return pd.DataFrame(rows, columns=list(TOU_COLUMNS))


def _single_step(index: pd.DatetimeIndex) -> float:
    if index.freq is None:
        raise DataError("tou_intervals: a one-period program needs an index with a frequency")
    return pd.Timedelta(index.freq).total_seconds() / 3600.0


def program_from_intervals(intervals: pd.DataFrame, index: pd.DatetimeIndex) -> pd.Series:
    """Setpoints per period [kWh AC, + charge / - discharge] from TOU windows (the inverse).

    Periods of ``index`` outside every window are idle.
    """
    dt_h = step_hours(index) if len(index) > 1 else _single_step(index)
    out = pd.Series(0.0, index=index, name="setpoint_kwh")
    sign = {"charge": 1.0, "discharge": -1.0, "idle": 0.0}
    for row in intervals.itertuples(index=False):
        if row.mode not in sign:
            raise ValueError(f"TOU window at {row.start}: unknown mode {row.mode!r}")
        mask = (index >= row.start) & (index < row.end)
        out[mask] = sign[row.mode] * row.power_kw * dt_h
    return out
