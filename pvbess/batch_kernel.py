"""The batch kernel: the KPI sums of many designs' years, a block of designs side by side.

:func:`kpi_sums` is what :func:`pvbess.simulate_many` runs. Each design steps through the year with
:func:`pvbess.dispatch._step` (the kernel of :func:`pvbess.simulate`) and adds every step to its
sums with the same arithmetic, in the same order, as :func:`pvbess.indicators._acc_step` and
:func:`pvbess.indicators._closure_step`, so row ``k`` equals ``kpis(simulate(...))`` bit for bit.

Why blocks: one design's year is a chain (each step needs the stored energy the previous one
left), so a design alone keeps the core waiting on that chain and on its branches. A block of
:data:`LANES` designs runs the step for all of them before the next step (the lane loop of
:func:`_lanes_step`); that loop has no branch that leaves it and its state is one array, so LLVM
turns it into SIMD code (four designs per AVX2 instruction, each branch of the rules a select).
The SIMD lanes do the same IEEE operations as scalar code; a skipped sum (``if x > 0: s += x``)
becomes ``s += 0.0``, which leaves a sum that starts at +0.0 unchanged, bit for bit. The sums
that do not depend on the battery (PV, loads, the no-battery baselines) are added once per
(PV scale, peak threshold) pair by :func:`_site_sums`, not once per design. Together about 2x
faster than one design at a time with its sums in registers (the kernel before; 10,000 Iquitos
designs, ``benchmarks/bench_sweep.py``).

The six-phase code reaches the lane loop as a compile-time constant (a literal argument): the
rules compile to their own straight-line loop; the comparison strategies share one loop. The
lane loop runs with numba's ``numpy`` error model (a division by zero gives inf, not an
exception; so do the :mod:`pvbess.physics` storage functions it calls): a select computes both
branches of the rules, e.g. ``e / capacity`` for a design without a battery, and keeps the one
the rules take.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numba import njit, prange

from . import dispatch as _d
from .indicators import (
    CLOSURE_TOL_KWH,
    F_ABOVE_AFTER,
    F_ABOVE_BEFORE,
    F_ABOVE_PVONLY,
    F_B_EV,
    F_B_MALL,
    F_B_X,
    F_CHARGE,
    F_CL_DAYS,
    F_CL_MISS,
    F_CL_MISS_OK,
    F_COST_HFP,
    F_COST_HP,
    F_DISCHARGE,
    F_EV,
    F_G_BESS,
    F_G_EV,
    F_G_MALL,
    F_GRID,
    F_GRID_HFP,
    F_GRID_HP,
    F_LOSS,
    F_MALL,
    F_PV,
    F_PV_BESS,
    F_PV_CURT,
    F_PV_EV,
    F_PV_MALL,
    F_PV_X,
    F_PVONLY_GRID,
    F_STEPS,
    N_FIELDS,
)
from .dispatch import GRID_ONLY, PV_ONLY, SELF_CONSUMPTION, SIX_PHASE
from .physics import deliverable, step_loss

__all__ = ["LANES", "kpi_sums"]

#: Designs per block: four AVX2 vectors of four, enough independent chains to keep a core busy.
LANES = 16

# -- rows of a block's state (one array of N_ROWS x LANES; row r, lane b at r * LANES + b) -----
# rows 0 .. N_FIELDS-1: the KPI sums (pvbess.indicators F_* layout)
_R_MAX = N_FIELDS  # this month's largest grid draw so far, HP (+0) and HFP (+1) steps [kW]
_R_E = N_FIELDS + 2  # stored energy at the start of the step [kWh]
_R_CL_ACTIVE = N_FIELDS + 3  # 1.0 once a closure window has started
_R_CL_DAY = N_FIELDS + 4  # day key of the current closure window (-1: none yet)
_R_CL_REACH = N_FIELDS + 5  # 1.0 if the window's last step so far ends at or after close_h
_R_CL_E0 = N_FIELDS + 6  # stored energy at the window's first step [kWh]
_R_CL_H = N_FIELDS + 7  # hours from the window's first step to close_h [h]
_R_CL_END = N_FIELDS + 8  # stored energy at the end of the window's last step so far [kWh]
_R_PARAMS = N_FIELDS + 9  # the design's parameter vector (dispatch.P_* rows)
N_ROWS = _R_PARAMS + _d.N_PARAMS

#: The sums :func:`_site_sums` adds once per (PV scale, threshold); the lanes add the others.
_SITE_SUMS = (F_PV, F_EV, F_MALL, F_PVONLY_GRID, F_ABOVE_BEFORE, F_ABOVE_PVONLY, F_STEPS)
_BATTERY_SUMS = tuple(f for f in range(N_FIELDS) if f not in _SITE_SUMS)

# the HP/HFP pairs are picked by offset (0: HP, 1: HFP); _params spells out the 21 P_* rows
assert F_GRID_HFP == F_GRID_HP + 1 and F_COST_HFP == F_COST_HP + 1 and _d.N_PARAMS == 21


@njit(cache=True, inline="always")
def _params(state, b):
    """Lane ``b``'s parameter vector as a tuple (what :func:`pvbess.dispatch._step` indexes)."""
    o = _R_PARAMS * LANES + b
    n = LANES
    return (state[o], state[o + n], state[o + 2 * n], state[o + 3 * n], state[o + 4 * n],
            state[o + 5 * n], state[o + 6 * n], state[o + 7 * n], state[o + 8 * n],
            state[o + 9 * n], state[o + 10 * n], state[o + 11 * n], state[o + 12 * n],
            state[o + 13 * n], state[o + 14 * n], state[o + 15 * n], state[o + 16 * n],
            state[o + 17 * n], state[o + 18 * n], state[o + 19 * n], state[o + 20 * n])


