"""Optimal battery scheduling by dynamic programming (the DP kernel and ``optimize_schedule``).

The model (one period ``k`` of ``dt`` hours, energies in kWh per period) is section 1 of the
scheduler spec: AC charge ``c`` stores ``eta_c * c``; AC discharge ``d`` removes ``d / eta_d``;
the site meter nets ``load + c - pv_used - d`` into import and export; the period cost is
``import * buy - export * sell + wear * eta_c * c``; the objective is the sum of period costs
minus ``terminal_value * (E_T - E_min)``. The battery and the meter are those of
:mod:`pvbess.physics` (``_period`` calls its meter for a given change of stored energy).

The kernel works on a grid of stored energy (``E_min + i * h``, ``i = 0..N``). Backward induction
gives the value function ``V_k`` on the grid; where every period cost is convex in the energy
change (``buy >= sell``, ``wear >= 0``, the usual case) each backward step is a min-plus
convolution of convex functions done in linear time with a monotone two-pointer sweep; otherwise a
general states x moves sweep is used. Each backward step also scores the period's exact
breakpoint moves (``_breakpoints``: the feasible ends, e.g. full power at an inverter limit, and
the kinks, e.g. covering the net load) against the linearly interpolated ``V_{k+1}``, so the step
is the exact minimum over continuous moves of ``f_k`` plus the piecewise linear ``V_{k+1}``: a
limit that is no multiple of the grid step is not rounded down period after period. The plan is
then replayed forward from the true (continuous) initial energy: at each period the grid moves,
idle, the window's bounds and the same breakpoints are scored by their exact period cost plus the
linearly interpolated ``V_{k+1}``.

All kernels are numba ``@njit(cache=True)`` functions on NumPy arrays: no I/O, no globals.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from ..battery import Battery
from ..physics import (
    ac_flows,
    charge_bound,
    discharge_bound,
    import_cap,
    meter,
    move_range,
    removed_energy,
    stored_energy,
    surplus_deficit,
    wear_cost,
    within_limits,
)
from ..timeseries import DataError, step_hours

__all__ = ["default_energy_step", "optimize_schedule"]

_INF = np.inf


# ----------------------------------------------------------------------------------------------
# the plant: one period, given the change of stored energy
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def _period(delta, load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
            grid_charge, batt_export, curtail):
    """Cost and flows of one period for a change ``delta`` of stored energy.

    The AC flows of ``delta`` (:func:`~pvbess.physics.ac_flows`), checked against the power
    limits and options (:func:`~pvbess.physics.within_limits`), through the one site meter
    (:func:`~pvbess.physics.meter`); the cost is ``imp * buy - exp * sell`` plus the wear of the
    energy stored (:func:`~pvbess.physics.wear_cost`).

    Returns ``(cost, c, d, imp, exp, u)``: the period cost (``inf`` if infeasible), AC charge,
    AC discharge, grid import, grid export and curtailed PV, all in kWh per period.
    """
    c, d = ac_flows(delta, eta_c, eta_d)
    surplus, deficit = surplus_deficit(load, pv)
    if not within_limits(c, d, surplus, deficit, cmax, dmax, grid_charge, batt_export):
        return np.inf, c, d, 0.0, 0.0, 0.0
    imp, exp, u, ok = meter(c, d, load, pv, buy, sell, xlim, ilim, acap, curtail, grid_charge)
    if not ok:
        return np.inf, c, d, imp, exp, u
    cost = imp * buy - exp * sell
    if delta > 0.0:
        cost += wear_cost(delta, wear)
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
    ``min(cmax, charge_bound)``, discharging (``D = -d / eta_d``) up to ``min(dmax,
    discharge_bound)`` (:func:`~pvbess.physics.charge_bound`,
    :func:`~pvbess.physics.discharge_bound`). Its kinks besides ``D = 0``: the meter crossing
    zero (the PV surplus or the deficit), the start or end of forced curtailment (inverter limit,
    export limit) and, where curtailment is a choice, the fully curtailed meter crossing zero (``d =
    load``), reaching the import limit or charging at the inverter limit (``c = inverter``). A
    missing kink costs accuracy, never feasibility (every move is scored by ``_period``).
    """
    surplus, deficit = surplus_deficit(load, pv)
    imax = import_cap(load, pv, ilim, acap)
    choice = curtail and pv > 0.0
    chi = min(cmax, charge_bound(load, pv, surplus, grid_charge, ilim, acap))
    dhi = min(dmax, discharge_bound(load, deficit, batt_export, xlim, acap))
    n = 0
    if chi > 0.0:
        n = _add_break(out, n, stored_energy(chi, eta_c))
        for c in (pv - load, pv - load - xlim, pv - acap, imax - load if choice else -1.0,
                  acap if choice else -1.0):
            if 0.0 < c < chi:
                n = _add_break(out, n, stored_energy(c, eta_c))
    if dhi > 0.0:
        n = _add_break(out, n, -removed_energy(dhi, eta_d))
        for d in (load - pv, load - pv + xlim, acap - pv, load if choice else -1.0,
                  load - imax if choice else -1.0):
            if 0.0 < d < dhi:
                n = _add_break(out, n, -removed_energy(d, eta_d))
    return n


