"""The optimization engine: forecasts and the battery state in, a plan out (a pure wrapper of
the DP, or of the full-bill search when the tariff has demand charges).

:class:`OptimizationInput` is what one optimization needs, :class:`Plan` what it gives back
(arrays for storage and for the controller), :class:`OptimizationEngine` the function between
them that :class:`~pvbess.scheduler.manager.SimpleBatterySystemManager` calls for every plan.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..battery import Battery
from ..optimize.dp import dp_block
from ..optimize.full_bill import full_bill_schedule
from ..optimize.problem import SchedulingProblem
from ..optimize.replan import BackwardCache
from ..optimize.result import ACTIONS, PERIOD_COLUMNS, block_summary
from ..optimize.schedule import optimize_schedule
from ..physics import resolve_charge_source
from ..tariff import Tariff
from ..timeseries import epoch_ns
from ..variables import TABLE_COLUMNS
from .controller import tou_intervals

#: Columns of a plan table (energies per period [kWh], prices [currency/kWh], costs
#: [currency]; names as in :data:`pvbess.optimize.result.PERIOD_COLUMNS`) plus ``action``.
PLAN_COLUMNS: tuple[str, ...] = TABLE_COLUMNS["schedule"]

_PLAN_ROW = {name: i for i, name in enumerate(PLAN_COLUMNS)}
#: Where each plan column is in the block the DP's kernel evaluates its plan into.
_BLOCK_PLAN_ROWS = np.array([PERIOD_COLUMNS.index(name) for name in PLAN_COLUMNS])

@dataclass(frozen=True)
class OptimizationInput:
    """What one optimization needs: the periods, their forecasts and prices, the battery state.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        The periods to plan (regular, tz-aware).
    load_kwh, pv_kwh : numpy.ndarray
        Forecast load and PV per period. [kWh]
    buy_price, sell_price : numpy.ndarray
        Prices per period (buy includes any CO2 price). [currency/kWh]
    initial_kwh : float
        Stored energy at the start of ``index[0]``. [kWh]
    incumbent_peaks_kw : dict, optional
        Highest import power already recorded in each demand-charge group's billing period
        (by group name, :meth:`pvbess.Tariff.demand_group`). [kW]
    """

    index: pd.DatetimeIndex
    load_kwh: np.ndarray
    pv_kwh: np.ndarray
    buy_price: np.ndarray
    sell_price: np.ndarray
    initial_kwh: float
    incumbent_peaks_kw: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.index)
        for name in ("load_kwh", "pv_kwh", "buy_price", "sell_price"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,):
                raise ValueError(f"OptimizationInput.{name}: shape {arr.shape}, expected ({n},)")
            object.__setattr__(self, name, arr)
        if not math.isfinite(self.initial_kwh):
            raise ValueError(f"OptimizationInput.initial_kwh = {self.initial_kwh!r} [kWh]")


@dataclass(frozen=True)
class Plan:
    """An optimization result, normalised for storage and for the controller.

    Attributes
    ----------
    index : pandas.DatetimeIndex
        The planned periods (tz-aware starts).
    values : numpy.ndarray
        Shape ``(len(PLAN_COLUMNS), len(index))``: the columns of :data:`PLAN_COLUMNS`.
    actions : tuple of str
        What the battery does per period (``grid_charging``, ``solar_storage``, ...).
    objective : float
        The optimizer's objective (cost minus terminal value). [currency]
    method : str
        ``"dp"`` or the name of the optimizer used.
    solve_time_s : float
        Wall time of the solve. [s]
    summary : dict
        The optimizer's totals.
    """

    index: pd.DatetimeIndex
    values: np.ndarray
    actions: tuple[str, ...]
    objective: float
    method: str
    solve_time_s: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (len(PLAN_COLUMNS), len(self.index))
        if self.values.shape != shape or len(self.actions) != shape[1]:
            raise ValueError(f"Plan: values of shape {self.values.shape} and "
                             f"{len(self.actions)} actions, expected {shape}")

    def column(self, name: str) -> np.ndarray:
        """One column of :data:`PLAN_COLUMNS` as an array (read-only view)."""
        view = self.values[_PLAN_ROW[name]]
        view.flags.writeable = False
        return view

    @property
    def table(self) -> pd.DataFrame:
        """One row per planned period: :data:`PLAN_COLUMNS` and ``action``."""
        table = pd.DataFrame(self.values.T.copy(), index=self.index, columns=list(PLAN_COLUMNS))
        table["action"] = list(self.actions)
        return table

    @property
    def setpoints(self) -> pd.Series:
        """AC setpoint per period, + charge / - discharge. [kWh]"""
        return pd.Series(self.column("setpoint_kwh"), index=self.index,
                         name="setpoint_kwh")

    def tou_intervals(self) -> pd.DataFrame:
        """The plan as time-of-use windows (:func:`pvbess.scheduler.controller.tou_intervals`)."""
        return tou_intervals(self.setpoints)


class OptimizationEngine:
    """A pure wrapper of the DP kernel: :class:`OptimizationInput` in, :class:`Plan` out.

    Parameters
    ----------
    battery : Battery
    tariff : Tariff, optional
        Its demand charges enter every plan (the full bill): each group's price on raising the
        group's incumbent peak. None: energy-only plans.
    terminal_value : float
        Value per kWh stored above ``e_min`` at the end of each plan (the end of the day).
        [currency/kWh]
    charge_source : {"any", "pv", "surplus"}, optional
        Where the battery may charge from (:data:`pvbess.CHARGE_SOURCES`).
    allow_grid_charge, allow_battery_export : bool
        Options of :meth:`pvbess.SchedulingProblem.build` (``allow_grid_charge`` is the older
        spelling of ``charge_source``).
    import_limit_kw, export_limit_kw : float
        Grid limits. [kW]
    energy_step_kwh : float, optional
        DP grid step (default: the optimizer's). [kWh]
    optimizer : callable, optional
        A function with the signature of :func:`pvbess.optimize_schedule` returning a
        ``ScheduleResult`` (default the DP; e.g. ``pvbess.exact_schedule`` for the LP/MILP).
    search_states : int, optional
        States of the full-bill cap search's coarse grid
        (:func:`pvbess.optimize.full_bill.full_bill_schedule`) for the default optimizer;
        default that function's (1,024 for a day).
    """

    def __init__(self, battery: Battery, *, tariff: Tariff | None = None,
                 terminal_value: float = 0.0, charge_source: str | None = None,
                 allow_grid_charge: bool | None = None, allow_battery_export: bool = True,
                 import_limit_kw: float = math.inf, export_limit_kw: float = math.inf,
                 energy_step_kwh: float | None = None, optimizer: Any = None,
                 search_states: int | None = None) -> None:
        self.battery = battery
        self.tariff = tariff
        self.optimizer = optimize_schedule if optimizer is None else optimizer
        self.energy_step_kwh = energy_step_kwh
        self.search_states = None if optimizer is not None else search_states
        self._tails = BackwardCache()  # a day's re-plans share their unchanged tails
        # the demand-charge groups of the last plan's index (the re-plans of a day are
        # suffixes of one index): (last period, periods, step, groups)
        self._charges: tuple[pd.Timestamp, int, float, list] | None = None
        # the last energy-only problem built, with its inputs: (step, arrays, problem)
        self._horizon: tuple[float, np.ndarray, SchedulingProblem] | None = None
        self.options: dict[str, Any] = dict(
            terminal_value=float(terminal_value),
            charge_source=resolve_charge_source(charge_source, allow_grid_charge),
            allow_battery_export=bool(allow_battery_export),
            import_limit_kw=float(import_limit_kw), export_limit_kw=float(export_limit_kw))

    def problem(self, inputs: OptimizationInput) -> SchedulingProblem:
        """The scheduling problem of ``inputs`` (with the demand charges of the engine's tariff,
        each group at its incumbent peak)."""
        dt_h = _step(inputs.index)
        if self.tariff is None:
            return self._energy_problem(inputs, dt_h)
        groups = [(mask, price, inputs.incumbent_peaks_kw.get(name, 0.0), name)
                  for mask, price, _, name in self._demand_charges(inputs.index, dt_h)]
        return SchedulingProblem.build(
            inputs.buy_price, inputs.sell_price, inputs.load_kwh, inputs.pv_kwh, self.battery,
            dt_h=dt_h, initial_kwh=float(inputs.initial_kwh),
            demand_charges=groups, **self.options)

    def _energy_problem(self, inputs: OptimizationInput, dt_h: float) -> SchedulingProblem:
        """An energy-only problem. When its forecasts and prices are, bit for bit, the tail of
        the last problem built here (a re-plan of the rest of the day), it is that problem's
        tail: the same problem without checking its arrays again."""
        arrays = (inputs.load_kwh, inputs.pv_kwh, inputs.buy_price, inputs.sell_price)
        last = self._horizon
        if last is not None and last[0] == dt_h:
            offset = last[1].shape[1] - len(inputs.index)
            if offset >= 0 and all(a.tobytes() == kept[offset:].tobytes()
                                   for a, kept in zip(arrays, last[1])):
                return last[2].tail(offset, inputs.initial_kwh)
        arrays = np.stack(arrays)  # a copy: later writes to the inputs are seen
        problem = SchedulingProblem.build(
            arrays[2], arrays[3], arrays[0], arrays[1], self.battery, dt_h=dt_h,
            initial_kwh=float(inputs.initial_kwh), **self.options)
        self._horizon = (dt_h, arrays, problem)
        return problem

    def _demand_charges(self, index: pd.DatetimeIndex, dt_h: float) -> list:
        """``tariff.demand_charges(index)``, the groups of a suffix of the last index cut
        from its groups (same order, empty groups left out, as the tariff does): a day's
        re-plans then cost no calendar work."""
        last = self._charges
        if last is not None and last[0] == index[-1] and last[1] >= len(index) \
                and last[2] == dt_h:
            cut = last[1] - len(index)
            return [(mask[cut:], price, incumbent, name)
                    for mask, price, incumbent, name in last[3] if mask[cut:].any()]
        charges = self.tariff.demand_charges(index)
        self._charges = (index[-1], len(index), dt_h, charges)
        return charges

    def optimize(self, inputs: OptimizationInput) -> Plan:
        """Optimize the periods of ``inputs`` from ``inputs.initial_kwh``. Pure: the plan depends
        on ``inputs`` alone (a re-plan of the last plan's tail may reuse its backward pass)."""
        problem = self.problem(inputs)
        if self.search_states is not None and problem.demand_charges:
            result = full_bill_schedule(problem, energy_step_kwh=self.energy_step_kwh,
                                        search_states=self.search_states)
        elif self.optimizer is optimize_schedule and not problem.demand_charges:
            return self._dp_plan(problem, inputs.index)
        else:
            result = self.optimizer(problem, energy_step_kwh=self.energy_step_kwh)
        columns = result.columns  # the arrays: no table per re-plan
        values = np.empty((len(PLAN_COLUMNS), len(inputs.index)))
        for i, name in enumerate(PLAN_COLUMNS):
            values[i] = columns[name]
        return Plan(index=inputs.index, values=values,
                    actions=tuple(columns["action"].tolist()),
                    objective=float(result.objective), method=str(result.method),
                    solve_time_s=float(result.solve_time_s), summary=dict(result.summary))

    def _dp_plan(self, problem: SchedulingProblem, index: pd.DatetimeIndex) -> Plan:
        """The DP's plan, its rows taken from the kernel's block as they are (a re-plan
        builds no result record)."""
        t0 = time.perf_counter()
        soe, block, code, _ = dp_block(problem, self.energy_step_kwh, tails=self._tails)
        summary = block_summary(problem, soe, block)
        return Plan(index=index, values=block[_BLOCK_PLAN_ROWS],
                    actions=tuple([ACTIONS[c] for c in code.tolist()]),
                    objective=summary["objective"], method="dp",
                    solve_time_s=time.perf_counter() - t0, summary=summary)

    def __repr__(self) -> str:
        return (f"OptimizationEngine({self.battery!r}, tariff={self.tariff!r}, "
                f"{self.options}, energy_step_kwh={self.energy_step_kwh!r}, "
                f"search_states={self.search_states!r})")


def _step(index: pd.DatetimeIndex) -> float:
    if len(index) > 1:
        ns = epoch_ns(index)
        return int(ns[1] - ns[0]) / 3_600_000_000_000  # ns per hour
    if index.freq is not None:
        return pd.Timedelta(index.freq) / pd.Timedelta(hours=1)
    raise ValueError("a one-period plan needs an index with a frequency")
