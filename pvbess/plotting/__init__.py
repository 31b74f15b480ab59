"""The 16 figures of the energy balance report (../shared/specs/figures.md).

Each figure is a function ``plot_<name>(balance, ...) -> matplotlib.figure.Figure`` drawn from the
balance table of :func:`pvbess.simulate` alone (plus the run's specs stored in its ``attrs``,
read by :func:`pvbess.run_specs`, for titles and thresholds: a table without them is a
``DataError``, never a figure of the Iquitos defaults), so every number traces to a column. The functions never
save or show; they build a bare :class:`~matplotlib.figure.Figure` (no pyplot state), so a
notebook decides where the PNG goes. Colours come from :mod:`pvbess.plotting.palette`.

``FIGURES`` lists them in report order as ``FigureSpec(number, name, function)``. The names are
loaded on first use, so ``from pvbess.plotting import interactive`` loads no matplotlib.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# public name -> submodule that defines it, loaded on first use (PEP 562): a notebook that only
# wants the scenario line or the interactive views does not load matplotlib and every figure
_EXPORTS: dict[str, str] = {
    "scenario_label": "common",
    "soc_matrix": "common",
    **dict.fromkeys(("plot_daily_balance", "plot_export_and_peak_shaving",
                     "plot_mall_peak_shaving", "plot_pv_local_vs_export", "plot_supply_shares",
                     "supply_shares"), "annual"),
    **dict.fromkeys(("equivalent_full_cycles", "plot_bess_operation", "plot_bess_windows",
                     "plot_soc_heatmap", "window_shares"), "battery"),
    **dict.fromkeys(("plot_day_balance", "plot_first_week", "plot_pv_representative_days",
                     "representative_pv_days"), "daily"),
    **dict.fromkeys(("co2_baselines", "plot_co2"), "emissions"),
    "plot_energy_flows": "sankey",
    **dict.fromkeys(("energy_flows", "energy_waterfall_steps", "plot_energy_waterfall",
                     "plot_pv_destinations", "plot_pv_utilization", "pv_destinations"), "flows"),
}

#: The report's figures in order, by the name of their function.
_FIGURE_NAMES: tuple[str, ...] = (
    "plot_day_balance", "plot_export_and_peak_shaving", "plot_pv_local_vs_export",
    "plot_mall_peak_shaving", "plot_first_week", "plot_bess_windows", "plot_energy_flows",
    "plot_pv_representative_days", "plot_daily_balance", "plot_supply_shares",
    "plot_energy_waterfall", "plot_soc_heatmap", "plot_bess_operation", "plot_pv_destinations",
    "plot_co2", "plot_pv_utilization",
)


def _png_name(number: int, name: str) -> str:
    return f"{number:02d}_{name}.png"


#: The report's PNG file names in order (each ``FIGURES[i].filename``), known without loading
#: matplotlib and the figures (the report's renderer checks the files a notebook wrote).
FIGURE_FILENAMES: tuple[str, ...] = tuple(_png_name(i, name.removeprefix("plot_"))
                                          for i, name in enumerate(_FIGURE_NAMES, start=1))


@dataclass(frozen=True)
class FigureSpec:
    """One report figure: its number, name (``plot_<name>``, PNG ``NN_<name>.png``) and function."""

    number: int
    name: str
    function: Callable[..., Figure]

    @property
    def filename(self) -> str:
        """The report's PNG file name, e.g. ``07_energy_flows.png``."""
        return _png_name(self.number, self.name)


@functools.cache
def _figures() -> tuple[FigureSpec, ...]:
    """``FIGURES``: the 16 figures in report order."""
    return tuple(FigureSpec(i, name.removeprefix("plot_"), __getattr__(name))
                 for i, name in enumerate(_FIGURE_NAMES, start=1))


__all__ = sorted(["FIGURES", "FIGURE_FILENAMES", "FigureSpec", *_EXPORTS])


_lazy_attribute, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


def __getattr__(name: str) -> Any:
    if name == "FIGURES":  # the 16 figures in report order, as FigureSpec(number, name, function)
        return _figures()
    return _lazy_attribute(name)
