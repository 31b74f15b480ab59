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

import time
from collections.abc import Sequence
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

from .problem import SchedulingProblem, as_problem
from ..physics import energy_change, import_caps, trajectory
from .result import ScheduleResult, build_result

__all__ = ["exact_schedule"]

_SIMUL_TOL = 1e-6


def _no_grid_charge_rows(problem: SchedulingProblem, iu, ic, idd, nrow: int):
    """Without grid charging, curtailing PV never makes a charge draw on the grid:
    ``u + c - d <= pv`` (``net <= load``, as :func:`pvbess.physics.meter`). It can bind only
    where importing pays (``buy <= 0``), so rows go only there. Returns the block and the rows'
    upper bounds."""
    ng = np.flatnonzero((problem.charge_source != "any") & problem.allow_curtailment & (problem.buy <= 0) & (problem.pv_kwh > 0))
    ra = nrow + np.arange(ng.size)
    block = (np.repeat(ra, 3), np.stack([iu[ng], ic[ng], idd[ng]], 1).ravel(),
             np.tile([1.0, 1.0, -1.0], ng.size))
    return block, problem.pv_kwh[ng]


def _solve(problem: SchedulingProblem, bin_cd: np.ndarray, bin_ie: np.ndarray, bin_u: np.ndarray,
           demand: Sequence[tuple[np.ndarray, float, float]], time_limit: float | None):
    t = problem.periods
    big = 1e30
    # column blocks
    ic, idd, ii, ie, iu, iE = (np.arange(t) + q * t for q in range(6))
    n_cont = 6 * t
    n_dem = len(demand)
    i_dem = n_cont + np.arange(n_dem)
    cd_idx = np.flatnonzero(bin_cd)
    ie_idx = np.flatnonzero(bin_ie)
    i_y = n_cont + n_dem + np.arange(cd_idx.size)
    i_z = n_cont + n_dem + cd_idx.size + np.arange(ie_idx.size)
    # forced-curtailment binaries: w1 = export at its limit, w2 = inverter at its AC limit
    u1_idx = np.flatnonzero(bin_u & np.isfinite(problem.export_limit_kwh))
    u2_idx = np.flatnonzero(bin_u & np.isfinite(problem.inverter_limit_kwh))
    first = n_cont + n_dem + cd_idx.size + ie_idx.size
    i_w1 = first + np.arange(u1_idx.size)
    i_w2 = first + u1_idx.size + np.arange(u2_idx.size)
    # initial energy below the window: a_k (k = 1..T) = "back in the window", monotone; no
    # discharge before it (the DP's rule)
    below = problem.initial_kwh < problem.e_min_kwh - 1e-12
    n_a = t if below else 0
    i_a = first + u1_idx.size + u2_idx.size + np.arange(n_a)
    ncol = first + u1_idx.size + u2_idx.size + n_a

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
    xmax = problem.export_limit_kwh.copy()
    forced_possible = np.isfinite(problem.export_limit_kwh) | np.isfinite(problem.inverter_limit_kwh)
    umax = problem.pv_kwh if problem.allow_curtailment else np.where(forced_possible, problem.pv_kwh, 0.0)
    e_lo = min(problem.e_min_kwh, problem.initial_kwh)

    lower = np.zeros(ncol)
    upper = np.full(ncol, big)
    upper[ic] = cmax
    upper[idd] = dmax
    upper[ii] = np.where(np.isfinite(imax), imax, big)
    upper[ie] = np.where(np.isfinite(xmax), xmax, big)
    upper[iu] = umax
    lower[iE] = e_lo
    upper[iE] = problem.e_max_kwh
    upper[i_y] = 1.0
    upper[i_z] = 1.0
    upper[i_w1] = 1.0
    upper[i_w2] = 1.0
    upper[i_a] = 1.0
    for g, (_, _, incumbent_kw) in enumerate(demand):
        lower[i_dem[g]] = incumbent_kw  # a plan pays only for raising the recorded peak
    if below:
        upper[idd[0]] = 0.0

    cost = np.zeros(ncol)
    cost[ii] = problem.buy
    cost[ie] = -problem.sell
    cost[ic] = problem.wear_cost_per_kwh * problem.eta_charge
    cost[iE[-1]] = -problem.terminal_value
    for g, (_, price, _) in enumerate(demand):
        cost[i_dem[g]] = price
    offset = problem.terminal_value * problem.e_min_kwh

    # vectorised blocks are built with numpy for speed
    k = np.arange(t)
    blocks = []
    # balance: imp - exp - c + d - u = load - pv
    rb = np.arange(t)
    blocks.append((np.repeat(rb, 5), np.stack([ii, ie, ic, idd, iu], 1).ravel(),
                   np.tile([1.0, -1.0, -1.0, 1.0, -1.0], t)))
    bal_rhs = problem.load_kwh - problem.pv_kwh
    # storage: E_{k+1} - E_k - eta_c c + d/eta_d = 0 (E_0 fixed)
    rs = t + k
    sc = [np.repeat(rs, 3), np.stack([iE, ic, idd], 1).ravel(),
          np.tile([1.0, -problem.eta_charge, 1.0 / problem.eta_discharge], t)]
    blocks.append(tuple(sc))
    prev = rs[1:]
    blocks.append((prev, iE[:-1], -np.ones(t - 1)))
    sto_rhs = np.zeros(t)
    sto_rhs[0] = problem.initial_kwh
    nrow = 2 * t
    row_lo = [bal_rhs, sto_rhs]
    row_hi = [bal_rhs, sto_rhs]
    # hybrid-inverter AC limit
    fin = np.flatnonzero(np.isfinite(problem.inverter_limit_kwh))
    if fin.size:
        ra = nrow + np.arange(fin.size)
        blocks.append((np.repeat(ra, 3), np.stack([iu[fin], ic[fin], idd[fin]], 1).ravel(),
                       np.tile([-1.0, -1.0, 1.0], fin.size)))
        row_lo.append(np.full(fin.size, -big))
        row_hi.append(problem.inverter_limit_kwh[fin] - problem.pv_kwh[fin])
        nrow += fin.size
        ra = nrow + np.arange(fin.size)
        blocks.append((np.repeat(ra, 3), np.stack([iu[fin], ic[fin], idd[fin]], 1).ravel(),
                       np.tile([1.0, 1.0, -1.0], fin.size)))
        row_lo.append(np.full(fin.size, -big))
        row_hi.append(problem.inverter_limit_kwh[fin] + problem.pv_kwh[fin])
        nrow += fin.size
    block, hi = _no_grid_charge_rows(problem, iu, ic, idd, nrow)
    if hi.size:
        blocks.append(block)
        row_lo.append(np.full(hi.size, -big))
        row_hi.append(hi)
        nrow += hi.size
    # demand peaks: imp_k / dt - P_g <= 0
    for g, (mask, _, _) in enumerate(demand):
        idx = np.flatnonzero(mask)
        rd = nrow + np.arange(idx.size)
        blocks.append((np.concatenate([rd, rd]), np.concatenate([ii[idx], np.full(idx.size,
                       i_dem[g])]), np.concatenate([np.full(idx.size, 1.0 / problem.dt_h),
                                                    -np.ones(idx.size)])))
        row_lo.append(np.full(idx.size, -big))
        row_hi.append(np.zeros(idx.size))
        nrow += idx.size
    # binaries: c <= cmax*y, d <= dmax*(1-y); imp <= M*z, exp <= M*(1-z)
    if cd_idx.size:
        q = cd_idx
        ra = nrow + np.arange(q.size)
        blocks.append((np.repeat(ra, 2), np.stack([ic[q], i_y], 1).ravel(),
                       np.stack([np.ones(q.size), -cmax[q]], 1).ravel()))
        row_lo.append(np.full(q.size, -big))
        row_hi.append(np.zeros(q.size))
        nrow += q.size
        ra = nrow + np.arange(q.size)
        blocks.append((np.repeat(ra, 2), np.stack([idd[q], i_y], 1).ravel(),
                       np.stack([np.ones(q.size), dmax[q]], 1).ravel()))
        row_lo.append(np.full(q.size, -big))
        row_hi.append(dmax[q])
        nrow += q.size
    if ie_idx.size:
        q = ie_idx
        m_imp = np.where(np.isfinite(imax[q]), imax[q], problem.load_kwh[q] + problem.charge_max_kwh[q])
        m_exp = np.minimum(np.where(np.isfinite(xmax[q]), xmax[q], big), problem.pv_kwh[q] + dmax[q])
        ra = nrow + np.arange(q.size)
        blocks.append((np.repeat(ra, 2), np.stack([ii[q], i_z], 1).ravel(),
                       np.stack([np.ones(q.size), -m_imp], 1).ravel()))
        row_lo.append(np.full(q.size, -big))
        row_hi.append(np.zeros(q.size))
        nrow += q.size
        ra = nrow + np.arange(q.size)
        blocks.append((np.repeat(ra, 2), np.stack([ie[q], i_z], 1).ravel(),
                       np.stack([np.ones(q.size), m_exp], 1).ravel()))
        row_lo.append(np.full(q.size, -big))
        row_hi.append(m_exp)
        nrow += q.size

    if u1_idx.size or u2_idx.size:
        # curtailment only where forced: u <= pv * (w1 + w2); exp >= xlim * w1;
        # pv - u - c + d >= acap when w2 = 1
        q = np.flatnonzero(bin_u)
        pos1 = {int(k): j for j, k in enumerate(u1_idx)}
        pos2 = {int(k): j for j, k in enumerate(u2_idx)}
        rr_, cc_, vv_ = [], [], []
        for n_, k_ in enumerate(q):
            row = nrow + n_
            rr_.append(row)
            cc_.append(int(iu[k_]))
            vv_.append(1.0)
            if int(k_) in pos1:
                rr_.append(row)
                cc_.append(int(i_w1[pos1[int(k_)]]))
                vv_.append(-float(problem.pv_kwh[k_]))
            if int(k_) in pos2:
                rr_.append(row)
                cc_.append(int(i_w2[pos2[int(k_)]]))
                vv_.append(-float(problem.pv_kwh[k_]))
        blocks.append((np.array(rr_), np.array(cc_), np.array(vv_)))
        row_lo.append(np.full(q.size, -big))
        row_hi.append(np.zeros(q.size))
        nrow += q.size
        if u1_idx.size:
            ra = nrow + np.arange(u1_idx.size)
            blocks.append((np.repeat(ra, 2), np.stack([ie[u1_idx], i_w1], 1).ravel(),
                           np.stack([np.ones(u1_idx.size), -xmax[u1_idx]], 1).ravel()))
            row_lo.append(np.zeros(u1_idx.size))
            row_hi.append(np.full(u1_idx.size, big))
            nrow += u1_idx.size
        if u2_idx.size:
            q2 = u2_idx
            ra = nrow + np.arange(q2.size)
            # pv - u - c + d >= acap - M (1 - w2), M = acap + cmax + 1 (inactive when w2 = 0)
            big_m = problem.inverter_limit_kwh[q2] + problem.charge_max_kwh[q2] + 1.0
            blocks.append((np.repeat(ra, 4), np.stack([iu[q2], ic[q2], idd[q2], i_w2], 1).ravel(),
                           np.stack([-np.ones(q2.size), -np.ones(q2.size), np.ones(q2.size),
                                     -big_m], 1).ravel()))
            row_lo.append(problem.inverter_limit_kwh[q2] - big_m - problem.pv_kwh[q2])
            row_hi.append(np.full(q2.size, big))
            nrow += q2.size

    if below:
        gap = problem.e_min_kwh - problem.initial_kwh
        if t > 1:  # a_k - a_{k+1} <= 0
            ra = nrow + np.arange(t - 1)
            blocks.append((np.repeat(ra, 2), np.stack([i_a[:-1], i_a[1:]], 1).ravel(),
                           np.tile([1.0, -1.0], t - 1)))
            row_lo.append(np.full(t - 1, -big))
            row_hi.append(np.zeros(t - 1))
            nrow += t - 1
        # E_k - gap * a_k >= e0  (k = 1..T)
        ra = nrow + np.arange(t)
        blocks.append((np.repeat(ra, 2), np.stack([iE, i_a], 1).ravel(),
                       np.tile([1.0, -gap], t)))
        row_lo.append(np.full(t, problem.initial_kwh))
        row_hi.append(np.full(t, big))
        nrow += t
        if t > 1:  # d_k - dmax_k * a_k <= 0  (k = 1..T-1)
            ra = nrow + np.arange(t - 1)
            blocks.append((np.repeat(ra, 2), np.stack([idd[1:], i_a[:-1]], 1).ravel(),
                           np.stack([np.ones(t - 1), -dmax[1:]], 1).ravel()))
            row_lo.append(np.full(t - 1, -big))
            row_hi.append(np.zeros(t - 1))
            nrow += t - 1

    rr = np.concatenate([b[0] for b in blocks])
    cc = np.concatenate([b[1] for b in blocks])
    vv = np.concatenate([b[2] for b in blocks]).astype(np.float64)
    mat = sp.csc_matrix((vv, (rr, cc)), shape=(nrow, ncol))
    mat.sort_indices()

    lp = highspy.HighsLp()
    lp.num_col_ = ncol
    lp.num_row_ = nrow
    lp.col_cost_ = cost
    lp.col_lower_ = lower
    lp.col_upper_ = upper
    lp.row_lower_ = np.concatenate(row_lo)
    lp.row_upper_ = np.concatenate(row_hi)
    lp.offset_ = offset
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = mat.indptr.astype(np.int32)
    lp.a_matrix_.index_ = mat.indices.astype(np.int32)
    lp.a_matrix_.value_ = mat.data
    n_bin = cd_idx.size + ie_idx.size + u1_idx.size + u2_idx.size + n_a
    if n_bin:
        integ = [highspy.HighsVarType.kContinuous] * ncol
        for j in np.concatenate([i_y, i_z, i_w1, i_w2, i_a]):
            integ[int(j)] = highspy.HighsVarType.kInteger
        lp.integrality_ = integ
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    if n_bin:
        h.setOptionValue("mip_rel_gap", 1e-9)
        h.setOptionValue("mip_abs_gap", 1e-7)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    h.passModel(lp)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    if status != "Optimal":
        raise RuntimeError(f"exact_schedule: HiGHS status {status!r}")
    x = np.asarray(h.getSolution().col_value)
    obj = float(h.getInfo().objective_function_value)
    return x, obj, status, (ic, idd, ii, ie, iu, iE, i_dem), n_bin


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
    return ScheduleResult(objective=obj, cost=solver_cost, soe_kwh=res.soe_kwh,
                          setpoint_kwh=res.setpoint_kwh, periods=res.periods,
                          summary=summary, method=method, solve_time_s=res.solve_time_s,
                          info=info)