@njit(cache=True)
def _interp(row, x, e_lo, h, n):
    """Linear interpolation of a grid function (linear extrapolation outside). [currency]"""
    p = (x - e_lo) / h
    if n == 0:
        return row[0]
    i = math.floor(p)
    if i < 0:
        i = 0
    elif i > n - 1:
        i = n - 1
    w = p - i
    return row[i] + w * (row[i + 1] - row[i])


@njit(cache=True)
def _is_convex(f, lo, hi, scale):
    tol = 1e-9 * (1.0 + scale)
    for m in range(lo + 1, hi):
        if f[m + 1] - 2.0 * f[m] + f[m - 1] < -tol:
            return False
    return True


@njit(cache=True)
def _score_breakpoint(cur, nxt, jq, w, fq, i_min, n):
    """``cur[i] = min(cur[i], fq + V_{k+1}(i + jq + w))`` for the window states ``i >= i_min``
    whose target ``i + jq + w`` (grid steps, ``0 < w < 1``) lies in the window."""
    for i in range(max(i_min, i_min - jq), min(n, n - jq - 1) + 1):
        j = i + jq
        cand = fq + nxt[j] + w * (nxt[j + 1] - nxt[j])
        cur[i] = min(cur[i], cand)


@njit(cache=True)
def _backward(load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
              grid_charge, batt_export, curtail, e_lo, h, n, tv, e_min, i_min):
    """Value function ``V[k, i]`` on the grid ``e_lo + i*h`` (``k = 0..T``), and per-period flags
    saying whether the fast convex path was used."""
    t_len = load.shape[0]
    v = np.empty((t_len + 1, n + 1))
    for i in range(n + 1):
        v[t_len, i] = -tv * (e_lo + i * h - e_min)
    fast = np.zeros(t_len, dtype=np.bool_)
    brk = np.empty(_NBREAK)
    q_j = np.empty(_NBREAK, dtype=np.int64)
    q_w = np.empty(_NBREAK)
    q_f = np.empty(_NBREAK)
    full = np.empty(_NBREAK, dtype=np.bool_)
    slot = np.empty(2 * n + 4, dtype=np.int64)
    v_convex = True  # the terminal value is linear
    for k in range(t_len - 1, -1, -1):
        mhi = math.floor(stored_energy(cmax[k], eta_c) / h + 1e-9)
        mlo = -math.floor(removed_energy(dmax[k], eta_d) / h + 1e-9)
        mhi = min(mhi, n)
        mlo = max(mlo, -n)
        width = mhi - mlo + 1
        f = np.empty(width)
        scale = 0.0
        for m in range(mlo, mhi + 1):
            val = _period(m * h, load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k], acap[k],
                          eta_c, eta_d, cmax[k], dmax[k], wear, grid_charge, batt_export,
                          curtail)[0]
            f[m - mlo] = val
            if val < np.inf and abs(val) > scale:
                scale = abs(val)
        # feasible interval around idle (m = 0 is always feasible)
        flo = -mlo
        while flo > 0 and f[flo - 1] < np.inf:
            flo -= 1
        fhi = -mlo
        while fhi < width - 1 and f[fhi + 1] < np.inf:
            fhi += 1
        interval = True
        for m in range(width):
            if (m < flo or m > fhi) and f[m] < np.inf:
                interval = False
        nxt = v[k + 1]
        cur = v[k]
        # states below the window (i < i_min, only when the initial energy lies below e_min):
        # no discharge; brute force (V is not convex across e_min there)
        for i in range(i_min):
            best = np.inf
            jhi = min(i + mhi, n)
            for j in range(i, jhi + 1):
                cand = f[j - i - mlo] + nxt[j]
                best = min(best, cand)
            cur[i] = best
        # the exact breakpoint moves off the move grid (kinks and feasible ends of f_k), scored
        # with V_{k+1} interpolated: with them a step is the exact minimum over continuous moves
        # of f_k + (piecewise linear V_{k+1}), so a limit that is no multiple of h (an inverter
        # or power limit, the net load) is not rounded down period after period
        nb = _breakpoints(load[k], pv[k], xlim[k], ilim[k], acap[k], eta_c, eta_d, cmax[k],
                          dmax[k], grid_charge, batt_export, curtail, brk)
        nq = 0
        for q in range(nb):
            sq = brk[q] / h
            jq = math.floor(sq)
            w = sq - jq
            if w < 1e-9 or w > 1.0 - 1e-9:
                continue  # a grid move
            fq = _period(brk[q], load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k], acap[k],
                         eta_c, eta_d, cmax[k], dmax[k], wear, grid_charge, batt_export,
                         curtail)[0]
            if fq < np.inf:
                q_j[nq] = jq
                q_w[nq] = w
                q_f[nq] = fq
                nq += 1
        # states below the window: charging breakpoints only
        for q in range(nq):
            if q_j[q] >= 0:
                for i in range(min(i_min, n - q_j[q])):
                    j = i + q_j[q]
                    cand = q_f[q] + nxt[j] + q_w[q] * (nxt[j + 1] - nxt[j])
                    cur[i] = min(cur[i], cand)
        # states in the window never leave it: j >= i_min
        if interval and v_convex and _is_convex(f, flo, fhi, scale):
            fast[k] = True
            a = flo + mlo  # smallest feasible move [grid steps]
            b = fhi + mlo  # largest feasible move
            # f_k + V_{k+1} is convex in the move, so a breakpoint can only beat the best grid
            # move m if it lies within one step of it: slot[m - mlo + 1] = the breakpoint in
            # (m, m + 1) (-1: none); a second one in the same cell is scored for every state
            for m in range(width + 2):
                slot[m] = -1
            for q in range(nq):
                at = q_j[q] - mlo + 1
                full[q] = not (0 <= at < width + 2 and slot[at] < 0)
                if not full[q]:
                    slot[at] = q
            j = i_min
            for i in range(i_min, n + 1):
                jlo = max(i + a, i_min)
                jhi = min(i + b, n)
                j = max(j, jlo)
                j = min(j, jhi)
                best = f[j - i - mlo] + nxt[j]
                while j < jhi:
                    cand = f[j + 1 - i - mlo] + nxt[j + 1]
                    if cand <= best:
                        best = cand
                        j += 1
                    else:
                        break
                # breakpoints in (m - 1, m) and (m, m + 1), m = j - i
                at = j - i - mlo
                q = slot[at]
                if q >= 0:
                    jj = i + q_j[q]
                    if jj >= i_min:
                        cand = q_f[q] + nxt[jj] + q_w[q] * (nxt[jj + 1] - nxt[jj])
                        best = min(best, cand)
                q = slot[at + 1]
                if q >= 0:
                    jj = j
                    if jj < n:
                        cand = q_f[q] + nxt[jj] + q_w[q] * (nxt[jj + 1] - nxt[jj])
                        best = min(best, cand)
                cur[i] = best
            for q in range(nq):
                if full[q]:
                    _score_breakpoint(cur, nxt, q_j[q], q_w[q], q_f[q], i_min, n)
        else:
            for i in range(i_min, n + 1):
                best = np.inf
                jlo = max(i + mlo, i_min)
                jhi = min(i + mhi, n)
                for j in range(jlo, jhi + 1):
                    cand = f[j - i - mlo] + nxt[j]
                    best = min(best, cand)
                cur[i] = best
            for q in range(nq):
                _score_breakpoint(cur, nxt, q_j[q], q_w[q], q_f[q], i_min, n)
        # is V_k convex on the window's grid? (it is when all later periods were convex)
        vs = 0.0
        for i in range(i_min, n + 1):
            vs = max(vs, abs(cur[i]))
        v_convex = _is_convex(cur, i_min, n, vs)
    return v, fast


