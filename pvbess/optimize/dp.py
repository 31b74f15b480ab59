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
linearly interpolated ``V_{k+1}`` (grid moves that cannot win are skipped without running the
meter, a block of them at once: :mod:`pvbess.optimize.forward`).

All kernels are numba ``@njit(cache=True)`` functions on NumPy arrays: no I/O, no globals.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from numba import njit

from ..physics import removed_energy, stored_energy
from ..timeseries import DataError
from .forward import _block_minima, _interp, _replay_blocks
from .minplus import (_convex_run, _convex_step, _general_step, _plus_lerp, _run_flag,
                      _run_step)
from .period import _NBREAK, _breakpoints, _move_steps, _net_cost, _period, _period_inline
from .problem import SchedulingProblem
from .result import ScheduleResult, _plan_block, block_result

__all__ = ["default_energy_step", "dp_schedule"]

_INF = np.inf


@njit(cache=True, inline="always")
def _same(x, y):
    """``x == y`` bit for bit (a zero's sign too; the inputs hold no NaN)."""
    return x == y and math.copysign(1.0, x) == math.copysign(1.0, y)


@njit(cache=True)
def _same_inputs(k, load, pv, buy, sell, xlim, ilim, acap, cmax, dmax, icap, ipen):
    """Whether period ``k`` has the inputs of period ``k + 1``."""
    j = k + 1
    return (_same(load[k], load[j]) and _same(pv[k], pv[j]) and _same(buy[k], buy[j])
            and _same(sell[k], sell[j]) and _same(xlim[k], xlim[j]) and _same(ilim[k], ilim[j])
            and _same(acap[k], acap[j]) and _same(cmax[k], cmax[j]) and _same(dmax[k], dmax[j])
            and _same(icap[k], icap[j]) and _same(ipen[k], ipen[j]))


@njit(cache=True)
def _backward(load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
              grid_charge, batt_export, curtail, icap, ipen, e_lo, h, n, tv, e_min, i_min):
    """Value function ``V[k, i]`` on the grid ``e_lo + i*h`` (``k = 0..T``), and per-period flags
    saying whether the fast convex path was used."""
    t_len = load.shape[0]
    v = np.empty((t_len + 1, n + 1))
    for i in range(n + 1):
        v[t_len, i] = -tv * (e_lo + i * h - e_min)
    fast = _backward_into(v, load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax,
                          wear, grid_charge, batt_export, curtail, icap, ipen, h, n, i_min,
                          np.empty((0, 0)), np.zeros(0, dtype=np.bool_))
    return v, fast


