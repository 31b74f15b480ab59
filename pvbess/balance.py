"""The energy balance table: :func:`simulate` runs a strategy on a site table.

The rules themselves are numba kernels in :mod:`pvbess.dispatch`; this module checks the input,
runs the kernel and returns one row per step with the columns documented in
:data:`pvbess.VARIABLES` (kind ``"balance"``). What the table needs of the index (step, local
clock, tariff periods and prices) is computed once per index object and reused, and the float
columns are built as one block, so a call costs little more than the kernel.

It also holds the one implementation of the energy identities of a balance table
(:data:`IDENTITIES`): :func:`balance_residuals` (per step), :func:`flow_residuals` (the flow
identities, also for sums of steps), :func:`max_residuals` (what the report records) and
:func:`check_balance` (raises on the first violation).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import dispatch as _d
from .battery import Battery

from .physics import removed_energy, resolve_charge_source, step_loss, stored_energy
from .rules import SixPhaseRules
from .tariff import Tariff
from .timeseries import DataError, check_energy_columns, local_hours, step_hours

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


#: How many index objects :func:`_calendar` remembers (the least recently used is dropped).
CALENDAR_CACHE_SIZE = 8
#: How many tariffs each remembered index keeps the columns of.
TARIFF_CACHE_SIZE = 4


@dataclass(frozen=True)
class _Calendar:
    """What :func:`simulate` needs of a site index, computed once per index object.

    A DatetimeIndex is immutable, so everything derived from it stays valid while the cache
    holds the index itself (which also keeps its ``id`` from being reused). No array leaves
    :func:`simulate`: the kernel reads ``hour_h``, the table gets copies. ``tariffs`` maps a
    tariff to its ``tariff_period`` column and energy prices.
    """

    index: pd.DatetimeIndex
    dt_h: float
    hour_h: np.ndarray
    tariffs: dict = field(default_factory=dict, compare=False)


_CALENDARS: OrderedDict[int, _Calendar] = OrderedDict()
_CALENDAR_LOCK = threading.Lock()


def _readonly(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False
    return values


def _calendar(index: pd.Index) -> _Calendar:
    """The step length and local clock of ``index``, from a small cache keyed by the object.

    Raises
    ------
    DataError
        The index is not regular and tz-aware (:func:`pvbess.timeseries.step_hours`); nothing
        is cached then.
    """
    key = id(index)
    with _CALENDAR_LOCK:
        cal = _CALENDARS.get(key)
        if cal is not None and cal.index is index:
            _CALENDARS.move_to_end(key)
            return cal
    # hour_h only goes to the kernel, which reads it (a read-only array would make numba
    # compile a second signature of the kernel)
    cal = _Calendar(index, step_hours(index),
                    np.ascontiguousarray(local_hours(index), dtype=np.float64))
    with _CALENDAR_LOCK:
        _CALENDARS[key] = cal
        _CALENDARS.move_to_end(key)
        while len(_CALENDARS) > CALENDAR_CACHE_SIZE:
            _CALENDARS.popitem(last=False)
    return cal


def _tariff_columns(cal: _Calendar, tariff: Tariff):
    """``tariff_period`` (a pandas string array, never handed out itself) and the energy price
    per step of ``cal.index`` under ``tariff``, computed once per (index, tariff)."""
    key = (type(tariff), tariff)
    with _CALENDAR_LOCK:
        got = cal.tariffs.get(key)
    if got is None:
        period = pd.Series(tariff.period(cal.index)).array
        price = _readonly(np.ascontiguousarray(tariff.energy_price(cal.index),
                                               dtype=np.float64))
        got = (period, price)
        with _CALENDAR_LOCK:
            cal.tariffs[key] = got
            while len(cal.tariffs) > TARIFF_CACHE_SIZE:
                cal.tariffs.pop(next(iter(cal.tariffs)))
    return got


def _input_arrays(site: pd.DataFrame) -> list[np.ndarray] | None:
    """The input columns as float arrays if they are numeric, finite and >= 0, else None
    (then :func:`pvbess.timeseries.check_energy_columns` says what is wrong)."""
    arrays = []
    for name in INPUT_COLUMNS:
        col = site.get(name)
        if not isinstance(col, pd.Series) or not pd.api.types.is_numeric_dtype(col):
            return None
        try:
            values = np.ascontiguousarray(col.to_numpy(dtype=np.float64))
        except (TypeError, ValueError):
            return None
        if not (np.isfinite(values).all() and (values >= 0.0).all()):
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
    dt = _calendar(site.index).dt_h
    arrays = _input_arrays(site)
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
             *, tariff: Tariff = Tariff(), co2_kg_per_kwh: float = 0.4521,  # noqa: B008
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
        Emission factor of grid imports. [kg/kWh]
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
    :data:`CALENDAR_CACHE_SIZE` seen (a DatetimeIndex cannot change), so repeated runs on one
    site cost little more than the kernel (about 1 ms for a year of hours against 0.25 ms;
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
    if not (isinstance(co2_kg_per_kwh, (int, float)) and np.isfinite(co2_kg_per_kwh)
            and co2_kg_per_kwh >= 0):
        raise ValueError(f"co2_kg_per_kwh = {co2_kg_per_kwh!r}: must be a finite number >= 0")
    pv, ev, mall, dt = site_arrays(site)
    index = site.index
    cal = _calendar(index)
    if strategy == "schedule":
        setpoint = _setpoint_array(setpoint_kwh, index)
    else:
        setpoint = np.zeros(len(index))
    source = ("surplus" if charge_source is None and allow_grid_charge is None
              else resolve_charge_source(charge_source, allow_grid_charge))
    p = _d.make_params(battery, rules, charge_source=source,
                       allow_battery_export=allow_battery_export)
    out = _d.run(_d.STRATEGY_CODES[strategy], pv, ev, mall, cal.hour_h, setpoint, dt, p)
    period, price = _tariff_columns(cal, tariff)
    frame = _balance_frame(index, pv, ev, mall, out, setpoint if strategy == "schedule" else None,
                           battery, period, price, float(co2_kg_per_kwh))
    frame.attrs.update({
        "strategy": strategy, "battery": battery.asdict(), "rules": rules.asdict(),
        "tariff": tariff.asdict(), "co2_kg_per_kwh": float(co2_kg_per_kwh), "dt_h": dt,
        "e_initial_kwh": battery.e_initial_kwh, "allow_grid_charge": source == "any",
        "charge_source": source,
        "allow_battery_export": bool(allow_battery_export),
    })
    return frame


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


# -- the energy identities ------------------------------------------------------------------------
#: Tolerance of the per-step energy identities. [kWh]
TOL_KWH = 1e-9

#: The energy identities of a balance table (../shared/specs/six_phase_dispatch.md), by the name
#: :func:`balance_residuals` and :func:`max_residuals` give each. The first six are linear in
#: the flows, so they also hold for sums of steps (:func:`flow_residuals`).
IDENTITIES: dict[str, str] = {
    "pv_split": "pv = pv_to_ev + pv_to_bess + pv_to_mall + pv_export + pv_curtailed",
    "ev_supply": "ev = pv_to_ev + bess_to_ev + grid_to_ev",
    "mall_supply": "mall = pv_to_mall + bess_to_mall + grid_to_mall",
    "grid_import": "grid_import = grid_to_ev + grid_to_mall + grid_to_bess",
    "charge_column": "bess_charge = pv_to_bess + grid_to_bess",
    "discharge_column": "bess_discharge = bess_to_ev + bess_to_mall + bess_export",
    "storage": "E_next = E + eta_c * bess_charge - bess_discharge / eta_d",
    "soc_bounds": "E_min <= E <= E_max",
    "charge_and_discharge": "min(bess_charge, bess_discharge) == 0 (no step charges and "
                            "discharges)",
    "charge_power": "bess_charge <= power_charge_kw * dt",
    "discharge_power": "bess_discharge <= power_discharge_kw * dt",
    "run_closure": "sum(pv) + sum(grid_import) + E_0 = sum(ev) + sum(mall) + sum(pv_export) "
                   "+ sum(bess_export) + sum(pv_curtailed) + sum(bess_loss) + E_final",
}

_FLOW_SUMS = {  # identity -> (left side, right side): left - right is its residual
    "pv_split": ("pv_kwh", ("pv_to_ev_kwh", "pv_to_bess_kwh", "pv_to_mall_kwh", "pv_export_kwh",
                            "pv_curtailed_kwh")),
    "ev_supply": ("ev_kwh", ("pv_to_ev_kwh", "bess_to_ev_kwh", "grid_to_ev_kwh")),
    "mall_supply": ("mall_kwh", ("pv_to_mall_kwh", "bess_to_mall_kwh", "grid_to_mall_kwh")),
    "grid_import": ("grid_import_kwh", ("grid_to_ev_kwh", "grid_to_mall_kwh", "grid_to_bess_kwh")),
    "charge_column": ("bess_charge_kwh", ("pv_to_bess_kwh", "grid_to_bess_kwh")),
    "discharge_column": ("bess_discharge_kwh", ("bess_to_ev_kwh", "bess_to_mall_kwh",
                                                "bess_export_kwh")),
}
_RUN_IN = ("pv_kwh", "grid_import_kwh")
_RUN_OUT = ("ev_kwh", "mall_kwh", "pv_export_kwh", "bess_export_kwh", "pv_curtailed_kwh",
            "bess_loss_kwh")


def _columns(table: pd.DataFrame, names) -> dict[str, np.ndarray]:
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise DataError(f"balance: column(s) {missing} [kWh per step] missing; a balance table "
                        f"has the columns of pvbess.balance.BALANCE_COLUMNS")
    return {n: table[n].to_numpy(dtype=float) for n in names}


def _run_specs(balance: pd.DataFrame) -> tuple[Battery, float, float]:
    """The battery, the step length [h] and the initial stored energy [kWh] of a run."""
    spec = balance.attrs.get("battery")
    if spec is None:
        raise DataError("balance: attrs['battery'] is missing (the run's battery: a table from "
                        "pvbess.simulate or pvbess.read_balance has it)")
    battery = spec if isinstance(spec, Battery) else Battery.from_dict(spec)
    dt = balance.attrs.get("dt_h")
    dt = float(dt) if dt else step_hours(balance.index)
    e0 = balance.attrs.get("e_initial_kwh")
    return battery, dt, float(e0) if e0 is not None else battery.e_initial_kwh


def flow_residuals(table: pd.DataFrame) -> pd.DataFrame:
    """Residuals of the six flow identities of :data:`IDENTITIES`, row by row. [kWh]

    ``pv_split``, ``ev_supply``, ``mall_supply``, ``grid_import``, ``charge_column`` and
    ``discharge_column``: left side minus right side. They are linear in the flows, so they hold
    for any rows with the balance columns: steps, or sums over steps (days, months, the designs
    of a sizing sweep).

    Parameters
    ----------
    table : DataFrame
        The flow columns of :data:`BALANCE_COLUMNS`. [kWh]

    Returns
    -------
    DataFrame
        ``table``'s index, one column per identity. [kWh]
    """
    names = {n for left, right in _FLOW_SUMS.values() for n in (left, *right)}
    c = _columns(table, sorted(names))
    out = {}
    for name, (left, right) in _FLOW_SUMS.items():
        total = c[right[0]] + c[right[1]]
        for extra in right[2:]:
            total = total + c[extra]
        out[name] = c[left] - total
    return pd.DataFrame(out, index=table.index)


def balance_residuals(balance: pd.DataFrame) -> pd.DataFrame:
    """Residual of every per-step energy identity of a balance table. [kWh]

    The one implementation of the identities of :data:`IDENTITIES` (all but ``run_closure``,
    which :func:`max_residuals` adds): :func:`check_balance`, :func:`max_residuals`, the report's
    ``summary.json`` and the notebooks' sanity cells all use it. Each identity holds when its
    residual is 0 (to :data:`TOL_KWH`).

    Parameters
    ----------
    balance : DataFrame
        A table from :func:`simulate` (or :func:`pvbess.read_balance`); its ``attrs`` give the
        battery (efficiencies, window, power limits), ``dt_h`` and ``e_initial_kwh``.

    Returns
    -------
    DataFrame
        The balance's index and one column per identity. [kWh]

    Notes
    -----
    Equalities give left side minus right side: the six flow identities of
    :func:`flow_residuals` and ``storage``, ``E - (E_prev + eta_c * bess_charge -
    bess_discharge / eta_d)`` with ``E = soe_end_kwh`` at the end of the step and ``E_prev`` at its
    start (``e_initial_kwh`` before the first step). Inequalities give the amount by which they
    are violated (0 when they hold): ``soc_bounds`` (distance of E outside [E_min, E_max]),
    ``charge_and_discharge`` (the smaller of the two), ``charge_power`` and ``discharge_power``
    (energy above ``P * dt``).

    Raises
    ------
    DataError
        A balance column or ``attrs['battery']`` is missing.

    Examples
    --------
    >>> import pandas as pd, pvbess
    >>> idx = pd.date_range("2024-01-01 06:00", periods=4, freq="h", tz="America/Lima")
    >>> site = pd.DataFrame({"pv_kwh": 500.0, "ev_kwh": 0.0, "mall_kwh": 100.0}, index=idx)
    >>> res = pvbess.balance_residuals(pvbess.simulate(site))
    >>> float(res.abs().max().max())
    0.0
    """
    res = flow_residuals(balance)
    battery, dt, e0 = _run_specs(balance)
    c = _columns(balance, ("bess_charge_kwh", "bess_discharge_kwh", "soe_end_kwh"))
    charge, discharge, e = c["bess_charge_kwh"], c["bess_discharge_kwh"], c["soe_end_kwh"]
    e_prev = np.concatenate([[e0], e[:-1]])
    res["storage"] = e - (e_prev + stored_energy(charge, battery.eta_charge)
                          - removed_energy(discharge, battery.eta_discharge))
    res["soc_bounds"] = np.maximum.reduce([battery.e_min_kwh - e, e - battery.e_max_kwh,
                                           np.zeros(len(e))])
    res["charge_and_discharge"] = np.minimum(charge, discharge)
    res["charge_power"] = np.maximum(charge - battery.power_charge_kw * dt, 0.0)
    res["discharge_power"] = np.maximum(discharge - battery.power_discharge_kw * dt, 0.0)
    return res


def _run_totals(balance: pd.DataFrame) -> tuple[float, float]:
    """Energy into and out of the site over the run (``run_closure``'s two sides). [kWh]"""
    _, _, e0 = _run_specs(balance)
    c = _columns(balance, (*_RUN_IN, *_RUN_OUT, "soe_end_kwh"))
    inflow = c["pv_kwh"].sum() + c["grid_import_kwh"].sum() + e0
    outflow = (c["ev_kwh"].sum() + c["mall_kwh"].sum() + c["pv_export_kwh"].sum()
               + c["bess_export_kwh"].sum() + c["pv_curtailed_kwh"].sum()
               + c["bess_loss_kwh"].sum() + (c["soe_end_kwh"][-1] if len(balance) else 0.0))
    return float(inflow), float(outflow)


def max_residuals(balance: pd.DataFrame) -> pd.Series:
    """The largest violation of each identity of :data:`IDENTITIES` over all steps. [kWh]

    The maximum absolute value of each column of :func:`balance_residuals` (NaN if a step is
    NaN), and ``run_closure``: the whole-run energy account ``|in - out|`` divided by the run's
    inflow (at least 1 kWh), so that it is comparable to :data:`TOL_KWH` per step. All should be
    <= :data:`TOL_KWH`; the report records them in ``summary.json``.

    Examples
    --------
    >>> import pandas as pd, pvbess
    >>> idx = pd.date_range("2024-01-01", periods=48, freq="h", tz="America/Lima")
    >>> site = pd.DataFrame({"pv_kwh": 0.0, "ev_kwh": 10.0, "mall_kwh": 100.0}, index=idx)
    >>> bool((pvbess.max_residuals(pvbess.simulate(site)) <= 1e-9).all())
    True
    """
    res = balance_residuals(balance)
    values = np.abs(res.to_numpy()).max(axis=0) if len(res) else np.zeros(res.shape[1])
    out = pd.Series(values, index=list(res.columns), dtype=float)
    inflow, outflow = _run_totals(balance)
    out["run_closure"] = abs(inflow - outflow) / max(inflow, 1.0)
    return out


def check_balance(balance: pd.DataFrame, tol_kwh: float = TOL_KWH) -> None:
    """Check a balance table; raise on the first violation, naming it and its step.

    In order (to ``tol_kwh`` per step): every flow >= 0; every identity of
    :func:`balance_residuals` (:data:`IDENTITIES`); the derived columns ``bess_loss_kwh`` =
    ``(1 - eta_c) * bess_charge + bess_discharge * (1/eta_d - 1)`` and ``soc_frac`` =
    ``soe_end_kwh / capacity_kwh``; exports within ``export_limit_kw * dt``; no grid charging and no
    battery export unless the run allowed them; and the whole-run identity ``run_closure`` (to
    ``tol_kwh`` per step).

    Parameters
    ----------
    balance : DataFrame
        A table from :func:`simulate` (its ``attrs`` give the battery and the rules).
    tol_kwh : float
        Tolerance per step. [kWh]

    Raises
    ------
    DataError
        Names the identity, the size of the error, the first offending row and its timestamp.
    """
    battery, dt, _ = _run_specs(balance)
    rules = SixPhaseRules.from_dict(balance.attrs["rules"])
    c = _columns(balance, [n for n in BALANCE_COLUMNS
                           if n.endswith("_kwh") and not n.startswith("setpoint")])
    index = balance.index

    def fail(what: str, residual: np.ndarray) -> None:
        bad = np.flatnonzero(~(np.abs(residual) <= tol_kwh))
        if bad.size:
            i = int(bad[0])
            raise DataError(f"balance: {what} violated by {residual[i]!r} kWh at row {i} "
                            f"({index[i]})")

    for name, values in c.items():
        if name != "soe_end_kwh":
            fail(f"{name} >= 0", np.minimum(values, 0.0))
    for name, residual in balance_residuals(balance).items():
        fail(f"{IDENTITIES[name]} [{name}]", residual.to_numpy())
    charge, discharge, soc = c["bess_charge_kwh"], c["bess_discharge_kwh"], c["soe_end_kwh"]
    eta_c, eta_d = battery.eta_charge, battery.eta_discharge
    fail("bess_loss = (1 - eta_c) * charge + discharge * (1/eta_d - 1)",
         c["bess_loss_kwh"] - step_loss(charge, discharge, eta_c, eta_d))
    if battery.capacity_kwh > 0:
        fail("soc_frac = soe_end_kwh / capacity_kwh (x capacity)",
             (balance["soc_frac"].to_numpy(dtype=float) - soc / battery.capacity_kwh)
             * battery.capacity_kwh)
    fail("pv_export + bess_export <= export_limit_kw * dt",
         np.maximum(c["pv_export_kwh"] + c["bess_export_kwh"] - rules.export_limit_kw * dt, 0.0))
    if not balance.attrs.get("allow_grid_charge", False):
        fail("no grid charging (grid_to_bess == 0)", c["grid_to_bess_kwh"])
    if not balance.attrs.get("allow_battery_export", False):
        fail("no battery export (bess_export == 0)", c["bess_export_kwh"])
    inflow, outflow = _run_totals(balance)
    if not abs(inflow - outflow) <= tol_kwh * max(len(soc), 1):
        raise DataError(f"balance: whole-run energy identity {IDENTITIES['run_closure']} "
                        f"[run_closure] violated by {inflow - outflow!r} kWh (in {inflow!r}, "
                        f"out {outflow!r})")
