"""The result of a battery schedule and the plant check that evaluates any plan.

:func:`evaluate_plan` is the referee: given a stored-energy trajectory (or AC setpoints) it applies
section 1's meter and cost rules period by period and returns the same :class:`ScheduleResult` as
the optimizers, so "re-evaluating the DP's plan through the plant gives its reported cost" is a
direct comparison.

Columns of ``ScheduleResult.periods`` (one row per period; energies per period): the ``"plan"``
columns of :data:`pvbess.variables.TABLE_COLUMNS`, each with its unit and meaning in
:data:`pvbess.VARIABLES` (the names of the balance table wherever the quantity is the same).

The flows split the meter of :mod:`pvbess.physics` as the rules' schedule strategy does: PV serves
the load, then the battery, then the grid; curtailed PV comes off the PV export first, then off the
PV serving the load (displaced by the battery's output or beyond the inverter limit), and only
then off the PV charging the battery.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from ..variables import TABLE_COLUMNS
from .period import _period
from .problem import SchedulingProblem, as_problem
from ..physics import energy_change, wear_cost
from ..timeseries import DataError

__all__ = ["ACTIONS", "PERIOD_COLUMNS", "ScheduleResult", "evaluate_plan", "plan_arrays"]

ACTIONS = ("grid_charging", "solar_storage", "load_support", "battery_export", "solar_export",
           "idle")

PERIOD_COLUMNS = TABLE_COLUMNS["plan"]

_EPS = 1e-9


@dataclass(frozen=True)
class ScheduleResult:
    """A battery schedule with its flows and economics.

    Attributes
    ----------
    objective : float
        ``cost - terminal_value * (soe_kwh[-1] - e_min)``. [currency]
    cost : float
        Sum of the period costs (energy incl. CO2 price, minus export revenue, plus wear).
        [currency]
    soe_kwh : numpy.ndarray
        Stored energy, length T+1 (start of each period, then the end). [kWh]
    setpoint_kwh : numpy.ndarray
        AC setpoint per period, + charge / - discharge. [kWh]
    columns : dict
        The per-period values as arrays, one per column of :data:`PERIOD_COLUMNS` (``action``
        of dtype object): ``periods`` without a table, for loops that re-plan often.
    index : pandas.Index
        The periods' index: the inputs' tz-aware index when they were Series, else a
        RangeIndex.
    summary : dict
        Totals: costs, savings, kWh charged/discharged, imported/exported/curtailed, CO2.
    method : str
        ``"dp"``, ``"lp"``, ``"milp"`` or ``"plan"`` (:func:`evaluate_plan`).
    solve_time_s : float
        Wall time of the solve. [s]
    info : dict
        Solver details (DP grid step and states, LP status, ...).
    periods : pandas.DataFrame
        Per-period table of ``columns`` on ``index`` (see the module docstring), built on
        first use.
    """

    objective: float
    cost: float
    soe_kwh: np.ndarray
    setpoint_kwh: np.ndarray
    columns: dict = field(repr=False)
    index: pd.Index = field(repr=False)
    summary: dict
    method: str
    solve_time_s: float
    info: dict = field(default_factory=dict)

    @functools.cached_property
    def periods(self) -> pd.DataFrame:
        """The per-period table (:data:`PERIOD_COLUMNS`) on :attr:`index`, built once."""
        return _period_table(self.columns, self.columns["action"], self.index)


@njit(cache=True)
def _evaluate(soe, load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
              grid_charge, batt_export, curtail, icap, ipen):
    t_len = load.shape[0]
    out = np.empty((t_len, 6))
    for k in range(t_len):
        r = _period(soe[k + 1] - soe[k], load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k],
                    acap[k], eta_c, eta_d, cmax[k], dmax[k], wear, grid_charge, batt_export,
                    curtail, icap[k], ipen[k])
        for q in range(6):
            out[k, q] = r[q]
    return out


#: The float columns of :data:`PERIOD_COLUMNS` in the order :func:`_plan_block` writes them.
_BLOCK_ROWS = ("load_kwh", "pv_kwh", "buy_price", "sell_price", "soe_start_kwh", "soe_end_kwh",
               "bess_charge_kwh", "bess_discharge_kwh", "setpoint_kwh", "pv_to_load_kwh",
               "pv_to_bess_kwh", "pv_export_kwh", "grid_to_load_kwh", "grid_to_bess_kwh",
               "bess_to_load_kwh", "bess_export_kwh", "pv_curtailed_kwh", "grid_import_kwh",
               "grid_export_kwh", "co2_kg", "wear_cost", "grid_only_cost", "solar_only_cost",
               "optimized_cost", "savings_vs_grid_only", "savings_vs_solar_only")
assert _BLOCK_ROWS == PERIOD_COLUMNS[:-1], "PERIOD_COLUMNS changed: update _plan_block"
_ACTION_LABELS = np.array(ACTIONS, dtype=object)
_NROWS = len(_BLOCK_ROWS)
_COST_ROW = _BLOCK_ROWS.index("optimized_cost")


@njit(cache=True)
def _lower(a, b):
    """``np.minimum(a, b)`` for finite floats (the first when equal: the sign of a zero too)."""
    return a if a <= b else b


@njit(cache=True)
def _upper(a, b):
    """``np.maximum(a, b)`` for finite floats (the first when equal)."""
    return a if a >= b else b


@njit(cache=True)
def _plan_block(soe, load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
                grid_charge, batt_export, curtail, icap, ipen, co2_kg_per_kwh):
    """Every float column of a plan (rows :data:`_BLOCK_ROWS`, one column per period) and the
    index of each period's action in :data:`ACTIONS`: the meter of ``_period`` per move, its
    flows split as the module docstring says."""
    t_len = load.shape[0]
    out = np.empty((_NROWS, t_len))
    code = np.empty(t_len, dtype=np.int64)
    for k in range(t_len):
        r = _period(soe[k + 1] - soe[k], load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k],
                    acap[k], eta_c, eta_d, cmax[k], dmax[k], wear, grid_charge, batt_export,
                    curtail, icap[k], ipen[k])
        cost, c, d, imp, exp, u = r[0], r[1], r[2], r[3], r[4], r[5]
        ld, p = load[k], pv[k]
        pv_to_load = _lower(p, ld)
        pv_to_battery = _lower(p - pv_to_load, c)
        pv_to_grid = p - pv_to_load - pv_to_battery
        beyond = _upper(u - pv_to_grid, 0.0)
        pv_to_grid = _upper(pv_to_grid - u, 0.0)
        off_load = _lower(beyond, pv_to_load)
        pv_to_load = pv_to_load - off_load
        pv_to_battery = _upper(pv_to_battery - (beyond - off_load), 0.0)
        battery_to_load = _lower(d, ld - pv_to_load)
        battery_to_grid = d - battery_to_load
        grid_only = ld * buy[k]
        solar_only = _upper(ld - p, 0.0) * buy[k] - _upper(p - ld, 0.0) * sell[k]
        grid_to_battery = c - pv_to_battery
        column = (ld, p, buy[k], sell[k], soe[k], soe[k + 1], c, d, c - d, pv_to_load,
                  pv_to_battery, pv_to_grid, ld - pv_to_load - battery_to_load,
                  grid_to_battery, battery_to_load, battery_to_grid, u, imp, exp,
                  imp * co2_kg_per_kwh,
                  wear_cost(_upper(soe[k + 1] - soe[k], 0.0), wear), grid_only, solar_only,
                  cost, grid_only - cost, solar_only - cost)
        for q in range(len(column)):
            out[q, k] = column[q]
        # the last rule that holds names the period (as np.select in reverse)
        a = 5  # idle
        if pv_to_grid > _EPS:
            a = 4  # solar_export
        if battery_to_load > _EPS:
            a = 2  # load_support
        if battery_to_grid > _EPS:
            a = 3  # battery_export
        if pv_to_battery > _EPS:
            a = 1  # solar_storage
        if grid_to_battery > _EPS:
            a = 0  # grid_charging
        code[k] = a
    return out, code


def _period_table(values: dict[str, np.ndarray], action: np.ndarray,
                  index: pd.Index) -> pd.DataFrame:
    """The periods table (:data:`PERIOD_COLUMNS`): the float columns as one block, then
    ``action`` (one 2-D block builds several times faster than a dict of columns; a scheduler
    builds one per re-plan)."""
    names = PERIOD_COLUMNS[:-1]
    block = np.empty((len(index), len(names)))
    for j, name in enumerate(names):
        block[:, j] = values[name]
    table = pd.DataFrame(block, index=index, columns=list(names), copy=False)
    table.insert(len(names), "action", action)
    return table


def _plan_values(problem: SchedulingProblem, soe: np.ndarray
                 ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """:func:`plan_arrays` and the block its float columns are rows of."""
    soe = np.asarray(soe, dtype=np.float64)
    _check_window(problem, soe)
    none = np.full(problem.periods, np.inf)  # the plant: caps are the solvers' business
    block, code = _plan_block(soe, *problem.kernel_args(none, none), problem.co2_kg_per_kwh)
    return _checked_values(soe, block, code), block


def _check_window(problem: SchedulingProblem, soe: np.ndarray) -> None:
    if soe.shape[0] != problem.periods + 1:
        raise DataError(f"soe_kwh [kWh]: length {soe.shape[0]} != periods + 1 = {problem.periods + 1}")
    lo = min(problem.e_min_kwh, problem.initial_kwh) - 1e-6
    hi = problem.e_max_kwh + 1e-6
    if not (soe.min() >= lo and soe.max() <= hi):  # (NaN fails both)
        i = int(np.flatnonzero(~((soe >= lo) & (soe <= hi)))[0])
        raise DataError(f"soe_kwh [kWh]: {soe[i]} at row {i} outside the window "
                        f"[{problem.e_min_kwh}, {problem.e_max_kwh}]")


def _check_moves(soe: np.ndarray, block: np.ndarray) -> None:
    cost_k = block[_COST_ROW]
    if not np.isfinite(cost_k).all():
        i = int(np.flatnonzero(~np.isfinite(cost_k))[0])
        raise DataError(
            f"soe_kwh [kWh]: infeasible move {soe[i]} -> {soe[i + 1]} at row {i} (power limit, "
            "grid-charging/battery-export option or inverter limit)")


def _checked_values(soe: np.ndarray, block: np.ndarray, code: np.ndarray
                    ) -> dict[str, np.ndarray]:
    """The columns of a :func:`_plan_block` block (and the action labels), once every move is
    feasible."""
    _check_moves(soe, block)
    values = dict(zip(_BLOCK_ROWS, block))
    values["action"] = _ACTION_LABELS[code]
    return values


def plan_arrays(problem: SchedulingProblem, soe: np.ndarray) -> dict[str, np.ndarray]:
    """A stored-energy trajectory evaluated with the plant rules, as arrays (no table).

    Parameters
    ----------
    problem : SchedulingProblem
    soe : array-like
        Stored energy, length ``problem.periods + 1``. [kWh]

    Returns
    -------
    dict
        One array per column of :data:`PERIOD_COLUMNS` (``action`` of dtype object): what
        :func:`build_result` puts in ``ScheduleResult.periods``, value for value. For loops
        that re-plan often (the scheduler), where building a table per plan costs more than
        the evaluation.

    Raises
    ------
    DataError
        If the trajectory leaves the storage window or breaks a limit (names the row).
    """
    return _plan_values(problem, soe)[0]


def build_result(problem: SchedulingProblem, soe: np.ndarray, *, method: str, solve_time_s: float,
                 info: dict | None = None) -> ScheduleResult:
    """Evaluate a stored-energy trajectory with the plant rules into a :class:`ScheduleResult`."""
    soe = np.asarray(soe, dtype=np.float64)
    values, block = _plan_values(problem, soe)
    return _result(problem, soe, values, block, method, solve_time_s, info)


def block_result(problem: SchedulingProblem, soe: np.ndarray, block: np.ndarray,
                 code: np.ndarray, *, method: str, solve_time_s: float,
                 info: dict | None = None) -> ScheduleResult:
    """:func:`build_result` of a trajectory whose :func:`_plan_block` the caller's kernel has
    evaluated already (the DP evaluates its plan in the compiled forward pass)."""
    _check_window(problem, soe)
    return _result(problem, soe, _checked_values(soe, block, code), block, method,
                   solve_time_s, info)


def block_summary(problem: SchedulingProblem, soe: np.ndarray, block: np.ndarray) -> dict:
    """The checks and the ``summary`` of :func:`block_result`, without its columns (for a loop
    that stores the block's rows as they are: the scheduler's re-plans)."""
    _check_window(problem, soe)
    _check_moves(soe, block)
    return _summary(problem, soe, block)


def _result(problem: SchedulingProblem, soe: np.ndarray, values: dict[str, np.ndarray],
            block: np.ndarray, method: str, solve_time_s: float,
            info: dict | None) -> ScheduleResult:
    summary = _summary(problem, soe, block)
    index = problem.index if problem.index is not None else pd.RangeIndex(problem.periods, name="period")
    return ScheduleResult(objective=summary["objective"], cost=summary["optimized_cost"],
                          soe_kwh=soe, setpoint_kwh=values["setpoint_kwh"], columns=values,
                          index=index, summary=summary, method=method,
                          solve_time_s=float(solve_time_s), info=dict(info or {}))


def _summary(problem: SchedulingProblem, soe: np.ndarray, block: np.ndarray) -> dict:
    """A result's totals: costs, savings, energies, CO2, the objective."""
    total = dict(zip(_BLOCK_ROWS, block.sum(axis=1).tolist()))  # as each row's .sum()
    cost = total["optimized_cost"]
    objective = cost - problem.terminal_value * (float(soe[-1]) - problem.e_min_kwh)
    grid_total = total["grid_only_cost"]
    return {
        "periods": problem.periods, "dt_h": problem.dt_h,
        "grid_only_cost": grid_total, "solar_only_cost": total["solar_only_cost"],
        "optimized_cost": cost, "wear_cost": total["wear_cost"],
        "savings_vs_grid_only": grid_total - cost,
        "savings_vs_grid_only_pct": 100.0 * (grid_total - cost) / grid_total
        if grid_total else float("nan"),
        "savings_vs_solar_only": total["solar_only_cost"] - cost,
        "bess_charge_kwh": total["bess_charge_kwh"],
        "bess_discharge_kwh": total["bess_discharge_kwh"],
        "grid_import_kwh": total["grid_import_kwh"], "grid_export_kwh": total["grid_export_kwh"],
        "pv_curtailed_kwh": total["pv_curtailed_kwh"],
        "co2_kg": total["grid_import_kwh"] * problem.co2_kg_per_kwh,
        "initial_soe_kwh": float(soe[0]), "final_soe_kwh": float(soe[-1]),
        "terminal_value": problem.terminal_value, "objective": objective,
    }


