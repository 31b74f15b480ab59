"""The energy balance table: :func:`simulate` runs a strategy on a site table.

The rules themselves are numba kernels in :mod:`pvbess.dispatch`; this module checks the input,
runs the kernel and returns one row per step with the columns documented in
:data:`pvbess.VARIABLES` (kind ``"balance"``). What the table needs of the index (step, local
clock, tariff periods and prices) is computed once per index object and reused, and the float
columns are built as one block, so a call costs little more than the kernel.

The energy identities of the table are in :mod:`pvbess.identities`; the index's calendar in
:mod:`pvbess.step_calendar` (shared with :func:`pvbess.kpis`).
"""

from __future__ import annotations

import functools
import numbers

import numpy as np
import pandas as pd

from . import dispatch as _d
from .battery import Battery

from .physics import resolve_charge_source, step_loss
from .rules import SixPhaseRules
from .site import Site
from .step_calendar import step_calendar
from .tariff import Tariff
from .timeseries import MAX_SITE_POWER_KW, DataError, check_energy_columns

#: The strategies :func:`simulate` knows, with a one-line description.
STRATEGIES: dict[str, str] = {
    "six_phase": "the Iquitos six-phase rules (../shared/specs/six_phase_dispatch.md)",
    "grid_only": "no PV and no battery: the grid serves EV and mall (PV counted as curtailed)",
    "pv_only": "PV -> EV -> mall -> export, no battery (battery idle at its initial energy)",
    "self_consumption": "charge from any PV surplus, discharge into any EV/mall deficit",
    "schedule": "follow a per-step AC battery setpoint (+charge, -discharge), clipped by physics",
}

INPUT_COLUMNS = ("pv_kwh", "ev_kwh", "mall_kwh")

#: Columns of the balance table, in order (every strategy returns all of them).
BALANCE_COLUMNS = (
    "pv_kwh", "ev_kwh", "mall_kwh",
    "pv_to_ev_kwh", "pv_to_bess_kwh", "pv_to_mall_kwh", "pv_export_kwh", "pv_curtailed_kwh",
    "bess_to_ev_kwh", "bess_to_mall_kwh", "bess_export_kwh",
    "grid_to_ev_kwh", "grid_to_mall_kwh", "grid_to_bess_kwh", "grid_import_kwh",
    "bess_charge_kwh", "bess_discharge_kwh", "bess_loss_kwh",
    "soe_end_kwh", "soc_frac", "phase",
    "setpoint_kwh", "setpoint_deviation_kwh",
    "tariff_period", "energy_price_pen_per_kwh", "energy_cost_pen", "co2_kg",
)

_OUT_NAMES = {
    _d.O_PV_EV: "pv_to_ev_kwh", _d.O_PV_BESS: "pv_to_bess_kwh", _d.O_PV_MALL: "pv_to_mall_kwh",
    _d.O_PV_EXPORT: "pv_export_kwh", _d.O_PV_CURT: "pv_curtailed_kwh",
    _d.O_BESS_EV: "bess_to_ev_kwh", _d.O_BESS_MALL: "bess_to_mall_kwh",
    _d.O_BESS_EXPORT: "bess_export_kwh", _d.O_GRID_EV: "grid_to_ev_kwh",
    _d.O_GRID_MALL: "grid_to_mall_kwh", _d.O_GRID_BESS: "grid_to_bess_kwh", _d.O_SOC: "soe_end_kwh",
}
#: The float columns, in table order (one block); ``phase`` and ``tariff_period`` go in between.
_FLOAT_COLUMNS = tuple(c for c in BALANCE_COLUMNS if c not in ("phase", "tariff_period"))
_PHASE_AT = BALANCE_COLUMNS.index("phase")
_PERIOD_AT = BALANCE_COLUMNS.index("tariff_period")
_FLOAT_AT = np.array([BALANCE_COLUMNS.index(c) for c in _FLOAT_COLUMNS])
_COLUMN_INDEX = pd.Index(BALANCE_COLUMNS)
try:  # a DataFrame straight from its blocks (recent pandas): 0.2 ms less for a year of hours
    from pandas.api.internals import create_dataframe_from_blocks as _from_blocks
