"""Emissions: 15 co2."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .palette import COLORS
from ..indicators import exported_kwh
from .common import axis_label, col, daily, figure_specs, title

NO_PV_NO_BESS = "no PV, no battery"
PV_ONLY = "PV only, no battery"


def co2_factor(balance: pd.DataFrame, given: float | None = None) -> float:
    """The grid emission factor of a figure: ``given``, else the run's. [kg CO2/kWh]"""
    specs = figure_specs(balance)
    return specs.co2_kg_per_kwh if given is None else float(given)


def co2_baselines(balance: pd.DataFrame, baselines: dict[str, pd.DataFrame] | None = None,
                  co2_kg_per_kwh: float | None = None) -> pd.DataFrame:
    """Grid CO2 per step of the site and of the two baselines. [kg]

    Columns ``site`` (the ``co2_kg`` column, or grid_import x factor when absent),
    ``no PV, no battery`` and ``PV only, no battery``, and ``export displaced`` (PV and battery
    export x factor, :func:`pvbess.indicators.exported_kwh`, as the KPI
    ``co2_export_displaced_t``: diesel displaced elsewhere, never counted as the site's own
    avoided CO2). The factor is the run's (:func:`pvbess.run_specs`) unless given.

    The baselines are recomputed from the columns of ``balance`` unless given:
    no PV and no battery imports ``ev + mall``; PV without battery imports
    ``max(ev + mall - pv, 0)`` per step. ``baselines`` may map those two names to balance
    tables of the baseline runs (e.g. ``simulate(..., strategy="grid_only")``); their ``co2_kg``
    columns are then used instead.
    """
    f = co2_factor(balance, co2_kg_per_kwh)
    demand = col(balance, "ev_kwh") + col(balance, "mall_kwh")
    site = balance["co2_kg"].astype(float) if "co2_kg" in balance else col(
        balance, "grid_import_kwh") * f
    out = pd.DataFrame({
        "site": site,
        NO_PV_NO_BESS: demand * f,
        PV_ONLY: (demand - col(balance, "pv_kwh")).clip(lower=0.0) * f,
        "export displaced": exported_kwh(col(balance, "pv_export_kwh"),
                                         col(balance, "bess_export_kwh")) * f,
    })
    for name, other in (baselines or {}).items():
        if name not in (NO_PV_NO_BESS, PV_ONLY):
            raise ValueError(f"baselines: unknown name {name!r}; use {NO_PV_NO_BESS!r} or "
                             f"{PV_ONLY!r}")
        if not other.index.equals(balance.index):
            raise ValueError(f"baselines[{name!r}]: its index differs from the balance's")
        out[name] = other["co2_kg"].astype(float)
    return out


def plot_co2(balance: pd.DataFrame, baselines: dict[str, pd.DataFrame] | None = None, *,
             co2_kg_per_kwh: float | None = None, scenario: str | None = None) -> Figure:
    """Figure 15: daily CO2 of grid imports [t/day] for the site and two baselines; annual totals.

    See :func:`co2_baselines` for how the baselines are computed (from the balance's own
    columns by default). Avoided CO2 is stated against each baseline separately; exported
    energy (PV and battery, as the KPI ``co2_export_displaced_t``) displacing diesel elsewhere
    is its own line.
    """
    per_step = co2_baselines(balance, baselines, co2_kg_per_kwh)
    d = daily(balance, per_step) / 1000
    tot = per_step.sum() / 1000
    f = co2_factor(balance, co2_kg_per_kwh)
    fig = Figure(figsize=(13, 5.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[2.3, 1])
    for name, colour, lw in [(NO_PV_NO_BESS, COLORS["baseline_no_pv"], 1.0),
                             (PV_ONLY, COLORS["baseline_pv_only"], 1.0),
                             ("site", COLORS["bess"], 1.4)]:
        label = "this scenario" if name == "site" else f"baseline: {name}"
        ax1.plot(d.index, d[name], color=colour, lw=lw, label=f"{label} ({tot[name]:,.1f} t)")
    ax1.set_ylabel(axis_label("co2_t", "t/day"))
    ax1.set_ylim(bottom=0)
    ax1.legend(loc="lower left", fontsize=8)
    ax1.grid(alpha=0.3)
    ax1.xaxis.set_major_locator(mdates.MonthLocator())
    ax1.xaxis.set_major_formatter(mdates.DateFormatter("%b"))
    names = [NO_PV_NO_BESS, PV_ONLY, "site"]
    bars = ax2.bar(np.arange(3), [tot[n] for n in names],
                   color=[COLORS["baseline_no_pv"], COLORS["baseline_pv_only"], COLORS["bess"]])
    for bar, n in zip(bars, names):
        ax2.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{tot[n]:,.0f} t",
                 ha="center", va="bottom", fontsize=8)
    ax2.set_xticks(np.arange(3), ["no PV,\nno battery", "PV only", "this\nscenario"], fontsize=8)
    ax2.set_ylabel(axis_label("co2_t", "t", "annual "))
    ax2.set_ylim(0, max(tot[names].max() * 1.5, 1e-9))
    ax2.text(0.02, 0.98,
             f"avoided vs no PV, no battery: {tot[NO_PV_NO_BESS] - tot['site']:,.1f} t\n"
             f"avoided vs PV only: {tot[PV_ONLY] - tot['site']:,.1f} t\n"
             f"separately, exported energy (PV and battery)\n"
             f"  displaces {tot['export displaced']:,.1f} t elsewhere\n"
             f"grid factor {f:.4f} kg CO2/kWh",
             transform=ax2.transAxes, va="top", fontsize=8)
    title(fig, "Fig. 15  CO2 of grid imports against the baselines [t]", balance, scenario)
    return fig
