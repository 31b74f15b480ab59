"""The exact optimum of the scheduling model with HiGHS: an LP where it is exact, else a MILP.

Variables per period ``k``: AC charge ``c``, AC discharge ``d``, import ``imp``, export ``exp``,
curtailed PV ``u`` and the stored energy ``E_{k+1}``. The LP lets a period charge and discharge at
once, or import and export at once; where its optimum does that (possible with negative prices,
``sell > buy`` or a binding export limit), binaries forbid it in those periods and the MILP is
solved, repeating until the solution is clean. ``ScheduleResult.method`` says which ("lp" or
"milp").

Demand charges (``SchedulingProblem.demand_charges``): groups of periods, each with a price per kW
of the group's peak import power, modelled with one peak variable per group (e.g. one per month
and HP/HFP window), bounded below by the group's incumbent peak.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
import dataclasses
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

from .problem import SchedulingProblem, as_problem
from ..physics import energy_change, import_caps, trajectory
from .result import ScheduleResult, build_result

__all__ = ["exact_schedule"]

_SIMUL_TOL = 1e-6


_BIG = 1e30  # "no bound" for HiGHS


@dataclass(frozen=True)
class _Columns:
    """Where each variable sits in the LP's column vector.

    Continuous blocks of ``T`` columns each: AC charge ``ic``, AC discharge ``idd``, import
    ``ii``, export ``ie``, curtailed PV ``iu``, stored energy after the period ``iE``; one peak
    per demand group ``i_dem``; then the binaries: ``i_y`` (charge or discharge) in the periods
    ``cd_idx``, ``i_z`` (import or export) in ``ie_idx``, ``i_w1`` (export at its limit) in
    ``u1_idx``, ``i_w2`` (inverter at its AC limit) in ``u2_idx``, and ``i_a`` (back in the
    window, one per period) when the initial energy is below it (``below``).
    """

    ic: np.ndarray
    idd: np.ndarray
    ii: np.ndarray
    ie: np.ndarray
    iu: np.ndarray
    iE: np.ndarray
    i_dem: np.ndarray
    cd_idx: np.ndarray
    ie_idx: np.ndarray
    u1_idx: np.ndarray
    u2_idx: np.ndarray
    i_y: np.ndarray
    i_z: np.ndarray
    i_w1: np.ndarray
    i_w2: np.ndarray
    i_a: np.ndarray
    below: bool
    ncol: int

    @property
    def binaries(self) -> np.ndarray:
        return np.concatenate([self.i_y, self.i_z, self.i_w1, self.i_w2, self.i_a])


def _columns(problem: SchedulingProblem, bin_cd: np.ndarray, bin_ie: np.ndarray,
             bin_u: np.ndarray, n_dem: int) -> _Columns:
    t = problem.periods
    ic, idd, ii, ie, iu, iE = (np.arange(t) + q * t for q in range(6))
    n_cont = 6 * t
    cd_idx, ie_idx = np.flatnonzero(bin_cd), np.flatnonzero(bin_ie)
    # forced-curtailment binaries: w1 = export at its limit, w2 = inverter at its AC limit
    u1_idx = np.flatnonzero(bin_u & np.isfinite(problem.export_limit_kwh))
    u2_idx = np.flatnonzero(bin_u & np.isfinite(problem.inverter_limit_kwh))
    first = n_cont + n_dem + cd_idx.size + ie_idx.size
    # initial energy below the window: a_k (k = 1..T) = "back in the window", monotone; no
    # discharge before it (the DP's rule)
    below = bool(problem.initial_kwh < problem.e_min_kwh - 1e-12)
    n_a = t if below else 0
    return _Columns(
        ic, idd, ii, ie, iu, iE, i_dem=n_cont + np.arange(n_dem), cd_idx=cd_idx, ie_idx=ie_idx,
        u1_idx=u1_idx, u2_idx=u2_idx,
        i_y=n_cont + n_dem + np.arange(cd_idx.size),
        i_z=n_cont + n_dem + cd_idx.size + np.arange(ie_idx.size),
        i_w1=first + np.arange(u1_idx.size), i_w2=first + u1_idx.size + np.arange(u2_idx.size),
        i_a=first + u1_idx.size + u2_idx.size + np.arange(n_a), below=below,
        ncol=first + u1_idx.size + u2_idx.size + n_a)


@dataclass(frozen=True)
class _Limits:
    """Per-period bounds of the moves: charge, discharge, import, export, curtailment. [kWh]"""

    cmax: np.ndarray
    dmax: np.ndarray
    imax: np.ndarray
    xmax: np.ndarray
    umax: np.ndarray


def _limits(problem: SchedulingProblem) -> _Limits:
    """The site meter's bounds (:mod:`pvbess.physics`), restated for the LP's columns."""
    surplus = np.maximum(problem.pv_kwh - problem.load_kwh, 0.0)
    deficit = np.maximum(problem.load_kwh - problem.pv_kwh, 0.0)
    cmax = problem.charge_max_kwh.copy()
    if problem.charge_source == "surplus":
        cmax = np.minimum(cmax, surplus)
    elif problem.charge_source == "pv":  # from PV before the load is served, as the rules
        cmax = np.minimum(cmax, problem.pv_kwh)
    dmax = problem.discharge_max_kwh.copy()
    if not problem.allow_battery_export:
        dmax = np.minimum(dmax, deficit)
    imax = import_caps(problem.load_kwh, problem.pv_kwh, problem.import_limit_kwh,
                       problem.inverter_limit_kwh)
    if problem.import_cap_kwh is not None:  # a hard cap forces the battery (the DP's icap)
        imax = np.minimum(imax, problem.import_cap_kwh)
    forced_possible = (np.isfinite(problem.export_limit_kwh)
                       | np.isfinite(problem.inverter_limit_kwh))
    umax = (problem.pv_kwh if problem.allow_curtailment
            else np.where(forced_possible, problem.pv_kwh, 0.0))
    return _Limits(cmax, dmax, imax, problem.export_limit_kwh.copy(), umax)


def _column_bounds(problem: SchedulingProblem, col: _Columns, lim: _Limits,
                   demand: Sequence[tuple[np.ndarray, float, float]]):
    lower = np.zeros(col.ncol)
    upper = np.full(col.ncol, _BIG)
    upper[col.ic] = lim.cmax
    upper[col.idd] = lim.dmax
    upper[col.ii] = np.where(np.isfinite(lim.imax), lim.imax, _BIG)
    upper[col.ie] = np.where(np.isfinite(lim.xmax), lim.xmax, _BIG)
    upper[col.iu] = lim.umax
    lower[col.iE] = min(problem.e_min_kwh, problem.initial_kwh)
    upper[col.iE] = problem.e_max_kwh
    upper[col.binaries] = 1.0
    for g, (_, _, incumbent_kw) in enumerate(demand):
        lower[col.i_dem[g]] = incumbent_kw  # a plan pays only for raising the recorded peak
    if col.below:
        upper[col.idd[0]] = 0.0
    return lower, upper


def _cost(problem: SchedulingProblem, col: _Columns,
          demand: Sequence[tuple[np.ndarray, float, float]]):
    """The objective's column costs and its constant offset."""
    cost = np.zeros(col.ncol)
    cost[col.ii] = problem.buy
    cost[col.ie] = -problem.sell
    cost[col.ic] = problem.wear_cost_per_kwh * problem.eta_charge
    cost[col.iE[-1]] = -problem.terminal_value
    for g, (_, price, _) in enumerate(demand):
        cost[col.i_dem[g]] = price
    return cost, problem.terminal_value * problem.e_min_kwh


