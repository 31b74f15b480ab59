"""The 16 report figures (pvbess.plotting), the palette and the interactive views.

Each figure is drawn from a short simulated balance; the tests check what a reader relies on:
a Figure comes back, the title states the scenario, axis labels carry units, and the numbers
printed on the Sankey and the waterfall add up. The energy accounts behind them are checked
exactly, on hand-made cases and (hypothesis) on random batteries and thresholds.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

import pvbess
from pvbess import plotting
from pvbess.plotting import FIGURES
from pvbess.plotting.common import peak_shaving_kwh, representative_day
from pvbess.plotting.palette import COLORS, PHASE_COLORS
from pvbess.timeseries import DataError

UNIT = re.compile(r"\[(kW|kWh|MWh|MWh/day|MWh/month|%|-|h|t|t/day|kWh/day)\]")


def synthetic_site(days: int = 10, freq: str = "1h", seed: int = 1, pv_peak_kw: float = 3000.0,
                   start: str = "2025-01-27") -> pd.DataFrame:
    """A small Iquitos-like site: PV bell, mall day profile, EV 9-21 h (energy per step, kWh)."""
    idx = pd.date_range(start, periods=int(days * 24 * pd.Timedelta("1h") / pd.Timedelta(freq)),
                        freq=freq, tz="America/Lima")
    dt = pd.Timedelta(freq).total_seconds() / 3600
    rng = np.random.default_rng(seed)
    h = idx.hour + idx.minute / 60
    sky = np.repeat(rng.uniform(0.2, 1.0, days), len(idx) // days)
    pv = np.clip(np.sin((h - 6) / 12 * np.pi), 0, None) * pv_peak_kw * sky * dt
    mall = (600 + 1700 * np.clip(np.sin((h - 7) / 16 * np.pi), 0, None)
            + rng.normal(0, 80, len(idx)).clip(-200, 200)) * dt
    ev = np.where((h >= 9) & (h < 21), 40 + 9 * (h - 9), 0.0) * dt
    return pd.DataFrame({"pv_kwh": pv, "ev_kwh": ev, "mall_kwh": mall}, index=idx)


@pytest.fixture(scope="module")
def balance() -> pd.DataFrame:
    b = pvbess.simulate(synthetic_site(), pvbess.Battery(), pvbess.SixPhaseRules())
    b.attrs.update(run_id="test-run", pv_kwp=4050.0)
    return b


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _mwh(text: str) -> float:
    return float(re.search(r"([-+]?[\d,]+\.\d)", text).group(1).replace(",", ""))


# -- every figure ---------------------------------------------------------------------------------
def test_registry_has_the_16_figures_of_the_spec():
    assert [s.number for s in FIGURES] == list(range(1, 17))
    names = [s.name for s in FIGURES]
    assert names == ["day_balance", "export_and_peak_shaving", "pv_local_vs_export",
                     "mall_peak_shaving", "first_week", "bess_windows", "energy_flows",
                     "pv_representative_days", "daily_balance", "supply_shares",
                     "energy_waterfall", "soc_heatmap", "bess_operation", "pv_destinations",
                     "co2", "pv_utilization"]
    for spec in FIGURES:
        assert getattr(pvbess, f"plot_{spec.name}") is spec.function
        assert spec.filename == f"{spec.number:02d}_{spec.name}.png"
    assert plotting.FIGURE_FILENAMES == tuple(s.filename for s in FIGURES)


def test_report_notebook_shows_each_figure_under_its_title_in_spec_order(balance):
    """Notebook 02: one "## Figure N: <title>" heading per figure, in the order of the spec's
    list, the heading the figure's own title (its date or day count aside), then the cell that
    draws that figure and saves its PNG."""
    import nbformat

    from pvbess.config import NOTEBOOKS_DIR

    nb = nbformat.read(str(NOTEBOOKS_DIR / "02_energy_balance_report.ipynb"), as_version=4)
    found = [(re.match(r"## Figure (\d+): (.*)", c.source), nb.cells[i + 1].source)
             for i, c in enumerate(nb.cells)
             if c.cell_type == "markdown" and c.source.startswith("## Figure")]
    assert [int(m.group(1)) for m, _ in found] == [spec.number for spec in FIGURES]
    for spec, (heading, code) in zip(FIGURES, found):
        drawn = spec.function(balance).get_suptitle().split("\n")[0]
        title = drawn.removeprefix(f"Fig. {spec.number}  ")
        fixed = re.split(r"\d{4}-\d\d-\d\d|\d+ days", title)[0]  # before a date or day count
        assert heading.group(2) == title if fixed == title else \
            heading.group(2).startswith(fixed), (spec.number, heading.group(2), title)
        assert f"pvbess.plot_{spec.name}(" in code and f'"{spec.filename}"' in code


@pytest.mark.parametrize("spec", FIGURES, ids=lambda s: s.name)
def test_figure_title_states_scenario_and_axes_carry_units(spec, balance):
    fig = spec.function(balance)
    assert isinstance(fig, Figure)
    title = fig.get_suptitle()
    assert f"Fig. {spec.number} " in title
    for part in ("[test-run]", "PV 4,050 kWp", "BESS 2,000 kWh / 400 kW", "six-phase rules",
                 "peak threshold 1,900 kW"):
        assert part in title, (part, title)
    labels = [lab for ax in fig.axes for lab in (ax.get_xlabel(), ax.get_ylabel()) if lab]
    labels = [lab for lab in labels if lab not in ("local time", "day")]  # time axes
    assert labels or UNIT.search(title), "no unit on the axes nor in the title (Sankey)"
    for lab in labels:
        assert UNIT.search(lab), f"{spec.name}: axis label without a unit: {lab!r}"


def test_scenario_override_and_other_strategies(balance):
    fig = pvbess.plot_daily_balance(balance, scenario="my scenario line")
    assert fig.get_suptitle().endswith("my scenario line")
    pv_only = pvbess.simulate(synthetic_site(), pvbess.Battery(), pvbess.SixPhaseRules(),
                              "pv_only")
    assert "no BESS" in pvbess.scenario_label(pv_only)
    assert "PV only" in pvbess.scenario_label(pv_only)
    # without pv_kwp the label gives the PV energy of the table instead
    assert f"PV {pv_only['pv_kwh'].sum() / 1000:,.0f} MWh" in pvbess.scenario_label(pv_only)


def test_units_are_consistent_kw_vs_mwh(balance):
    """Hourly views are in kW (= kWh per step / dt); totals in MWh."""
    fig = pvbess.plot_daily_balance(balance)
    line = fig.axes[0].get_lines()[1]  # PV generation, daily totals
    daily_pv = balance["pv_kwh"].groupby(balance.index.tz_localize(None).normalize()).sum() / 1000
    np.testing.assert_allclose(line.get_ydata(), daily_pv.to_numpy(), rtol=1e-12)
    quarter = pvbess.simulate(synthetic_site(days=3, freq="15min"))
    fig = pvbess.plot_first_week(quarter, days=3)
    pv_line = fig.axes[0].get_lines()[0]
    np.testing.assert_allclose(pv_line.get_ydata(), quarter["pv_kwh"].to_numpy() / 0.25)


def test_quarter_hour_balance_draws_every_figure():
    b = pvbess.simulate(synthetic_site(days=3, freq="15min"))
    for spec in FIGURES:
        assert isinstance(spec.function(b), Figure)


# -- Sankey and waterfall -------------------------------------------------------------------------
def test_sankey_numbers_add_up(balance):
    flows = plotting.energy_flows(balance)
    fig = pvbess.plot_energy_flows(balance)
    labels = {t.split("\n")[0]: _mwh(t) for t in _texts(fig) if "\n" in t and "MWh" in t}
    sources = [n for n in ("PV", "grid", "initial store") if n in labels]
    sinks = [n for n in ("EV", "mall", "export", "curtailed", "losses", "stored") if n in labels]
    assert {"PV", "grid", "battery", "EV", "mall", "losses"} <= set(labels)
    # each label is its node's total, rounded to 0.1 MWh
    for node, value in labels.items():
        total = max(flows.loc[flows.source == node, "kwh"].sum(),
                    flows.loc[flows.target == node, "kwh"].sum())
        assert abs(value - total / 1000) <= 0.05 + 1e-9, node
    tol = 0.05 * (len(sources) + len(sinks))
    assert abs(sum(labels[n] for n in sources) - sum(labels[n] for n in sinks)) <= tol
    # the accounts themselves close exactly
    src = flows[flows.source != "battery"]
    snk = flows[flows.target != "battery"]
    assert math.isclose(src.kwh.sum(), snk.kwh.sum(), rel_tol=1e-12)
    assert math.isclose(flows.loc[flows.source == "battery", "kwh"].sum(),
                        flows.loc[flows.target == "battery", "kwh"].sum(), rel_tol=1e-9)
    assert (flows.kwh > 0).all()


def test_waterfall_numbers_add_up(balance):
    main, battery = plotting.energy_waterfall_steps(balance)
    fig = pvbess.plot_energy_waterfall(balance)
    ax_main = fig.axes[0]
    printed = [_mwh(t.get_text()) for t in ax_main.texts]
    assert len(printed) == len(main)
    totals = [p for p, k in zip(printed, main.kind) if k == "total"]
    deltas = [p for p, k in zip(printed, main.kind) if k == "delta"]
    # PV generated + printed deltas = printed demand (each number rounded to 0.1 MWh)
    assert abs(totals[0] + sum(deltas) - totals[-1]) <= 0.05 * (len(deltas) + 2)
    for steps in (main, battery):
        first = steps.kwh.iloc[0]
        assert math.isclose(first + steps.loc[steps.kind == "delta", "kwh"].sum(),
                            steps.kwh.iloc[-1], rel_tol=1e-9, abs_tol=1e-6)
    demand = balance.ev_kwh.sum() + balance.mall_kwh.sum()
    assert math.isclose(main.kwh.iloc[-1], demand, rel_tol=1e-12)
    # the bar heights are the table's numbers
    heights = [p.get_height() for p in ax_main.patches]
    assert math.isclose(heights[0], main.kwh.iloc[0] / 1000, rel_tol=1e-12)
    assert math.isclose(heights[-1], demand / 1000, rel_tol=1e-12)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capacity=st.floats(0.0, 5000.0), power=st.floats(0.0, 1500.0),
       threshold=st.floats(500.0, 3000.0), soc_initial=st.floats(0.2, 1.0),
       pv_peak=st.floats(0.0, 6000.0), strategy=st.sampled_from(
           ["six_phase", "pv_only", "self_consumption", "grid_only"]))
def test_accounts_close_for_any_battery(capacity, power, threshold, soc_initial, pv_peak,
                                        strategy):
    site = synthetic_site(days=3, pv_peak_kw=pv_peak)
    b = pvbess.simulate(site, pvbess.Battery(capacity_kwh=capacity, power_charge_kw=power,
                                             power_discharge_kw=power, soc_initial=soc_initial),
                        pvbess.SixPhaseRules(peak_threshold_kw=threshold), strategy)
    flows = plotting.energy_flows(b)
    total = max(b.pv_kwh.sum() + b.grid_import_kwh.sum(), 1.0)
    src = flows.loc[flows.source != "battery", "kwh"].sum()
    snk = flows.loc[flows.target != "battery", "kwh"].sum()
    assert abs(src - snk) <= 1e-9 * total
    main, battery = plotting.energy_waterfall_steps(b)
    for steps in (main, battery):
        assert abs(steps.kwh.iloc[0] + steps.loc[steps.kind == "delta", "kwh"].sum()
                   - steps.kwh.iloc[-1]) <= 1e-9 * total
    shares = plotting.supply_shares(b).attrs["shares"]
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-12)
    w = plotting.window_shares(b)
    for c in ("charge_morning_frac", "discharge_evening_frac"):
        v = w[c].dropna()
        assert ((v >= -1e-12) & (v <= 1 + 1e-12)).all()
    shaving = peak_shaving_kwh(b)
    assert (shaving >= 0).all() and (shaving <= b.bess_to_mall_kwh + 1e-12).all()
    dest = plotting.pv_destinations(b)
    assert math.isclose(dest.sum(), b.pv_kwh.sum(), rel_tol=1e-12, abs_tol=1e-9)


# -- hand-computed cases ------------------------------------------------------------------------
def _tiny(**cols) -> pd.DataFrame:
    idx = pd.date_range("2025-01-01", periods=2, freq="h", tz="America/Lima")
    base = {c: 0.0 for c in ("pv_kwh", "ev_kwh", "mall_kwh", "pv_to_ev_kwh", "pv_to_bess_kwh",
                             "pv_to_mall_kwh", "pv_export_kwh", "pv_curtailed_kwh",
                             "bess_to_ev_kwh", "bess_to_mall_kwh", "grid_to_ev_kwh",
                             "grid_to_mall_kwh", "grid_import_kwh", "bess_charge_kwh",
                             "bess_discharge_kwh", "bess_loss_kwh", "soe_end_kwh", "soc_frac")}
    base.update(cols)
    b = pd.DataFrame(base, index=idx)
    b.attrs.update(strategy="six_phase", dt_h=1.0, rules={"peak_threshold_kw": 1900.0},
                   battery={}, tariff={}, co2_kg_per_kwh=0.5, e_initial_kwh=400.0)
    return b


def test_peak_shaving_by_hand():
    # step 0: mall draw before battery 1930 + 50 = 1980 > 1900: all 50 kWh shaved;
    # step 1: 1880 + 50 = 1930: only 30 kWh of the 50 were above the threshold.
    b = _tiny(grid_to_mall_kwh=[1930.0, 1880.0], bess_to_mall_kwh=[50.0, 50.0])
    np.testing.assert_allclose(peak_shaving_kwh(b), [50.0, 30.0])
    np.testing.assert_allclose(peak_shaving_kwh(b, threshold_kw=2000.0), [0.0, 0.0])


def test_co2_baselines_by_hand():
    b = _tiny(pv_kwh=[100.0, 0.0], ev_kwh=[10.0, 10.0], mall_kwh=[50.0, 200.0],
              grid_import_kwh=[0.0, 210.0], pv_export_kwh=[40.0, 0.0],
              co2_kg=[0.0, 105.0])
    c = plotting.co2_baselines(b)  # the run's factor: 0.5 kg/kWh
    np.testing.assert_allclose(c["site"], [0.0, 105.0])
    np.testing.assert_allclose(c["no PV, no battery"], [30.0, 105.0])
    np.testing.assert_allclose(c["PV only, no battery"], [0.0, 105.0])
    np.testing.assert_allclose(c["export displaced"], [20.0, 0.0])


def test_co2_baselines_equal_the_baseline_runs():
    site = synthetic_site(days=4)
    b = pvbess.simulate(site)
    runs = {"no PV, no battery": pvbess.simulate(site, strategy="grid_only"),
            "PV only, no battery": pvbess.simulate(site, strategy="pv_only")}
    from_columns = plotting.co2_baselines(b)
    given_runs = plotting.co2_baselines(b, runs)
    for name, run in runs.items():
        np.testing.assert_allclose(from_columns[name], run["co2_kg"], rtol=1e-12, atol=1e-9)
        np.testing.assert_array_equal(given_runs[name], run["co2_kg"])
    k = pvbess.kpis(b)
    assert math.isclose(from_columns["no PV, no battery"].sum() / 1000,
                        k["co2_baseline_grid_only_t"], rel_tol=1e-12)
    assert math.isclose(from_columns["PV only, no battery"].sum() / 1000,
                        k["co2_baseline_pv_only_t"], rel_tol=1e-12)
    assert isinstance(pvbess.plot_co2(b, runs), Figure)
    with pytest.raises(ValueError, match="unknown name"):
        plotting.co2_baselines(b, {"nonsense": b})


def test_mall_draw_hours_match_kpis(balance):
    draw = plotting.annual.mall_draw_kw(balance)
    k = pvbess.kpis(balance)
    thr = 1900.0
    for col, kpi in (("demand", "hours_above_peak_before_h"),
                     ("before battery", "hours_above_peak_pv_only_h"),
                     ("after battery", "hours_above_peak_after_h")):
        assert (draw[col] > thr + 1e-9).sum() == k[kpi]


def test_representative_days_and_day_choice(balance):
    days = plotting.representative_pv_days(balance)
    daily = balance.pv_kwh.groupby(balance.index.tz_localize(None).normalize()).sum()
    assert days["min"] == daily.idxmin() and days["max"] == daily.idxmax()
    assert math.isclose(days.attrs["pv_kwh"]["max"], daily.max())
    median_day = representative_day(balance)
    assert abs(daily[median_day] - daily.median()) == (daily - daily.median()).abs().min()
    fig = pvbess.plot_day_balance(balance, "2025-01-30")
    assert "2025-01-30" in fig.get_suptitle()


@pytest.mark.parametrize("freq", ["1h", "15min"])
def test_year_panels_show_every_step_as_a_day_by_hour_cell(freq):
    """Figures 2, 6 and 12 draw the whole run's steps as day x local-time images (a year of
    hourly steps as a line is a comb of hairlines): each cell is one step's mean power [kW]
    (or SOC [%]), days along x, and no line carries the steps one by one."""
    b = pvbess.simulate(synthetic_site(days=4, freq=freq), pvbess.Battery(),
                        pvbess.SixPhaseRules(export_limit_kw=150.0))
    b.attrs.update(run_id="test-run", pv_kwp=4050.0)
    dt = pvbess.step_hours(b.index)
    assert b["pv_curtailed_kwh"].sum() > 0 and b["pv_export_kwh"].sum() > 0
    expected = {2: [b["pv_export_kwh"] / dt, b["pv_curtailed_kwh"] / dt,
                    peak_shaving_kwh(b) / dt],
                6: [(b["bess_charge_kwh"] - b["bess_discharge_kwh"]) / dt],
                12: [b["soc_frac"] * 100]}
    for number, series in expected.items():
        fig = FIGURES[number - 1].function(b)
        images = [ax.images[0] for ax in fig.axes if ax.images]
        assert len(images) == len(series), f"figure {number}"
        for image, values in zip(images, series):
            cells = np.asarray(image.get_array())  # local time (rows) x days (columns)
            assert cells.shape == (round(24 / dt), 4)
            np.testing.assert_allclose(cells.T.ravel(), values.to_numpy(), rtol=1e-12,
                                       atol=1e-12)
        assert all(len(line.get_xdata()) <= 4 for ax in fig.axes for line in ax.get_lines()
                   if line.get_transform() == ax.transData), f"figure {number}: a comb"
    # figure 12's line panel: the hourly SOC per day, its maximum, mean and minimum
    day = (b["soc_frac"] * 100).groupby(b.index.tz_localize(None).normalize())
    lines = {ln.get_label(): ln.get_ydata() for ln in FIGURES[11].function(b).axes[1].get_lines()}
    for stat, words in (("max", "maximum"), ("mean", "mean"), ("min", "minimum")):
        np.testing.assert_allclose(lines[f"daily {words}"], day.agg(stat).to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("case", ["dates", "numbers, stacked, negative", "edge-aligned"])
def test_bars_draw_the_pixels_of_ax_bar(case):
    """plotting.common.bars: one collection, the picture of ax.bar to the pixel (legend, limits,
    the axis stuck at the bars' bottom), whatever the x units and alignment."""
    import io

    from PIL import Image

    from pvbess.plotting.common import bars

    rng = np.random.default_rng(7)
    x = (pd.date_range("2025-01-01", periods=60, freq="D") if case == "dates"
         else np.arange(24) + 0.5)
    first, second = rng.uniform(0, 5, len(x)), rng.uniform(0, 3, len(x))
    if case == "numbers, stacked, negative":
        second = -second
    width, align = (0.9, "edge") if case == "edge-aligned" else (0.8, "center")
    bottom = first if case == "numbers, stacked, negative" else None

    def draw(use_bars: bool) -> tuple[np.ndarray, tuple]:
        fig = Figure(figsize=(5, 3), layout="constrained")
        ax = fig.subplots()
        if use_bars:
            bars(ax, x, first, width, align=align, color="#1c7ed6", label="first")
            bars(ax, x, second, width, bottom=bottom, align=align, color="#f76707",
                 label="second")
        else:
            ax.bar(x, first, width, align=align, color="#1c7ed6", label="first")
            ax.bar(x, second, width, bottom=bottom, align=align, color="#f76707",
                   label="second")
        ax.legend(loc="upper right")
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=80)
        return np.asarray(Image.open(png)), (ax.get_xlim(), ax.get_ylim())

    (slow, slow_limits), (fast, fast_limits) = draw(False), draw(True)
    assert fast_limits == slow_limits
    assert fast.shape == slow.shape and (fast == slow).all()


