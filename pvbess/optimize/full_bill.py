"""The full bill by dynamic programming: period costs plus demand charges (monthly peaks).

The bill of a site like Iquitos (scheduler spec, section 6) is the sum of the period costs of
section 1 and, for every demand-charge group ``g`` (a billing period x a tariff window, e.g.
January x HP), ``price_g * max(P_g0, max_{k in g} import_k / dt)``, where ``P_g0`` is the incumbent
peak: the highest import power already recorded in the group's billing period before the plan
starts (0 at the start of a month). :func:`full_bill_schedule` minimises it with the DP kernel of
:mod:`pvbess.optimize`, without an LP.

Notes
-----
**The method: an outer search over the group caps, with the DP inside.** For caps ``c_g`` (kW)
the full bill is at most

``F(c) = min_plan [ sum_k f_k + sum_g price_g * (c_g + sum_{k in g} (import_k / dt - c_g)^+) ]``

(``c_g >= P_g0``): the DP with a *soft* import cap per period (each kWh above ``c_g * dt``
costs ``price_g / dt`` more; kernel arguments ``icap``, ``ipen``). For any plan the penalty is at
least what raising the peak to its actual value costs (a sum of excesses >= their maximum), so
the plan the DP returns for any ``c`` has a true bill <= ``F(c)``; at the optimal peaks ``c*`` the
optimal plan pays no penalty, so ``min_c F(c)`` is the optimum (up to the DP's grid). ``F`` is
convex in ``c`` (a partial minimum of a jointly convex problem) and piecewise linear: slope about
``+price_g`` above the optimum, steeply negative below it. A soft cap rather than a hard one
keeps every ``F(c)`` finite and the value functions convex, so a cap slightly below what the
battery can hold costs a small penalty instead of an infeasible (inf) plan; with hard caps a
single grid rounding at the edge of feasibility made whole months infeasible.

Months are coupled only through the stored energy at their boundaries. The groups are split into
*blocks* (maximal sets of groups whose spans overlap: one calendar month for a monthly tariff),
and the caps are searched on a coarse energy grid (:func:`default_search_states`), each ``F`` a
block-length DP (:func:`pvbess.optimize.dp._backward_into`) that ends in the value of the later
blocks:

1. The energy-only plan (no demand charges) gives each block a predicted start energy. Each
   group's cap lies between the import no plan can avoid (full discharge, inverter limit) or
   the incumbent peak, and the highest import any plan can draw (load plus a full grid charge):
   above it ``F`` only grows. (The energy-only plan's peak is no upper bound: the full bill may
   raise one group's peak above it to keep the battery's energy for a dearer group's peak.)
2. Backward over the blocks (last first): the caps are searched for the predicted start energy,
   with the block's terminal row ``W`` = the value of the later blocks at *their* best caps.
   Fixed later caps would undervalue energy carried across a boundary (more energy at the start
   of a month can lower its caps), so where that can matter (the block's plan meets a binding cap
   before the battery has once been full, or it starts above empty) the caps are also searched
   for a full and an empty start, and ``W`` at the block's start is the lower convex envelope of
   ``V(E; c) + price . c`` over these samples (the exact ``W`` is convex in ``E``).
3. Forward over the blocks: from the true start energy (the replay of the blocks before), the
   caps are searched again, warm, where it differs from the sampled ones; the block is replayed.
4. One DP over the whole horizon on the fine grid (the grid of :func:`pvbess.optimize_schedule`)
   with the chosen soft caps gives the plan, evaluated exactly: the period costs by the plant
   rules and the demand cost from its actual peaks.

The search over a block's caps: for one group a 1-D convex minimisation; for two (HP and HFP)
a nested one, ``phi(x) = min_y F(x, y)`` (convex), because the two caps trade off along a
diagonal valley (shaving the HFP peak uses energy that the HP peak needs) where every point of the
valley floor is a coordinate-wise minimum and a coordinate search stalls (up to 14 % off on
random cases). Each 1-D minimisation grows a bracket from a start point and then places points by
secant cutting planes (secants of a convex function extended outward are lower bounds): ``F``
is piecewise linear, V-shaped around the optimum, so the vertex is usually found right after the
bracket, and the search stops with a certificate (best value within the cost of a fifth of the
cap tolerance of the lower bound; the tolerance is ``cap_tol`` times the cap's upper bound).
At Iquitos most optimal caps sit at the lower bound (the battery's
power limit), which the cold searches try first.

Why this method: it reuses the exact DP kernel (breakpoints, continuous replay, convex fast path)
unchanged, its inner problem stays convex and finite, and the month decomposition makes each cap
evaluation a month-long coarse DP (about 1 ms) instead of a year-long one; an hourly Iquitos year
takes about 400 of them. A Lagrangian on the caps needs many year-long DPs and gives no primal
plan directly (the DP at the optimal prices is degenerate in the peak); the peak as an extra state
multiplies the states by the peak levels of two windows.

Accuracy: the coarse search grid over-prices tight caps a little (the energy needed before a
critical stretch is rounded up), so the caps come out slightly high: about 0.04 % of the Iquitos
year's bill, up to a few tenths of a percent on short random months. Limitations: groups must be
disjoint (one cap per period); blocks of three or more groups are searched by rounds of nested
pair searches; the coupling samples are a full and an empty battery only.

Where the parts are: the groups and blocks in :mod:`pvbess.optimize.demand_groups`, the cap
search (block DP, cap bounds, nested searches, the two sweeps) in
:mod:`pvbess.optimize.cap_search`, the 1-D minimiser in :mod:`pvbess.optimize.convex_search`.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..timeseries import DataError
from .cap_search import lower_caps, search_caps, upper_caps
from .demand_groups import DemandGroups
from .dp import _backward, _grid, _last_nonconvex
from .forward import _replay
from .problem import SchedulingProblem
from .result import ScheduleResult, _evaluate, build_result

__all__ = ["default_search_states", "full_bill_schedule"]


def default_search_states(periods: int) -> int:
    """States of the cap search's energy grid: ``clip(400_000 // periods, 64, 1024)``.

    A coarse grid over-prices tight caps (the energy needed before a critical stretch is rounded
    up to grid points, and near a cap the value function is steep), which biases the search
    toward higher caps: about 0.3 % of the bill at 64 states on a random month, 0.1 % at 256,
    0.03 % at 1,024. The work of a search grows with periods x states, so the grid is as fine as
    a fixed budget allows: 64 states for an hourly year (where the bias is small: a 1,600 kWh
    window against monthly peaks set by the power limit), 537 for a month, 1,024 for a fortnight.
    """
    return int(min(1024, max(64, 400_000 // max(int(periods), 1))))


def full_bill_schedule(problem: SchedulingProblem, *, energy_step_kwh: float | None = None,
                       search_states: int | None = None, cap_tol: float = 2e-4
                       ) -> ScheduleResult:
    """Least full bill (period costs + demand charges) by an outer cap search around the DP.

    Parameters
    ----------
    problem : SchedulingProblem
        With its demand charges (disjoint groups, e.g. :meth:`pvbess.Tariff.demand_charges`:
        calendar month x HP/HFP window), each billed ``price * max(incumbent, peak import
        power)``; :func:`pvbess.optimize_schedule` calls this when a problem has them.
    energy_step_kwh : float, optional
        The final DP's grid step (as :func:`pvbess.optimize_schedule`). [kWh]
    search_states : int, optional
        States of the coarse energy grid of the cap search. Default
        :func:`default_search_states` (64 for an hourly year, 537 for a month).
    cap_tol : float
        Width to which each cap is searched, as a fraction of its upper bound (the highest
        import any plan can draw in the group): 2e-4 is about 0.6 kW at Iquitos. [-]

    Returns
    -------
    ScheduleResult
        ``method = "dp"``. ``cost`` and ``objective`` include the demand cost;
        ``summary['energy_cost']`` is the sum of the period costs (energy, export, wear, CO2
        price), ``summary['demand_cost']`` the demand charges (incumbents included),
        ``summary['peaks_kw']`` the plan's peak per group. ``info`` holds the caps, the number
        of block DPs and the search and final times.

    Notes
    -----
    See the module docstring (:mod:`pvbess.optimize.full_bill`): the method and why.

    Examples
    --------
    >>> import numpy as np
    >>> from pvbess import Battery, optimize_schedule
    >>> b = Battery(capacity_kwh=10, power_charge_kw=5, power_discharge_kw=5, eta_charge=1.0,
    ...             eta_discharge=1.0, soc_min=0.0, soc_initial=0.0)
    >>> mask = np.array([True, True])
    >>> r = optimize_schedule([1.0, 1.0], [0.0, 0.0], [0.0, 4.0], [0.0, 0.0], b,
    ...                       demand_charges=[(mask, 10.0)])
    >>> round(r.summary['demand_cost'], 6), round(r.cost, 6)  # charge 2, import 2 + 2
    (20.0, 24.0)
    """
    t0 = time.perf_counter()
    if problem.import_cap_kwh is not None:
        raise DataError("import_cap_kw with demand charges is not supported: the demand charges "
                        "already set the (soft) caps")
    inp = problem
    groups = DemandGroups([(g.mask, g.price_per_kw) for g in problem.demand_charges],
                     [g.incumbent_kw for g in problem.demand_charges], inp.periods, inp.dt_h)
    if search_states is None:
        search_states = default_search_states(inp.periods)
    if not (isinstance(search_states, int | np.integer) and search_states >= 4):
        raise ValueError(f"search_states = {search_states!r}: must be an integer >= 4")
    e_lo_f, h_f, n_f, i_min_f = _grid(inp, energy_step_kwh)
    # the search grid: coarse; like the fine one it reaches down to a start below e_min. Periods
    # whose cost is not convex (sell > buy, negative prices) take the DP's general path, whose
    # work grows with states squared: the search grid then stays at 32 states
    n_s = int(search_states)
    if _last_nonconvex(*inp.kernel_args(), (inp.e_max_kwh - inp.e_min_kwh) / n_s, n_s) >= 0:
        n_s = min(n_s, 32)
    h_s = (inp.e_max_kwh - inp.e_min_kwh) / n_s
    e_lo_s, h_s, n_s, i_min_s = _grid(inp, h_s)
    # the energy-only plan on the search grid: the first caps (its peaks)
    args = inp.kernel_args()
    v, _ = _backward(*args, e_lo_s, h_s, n_s, inp.terminal_value, inp.e_min_kwh, i_min_s)
    soe, _ = _replay(*args, e_lo_s, h_s, n_s, v, inp.initial_kwh, inp.e_min_kwh, inp.e_max_kwh)
    evaluations = 0
    lower = lower_caps(inp, groups)
    if groups.n:
        
        out = _evaluate(soe, *args)
        guess = np.clip(groups.peaks(out[:, 3]), lower, None)
        upper = upper_caps(inp, groups, lower)
        tol = np.maximum(float(cap_tol) * upper, 1e-9)
        caps, evaluations, counts = search_caps(inp, groups, guess, lower, upper, soe,
                                                 e_lo_s, h_s, n_s, i_min_s, tol)
    else:
        caps, counts = np.zeros(0), {"coupling_samples": 0, "forward_searches": 0}
    t_search = time.perf_counter() - t0
    # the final DP on the fine grid with the chosen soft caps
    args = inp.kernel_args(*groups.soft_caps(caps, inp.periods))
    v, fast = _backward(*args, e_lo_f, h_f, n_f, inp.terminal_value, inp.e_min_kwh, i_min_f)
    soe, _ = _replay(*args, e_lo_f, h_f, n_f, v, inp.initial_kwh, inp.e_min_kwh, inp.e_max_kwh)
    # the plan through the plant without the soft caps: true period costs
    elapsed = time.perf_counter() - t0
    res = build_result(inp, soe, method="dp", solve_time_s=elapsed)
    info = {"energy_step_kwh": h_f, "states": n_f + 1, "convex_periods": int(fast.sum()),
            "caps_kw": caps.tolist(), "lower_caps_kw": lower.tolist(),
            "search_states": n_s + 1 - i_min_s, "block_evaluations": evaluations, **counts,
            "search_time_s": t_search, "final_time_s": elapsed - t_search}
    return _with_demand_charges(res, groups, info)


def _with_demand_charges(res: ScheduleResult, groups: DemandGroups, info: dict
                         ) -> ScheduleResult:
    """The plan's result with its demand charges (its actual peaks, the incumbents) added to
    its true period costs."""
    imp = res.columns["grid_import_kwh"]
    peaks = groups.peaks(imp) if groups.n else np.zeros(0)
    demand = groups.demand_cost(imp)
    energy = res.cost
    summary = dict(res.summary)
    summary.update({"energy_cost": energy, "demand_cost": demand,
                    "peaks_kw": peaks.tolist(), "objective": res.objective + demand})
    return dataclasses.replace(res, objective=res.objective + demand, cost=energy + demand,
                               summary=summary, info=info)
