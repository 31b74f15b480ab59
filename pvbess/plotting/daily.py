"""Figures of single days and weeks: 1 day_balance, 5 first_week, 8 pv_representative_days."""

from __future__ import annotations

from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .palette import COLORS, PHASE_COLORS, PHASE_NAMES
from ..balance_specs import run_specs
from ..timeseries import local_hours
from .common import (
    axis_label,
    bars,
    col,
    daily,
    day_slice,
    figure_specs,
    has_battery,
    kw,
    legend_right,
    naive_local,
    representative_day,
    say_no_battery,
    title,
)


def _phase_bands(ax, hours: np.ndarray, phases: np.ndarray, dt: float) -> list[int]:
    """Shade each step by its phase; returns the phases drawn (for the legend)."""
    drawn: list[int] = []
    for h, p in zip(hours, phases):
        p = int(p)
        if p in PHASE_COLORS:
            ax.axvspan(h, h + dt, color=PHASE_COLORS[p], lw=0, zorder=0)
            if p not in drawn:
                drawn.append(p)
    return sorted(drawn)


def plot_day_balance(balance: pd.DataFrame, day: Any = None, *,
                     scenario: str | None = None) -> Figure:
    """Figure 1: one day's supply and demand, battery charge, threshold, phases and SOC.

    Upper panel: supply stacked by source (PV direct = pv_to_ev + pv_to_mall, battery =
    bess_to_ev + bess_to_mall, grid = grid_to_ev + grid_to_mall), which adds up to the demand line
    (ev + mall); below zero the PV that did not serve the load (battery charge, export,
    curtailment). The dashed red line is the peak threshold applied to the mall's grid draw
    (dotted line). Background bands are the dispatch phase of each step. Lower panel: state of
    charge at the end of each step.

    Parameters
    ----------
    balance : DataFrame
        A pvbess.simulate balance table.
    day : date-like, optional
        Local calendar day. Default: the day of median PV energy (a representative day).
    scenario : str, optional
        Scenario line of the title (default: from ``balance.attrs``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    specs = figure_specs(balance)
    day = representative_day(balance) if day is None else pd.Timestamp(day)
    d = day_slice(balance, day)
    dt = specs.dt_h
    rules = specs.rules
    hours = local_hours(d.index)
    x = hours + dt / 2

    pv_direct = kw(col(d, "pv_to_ev_kwh") + col(d, "pv_to_mall_kwh"), dt)
    bess_out = kw(col(d, "bess_to_ev_kwh") + col(d, "bess_to_mall_kwh"), dt)
    grid = kw(col(d, "grid_to_ev_kwh") + col(d, "grid_to_mall_kwh"), dt)
    charge = kw(col(d, "bess_charge_kwh"), dt)
    export = kw(col(d, "pv_export_kwh"), dt)
    curtailed = kw(col(d, "pv_curtailed_kwh"), dt)

    battery = has_battery(balance)
    fig = Figure(figsize=(13, 7.5 if battery else 6.5), layout="constrained")
    ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3 if battery else 0.3])
    drawn = _phase_bands(ax, hours, col(d, "phase").to_numpy(), dt) if "phase" in d else []
    w = dt * 0.85
    bottom = np.zeros(len(d))
    for values, name, label in [(pv_direct, "pv_direct", "PV direct"),
                                (bess_out, "bess", "battery"), (grid, "grid", "grid")]:
        if name == "bess" and not battery:
            continue
        ax.bar(x, values, w, bottom=bottom, color=COLORS[name], label=f"supply: {label}", zorder=2)
        bottom += values.to_numpy()
    neg = np.zeros(len(d))
    for values, name, label in [(charge, "bess_charge", "battery charge"),
                                (export, "export", "PV export"),
                                (curtailed, "curtailed", "PV curtailed")]:
        if values.abs().sum() > 0:
            ax.bar(x, -values, w, bottom=neg, color=COLORS[name], label=f"{label} (negative)",
                   zorder=2)
            neg -= values.to_numpy()
    edges = np.append(hours, hours[-1] + dt)
    demand = kw(col(d, "ev_kwh") + col(d, "mall_kwh"), dt).to_numpy()
    ax.stairs(demand, edges, color=COLORS["demand"], lw=2, label="demand EV + mall", zorder=3)
    ax.stairs(kw(col(d, "mall_kwh"), dt).to_numpy(), edges, color=COLORS["mall"], lw=1.2,
              ls="--", label="mall load", zorder=3)
    ax.stairs(kw(col(d, "ev_kwh"), dt).to_numpy(), edges, color=COLORS["ev"], lw=1.2,
              label="EV load", zorder=3)
    ax.stairs(kw(col(d, "pv_kwh"), dt).to_numpy(), edges, color=COLORS["pv"], lw=1.5,
              label="PV generation", zorder=3)
    ax.stairs(kw(col(d, "grid_to_mall_kwh"), dt).to_numpy(), edges, color=COLORS["grid"],
              lw=1.2, ls=":", label="mall grid draw", zorder=3)
    if np.isfinite(rules.peak_threshold_kw):
        ax.axhline(rules.peak_threshold_kw, color=COLORS["threshold"], ls="--", lw=1.2,
                   label=f"peak threshold {rules.peak_threshold_kw:,.0f} kW", zorder=3)
    ax.axhline(0, color="black", lw=0.6)
    top = max(float(bottom.max()), float(kw(col(d, "pv_kwh"), dt).max()), 1.0)
    ax.set_ylim(min(float(neg.min()), 0.0) - 0.06 * top, top * 1.08)
    ax.set_ylabel("power [kW]")
    handles, labels = ax.get_legend_handles_labels()
    handles += [Patch(color=PHASE_COLORS[p]) for p in drawn]
    labels += [f"phase {PHASE_NAMES[p]}" for p in drawn]
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    for h in (rules.charge_start_h, rules.ev_start_h, rules.peak_start_h,
              rules.closure_start_h, rules.close_h):
        for a in (ax, ax2) if battery else (ax,):
            a.axvline(h, color="#868e96", lw=0.6, ls=":", zorder=1)
    if not battery:
        say_no_battery(ax2, "state of charge")
        ax.tick_params(labelbottom=True)
        ax.set_xlabel("local time [h]")
        ax.set_xlim(0, 24)
        ax.set_xticks(range(0, 25, 2))
    else:
        _soc_panel(ax2, balance, d, hours, dt)
    title(fig, f"Fig. 1  Energy balance of {pd.Timestamp(day):%Y-%m-%d} (hourly mean power)",
          balance, scenario)
    return fig


def _soc_panel(ax2, balance: pd.DataFrame, d: pd.DataFrame, hours: np.ndarray, dt: float) -> None:
    """Figure 1's lower panel: SOC through the day, from the end of the previous step."""
    specs = run_specs(balance)
    bat = specs.battery
    soc_end = col(d, "soc_frac").to_numpy() * 100
    pos = balance.index.get_loc(d.index[0])
    if pos > 0:
        soc_start = balance["soc_frac"].iloc[pos - 1] * 100
    else:
        soc_start = specs.e_initial_kwh / bat.capacity_kwh * 100
    ax2.plot(np.append(hours[0], hours + dt), np.append(soc_start, soc_end),
             color=COLORS["soc"], marker=".", label="SOC (end of step)")
    ax2.axhline(bat.soc_min * 100, color="#868e96", ls="--", lw=0.8, label="SOC limits")
    ax2.axhline(bat.soc_max * 100, color="#868e96", ls="--", lw=0.8)
    ax2.set_ylim(0, 105)
    ax2.set_ylabel(axis_label("soc_frac", "%"))
    ax2.set_xlabel("local time [h]")
    ax2.set_xlim(0, 24)
    ax2.set_xticks(range(0, 25, 2))
    legend_right(ax2)