def test_soc_matrix_is_the_soc_column(balance):
    mat = plotting.soc_matrix(balance)
    assert mat.shape == (10, 24)
    np.testing.assert_allclose(mat.to_numpy().ravel(), balance.soc_frac.to_numpy() * 100)


def test_bad_input_names_the_problem(balance):
    with pytest.raises(DataError, match="grid_import_kwh"):
        pvbess.plot_daily_balance(balance.drop(columns="grid_import_kwh"))
    with pytest.raises(DataError, match="2024-06-01"):
        pvbess.plot_day_balance(balance, "2024-06-01")


def test_palette_is_one_colour_per_source_and_sink():
    keys = ["pv", "pv_direct", "bess", "grid", "ev", "mall", "bess_charge", "export",
            "curtailed", "losses"]
    colours = [COLORS[k] for k in keys]
    assert len(set(colours)) == len(colours)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)
    assert sorted(PHASE_COLORS) == [1, 2, 3, 4, 5, 6]
    assert len(set(PHASE_COLORS.values())) == 6
    with pytest.raises(KeyError, match="known"):
        pvbess.plotting.palette.color("nope")


# -- interactive ----------------------------------------------------------------------------------
def test_interactive_views(balance):
    import plotly.graph_objects as go

    from pvbess.plotting import interactive

    fig = interactive.day_figure(balance)
    assert isinstance(fig, go.Figure)
    names = {t.name for t in fig.data}
    assert {"PV direct", "battery", "grid", "battery charge", "SOC (end of step)"} <= names
    heat = interactive.soc_heatmap_figure(balance)
    assert np.asarray(heat.data[0].z).shape == (24, 10)
    assert isinstance(interactive.monthly_kpi_figure(balance), go.Figure)
    bundle = interactive.figure_bundle(fig)
    assert "Plotly.newPlot" in bundle["text/html"]
    assert "https://" not in bundle["text/html"]  # no CDN (plotly.js, MathJax)
    assert bundle["application/vnd.plotly.v1+json"]["data"][0]["name"] == fig.data[0].name
    assert interactive.use_offline_plotly() is False  # outside IPython: nothing to set up
    import ipywidgets

    view = interactive.day_picker(balance)
    assert isinstance(view.widget, ipywidgets.VBox)
    (picker, slider), out = view.widget.children[0].children, view.widget.children[1]
    assert len(slider.options) == 10 and not slider.readout  # the date box says the day
    assert slider.value == representative_day(balance)
    assert picker.value == slider.value.date()
    assert len(out.outputs) == 1 and out.outputs[0]["output_type"] == "display_data"
    first = out.outputs[0]["data"]
    bundle = view._repr_mimebundle_()  # live widget and the first day, for the HTML report
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"] == first["text/html"]
    slider.value = slider.options[0][1]  # picking another day redraws the figure
    assert len(out.outputs) == 1 and out.outputs[0]["data"] != first
    assert picker.value == slider.options[0][1].date()
    typed = slider.options[3][1].date()
    picker.value = typed  # a typed date moves the slider and redraws
    assert slider.value.date() == typed and f"{typed:%Y-%m-%d}" in str(out.outputs[0]["data"])
    picker.value = typed + pd.Timedelta(days=400)  # outside the run: the nearest (last) day
    assert slider.value == slider.options[-1][1]
    assert picker.value == slider.options[-1][1].date()