class _Rows:
    """The constraint matrix, built as (row, column, value) blocks with the rows' bounds."""

    def __init__(self) -> None:
        self.blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.n = 0

    def next(self, count: int) -> np.ndarray:
        """The indices of the next ``count`` rows."""
        return self.n + np.arange(count)

    def add(self, blocks, lo: np.ndarray, hi: np.ndarray) -> None:
        """Append ``len(lo)`` rows: entries ``blocks`` (a list of (row, col, value)), bounds."""
        self.blocks += blocks
        self.lo.append(lo)
        self.hi.append(hi)
        self.n += len(lo)

    def matrix(self, ncol: int):
        rr = np.concatenate([b[0] for b in self.blocks])
        cc = np.concatenate([b[1] for b in self.blocks])
        vv = np.concatenate([b[2] for b in self.blocks]).astype(np.float64)
        mat = sp.csc_matrix((vv, (rr, cc)), shape=(self.n, ncol))
        mat.sort_indices()
        return mat, np.concatenate(self.lo), np.concatenate(self.hi)


def _repeat(rows: np.ndarray, cols: list[np.ndarray], values) -> tuple:
    """One block of ``len(rows)`` rows, each with one entry per array of ``cols``; ``values``
    per column (scalars) or per row and column (arrays of shape (rows, cols))."""
    k = len(cols)
    vals = np.asarray(values, dtype=float)
    vals = np.tile(vals, rows.size) if vals.ndim == 1 else vals.ravel()
    return (np.repeat(rows, k), np.stack(cols, 1).ravel(), vals)