@njit(cache=True, error_model="numpy")
def _lanes_step(code, pv, ev, mall, t, day, peak, price, dt, state):
    """One step of every design of a block: the strategy's step, then the step added to the sums.

    ``code`` is the strategy (a literal for the six-phase rules); ``pv`` is the unscaled PV of
    the step [kWh], ``t`` its local clock time [h], ``day`` its day key, ``peak`` its HP flag.
    """
    col = 0 if peak else 1
    n = LANES
    for b in range(n):
        p = _params(state, b)
        etad = p[_d.P_ETAD]
        emin = p[_d.P_EMIN]
        close_h = p[_d.P_CLOSE]
        lim = p[_d.P_THR_KW] * dt + 1e-9
        pvi = pv * p[_d.P_PV_SCALE]
        e = state[_R_E * n + b]
        (pv_ev, pv_b, pv_mall, export, curt, d_ev, d_mall, d_x, grid_ev, grid_mall, grid_b,
         e_next, _phase) = _d._step(code, pvi, ev, mall, t, 0.0, e, dt, p)
        charge = pv_b + grid_b
        discharge = d_ev + d_mall + d_x
        grid = grid_ev + grid_mall + grid_b
        state[F_PV_EV * n + b] += pv_ev
        state[F_PV_BESS * n + b] += pv_b
        state[F_PV_MALL * n + b] += pv_mall
        state[F_PV_X * n + b] += export
        state[F_PV_CURT * n + b] += curt
        state[F_B_EV * n + b] += d_ev
        state[F_B_MALL * n + b] += d_mall
        state[F_B_X * n + b] += d_x
        state[F_G_EV * n + b] += grid_ev
        state[F_G_MALL * n + b] += grid_mall
        state[F_G_BESS * n + b] += grid_b
        state[F_GRID * n + b] += grid
        state[F_CHARGE * n + b] += charge
        state[F_DISCHARGE * n + b] += discharge
        state[F_LOSS * n + b] += step_loss(charge, discharge, p[_d.P_ETAC], etad)
        state[(F_GRID_HP + col) * n + b] += grid
        state[(F_COST_HP + col) * n + b] += grid * price
        kw = grid / dt
        top = state[(_R_MAX + col) * n + b]
        state[(_R_MAX + col) * n + b] = kw if kw > top else top
        state[F_ABOVE_AFTER * n + b] += 1.0 if grid_mall > lim else 0.0
        # closure days (indicators._closure_step): a day is booked when the next one starts
        in_window = (t >= p[_d.P_CLOSURE_START]) & (t < close_h)
        active = state[_R_CL_ACTIVE * n + b] != 0.0
        new_day = in_window & ((not active) | (state[_R_CL_DAY * n + b] != day))
        book = new_day & active & (state[_R_CL_REACH * n + b] != 0.0)
        miss = book & (state[_R_CL_END * n + b] > emin + CLOSURE_TOL_KWH)
        allowed = miss & (deliverable(state[_R_CL_E0 * n + b], emin, etad)
                          <= p[_d.P_PD] * state[_R_CL_H * n + b] + 1e-9)
        state[F_CL_DAYS * n + b] += 1.0 if book else 0.0
        state[F_CL_MISS * n + b] += 1.0 if miss else 0.0
        state[F_CL_MISS_OK * n + b] += 1.0 if allowed else 0.0
        # (selects, not branches: the lane loop stays one straight line)
        reach = 1.0 if t + dt >= close_h - 1e-9 else 0.0
        state[_R_CL_ACTIVE * n + b] = 1.0 if in_window else state[_R_CL_ACTIVE * n + b]
        state[_R_CL_END * n + b] = e_next if in_window else state[_R_CL_END * n + b]
        state[_R_CL_REACH * n + b] = reach if in_window else state[_R_CL_REACH * n + b]
        state[_R_CL_DAY * n + b] = day if new_day else state[_R_CL_DAY * n + b]
        state[_R_CL_E0 * n + b] = e if new_day else state[_R_CL_E0 * n + b]
        state[_R_CL_H * n + b] = close_h - t if new_day else state[_R_CL_H * n + b]
        state[_R_E * n + b] = e_next