except ImportError:  # pragma: no cover - older pandas: the constructor and two inserts
    _from_blocks = None


def _input_arrays(site: pd.DataFrame, dt: float) -> list[np.ndarray] | None:
    """The input columns as float arrays if they are numeric, finite, >= 0 and below the
    ceiling, else None (then :func:`pvbess.timeseries.check_energy_columns` says what is
    wrong)."""
    arrays = []
    for name in INPUT_COLUMNS:
        col = site.get(name)
        if not isinstance(col, pd.Series) or not pd.api.types.is_numeric_dtype(col):
            return None
        try:
            values = np.ascontiguousarray(col.to_numpy(dtype=np.float64))
        except (TypeError, ValueError):
            return None
        # min and max are NaN if any value is, and a NaN compares False: one pass each
        if not (values.min() >= 0.0 and values.max() <= MAX_SITE_POWER_KW * dt):
            return None
        arrays.append(values)
    return arrays


def site_arrays(site: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``(pv, ev, mall, dt_h)`` of a site table, checked (kWh per step, regular index)."""
    if not isinstance(site, pd.DataFrame):
        raise DataError(f"site: expected a DataFrame with columns {list(INPUT_COLUMNS)}, "
                        f"got {type(site).__name__}")
    if len(site) == 0:
        raise DataError(f"site: the table has no rows (need {list(INPUT_COLUMNS)} per step)")
    dt = step_calendar(site.index).dt_h
    arrays = _input_arrays(site, dt)
    if arrays is None:
        check_energy_columns(site, INPUT_COLUMNS, unit="kWh per step")  # raises, naming the row
        arrays = [np.ascontiguousarray(site[c].to_numpy(dtype=np.float64))
                  for c in INPUT_COLUMNS]
    pv, ev, mall = arrays
    return pv, ev, mall, dt


def _setpoint_array(setpoint_kwh, index: pd.DatetimeIndex) -> np.ndarray:
    if setpoint_kwh is None:
        raise DataError("setpoint_kwh [kWh per step]: the 'schedule' strategy needs a setpoint "
                        "(AC energy per step, + charge, - discharge)")
    if isinstance(setpoint_kwh, pd.Series):
        if not setpoint_kwh.index.equals(index):
            raise DataError("setpoint_kwh [kWh per step]: its index differs from the site index")
        values = setpoint_kwh.to_numpy(dtype=np.float64)
    else:
        values = np.asarray(setpoint_kwh, dtype=np.float64)
    if values.shape != (len(index),):
        raise DataError(f"setpoint_kwh [kWh per step]: expected {len(index)} values, "
                        f"got shape {values.shape}")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"setpoint_kwh [kWh per step]: {values[i]} (missing or infinite) at "
                        f"row {i} ({index[i]})")
    return np.ascontiguousarray(values)


def simulate(site: pd.DataFrame, battery: Battery = Battery(),  # noqa: B008 - frozen specs
             rules: SixPhaseRules = SixPhaseRules(), strategy: str = "six_phase",  # noqa: B008
             *, tariff: Tariff = Tariff(), co2_kg_per_kwh: float = Site.co2_kg_per_kwh,  # noqa: B008
             setpoint_kwh=None, charge_source: str | None = None,
             allow_grid_charge: bool | None = None,
             allow_battery_export: bool = False) -> pd.DataFrame:
    """Run a dispatch strategy on a site table and return the energy balance per step.

    Parameters
    ----------
    site : DataFrame
        ``pv_kwh``, ``ev_kwh``, ``mall_kwh`` (energy per step, >= 0) on a regular tz-aware
        DatetimeIndex; the rules read the local clock of that index. [kWh]
    battery : Battery
        The battery (power limits apply per step as ``P * dt``).
    rules : SixPhaseRules
        Clock hours and thresholds; ``export_limit_kw`` applies to every strategy that exports.
    strategy : str
        One of :data:`STRATEGIES`.
    tariff : Tariff
        Energy prices for ``tariff_period``, ``energy_price_pen_per_kwh``, ``energy_cost_pen``.
    co2_kg_per_kwh : float
        Emission factor of grid imports (default: the :class:`pvbess.Site` default). [kg/kWh]
    setpoint_kwh : array-like or Series, optional
        ``schedule`` only: AC battery energy per step, + charge, - discharge. [kWh]
    charge_source : {"any", "pv", "surplus"}, optional
        ``schedule`` only: where the battery may charge from (:data:`pvbess.CHARGE_SOURCES`);
        default ``"surplus"`` (the PV left after EV and mall). With ``"pv"`` the PV charges the
        battery before it serves EV and mall, as the six-phase rules charge.
    allow_grid_charge : bool, optional
        The older spelling: True is ``charge_source="any"``, False ``"surplus"``.
    allow_battery_export : bool
        ``schedule`` only: let the battery export to the grid.

    Returns
    -------
    DataFrame
        The input index and the columns of :data:`BALANCE_COLUMNS` (documented in
        :data:`pvbess.VARIABLES`). ``attrs`` holds ``strategy``, ``battery``, ``rules``, ``tariff``
        (dicts), ``co2_kg_per_kwh``, ``dt_h``, ``e_initial_kwh``, ``allow_grid_charge`` and
        ``allow_battery_export``.

    Raises
    ------
    DataError
        Bad input (the message names the column, the row and the unit).
    ValueError
        Unknown strategy or options that the strategy does not support.

    Notes
    -----
    The step, the local clock and the tariff columns of ``site.index`` are computed on the first
    call and reused while the same index object is among the last
    :data:`pvbess.step_calendar.CALENDAR_CACHE_SIZE` seen (a DatetimeIndex cannot change), so
    repeated runs on one site cost little more than the kernel (about 1 ms for a year of hours against 0.25 ms;
    ``benchmarks/bench_simulate.py``).

    Examples
    --------
    >>> import pandas as pd, pvbess
    >>> idx = pd.date_range("2024-01-01", periods=48, freq="h", tz="America/Lima")
    >>> site = pd.DataFrame({"pv_kwh": 0.0, "ev_kwh": 0.0, "mall_kwh": 100.0}, index=idx)
    >>> b = pvbess.simulate(site)
    >>> float(b["grid_import_kwh"].sum())
    4800.0
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy = {strategy!r}: must be one of {sorted(STRATEGIES)}")
    if strategy != "schedule":
        if setpoint_kwh is not None:
            raise ValueError(f"setpoint_kwh is only used by strategy 'schedule', not {strategy!r}")
        if allow_grid_charge or allow_battery_export or charge_source is not None:
            raise ValueError("charge_source / allow_grid_charge / allow_battery_export apply to "
                             f"strategy 'schedule' only, not {strategy!r}")
    if isinstance(co2_kg_per_kwh, bool) or not (  # any real number, numpy's too
            isinstance(co2_kg_per_kwh, numbers.Real) and np.isfinite(co2_kg_per_kwh)
            and co2_kg_per_kwh >= 0):
        raise ValueError(f"co2_kg_per_kwh = {co2_kg_per_kwh!r}: must be a finite number >= 0")
    pv, ev, mall, dt = site_arrays(site)
    index = site.index
    cal = step_calendar(index)
    if strategy == "schedule":
        setpoint = _setpoint_array(setpoint_kwh, index)
    else:
        setpoint = np.zeros(len(index))
    source = ("surplus" if charge_source is None and allow_grid_charge is None
              else resolve_charge_source(charge_source, allow_grid_charge))
    p, specs = _run_setup(battery, rules, tariff, source, bool(allow_battery_export))
    out = _d.run(_d.STRATEGY_CODES[strategy], pv, ev, mall, cal.hour_h, setpoint, dt, p)
    period, price, _ = cal.tariff_columns(tariff)
    frame = _balance_frame(index, pv, ev, mall, out, setpoint if strategy == "schedule" else None,
                           battery, period, price, float(co2_kg_per_kwh))
    frame.attrs.update({
        "strategy": strategy, **{name: dict(values) for name, values in specs.items()},
        "co2_kg_per_kwh": float(co2_kg_per_kwh), "dt_h": dt,
        "e_initial_kwh": battery.e_initial_kwh, "allow_grid_charge": source == "any",
        "charge_source": source,
        "allow_battery_export": bool(allow_battery_export),
    })
    return frame


@functools.lru_cache(maxsize=64)
def _run_setup(battery: Battery, rules: SixPhaseRules, tariff: Tariff, charge_source: str,
               allow_battery_export: bool) -> tuple[np.ndarray, dict[str, dict]]:
    """The kernel's parameter vector and the specs as dicts, once per (frozen) spec set: a
    sweep or a notebook runs the same specs many times. The caller copies the dicts; the
    kernel only reads the vector."""
    p = _d.make_params(battery, rules, charge_source=charge_source,
                       allow_battery_export=allow_battery_export)
    return p, {"battery": battery.asdict(), "rules": rules.asdict(), "tariff": tariff.asdict()}


def _balance_frame(index: pd.DatetimeIndex, pv: np.ndarray, ev: np.ndarray, mall: np.ndarray,
                   out: np.ndarray, setpoint: np.ndarray | None, battery: Battery,
                   period, price: np.ndarray, co2_kg_per_kwh: float) -> pd.DataFrame:
    """The balance table from the kernel's output rows, built as one float block.

    Every float column is a row of one 2-D array (the layout pandas stores), computed in place
    with the same arithmetic, in the same order, as the column definitions in
    :data:`pvbess.VARIABLES`; ``phase`` (int8) and ``tariff_period`` (strings, a copy of the
    cached column) are inserted once.
    """
    block = np.empty((len(_FLOAT_COLUMNS), len(index)))
    col = dict(zip(_FLOAT_COLUMNS, block, strict=True))  # row views, written in place
    col["pv_kwh"][:] = pv
    col["ev_kwh"][:] = ev
    col["mall_kwh"][:] = mall
    for row, name in _OUT_NAMES.items():
        col[name][:] = out[row]
    grid_import = np.add(col["grid_to_ev_kwh"], col["grid_to_mall_kwh"],
                         out=col["grid_import_kwh"])
    grid_import += col["grid_to_bess_kwh"]
    charge = np.add(col["pv_to_bess_kwh"], col["grid_to_bess_kwh"], out=col["bess_charge_kwh"])
    discharge = np.add(col["bess_to_ev_kwh"], col["bess_to_mall_kwh"],
                       out=col["bess_discharge_kwh"])
    discharge += col["bess_export_kwh"]
    col["bess_loss_kwh"][:] = step_loss(charge, discharge, battery.eta_charge,
                                        battery.eta_discharge)
    if battery.capacity_kwh > 0:
        np.divide(col["soe_end_kwh"], battery.capacity_kwh, out=col["soc_frac"])
    else:
        col["soc_frac"][:] = 0.0
    if setpoint is not None:
        col["setpoint_kwh"][:] = setpoint
        deviation = np.subtract(charge, discharge, out=col["setpoint_deviation_kwh"])
        deviation -= setpoint
    else:
        col["setpoint_kwh"][:] = np.nan
        col["setpoint_deviation_kwh"][:] = np.nan
    col["energy_price_pen_per_kwh"][:] = price
    np.multiply(grid_import, price, out=col["energy_cost_pen"])
    np.multiply(grid_import, co2_kg_per_kwh, out=col["co2_kg"])
    phase = out[_d.O_PHASE].astype(np.int8)
    if _from_blocks is not None:  # the three blocks as they are: no copy, no type inference
        return _from_blocks([(block, _FLOAT_AT), (phase[np.newaxis, :], np.array([_PHASE_AT])),
                             (period.copy(), np.array([_PERIOD_AT]))], index,
                            _COLUMN_INDEX.copy())  # a frame's own columns (a name can be set)
    frame = pd.DataFrame(block.T, index=index, columns=list(_FLOAT_COLUMNS), copy=False)
    frame.insert(_PHASE_AT, "phase", phase)
    frame.insert(_PERIOD_AT, "tariff_period", period.copy())
    return frame