def plot_first_week(balance: pd.DataFrame, days: int = 7, *,
                    scenario: str | None = None) -> Figure:
    """Figure 5: the first ``days`` days, hour by hour.

    Panels: PV, mall, EV and total load [kW]; battery charge (positive) and discharge (negative)
    [kW]; state of charge [%]; grid import [kW].
    """
    specs = figure_specs(balance)
    dt = specs.dt_h
    n = round(days * 24 / dt)
    w = balance.iloc[:n]
    t = naive_local(w.index)
    bat = specs.battery
    battery = has_battery(balance)
    fig = Figure(figsize=(13, 9 if battery else 7), layout="constrained")
    axes = fig.subplots(4, 1, sharex=True,
                        height_ratios=[2, 1.2, 1, 1.2] if battery else [2, 0.25, 0.25, 1.2])
    ax = axes[0]
    ax.plot(t, kw(col(w, "pv_kwh"), dt), color=COLORS["pv"], label="PV")
    ax.plot(t, kw(col(w, "mall_kwh"), dt), color=COLORS["mall"], label="mall")
    ax.plot(t, kw(col(w, "ev_kwh"), dt), color=COLORS["ev"], label="EV")
    ax.plot(t, kw(col(w, "ev_kwh") + col(w, "mall_kwh"), dt), color=COLORS["demand"], lw=1.6,
            label="total load (EV + mall)")
    ax.set_ylabel("power [kW]")
    legend_right(ax)
    if not battery:
        say_no_battery(axes[1], "battery power")
        say_no_battery(axes[2], "state of charge")
    else:
        _week_battery(axes[1], axes[2], w, t, dt, bat)
    axes[3].fill_between(t, kw(col(w, "grid_import_kwh"), dt), step="post",
                         color=COLORS["grid"], alpha=0.8, label="grid import")
    axes[3].set_ylabel(axis_label("grid_import_kwh", "kW"))
    legend_right(axes[3])
    axes[3].xaxis.set_major_formatter(mdates.DateFormatter("%a %d %b"))
    axes[3].set_xlabel("local time")
    title(fig, f"Fig. 5  First {days} days, hourly ({t[0]:%Y-%m-%d} to "
          f"{t[-1]:%Y-%m-%d})", balance, scenario)
    return fig