def _backward_pass(args: tuple, grid: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_backward(*args, *grid)`` and the forward pass's block minima of its value function
    (:func:`pvbess.optimize.forward._block_minima`): ``(v, fast, block_min)``."""
    v, fast = _backward(*args, *grid)
    return v, fast, _block_minima(v)


@njit(cache=True)
def _backward_into(v, load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
                   grid_charge, batt_export, curtail, icap, ipen, h, n, i_min, nets, net_rows):
    """Fill ``v[0..T-1]`` by backward induction from the terminal row ``v[T]`` (any function on
    the grid, e.g. the value of a later block; inf where infeasible); returns the per-period
    fast-path flags. (Full-bill branch: ``_backward`` is this with a linear terminal row.)
    ``nets``, ``net_rows``: :func:`pvbess.optimize.period._move_nets` of the same arrays (any soft caps), or empty:
    the rows they hold price the moves from the stored nets (bit for bit the same costs)."""
    t_len = load.shape[0]
    fast = np.zeros(t_len, dtype=np.bool_)
    brk = np.empty(_NBREAK)
    q_j = np.empty(_NBREAK, dtype=np.int64)
    q_w = np.empty(_NBREAK)
    q_f = np.empty(_NBREAK)
    full = np.empty(_NBREAK, dtype=np.bool_)
    slot = np.full(2 * n + 4, -1, dtype=np.int64)
    v_convex = _convex_run(v[t_len], i_min, n)[2]  # (a linear terminal row is)
    f_all = np.empty(2 * n + 1)
    nq = 0
    flo, fhi, f_convex = 0, -1, False
    priced = False
    for k in range(t_len - 1, -1, -1):
        mlo, mhi = _move_steps(cmax[k], dmax[k], eta_c, eta_d, h, n)
        width = mhi - mlo + 1
        f = f_all[:width]
        nxt = v[k + 1]
        cur = v[k]
        was_priced = priced
        priced = net_rows.shape[0] > 0 and net_rows[k] and (ipen[k] < np.inf or icap[k] == np.inf)
        # a period with the inputs of the next one has its move costs and breakpoints: kept
        if not (k + 1 < t_len and priced == was_priced
                and _same_inputs(k, load, pv, buy, sell, xlim, ilim, acap, cmax, dmax, icap,
                                 ipen)):
            if priced:
                for m in range(mlo, mhi + 1):
                    f[m - mlo] = _net_cost(nets[k, m + n], m * h, buy[k], sell[k], icap[k],
                                           ipen[k], wear)
                flo, fhi, f_convex = _convex_run(f, 0, width - 1)
            else:
                scale, d2min, p1, p2 = 0.0, np.inf, np.nan, np.nan  # _convex_run on the way
                for m in range(mlo, mhi + 1):
                    x = _period_inline(m * h, load[k], pv[k], buy[k], sell[k], xlim[k],
                                       ilim[k], acap[k], eta_c, eta_d, cmax[k], dmax[k], wear,
                                       grid_charge, batt_export, curtail, icap[k], ipen[k])[0]
                    f[m - mlo] = x
                    scale, d2min, p1, p2 = _run_step(x, scale, d2min, p1, p2)
                # the feasible moves: one interval (idle is in it unless a hard import cap
                # forces a discharge; it may hold no grid move at all: then the general path
                # scores the ends)
                if scale == np.inf:
                    flo, fhi, f_convex = _convex_run(f, 0, width - 1)
                else:
                    flo, fhi, f_convex = 0, width - 1, _run_flag(scale, d2min)
            # the exact breakpoint moves off the move grid (kinks and feasible ends of f_k),
            # scored with V_{k+1} interpolated: with them a step is the exact minimum over
            # continuous moves of f_k + (piecewise linear V_{k+1}), so a limit that is no
            # multiple of h (an inverter or power limit, the net load) is not rounded down
            # period after period
            nb = _breakpoints(load[k], pv[k], xlim[k], ilim[k], acap[k], eta_c, eta_d, cmax[k],
                              dmax[k], grid_charge, batt_export, curtail, brk, icap[k],
                              ipen[k])
            nq = 0
            for q in range(nb):
                sq = brk[q] / h
                jq = math.floor(sq)
                w = sq - jq
                if w < 1e-9 or w > 1.0 - 1e-9:
                    continue  # a grid move
                fq = _period(brk[q], load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k],
                             acap[k], eta_c, eta_d, cmax[k], dmax[k], wear, grid_charge,
                             batt_export, curtail, icap[k], ipen[k])[0]
                if fq < np.inf:
                    q_j[nq] = jq
                    q_w[nq] = w
                    q_f[nq] = fq
                    nq += 1
        # states below the window (i < i_min, only when the initial energy lies below e_min):
        # no discharge; brute force (V is not convex across e_min there)
        for i in range(i_min):
            best = np.inf
            jhi = min(i + mhi, n)
            for j in range(i, jhi + 1):
                cand = f[j - i - mlo] + nxt[j]
                best = min(best, cand)
            cur[i] = best
        # states below the window: charging breakpoints only
        for q in range(nq):
            if q_j[q] >= 0:
                for i in range(min(i_min, n - q_j[q])):
                    j = i + q_j[q]
                    cand = _plus_lerp(q_f[q], nxt[j], nxt[j + 1], q_w[q])
                    cur[i] = min(cur[i], cand)
        # states in the window never leave it: j >= i_min. Is V_k convex on the window's grid?
        # (it is when all later periods were convex); with hard import caps V_k is inf below
        # the energy the caps need: convex on its finite run
        if flo <= fhi and f_convex and v_convex:
            fast[k] = True
            v_convex = _convex_step(cur, nxt, f, flo + mlo, fhi + mlo, mlo, width, n, i_min,
                                    slot, full, q_j, q_w, q_f, nq)
        else:
            _general_step(cur, nxt, f, mlo, mhi, n, i_min, q_j, q_w, q_f, nq)
            v_convex = _convex_run(cur, i_min, n)[2]
    return fast


@njit(cache=True)
def _last_nonconvex(load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
                    grid_charge, batt_export, curtail, icap, ipen, h, n):
    """Index of the last period whose cost on the move grid is not convex (-1 if none).

    A period with ``0 <= sell <= buy`` (and ``wear >= 0``, ``eta_c * eta_d <= 1``) is convex
    without looking: the AC setpoint is convex in ``D``, the meter convex and nondecreasing in the
    setpoint (forced curtailment and the export limit are maxima of affine pieces, a curtailment
    choice never pays at ``sell >= 0``) and the meter cost convex and nondecreasing in the meter.
    A hard import cap or a charge-source bound only cuts the feasible set to an interval.
    """
    sure = wear >= 0.0 and eta_c * eta_d <= 1.0
    f = np.empty(2 * n + 1)
    for k in range(load.shape[0] - 1, -1, -1):
        if sure and 0.0 <= sell[k] <= buy[k]:
            continue
        mlo, mhi = _move_steps(cmax[k], dmax[k], eta_c, eta_d, h, n)
        for m in range(mlo, mhi + 1):
            f[m - mlo] = _period(m * h, load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k],
                                 acap[k], eta_c, eta_d, cmax[k], dmax[k], wear, grid_charge,
                                 batt_export, curtail, icap[k], ipen[k])[0]
        if not _convex_run(f, 0, mhi - mlo)[2]:
            return k
    return -1


#: work budget of the general (non-convex) backward path: periods x states x moves
_GENERAL_BUDGET = 4e8


#: Default grid: states per unit of value of the window, ``usable * spread * sqrt(periods)``
#: [1/currency]. The DP's gap to the exact optimum stays below about ``c * sqrt(periods) * step
#: * spread`` with c about 0.03 on the bess-manager corpus and up to about 0.045 on random days
#: (tests/test_optimize.py), so 6 keeps it below about 0.0075 (measured on the corpus: at most
#: 0.0055; benchmarks/bench_dp_corpus.py).
STATES_PER_VALUE = 6.0
#: Default grid: at least this many states, and at least this many steps per largest move of
#: one period (a partial move stays expressible).
MIN_STATES = 250
#: Default grid: at least this many states x periods (a short horizon costs nothing, so it gets
#: a fine grid: 20,000 states for two periods, 1,667 for a day of hours, 417 for 96 quarters).
MIN_STATE_PERIODS = 40_000
STEPS_PER_MOVE = 8


def default_energy_step(problem: SchedulingProblem) -> float:
    """The DP's default energy-grid step where every period is convex. [kWh]

    ``usable / N`` states, where ``N`` follows the problem: ``STATES_PER_VALUE * usable *
    spread * sqrt(periods)`` (``spread = max(buy) - min(sell)``: what one kWh of grid step can
    be worth), at least :data:`MIN_STATES`, :data:`MIN_STATE_PERIODS` / periods and
    :data:`STEPS_PER_MOVE` steps per largest move of a period, at most ``clip(8_000_000 // periods, 200, 20_000)`` (the work budget: 20,000 for a
    day, 913 for an hourly year). A bess-manager day (27 kWh, spread 2.4, 24 periods) gets 1,905
    states; the Iquitos year keeps 913. Where some periods need the general (non-convex) path,
    :func:`optimize_schedule` coarsens the grid so that the general path stays within about 4e8
    state-move evaluations.
    """
    usable = problem.e_max_kwh - problem.e_min_kwh
    periods = max(int(problem.periods), 1)
    cap = int(min(20_000, max(200, 8_000_000 // periods)))
    spread = float(problem.buy.max() - problem.sell.min())
    reach = max(stored_energy(float(problem.charge_max_kwh.max()), problem.eta_charge),
                removed_energy(float(problem.discharge_max_kwh.max()), problem.eta_discharge))
    n = max(STATES_PER_VALUE * usable * max(spread, 0.0) * math.sqrt(periods),
            MIN_STATE_PERIODS / periods)
    if reach > 0:
        n = max(n, STEPS_PER_MOVE * usable / reach)
    n = cap if not math.isfinite(n) else min(cap, max(MIN_STATES, math.ceil(n)))
    return usable / n


@njit(cache=True)
def _forward_plan(load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
                  grid_charge, batt_export, curtail, icap, ipen, e_lo, h, n, v, block_min, e0,
                  e_min, e_max, co2_kg_per_kwh):
    """The forward pass (``_replay_blocks``; ``block_min``: the block minima of ``v``) and the
    plant's evaluation of its trajectory (``_plan_block``, no caps) in one call; also the periods
    that broke a hard import cap (cost ``inf`` in the replay) and the value function at the
    initial energy."""
    soe, costs = _replay_blocks(load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax,
                                wear, grid_charge, batt_export, curtail, icap, ipen, e_lo, h, n, v,
                                block_min, e0, e_min, e_max)
    none = np.full(load.shape[0], np.inf)
    block, code = _plan_block(soe, load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax,
                              dmax, wear, grid_charge, batt_export, curtail, none, none,
                              co2_kg_per_kwh)
    violations = 0
    for k in range(costs.shape[0]):
        if not np.isfinite(costs[k]):
            violations += 1
    return soe, block, code, violations, _interp(v[0], e0, e_lo, h, n)


def _grid(problem: SchedulingProblem, energy_step_kwh: float | None) -> tuple[float, float, int, int]:
    """The energy grid ``(e_lo, h, N, i_min)``: states ``e_lo + i*h``, ``i = 0..N``; ``e_min``
    is state ``i_min`` (> 0 only when the initial energy lies below the window)."""
    e_lo, h, n = _grid_window(problem, energy_step_kwh)
    m = 0
    if problem.initial_kwh < problem.e_min_kwh:
        m = math.ceil((problem.e_min_kwh - problem.initial_kwh) / h - 1e-9)
    return e_lo - m * h, h, n + m, m


def _grid_window(problem: SchedulingProblem, energy_step_kwh: float | None) -> tuple[float, float, int]:
    usable = problem.e_max_kwh - problem.e_min_kwh
    if usable <= 0:
        raise DataError("battery: empty storage window (e_max_kwh <= e_min_kwh)")
    if energy_step_kwh is not None:
        step = energy_step_kwh
        if not (math.isfinite(step) and step > 0):
            raise DataError(f"energy_step_kwh = {energy_step_kwh!r} [kWh]: must be > 0")
        n = max(1, round(usable / step))
        return problem.e_min_kwh, usable / n, n
    n = max(1, round(usable / default_energy_step(problem)))
    last = _last_nonconvex(*problem.kernel_args(), usable / n, n)
    if last >= 0:
        reach = (stored_energy(float(problem.charge_max_kwh.max()), problem.eta_charge)
                 + removed_energy(float(problem.discharge_max_kwh.max()), problem.eta_discharge))
        frac = min(1.0, reach / usable)  # moves per state as a fraction of the states
        n_gen = int(math.sqrt(_GENERAL_BUDGET / ((last + 1) * max(frac, 1e-6))))
        n = max(50, min(n, n_gen))
    return problem.e_min_kwh, usable / n, n


def dp_schedule(problem: SchedulingProblem, energy_step_kwh: float | None = None, *,
                tails: Any = None) -> ScheduleResult:
    """The DP's plan of a problem without demand charges (see :func:`pvbess.optimize_schedule`).

    ``info['cap_violations']``: periods where a hard import cap (``problem.import_cap_kwh``)
    could not be met (they idle). ``tails``: a :class:`~pvbess.optimize.replan.BackwardCache`
    for re-plans of :meth:`~pvbess.SchedulingProblem.tail` s of one problem (the same plan,
    the backward pass reused)."""
    t0 = time.perf_counter()
    soe, block, code, info = dp_block(problem, energy_step_kwh, tails=tails)
    return block_result(problem, soe, block, code, method="dp",
                        solve_time_s=time.perf_counter() - t0, info=info)


def dp_block(problem: SchedulingProblem, energy_step_kwh: float | None = None, *,
             tails: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """:func:`dp_schedule` before its result: the trajectory, the plant's evaluation of it (a
    block of rows, the action codes) and ``info``, for a loop that stores the block as it is."""
    if problem.demand_charges:
        raise DataError("dp_schedule: the problem has demand charges; use optimize_schedule")
    e_lo, h, n, i_min = _grid(problem, energy_step_kwh)
    args = problem.kernel_args()
    grid = (e_lo, h, n, problem.terminal_value, problem.e_min_kwh, i_min)
    v, fast, block_min = (_backward_pass(args, grid) if tails is None
                          else tails.backward(problem, args, *grid))
    kept = None if tails is None else tails.forward(problem)
    if kept is not None:  # the last pass's suffix: the same trajectory and evaluation
        (soe, block, code), violations = kept, 0
        value0 = _interp(v[0], problem.initial_kwh, e_lo, h, n)
    else:
        soe, block, code, violations, value0 = _forward_plan(
            *args, e_lo, h, n, v, block_min, problem.initial_kwh, problem.e_min_kwh,
            problem.e_max_kwh, problem.co2_kg_per_kwh)
        if tails is not None:
            tails.keep_forward(problem, soe, block, code, violations)
    # violations: periods of a hard import cap the battery cannot meet (they idle)
    return soe, block, code, {"energy_step_kwh": h, "states": n + 1, "convex_periods": int(
        fast.sum()), "value_kwh0": value0, "cap_violations": violations}
