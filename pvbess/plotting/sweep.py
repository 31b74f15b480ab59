"""Figures of a sizing sweep: KPI heatmaps (capacity x power) and the Pareto plot.

Every function takes the table :func:`pvbess.sweep` returns and draws only its columns. The
figures are matplotlib :class:`~matplotlib.figure.Figure` objects (never shown or saved here);
labels are in words with the units of the tables that define the columns (:func:`quantity`).
The interactive explorer over these heatmaps is :func:`pvbess.plotting.interactive.sweep_explorer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

from .palette import COLORS
from ..timeseries import DataError
from ..variables import LABELS, better, label, unit_of

__all__ = [
    "plot_pareto",
    "plot_sweep_heatmap",
    "plot_sweep_heatmaps",
    "quantity",
    "sweep_slice",
]

_AGG = ("mean", "min", "max", "median")


def _need(table: pd.DataFrame, *columns: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"sweep table: expected a DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"sweep table: missing column(s) {missing}; have {list(table.columns)}")
    if len(table) == 0:
        raise DataError("sweep table: no rows")


def sweep_slice(table: pd.DataFrame, value: str, *, x: str = "capacity_kwh",
                y: str = "power_kw", where: Mapping[str, float] | None = None,
                agg: str = "mean") -> pd.DataFrame:
    """A ``y`` (rows) by ``x`` (columns) grid of ``value``, for a heatmap.

    Parameters
    ----------
    value : str
        The column to show (a KPI or an economic result).
    x, y : str
        The two parameters on the axes.
    where : mapping, optional
        Fix other parameters to one value each (``{"pv_scale": 1.0}``).
    agg : {"mean", "min", "max", "median"}
        How several designs on the same (x, y) cell (other parameters still varying) combine.

    Returns
    -------
    pandas.DataFrame
        Index: the ``y`` values (ascending); columns: the ``x`` values (ascending).
    """
    _need(table, value, x, y, *(where or {}))
    if agg not in _AGG:
        raise ValueError(f"agg = {agg!r}: must be one of {_AGG}")
    mask = np.ones(len(table), dtype=bool)
    for name, v in (where or {}).items():
        mask &= np.isclose(table[name].to_numpy(dtype=float), float(v))
    part = table.loc[mask, [x, y, value]]
    if part.empty:
        raise DataError(f"sweep table: no design with {dict(where or {})}")
    grid = part.pivot_table(index=y, columns=x, values=value, aggfunc=agg, dropna=False)
    return grid.sort_index(axis=0).sort_index(axis=1)


def _compact(v: float) -> str:
    """A short label: 3 significant digits with k/M for thousands and millions.

    >>> _compact(-999_500.0), _compact(1_234.0), _compact(0.5123)
    ('-1M', '1.23k', '0.512')
    """
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        # the rounding decides the suffix: -999,500 is "-1M", not "-1e+03k"
        if abs(float(f"{v:.3g}")) >= scale:
            return f"{float(f'{v:.3g}') / scale:.3g}{suffix}"
    return f"{v:.3g}"


def quantity(name: str) -> tuple[str, str, float]:
    """Words, unit and display factor of a sweep column: fractions are shown in percent.

    Words and units come from :func:`pvbess.variables.label` / :func:`~pvbess.variables.unit_of`
    (the variables table), and for the economics columns from ``APPRAISAL_COLUMNS``.

    >>> quantity("self_sufficiency_frac")
    ('self-sufficiency', '%', 100.0)
    """
    from ..studies.economics import APPRAISAL_COLUMNS

    if name in APPRAISAL_COLUMNS and name not in LABELS:
        unit, meaning = APPRAISAL_COLUMNS[name]
        words = meaning.split(":")[0]
    else:
        unit = APPRAISAL_COLUMNS[name][0] if name in APPRAISAL_COLUMNS else unit_of(name)
        words = label(name, unit=False)
    if name.endswith("_frac") and unit == "-":
        return words, "%", 100.0
    return words, unit, 1.0


def _label(name: str) -> str:
    words, unit, _ = quantity(name)
    return f"{words} [{unit}]"


def _number(v: float) -> str:
    """Four significant digits, thousands separated, never in exponent form."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _value_text(name: str, value: float) -> str:
    """A parameter value in words with its unit: ``"battery capacity 2,000 kWh"``."""
    words, unit, factor = quantity(name)
    return f"{words} {_number(value * factor)}" + ("" if unit == "-" else f" {unit}")