def test_offline_plotly_in_ipython_embeds_plotly_js_once_and_loads_no_nbformat():
    """In an IPython shell: plotly.js is shown once, when asked for; every figure shown then
    (a cell's last value or display()) is the offline bundle. Plotly's renderer registry, which
    loads nbformat and jsonschema (seconds at each kernel's start), is not touched."""
    import json
    import subprocess
    import sys

    from pvbess.config import PROJECT_ROOT

    code = "\n".join([
        "import json, sys",
        "from IPython.core.interactiveshell import InteractiveShell",
        "shell = InteractiveShell.instance()",
        "shown = []",
        "shell.display_pub.publish = lambda data, metadata=None, **kw: shown.append(data)",
        "import plotly.graph_objects as go",
        "from pvbess.plotting import interactive",
        "assert interactive.use_offline_plotly()",
        "fig = go.Figure(go.Scatter(y=[1.0, 2.0], name='a line'))",
        "shell.user_ns['fig'] = fig",
        "shell.run_cell('fig')",  # the last value of a cell
        "from IPython.display import display",
        "display(fig)",
        "mime = 'application/vnd.plotly.v1+json'",
        "same = [d[mime] == interactive.figure_bundle(fig)[mime]",
        "        and 'Plotly.newPlot' in d['text/html'] for d in shown[1:]]",
        "loaded = [m for m in ('nbformat', 'jsonschema', 'plotly.io._renderers')",
        "          if m in sys.modules]",
        "print('result:', json.dumps({'shown': [sorted(d) for d in shown],",
        "                             'plotly_js': ['window.Plotly' in d.get('text/html', '')",
        "                                           for d in shown],",
        "                             'same': same, 'loaded': loaded}))",
    ])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PROJECT_ROOT, env={"PYTHONPATH": str(PROJECT_ROOT)})
    result = json.loads(out.stdout.rpartition("result:")[2])  # after the shell's Out[] prompt
    assert result["shown"] == [["text/html"], ["application/vnd.plotly.v1+json", "text/html"],
                               ["application/vnd.plotly.v1+json", "text/html"]]
    assert result["plotly_js"] == [True, False, False]
    assert result["same"] == [True, True] and result["loaded"] == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), discharge_kw=st.floats(50.0, 400.0),
       factor=st.floats(0.05, 1.0))
