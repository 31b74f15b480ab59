"""Shared helpers of the figures: the scenario line, unit conversions, grouping by day/month.

Every quantity a figure draws is a column of the balance table or a sum/difference of columns
computed here, so each number on a figure traces to the table (see ``pvbess.VARIABLES``).
Only the drawing helpers load matplotlib, when called: the tables and the scenario line serve
notebooks that draw no matplotlib figure (the interactive views, the summary of a run).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..balance_specs import RunSpecs, run_specs
from ..timeseries import DataError, local_hours
from ..variables import label

if TYPE_CHECKING:
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure

#: Columns every figure may use (the balance contract of pvbess.simulate).
#: The balance columns the figures read: a subset of :data:`pvbess.balance.BALANCE_COLUMNS`
#: (a test holds it so), checked before a figure draws.
FIGURE_COLUMNS: tuple[str, ...] = (
    "pv_kwh", "ev_kwh", "mall_kwh",
    "pv_to_ev_kwh", "pv_to_bess_kwh", "pv_to_mall_kwh", "pv_export_kwh", "pv_curtailed_kwh",
    "bess_to_ev_kwh", "bess_to_mall_kwh",
    "grid_to_ev_kwh", "grid_to_mall_kwh", "grid_import_kwh",
    "bess_charge_kwh", "bess_discharge_kwh", "bess_loss_kwh", "soe_end_kwh", "soc_frac",
)

STRATEGY_LABELS: dict[str, str] = {
    "six_phase": "six-phase rules",
    "grid_only": "grid only (no PV, no battery)",
    "pv_only": "PV only (no battery)",
    "self_consumption": "self-consumption",
    "schedule": "optimal schedule",
}


def figure_specs(balance: pd.DataFrame,
                 columns: tuple[str, ...] = FIGURE_COLUMNS) -> RunSpecs:
    """The run's specs (:func:`pvbess.run_specs`) after checking the columns a figure draws.

    Raises
    ------
    DataError
        Names the first missing balance column, an empty table, or the run's missing specs (a
        figure never falls back to the Iquitos design).
    """
    if not isinstance(balance, pd.DataFrame):
        raise DataError(f"balance: expected a DataFrame, got {type(balance).__name__}")
    missing = [c for c in columns if c not in balance.columns]
    if missing:
        raise DataError(f"balance: missing column(s) {missing} [kWh]; is this a pvbess.simulate "
                        f"table? have {list(balance.columns)}")
    if len(balance) == 0:
        raise DataError("balance: the table has no rows")
    return run_specs(balance)


def col(balance: pd.DataFrame, name: str) -> pd.Series:
    """A column as float, or zeros when an optional column (e.g. grid_to_bess_kwh) is absent."""
    if name in balance.columns:
        return balance[name].astype(float)
    return pd.Series(0.0, index=balance.index, name=name)


def scenario_label(balance: pd.DataFrame, pv_kwp: float | None = None) -> str:
    """One line describing the scenario: strategy, PV size, battery size, rules.

    The PV size comes from ``pv_kwp`` or ``balance.attrs['pv_kwp']``; without either the annual
    PV energy of the table is shown instead. ``attrs['run_id']`` prefixes the line when set.
    """
    specs = run_specs(balance)
    strategy, bat = specs.strategy, specs.battery
    pv_kwp = pv_kwp if pv_kwp is not None else specs.pv_kwp
    if pv_kwp is not None:
        pv = f"PV {float(pv_kwp):,.0f} kWp"
    else:
        pv = f"PV {balance['pv_kwh'].sum() / 1000:,.0f} MWh"
    if bat.capacity_kwh > 0 and strategy not in ("pv_only", "grid_only"):
        bess = (f"BESS {bat.capacity_kwh:,.0f} kWh / {bat.power_discharge_kw:,.0f} kW")
    else:
        bess = "no BESS"
    parts = [pv, bess, STRATEGY_LABELS.get(strategy, strategy)]
    if strategy == "six_phase":
        r = specs.rules
        parts.append(f"peak threshold {r.peak_threshold_kw:,.0f} kW, "
                     f"hours {_h(r.charge_start_h)}/{_h(r.ev_start_h)}/{_h(r.peak_start_h)}/"
                     f"{_h(r.closure_start_h)}/{_h(r.close_h)} h")
    label = " · ".join(parts)
    return f"[{specs.run_id}] {label}" if specs.run_id else label


def _h(hour: float) -> str:
    return f"{hour:g}"


def title(fig: Figure, what: str, balance: pd.DataFrame, scenario: str | None) -> None:
    """Set the figure title: what it shows, then the scenario line."""
    fig.suptitle(f"{what}\n{scenario if scenario is not None else scenario_label(balance)}",
                 fontsize=11)


def axis_label(name: str, unit: str, prefix: str = "") -> str:
    """An axis label: the words of a variable (:func:`pvbess.variables.label`) and the unit the
    figure draws it in (e.g. a kWh-per-step column drawn as mean power: ``"kW"``)."""
    return f"{prefix}{label(name, unit=False)} [{unit}]"


def naive_local(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The index on its local wall clock without tz (so matplotlib shows local hours)."""
    return index.tz_localize(None) if index.tz is not None else index