def _flow_rows(problem: SchedulingProblem, col: _Columns, rows: _Rows) -> None:
    """The site balance and the storage update (:func:`pvbess.physics.apply_step`)."""
    t = problem.periods
    # balance: imp - exp - c + d - u = load - pv
    bal_rhs = problem.load_kwh - problem.pv_kwh
    rows.add([_repeat(rows.next(t), [col.ii, col.ie, col.ic, col.idd, col.iu],
                      [1.0, -1.0, -1.0, 1.0, -1.0])], bal_rhs, bal_rhs)
    # storage: E_{k+1} - E_k - eta_c c + d/eta_d = 0 (E_0 fixed)
    rs = rows.next(t)
    sto_rhs = np.zeros(t)
    sto_rhs[0] = problem.initial_kwh
    rows.add([_repeat(rs, [col.iE, col.ic, col.idd],
                      [1.0, -problem.eta_charge, 1.0 / problem.eta_discharge]),
              (rs[1:], col.iE[:-1], -np.ones(t - 1))], sto_rhs, sto_rhs)


def _inverter_rows(problem: SchedulingProblem, col: _Columns, rows: _Rows) -> None:
    """Hybrid-inverter AC limit on the power through it: ``-inv <= pv - u - c + d <= inv``."""
    fin = np.flatnonzero(np.isfinite(problem.inverter_limit_kwh))
    if not fin.size:
        return
    cols = [col.iu[fin], col.ic[fin], col.idd[fin]]
    inv, pv = problem.inverter_limit_kwh[fin], problem.pv_kwh[fin]
    rows.add([_repeat(rows.next(fin.size), cols, [-1.0, -1.0, 1.0])],
             np.full(fin.size, -_BIG), inv - pv)
    rows.add([_repeat(rows.next(fin.size), cols, [1.0, 1.0, -1.0])],
             np.full(fin.size, -_BIG), inv + pv)


def _no_grid_charge_rows(problem: SchedulingProblem, col: _Columns, rows: _Rows) -> None:
    """Without grid charging, curtailing PV never makes a charge draw on the grid:
    ``u + c - d <= pv`` (``net <= load``, as :func:`pvbess.physics.meter`). It can bind only
    where importing pays (``buy <= 0``), so rows go only there."""
    ng = np.flatnonzero((problem.charge_source != "any") & problem.allow_curtailment
                        & (problem.buy <= 0) & (problem.pv_kwh > 0))
    if ng.size:
        rows.add([_repeat(rows.next(ng.size), [col.iu[ng], col.ic[ng], col.idd[ng]],
                          [1.0, 1.0, -1.0])], np.full(ng.size, -_BIG), problem.pv_kwh[ng])


def _demand_rows(problem: SchedulingProblem, col: _Columns, rows: _Rows,
                 demand: Sequence[tuple[np.ndarray, float, float]]) -> None:
    """Demand peaks: ``imp_k / dt - P_g <= 0`` for every period of group ``g``."""
    for g, (mask, _, _) in enumerate(demand):
        idx = np.flatnonzero(mask)
        rd = rows.next(idx.size)
        rows.add([(np.concatenate([rd, rd]),
                   np.concatenate([col.ii[idx], np.full(idx.size, col.i_dem[g])]),
                   np.concatenate([np.full(idx.size, 1.0 / problem.dt_h), -np.ones(idx.size)]))],
                 np.full(idx.size, -_BIG), np.zeros(idx.size))


