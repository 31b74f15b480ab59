"""``optimize_schedule``: the least-cost battery schedule of a scheduling problem.

One entry for every caller: a problem without demand charges goes to the DP
(:func:`pvbess.optimize.dp.dp_schedule`), one with them to the full-bill cap search around the
same DP (:func:`pvbess.optimize.full_bill.full_bill_schedule`).
"""

from __future__ import annotations

from typing import Any

from .dp import dp_schedule
from .full_bill import full_bill_schedule
from .problem import SchedulingProblem, as_problem
from .result import ScheduleResult

__all__ = ["optimize_schedule"]


def optimize_schedule(problem: SchedulingProblem | Any = None, *args: Any,
                      energy_step_kwh: float | None = None, **options: Any) -> ScheduleResult:
    """Least-cost battery schedule by dynamic programming.

    Parameters
    ----------
    problem : SchedulingProblem
        The problem (:meth:`pvbess.SchedulingProblem.build` or ``.from_site``). For convenience
        the arrays and options of :meth:`~pvbess.SchedulingProblem.build` may be given instead
        (``optimize_schedule(buy, sell, load_kwh, pv_kwh, battery, **options)``).
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
    exact candidate actions; its cost is evaluated exactly (no grid rounding). A problem with
    demand charges is solved by :func:`pvbess.optimize.full_bill.full_bill_schedule` (an outer
    search over each group's import cap with this DP inside); ``cost`` and ``objective`` then
    include the demand charges and ``summary['demand_cost']`` holds them.

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
    problem = as_problem(problem, args, options)
    if problem.demand_charges:  # the full bill: the cap search around the DP
        return full_bill_schedule(problem, energy_step_kwh=energy_step_kwh)
    return dp_schedule(problem, energy_step_kwh)
