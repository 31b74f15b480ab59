"""Figures of the scheduler: a day's view (actual vs predicted) and the replay comparison.

Both return a matplotlib Figure and never save or show it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..scheduler.daily_view import ACTUAL, DailyView
from .palette import color


def plot_daily_view(view: DailyView, capacity_kwh: float | None = None,
                    currency: str = "PEN") -> Figure:
    """Load, PV, grid import and battery energy over one day; predicted periods shaded.

    Parameters
    ----------
    view : DailyView
    capacity_kwh : float, optional
        Battery nameplate, to draw the stored energy as a fraction. [kWh]
    currency : str
        Unit of the day's savings in the title.
    """
    p = view.periods
    hours = np.asarray(p.index.hour + p.index.minute / 60.0, dtype=float)
    width = float(hours[1] - hours[0]) if len(hours) > 1 else 1.0
    fig = Figure(figsize=(10, 6.5), layout="constrained")
    ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    actual = np.asarray(view.data_sources) == ACTUAL
    first_predicted = hours[~actual].min() if (~actual).any() else None
    for axis in (ax, ax2):
        if first_predicted is not None:
            axis.axvspan(first_predicted, hours[-1] + width, color="0.92", zorder=0,
                         label="predicted" if axis is ax else None)
    edges = np.concatenate([hours, [hours[-1] + width]])
    for name, label, key in (("load_kwh", "load", "demand"), ("pv_kwh", "PV", "pv"),
                             ("grid_import_kwh", "grid import", "grid")):
        values = p[name].to_numpy()
        ax.step(edges, np.concatenate([values, values[-1:]]), where="post", label=label,
                color=color(key))
    ax.bar(hours + width / 2, p["bess_charge_kwh"], width=0.8 * width, color=color("bess_charge"),
           label="battery charge")
    ax.bar(hours + width / 2, -p["bess_discharge_kwh"], width=0.8 * width, color=color("bess"),
           label="battery discharge (drawn negative)")
    ax.set_ylabel("energy per period [kWh]")
    ax.legend(loc="upper left", fontsize=8, ncols=3)
    ax.set_title(f"{view.day}: {view.actual_periods} actual, "
                 f"{len(p) - view.actual_periods} predicted periods; day savings "
                 f"{view.total_savings:,.0f} {currency} vs grid only")
    soe = np.concatenate([p["soe_start_kwh"].to_numpy(), p["soe_end_kwh"].to_numpy()[-1:]])
    x = edges
    scale = 100.0 / capacity_kwh if capacity_kwh else 1.0
    ax2.plot(x, soe * scale, color=color("soc"), marker=".", label="stored energy")
    ax2.set_ylabel("SOC [%]" if capacity_kwh else "stored energy [kWh]")
    ax2.set_xlabel("local hour")
    ax2.set_xlim(0, 24)
    return fig


def plot_comparison(comparison: pd.DataFrame, column: str = "total_cost_pen") -> Figure:
    """A bar per strategy of one comparison column (default the full bill).

    Parameters
    ----------
    comparison : pandas.DataFrame
        :attr:`pvbess.scheduler.replay.ReplayResult.comparison`.
    column : str
        Which column to draw.
    """
    fig = Figure(figsize=(8, 3.5), layout="constrained")
    ax = fig.subplots()
    values = comparison[column]
    ax.barh(list(values.index)[::-1], values.to_numpy()[::-1], color=color("grid"))
    for y, v in enumerate(values.to_numpy()[::-1]):
        ax.text(v, y, f" {v:,.0f}", va="center", fontsize=8)
    ax.set_xlabel(column)
    ax.set_xlim(0, values.max() * 1.15)
    return fig


#: Words for the rows of a bill comparison (replay, ladder, optimal dispatch).
STRATEGY_LABELS: dict[str, str] = {
    "exact_bound": "exact bound (LP, perfect foresight)",
    "exact": "exact optimum (LP)",
    "perfect_foresight_dp": "DP, perfect foresight over the horizon",
    "dp": "DP optimum",
    "replay": "scheduler replay",
    "replay_perfect": "scheduler, perfect forecast",
    "replay_persistence": "scheduler, persistence forecast",
    "replay_mean7": "scheduler, 7-day mean forecast",
    "replay_noisy": "scheduler, noisy forecast",
    "six_phase_rules": "six-phase rules",
    "six_phase": "six-phase rules",
    "no_battery": "no battery (PV only)",
}


def plot_bill_ladder(table: pd.DataFrame, period: str) -> Figure:
    """Each strategy's full bill above the exact bound: where the money goes.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows from the bound down (e.g. :func:`pvbess.studies.forecast_value.bill_ladder`), with
        ``total_cost_pen``, ``energy_cost_pen`` and ``demand_cost_pen``; the first row is the
        bound.
    period : str
        What the bills cover, for the title and axis (e.g. ``"21 days from 2025-01-01"``).
    """
    bound = float(table["total_cost_pen"].iloc[0])
    rows = list(table.index)
    energy = (table["energy_cost_pen"] - table["energy_cost_pen"].iloc[0]).to_numpy()
    other = (table["total_cost_pen"] - bound).to_numpy() - energy
    y = np.arange(len(rows))[::-1]
    fig = Figure(figsize=(9, 0.45 * len(rows) + 1.8), layout="constrained")
    ax = fig.subplots()
    ax.barh(y, energy, color=color("grid"), label="energy cost above the bound")
    ax.barh(y, other, left=energy, color=color("threshold"), alpha=0.75,
            label="demand charges (and wear, CO2) above the bound")
    total = energy + other
    span = max(float(np.abs(total).max()), 1.0)
    for yy, t, row in zip(y, total, rows):
        pct = round(100.0 * t / bound, 2) + 0.0  # + 0.0: no "-0.00 %"
        ax.text(max(t, 0.0) + 0.01 * span, yy,
                f"{table.loc[row, 'total_cost_pen']:,.0f} PEN  ({pct:+.2f} %)", va="center",
                fontsize=8)
    ax.set_yticks(y, [STRATEGY_LABELS.get(r, r.replace("_", " ")) for r in rows])
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_xlim(min(0.0, float(total.min()) * 1.1), span * 1.45)
    ax.set_xlabel(f"bill above the exact bound of {bound:,.0f} PEN, {period} [PEN]")
    ax.set_title(f"Full bill by strategy, {period}: the value of forecasts and re-planning",
                 fontsize=10)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.legend(loc="upper right", fontsize=8)  # the top rows (the bound) have no bars
    return fig