def _exclusion_rows(problem: SchedulingProblem, col: _Columns, lim: _Limits,
                    rows: _Rows) -> None:
    """Binaries: ``c <= cmax*y, d <= dmax*(1-y)``; ``imp <= M*z, exp <= M*(1-z)``."""
    q = col.cd_idx
    if q.size:
        rows.add([_repeat(rows.next(q.size), [col.ic[q], col.i_y],
                          np.stack([np.ones(q.size), -lim.cmax[q]], 1))],
                 np.full(q.size, -_BIG), np.zeros(q.size))
        rows.add([_repeat(rows.next(q.size), [col.idd[q], col.i_y],
                          np.stack([np.ones(q.size), lim.dmax[q]], 1))],
                 np.full(q.size, -_BIG), lim.dmax[q])
    q = col.ie_idx
    if q.size:
        m_imp = np.where(np.isfinite(lim.imax[q]), lim.imax[q],
                         problem.load_kwh[q] + problem.charge_max_kwh[q])
        m_exp = np.minimum(np.where(np.isfinite(lim.xmax[q]), lim.xmax[q], _BIG),
                           problem.pv_kwh[q] + lim.dmax[q])
        rows.add([_repeat(rows.next(q.size), [col.ii[q], col.i_z],
                          np.stack([np.ones(q.size), -m_imp], 1))],
                 np.full(q.size, -_BIG), np.zeros(q.size))
        rows.add([_repeat(rows.next(q.size), [col.ie[q], col.i_z],
                          np.stack([np.ones(q.size), m_exp], 1))],
                 np.full(q.size, -_BIG), m_exp)


def _curtailment_rows(problem: SchedulingProblem, col: _Columns, lim: _Limits, rows: _Rows,
                      bin_u: np.ndarray) -> None:
    """Curtailment only where forced: ``u <= pv * (w1 + w2)``; ``exp >= xlim * w1``;
    ``pv - u - c + d >= acap`` when ``w2 = 1``."""
    u1_idx, u2_idx = col.u1_idx, col.u2_idx
    if not (u1_idx.size or u2_idx.size):
        return
    q = np.flatnonzero(bin_u)
    pos1 = {int(k): j for j, k in enumerate(u1_idx)}
    pos2 = {int(k): j for j, k in enumerate(u2_idx)}
    rr_, cc_, vv_ = [], [], []
    for row, k_ in zip(rows.next(q.size), q):
        k_ = int(k_)
        rr_.append(row)
        cc_.append(int(col.iu[k_]))
        vv_.append(1.0)
        for pos, i_w in ((pos1, col.i_w1), (pos2, col.i_w2)):
            if k_ in pos:
                rr_.append(row)
                cc_.append(int(i_w[pos[k_]]))
                vv_.append(-float(problem.pv_kwh[k_]))
    rows.add([(np.array(rr_), np.array(cc_), np.array(vv_))],
             np.full(q.size, -_BIG), np.zeros(q.size))
    if u1_idx.size:
        rows.add([_repeat(rows.next(u1_idx.size), [col.ie[u1_idx], col.i_w1],
                          np.stack([np.ones(u1_idx.size), -lim.xmax[u1_idx]], 1))],
                 np.zeros(u1_idx.size), np.full(u1_idx.size, _BIG))
    if u2_idx.size:
        q2 = u2_idx
        # pv - u - c + d >= acap - M (1 - w2), M = acap + cmax + 1 (inactive when w2 = 0)
        big_m = problem.inverter_limit_kwh[q2] + problem.charge_max_kwh[q2] + 1.0
        rows.add([_repeat(rows.next(q2.size), [col.iu[q2], col.ic[q2], col.idd[q2], col.i_w2],
                          np.stack([-np.ones(q2.size), -np.ones(q2.size), np.ones(q2.size),
                                    -big_m], 1))],
                 problem.inverter_limit_kwh[q2] - big_m - problem.pv_kwh[q2],
                 np.full(q2.size, _BIG))