def _colours(value: str, cmap: str | None) -> tuple[str, str]:
    """The colour map of a quantity and the note on its bar: the bright end is always better."""
    if cmap is not None:
        return cmap, ""
    way = better(value)
    if way == "higher":
        return "viridis", "brighter: better"
    if way == "lower":
        return "viridis_r", "brighter: better (lower)"
    return "cividis", ""


def _draw_heatmap(fig: Figure, ax, grid: pd.DataFrame, value: str, x: str, y: str,
                  cmap: str | None, *, title: bool = True) -> None:
    factor = quantity(value)[2]
    data = grid.to_numpy(dtype=float) * factor
    blank = ~np.isfinite(data)
    data = np.where(np.isfinite(data), data, np.nan)  # e.g. an infinite payback: left blank
    cmap, note = _colours(value, cmap)
    image = ax.imshow(data, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest")
    ax.set_xticks(range(grid.shape[1]), [f"{v:,g}" for v in grid.columns], rotation=45,
                  fontsize=7)
    ax.set_yticks(range(grid.shape[0]), [f"{v:,g}" for v in grid.index], fontsize=7)
    ax.set_xlabel(_label(x))
    ax.set_ylabel(_label(y))
    if title:
        ax.set_title(_label(value), fontsize=9)
    bar = fig.colorbar(image, ax=ax, shrink=0.85,
                       label="\n".join(t for t in (None if title else _label(value), note) if t))
    bar.formatter = FuncFormatter(lambda v, _: _compact(v))  # -1.08M, not an offset of 1e6
    if blank.any():  # say what a blank cell is rather than leave it unexplained
        ax.text(0.0, -0.30 if title else -0.22, "blank: no value (never pays back, no storage "
                "or nothing avoided)", transform=ax.transAxes, fontsize=6, color="0.35")
    if data.size <= 100:  # small grids: print the numbers in the cells
        for (i, j), v in np.ndenumerate(data):
            if np.isfinite(v):
                r, g, b, _ = image.cmap(image.norm(v))  # dark text on a bright cell
                bright = 0.299 * r + 0.587 * g + 0.114 * b > 0.5
                ax.text(j, i, _compact(v), ha="center", va="center",
                        fontsize=9 if data.size <= 30 else 6, color="k" if bright else "w")


def plot_sweep_heatmap(table: pd.DataFrame, value: str, *, x: str = "capacity_kwh",
                       y: str = "power_kw", where: Mapping[str, float] | None = None,
                       agg: str = "mean", cmap: str | None = None,
                       mark: tuple[float, float] | None = None) -> Figure:
    """Heatmap of one column of a sweep over two parameters (see :func:`sweep_slice`).

    ``mark`` = (x value, y value) outlines that design's cell and names its value in the title.
    """
    grid = sweep_slice(table, value, x=x, y=y, where=where, agg=agg)
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.subplots()
    _draw_heatmap(fig, ax, grid, value, x, y, cmap, title=False)
    words, unit, factor = quantity(value)
    lines = [f"{words[:1].upper()}{words[1:]} [{unit}] by {quantity(x)[0]} and {quantity(y)[0]}"]
    if where:
        lines.append(", ".join(_value_text(k, v) for k, v in where.items()))
    if mark is not None:
        j = grid.columns.get_indexer([mark[0]], method="nearest")[0]
        i = grid.index.get_indexer([mark[1]], method="nearest")[0]
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2.5,
                               ec=COLORS["threshold"]))
        cell = grid.iat[i, j] * factor
        lines.append(f"marked: {_value_text(x, grid.columns[j])}, "
                     f"{_value_text(y, grid.index[i])}: "
                     + (f"{_number(cell)} {unit}" if np.isfinite(cell) else "undefined"))
    fig.suptitle("\n".join(lines), fontsize=10)
    return fig


