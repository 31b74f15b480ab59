"""The energy balance table: :func:`simulate` runs a strategy on a site table.

The rules themselves are numba kernels in :mod:`pvbess.dispatch`; this module checks the input,
runs the kernel and returns one row per step with the columns documented in
:data:`pvbess.VARIABLES` (kind ``"balance"``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import dispatch as _d
from .battery import Battery
from .physics import removed_energy, step_loss, stored_energy
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
    "soc_kwh", "soc_frac", "phase",
    "setpoint_kwh", "setpoint_deviation_kwh",
    "tariff_period", "energy_price_pen_per_kwh", "energy_cost_pen", "co2_kg",
)

_OUT_NAMES = {
    _d.O_PV_EV: "pv_to_ev_kwh", _d.O_PV_BESS: "pv_to_bess_kwh", _d.O_PV_MALL: "pv_to_mall_kwh",
    _d.O_PV_EXPORT: "pv_export_kwh", _d.O_PV_CURT: "pv_curtailed_kwh",
    _d.O_BESS_EV: "bess_to_ev_kwh", _d.O_BESS_MALL: "bess_to_mall_kwh",
    _d.O_BESS_EXPORT: "bess_export_kwh", _d.O_GRID_EV: "grid_to_ev_kwh",
    _d.O_GRID_MALL: "grid_to_mall_kwh", _d.O_GRID_BESS: "grid_to_bess_kwh", _d.O_SOC: "soc_kwh",
}


def _site_arrays(site: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    if not isinstance(site, pd.DataFrame):
        raise DataError(f"site: expected a DataFrame with columns {list(INPUT_COLUMNS)}, "
                        f"got {type(site).__name__}")
    if len(site) == 0:
        raise DataError(f"site: the table has no rows (need {list(INPUT_COLUMNS)} per step)")
    dt = step_hours(site.index)
    check_energy_columns(site, INPUT_COLUMNS, unit="kWh per step")
    pv, ev, mall = (np.ascontiguousarray(site[c].to_numpy(dtype=np.float64))
                    for c in INPUT_COLUMNS)
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
             setpoint_kwh=None, allow_grid_charge: bool = False,
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
    allow_grid_charge, allow_battery_export : bool
        ``schedule`` only: let the battery charge from the grid / export to the grid.

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
        if allow_grid_charge or allow_battery_export:
            raise ValueError("allow_grid_charge / allow_battery_export apply to strategy "
                             f"'schedule' only, not {strategy!r}")
    if not (isinstance(co2_kg_per_kwh, (int, float)) and np.isfinite(co2_kg_per_kwh)
            and co2_kg_per_kwh >= 0):
        raise ValueError(f"co2_kg_per_kwh = {co2_kg_per_kwh!r}: must be a finite number >= 0")
    pv, ev, mall, dt = _site_arrays(site)
    index = site.index
    hour = np.ascontiguousarray(local_hours(index))
    if strategy == "schedule":
        setpoint = _setpoint_array(setpoint_kwh, index)
    else:
        setpoint = np.zeros(len(index))
    p = _d.make_params(battery, rules, allow_grid_charge=allow_grid_charge,
                       allow_battery_export=allow_battery_export)
    out = _d.run(_d.STRATEGY_CODES[strategy], pv, ev, mall, hour, setpoint, dt, p)

    cols: dict[str, np.ndarray] = {"pv_kwh": pv, "ev_kwh": ev, "mall_kwh": mall}
    for row, name in _OUT_NAMES.items():
        cols[name] = out[row]
    cols["grid_import_kwh"] = (cols["grid_to_ev_kwh"] + cols["grid_to_mall_kwh"]
                               + cols["grid_to_bess_kwh"])
    charge = cols["pv_to_bess_kwh"] + cols["grid_to_bess_kwh"]
    discharge = cols["bess_to_ev_kwh"] + cols["bess_to_mall_kwh"] + cols["bess_export_kwh"]
    cols["bess_charge_kwh"] = charge
    cols["bess_discharge_kwh"] = discharge
    cols["bess_loss_kwh"] = step_loss(charge, discharge, battery.eta_charge, battery.eta_discharge)
    cap = battery.capacity_kwh
    cols["soc_frac"] = out[_d.O_SOC] / cap if cap > 0 else np.zeros(len(index))
    cols["phase"] = out[_d.O_PHASE].astype(np.int8)
    if strategy == "schedule":
        cols["setpoint_kwh"] = setpoint
        cols["setpoint_deviation_kwh"] = (charge - discharge) - setpoint
    else:
        cols["setpoint_kwh"] = np.full(len(index), np.nan)
        cols["setpoint_deviation_kwh"] = np.full(len(index), np.nan)
    cols["tariff_period"] = tariff.period(index)
    price = tariff.energy_price(index)
    cols["energy_price_pen_per_kwh"] = price
    cols["energy_cost_pen"] = cols["grid_import_kwh"] * price
    cols["co2_kg"] = cols["grid_import_kwh"] * float(co2_kg_per_kwh)
    frame = pd.DataFrame({name: cols[name] for name in BALANCE_COLUMNS}, index=index)
    frame.attrs.update({
        "strategy": strategy, "battery": battery.asdict(), "rules": rules.asdict(),
        "tariff": tariff.asdict(), "co2_kg_per_kwh": float(co2_kg_per_kwh), "dt_h": dt,
        "e_initial_kwh": battery.e_initial_kwh, "allow_grid_charge": bool(allow_grid_charge),
        "allow_battery_export": bool(allow_battery_export),
    })
    return frame


def check_balance(balance: pd.DataFrame, tol_kwh: float = 1e-9) -> None:
    """Check every energy identity of a balance table; raise on the first violation.

    The checks (to ``tol_kwh`` per step): all flows >= 0; the PV, EV, mall, grid and battery
    splits add up; ``E_next = E + eta_c * bess_charge - bess_discharge / eta_d`` with
    ``E_min <= E <= E_max``; no step both charges and discharges; charge and discharge within
    ``P * dt``; exports within ``export_limit_kw * dt``; no grid charging and no battery export
    unless the run allowed them; and over the whole run ``sum(pv) + sum(grid_import) + E_0 =
    sum(ev) + sum(mall) + sum(pv_export) + sum(bess_export) + sum(pv_curtailed) + sum(bess_loss)
    + E_final`` (to ``tol_kwh`` per step, summed exactly with ``math.fsum``).

    Parameters
    ----------
    balance : DataFrame
        A table from :func:`simulate` (its ``attrs`` give the battery and the rules).
    tol_kwh : float
        Tolerance per step. [kWh]

    Raises
    ------
    DataError
        Names the identity, the first offending row and the size of the error.
    """
    import math

    battery = Battery.from_dict(balance.attrs["battery"])
    rules = SixPhaseRules.from_dict(balance.attrs["rules"])
    dt = float(balance.attrs["dt_h"])
    c = {name: balance[name].to_numpy(dtype=float) for name in BALANCE_COLUMNS
         if name.endswith("_kwh") and not name.startswith("setpoint")}
    index = balance.index

    def fail(what: str, residual: np.ndarray) -> None:
        bad = np.flatnonzero(~(np.abs(residual) <= tol_kwh))
        if bad.size:
            i = int(bad[0])
            raise DataError(f"balance: {what} violated by {residual[i]!r} kWh at row {i} "
                            f"({index[i]})")

    for name, values in c.items():
        if name != "soc_kwh":
            fail(f"{name} >= 0", np.minimum(values, 0.0))
    fail("pv = pv_to_ev + pv_to_bess + pv_to_mall + pv_export + pv_curtailed",
         c["pv_kwh"] - (c["pv_to_ev_kwh"] + c["pv_to_bess_kwh"] + c["pv_to_mall_kwh"]
                        + c["pv_export_kwh"] + c["pv_curtailed_kwh"]))
    fail("ev = pv_to_ev + bess_to_ev + grid_to_ev",
         c["ev_kwh"] - (c["pv_to_ev_kwh"] + c["bess_to_ev_kwh"] + c["grid_to_ev_kwh"]))
    fail("mall = pv_to_mall + bess_to_mall + grid_to_mall",
         c["mall_kwh"] - (c["pv_to_mall_kwh"] + c["bess_to_mall_kwh"] + c["grid_to_mall_kwh"]))
    fail("grid_import = grid_to_ev + grid_to_mall + grid_to_bess",
         c["grid_import_kwh"] - (c["grid_to_ev_kwh"] + c["grid_to_mall_kwh"]
                                 + c["grid_to_bess_kwh"]))
    charge, discharge = c["bess_charge_kwh"], c["bess_discharge_kwh"]
    fail("bess_charge = pv_to_bess + grid_to_bess",
         charge - (c["pv_to_bess_kwh"] + c["grid_to_bess_kwh"]))
    fail("bess_discharge = bess_to_ev + bess_to_mall + bess_export",
         discharge - (c["bess_to_ev_kwh"] + c["bess_to_mall_kwh"] + c["bess_export_kwh"]))
    eta_c, eta_d = battery.eta_charge, battery.eta_discharge
    fail("bess_loss = (1 - eta_c) * charge + discharge * (1/eta_d - 1)",
         c["bess_loss_kwh"] - step_loss(charge, discharge, eta_c, eta_d))
    e0 = float(balance.attrs.get("e_initial_kwh", battery.e_initial_kwh))
    soc = c["soc_kwh"]
    e_prev = np.concatenate(([e0], soc[:-1]))
    fail("E_next = E + eta_c * charge - discharge / eta_d",
         soc - (e_prev + stored_energy(charge, eta_c) - removed_energy(discharge, eta_d)))
    fail("E >= E_min", np.minimum(soc - battery.e_min_kwh, 0.0))
    fail("E <= E_max", np.maximum(soc - battery.e_max_kwh, 0.0))
    fail("charge * discharge == 0 (no step charges and discharges)",
         np.minimum(charge, discharge))
    fail("bess_charge <= power_charge_kw * dt",
         np.maximum(charge - battery.power_charge_kw * dt, 0.0))
    fail("bess_discharge <= power_discharge_kw * dt",
         np.maximum(discharge - battery.power_discharge_kw * dt, 0.0))
    fail("pv_export + bess_export <= export_limit_kw * dt",
         np.maximum(c["pv_export_kwh"] + c["bess_export_kwh"] - rules.export_limit_kw * dt, 0.0))
    if not balance.attrs.get("allow_grid_charge", False):
        fail("no grid charging (grid_to_bess == 0)", c["grid_to_bess_kwh"])
    if not balance.attrs.get("allow_battery_export", False):
        fail("no battery export (bess_export == 0)", c["bess_export_kwh"])
    if battery.capacity_kwh > 0:
        fail("soc_frac = soc_kwh / capacity_kwh (x capacity)",
             (balance["soc_frac"].to_numpy(dtype=float) - soc / battery.capacity_kwh)
             * battery.capacity_kwh)
    e_final = float(soc[-1]) if len(soc) else e0
    inflow = math.fsum(c["pv_kwh"]) + math.fsum(c["grid_import_kwh"]) + e0
    outflow = math.fsum(np.concatenate([c[k] for k in (
        "ev_kwh", "mall_kwh", "pv_export_kwh", "bess_export_kwh", "pv_curtailed_kwh",
        "bess_loss_kwh")])) + e_final
    if not abs(inflow - outflow) <= tol_kwh * max(len(soc), 1):
        raise DataError(f"balance: whole-run energy identity violated by {inflow - outflow!r} kWh "
                        f"(in {inflow!r}, out {outflow!r})")
