"""The full day as seen at one moment: actual periods from the history, the rest from the plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .events import HistoricalDataStore, _aware, day_index, period_of
from .schedules import ScheduleStore

ACTUAL = "actual"
PREDICTED = "predicted"
MISSING = "missing"

#: Columns of :attr:`DailyView.periods` (energies per period [kWh], prices [currency/kWh],
#: costs [currency]) besides ``source``.
VIEW_COLUMNS: tuple[str, ...] = (
    "load_kwh", "pv_kwh", "buy_price", "sell_price", "soe_start_kwh", "soe_end_kwh",
    "bess_charge_kwh", "bess_discharge_kwh", "grid_import_kwh", "grid_export_kwh", "pv_curtailed_kwh", "wear_cost",
    "grid_only_cost", "solar_only_cost", "optimized_cost", "savings_vs_grid_only",
    "savings_vs_solar_only",
)
_EVENT_TO_VIEW = {
    "load_kwh": "load_kwh", "pv_kwh": "pv_kwh", "buy_price": "buy_price",
    "sell_price": "sell_price", "soe_start_kwh": "soe_start_kwh", "soe_end_kwh": "soe_end_kwh",
    "bess_charge_kwh": "bess_charge_kwh", "bess_discharge_kwh": "bess_discharge_kwh",
    "grid_import_kwh": "grid_import_kwh", "grid_export_kwh": "grid_export_kwh",
    "pv_curtailed_kwh": "pv_curtailed_kwh", "wear_cost": "wear_cost",
}
_FLOWS = tuple(_EVENT_TO_VIEW.values())


@dataclass(frozen=True)
class DailyView:
    """One local day, every period, each marked actual or predicted.

    Attributes
    ----------
    day : str
        Local ISO date.
    current_period : int
        Index of the period in progress; periods before it are actual where recorded.
    periods : pandas.DataFrame
        All the day's periods (24 hourly, 96 quarter-hourly) on their tz-aware starts: columns
        :data:`VIEW_COLUMNS` (recomputed from the flows) and ``source`` (``"actual"``,
        ``"predicted"``, or ``"missing"`` where neither history nor any plan covers a period).
    total_savings : float
        Savings against grid-only over the whole day (actual + predicted), on the full bill
        when the builder has a tariff: the energy savings plus the demand charges the day
        avoids (:attr:`demand_savings`). [currency]
    total_cost : float
        Cost over the whole day (import*buy - export*sell + wear, plus the day's demand-charge
        increments with a tariff). [currency]
    total_grid_only_cost : float
        Load * buy over the whole day. [currency]
    actual_periods : int
        How many periods are actual.
    data_sources : list of str
        The ``source`` column as a list.
    schedule_id : int or None
        The stored schedule the predicted periods come from.
    demand_cost : float
        What the day adds to the month's demand charges: per group (month x window) the price
        times the rise of the day's peak above the peak recorded before the day (0 without a
        tariff). [currency]
    demand_savings : float
        The same for grid only (every kWh of load imported) minus :attr:`demand_cost`, both
        against the month's recorded peak. [currency]
    """

    day: str
    current_period: int
    periods: pd.DataFrame
    total_savings: float
    total_cost: float
    total_grid_only_cost: float
    actual_periods: int
    data_sources: list[str]
    schedule_id: int | None
    demand_cost: float = 0.0
    demand_savings: float = 0.0


def _economics(frame: pd.DataFrame) -> pd.DataFrame:
    load, pv = frame["load_kwh"], frame["pv_kwh"]
    buy, sell = frame["buy_price"], frame["sell_price"]
    frame["grid_only_cost"] = load * buy
    frame["solar_only_cost"] = ((load - pv).clip(lower=0.0) * buy
                                - (pv - load).clip(lower=0.0) * sell)
    frame["optimized_cost"] = (frame["grid_import_kwh"] * buy - frame["grid_export_kwh"] * sell
                               + frame["wear_cost"])
    frame["savings_vs_grid_only"] = frame["grid_only_cost"] - frame["optimized_cost"]
    frame["savings_vs_solar_only"] = frame["solar_only_cost"] - frame["optimized_cost"]
    return frame


class DailyViewBuilder:
    """Combine actuals and predictions into the full day.

    Parameters
    ----------
    history : HistoricalDataStore
    schedules : ScheduleStore
    dt_h : float
        Period length. [h]
    tariff : Tariff, optional
        With it, the day's savings and cost are on the full bill (demand charges included).
    """

    def __init__(self, history: HistoricalDataStore, schedules: ScheduleStore,
                 dt_h: float = 1.0, tariff: Any = None) -> None:
        self.history = history
        self.schedules = schedules
        self.dt_h = float(dt_h)
        self.tariff = tariff

    def _demand(self, frame: pd.DataFrame, known: np.ndarray) -> tuple[float, float]:
        """(the day's demand-charge increments, those of grid only) against the peaks recorded
        in the day's billing months before the day. [currency]"""
        if self.tariff is None or not known.any():
            return 0.0, 0.0
        index = frame.index[known]
        groups = self.tariff.demand_group(index)
        prices = self.tariff.demand_prices()
        before = self.history.to_frame()
        before = before[before.index < frame.index[0]]
        recorded = {}
        if len(before):
            kw = before["grid_import_kwh"].to_numpy() / self.dt_h
            names = self.tariff.demand_group(before.index.tz_convert(index.tz))
            recorded = pd.Series(kw).groupby(names).max().to_dict()
        plan_kw = frame["grid_import_kwh"].to_numpy()[known] / self.dt_h
        grid_kw = frame["load_kwh"].to_numpy()[known] / self.dt_h
        plan = grid = 0.0
        for name in sorted(set(groups)):
            in_g = groups == name
            p0 = float(recorded.get(name, 0.0))
            price = prices[name.rsplit(" ", 1)[1]]
            plan += price * (max(p0, float(plan_kw[in_g].max())) - p0)
            grid += price * (max(p0, float(grid_kw[in_g].max())) - p0)
        return plan, grid

    def build_daily_view(self, current_period: Any) -> DailyView:
        """The day of ``current_period`` as known when that period began.

        Periods before ``current_period`` come from the history (``"actual"``); the others,
        and any earlier period the history lacks, from the latest schedule of the day made
        by then (``start_period <= current``; in live use simply the latest schedule).
        Savings and costs are recomputed per period from the flows and summed.

        Parameters
        ----------
        current_period : timestamp
            Start of the period in progress (tz-aware).
        """
        ts = _aware(current_period)
        day, k = period_of(ts, self.dt_h)
        index = day_index(day, self.dt_h, str(ts.tz))
        if k >= len(index):
            raise ValueError(f"{ts}: period {k} is past the end of {day}")
        frame = pd.DataFrame(np.nan, index=index, columns=list(_FLOWS))
        source = np.full(len(index), MISSING, dtype=object)
        events = self.history.to_frame(day)
        if len(events):
            events = events[events["period"] < k]
            pos = events["period"].to_numpy(dtype=np.int64)
            for col, view in _EVENT_TO_VIEW.items():
                frame.iloc[pos, frame.columns.get_loc(view)] = events[col].to_numpy()
            source[pos] = ACTUAL
        schedules = [s for s in self.schedules.get_all_schedules(day) if s.start_period <= k]
        schedule_id = None
        for sched in reversed(schedules):  # newest first
            need = np.flatnonzero(source == MISSING)
            if need.size == 0:
                break
            plan_rows = need[need >= sched.start_period]
            if plan_rows.size == 0:
                continue
            if schedule_id is None:
                schedule_id = sched.id
            rel = plan_rows - sched.start_period
            for col in _FLOWS:
                frame.iloc[plan_rows, frame.columns.get_loc(col)] = \
                    sched.plan[col].to_numpy()[rel]
            source[plan_rows] = PREDICTED
        frame = _economics(frame)[list(VIEW_COLUMNS)]
        frame["source"] = source
        known = source != MISSING
        demand, grid_demand = self._demand(frame, known)
        return DailyView(
            day=day, current_period=k, periods=frame,
            total_savings=float(frame["savings_vs_grid_only"].to_numpy()[known].sum())
            + grid_demand - demand,
            total_cost=float(frame["optimized_cost"].to_numpy()[known].sum()) + demand,
            total_grid_only_cost=float(frame["grid_only_cost"].to_numpy()[known].sum())
            + grid_demand,
            actual_periods=int((source == ACTUAL).sum()), data_sources=source.tolist(),
            schedule_id=schedule_id, demand_cost=demand, demand_savings=grid_demand - demand)
