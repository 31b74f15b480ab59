"""Figures of the scheduler: a day's view (actual vs predicted) and the replay comparison.

Both return a matplotlib Figure and never save or show it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..scheduler.daily_view import ACTUAL, DailyView


def plot_daily_view(view: DailyView, capacity_kwh: float | None = None) -> Figure:
    """Load, PV, grid import and battery energy over one day; predicted periods shaded.

    Parameters
    ----------
    view : DailyView
    capacity_kwh : float, optional
        Battery nameplate, to draw the stored energy as a fraction. [kWh]
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
    for name, label, color in (("load_kwh", "load", "tab:red"), ("pv_kwh", "PV", "tab:orange"),
                               ("import_kwh", "grid import", "tab:gray")):
        values = p[name].to_numpy()
        ax.step(edges, np.concatenate([values, values[-1:]]), where="post", label=label,
                color=color)
    net = p["charge_kwh"] - p["discharge_kwh"]
    ax.bar(hours + width / 2, net, width=0.8 * width, color=np.where(net >= 0, "tab:green",
                                                                      "tab:blue"),
           alpha=0.6, label="battery (+charge / -discharge)")
    ax.set_ylabel("energy per period [kWh]")
    ax.legend(loc="upper left", fontsize=8, ncols=3)
    ax.set_title(f"{view.day}: {view.actual_periods} actual, "
                 f"{len(p) - view.actual_periods} predicted periods; day savings "
                 f"{view.total_savings:,.0f} vs grid only")
    soe = np.concatenate([p["soe_start_kwh"].to_numpy(), p["soe_end_kwh"].to_numpy()[-1:]])
    x = edges
    scale = 100.0 / capacity_kwh if capacity_kwh else 1.0
    ax2.plot(x, soe * scale, color="tab:purple", marker=".", label="stored energy")
    ax2.set_ylabel("SOC [%]" if capacity_kwh else "stored energy [kWh]")
    ax2.set_xlabel("local hour")
    ax2.set_xlim(0, 24)
    return fig


def plot_comparison(comparison: pd.DataFrame, column: str = "cost") -> Figure:
    """A bar per strategy of one comparison column (default the cost).

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
    ax.barh(list(values.index)[::-1], values.to_numpy()[::-1], color="tab:blue")
    for y, v in enumerate(values.to_numpy()[::-1]):
        ax.text(v, y, f" {v:,.0f}", va="center", fontsize=8)
    ax.set_xlabel(column)
    ax.set_xlim(0, values.max() * 1.15)
    return fig
