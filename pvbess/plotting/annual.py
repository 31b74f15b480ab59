"""Whole-year figures: 2 export_and_peak_shaving, 3 pv_local_vs_export, 4 mall_peak_shaving,
9 daily_balance, 10 supply_shares."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .palette import COLORS
from ..balance_specs import run_specs
from .common import (
    axis_label,
    bars,
    col,
    daily,
    day_hour_table,
    draw_day_hour,
    figure_specs,
    has_battery,
    kw,
    legend_right,
    naive_local,
    peak_shaving_kwh,
    say_no_battery,
    title,
    white_to,
)


def _month_axis(ax) -> None:
    ax.xaxis.set_major_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b"))


def plot_export_and_peak_shaving(balance: pd.DataFrame, *, scenario: str | None = None) -> Figure:
    """Figure 2: PV export (and curtailment) and battery energy delivered for peak shaving, per
    step over the whole run.

    Each quantity is a day (x) by local hour (y) image of its mean power over the step [kW]: every
    hour of the year stays visible (a year of hourly steps drawn as a line is a comb of
    hairlines), white where nothing happens; panel titles give the totals [MWh] and the hours.
    Peak shaving per step is ``min(bess_to_mall, max(grid_to_mall + bess_to_mall -
    threshold*dt, 0))``: the battery's delivery to the mall that lowered the mall's grid draw
    above the threshold (:func:`pvbess.plotting.common.peak_shaving_kwh`).
    """
    specs = figure_specs(balance)
    dt = specs.dt_h
    export, curtailed = col(balance, "pv_export_kwh"), col(balance, "pv_curtailed_kwh")
    panels = [(export, "export", "PV exported", axis_label("pv_export_kwh", "kW", "mean "))]
    if curtailed.sum() > 0:
        panels.append((curtailed, "curtailed", "PV curtailed",
                       axis_label("pv_curtailed_kwh", "kW", "mean ")))
    battery = has_battery(balance)
    fig = Figure(figsize=(13, 3.6 * len(panels) + (3.6 if battery else 0.8)),
                 layout="constrained")
    axes = fig.subplots(len(panels) + 1, 1, height_ratios=[1] * len(panels)
                        + [1 if battery else 0.15])
    for ax, (energy, colour, what, cbar) in zip(axes, panels):
        power = kw(energy, dt)
        draw_day_hour(ax, day_hour_table(power), white_to(COLORS[colour]), 0.0,
                      max(float(power.max()), 1e-9), cbar)
        ax.set_title(f"{what}: {energy.sum() / 1000:,.1f} MWh in {_hours(energy, dt)} of the run"
                     + ("" if len(panels) > 1 else " (no curtailment)"), fontsize=10)
    if not battery:
        say_no_battery(axes[-1], "peak shaving by the battery")
    else:
        shaving = kw(peak_shaving_kwh(balance), dt)
        draw_day_hour(axes[-1], day_hour_table(shaving), white_to(COLORS["bess"]), 0.0,
                      max(float(shaving.max()), 1e-9), "mean battery power to the mall [kW]")
        axes[-1].set_title(f"Battery energy delivered for peak shaving (mall draw above "
                           f"{specs.rules.peak_threshold_kw:,.0f} kW): "
                           f"{shaving.sum() * dt / 1000:,.1f} MWh in {_hours(shaving, dt)}",
                           fontsize=10)
    title(fig, "Fig. 2  PV export and battery peak shaving, whole year", balance, scenario)
    return fig


def _hours(series: pd.Series, dt_h: float) -> str:
    """'1,590 h': the time the series is above zero."""
    return f"{float((series > 0).sum()) * dt_h:,.0f} h"


def plot_pv_local_vs_export(balance: pd.DataFrame, *, scenario: str | None = None) -> Figure:
    """Figure 3: daily PV energy used on site (EV, mall, battery charge) vs exported/curtailed.

    Stacked daily totals [MWh/day]; the stack height is the day's PV generation.
    """
    figure_specs(balance)
    d = daily(balance, {
        "site": col(balance, "pv_to_ev_kwh") + col(balance, "pv_to_mall_kwh")
        + col(balance, "pv_to_bess_kwh"),
        "export": col(balance, "pv_export_kwh"),
        "curtailed": col(balance, "pv_curtailed_kwh"),
    }) / 1000
    total = d.sum()
    fig = Figure(figsize=(13, 5.5), layout="constrained")
    ax = fig.subplots()
    bars(ax, d.index, d["site"], 1.0, color=COLORS["pv_direct"],
         label=f"used on site: EV, mall, battery ({total['site']:,.1f} MWh)")
    bars(ax, d.index, d["export"], 1.0, bottom=d["site"], color=COLORS["export"],
         label=f"exported ({total['export']:,.1f} MWh)")
    if total["curtailed"] > 0:
        bars(ax, d.index, d["curtailed"], 1.0, bottom=d["site"] + d["export"],
             color=COLORS["curtailed"], label=f"curtailed ({total['curtailed']:,.1f} MWh)")
    share = total["site"] / total.sum() * 100 if total.sum() > 0 else float("nan")
    ax.set_ylabel("PV energy [MWh/day]")
    legend_right(ax)
    ax.set_title(f"used on site: {share:.1f} % of {total.sum():,.1f} MWh PV", fontsize=10)
    _month_axis(ax)
    title(fig, "Fig. 3  PV used on site vs exported (daily totals)", balance, scenario)
    return fig


def mall_draw_kw(balance: pd.DataFrame) -> pd.DataFrame:
    """The mall's grid draw three ways, as mean power over each step. [kW]

    Columns ``demand`` (the mall's demand alone, no PV, no battery), ``before battery`` (PV
    serves the EV first, then the mall: ``max(mall - max(pv - ev, 0), 0)``, no battery) and
    ``after battery`` (``grid_to_mall`` of this run); the definitions of
    ``hours_above_peak_{before,pv_only,after}_h`` in :func:`pvbess.kpis`.
    """
    dt = run_specs(balance).dt_h
    mall = col(balance, "mall_kwh")
    surplus = (col(balance, "pv_kwh") - col(balance, "ev_kwh")).clip(lower=0.0)
    return pd.DataFrame({"demand": kw(mall, dt),
                         "before battery": kw((mall - surplus).clip(lower=0.0), dt),
                         "after battery": kw(col(balance, "grid_to_mall_kwh"), dt)})


def plot_mall_peak_shaving(balance: pd.DataFrame, *, scenario: str | None = None) -> Figure:
    """Figure 4: the mall's grid draw before and after the battery, against the threshold.

    "Before" is the draw with PV and no battery, "after" the draw of this run (see
    :func:`mall_draw_kw`). Left: daily maxima [kW]; right: duration curves [kW] with the hours
    above the threshold (the same counts as ``pvbess.kpis``' ``hours_above_peak_*_h``).
    """
    specs = figure_specs(balance)
    dt = specs.dt_h
    thr = specs.rules.peak_threshold_kw
    draw = mall_draw_kw(balance)
    dmax = draw.groupby(naive_local(balance.index).normalize()).max()
    above = {c: float((draw[c] * dt > thr * dt + 1e-9).sum() * dt) for c in draw}
    fig = Figure(figsize=(13, 5.5), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.6, 1])
    styles = {"demand": (COLORS["mall"], 0.8, ":"), "before battery": (COLORS["grid"], 1.0, "-"),
              "after battery": (COLORS["bess"], 1.0, "-")}
    labels = {"demand": "mall demand alone", "before battery": "grid draw with PV, before battery",
              "after battery": "grid draw after battery"}
    hours = np.arange(1, len(draw) + 1) * dt
    for c, (colour, lw, ls) in styles.items():
        ax1.plot(dmax.index, dmax[c], color=colour, lw=lw, ls=ls, label=labels[c])
        ax2.plot(hours, np.sort(draw[c].to_numpy())[::-1], color=colour, lw=lw, ls=ls,
                 label=f"{labels[c]}: {above[c]:,.0f} h above")
    ax1.set_ylabel("daily maximum of mall grid draw [kW]")
    _month_axis(ax1)
    ax2.set_xlabel("hours of the run at or above [h]")
    ax2.set_ylabel("mall grid draw [kW]")
    for ax in (ax1, ax2):
        if np.isfinite(thr):
            ax.axhline(thr, color=COLORS["threshold"], ls="--", lw=1.2,
                       label=f"threshold {thr:,.0f} kW")
        ax.grid(alpha=0.3)
    ax1.legend(loc="lower left", fontsize=8)
    legend_right(ax2)
    ax1.set_ylim(bottom=0)
    ax2.set_ylim(bottom=0)
    title(fig, "Fig. 4  Mall grid draw before and after battery peak shaving", balance, scenario)
    return fig


def plot_daily_balance(balance: pd.DataFrame, *, scenario: str | None = None) -> Figure:
    """Figure 9: daily totals: PV, demand (EV + mall), grid import, export. [MWh/day]"""
    figure_specs(balance)
    d = daily(balance, {
        "pv": col(balance, "pv_kwh"),
        "demand": col(balance, "ev_kwh") + col(balance, "mall_kwh"),
        "grid": col(balance, "grid_import_kwh"),
        "export": col(balance, "pv_export_kwh"),
    }) / 1000
    fig = Figure(figsize=(13, 5.5), layout="constrained")
    ax = fig.subplots()
    for name, colour, label in [("demand", COLORS["demand"], "demand EV + mall"),
                                ("pv", COLORS["pv"], "PV generation"),
                                ("grid", COLORS["grid"], "grid import"),
                                ("export", COLORS["export"], "PV export")]:
        ax.plot(d.index, d[name], color=colour, lw=1.3,
                label=f"{label} ({d[name].sum():,.1f} MWh)")
    ax.set_ylabel("energy [MWh/day]")
    ax.set_ylim(bottom=0)
    legend_right(ax)
    ax.grid(alpha=0.3)
    _month_axis(ax)
    title(fig, "Fig. 9  Daily energy balance", balance, scenario)
    return fig


def supply_shares(balance: pd.DataFrame) -> pd.DataFrame:
    """Energy serving each load by source: rows EV, mall, total; columns PV direct, battery, grid.

    Values in kWh; ``.attrs['shares']`` holds the same as fractions of each row's demand. [-]
    """
    figure_specs(balance)
    rows = {}
    for load in ("ev", "mall"):
        rows[load.upper() if load == "ev" else "mall"] = {
            "PV direct": col(balance, f"pv_to_{load}_kwh").sum(),
            "battery": col(balance, f"bess_to_{load}_kwh").sum(),
            "grid": col(balance, f"grid_to_{load}_kwh").sum(),
        }
    table = pd.DataFrame(rows).T
    table.loc["total"] = table.sum()
    demand = table.sum(axis=1)
    table.attrs["shares"] = table.div(demand.where(demand > 0), axis=0).fillna(0.0)
    return table


def plot_supply_shares(balance: pd.DataFrame, *, scenario: str | None = None) -> Figure:
    """Figure 10: share of the demand met by PV direct, battery and grid (EV, mall, total). [%]"""
    table = supply_shares(balance)
    shares = table.attrs["shares"] * 100
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(table))[::-1]
    left = np.zeros(len(table))
    colours = {"PV direct": COLORS["pv_direct"], "battery": COLORS["bess"], "grid": COLORS["grid"]}
    for source in table.columns:
        ax.barh(y, shares[source], left=left, color=colours[source],
                label=f"{source}: {shares.loc['total', source]:.1f} % of the total, "
                      f"{table.loc['total', source] / 1000:,.1f} MWh")
        for yi, l, s, e in zip(y, left, shares[source], table[source]):
            # a segment prints what fits in it; the legend holds each source's total
            text = (f"{s:.1f} %\n{e / 1000:,.1f} MWh" if s >= 10 else f"{s:.0f} %" if s >= 4
                    else "")
            ax.text(l + s / 2, yi, text, ha="center", va="center", fontsize=8,
                    color="white" if source != "PV direct" else "black")
        left += shares[source].to_numpy()
    ax.set_yticks(y, [f"{name}\n({table.loc[name].sum() / 1000:,.1f} MWh)" for name in table.index])
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of the load's annual energy [%]")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, fontsize=8)
    title(fig, "Fig. 10  Supply shares of the annual demand", balance, scenario)
    return fig