def plot_sweep_heatmaps(table: pd.DataFrame, values: Sequence[str], *, x: str = "capacity_kwh",
                        y: str = "power_kw", where: Mapping[str, float] | None = None,
                        agg: str = "mean", ncols: int = 3, cmap: str | None = None) -> Figure:
    """One heatmap per column in ``values``, on a grid of panels."""
    values = list(values)
    if not values:
        raise ValueError("plot_sweep_heatmaps: give at least one column in values")
    ncols = max(1, min(ncols, len(values)))
    nrows = -(-len(values) // ncols)
    fig = Figure(figsize=(4.6 * ncols, 3.8 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax, value in zip(axes, values):
        _draw_heatmap(fig, ax, sweep_slice(table, value, x=x, y=y, where=where, agg=agg),
                      value, x, y, cmap)
    for ax in axes[len(values):]:
        ax.set_visible(False)
    fixed = ", ".join(_value_text(k, v) for k, v in (where or {}).items())
    strategy = table.attrs.get("strategy")
    fig.suptitle("Sizing sweep" + (f", {strategy.replace('_', '-')} dispatch" if strategy else "")
                 + (f" ({fixed})" if fixed else "")
                 + (f"; {agg} over the other parameters" if agg != "mean" else ""), fontsize=11)
    return fig


def plot_pareto(table: pd.DataFrame, *, x: str = "eac_pen_per_year", y: str = "co2_t",
                front: str = "pareto", hue: str | None = "capacity_kwh",
                label: Sequence[str] = ("capacity_kwh", "power_kw"), n_labels: int = 8) -> Figure:
    """Cost against CO2 of every design, the Pareto front drawn as a line.

    Parameters
    ----------
    x, y : str
        The two objectives (both minimised), e.g. equivalent annual cost [PEN/yr] and annual
        CO2 [t].
    front : str
        Boolean column marking the front (as :func:`pvbess.sweep` adds it).
    hue : str or None
        Column colouring the designs.
    label, n_labels : sequence of str, int
        Columns written next to up to ``n_labels`` front designs, spread along the front.
    """
    _need(table, x, y, front, *([hue] if hue else []), *label)
    fig = Figure(figsize=(9, 6), layout="constrained")
    ax = fig.subplots()
    on = table[front].to_numpy(dtype=bool)
    if hue:
        sc = ax.scatter(table[x], table[y], c=table[hue], s=10, cmap="viridis", alpha=0.6,
                        lw=0, label=f"designs ({len(table):,})")
        fig.colorbar(sc, ax=ax, label=_label(hue))
    else:
        ax.scatter(table[x], table[y], s=10, color=COLORS["grid"], alpha=0.5, lw=0,
                   label=f"designs ({len(table):,})")
    best = table.loc[on].sort_values([x, y])
    ax.plot(best[x], best[y], "-o", color=COLORS["threshold"], ms=4, lw=1.5,
            label=f"Pareto front ({len(best):,} designs)")
    if n_labels > 0 and len(best):
        picks = np.unique(np.linspace(0, len(best) - 1, min(n_labels, len(best))).round()
                          .astype(int))
        for _, row in best.iloc[picks].iterrows():
            text = ", ".join(f"{row[c]:g}" for c in label)
            ax.annotate(text, (row[x], row[y]), textcoords="offset points", xytext=(6, 4),
                        fontsize=7)
    ax.set_xlabel(_label(x))
    ax.set_ylabel(_label(y))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"Cost against CO2 (labels: {', '.join(label)})", fontsize=10)
    return fig
