"""Interactive exploration in notebooks: plotly figures and ipywidgets controls.

The static report uses :mod:`pvbess.plotting` (matplotlib); these are the interactive twins for
exploring a run: a day view with a day picker, a SOC heatmap, and an explorer of a sizing
sweep. Colours come from :mod:`pvbess.plotting.palette`.

Offline HTML: call :func:`use_offline_plotly` once near the top of a notebook. It embeds plotly.js
once in the notebook (no CDN, no MathJax from the network) and shows every later figure with it,
so the executed notebook's HTML export shows the figures without network access.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .common import (
    col,
    figure_specs,
    kw,
    laid_out,
    naive_local,
    representative_day,
    scenario_label,
    soc_matrix,
)
from .palette import COLORS

#: Height of a figure's HTML view when its layout sets none. [px]
DEFAULT_HEIGHT_PX = 525


def use_offline_plotly() -> bool:
    """Show plotly figures offline in this IPython session: plotly.js embedded once, no CDN.

    Displays the plotly.js library in the current cell (about 4.8 MB), which every later figure
    of the notebook uses, in Jupyter and in the nbconvert HTML alike, and shows each figure
    displayed from then on as :func:`figure_bundle`. Returns False (and does nothing) outside
    IPython.

    Notes
    -----
    The figures bypass plotly's renderer registry (``plotly.io.renderers``): importing it loads
    nbformat and with it jsonschema, whose IRI checker compiles its grammar at import (about
    2 s of every kernel that shows a figure; jsonschema issue 1428). ``fig.show()`` still goes
    through that registry, with plotly's default renderer.
    """
    from IPython import get_ipython
    from plotly.basedatatypes import BaseFigure
    from plotly.io._base_renderers import HtmlRenderer

    shell = get_ipython()
    if shell is None:
        return False
    # now, in this cell, not with the first figure shown: a widget's static view
    # (InteractiveView) may come earlier and needs Plotly defined
    HtmlRenderer(connected=False, full_html=False, global_init=True,
                 include_plotlyjs=False).activate()
    shell.display_formatter.ipython_display_formatter.for_type(BaseFigure, _display_figure)
    return True


def figure_bundle(fig) -> dict:
    """A plotly figure's display data, using the plotly.js of :func:`use_offline_plotly`.

    The figure as plotly JSON (JupyterLab's plotly renderer draws it, also inside widgets, where a
    script may run before plotly.js has loaded) and as ``text/html`` without CDN scripts
    (nbconvert's HTML, other frontends).
    """
    from plotly.io._base_renderers import PlotlyRenderer
    from plotly.io._html import to_html

    fig_dict = fig.to_dict()
    html = to_html(fig_dict, include_plotlyjs=False, include_mathjax=False, full_html=False,
                   default_width="100%", default_height=DEFAULT_HEIGHT_PX, validate=False)
    return {**PlotlyRenderer().to_mimebundle(dict(fig_dict)), "text/html": html}


def _display_figure(fig) -> None:
    from IPython.display import display

    display(figure_bundle(fig), raw=True)


def day_figure(balance: pd.DataFrame, day: Any = None, *, scenario: str | None = None):
    """An interactive (plotly) version of figure 1 for one local day.

    Supply stacked by source (PV direct, battery, grid) against the demand, battery charge and
    PV export as negative bars, the peak threshold, and the SOC in a lower panel; mean power over
    each step [kW], SOC [%].

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from .common import day_slice

    specs = figure_specs(balance)
    day = representative_day(balance) if day is None else pd.Timestamp(day)
    d = day_slice(balance, day)
    dt = specs.dt_h
    t = naive_local(d.index)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3],
                        vertical_spacing=0.06)
    bars = [("PV direct", col(d, "pv_to_ev_kwh") + col(d, "pv_to_mall_kwh"), "pv_direct"),
            ("battery", col(d, "bess_to_ev_kwh") + col(d, "bess_to_mall_kwh"), "bess"),
            ("grid", col(d, "grid_to_ev_kwh") + col(d, "grid_to_mall_kwh"), "grid"),
            ("battery charge", -col(d, "bess_charge_kwh"), "bess_charge"),
            ("PV export", -col(d, "pv_export_kwh"), "export"),
            ("PV curtailed", -col(d, "pv_curtailed_kwh"), "curtailed")]
    for name, energy, key in bars:
        fig.add_trace(go.Bar(x=t, y=kw(energy, dt), name=name, marker_color=COLORS[key],
                             offset=0, width=dt * 3.6e6 * 0.9,
                             hovertemplate="%{y:,.0f} kW"), row=1, col=1)
    for name, energy, key, dash in [("demand EV + mall", col(d, "ev_kwh") + col(d, "mall_kwh"),
                                     "demand", "solid"),
                                    ("PV generation", col(d, "pv_kwh"), "pv", "solid"),
                                    ("mall grid draw", col(d, "grid_to_mall_kwh"), "grid", "dot")]:
        fig.add_trace(go.Scatter(x=t, y=kw(energy, dt), name=name, line_shape="hv",
                                 line={"color": COLORS[key], "dash": dash}), row=1, col=1)
    thr = specs.rules.peak_threshold_kw
    if np.isfinite(thr):
        fig.add_hline(y=thr, line_dash="dash", line_color=COLORS["threshold"], row=1, col=1,
                      annotation_text=f"peak threshold {thr:,.0f} kW")
    fig.add_trace(go.Scatter(x=t + pd.Timedelta(hours=dt), y=d["soc_frac"] * 100,
                             name="SOC (end of step)", line={"color": COLORS["soc"]}),
                  row=2, col=1)
    bat = specs.battery
    fig.update_yaxes(title_text="power [kW]", row=1, col=1)
    fig.update_yaxes(title_text="SOC [%]", range=[0, 105], row=2, col=1)
    for y in (bat.soc_min * 100, bat.soc_max * 100):
        fig.add_hline(y=y, line_dash="dot", line_color="#868e96", row=2, col=1)
    fig.update_layout(barmode="relative", height=600, hovermode="x unified",
                      title=f"Energy balance of {pd.Timestamp(day):%Y-%m-%d}<br><sup>"
                            f"{scenario if scenario is not None else scenario_label(balance)}"
                            f"</sup>")
    return fig


