"""pvbess.report: the balance on disk, the summary JSON, and rendering reports end to end."""

from __future__ import annotations

import json
import math
import os
import shutil

import nbformat
import numpy as np
import pandas as pd
import pytest

import pvbess
from pvbess import report
from pvbess.config import NOTEBOOKS_DIR

DAYS = 14


@pytest.fixture(scope="module")
def site() -> pd.DataFrame:
    return pvbess.load_iquitos().iloc[:DAYS * 24][["pv_kwh", "ev_kwh", "mall_kwh"]]


@pytest.fixture(scope="module")
def balance(site) -> pd.DataFrame:
    b = pvbess.simulate(site, pvbess.Battery(), pvbess.SixPhaseRules())
    b.attrs.update(run_id="unit", pv_kwp=4050.0)
    return b


# -- balance on disk ------------------------------------------------------------------------------
def test_balance_round_trip_is_exact(balance, tmp_path):
    path = report.write_balance(balance, tmp_path)
    assert path.name == report.BALANCE_NAME
    back = report.read_balance(tmp_path)
    pd.testing.assert_frame_equal(back, balance, check_exact=True)
    assert back.index.tz is not None and str(back.index.tz) == "America/Lima"
    assert back.attrs == balance.attrs  # nested dicts, inf export limit included
    assert math.isinf(back.attrs["rules"]["export_limit_kw"])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_residuals_are_zero_for_simulate_and_catch_errors(balance):
    res = report.balance_residuals(balance)
    assert (res <= report.TOL_KWH).all(), res
    pvbess.check_balance(balance)
    broken = balance.copy()
    broken.attrs = dict(balance.attrs)
    broken.iloc[12, broken.columns.get_loc("pv_to_mall_kwh")] += 1e-6
    assert report.balance_residuals(broken)["pv_split"] == pytest.approx(1e-6, rel=1e-3)
    broken = balance.copy()
    broken.attrs = dict(balance.attrs)
    broken.iloc[30, broken.columns.get_loc("soc_kwh")] += 0.5  # energy appears from nowhere
    res = report.balance_residuals(broken)
    assert res["storage"] == pytest.approx(0.5, abs=1e-9)
    assert res["pv_split"] <= report.TOL_KWH


# -- summary JSON ---------------------------------------------------------------------------------
def test_summary_round_trip_and_validation(balance, tmp_path):
    kpi = pvbess.kpis(balance)
    summary = report.make_summary(balance, run_id="unit", kpis=kpi, params={"a": 1.5},
                                  baselines={"pv_only": pvbess.kpis(pvbess.simulate(
                                      pd.DataFrame(balance[["pv_kwh", "ev_kwh", "mall_kwh"]]),
                                      strategy="pv_only"))})
    path = report.write_summary(summary, tmp_path / "summary.json")
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON
    back = report.read_summary(path)
    assert report.summary_matches(back, kpi) == []
    assert back["scenario"] == pvbess.scenario_label(balance)
    assert back["kpis"]["pv_kwh"] == balance["pv_kwh"].sum()
    assert math.isnan(back["baselines"]["pv_only"]["ev_bess_share_frac"]) or \
        back["baselines"]["pv_only"]["ev_bess_share_frac"] == 0.0
    assert all(v <= report.TOL_KWH for v in back["checks"]["max_residual_kwh"].values())
    # a different number is caught
    changed = dict(kpi)
    changed["co2_t"] *= 1 + 1e-6
    assert report.summary_matches(back, changed) == ["co2_t"]
    assert report.summary_matches(back, {**kpi, "new_kpi": 1.0}) == ["new_kpi"]


@pytest.mark.parametrize("change, message", [
    ({"schema": "other/1"}, "schema"),
    ({"run_id": "bad id!"}, "run_id"),
    ({"kpis": {}}, "non-empty"),
    ({"kpis": {"co2_t": "lots"}}, "co2_t"),
])
def test_invalid_summaries_are_rejected(balance, tmp_path, change, message):
    summary = report.make_summary(balance, run_id="unit", kpis=pvbess.kpis(balance))
    summary.update(change)
    with pytest.raises(ValueError, match=message):
        report.write_summary(summary, tmp_path / "summary.json")
    assert not (tmp_path / "summary.json").exists()
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ValueError, match=message):
        report.read_summary(tmp_path / "summary.json")


# -- parameters and notebooks ---------------------------------------------------------------------
def test_load_params(tmp_path):
    good = tmp_path / "my-design.yaml"
    good.write_text("capacity_kwh: 1000.0\n")
    assert report.load_params(good) == {"capacity_kwh": 1000.0, "run_id": "my-design"}
    good.write_text("day: 2025-03-13\n")  # YAML date -> the string the notebooks take
    assert report.load_params(good)["day"] == "2025-03-13"
    bad = tmp_path / "bad.yaml"
    bad.write_text("capacity_kwh: 1000.0\ncapacity_kWh: 5\n")
    with pytest.raises(report.ReportError, match=r"unknown parameter\(s\) \['capacity_kWh'\]"):
        report.load_params(bad)
    bad.write_text("run_id: ../escape\n")
    with pytest.raises(report.ReportError, match="run_id"):
        report.load_params(bad)
    with pytest.raises(report.ReportError, match="not found"):
        report.load_params(tmp_path / "missing.yaml")


def test_strip_notebook(tmp_path):
    path = tmp_path / "nb.ipynb"
    shutil.copy(NOTEBOOKS_DIR / report.NOTEBOOKS[1], path)
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[1].outputs = [nbformat.v4.new_output("stream", text="hello")]
    code[1].execution_count = 3
    code[1].metadata["papermill"] = {"duration": 1.0}
    nbformat.write(nb, str(path))
    assert report.strip_notebook(path) is True
    nb = nbformat.read(str(path), as_version=4)
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells
               if c.cell_type == "code")
    assert report.strip_notebook(path) is False