@njit(cache=True, parallel=True)
def _site_sums(pv, ev, mall, dt, scale, thr_kw):
    """The sums that depend on the site, the PV scale and the threshold only, not on the battery
    (:data:`_SITE_SUMS`), for each pair ``(scale[j], thr_kw[j])``: the same steps, in the same
    order, as :func:`pvbess.indicators._acc_step`, once per pair rather than once per design."""
    out = np.zeros((scale.shape[0], N_FIELDS))
    for j in prange(scale.shape[0]):
        lim = thr_kw[j] * dt + 1e-9
        s_pv = s_ev = s_mall = s_pvonly = n_before = n_pvonly = n_steps = 0.0
        for i in range(pv.shape[0]):
            pvi = pv[i] * scale[j]
            evi = ev[i]
            malli = mall[i]
            s_pv += pvi
            s_ev += evi
            s_mall += malli
            short = evi + malli - pvi
            if short > 0.0:
                s_pvonly += short
            if malli > lim:
                n_before += 1.0
            surplus = pvi - evi
            if surplus < 0.0:
                surplus = 0.0
            if malli - surplus > lim:
                n_pvonly += 1.0
            n_steps += 1.0
        out[j, F_PV] = s_pv
        out[j, F_EV] = s_ev
        out[j, F_MALL] = s_mall
        out[j, F_PVONLY_GRID] = s_pvonly
        out[j, F_ABOVE_BEFORE] = n_before
        out[j, F_ABOVE_PVONLY] = n_pvonly
        out[j, F_STEPS] = n_steps
    return out


@njit(cache=True)
def _flush_month(state, mmax, k0, n_designs, month):
    """Keep each design's largest HP/HFP grid draw of ``month`` and restart the running maxima."""
    for b in range(n_designs):
        for col in range(2):
            top = state[(_R_MAX + col) * LANES + b]
            if top > mmax[k0 + b, month, col]:
                mmax[k0 + b, month, col] = top
            state[(_R_MAX + col) * LANES + b] = 0.0