@njit(cache=True)
def _replay(load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
            grid_charge, batt_export, curtail, e_lo, h, n, v, e0, e_min, e_max):
    """Forward pass from the true initial energy; returns the stored energy (T+1) and the
    period costs."""
    t_len = load.shape[0]
    soe = np.empty(t_len + 1)
    soe[0] = e0
    costs = np.zeros(t_len)
    cands = np.empty(_NBREAK + 3)
    e = e0
    for k in range(t_len):
        lo, hi = move_range(e, e_min, e_max, stored_energy(cmax[k], eta_c),
                            removed_energy(dmax[k], eta_d))
        # exact candidate actions: idle, the period's breakpoints (cover the net load, absorb
        # the PV surplus, full feasible power, the ends of forced curtailment, ...) and the
        # window's bounds
        nc = _breakpoints(load[k], pv[k], xlim[k], ilim[k], acap[k], eta_c, eta_d, cmax[k],
                          dmax[k], grid_charge, batt_export, curtail,
                          cands)
        cands[nc] = 0.0
        cands[nc + 1] = hi
        cands[nc + 2] = lo
        nc += 3
        best = np.inf
        best_d = 0.0
        best_c = 0.0
        for q in range(nc):
            dl = cands[q]
            dl = min(dl, hi)
            dl = max(dl, lo)
            pc = _period(dl, load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k], acap[k], eta_c,
                         eta_d, cmax[k], dmax[k], wear, grid_charge, batt_export, curtail)[0]
            if pc == np.inf:
                continue
            s = pc + _interp(v[k + 1], e + dl, e_lo, h, n)
            if s < best - 1e-12:
                best = s
                best_d = dl
                best_c = pc
        # grid moves
        jlo = math.ceil((e + lo - e_lo) / h - 1e-9)
        jhi = math.floor((e + hi - e_lo) / h + 1e-9)
        jlo = max(jlo, 0)
        jhi = min(jhi, n)
        for j in range(jlo, jhi + 1):
            dl = e_lo + j * h - e
            dl = min(dl, hi)
            dl = max(dl, lo)
            pc = _period(dl, load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k], acap[k], eta_c,
                         eta_d, cmax[k], dmax[k], wear, grid_charge, batt_export, curtail)[0]
            if pc == np.inf:
                continue
            s = pc + v[k + 1, j]
            if s < best - 1e-12:
                best = s
                best_d = dl
                best_c = pc
        costs[k] = best_c
        e = e + best_d
        if e > e_max and e - e_max < 1e-9:
            e = e_max
        if e < e_min and e_min - e < 1e-9 and e0 >= e_min:
            e = e_min
        soe[k + 1] = e
    return soe, costs


