"""Battery figures: 6 bess_windows, 12 soc_heatmap, 13 bess_operation."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .palette import COLORS
from .. import physics
from ..timeseries import local_hours
from ..balance_specs import run_specs
from .common import (
    axis_label,
    bars,
    col,
    day_hour_table,
    draw_day_hour,
    figure_specs,
    has_battery,
    kw,
    legend_below,
    legend_right,
    monthly,
    naive_local,
    say_no_battery,
    soc_matrix,
    title,
    white_to,
)


def window_shares(balance: pd.DataFrame) -> pd.DataFrame:
    """Per month, the share of charging in the morning window and of discharging in the evening.

    Morning window: ``charge_start_h <= t < ev_start_h``; evening: ``closure_start_h <= t <
    close_h`` (t = local clock time of the step start, rules from ``balance.attrs``). Columns
    bess_charge_kwh, charge_morning_kwh, bess_discharge_kwh, discharge_evening_kwh [kWh] and
    charge_morning_frac, discharge_evening_frac [-] (NaN in months without any).
    """
    specs = figure_specs(balance)
    r = specs.rules
    h = local_hours(balance.index)
    morning = (h >= r.charge_start_h) & (h < r.ev_start_h)
    evening = (h >= r.closure_start_h) & (h < r.close_h)
    ch, dis = col(balance, "bess_charge_kwh"), col(balance, "bess_discharge_kwh")
    m = monthly(pd.DataFrame({"bess_charge_kwh": ch, "charge_morning_kwh": ch.where(morning, 0.0),
                              "bess_discharge_kwh": dis,
                              "discharge_evening_kwh": dis.where(evening, 0.0)}))
    m["charge_morning_frac"] = m["charge_morning_kwh"] / m["bess_charge_kwh"].where(m["bess_charge_kwh"] > 0)
    m["discharge_evening_frac"] = (m["discharge_evening_kwh"]
                                   / m["bess_discharge_kwh"].where(m["bess_discharge_kwh"] > 0))
    return m


def plot_bess_windows(balance: pd.DataFrame, *, scenario: str | None = None) -> Figure:
    """Figure 6: battery charge/discharge over the year and the share inside the phase windows.

    Top: the battery's mean power in each step [kW], charge positive and discharge negative, as
    a day (x) by local hour (y) image with the morning and evening windows marked (a year of
    hourly steps as a line would draw a comb of hairlines; daily totals are nearly the same
    every day). Bottom: per month, the share of the charged energy drawn in the morning window
    and of the discharged energy delivered in the evening window [%] (see
    :func:`window_shares`).
    """
    specs = figure_specs(balance)
    r = specs.rules
    shares = window_shares(balance)
    battery = has_battery(balance)
    fig = Figure(figsize=(13, 7.5 if battery else 3.0), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, height_ratios=[1.3, 1])
    title(fig, "Fig. 6  Battery charge and discharge windows", balance, scenario)
    if not battery:
        say_no_battery(ax1, "charge and discharge")
        say_no_battery(ax2, "charge and discharge windows")
        return fig
    power = kw(col(balance, "bess_charge_kwh") - col(balance, "bess_discharge_kwh"), specs.dt_h)
    top = max(float(power.abs().max()), 1e-9)
    draw_day_hour(ax1, day_hour_table(power), white_to(COLORS["bess_charge"], COLORS["bess"]),
                  -top, top, "mean battery power [kW]:\ncharge +, discharge \u2212")
    for h in (r.charge_start_h, r.ev_start_h, r.closure_start_h, r.close_h):
        ax1.axhline(h, color="black", ls="--", lw=0.8)
    ch, dis = col(balance, "bess_charge_kwh").sum(), col(balance, "bess_discharge_kwh").sum()
    ax1.set_title(f"charge {ch / 1000:,.1f} MWh, discharge {dis / 1000:,.1f} MWh in the run; "
                  f"dashed: the morning window {r.charge_start_h:g}-{r.ev_start_h:g} h and "
                  f"the evening window {r.closure_start_h:g}-{r.close_h:g} h", fontsize=10)
    x = np.arange(len(shares))
    ax2.bar(x - 0.2, shares["charge_morning_frac"] * 100, 0.4, color=COLORS["bess_charge"],
            label=f"charge in the morning window {r.charge_start_h:g}-{r.ev_start_h:g} h")
    ax2.bar(x + 0.2, shares["discharge_evening_frac"] * 100, 0.4, color=COLORS["bess"],
            label=f"discharge in the evening window {r.closure_start_h:g}-{r.close_h:g} h")
    ax2.set_xticks(x, [f"{m:%b}" for m in shares.index])
    ax2.set_ylim(0, 110)
    ax2.set_ylabel("share of the month's energy [%]")
    legend_below(ax2, 2)
    ax2.grid(axis="y", alpha=0.3)
    tot = shares.sum()
    if tot["bess_charge_kwh"] > 0 and tot["bess_discharge_kwh"] > 0:
        morning = tot["charge_morning_kwh"] / tot["bess_charge_kwh"] * 100
        evening = tot["discharge_evening_kwh"] / tot["bess_discharge_kwh"] * 100
        ax2.set_title(f"whole run: {morning:.1f} % of charging in the morning window, "
                      f"{evening:.1f} % of discharging in the evening window", fontsize=10)
    return fig


def plot_soc_heatmap(balance: pd.DataFrame, *, scenario: str | None = None) -> Figure:
    """Figure 12: SOC by day (x) and hour (y) for the whole run, and the SOC line. [%]"""
    specs = figure_specs(balance)
    bat = specs.battery
    mat = soc_matrix(balance)
    battery = has_battery(balance)
    fig = Figure(figsize=(13, 7.5 if battery else 3.0), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, height_ratios=[2, 1])
    title(fig, "Fig. 12  State of charge by day and hour", balance, scenario)
    if not battery:
        say_no_battery(ax1, "state of charge by day and hour")
        say_no_battery(ax2, "state of charge")
        return fig
    draw_day_hour(ax1, mat, "viridis", 0, 100, axis_label("soc_frac", "%", "end of step: "))
    # the hourly SOC line summarised per day: a year of hourly steps as one line is a solid block
    day_soc = (balance["soc_frac"] * 100).groupby(naive_local(balance.index).normalize())
    days = mat.index + pd.Timedelta(hours=12)
    ax2.axhspan(0, bat.soc_min * 100, color=COLORS["outside_window"], lw=0,
                label=f"outside the usable window {bat.soc_min * 100:.0f}-"
                      f"{bat.soc_max * 100:.0f} %")
    if bat.soc_max < 1:
        ax2.axhspan(bat.soc_max * 100, 105, color=COLORS["outside_window"], lw=0)
    for stat, style, what in (("max", "-", "daily maximum"), ("mean", "-", "daily mean"),
                              ("min", ":", "daily minimum")):
        ax2.plot(days, day_soc.agg(stat).reindex(mat.index).to_numpy(), ls=style,
                 lw=1.4 if stat == "mean" else 1.0,
                 color=COLORS["demand"] if stat == "mean" else COLORS["soc"], label=what)
    ax2.set_ylim(0, 105)
    ax2.set_ylabel(axis_label("soc_frac", "%"))
    ax2.set_title("the hourly state of charge per day: its maximum, mean and minimum",
                  fontsize=10)
    legend_below(ax2, 4)
    ax2.xaxis.set_major_locator(mdates.MonthLocator())
    ax2.xaxis.set_major_formatter(mdates.DateFormatter("%b"))
    ax2.set_xlim(ax1.get_xlim())
    return fig


def equivalent_full_cycles(balance: pd.DataFrame) -> pd.Series:
    """Per step: energy taken out of storage per usable window, discharge/eta_d/usable. [-]"""
    bat = run_specs(balance).battery
    if bat.usable_kwh <= 0 or bat.capacity_kwh <= 0:
        return pd.Series(0.0, index=balance.index)
    discharge = col(balance, "bess_discharge_kwh")
    return pd.Series(physics.equivalent_full_cycles(discharge.to_numpy(dtype=float),
                                                    bat.eta_discharge, bat.usable_kwh),
                     index=discharge.index, name=discharge.name)


def plot_bess_operation(balance: pd.DataFrame, *, scenario: str | None = None) -> Figure:
    """Figure 13: battery operation.

    Panels: mean charge/discharge power by local hour of day [kW]; monthly charge and discharge
    [MWh]; monthly discharge split EV vs mall [MWh]; equivalent full cycles per month and
    cumulative (discharge / eta_d / usable capacity) [-].
    """
    specs = figure_specs(balance)
    dt = specs.dt_h
    battery = has_battery(balance)
    fig = Figure(figsize=(13, 8.5 if battery else 2.0), layout="constrained")
    title(fig, "Fig. 13  Battery operation", balance, scenario)
    if not battery:
        say_no_battery(fig.subplots(), "battery operation")
        return fig
    (a, b), (c, d) = fig.subplots(2, 2)
    h = local_hours(balance.index)
    prof = pd.DataFrame({"charge": kw(col(balance, "bess_charge_kwh"), dt).to_numpy(),
                         "discharge": kw(col(balance, "bess_discharge_kwh"), dt).to_numpy(),
                         "h": h}).groupby("h").mean()
    bars(a, prof.index + dt / 2, prof["charge"], dt * 0.85, color=COLORS["bess_charge"],
         label="charge")
    bars(a, prof.index + dt / 2, -prof["discharge"], dt * 0.85, color=COLORS["bess"],
         label="discharge (negative)")
    a.axhline(0, color="black", lw=0.5)
    a.set_xlim(0, 24)
    a.set_xticks(range(0, 25, 3))
    a.set_xlabel("local time [h]")
    a.set_ylabel("mean power [kW]")
    a.set_title("mean daily profile", fontsize=10)
    legend_right(a)
    m = monthly(pd.DataFrame({"charge": col(balance, "bess_charge_kwh"),
                              "discharge": col(balance, "bess_discharge_kwh"),
                              "to EV": col(balance, "bess_to_ev_kwh"),
                              "to mall": col(balance, "bess_to_mall_kwh"),
                              "efc": equivalent_full_cycles(balance)}))
    labels = [f"{t:%b}" for t in m.index]
    x = np.arange(len(m))
    bars(b, x - 0.2, m["charge"] / 1000, 0.4, color=COLORS["bess_charge"],
         label=f"charge ({m['charge'].sum() / 1000:,.1f} MWh)")
    bars(b, x + 0.2, m["discharge"] / 1000, 0.4, color=COLORS["bess"],
         label=f"discharge ({m['discharge'].sum() / 1000:,.1f} MWh)")
    b.set_xticks(x, labels)
    b.set_ylabel("energy [MWh/month]")
    b.set_title("monthly totals (AC side)", fontsize=10)
    legend_right(b)
    tot = m[["to EV", "to mall"]].sum()
    bars(c, x, m["to EV"] / 1000, 0.7, color=COLORS["ev"],
         label=f"to EV ({tot['to EV'] / 1000:,.1f} MWh)")
    bars(c, x, m["to mall"] / 1000, 0.7, bottom=m["to EV"] / 1000, color=COLORS["mall"],
         label=f"to mall ({tot['to mall'] / 1000:,.1f} MWh)")
    c.set_xticks(x, labels)
    c.set_ylabel("energy [MWh/month]")
    c.set_title("discharge by destination", fontsize=10)
    legend_right(c)
    bars(d, x, m["efc"], 0.7, color=COLORS["bess"], label="per month")
    d.set_xticks(x, labels)
    d.set_ylabel(axis_label("equivalent_full_cycles", "-", "monthly "))
    d2 = d.twinx()
    d2.plot(x, m["efc"].cumsum(), color="black", marker="o", lw=1, label="cumulative")
    d2.set_ylabel(axis_label("equivalent_full_cycles", "-", "cumulative "))
    d.set_title(f"equivalent full cycles: {m['efc'].sum():,.1f} in the run", fontsize=10)
    h1, l1 = d.get_legend_handles_labels()
    h2, l2 = d2.get_legend_handles_labels()
    d2.legend(h1 + h2, l1 + l2, loc="upper left", bbox_to_anchor=(1.12, 1.0), fontsize=8)
    for ax in (a, b, c, d):
        ax.grid(axis="y", alpha=0.3)
    return fig