def test_cli_failure_exit_code(tmp_path, capsys):
    assert report.main([str(tmp_path / "missing.yaml"), "--reports-dir", str(tmp_path)]) == 1
    assert "not found" in capsys.readouterr().err


# -- end to end -----------------------------------------------------------------------------------
def _render(tmp_path_factory):
    """Render a 14-day run of a smaller battery into a fresh reports folder."""
    site = pvbess.load_iquitos().iloc[:DAYS * 24][["pv_kwh", "ev_kwh", "mall_kwh"]]
    root = tmp_path_factory.mktemp("render")
    csv = root / "site.csv"
    site.to_csv(csv, index_label="time")
    params = root / "tiny.yaml"
    params.write_text(f"data_path: {csv}\ncapacity_kwh: 1500.0\npower_kw: 300.0\n"
                      "pv_scale: 1.1\npeak_threshold_kw: 1800.0\nrun_baselines: true\n")
    reports = root / "reports"
    log: list[str] = []
    folders = report.render_report([params], reports, progress=False, log=log.append)
    return {"root": root, "params": params, "reports": reports, "folders": folders,
            "log": log, "site": site}


def _check_complete_report(rendered):
    reports = rendered["reports"]
    folder = reports / "tiny"
    assert rendered["folders"] == [folder]
    for name in report.expected_files():
        assert (folder / name).is_file(), name
    leftovers = [p.name for p in reports.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert (reports / "index.html").is_file() and (reports / "summary.csv").is_file()
    pngs = sorted((folder / report.FIGURES_DIRNAME).glob("*.png"))
    assert [p.name for p in pngs] == [s.filename for s in pvbess.FIGURES]
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    for name in report.NOTEBOOKS:
        nb = nbformat.read(str(folder / name), as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                  if o.output_type == "error"]
        assert errors == []
        html = (folder / name.replace(".ipynb", ".html")).read_text(encoding="utf-8")
        assert report.remote_references(html) == [], name  # opens without network
    html1 = (folder / "01_annual_simulation.html").read_text(encoding="utf-8")
    assert "Plotly.newPlot" in html1 and "plotly.js" in html1.lower()
    html2 = (folder / "02_energy_balance_report.html").read_text(encoding="utf-8")
    assert html2.count("data:image/png;base64") >= 16


def _check_summary_equals_kpis_of_the_same_run(rendered):
    folder = rendered["reports"] / "tiny"
    summary = report.read_summary(folder / report.SUMMARY_NAME)
    balance = report.read_balance(folder)
    assert report.summary_matches(summary, pvbess.kpis(balance)) == []
    # and the same run, recomputed here from the parameters, gives the same numbers
    site = rendered["site"].assign(pv_kwh=rendered["site"]["pv_kwh"] * 1.1)
    battery = pvbess.Battery.from_round_trip(0.95, capacity_kwh=1500.0, power_charge_kw=300.0,
                                             power_discharge_kw=300.0)
    rules = pvbess.SixPhaseRules(peak_threshold_kw=1800.0)
    expected = pvbess.simulate(site, battery, rules)
    np.testing.assert_array_equal(balance["soc_kwh"].to_numpy(), expected["soc_kwh"].to_numpy())
    assert report.summary_matches(summary, pvbess.kpis(expected)) == []
    assert summary["run_id"] == "tiny" and summary["n_steps"] == DAYS * 24
    assert "BESS 1,500 kWh / 300 kW" in summary["scenario"]
    assert "PV 4,455 kWp" in summary["scenario"]  # 4,050 kWp x 1.1
    assert set(summary["baselines"]) == {"grid_only", "pv_only", "self_consumption", "optimal"}
    # the optimal dispatch costs no more energy than the rules (same battery, same prices)
    assert (summary["baselines"]["optimal"]["energy_cost_pen"]
            <= summary["kpis"]["energy_cost_pen"] + 1e-6)
    grid_only = pvbess.kpis(pvbess.simulate(site, battery, rules, "grid_only"))
    assert math.isclose(summary["baselines"]["grid_only"]["co2_t"], grid_only["co2_t"],
                        rel_tol=1e-12)


def _check_failure_leaves_no_report_and_keeps_the_old_one(rendered, capsys):
    reports = rendered["reports"]
    summary_before = (reports / "tiny" / report.SUMMARY_NAME).read_bytes()
    stamp = os.stat(reports / "tiny" / report.SUMMARY_NAME).st_mtime_ns
    bad = rendered["root"] / "tiny-bad.yaml"
    bad.write_text(f"run_id: tiny\ndata_path: {rendered['root'] / 'site.csv'}\nsoc_min: 1.5\n")
    code = report.main([str(bad), "--reports-dir", str(reports), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "notebook 01_annual_simulation.ipynb failed in cell" in err
    assert "soc_min" in err and "Battery.from_round_trip" in err  # the error and the cell
    # the previous report of the run is untouched and nothing half-written is left
    assert (reports / "tiny" / report.SUMMARY_NAME).read_bytes() == summary_before
    assert os.stat(reports / "tiny" / report.SUMMARY_NAME).st_mtime_ns == stamp
    assert [p.name for p in reports.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_render_end_to_end(tmp_path_factory, capsys):
    """One render (the slow part), then: the report is complete and opens offline; its
    summary equals pvbess.kpis of the same run; a failing re-render of the same run id stops
    with the notebook and cell named, leaves nothing half-written and keeps the old report."""
    rendered = _render(tmp_path_factory)
    _check_complete_report(rendered)
    _check_summary_equals_kpis_of_the_same_run(rendered)
    _check_failure_leaves_no_report_and_keeps_the_old_one(rendered, capsys)
