"""The energy identities of a balance table, in one implementation.

:data:`IDENTITIES` names them (../shared/specs/six_phase_dispatch.md); :func:`balance_residuals`
gives each one's residual per step, :func:`flow_residuals` the flow identities (also for sums of
steps), :func:`max_residuals` what the report records and :func:`check_balance` raises on the
first violation. :func:`check_balance`, the report's ``summary.json`` and the notebooks' sanity
cells all use them; the run's battery and rules come from :func:`pvbess.run_specs`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .balance import BALANCE_COLUMNS
from .physics import removed_energy, step_loss, stored_energy
from .balance_specs import RunSpecs, run_specs
from .timeseries import DataError

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
        A table from :func:`pvbess.simulate` (or :func:`pvbess.read_balance`); its ``attrs`` give the
        battery (efficiencies, window, power limits), ``dt_h`` and ``e_initial_kwh``
        (:func:`pvbess.run_specs`).

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
        A balance column or a spec of the run (:func:`pvbess.run_specs`) is missing.

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
    specs = run_specs(balance)
    battery, dt, e0 = specs.battery, specs.dt_h, specs.e_initial_kwh
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


def _run_totals(balance: pd.DataFrame, specs: RunSpecs) -> tuple[float, float]:
    """Energy into and out of the site over the run (``run_closure``'s two sides). [kWh]"""
    e0 = specs.e_initial_kwh
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
    inflow, outflow = _run_totals(balance, run_specs(balance))
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
        A table from :func:`pvbess.simulate` (its ``attrs`` give the battery and the rules).
    tol_kwh : float
        Tolerance per step. [kWh]

    Raises
    ------
    DataError
        Names the identity, the size of the error, the first offending row and its timestamp;
        or the missing specs of the run (:func:`pvbess.run_specs`).
    """
    specs = run_specs(balance)
    battery, rules, dt = specs.battery, specs.rules, specs.dt_h
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
    if not specs.allow_grid_charge:
        fail("no grid charging (grid_to_bess == 0)", c["grid_to_bess_kwh"])
    if not specs.allow_battery_export:
        fail("no battery export (bess_export == 0)", c["bess_export_kwh"])
    inflow, outflow = _run_totals(balance, specs)
    if not abs(inflow - outflow) <= tol_kwh * max(len(soc), 1):
        raise DataError(f"balance: whole-run energy identity {IDENTITIES['run_closure']} "
                        f"[run_closure] violated by {inflow - outflow!r} kWh (in {inflow!r}, "
                        f"out {outflow!r})")