def _week_battery(power_ax, soc_ax, w: pd.DataFrame, t: pd.DatetimeIndex, dt: float,
                  bat) -> None:
    """Figure 5's battery panels: charge/discharge power and SOC."""
    width = dt / 24 * 0.9
    bars(power_ax, t, kw(col(w, "bess_charge_kwh"), dt), width, align="edge",
         color=COLORS["bess_charge"], label="charge")
    bars(power_ax, t, -kw(col(w, "bess_discharge_kwh"), dt), width, align="edge",
         color=COLORS["bess"], label="discharge (negative)")
    power_ax.axhline(0, color="black", lw=0.6)
    power_ax.set_ylabel("battery power [kW]")
    legend_right(power_ax)
    soc_ax.plot(t + pd.Timedelta(hours=dt), w["soc_frac"] * 100, color=COLORS["soc"],
                label="SOC (end of step)")
    soc_ax.axhline(bat.soc_min * 100, color="#868e96", ls="--", lw=0.8)
    soc_ax.axhline(bat.soc_max * 100, color="#868e96", ls="--", lw=0.8)
    soc_ax.set_ylim(0, 105)
    soc_ax.set_ylabel(axis_label("soc_frac", "%"))


def representative_pv_days(balance: pd.DataFrame) -> pd.Series:
    """The days of minimum, 25 %, 50 %, 75 % quantile and maximum daily PV energy. [kWh/day]

    Returns a Series indexed by label ('min', 'q25', 'median', 'q75', 'max') of the day's date;
    ``.attrs['pv_kwh']`` holds the daily PV energy of each.
    """
    pv_day = daily(balance, {"pv": balance["pv_kwh"]})["pv"]
    order = pv_day.sort_values(kind="stable")
    n = len(order)
    picks = {"min": 0, "q25": round(0.25 * (n - 1)), "median": round(0.5 * (n - 1)),
             "q75": round(0.75 * (n - 1)), "max": n - 1}
    days = pd.Series({k: order.index[i] for k, i in picks.items()})
    days.attrs["pv_kwh"] = {k: float(order.iloc[i]) for k, i in picks.items()}
    return days


def plot_pv_representative_days(balance: pd.DataFrame, *,
                                scenario: str | None = None) -> Figure:
    """Figure 8: PV power on five representative days (min, quartiles and max of daily PV)."""
    specs = figure_specs(balance)
    dt = specs.dt_h
    days = representative_pv_days(balance)
    fig = Figure(figsize=(11, 5.5), layout="constrained")
    ax = fig.subplots()
    shades = ["#ffe8a3", "#ffd166", "#f2a900", "#d98c00", "#995c00"]
    for (label, day), shade in zip(days.items(), shades):
        d = day_slice(balance, day)
        h = local_hours(d.index)
        energy = days.attrs["pv_kwh"][label]
        ax.plot(np.append(h, h[-1] + dt), np.append(kw(d["pv_kwh"], dt), np.nan),
                drawstyle="steps-post", color=shade, lw=2,
                label=f"{label}: {pd.Timestamp(day):%Y-%m-%d} ({energy / 1000:,.1f} MWh/day)")
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 2))
    ax.set_xlabel("local time [h]")
    ax.set_ylabel(axis_label("pv_kwh", "kW"))
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    title(fig, "Fig. 8  PV power on representative days (by daily PV energy)", balance, scenario)
    return fig