def soc_heatmap_figure(balance: pd.DataFrame, *, scenario: str | None = None):
    """Interactive SOC heatmap: day (x) by local time of the step (y), SOC at step end [%]."""
    import plotly.graph_objects as go

    mat = soc_matrix(balance)
    fig = go.Figure(go.Heatmap(z=mat.T.to_numpy(), x=mat.index, y=mat.columns,
                               zmin=0, zmax=100, colorscale="Viridis",
                               colorbar={"title": "SOC [%]"},
                               hovertemplate="%{x|%Y-%m-%d} %{y:.2f} h: %{z:.1f} %<extra></extra>"))
    fig.update_layout(height=450, xaxis_title="day", yaxis_title="local time of the step [h]",
                      title=f"State of charge at the end of each step<br><sup>"
                            f"{scenario if scenario is not None else scenario_label(balance)}"
                            f"</sup>")
    return fig


def monthly_kpi_figure(balance: pd.DataFrame):
    """Monthly energy by source serving the load and PV export (plotly, stacked). [MWh]"""
    import plotly.graph_objects as go

    from .common import monthly

    m = monthly(pd.DataFrame({
        "PV direct": col(balance, "pv_to_ev_kwh") + col(balance, "pv_to_mall_kwh"),
        "battery": col(balance, "bess_to_ev_kwh") + col(balance, "bess_to_mall_kwh"),
        "grid": col(balance, "grid_to_ev_kwh") + col(balance, "grid_to_mall_kwh"),
        "PV export": col(balance, "pv_export_kwh"),
    })) / 1000
    keys = {"PV direct": "pv_direct", "battery": "bess", "grid": "grid", "PV export": "export"}
    fig = go.Figure([go.Bar(x=[f"{t:%b}" for t in m.index], y=m[c], name=c,
                            marker_color=COLORS[keys[c]], hovertemplate="%{y:,.1f} MWh")
                     for c in m.columns])
    fig.update_layout(barmode="stack", yaxis_title="energy [MWh/month]", height=420,
                      title="Monthly supply of the load by source, and PV export")
    return fig


@dataclass(frozen=True)
class InteractiveView:
    """A live ipywidgets view and a static copy of its first state, displayed together.

    Jupyter (Lab, Notebook) shows the live ``widget``; where no widget manager runs (the HTML
    report, a notebook reopened without its kernel) the ``static`` display data stands in.
    """

    widget: Any
    static: dict

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {**self.widget._repr_mimebundle_(), **self.static}