def _below_window_rows(problem: SchedulingProblem, col: _Columns, lim: _Limits,
                       rows: _Rows) -> None:
    """Initial energy below the window: no discharge until the energy is back in it."""
    if not col.below:
        return
    t, i_a = problem.periods, col.i_a
    gap = problem.e_min_kwh - problem.initial_kwh
    if t > 1:  # a_k - a_{k+1} <= 0
        rows.add([_repeat(rows.next(t - 1), [i_a[:-1], i_a[1:]], [1.0, -1.0])],
                 np.full(t - 1, -_BIG), np.zeros(t - 1))
    # E_k - gap * a_k >= e0  (k = 1..T)
    rows.add([_repeat(rows.next(t), [col.iE, i_a], [1.0, -gap])],
             np.full(t, problem.initial_kwh), np.full(t, _BIG))
    if t > 1:  # d_k - dmax_k * a_k <= 0  (k = 1..T-1)
        rows.add([_repeat(rows.next(t - 1), [col.idd[1:], i_a[:-1]],
                          np.stack([np.ones(t - 1), -lim.dmax[1:]], 1))],
                 np.full(t - 1, -_BIG), np.zeros(t - 1))


def _run_highs(col: _Columns, rows: _Rows, cost: np.ndarray, offset: float, lower: np.ndarray,
               upper: np.ndarray, time_limit: float | None) -> tuple[np.ndarray, float, str]:
    """Solve the LP (a MILP if it has binaries) with HiGHS; raise unless optimal."""
    mat, row_lo, row_hi = rows.matrix(col.ncol)
    lp = highspy.HighsLp()
    lp.num_col_ = col.ncol
    lp.num_row_ = rows.n
    lp.col_cost_ = cost
    lp.col_lower_ = lower
    lp.col_upper_ = upper
    lp.row_lower_ = row_lo
    lp.row_upper_ = row_hi
    lp.offset_ = offset
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = mat.indptr.astype(np.int32)
    lp.a_matrix_.index_ = mat.indices.astype(np.int32)
    lp.a_matrix_.value_ = mat.data
    binaries = col.binaries
    if binaries.size:
        integ = [highspy.HighsVarType.kContinuous] * col.ncol
        for j in binaries:
            integ[int(j)] = highspy.HighsVarType.kInteger
        lp.integrality_ = integ
    h = _quiet_highs()
    h.setOptionValue("threads", 1)
    if binaries.size:
        h.setOptionValue("mip_rel_gap", 1e-9)
        h.setOptionValue("mip_abs_gap", 1e-7)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    h.passModel(lp)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    if status != "Optimal":
        raise RuntimeError(f"exact_schedule: HiGHS status {status!r}")
    return (np.asarray(h.getSolution().col_value),
            float(h.getInfo().objective_function_value), status)