def test_co2_figure_counts_displaced_export_as_the_kpi(seed, discharge_kw, factor):
    """Figure 15's 'export displaced' is the KPI co2_export_displaced_t: PV and battery export
    (pvbess.indicators.exported_kwh), also when the battery exports (before: PV export only)."""
    site = synthetic_site(days=4, seed=seed, pv_peak_kw=6000.0)
    site["mall_kwh"] *= 0.2  # midday PV above the load: the battery's discharge is exported
    h = site.index.hour
    setpoint = np.where(h < 6, 400.0, np.where((h >= 11) & (h < 15), -discharge_kw, 0.0))
    b = pvbess.simulate(site, strategy="schedule", setpoint_kwh=setpoint, charge_source="any",
                        allow_battery_export=True, co2_kg_per_kwh=factor)
    assert b["bess_export_kwh"].sum() > 1.0  # the case that tells the two counts apart
    kpi = pvbess.kpis(b)["co2_export_displaced_t"]
    assert math.isclose(plotting.co2_baselines(b)["export displaced"].sum() / 1000, kpi,
                        rel_tol=1e-12)
    line = [t for t in _texts(pvbess.plot_co2(b)) if "displaces" in t][0]
    printed = re.search(r"displaces ([\d,]+\.\d) t", line).group(1)
    assert printed == f"{kpi:,.1f}"