def day_picker(balance: pd.DataFrame, day: Any = None) -> InteractiveView:
    """A day picker (ipywidgets) that redraws :func:`day_figure` for the chosen day.

    A date box (type a date or pick it from the calendar) and a slider over the run's days, kept
    in step; the figure below redraws on either. A date outside the run, or on a missing day,
    moves to the nearest day of the run.

    Returns
    -------
    InteractiveView
        ``widget`` is an ``ipywidgets.VBox`` of (the date box and the slider, the figure's
        ``Output``); ``static`` the first day's figure.
    """
    import ipywidgets as widgets

    figure_specs(balance)
    days = pd.DatetimeIndex(naive_local(balance.index).normalize().unique())
    start = representative_day(balance) if day is None else pd.Timestamp(day)
    first = days[days.get_indexer([start], method="nearest")[0]]
    slider = widgets.SelectionSlider(options=[(f"{d:%d %b}", d) for d in days], value=first,
                                     readout=False, continuous_update=False,
                                     layout=widgets.Layout(width="60%"))
    picker = widgets.DatePicker(value=first.date(), min=days[0].date(), max=days[-1].date(),
                                description="day", layout=widgets.Layout(width="auto"))
    out = widgets.Output()

    def _draw(change: dict | None = None) -> None:
        # set the Output's content directly (no capture context, no clear_output): nothing
        # here waits on a frontend, so a headless run (papermill, nbval) cannot stall on it
        bundle = figure_bundle(day_figure(balance, slider.value))
        out.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)
        picker.value = slider.value.date()

    def _typed(change: dict) -> None:
        if change["new"] is None:  # an incomplete date while typing
            return
        nearest = days[days.get_indexer([pd.Timestamp(change["new"])], method="nearest")[0]]
        if nearest != slider.value:
            slider.value = nearest  # redraws through _draw
        elif nearest.date() != change["new"]:
            picker.value = nearest.date()  # not a day of the run: show the day drawn

    slider.observe(_draw, names="value")
    picker.observe(_typed, names="value")
    _draw()
    box = widgets.VBox([widgets.HBox([picker, slider]), out])
    return InteractiveView(box, dict(out.outputs[0]["data"]))


def sweep_explorer(table: pd.DataFrame, values: Sequence[str], *, x: str = "capacity_kwh",
                   y: str = "power_kw") -> InteractiveView:
    """Explore a sweep: pick a column and a design; the heatmap redraws as a PNG image.

    A menu of ``values`` (in words, with units) and a slider for every swept parameter: those on
    the axes (``x``, ``y``) mark a design on the heatmap and name its value, the others fix the
    slice shown. The figure is a PNG in an ``ipywidgets.Image``, so it shows without any
    matplotlib backend (JupyterLab, Notebook, VS Code alike).

    Returns
    -------
    InteractiveView
        ``widget`` is an ``ipywidgets.VBox`` (menu, sliders, image); ``static`` the first view.
    """
    import ipywidgets as widgets

    from .sweep import _need, plot_sweep_heatmap, quantity

    values = list(values)
    _need(table, x, y, *values)
    swept = [x, y] + [c for c in table.attrs.get("parameters", ()) if c in table.columns
                      and c not in (x, y) and table[c].nunique() > 1]
    style = {"description_width": "10em"}
    wide = widgets.Layout(width="36em")
    menu = widgets.Dropdown(options=[(_words_unit(quantity(v)), v) for v in values],
                            value=values[0], description="show", style=style, layout=wide)
    sliders = {}
    for p in swept:
        words, unit, factor = quantity(p)
        options = sorted(table[p].unique().tolist())
        sliders[p] = widgets.SelectionSlider(
            options=[(f"{v * factor:,.4g}" + ("" if unit == "-" else f" {unit}"), v)
                     for v in options],
            value=options[len(options) // 2], description=words, continuous_update=False,
            style=style, layout=wide)
    image = widgets.Image(format="png", layout=widgets.Layout(max_width="700px"))

    def _png() -> bytes:
        where = {p: s.value for p, s in sliders.items() if p not in (x, y)}
        fig = plot_sweep_heatmap(table, menu.value, x=x, y=y, where=where,
                                 mark=(sliders[x].value, sliders[y].value))
        buffer = io.BytesIO()
        with laid_out(fig, 100):
            fig.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()

    def _draw(*_: Any) -> None:
        image.value = _png()

    for w in (menu, *sliders.values()):
        w.observe(_draw, names="value")
    _draw()
    box = widgets.VBox([menu, *sliders.values(), image])
    static = {"image/png": base64.b64encode(bytes(image.value)).decode("ascii"),
              "text/plain": f"<sweep explorer: {menu.label}>"}
    return InteractiveView(box, static)


def _words_unit(quantity: tuple[str, str, float]) -> str:
    words, unit, _ = quantity
    return f"{words} [{unit}]"