def evaluate_plan(problem: SchedulingProblem | Any = None, *args: Any, soe_kwh: Any = None,
                  setpoint_kwh: Any = None, **options: Any) -> ScheduleResult:
    """Evaluate a plan through the plant: flows and costs by section 1's meter rules.

    Parameters
    ----------
    problem : SchedulingProblem
        The problem; or, as for :func:`pvbess.optimize_schedule`, the arrays and options of
        :meth:`pvbess.SchedulingProblem.build` (``energy_step_kwh`` is ignored). With
        ``soe_kwh`` and no ``initial_kwh`` option, the trajectory's first value is the start.
    soe_kwh : array-like, optional
        Stored-energy trajectory, length T+1 (``soe_kwh[0]`` is the initial energy). [kWh]
    setpoint_kwh : array-like, optional
        AC setpoints per period, + charge / - discharge (instead of ``soe_kwh``); the trajectory
        starts at the problem's ``initial_kwh``. [kWh]

    Returns
    -------
    ScheduleResult
        ``method = "plan"``.

    Raises
    ------
    DataError
        If the plan leaves the storage window or breaks a power limit or an option (names the row).
    """
    t0 = time.perf_counter()
    options.pop("energy_step_kwh", None)
    if (soe_kwh is None) == (setpoint_kwh is None):
        raise ValueError("evaluate_plan: give exactly one of soe_kwh and setpoint_kwh")
    if (not isinstance(problem, SchedulingProblem) and soe_kwh is not None
            and options.get("initial_kwh") is None):
        options["initial_kwh"] = float(np.asarray(soe_kwh, dtype=float).reshape(-1)[0])
    problem = as_problem(problem, args, options)
    if soe_kwh is not None:
        soe = np.asarray(soe_kwh, dtype=np.float64).reshape(-1)
        if abs(soe[0] - problem.initial_kwh) > 1e-9:
            raise DataError(f"soe_kwh [kWh]: starts at {soe[0]} but initial_kwh = "
                            f"{problem.initial_kwh}")
    else:
        sp = np.asarray(setpoint_kwh, dtype=np.float64).reshape(-1)
        if sp.shape[0] != problem.periods:
            raise DataError(f"setpoint_kwh [kWh]: length {sp.shape[0]} != periods "
                            f"{problem.periods}")
        delta = energy_change(np.maximum(sp, 0.0), np.maximum(-sp, 0.0), problem.eta_charge, problem.eta_discharge)
        soe = np.concatenate(([problem.initial_kwh], problem.initial_kwh + np.cumsum(delta)))
    return build_result(problem, soe, method="plan", solve_time_s=time.perf_counter() - t0)