def test_compact_numbers_never_print_an_exponent():
    from pvbess.plotting.sweep import _compact

    assert _compact(-999_500.0) == "-1M" and _compact(9_995.0) == "10k"
    assert _compact(999_999.0) == "1M" and _compact(12_345.0) == "12.3k"
    assert _compact(0.0) == "0" and _compact(0.5123) == "0.512"
    for v in np.linspace(-2e6, 2e6, 4001):
        assert "e" not in _compact(float(v)), v


def test_heatmap_colours_say_which_way_is_better_and_blank_cells_are_explained():
    from pvbess.plotting.sweep import plot_sweep_heatmap

    table = pd.DataFrame({"capacity_kwh": [0.0, 0.0, 500.0, 500.0],
                          "power_kw": [100.0, 200.0, 100.0, 200.0],
                          "co2_t": [3700.0, 3700.0, 3650.0, 3600.0],
                          "self_sufficiency_frac": [0.35, 0.35, 0.36, 0.37],
                          "payback_vs_pv_years": [np.inf, np.nan, 12.0, 9.0]})
    for value, cmap, note in (("co2_t", "viridis_r", "brighter: better (lower)"),
                              ("self_sufficiency_frac", "viridis", "brighter: better")):
        fig = plot_sweep_heatmap(table, value)
        image = fig.axes[0].images[0]
        assert image.get_cmap().name == cmap
        assert note in fig.axes[1].get_ylabel()
        brightest = image.cmap(image.norm(np.nanmax(image.get_array()) if cmap == "viridis"
                                          else np.nanmin(image.get_array())))
        assert sum(brightest[:3]) > 1.5  # the better end is the bright one
    texts = _texts(plot_sweep_heatmap(table, "payback_vs_pv_years"))
    assert any(t.startswith("blank: no value") for t in texts)
    assert not any(t.startswith("blank") for t in _texts(plot_sweep_heatmap(table, "co2_t")))


