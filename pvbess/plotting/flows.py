"""Energy accounts: the flows of 7 energy_flows (drawn in :mod:`.sankey`), 11 energy_waterfall,
14 pv_destinations, 16 pv_utilization."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .palette import COLORS
from ..balance_specs import run_specs
from .common import (
    col,
    figure_specs,
    has_battery,
    legend_right,
    monthly,
    say_no_battery,
    title,
)

#: PV destinations in drawing order: (column, label, palette key).
PV_DESTINATIONS: tuple[tuple[str, str, str], ...] = (
    ("pv_to_ev_kwh", "EV", "ev"),
    ("pv_to_mall_kwh", "mall", "mall"),
    ("pv_to_bess_kwh", "battery", "bess_charge"),
    ("pv_export_kwh", "export", "export"),
    ("pv_curtailed_kwh", "curtailed", "curtailed"),
)


def stored_change_kwh(balance: pd.DataFrame) -> float:
    """Stored energy at the end minus at the start of the run: soe_end_kwh[-1] - e_initial. [kWh]"""
    return float(balance["soe_end_kwh"].iloc[-1]) - run_specs(balance).e_initial_kwh


def energy_flows(balance: pd.DataFrame) -> pd.DataFrame:
    """The annual energy flows between sources and sinks (the Sankey's links).

    Columns source, target, kwh. Sources PV, grid, battery (and "initial store" when the battery
    ends below its initial energy); targets EV, mall, battery, export, curtailed, losses and
    "stored" (the net gain of stored energy). Battery in = battery out + losses + stored holds
    when the balance conserves energy. Zero flows are left out. [kWh]
    """
    figure_specs(balance)
    s = lambda name: float(col(balance, name).sum())
    d_e = stored_change_kwh(balance)
    links = [
        ("PV", "EV", s("pv_to_ev_kwh")), ("PV", "mall", s("pv_to_mall_kwh")),
        ("PV", "battery", s("pv_to_bess_kwh")), ("PV", "export", s("pv_export_kwh")),
        ("PV", "curtailed", s("pv_curtailed_kwh")),
        ("grid", "EV", s("grid_to_ev_kwh")), ("grid", "mall", s("grid_to_mall_kwh")),
        ("grid", "battery", s("grid_to_bess_kwh")),
        ("initial store", "battery", max(-d_e, 0.0)),
        ("battery", "EV", s("bess_to_ev_kwh")), ("battery", "mall", s("bess_to_mall_kwh")),
        ("battery", "export", s("bess_export_kwh")), ("battery", "losses", s("bess_loss_kwh")),
        ("battery", "stored", max(d_e, 0.0)),
    ]
    frame = pd.DataFrame(links, columns=["source", "target", "kwh"])
    return frame[frame["kwh"] > 0].reset_index(drop=True)


def energy_waterfall_steps(balance: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two waterfalls of figure 11 as tables (columns step, kind, kwh; kind total|delta).

    Main: PV generated, - exported, - curtailed, - stored in battery, = PV direct to loads,
    + battery out, + grid in (to loads), = demand EV + mall.
    Battery: charged (PV + grid), - losses, - net stored, - exported by the battery,
    = battery out. Each chain's deltas add up to its totals when energy is conserved. [kWh]
    """
    figure_specs(balance)
    s = lambda name: float(col(balance, name).sum())
    pv_direct = s("pv_to_ev_kwh") + s("pv_to_mall_kwh")
    bess_out = s("bess_to_ev_kwh") + s("bess_to_mall_kwh")
    main = pd.DataFrame([
        ("PV generated", "total", s("pv_kwh")),
        ("exported", "delta", -s("pv_export_kwh")),
        ("curtailed", "delta", -s("pv_curtailed_kwh")),
        ("stored in battery", "delta", -s("pv_to_bess_kwh")),
        ("PV direct to loads", "total", pv_direct),
        ("battery out", "delta", bess_out),
        ("grid in", "delta", s("grid_to_ev_kwh") + s("grid_to_mall_kwh")),
        ("demand EV + mall", "total", s("ev_kwh") + s("mall_kwh")),
    ], columns=["step", "kind", "kwh"])
    battery = pd.DataFrame([
        ("charged", "total", s("bess_charge_kwh")),
        ("losses", "delta", -s("bess_loss_kwh")),
        ("net stored", "delta", -stored_change_kwh(balance)),
        ("battery export", "delta", -s("bess_export_kwh")),
        ("battery out", "total", bess_out),
    ], columns=["step", "kind", "kwh"])
    return _drop_impossible(main, balance), _drop_impossible(battery, balance)


def _drop_impossible(steps: pd.DataFrame, balance: pd.DataFrame) -> pd.DataFrame:
    """Leave out zero steps the run's strategy cannot have (no "battery export +0.0")."""
    impossible = set()
    if not has_battery(balance):
        impossible |= {"stored in battery", "battery out", "charged", "losses", "net stored",
                       "battery export"}
    if run_specs(balance).strategy != "schedule":  # only a schedule may export from the battery
        impossible.add("battery export")
    drop = steps["step"].isin(impossible) & (steps["kind"] == "delta") & (steps["kwh"] == 0)
    return steps[~drop].reset_index(drop=True)


def _draw_waterfall(ax, steps: pd.DataFrame, colours: dict[str, str]) -> None:
    level = 0.0
    for i, (step, kind, v) in enumerate(steps.itertuples(index=False)):
        v_mwh = v / 1000
        if kind == "total":
            ax.bar(i, v_mwh, color=colours.get(step, "#495057"))
            level = v_mwh
            ax.text(i, v_mwh, f"{v_mwh:,.1f}", ha="center", va="bottom", fontsize=8,
                    fontweight="bold")
        else:
            bottom = level + min(v_mwh, 0.0)
            ax.bar(i, abs(v_mwh), bottom=bottom, color=colours.get(step, "#adb5bd"))
            ax.text(i, level + max(v_mwh, 0.0), f"{round(v_mwh, 1) + 0.0:+,.1f}", ha="center",
                    va="bottom", fontsize=8)
            ax.plot([i - 0.6, i - 0.4], [level, level], color="black", lw=0.6)
            level += v_mwh
    ax.set_xticks(range(len(steps)), [textwrap.fill(n, 10) for n in steps["step"]], fontsize=8)
    ax.set_ylabel("energy [MWh]")
    ax.grid(axis="y", alpha=0.3)


def plot_energy_waterfall(balance: pd.DataFrame, *, scenario: str | None = None) -> Figure:
    """Figure 11: annual waterfalls from PV to the demand, and through the battery. [MWh]

    Left: PV generated minus export, curtailment and battery charging gives PV direct to loads;
    plus battery output and grid import to the loads gives the demand. Right: the battery's
    charge minus losses and the net change of stored energy gives its output.
    See :func:`energy_waterfall_steps`.
    """
    main, battery = energy_waterfall_steps(balance)
    colours = {"PV generated": COLORS["pv"], "exported": COLORS["export"],
               "curtailed": COLORS["curtailed"], "stored in battery": COLORS["bess_charge"],
               "PV direct to loads": COLORS["pv_direct"], "battery out": COLORS["bess"],
               "grid in": COLORS["grid"], "demand EV + mall": COLORS["demand"],
               "charged": COLORS["bess_charge"], "losses": COLORS["losses"],
               "net stored": COLORS["stored"], "battery export": COLORS["export"]}
    fig = Figure(figsize=(13, 5.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[2.2, 1])
    _draw_waterfall(ax1, main, colours)
    ax1.set_title("PV -> loads (annual)", fontsize=10)
    if has_battery(balance):
        _draw_waterfall(ax2, battery, colours)
        ax2.set_title("through the battery (annual)", fontsize=10)
    else:
        say_no_battery(ax2, "through the battery")
    title(fig, "Fig. 11  Annual energy waterfall [MWh]", balance, scenario)
    return fig


def pv_destinations(balance: pd.DataFrame) -> pd.Series:
    """Annual PV energy by destination (EV, mall, battery, export, curtailed). [kWh]"""
    figure_specs(balance)
    return pd.Series({label: float(col(balance, c).sum()) for c, label, _ in PV_DESTINATIONS})


def plot_pv_destinations(balance: pd.DataFrame, *, scenario: str | None = None) -> Figure:
    """Figure 14: annual PV split by destination [MWh, %] and monthly PV export [MWh]."""
    dest = pv_destinations(balance)
    total = dest.sum()
    fig = Figure(figsize=(13, 5.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 1.3])
    colours = [COLORS[key] for _, _, key in PV_DESTINATIONS]
    y = np.arange(len(dest))[::-1]
    ax1.barh(y, dest / 1000, color=colours)
    for yi, (label, v) in zip(y, dest.items()):
        share = v / total * 100 if total > 0 else 0.0
        ax1.text(v / 1000, yi, f" {v / 1000:,.1f} MWh ({share:.1f} %)", va="center", fontsize=8)
    ax1.set_yticks(y, dest.index)
    ax1.set_xlabel("annual PV energy [MWh]")
    ax1.set_xlim(0, max(dest.max() / 1000 * 1.45, 1e-9))
    ax1.set_title(f"PV {total / 1000:,.1f} MWh by destination", fontsize=10)
    m = monthly(pd.DataFrame({"export": col(balance, "pv_export_kwh"),
                              "curtailed": col(balance, "pv_curtailed_kwh")})) / 1000
    labels = [f"{t:%b}" for t in m.index]
    ax2.bar(labels, m["export"], color=COLORS["export"], label="exported")
    if m["curtailed"].sum() > 0:
        ax2.bar(labels, m["curtailed"], bottom=m["export"], color=COLORS["curtailed"],
                label="curtailed")
    ax2.set_ylabel("energy [MWh/month]")
    ax2.set_title("monthly PV export", fontsize=10)
    ax2.legend(fontsize=8)
    ax2.grid(axis="y", alpha=0.3)
    title(fig, "Fig. 14  Where the PV energy goes", balance, scenario)
    return fig


def plot_pv_utilization(balance: pd.DataFrame, *, scenario: str | None = None) -> Figure:
    """Figure 16: monthly PV use by destination (stacked) with the monthly PV total. [MWh]"""
    figure_specs(balance)
    m = monthly(pd.DataFrame({label: col(balance, c) for c, label, _ in PV_DESTINATIONS}
                             | {"PV": col(balance, "pv_kwh")})) / 1000
    fig = Figure(figsize=(12, 5.5), layout="constrained")
    ax = fig.subplots()
    labels = [f"{t:%b %Y}" for t in m.index]
    x = np.arange(len(m))
    bottom = np.zeros(len(m))
    for c, label, key in PV_DESTINATIONS:
        ax.bar(x, m[label], 0.7, bottom=bottom, color=COLORS[key],
               label=f"{label} ({m[label].sum():,.1f} MWh)")
        bottom += m[label].to_numpy()
    ax.plot(x, m["PV"], color="black", marker="o", lw=1.2,
            label=f"PV generation ({m['PV'].sum():,.1f} MWh)")
    local_share = (m["EV"] + m["mall"] + m["battery"]) / m["PV"].where(m["PV"] > 0) * 100
    row = m["PV"].max() * 1.1  # one row above the PV line, so no number sits on it
    for xi, share in zip(x, local_share):
        if np.isfinite(share):
            ax.text(xi, row, f"{share:.0f} %", ha="center", va="center", fontsize=8)
    ax.set_title("share of each month's PV used on site (EV, mall, battery) above the bars [%]",
                 fontsize=10)
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("PV energy [MWh/month]")
    ax.set_ylim(0, m["PV"].max() * 1.18 if m["PV"].max() > 0 else 1)
    legend_right(ax)
    ax.grid(axis="y", alpha=0.3)
    title(fig, "Fig. 16  Monthly PV utilization by destination", balance, scenario)
    return fig


__all__ = [
    "energy_flows",
    "energy_waterfall_steps",
    "plot_energy_waterfall",
    "plot_pv_destinations",
    "plot_pv_utilization",
    "pv_destinations",
]