def _quiet_highs():
    """A HiGHS instance that prints nothing: the banner HiGHS writes to the process's standard
    output when the first instance is made (before any option can be set) is discarded."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


def _solve(problem: SchedulingProblem, bin_cd: np.ndarray, bin_ie: np.ndarray, bin_u: np.ndarray,
           demand: Sequence[tuple[np.ndarray, float, float]], time_limit: float | None):
    """Build and solve the model with binaries in the flagged periods.

    Returns the solution vector, the objective, HiGHS's status, the column blocks
    ``(ic, idd, ii, ie, iu, iE, i_dem)`` and the number of binaries.
    """
    col = _columns(problem, bin_cd, bin_ie, bin_u, len(demand))
    lim = _limits(problem)
    lower, upper = _column_bounds(problem, col, lim, demand)
    cost, offset = _cost(problem, col, demand)
    rows = _Rows()
    _flow_rows(problem, col, rows)
    _inverter_rows(problem, col, rows)
    _no_grid_charge_rows(problem, col, rows)
    _demand_rows(problem, col, rows, demand)
    _exclusion_rows(problem, col, lim, rows)
    _curtailment_rows(problem, col, lim, rows, bin_u)
    _below_window_rows(problem, col, lim, rows)
    x, obj, status = _run_highs(col, rows, cost, offset, lower, upper, time_limit)
    blocks = (col.ic, col.idd, col.ii, col.ie, col.iu, col.iE, col.i_dem)
    return x, obj, status, blocks, int(col.binaries.size)


def exact_schedule(problem: SchedulingProblem | Any = None, *args: Any,
                   energy_step_kwh: float | None = None, time_limit_s: float | None = None,
                   **options: Any) -> ScheduleResult:
    """Exact optimum of the scheduling model with HiGHS (LP, or MILP where the LP is not exact).

    Parameters
    ----------
    problem : SchedulingProblem
        The problem; or, as for :func:`pvbess.optimize_schedule`, the arrays and options of
        :meth:`pvbess.SchedulingProblem.build`. Its demand charges (one peak variable per group,
        at least the group's incumbent peak) are added to ``objective`` and ``cost`` and
        reported as ``summary['demand_cost']``.
    energy_step_kwh : float, optional
        Accepted and ignored (the DP's grid step), so the two solvers take the same call.
    time_limit_s : float, optional
        HiGHS time limit. [s]

    Returns
    -------
    ScheduleResult
        ``method`` is ``"lp"`` when the LP optimum has no period that both charges and
        discharges or both imports and exports (it is then the exact optimum of the model),
        else ``"milp"``. ``info['binaries']`` counts the binaries. ``objective`` and ``cost`` are the solver's; the period table is the
        plant evaluation of the solver's trajectory (equal up to solver tolerance);
        ``info['plant_objective']`` holds its objective.

    Notes
    -----
    Binaries are added (i) where ``sell > buy`` (import and export at once), (ii) where the LP
    optimum charges and discharges at once, and (iii) with ``allow_curtailment=False`` and a
    finite export or inverter limit, in periods with a negative price and PV: curtailment is
    then allowed only while the export (or the inverter) is at its limit, so it is never more than
    the forced amount, as in the DP; (iv) when the initial energy lies below ``e_min_kwh``, one
    monotone binary per period ("back in the window"): no discharge before it, never below
    ``e_min_kwh`` after it, as in the DP.
    """
    t0 = time.perf_counter()
    problem = as_problem(problem, args, options)
    demand = [(g.mask, g.price_per_kw, g.incumbent_kw) for g in problem.demand_charges]
    bin_cd = np.zeros(problem.periods, dtype=bool)
    # where sell > buy the LP could import and export without bound: binaries from the start
    bin_ie = problem.sell > problem.buy + 1e-12
    # curtailment not allowed by choice but forced by a limit: where curtailing would pay
    # (negative prices), binaries keep it to the forced amount, as in the DP
    bin_u = ((not problem.allow_curtailment) & ((problem.sell < 0) | (problem.buy < 0)) & (problem.pv_kwh > 0)
             & (np.isfinite(problem.export_limit_kwh) | np.isfinite(problem.inverter_limit_kwh)))
    iterations = 0
    while True:
        iterations += 1
        x, obj, status, idx, n_bin = _solve(problem, bin_cd, bin_ie, bin_u, demand, time_limit_s)
        ic, idd, ii, ie, _iu, _i_e, i_dem = idx
        c, d, imp, exp = x[ic], x[idd], x[ii], x[ie]
        sim_cd = (np.minimum(c, d) > _SIMUL_TOL) & ~bin_cd
        sim_ie = (np.minimum(imp, exp) > _SIMUL_TOL) & ~bin_ie
        if not (sim_cd.any() or sim_ie.any()) or iterations >= 6:
            break
        bin_cd |= sim_cd
        bin_ie |= sim_ie
    c = np.clip(c, 0.0, problem.charge_max_kwh)
    d = np.clip(d, 0.0, problem.discharge_max_kwh)
    if n_bin == 0:
        # a clean LP: net the tiny simultaneous flows left by tolerances
        net = c - d
        c, d = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    # the trajectory from the (clipped) flows, kept in the window: solver tolerances never make
    # the plant check reject the exact plan
    e = trajectory(problem.initial_kwh, energy_change(c, d, problem.eta_charge, problem.eta_discharge), min(problem.e_min_kwh, problem.initial_kwh),
                   problem.e_max_kwh)
    demand_cost = float(sum(price * x[i_dem[g]] for g, (_, price, _) in enumerate(demand)))
    method = "milp" if n_bin else "lp"
    res = build_result(problem, e, method=method, solve_time_s=time.perf_counter() - t0)
    solver_cost = obj + problem.terminal_value * (e[-1] - problem.e_min_kwh)
    info = {"status": status, "solver_objective": obj, "plant_objective": res.objective,
            "binaries": n_bin, "iterations": iterations, "demand_cost": demand_cost}
    summary = dict(res.summary)
    summary["demand_cost"] = demand_cost
    summary["energy_cost"] = float(res.cost)  # the period costs, by the plant
    summary["objective"] = obj
    return dataclasses.replace(res, objective=obj, cost=solver_cost, summary=summary,
                               info=info)