def kw(series: pd.Series, dt_h: float) -> pd.Series:
    """Energy per step [kWh] -> mean power over the step [kW]."""
    return series / dt_h


def daily(balance: pd.DataFrame, columns: dict[str, pd.Series] | None = None) -> pd.DataFrame:
    """Daily (local calendar day) sums of the given series. [kWh/day]"""
    frame = pd.DataFrame(columns) if columns is not None else balance
    return frame.groupby(naive_local(frame.index).normalize()).sum()


def day_hour_table(series: pd.Series) -> pd.DataFrame:
    """A per-step series as a table: local calendar days (rows) x local clock time of the step
    start [h] (columns); the first value where a clock time repeats (daylight saving)."""
    frame = pd.DataFrame({"day": naive_local(series.index).normalize(),
                          "hour": local_hours(series.index), "value": series.to_numpy()})
    return frame.pivot_table(index="day", columns="hour", values="value", aggfunc="first")


def white_to(colour: str, negative: str | None = None) -> LinearSegmentedColormap:
    """A colour scale from white (zero: nothing happens) to a palette colour; with
    ``negative``, a two-sided scale from that colour through white to ``colour``."""
    from matplotlib.colors import LinearSegmentedColormap

    colours = [negative, "#ffffff", colour] if negative else ["#ffffff", colour]
    return LinearSegmentedColormap.from_list(f"white_to_{colour}", colours)


def draw_day_hour(ax, table: pd.DataFrame, cmap, vmin: float, vmax: float, label: str):
    """Draw a :func:`day_hour_table` as an image on ``ax``: days along x (month ticks), the
    local time of the step along y [h], a colour bar with ``label``. Returns the colour bar."""
    import matplotlib.dates as mdates

    x0 = mdates.date2num(table.index[0])
    x1 = mdates.date2num(table.index[-1] + pd.Timedelta(days=1))
    im = ax.imshow(table.T.to_numpy(dtype=float), aspect="auto", origin="lower", cmap=cmap,
                   vmin=vmin, vmax=vmax, extent=(x0, x1, 0, 24), interpolation="nearest")
    ax.xaxis_date()
    ax.xaxis.set_major_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b"))
    ax.set_yticks(range(0, 25, 3))
    ax.set_ylabel("local time of the step [h]")
    return ax.figure.colorbar(im, ax=ax, label=label, pad=0.01)


def soc_matrix(balance: pd.DataFrame) -> pd.DataFrame:
    """SOC at the end of each step as a day x time-of-day table. [%]

    Rows are local calendar days, columns the local clock time of the step start [h].
    """
    figure_specs(balance)
    return day_hour_table(balance["soc_frac"] * 100)


def monthly(frame: pd.DataFrame) -> pd.DataFrame:
    """Monthly (local calendar month) sums; the index is the first day of each month. [kWh]"""
    local = naive_local(frame.index)
    return frame.groupby(local.to_period("M").to_timestamp()).sum()


def mall_draw_before_battery_kwh(balance: pd.DataFrame) -> pd.Series:
    """Mall grid draw had the battery not discharged to it: grid_to_mall + bess_to_mall. [kWh]"""
    return col(balance, "grid_to_mall_kwh") + col(balance, "bess_to_mall_kwh")


def peak_shaving_kwh(balance: pd.DataFrame, threshold_kw: float | None = None) -> pd.Series:
    """Battery energy to the mall that brought the mall's grid draw down toward the threshold.

    ``min(bess_to_mall, max(grid_to_mall + bess_to_mall - threshold*dt, 0))`` per step: the part of
    the battery's delivery to the mall above the peak threshold. [kWh]
    """
    specs = run_specs(balance)
    thr = specs.rules.peak_threshold_kw if threshold_kw is None else threshold_kw
    excess = (mall_draw_before_battery_kwh(balance) - thr * specs.dt_h).clip(lower=0.0)
    return np.minimum(col(balance, "bess_to_mall_kwh"), excess)


def representative_day(balance: pd.DataFrame) -> pd.Timestamp:
    """The day whose PV energy is the median of the daily PV totals (the first such day)."""
    pv_day = daily(balance, {"pv": balance["pv_kwh"]})["pv"]
    full = pv_day[pv_day.index.isin(_full_days(balance))]
    pv_day = full if len(full) else pv_day
    median = float(pv_day.median())
    return pd.Timestamp((pv_day - median).abs().idxmin())


def _full_days(balance: pd.DataFrame) -> pd.Index:
    local = naive_local(balance.index).normalize()
    counts = pd.Series(1, index=local).groupby(level=0).sum()
    steps = round(24 / run_specs(balance).dt_h)
    return counts.index[counts.to_numpy() == steps]


def day_slice(balance: pd.DataFrame, day: Any) -> pd.DataFrame:
    """The rows of one local calendar day (``day``: anything pd.Timestamp accepts)."""
    day = pd.Timestamp(day)
    day = day.tz_localize(None) if day.tz is not None else day
    local = naive_local(balance.index).normalize()
    rows = balance[local == day.normalize()]
    if rows.empty:
        raise DataError(f"day {day.date()}: not in the balance (it covers "
                        f"{balance.index[0]} .. {balance.index[-1]})")
    return rows


