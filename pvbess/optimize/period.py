"""The period model of the scheduling problem: one period's cost and flows for a change of
stored energy, and the exact breakpoints where that cost changes slope or stops being feasible.

The DP (:mod:`pvbess.optimize.dp`) and the plan evaluator (:mod:`pvbess.optimize.result`) both
score moves with these functions, so the referee and the optimizer agree by construction. The
cap search prices a block's moves from their meter nets, stored once (``_move_nets``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..physics import (
    ac_flows,
    charge_bound,
    discharge_bound,
    import_cap,
    meter,
    meter_cost,
    removed_energy,
    stored_energy,
    surplus_deficit,
    wear_cost,
    within_limits,
)

_TOL = 1e-9


@njit(cache=True, inline="always")
def _period_inline(delta, load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
                   grid_charge, batt_export, curtail, icap, ipen):
    """:func:`_period`, inlined into its caller: for the kernels' loops over the grid moves,
    where a call (18 arguments, the tuple returned through memory) costs as much as the period
    model itself (numba does not inline ``_period``: it is too large for LLVM's inliner)."""
    c, d = ac_flows(delta, eta_c, eta_d)
    surplus, deficit = surplus_deficit(load, pv)
    if not within_limits(c, d, pv, surplus, deficit, cmax, dmax, grid_charge, batt_export):
        return np.inf, c, d, 0.0, 0.0, 0.0
    imp, exp, u, ok = meter(c, d, load, pv, buy, sell, xlim, ilim, acap, curtail, grid_charge,
                            icap, ipen)
    if not ok:
        return np.inf, c, d, imp, exp, u
    cost = meter_cost(imp - exp, buy, sell, icap, ipen)
    if delta > 0.0:
        cost += wear_cost(delta, wear)
    return cost, c, d, imp, exp, u


@njit(cache=True)
def _period(delta, load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
            grid_charge, batt_export, curtail, icap=np.inf, ipen=np.inf):
    """Cost and flows of one period for a change ``delta`` of stored energy.

    The AC flows of ``delta`` (:func:`~pvbess.physics.ac_flows`), checked against the power
    limits and options (:func:`~pvbess.physics.within_limits`), through the one site meter
    (:func:`~pvbess.physics.meter`); the cost is ``imp * buy - exp * sell`` plus the wear of the
    energy stored (:func:`~pvbess.physics.wear_cost`).

    ``grid_charge`` is the charge-source code (:data:`pvbess.physics.CHARGE_CODES`). ``icap`` is
    an import cap [kWh per period] of the full-bill search: with ``ipen = inf`` it is hard (a
    move that imports more is infeasible, so the cap can force the battery to discharge); with
    a finite ``ipen`` each kWh above it costs ``ipen`` more (the cost stays convex).

    Returns ``(cost, c, d, imp, exp, u)``: the period cost (``inf`` if infeasible), AC charge,
    AC discharge, grid import, grid export and curtailed PV, all in kWh per period.
    """
    return _period_inline(delta, load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax,
                          wear, grid_charge, batt_export, curtail, icap, ipen)


#: room for the exact breakpoint moves of one period (see ``_breakpoints``)
_NBREAK = 16


@njit(cache=True)
def _add_break(out, n, x):
    """Append ``x`` to ``out[:n]`` unless it is already there; returns the new count."""
    for p in range(n):
        if abs(out[p] - x) <= 1e-12 * (1.0 + abs(x)):
            return n
    if n < out.shape[0]:
        out[n] = x
        n += 1
    return n


@njit(cache=True)
def _breakpoints(load, pv, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, grid_charge, batt_export,
                 curtail, out, icap=np.inf, ipen=np.inf):
    """Exact changes of stored energy where one period's cost ``f_k(D)`` changes slope or stops
    being feasible; writes them to ``out`` and returns their number. [kWh]

    ``f_k`` is piecewise linear in ``D``. Its feasible ends: charging (``D = eta_c * c``) up to
    ``min(cmax, charge_bound)``, discharging (``D = -d / eta_d``) up to ``min(dmax,
    discharge_bound)`` (:func:`~pvbess.physics.charge_bound`,
    :func:`~pvbess.physics.discharge_bound`). Its kinks besides ``D = 0``: the meter crossing
    zero (the PV surplus or the deficit), the start or end of forced curtailment (inverter limit,
    export limit) and, where curtailment is a choice, the fully curtailed meter crossing zero (``d =
    load``), reaching the import limit or charging at the inverter limit (``c = inverter``). A
    hard import cap ``icap`` below the deficit makes
    idle infeasible: the smallest feasible discharge ``d = load - pv - icap`` is then a feasible
    end (listed as a kink); a soft cap (finite ``ipen``) adds the kinks where the meter (or the
    fully curtailed meter) crosses ``icap``. A missing kink costs accuracy, never feasibility
    (every move is scored by ``_period``).
    """
    surplus, deficit = surplus_deficit(load, pv)
    imax = import_cap(load, pv, ilim, acap)
    hard = ipen == np.inf
    if hard:
        imax = min(imax, icap)
    soft = ipen < np.inf and icap < np.inf
    choice = curtail and pv > 0.0
    chi = min(cmax, charge_bound(load, pv, surplus, grid_charge, ilim, acap))
    if hard and icap < np.inf:
        chi = min(chi, max(icap - load + pv, 0.0))
    dhi = min(dmax, discharge_bound(load, deficit, batt_export, xlim, acap))
    n = 0
    if chi > 0.0:
        n = _add_break(out, n, stored_energy(chi, eta_c))
        for c in (pv - load, pv - load - xlim, pv - acap, imax - load if choice else -1.0,
                  acap if choice else -1.0, icap - load + pv if soft else -1.0,
                  icap - load if soft and choice else -1.0):
            if 0.0 < c < chi:
                n = _add_break(out, n, stored_energy(c, eta_c))
    if dhi > 0.0:
        n = _add_break(out, n, -removed_energy(dhi, eta_d))
        for d in (load - pv, load - pv + xlim, acap - pv, load if choice else -1.0,
                  load - imax if choice else -1.0, load - pv - icap,
                  load - icap if soft and choice else -1.0):
            if 0.0 < d < dhi:
                n = _add_break(out, n, -removed_energy(d, eta_d))
    return n


@njit(cache=True, inline="always")
def _move_steps(cmax_k, dmax_k, eta_c, eta_d, h, n):
    """``(mlo, mhi)``: the grid moves [steps] a period's power limits allow, within ``+-n``."""
    mhi = math.floor(stored_energy(cmax_k, eta_c) / h + 1e-9)
    mlo = -math.floor(removed_energy(dmax_k, eta_d) / h + 1e-9)
    return max(mlo, -n), min(mhi, n)


@njit(cache=True)
def _move_nets(load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
               grid_charge, batt_export, curtail, icap, ipen, h, n):
    """The meter's net (import - export) [kWh] of every grid move ``m`` of every period, at
    ``[k, m + n]`` (nan: infeasible), and per period whether the row holds: the meter of a
    period does not depend on a soft import cap unless it may curtail PV at a negative price
    (with ``buy, sell >= 0`` curtailing never lowers the meter's cost, so it curtails only
    what is forced). A cap search, whose block DPs differ only in their soft caps, then prices
    a move from its net instead of running the meter again (``_backward_into``'s ``nets``)."""
    t_len = load.shape[0]
    nets = np.full((t_len, 2 * n + 1), np.nan)
    rows = np.zeros(t_len, dtype=np.bool_)
    for k in range(t_len):
        if curtail and pv[k] > 0.0 and not (buy[k] >= 0.0 and sell[k] >= 0.0):
            continue
        rows[k] = True
        mlo, mhi = _move_steps(cmax[k], dmax[k], eta_c, eta_d, h, n)
        for m in range(mlo, mhi + 1):
            r = _period(m * h, load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k], acap[k],
                        eta_c, eta_d, cmax[k], dmax[k], wear, grid_charge, batt_export,
                        curtail, np.inf, np.inf)
            if r[0] < np.inf:
                nets[k, m + n] = r[3] - r[4]
    return nets, rows


@njit(cache=True, inline="always")
def _net_cost(net, delta, buy, sell, icap, ipen, wear):
    """``_period``'s cost of a move from its meter net (nan: infeasible), same arithmetic."""
    if net != net:
        return np.inf
    cost = meter_cost(net, buy, sell, icap, ipen)
    if delta > 0.0:
        cost += wear_cost(delta, wear)
    return cost
