"""Sizing sweeps: rows equal simulate + kpis, validation before any work, dask == local."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pvbess
from pvbess.balance import simulate
from pvbess.battery import Battery
from pvbess.studies.economics import Economics, appraise
from pvbess.indicators import KPI_NAMES, kpis
from pvbess.studies.pareto import pareto_front
from pvbess.rules import SixPhaseRules
from pvbess.studies.sizing import best_designs, expand_grid, sweep
from pvbess.tariff import Tariff

# the submodule itself (``pvbess.sweep`` is also the name of the function)
sizing = importlib.import_module("pvbess.studies.sizing")


def _site(days: int = 10, seed: int = 1) -> pd.DataFrame:
    """A small synthetic site: PV bell 06-18 h, mall 500-2600 kW, EV 09-21 h (hourly kWh)."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-03-01", periods=24 * days, freq="h", tz="America/Lima")
    h = idx.hour.to_numpy() + 0.5
    pv = np.clip(np.sin((h - 6) / 12 * np.pi), 0, None) * 3000 * rng.uniform(0.4, 1.0, len(h))
    mall = 500 + 1800 * ((h > 9) & (h < 22)) + rng.normal(0, 150, len(h)).clip(-300, 300)
    ev = np.where((h > 9) & (h < 21), rng.uniform(30, 140, len(h)), 0.0)
    return pd.DataFrame({"pv_kwh": pv, "ev_kwh": ev, "mall_kwh": mall.clip(0)}, index=idx)


SITE = _site()
GRID = {"capacity_kwh": [500.0, 2000.0], "power_kw": [200.0, 400.0], "pv_scale": [0.5, 1.0],
        "peak_threshold_kw": [1500.0, 1900.0]}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return sweep(SITE, GRID, chunk_size=3, progress=False)


def _specs(row) -> tuple[Battery, SixPhaseRules, pd.DataFrame]:
    b = Battery(capacity_kwh=row["capacity_kwh"], power_charge_kw=row["power_kw"],
                power_discharge_kw=row["power_kw"])
    r = SixPhaseRules(peak_threshold_kw=row["peak_threshold_kw"])
    site = SITE.assign(pv_kwh=SITE["pv_kwh"] * row["pv_scale"])
    return b, r, site


def test_every_row_equals_simulate_and_kpis(table):
    assert len(table) == 16
    assert list(table.index) == list(range(16))
    # full factorial in itertools.product order: the last key varies fastest
    assert table["peak_threshold_kw"].tolist()[:2] == [1500.0, 1900.0]
    assert table["capacity_kwh"].tolist()[:8] == [500.0] * 8
    for config, row in table.iterrows():
        b, r, site = _specs(row)
        single = kpis(simulate(site, b, r, tariff=Tariff(), co2_kg_per_kwh=0.4521))
        got = row[list(KPI_NAMES)].astype(float)
        # bit for bit: the batch kernel repeats simulate's steps and kpis' sums exactly
        np.testing.assert_array_equal(got.to_numpy(), single[list(KPI_NAMES)].to_numpy(),
                                      err_msg=f"config {config}")


_config = st.fixed_dictionaries({
    "capacity_kwh": st.floats(0.0, 5000.0), "power_kw": st.floats(0.0, 1500.0),
    "pv_scale": st.floats(0.0, 2.0), "peak_threshold_kw": st.floats(0.0, 3000.0),
    "round_trip_efficiency": st.floats(0.5, 1.0), "soc_min": st.floats(0.0, 0.2),
    "closure_start_h": st.sampled_from([12.0, 17.0, 20.0]),
})