# ----------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------
class _Inputs:
    """Validated per-period arrays and scalars shared by the DP, the LP and the plant check."""

    def __init__(self, buy: Any, sell: Any, load_kwh: Any, pv_kwh: Any, battery: Battery, *,
                 dt_h: float | None, initial_kwh: float | None, terminal_value: float,
                 allow_grid_charge: bool, allow_battery_export: bool, allow_curtailment: bool,
                 import_limit_kw: Any, export_limit_kw: Any, inverter_ac_limit_kw: float,
                 export_price_floor: float | None, co2_price_per_kg: float,
                 co2_kg_per_kwh: float) -> None:
        if not isinstance(battery, Battery):
            raise TypeError(f"battery: expected a pvbess.Battery, got {type(battery).__name__}")
        index = None
        for name, obj in (("buy", buy), ("sell", sell), ("load_kwh", load_kwh),
                          ("pv_kwh", pv_kwh)):
            if isinstance(obj, pd.Series) and isinstance(obj.index, pd.DatetimeIndex):
                if index is None:
                    index = obj.index
                elif not obj.index.equals(index):
                    raise DataError(f"{name}: its index differs from the other inputs' index")
        if index is not None:
            dt_idx = step_hours(index) if len(index) > 1 or index.freq is not None else None
            if dt_h is None:
                dt_h = dt_idx if dt_idx is not None else 1.0
            elif dt_idx is not None and abs(dt_idx - dt_h) > 1e-9:
                raise DataError(f"dt_h = {dt_h} h disagrees with the index step {dt_idx} h")
        if dt_h is None:
            dt_h = 1.0
        if not (isinstance(dt_h, (int, float)) and math.isfinite(dt_h) and dt_h > 0):
            raise DataError(f"dt_h = {dt_h!r} [h]: must be a finite number > 0")
        self.dt_h = float(dt_h)
        arrays = {}
        for name, obj, unit in (("buy", buy, "currency/kWh"), ("sell", sell, "currency/kWh"),
                                ("load_kwh", load_kwh, "kWh"), ("pv_kwh", pv_kwh, "kWh")):
            a = np.asarray(obj, dtype=np.float64).reshape(-1)
            arrays[name] = (a, unit)
        t_len = arrays["buy"][0].shape[0]
        if t_len < 1:
            raise DataError("buy [currency/kWh]: need at least one period")
        for name, (a, unit) in arrays.items():
            if a.shape[0] != t_len:
                raise DataError(f"{name} [{unit}]: length {a.shape[0]} != length of buy {t_len}")
            bad = np.flatnonzero(~np.isfinite(a))
            if bad.size:
                i = int(bad[0])
                raise DataError(f"{name} [{unit}]: {a[i]} (missing or infinite) at row {i}")
            if unit == "kWh":
                bad = np.flatnonzero(a < 0)
                if bad.size:
                    i = int(bad[0])
                    raise DataError(f"{name} [{unit}]: negative value {a[i]} at row {i}")
        self.index = index if index is not None and len(index) == t_len else None
        self.t = t_len
        self.load = arrays["load_kwh"][0].copy()
        self.pv = arrays["pv_kwh"][0].copy()
        self.buy_raw = arrays["buy"][0].copy()
        self.sell = arrays["sell"][0].copy()
        for name, val in (("co2_price_per_kg", co2_price_per_kg),
                          ("co2_kg_per_kwh", co2_kg_per_kwh)):
            if not (math.isfinite(val) and val >= 0):
                raise DataError(f"{name} = {val!r}: must be a finite number >= 0")
        self.co2_price_per_kg = float(co2_price_per_kg)
        self.co2_kg_per_kwh = float(co2_kg_per_kwh)
        self.buy = self.buy_raw + self.co2_price_per_kg * self.co2_kg_per_kwh
        self.ilim = self._limit(import_limit_kw, "import_limit_kw")
        self.xlim = self._limit(export_limit_kw, "export_limit_kw")
        if export_price_floor is not None:
            self.xlim = np.where(self.sell < export_price_floor, 0.0, self.xlim)
        self.export_price_floor = export_price_floor
        acap = float(inverter_ac_limit_kw)
        if math.isnan(acap) or acap <= 0:
            raise DataError(f"inverter_ac_limit_kw = {inverter_ac_limit_kw!r} [kW]: must be > 0 "
                            "(inf for no limit)")
        self.acap = np.full(t_len, acap * self.dt_h)
        self.battery = battery
        self.eta_c = float(battery.eta_charge)
        self.eta_d = float(battery.eta_discharge)
        self.cmax = np.full(t_len, battery.power_charge_kw * self.dt_h)
        self.dmax = np.full(t_len, battery.power_discharge_kw * self.dt_h)
        self.wear = float(battery.wear_cost_per_kwh)
        self.e_min = float(battery.e_min_kwh)
        self.e_max = float(battery.e_max_kwh)
        e0 = battery.e_initial_kwh if initial_kwh is None else float(initial_kwh)
        if not (math.isfinite(e0) and 0.0 <= e0 <= battery.capacity_kwh + 1e-9):
            raise DataError(f"initial_kwh = {initial_kwh!r} [kWh]: must lie in "
                            f"[0, capacity_kwh = {battery.capacity_kwh}]")
        self.e0 = float(e0)
        if not math.isfinite(terminal_value):
            raise DataError(f"terminal_value = {terminal_value!r} [currency/kWh]: must be finite")
        self.tv = float(terminal_value)
        self.grid_charge = bool(allow_grid_charge)
        self.batt_export = bool(allow_battery_export)
        self.curtail = bool(allow_curtailment)

    def _limit(self, value: Any, name: str) -> np.ndarray:
        a = np.asarray(value, dtype=np.float64).reshape(-1)
        if a.size == 1:
            a = np.full(self.t, a[0])
        if a.shape[0] != self.t:
            raise DataError(f"{name} [kW]: length {a.shape[0]} != number of periods {self.t}")
        bad = np.flatnonzero(np.isnan(a) | (a < 0))
        if bad.size:
            i = int(bad[0])
            raise DataError(f"{name} [kW]: {a[i]} at row {i} (must be >= 0, inf for no limit)")
        return a * self.dt_h

    def kernel_args(self) -> tuple:
        return (self.load, self.pv, self.buy, self.sell, self.xlim, self.ilim, self.acap,
                self.eta_c, self.eta_d, self.cmax, self.dmax, self.wear, self.grid_charge,
                self.batt_export, self.curtail)