def test_waterfall_leaves_out_zero_flows_the_strategy_cannot_have(balance):
    """Six-phase rules never export from the battery; a PV-only run has no battery steps."""
    main, battery = plotting.energy_waterfall_steps(balance)
    assert "battery export" not in set(battery.step)
    assert {"charged", "losses", "net stored", "battery out"} <= set(battery.step)
    pv_only = pvbess.simulate(synthetic_site(), pvbess.Battery(capacity_kwh=0.0, power_charge_kw=0.0,
                                                               power_discharge_kw=0.0),
                              strategy="pv_only")
    main, battery = plotting.energy_waterfall_steps(pv_only)
    assert not {"stored in battery", "battery out"} & set(main.step)
    assert set(battery.step) <= {"charged", "battery out"}  # the totals, no impossible deltas
    assert math.isclose(main.kwh.iloc[0] + main.loc[main.kind == "delta", "kwh"].sum(),
                        main.kwh.iloc[-1], rel_tol=1e-12)
    texts = [t.get_text() for ax in pvbess.plot_energy_waterfall(pv_only).axes for t in ax.texts]
    assert plotting.common.NO_BATTERY in " ".join(texts)


def test_the_figures_read_balance_columns_only():
    from pvbess.balance import BALANCE_COLUMNS
    from pvbess.plotting.common import FIGURE_COLUMNS

    assert set(FIGURE_COLUMNS) <= set(BALANCE_COLUMNS)