@settings(max_examples=25, deadline=None)
@given(st.lists(_config, min_size=1, max_size=3))
def test_random_configurations_equal_simulate_and_kpis(rows):
    configs = pd.DataFrame(rows)
    out = sweep(SITE, configs, progress=False, chunk_size=2)
    for config, row in zip(out.index, rows):
        eta = row["round_trip_efficiency"] ** 0.5
        b = Battery(capacity_kwh=row["capacity_kwh"], power_charge_kw=row["power_kw"],
                    power_discharge_kw=row["power_kw"], eta_charge=eta, eta_discharge=eta,
                    soc_min=row["soc_min"])
        r = SixPhaseRules(peak_threshold_kw=row["peak_threshold_kw"],
                          closure_start_h=row["closure_start_h"])
        single = kpis(simulate(SITE.assign(pv_kwh=SITE["pv_kwh"] * row["pv_scale"]), b, r))
        np.testing.assert_allclose(out.loc[config, list(KPI_NAMES)].astype(float).to_numpy(),
                                   single[list(KPI_NAMES)].to_numpy(), rtol=1e-10, atol=1e-9)
        # capex follows the sizes (no converter is bought without a battery)
        assert out.loc[config, "capex_bess_pen"] == pytest.approx(
            (300 * row["capacity_kwh"] + (250 * row["power_kw"] if row["capacity_kwh"] > 0
                                          else 0.0)) * 3.75)


def test_progress_bar(capsys):
    sweep(SITE, {"capacity_kwh": [100.0, 200.0]}, progress=True)
    assert "sweep" in capsys.readouterr().err


def test_progress_moves_in_small_steps_with_the_compile_apart(table, monkeypatch, capsys):
    from pvbess.studies import sizing

    calls, run_chunk = [], sizing._run_chunk

    def counted(site, configs, *args):
        calls.append(len(configs))
        return run_chunk(site, configs, *args)

    monkeypatch.setattr(sizing, "_run_chunk", counted)
    again = sweep(SITE, GRID, chunk_size=500, progress=True)
    pd.testing.assert_frame_equal(again, table)  # the steps change nothing in the table
    assert calls[0] == 1 and sum(calls) == len(table)  # the first design alone: the compile
    assert len(calls) >= min(len(table), 10)  # then the bar moves in steps, not per chunk
    err = capsys.readouterr().err
    assert "first design (compiles once)" in err and f"{len(table)}/{len(table)}" in err


def test_economics_of_a_row(table):
    row = table.iloc[5]
    b, r, site = _specs(row)
    grid_only = kpis(simulate(site, b, r, "grid_only"))["total_cost_pen"]
    pv_only = kpis(simulate(site, b, r, "pv_only"))["total_cost_pen"]
    assert row["bill_grid_only_pen"] == pytest.approx(grid_only, rel=1e-12)
    assert row["bill_pv_only_pen"] == pytest.approx(pv_only, rel=1e-12)
    years = len(SITE) / 8760.0
    money = appraise(Economics(), pv_kwp=4050.0 * row["pv_scale"],
                     capacity_kwh=row["capacity_kwh"], power_kw=row["power_kw"],
                     cycles_per_year=row["equivalent_full_cycles"] / years,
                     discharge_kwh_per_year=row["bess_discharge_kwh"] / years,
                     bill_pen_per_year=row["total_cost_pen"] / years,
                     bill_grid_only_pen_per_year=grid_only / years,
                     bill_pv_only_pen_per_year=pv_only / years,
                     co2_t_per_year=row["co2_t"] / years,
                     co2_grid_only_t_per_year=row["co2_baseline_grid_only_t"] / years,
                     co2_pv_only_t_per_year=row["co2_baseline_pv_only_t"] / years,
                     pen_per_usd=3.75).iloc[0]
    for name, value in money.items():
        assert row[name] == pytest.approx(value, rel=1e-12, nan_ok=True), name
    # capex by hand: 4050 kWp * 800 USD * scale; battery 300 USD/kWh + 250 USD/kW; 3.75 PEN/USD
    assert row["capex_bess_pen"] == pytest.approx(
        (300 * row["capacity_kwh"] + 250 * row["power_kw"]) * 3.75)
    assert row["capex_pv_pen"] == pytest.approx(4050 * 800 * row["pv_scale"] * 3.75)


def test_pareto_column_has_no_dominated_design(table):
    x, y, on = table["eac_pen_per_year"].to_numpy(), table["co2_t"].to_numpy(), table["pareto"]
    assert on.any()
    for i in np.flatnonzero(on):
        dominated = (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))
        assert not dominated.any()
    for i in np.flatnonzero(~on):
        dominated = (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))
        assert dominated.any()
    np.testing.assert_array_equal(on, pareto_front(x, y))