def mwh_fmt(value_kwh: float) -> str:
    """'1,234.5 MWh' from kWh."""
    return f"{value_kwh / 1000:,.1f} MWh"


#: What a battery panel says when the design has none (instead of drawing empty axes).
NO_BATTERY = "no battery in this design"


def has_battery(balance: pd.DataFrame) -> bool:
    """True when the run has a battery that its strategy may use."""
    specs = run_specs(balance)
    return specs.battery.capacity_kwh > 0 and specs.strategy not in ("pv_only", "grid_only")


def say_no_battery(ax, what: str = "") -> None:
    """Turn a battery panel into the sentence that there is no battery (no empty axes)."""
    ax.axis("off")
    ax.text(0.5, 0.5, f"{what}: {NO_BATTERY}" if what else NO_BATTERY, transform=ax.transAxes,
            ha="center", va="center", fontsize=12, color="#868e96")


def bars(ax, x, height, width: float = 0.8, *, bottom=None, align: str = "center",
         color: str, label: str | None = None):
    """Vertical bars as ``ax.bar`` draws them, as one collection of rectangles.

    The same pixels (no edges, the same data limits, the axis stuck at each bar's bottom) at a
    fraction of the cost for hundreds of bars, for which ``ax.bar`` builds, lays out and draws
    one artist each. ``x`` may be dates (``width`` in days then). A labelled collection is a
    legend entry in the order it was drawn among the axes' lines and patches (``ax.bar``'s come
    after them): use it where every legend entry of the axes is a bar.
    """
    from matplotlib.collections import PolyCollection

    if align not in ("center", "edge"):
        raise ValueError(f"align: 'center' or 'edge', not {align!r}")
    ax.xaxis.update_units(x)  # dates and categories as ax.bar converts them
    left = np.asarray(ax.convert_xunits(x), dtype=float)
    height = np.asarray(height, dtype=float)
    low = np.zeros_like(height) if bottom is None else np.broadcast_to(
        np.asarray(bottom, dtype=float), height.shape)
    width = np.broadcast_to(np.asarray(width, dtype=float), left.shape)
    if align == "center":
        left = left - width / 2
    right, top = left + width, low + height
    corners = [(left, low), (right, low), (right, top), (left, top)]
    verts = np.stack([np.column_stack(c) for c in corners], axis=1)
    boxes = PolyCollection(verts, facecolors=color, edgecolors="none", label=label)
    boxes.sticky_edges.y.extend(np.unique(low).tolist())
    ax.add_collection(boxes)  # its extent enters the data limits, as each bar's does
    return boxes


def legend_right(ax, handles=None, labels=None, **kwargs) -> None:
    """A legend beside the axes (right), where it covers no data."""
    args = () if handles is None else (handles, labels)
    ax.legend(*args, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, **kwargs)


def legend_below(ax, ncol: int) -> None:
    """A legend in one row under the axes' tick labels (where it covers no data), for a panel
    under one with a colour bar: a legend beside it would push the colour bar off its image."""
    from matplotlib.transforms import offset_copy

    below = offset_copy(ax.transAxes, fig=ax.figure, y=-20, units="points")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below, ncol=ncol,
              fontsize=8)


@contextlib.contextmanager
def laid_out(fig, dpi: float) -> Iterator[None]:
    """In this block ``fig`` is laid out by its constrained layout at ``dpi`` [dots per inch]
    and has no layout engine; the engine is back afterwards.

    ``savefig`` of a figure with a layout engine draws the whole figure once without rendering
    it (the layout runs at the start of a draw) and then draws it again to render it: laid out
    before, the figure needs only the second drawing, which gives the same pixels (a test
    compares figures of every kind the report draws) for a tenth less work. Any other figure,
    layout or tight bounding box is left to ``savefig`` as it is.

    Examples
    --------
    >>> import io
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(layout="constrained")
    >>> _ = fig.subplots().plot([0, 1])
    >>> with laid_out(fig, 80):
    ...     fig.savefig(io.BytesIO(), dpi=80, format="png")
    >>> type(fig.get_layout_engine()).__name__
    'ConstrainedLayoutEngine'
    """
    import matplotlib as mpl
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    engine = fig.get_layout_engine()
    rc = mpl.rcParams  # a default layout would take the engine's place; tight boxes redraw
    if not (isinstance(engine, ConstrainedLayoutEngine) and fig.axes
            and rc["savefig.bbox"] != "tight" and not rc["figure.autolayout"]
            and not rc["figure.constrained_layout.use"]):
        yield
        return
    shown_dpi = fig.dpi
    fig.dpi = dpi  # laid out at the PNG's resolution (text sizes in pixels)
    try:
        engine.execute(fig)
    finally:
        fig.dpi = shown_dpi
    fig.set_layout_engine(None)
    try:
        yield
    finally:
        fig.set_layout_engine(engine)