@njit(cache=True)
def _last_nonconvex(load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
                    grid_charge, batt_export, curtail, h, n):
    """Index of the last period whose cost on the move grid is not convex (-1 if none).

    A period with ``0 <= sell <= buy`` (and ``wear >= 0``, ``eta_c * eta_d <= 1``) is convex
    without looking: the AC setpoint is convex in ``D``, the meter convex and nondecreasing in the
    setpoint (forced curtailment and the export limit are maxima of affine pieces, a curtailment
    choice never pays at ``sell >= 0``) and the meter cost convex and nondecreasing in the meter.
    """
    sure = wear >= 0.0 and eta_c * eta_d <= 1.0
    for k in range(load.shape[0] - 1, -1, -1):
        if sure and 0.0 <= sell[k] <= buy[k]:
            continue
        mhi = min(n, math.floor(stored_energy(cmax[k], eta_c) / h + 1e-9))
        mlo = -min(n, math.floor(removed_energy(dmax[k], eta_d) / h + 1e-9))
        f = np.empty(mhi - mlo + 1)
        scale = 0.0
        for m in range(mlo, mhi + 1):
            f[m - mlo] = _period(m * h, load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k],
                                 acap[k], eta_c, eta_d, cmax[k], dmax[k], wear, grid_charge,
                                 batt_export, curtail)[0]
            if f[m - mlo] < np.inf and abs(f[m - mlo]) > scale:
                scale = abs(f[m - mlo])
        flo = -mlo
        while flo > 0 and f[flo - 1] < np.inf:
            flo -= 1
        fhi = -mlo
        while fhi < f.shape[0] - 1 and f[fhi + 1] < np.inf:
            fhi += 1
        ok = _is_convex(f, flo, fhi, scale)
        for m in range(f.shape[0]):
            if (m < flo or m > fhi) and f[m] < np.inf:
                ok = False
        if not ok:
            return k
    return -1