def test_chunk_size_does_not_change_the_table(table):
    # chunks of 3 and one chunk of 16: different SIMD blocks (and padding), the same bits
    again = sweep(SITE, GRID, chunk_size=1000, progress=False)
    pd.testing.assert_frame_equal(again, table, check_exact=True)


def test_table_of_configurations_and_base_specs():
    configs = pd.DataFrame({"capacity_kwh": [1000.0, 0.0], "power_charge_kw": [100.0, 0.0],
                            "soc_min": [0.1, 0.2]})
    base = Battery(power_discharge_kw=250.0)
    out = sweep(SITE, configs, battery=base, progress=False)
    assert out["power_discharge_kw"].tolist() == [250.0, 250.0]
    assert out["power_kw"].tolist() == [250.0, 250.0]
    b = base.replace(capacity_kwh=1000.0, power_charge_kw=100.0, soc_min=0.1)
    single = kpis(simulate(SITE, b, SixPhaseRules()))
    assert out.loc[0, "co2_t"] == pytest.approx(single["co2_t"], rel=1e-12)
    assert out.loc[1, "bess_discharge_kwh"] == 0.0  # a zero battery does nothing
    assert out.attrs["parameters"] == ["capacity_kwh", "power_charge_kw", "soc_min"]


def test_best_designs(table):
    best = best_designs(table, by="npv_vs_pv_pen", n=3)
    assert len(best) == 3
    assert best["npv_vs_pv_pen"].tolist() == sorted(table["npv_vs_pv_pen"], reverse=True)[:3]