@njit(cache=True)
def _block(code, pv, ev, mall, hour, day, month, peak, price, dt, params, k0, sums, mmax):
    """Designs ``k0 .. k0 + LANES - 1`` (fewer at the end: the spare lanes repeat the last
    design and are dropped) through the year; their sums into ``sums`` and ``mmax``."""
    k_count = params.shape[0]
    n_designs = min(LANES, k_count - k0)
    state = np.zeros(N_ROWS * LANES)
    for b in range(LANES):
        k = min(k0 + b, k_count - 1)
        for f in range(_d.N_PARAMS):
            state[(_R_PARAMS + f) * LANES + b] = params[k, f]
        state[_R_E * LANES + b] = params[k, _d.P_E0]
        state[_R_CL_DAY * LANES + b] = -1.0
    m_cur = month[0]
    for i in range(pv.shape[0]):
        if month[i] != m_cur:
            _flush_month(state, mmax, k0, n_designs, m_cur)
            m_cur = month[i]
        _lanes_step(code, pv[i], ev[i], mall[i], hour[i], float(day[i]), peak[i], price[i], dt,
                    state)
    _flush_month(state, mmax, k0, n_designs, m_cur)
    for b in range(n_designs):
        k = k0 + b
        if state[_R_CL_ACTIVE * LANES + b] != 0.0 and state[_R_CL_REACH * LANES + b] != 0.0:
            emin = params[k, _d.P_EMIN]
            state[F_CL_DAYS * LANES + b] += 1.0
            if state[_R_CL_END * LANES + b] > emin + CLOSURE_TOL_KWH:
                state[F_CL_MISS * LANES + b] += 1.0
                if (deliverable(state[_R_CL_E0 * LANES + b], emin, params[k, _d.P_ETAD])
                        <= params[k, _d.P_PD] * state[_R_CL_H * LANES + b] + 1e-9):
                    state[F_CL_MISS_OK * LANES + b] += 1.0
        for f in _BATTERY_SUMS:
            sums[k, f] = state[f * LANES + b]


@njit(cache=True, parallel=True)
def _design_sums(code, pv, ev, mall, hour, day, month, peak, price, dt, params, n_months):
    """:func:`kpi_sums` but the :data:`_SITE_SUMS` (left 0): the blocks in parallel."""
    k_count = params.shape[0]
    sums = np.zeros((k_count, N_FIELDS))
    mmax = np.zeros((k_count, n_months, 2))
    if not (code == SIX_PHASE or code == GRID_ONLY or code == PV_ONLY
            or code == SELF_CONSUMPTION):
        raise ValueError("kpi_sums: a strategy code of pvbess.dispatch other than schedule")
    if pv.shape[0] == 0:
        return sums, mmax
    for j in prange((k_count + LANES - 1) // LANES):
        if code == SIX_PHASE:  # a literal: the rules' own straight-line (SIMD) loop
            _block(SIX_PHASE, pv, ev, mall, hour, day, month, peak, price, dt, params,
                   j * LANES, sums, mmax)
        else:  # the comparison strategies (few designs: the sweep's baselines) share one loop
            _block(code, pv, ev, mall, hour, day, month, peak, price, dt, params, j * LANES,
                   sums, mmax)
    return sums, mmax


def kpi_sums(code, pv, ev, mall, hour, day, month, peak, price, dt, params, n_months):
    """Raw KPI sums and monthly maxima of every design (rows of ``params``), blocks in parallel.

    Parameters
    ----------
    code : int
        Strategy code (:data:`pvbess.dispatch.STRATEGY_CODES`, not ``schedule``).
    pv, ev, mall : ndarray
        Energies per step (``pv`` is multiplied by each design's ``P_PV_SCALE``). [kWh]
    hour, day, month, peak, price : ndarray
        :func:`pvbess.indicators.kpi_calendar` of the steps.
    dt : float
        Step length. [h]
    params : ndarray, shape (K, N_PARAMS)
        One parameter vector per design (:func:`pvbess.dispatch.make_params`).
    n_months : int
        Number of month codes.

    Returns
    -------
    sums : ndarray, shape (K, N_FIELDS)
        The sums of :mod:`pvbess.indicators` (``F_*`` columns).
    mmax : ndarray, shape (K, n_months, 2)
        Monthly maximum grid draw in HP (0) and HFP (1) steps. [kW]
    """
    sums, mmax = _design_sums(code, pv, ev, mall, hour, day, month, peak, price, dt, params,
                              n_months)
    if len(params) and len(pv):
        pairs = pd.MultiIndex.from_arrays([params[:, _d.P_PV_SCALE], params[:, _d.P_THR_KW]])
        key = pairs.factorize()[0]  # the same pair, the same key (-0.0 and 0.0 give equal sums)
        first = np.unique(key, return_index=True)[1]
        site = _site_sums(pv, ev, mall, dt, params[first, _d.P_PV_SCALE],
                          params[first, _d.P_THR_KW])
        columns = list(_SITE_SUMS)
        sums[:, columns] = site[key][:, columns]
    return sums, mmax