#: work budget of the general (non-convex) backward path: periods x states x moves
_GENERAL_BUDGET = 4e8


def default_energy_step(usable_kwh: float, periods: int) -> float:
    """The DP's default energy-grid step where every period is convex. [kWh]

    ``usable_kwh / N`` with ``N = clip(8_000_000 // periods, 200, 20_000)`` states: 20,000 for a
    day (0.00135 kWh for a 27 kWh window), 913 for an hourly year (1.75 kWh for a 1,600 kWh
    window). Where some periods need the general (non-convex) path, :func:`optimize_schedule`
    coarsens the grid so that the general path stays within about 4e8 state-move evaluations.
    """
    n = int(min(20_000, max(200, 8_000_000 // max(int(periods), 1))))
    return usable_kwh / n


def _grid(inp: _Inputs, energy_step_kwh: float | None) -> tuple[float, float, int, int]:
    """The energy grid ``(e_lo, h, N, i_min)``: states ``e_lo + i*h``, ``i = 0..N``; ``e_min`` is
    state ``i_min`` (> 0 only when the initial energy lies below the window)."""
    e_lo, h, n = _grid_window(inp, energy_step_kwh)
    m = 0
    if inp.e0 < inp.e_min:
        m = math.ceil((inp.e_min - inp.e0) / h - 1e-9)
    return e_lo - m * h, h, n + m, m


def _grid_window(inp: _Inputs, energy_step_kwh: float | None) -> tuple[float, float, int]:
    usable = inp.e_max - inp.e_min
    if usable <= 0:
        raise DataError("battery: empty storage window (e_max_kwh <= e_min_kwh)")
    if energy_step_kwh is not None:
        step = energy_step_kwh
        if not (math.isfinite(step) and step > 0):
            raise DataError(f"energy_step_kwh = {energy_step_kwh!r} [kWh]: must be > 0")
        n = max(1, round(usable / step))
        return inp.e_min, usable / n, n
    n = max(1, round(usable / default_energy_step(usable, inp.t)))
    last = _last_nonconvex(*inp.kernel_args(), usable / n, n)
    if last >= 0:
        # moves per state as a fraction of the states
        reach = (stored_energy(float(np.max(inp.cmax)), inp.eta_c)
                 + removed_energy(float(np.max(inp.dmax)), inp.eta_d))
        frac = min(1.0, reach / usable)
        n_gen = int(math.sqrt(_GENERAL_BUDGET / ((last + 1) * max(frac, 1e-6))))
        n = max(50, min(n, n_gen))
    return inp.e_min, usable / n, n


def optimize_schedule(buy: Any, sell: Any, load_kwh: Any, pv_kwh: Any, battery: Battery, *,
                      dt_h: float | None = None, initial_kwh: float | None = None,
                      terminal_value: float = 0.0, allow_grid_charge: bool = True,
                      allow_battery_export: bool = True, allow_curtailment: bool = True,
                      import_limit_kw: Any = np.inf, export_limit_kw: Any = np.inf,
                      inverter_ac_limit_kw: float = np.inf,
                      export_price_floor: float | None = None, co2_price_per_kg: float = 0.0,
                      co2_kg_per_kwh: float = 0.0, energy_step_kwh: float | None = None):
    """Least-cost battery schedule by dynamic programming.

    Parameters
    ----------
    buy, sell : array-like or pandas.Series
        Import and export price per period. [currency/kWh]
    load_kwh, pv_kwh : array-like or pandas.Series
        Site load and PV production per period. [kWh]
    battery : pvbess.Battery
        Window ``[e_min_kwh, e_max_kwh]``, AC power limits, efficiencies and wear cost (per kWh
        stored).
    dt_h : float, optional
        Period length. [h] Default: the step of a tz-aware Series index, else 1.0.
    initial_kwh : float, optional
        Stored energy at the start. [kWh] Default ``battery.e_initial_kwh``. It may lie below
        ``e_min_kwh`` (the battery then may not discharge until it is back in the window).
    terminal_value : float
        Value of each kWh stored above ``e_min_kwh`` at the end. [currency/kWh] Default 0.
    allow_grid_charge : bool
        If False the battery charges only from the PV surplus over the load.
    allow_battery_export : bool
        If False the battery discharges only into the load deficit.
    allow_curtailment : bool
        If True, PV may be curtailed wherever that is cheaper (sell < 0). PV that cannot be
        exported (export limit, inverter limit) is always curtailed.
    import_limit_kw, export_limit_kw : float or array-like
        Grid connection limits, scalar or per period. [kW] The import limit binds the battery's
        charging only: load above the limit is still served (the battery is never forced to cover
        it).
    inverter_ac_limit_kw : float
        AC limit of a hybrid inverter with the PV and the battery on its DC side:
        ``|pv_used - c + d| <= limit * dt``; PV above it is clipped unless the battery absorbs it.
        [kW]
    export_price_floor : float, optional
        No export in periods whose sell price is below this floor (the surplus the battery cannot
        absorb is curtailed). [currency/kWh]
    co2_price_per_kg, co2_kg_per_kwh : float
        CO2 price [currency/kg] and grid emission factor [kg/kWh]; their product is added to the
        buy price (exports earn no CO2 credit).
    energy_step_kwh : float, optional
        DP grid step [kWh], rounded so the grid divides the window evenly. Default
        :func:`default_energy_step`.

    Returns
    -------
    ScheduleResult
        ``method = "dp"``; see :class:`pvbess.ScheduleResult`.

    Notes
    -----
    Backward induction ``V_k(E) = min_D f_k(D) + V_{k+1}(E + D)``, ``V_T(E) = -tv * (E - E_min)``,
    on the energy grid, where ``f_k`` is the period cost of a change ``D`` of stored energy. A
    period whose ``f_k`` is convex (and a convex ``V_{k+1}``) takes the linear-time min-plus
    path; others the general path. Both also score the exact breakpoints of ``f_k`` (kinks and
    feasible ends off the grid) against the interpolated ``V_{k+1}``. The plan is replayed from
    the true initial energy with
    exact candidate actions; its cost is evaluated exactly (no grid rounding). Demand charges are
    not part of this model (use :func:`pvbess.exact_schedule`-based studies for those).

    Examples
    --------
    >>> import numpy as np
    >>> from pvbess import Battery, optimize_schedule
    >>> b = Battery(capacity_kwh=10, power_charge_kw=5, power_discharge_kw=5, eta_charge=1.0,
    ...             eta_discharge=1.0, soc_min=0.0, soc_initial=0.0)
    >>> r = optimize_schedule([1.0, 3.0], [0.0, 0.0], [0.0, 5.0], [0.0, 0.0], b)
    >>> round(r.cost, 9), r.soe_kwh.round(9).tolist()
    (5.0, [0.0, 5.0, 0.0])
    """
    from .result import build_result

    t0 = time.perf_counter()
    inp = _Inputs(buy, sell, load_kwh, pv_kwh, battery, dt_h=dt_h, initial_kwh=initial_kwh,
                  terminal_value=terminal_value, allow_grid_charge=allow_grid_charge,
                  allow_battery_export=allow_battery_export,
                  allow_curtailment=allow_curtailment, import_limit_kw=import_limit_kw,
                  export_limit_kw=export_limit_kw, inverter_ac_limit_kw=inverter_ac_limit_kw,
                  export_price_floor=export_price_floor, co2_price_per_kg=co2_price_per_kg,
                  co2_kg_per_kwh=co2_kg_per_kwh)
    e_lo, h, n, i_min = _grid(inp, energy_step_kwh)
    args = inp.kernel_args()
    v, fast = _backward(*args, e_lo, h, n, inp.tv, inp.e_min, i_min)
    soe, _ = _replay(*args, e_lo, h, n, v, inp.e0, inp.e_min, inp.e_max)
    elapsed = time.perf_counter() - t0
    info = {"energy_step_kwh": h, "states": n + 1, "convex_periods": int(fast.sum()),
            "value_kwh0": float(_interp(v[0], inp.e0, e_lo, h, n))}
    return build_result(inp, soe, method="dp", solve_time_s=elapsed, info=info)
