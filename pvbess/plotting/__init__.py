"""The 16 figures of the energy balance report (../shared/specs/figures.md).

Each figure is a function ``plot_<name>(balance, ...) -> matplotlib.figure.Figure`` drawn from the
balance table of :func:`pvbess.simulate` alone (plus the run's specs stored in its ``attrs``,
read by :func:`pvbess.run_specs`, for titles and thresholds: a table without them is a
``DataError``, never a figure of the Iquitos defaults), so every number traces to a column. The functions never
save or show; they build a bare :class:`~matplotlib.figure.Figure` (no pyplot state), so a
notebook decides where the PNG goes. Colours come from :mod:`pvbess.plotting.palette`.

``FIGURES`` lists them in report order as ``FigureSpec(number, name, function)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from matplotlib.figure import Figure

from .common import scenario_label
from .annual import (
    plot_daily_balance,
    plot_export_and_peak_shaving,
    plot_mall_peak_shaving,
    plot_pv_local_vs_export,
    plot_supply_shares,
    supply_shares,
)
from .battery import (
    equivalent_full_cycles,
    plot_bess_operation,
    plot_bess_windows,
    plot_soc_heatmap,
    soc_matrix,
    window_shares,
)
from .daily import (
    plot_day_balance,
    plot_first_week,
    plot_pv_representative_days,
    representative_pv_days,
)
from .emissions import co2_baselines, plot_co2
from .sankey import plot_energy_flows
from .flows import (
    energy_flows,
    energy_waterfall_steps,
    plot_energy_waterfall,
    plot_pv_destinations,
    plot_pv_utilization,
    pv_destinations,
)


@dataclass(frozen=True)
class FigureSpec:
    """One report figure: its number, name (``plot_<name>``, PNG ``NN_<name>.png``) and function."""

    number: int
    name: str
    function: Callable[..., Figure]

    @property
    def filename(self) -> str:
        """The report's PNG file name, e.g. ``07_energy_flows.png``."""
        return f"{self.number:02d}_{self.name}.png"


#: The 16 figures in report order.
FIGURES: tuple[FigureSpec, ...] = tuple(
    FigureSpec(i, f.__name__.removeprefix("plot_"), f)
    for i, f in enumerate([
        plot_day_balance, plot_export_and_peak_shaving, plot_pv_local_vs_export,
        plot_mall_peak_shaving, plot_first_week, plot_bess_windows, plot_energy_flows,
        plot_pv_representative_days, plot_daily_balance, plot_supply_shares,
        plot_energy_waterfall, plot_soc_heatmap, plot_bess_operation, plot_pv_destinations,
        plot_co2, plot_pv_utilization,
    ], start=1)
)

__all__ = [
    "FIGURES",
    "FigureSpec",
    "co2_baselines",
    "energy_flows",
    "energy_waterfall_steps",
    "equivalent_full_cycles",
    "plot_bess_operation",
    "plot_bess_windows",
    "plot_co2",
    "plot_daily_balance",
    "plot_day_balance",
    "plot_energy_flows",
    "plot_energy_waterfall",
    "plot_export_and_peak_shaving",
    "plot_first_week",
    "plot_mall_peak_shaving",
    "plot_pv_destinations",
    "plot_pv_local_vs_export",
    "plot_pv_representative_days",
    "plot_pv_utilization",
    "plot_soc_heatmap",
    "plot_supply_shares",
    "pv_destinations",
    "representative_pv_days",
    "scenario_label",
    "soc_matrix",
    "supply_shares",
    "window_shares",
]
