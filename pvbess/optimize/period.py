"""The period model of the scheduling problem: one period's cost and flows for a change of
stored energy, and the exact breakpoints where that cost changes slope or stops being feasible.

The DP (:mod:`pvbess.optimize.dp`) and the plan evaluator (:mod:`pvbess.optimize.result`) both
score moves with these functions, so the referee and the optimizer agree by construction.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_TOL = 1e-9


# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def _period(delta, load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
            grid_charge, batt_export, curtail):
    """Cost and flows of one period for a change ``delta`` of stored energy.

    Returns ``(cost, c, d, imp, exp, u)``: the period cost (``inf`` if infeasible), AC charge,
    AC discharge, grid import, grid export and curtailed PV, all in kWh per period.
    """
    if delta >= 0.0:
        c = delta / eta_c
        d = 0.0
    else:
        c = 0.0
        d = -delta * eta_d
    if c > cmax * (1.0 + 1e-12) + _TOL or d > dmax * (1.0 + 1e-12) + _TOL:
        return np.inf, c, d, 0.0, 0.0, 0.0
    surplus = pv - load
    surplus = max(surplus, 0.0)
    deficit = load - pv
    deficit = max(deficit, 0.0)
    if (not grid_charge) and c > surplus + _TOL:
        return np.inf, c, d, 0.0, 0.0, 0.0
    if (not batt_export) and d > deficit + _TOL:
        return np.inf, c, d, 0.0, 0.0, 0.0
    # inverter AC throughput (hybrid inverter, PV and battery on its DC side)
    if c - pv - d > acap + _TOL:
        return np.inf, c, d, 0.0, 0.0, 0.0
    net0 = load + c - pv - d
    # forced curtailment: inverter overflow, then the export limit
    umin = pv - c + d - acap
    umin = max(umin, 0.0)
    e_raw = -(net0 + umin)
    if e_raw > xlim:
        umin += e_raw - xlim
    if umin > pv + _TOL:
        return np.inf, c, d, 0.0, 0.0, 0.0
    umin = min(umin, pv)
    u = umin
    imax = ilim
    imax = max(imax, deficit)  # the battery is never forced to cover load above the import limit
    if curtail and pv > umin:
        # choose u in [umin, pv] minimising the meter cost (piecewise linear in net)
        n_lo = net0 + umin
        n_hi = net0 + pv
        n_hi = min(n_hi, imax)
        if n_hi > n_lo:
            best_n = n_lo
            best = buy * n_lo if n_lo > 0.0 else sell * n_lo
            g = buy * n_hi if n_hi > 0.0 else sell * n_hi
            if g < best - 1e-15:
                best = g
                best_n = n_hi
            if n_lo < 0.0 < n_hi and 0.0 < best - 1e-15:
                best = 0.0
                best_n = 0.0
            u = best_n - net0
    net = net0 + u
    imp = max(0.0, net)
    exp = -net if net < 0.0 else 0.0
    if imp > imax + _TOL:
        return np.inf, c, d, imp, exp, u
    cost = imp * buy - exp * sell
    if delta > 0.0:
        cost += wear * delta
    return cost, c, d, imp, exp, u


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
                 curtail, out):
    """Exact changes of stored energy where one period's cost ``f_k(D)`` changes slope or stops
    being feasible; writes them to ``out`` and returns their number. [kWh]

    ``f_k`` is piecewise linear in ``D``. Its feasible ends: charging (``D = eta_c * c``) up to
    ``min(cmax, surplus if no grid charging, pv + inverter limit, import limit + pv - load)``,
    discharging (``D = -d / eta_d``) up to ``min(dmax, deficit if no battery export, inverter
    limit, load + export limit)``. Its kinks besides ``D = 0``: the meter crossing zero (the PV
    surplus or the deficit), the start or end of forced curtailment (inverter limit, export
    limit) and, where curtailment is a choice, the fully curtailed meter crossing zero (``d =
    load``) or reaching the import limit. A missing kink costs accuracy, never feasibility
    (every move is scored by ``_period``).
    """
    surplus = max(pv - load, 0.0)
    deficit = max(load - pv, 0.0)
    imax = max(ilim, deficit)
    choice = curtail and pv > 0.0
    chi = cmax
    if not grid_charge:
        chi = min(chi, surplus)
    chi = min(chi, pv + acap)
    chi = min(chi, imax - load + pv)
    dhi = dmax
    if not batt_export:
        dhi = min(dhi, deficit)
    dhi = min(dhi, acap)
    dhi = min(dhi, load + xlim)
    n = 0
    if chi > 0.0:
        n = _add_break(out, n, chi * eta_c)
        for c in (pv - load, pv - load - xlim, pv - acap, imax - load if choice else -1.0):
            if 0.0 < c < chi:
                n = _add_break(out, n, c * eta_c)
    if dhi > 0.0:
        n = _add_break(out, n, -dhi / eta_d)
        for d in (load - pv, load - pv + xlim, acap - pv, load if choice else -1.0,
                  load - imax if choice else -1.0):
            if 0.0 < d < dhi:
                n = _add_break(out, n, -d / eta_d)
    return n