# -- validation: every problem listed, before any work -----------------------------------------
@pytest.fixture
def no_work(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("work started before validation finished")

    monkeypatch.setattr(sizing, "_run_chunk", fail)
    monkeypatch.setattr(sizing, "_baseline_bills", fail)


@pytest.mark.parametrize("grid, match", [
    ({"capacity_kwh": [100.0], "capcity_kwh": [1.0]}, r"unknown parameter\(s\) \['capcity_kwh'\]"),
    ({"capacity_kwh": [100.0, -5.0]}, r"capacity_kwh\[1\] = -5.0: a size must be >= 0"),
    ({"power_kw": [-1]}, r"power_kw\[0\] = -1: a size must be >= 0"),
    ({"pv_scale": [1.0, -0.5]}, r"pv_scale\[1\]"),
    ({"capacity_kwh": []}, r"capacity_kwh: empty list"),
    ({}, r"no parameters"),
    ({"capacity_kwh": ["big"]}, r"capacity_kwh\[0\] = 'big': must be a number, got str"),
    ({"capacity_kwh": [True]}, r"must be a number, got bool"),
    ({"capacity_kwh": 100.0}, r"expected a list of values"),
    ({"capacity_kwh": "100"}, r"expected a list of values"),
    ({"capacity_kwh": [float("nan")]}, r"must be finite"),
    ({"power_kw": [100.0], "power_charge_kw": [50.0]}, r"do not also give \['power_charge_kw'\]"),
    ({"soc_min": [0.2, 1.0]}, r"config 1 .*soc_min"),
    ({"ev_start_h": [9.0, 12.0]}, r"config 1 .*ev_start_h"),
    ({"hold_soc": [1.5]}, r"hold_soc"),
    (pd.DataFrame({"capacity_kwh": [1.0], "colour": [2.0]}), r"unknown parameter.*colour"),
    (pd.DataFrame({"capacity_kwh": []}), r"empty"),
    ([("capacity_kwh", 1.0)], r"expected a mapping"),
])
def test_invalid_grids_fail_before_any_work(no_work, grid, match):
    with pytest.raises(ValueError, match=match):
        sweep(SITE, grid, progress=False)


def test_all_problems_are_listed_together(no_work):
    with pytest.raises(ValueError) as err:
        sweep(SITE, {"capacity_kwh": [-1.0], "powr_kw": [1.0], "pv_scale": []}, progress=False)
    text = str(err.value)
    assert "powr_kw" in text and "capacity_kwh[0]" in text and "pv_scale: empty" in text


@pytest.mark.parametrize("kwargs, match", [
    ({"strategy": "greedy"}, "strategy"), ({"chunk_size": 0}, "chunk_size"),
    ({"chunk_size": 2.5}, "chunk_size"), ({"client": object()}, "client"),
    ({"battery": {"capacity_kwh": 1.0}}, "battery"),
    ({"optimal_options": {"speed": 1}}, "optimal_options"),
    ({"optimal_options": {"solver": "lp"}}, "solver = 'lp'"),
])
def test_invalid_arguments(no_work, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sweep(SITE, {"capacity_kwh": [100.0]}, progress=False, **kwargs)


def test_bad_site_table(no_work):
    bad = SITE.copy()
    bad.iloc[3, 1] = -1.0
    with pytest.raises(pvbess.DataError, match="ev_kwh"):
        sweep(bad, {"capacity_kwh": [100.0]}, progress=False)


def test_expand_grid_product_and_types():
    out = expand_grid({"capacity_kwh": [1, 2, 3], "power_kw": np.array([10.0, 20.0]),
                       "export_limit_kw": [float("inf")]})
    assert len(out) == 6 and out.index.name == "config"
    assert out.dtypes.eq(float).all()
    assert out.iloc[1].tolist() == [1.0, 20.0, float("inf")]


# -- dask and the optimal strategy -------------------------------------------------------------
def test_dask_backend_gives_the_local_table(table):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = sweep(SITE, GRID, chunk_size=3, progress=False, client=client)
    pd.testing.assert_frame_equal(remote, table)


@pytest.fixture(scope="module")
def optimal_rows() -> dict:
    """The optimal sweep of two designs over three days, per planner (None: the default)."""
    site = _site(days=3, seed=2)
    grid = {"capacity_kwh": [800.0], "power_kw": [200.0, 400.0]}
    return {solver: sweep(site, grid, strategy="optimal", progress=False,
                          optimal_options={"solver": solver}) for solver in (None, "dp")}


@pytest.mark.parametrize("solver", [None, "dp"])
def test_optimal_strategy_row_equals_plan_replay(optimal_rows, solver):
    from pvbess import SchedulingProblem, exact_schedule
    from pvbess.optimize.schedule import optimize_schedule

    site = _site(days=3, seed=2)
    out = optimal_rows[solver]
    tariff = Tariff()
    for _, row in out.iterrows():
        b = Battery(capacity_kwh=800.0, power_charge_kw=row["power_kw"],
                    power_discharge_kw=row["power_kw"])
        # the full bill (energy and demand charges), charging from PV as the rules; planned
        # exactly unless the DP is asked for
        problem = SchedulingProblem.from_site(site, b, tariff, demand_charges=True,
                                              charge_source="pv")
        plan = optimize_schedule(problem) if solver == "dp" else exact_schedule(problem)
        bal = simulate(site, b, SixPhaseRules(), "schedule", setpoint_kwh=plan.setpoint_kwh,
                       charge_source="pv")
        single = kpis(bal)
        np.testing.assert_allclose(row[list(KPI_NAMES)].astype(float).to_numpy(),
                                   single[list(KPI_NAMES)].to_numpy(), rtol=1e-10, atol=1e-9)
    # the plan never pays a larger bill than leaving the battery idle (PV only)
    idle = kpis(simulate(site, strategy="pv_only"))["total_cost_pen"]
    assert (out["total_cost_pen"] <= idle + 1e-6).all()


def test_optimal_default_planner_is_exact_on_the_full_bill(optimal_rows):
    """The exact plan is the optimum of the bill the DP approximates: never a larger bill."""
    exact = optimal_rows[None]["total_cost_pen"]
    dp = optimal_rows["dp"]["total_cost_pen"]
    assert (exact <= dp + 1e-6 * dp.abs()).all()


def test_optimal_in_worker_processes_equals_serial():
    """n_jobs shares the designs among local processes: the table is the serial one exactly."""
    site = _site(days=2, seed=3)
    grid = {"capacity_kwh": [0.0, 600.0, 1200.0], "power_kw": [200.0, 400.0]}
    serial = sweep(site, grid, strategy="optimal", progress=False)
    parallel = sweep(site, grid, strategy="optimal", progress=False, n_jobs=2)
    pd.testing.assert_frame_equal(parallel, serial, check_exact=True)


def test_optimal_on_dask_equals_local():
    """The dask backend plans each design as the local run does: the same table exactly."""
    distributed = pytest.importorskip("distributed")
    site = _site(days=2, seed=3)
    grid = {"capacity_kwh": [0.0, 600.0], "power_kw": [200.0, 400.0]}
    local = sweep(site, grid, strategy="optimal", progress=False)
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = sweep(site, grid, strategy="optimal", progress=False, client=client)
    pd.testing.assert_frame_equal(remote, local, check_exact=True)


def test_optimal_capacity_zero_is_the_no_battery_design():
    """An empty storage window has nothing to plan: it costs what the site costs without a
    battery (the PV-only baseline), and the battery never moves."""
    site = _site(days=2, seed=4)
    out = sweep(site, {"capacity_kwh": [0.0, 800.0]}, strategy="optimal", progress=False)
    none = out.loc[0]
    assert none["bess_charge_kwh"] == 0.0 and none["bess_discharge_kwh"] == 0.0
    assert none["total_cost_pen"] == pytest.approx(none["bill_pv_only_pen"], rel=1e-12)
    assert out.loc[1, "total_cost_pen"] <= none["total_cost_pen"] + 1e-6


@pytest.mark.parametrize("n_jobs", [0, -2, 1.5, True])
def test_bad_n_jobs(no_work, n_jobs):
    with pytest.raises(ValueError, match="n_jobs"):
        sweep(SITE, {"capacity_kwh": [100.0]}, progress=False, n_jobs=n_jobs)


def test_grid_errors_are_data_errors_naming_design_and_field(no_work):
    with pytest.raises(pvbess.DataError, match=r"config 1 \(.*\): Battery\.soc_min = 1\.0"):
        sweep(SITE, {"soc_min": [0.2, 1.0]}, progress=False)
    table = pd.DataFrame({"capacity_kwh": [100.0, -5.0, 200.0]})
    with pytest.raises(pvbess.DataError, match=r"capacity_kwh\[1\] = -5\.0: a size must be"):
        sweep(SITE, table, progress=False)


# -- files and figures -------------------------------------------------------------------------
def test_write_and_read_back(table, tmp_path):
    table_path, summary_path = sizing.write_sweep(table, tmp_path, run_id="t1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.csv.gz", "sweep_summary.json"]
    again, summary = sizing.read_sweep(tmp_path)
    np.testing.assert_allclose(again["npv_vs_pv_pen"], table["npv_vs_pv_pen"], rtol=1e-12)
    assert summary["n_designs"] == 16 and summary["run_id"] == "t1"
    assert summary["n_pareto"] == int(table["pareto"].sum())
    best = table["npv_vs_pv_pen"].idxmax()
    assert summary["best_config"] == best
    assert summary["best"]["capacity_kwh"] == table.loc[best, "capacity_kwh"]
    assert summary["parameters"]["power_kw"] == [200.0, 400.0]
    assert "{" in summary_path.read_text() and "NaN" not in summary_path.read_text()


def test_heatmap_slice_holds_the_table_values(table):
    from pvbess.plotting.sweep import sweep_slice

    where = {"pv_scale": 1.0, "peak_threshold_kw": 1900.0}
    grid = sweep_slice(table, "co2_t", where=where)
    assert grid.shape == (2, 2)
    for power in (200.0, 400.0):
        for cap in (500.0, 2000.0):
            row = table[(table["capacity_kwh"] == cap) & (table["power_kw"] == power)
                        & (table["pv_scale"] == 1.0) & (table["peak_threshold_kw"] == 1900.0)]
            assert grid.loc[power, cap] == row["co2_t"].item()
    # without fixing the others, the cell is the mean (or min/max) over them
    mean = sweep_slice(table, "co2_t")
    cell = table[(table["capacity_kwh"] == 500.0) & (table["power_kw"] == 200.0)]["co2_t"]
    assert mean.loc[200.0, 500.0] == pytest.approx(cell.mean())
    assert sweep_slice(table, "co2_t", agg="max").loc[200.0, 500.0] == cell.max()
    with pytest.raises(pvbess.DataError, match="no design"):
        sweep_slice(table, "co2_t", where={"pv_scale": 7.0})
    with pytest.raises(pvbess.DataError, match="missing"):
        sweep_slice(table, "not_a_column")


def test_figures(table):
    from matplotlib.figure import Figure

    from pvbess.plotting.sweep import plot_pareto, plot_sweep_heatmap, plot_sweep_heatmaps

    fig = plot_sweep_heatmaps(table, ["co2_t", "payback_vs_pv_years", "npv_vs_pv_pen"],
                              where={"pv_scale": 1.0, "peak_threshold_kw": 1900.0})
    assert isinstance(fig, Figure) and len([a for a in fig.axes if a.get_visible()]) == 6
    assert isinstance(plot_sweep_heatmap(table, "co2_t"), Figure)
    fig = plot_pareto(table)
    line = fig.axes[0].lines[0]  # the front, from cheapest to cleanest
    assert len(line.get_xdata()) == int(table["pareto"].sum())


def test_explorer_shows_and_redraws_an_image(table):
    from pvbess.plotting.interactive import sweep_explorer

    view = sweep_explorer(table, ["co2_t", "npv_vs_pv_pen"])
    menu, *sliders, image = view.widget.children
    # a slider for every swept parameter, axes included, labelled in words
    assert [s.description for s in sliders] == ["battery capacity", "battery power",
                                                "PV scale", "peak threshold"]
    assert menu.label == "CO2 of the grid imports [t]"
    assert sliders[0].label.endswith(" kWh")
    assert bytes(image.value).startswith(b"\x89PNG")  # an image, not the text of a Figure
    assert view._repr_mimebundle_()["image/png"]  # the first view for the HTML report
    seen = {bytes(image.value)}
    assert sliders[2].value != sliders[2].options[0][1]  # (a change below)
    for widget, value in [(menu, "npv_vs_pv_pen"), (sliders[0], sliders[0].options[0][1]),
                          (sliders[2], sliders[2].options[0][1])]:
        widget.value = value
        assert bytes(image.value) not in seen  # every change redraws
        seen.add(bytes(image.value))


def test_heatmap_labels_in_words_with_units_and_the_marked_design(table):
    from pvbess.plotting.sweep import plot_sweep_heatmap, quantity
    from pvbess.variables import VARIABLES

    units = VARIABLES.set_index("name")["unit"]
    assert quantity("co2_t")[1] == units["co2_t"]
    assert quantity("self_sufficiency_frac") == ("self-sufficiency", "%", 100.0)
    assert quantity("npv_vs_pv_pen")[:2] == ("NPV of the battery against PV only", "PEN")
    fig = plot_sweep_heatmap(table, "self_sufficiency_frac", where={"pv_scale": 1.0},
                             mark=(2000.0, 400.0))
    title = fig.get_suptitle()
    assert title.startswith("Self-sufficiency [%] by battery capacity and battery power")
    assert "PV scale 1" in title and "_" not in title  # no raw column names
    cell = table.loc[(table["capacity_kwh"] == 2000.0) & (table["power_kw"] == 400.0)
                     & (table["pv_scale"] == 1.0), "self_sufficiency_frac"].mean() * 100
    assert f"marked: battery capacity 2,000 kWh, battery power 400 kW: {cell:,.4g} %" in title
    fig = plot_sweep_heatmap(table, "npv_vs_pv_pen", where={"pv_scale": 1.0},
                             mark=(2000.0, 400.0))  # large numbers: no exponent, names kept
    title = fig.get_suptitle()
    assert title.startswith("NPV of the battery against PV only [PEN] by battery capacity")
    assert "e+" not in title and "e-" not in title.split("marked")[1]
