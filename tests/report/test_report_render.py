"""pvbess.report.render and the command line: index.html, stripping notebooks, rendering reports
end to end (the ``pvbess.report`` names used here are its public re-exports)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys

import nbformat
import numpy as np
import pandas as pd
import pytest

import pvbess
from pvbess import report
from pvbess.config import NOTEBOOKS_DIR, PROJECT_ROOT

NB1, NB2, NB3, NB4, NB5 = report.NOTEBOOKS
DAYS = 14  # of the end-to-end render


def test_write_index_links_every_run_and_compares_them(balance, tmp_path):
    design = tmp_path / "design"
    design.mkdir()
    for name in (NB1, NB2, NB3):
        (design / report.STEPS[name].html).write_text("<html></html>")
    report.write_summary(report.make_summary(balance, run_id="design",
                                             kpis=pvbess.kpis(balance)),
                         design / report.SUMMARY_NAME)
    (design / report.SWEEP_SUMMARY_NAME).write_text(json.dumps(
        {"strategy": "six_phase", "n_designs": 54, "n_pareto": 6,
         "best": {"capacity_kwh": 500.0, "power_kw": 100.0, "npv_vs_pv_pen": 117120.1}}))
    replay = tmp_path / "replay"
    replay.mkdir()
    (replay / report.STEPS[NB4].html).write_text("<html></html>")
    (replay / report.REPLAY_NAME).write_text(json.dumps(
        {"forecast": "persistence", "periods": 504,
         "total_cost_pen": {"replay_persistence": 165777.9, "exact_bound": 163916.0}}))
    learned = tmp_path / "learned"
    learned.mkdir()
    (learned / report.STEPS[NB5].html).write_text("<html></html>")
    (learned / report.LEARNED_NAME).write_text(json.dumps(
        {"scenario": "BESS 2,000 kWh / 400 kW, trained on Jan-Sep", "algorithms": ["PPO", "SAC"],
         "summary": {"six_phase": {"seeds": 1, "mean": 0.594, "std": None},
                     "scheduler_persistence": {"seeds": 1, "mean": 0.763, "std": None},
                     "PPO": {"seeds": 2, "mean": 0.768, "std": 0.012},
                     "SAC": {"seeds": 1, "mean": 0.113, "std": None}}}))
    (tmp_path / ".design.x.partial").mkdir()  # a render under way is not listed
    (tmp_path / ".design.x.partial" / report.STEPS[NB1].html).write_text("")
    (tmp_path / "notes").mkdir()  # nor a folder without a rendered notebook
    page = report.write_index(tmp_path).read_text(encoding="utf-8")
    for href in ("design/01_annual_simulation.html", "design/02_energy_balance_report.html",
                 "design/03_sizing_sweep.html", "replay/04_scheduling_replay.html"):
        assert f'href="{href}"' in page
    assert "partial" not in page and "notes" not in page
    assert "Sizing sweeps" in page and "<td>54</td>" in page and "117,120" in page
    assert "Scheduling replays" in page and "<td>504</td>" in page and "165,778" in page
    assert "persistence forecast, 504 periods" in page
    assert 'href="learned/05_learned_controllers.html"' in page
    assert "Learned controllers" in page and "PPO: 76.8 % ± 1.2 · SAC: 11.3 %" in page
    assert "<td>59.4 %</td><td>76.3 %</td>" in page and "trained on Jan-Sep" in page
    assert report.remote_references(page) == []
    table = pd.read_csv(tmp_path / "summary.csv", index_col="kpi")
    assert list(table.columns) == ["unit", "label", "design"]  # the annual simulations only
    k = pvbess.kpis(balance)
    assert float(table.loc["co2_t", "design"]) == pytest.approx(k["co2_t"], abs=5e-4)
    assert table.loc["co2_t", "unit"] == "t" and table.loc["grid_import_kwh", "unit"] == "kWh"
    assert table.loc["self_sufficiency_frac", "label"] == "self-sufficiency"
    for name in ("grid_import_kwh", "total_cost_pen", "closure_miss_days"):  # rounded by unit
        text = (tmp_path / "summary.csv").read_text().split(f"\n{name},")[1].split("\n")[0]
        assert len(text.rsplit(",", 1)[1].partition(".")[2]) <= 2, (name, text)
    # the page: words and units, numbers formatted per quantity (days as integers, % for fractions)
    assert "self-sufficiency [%]" in page and "grid import [kWh]" in page
    assert f"<td>{k['grid_import_kwh']:,.0f}</td>" in page
    assert f"<td>{100 * k['self_sufficiency_frac']:,.1f}</td>" in page
    assert f"<td>{k['closure_miss_days']:,.0f}</td>" in page and ".000<" not in page


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


def test_python_m_pvbess_report_strips_notebooks(tmp_path):
    """``python -m pvbess.report --strip`` (the package's __main__)."""
    path = tmp_path / "nb.ipynb"
    nb = nbformat.read(str(NOTEBOOKS_DIR / NB1), as_version=4)
    next(c for c in nb.cells if c.cell_type == "code").execution_count = 7
    nbformat.write(nb, str(path))
    run = [sys.executable, "-m", "pvbess.report", "--strip", str(path)]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    out = subprocess.run(run, capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert out.stdout == f"{path}: stripped\n"
    out = subprocess.run(run, capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert out.stdout == f"{path}: already clean\n"


def test_the_package_names_resolve_to_their_modules():
    from pvbess.report import artefacts, cli, index, params, render

    missing = object()
    for name in report.__all__:  # each loaded on first use from the module that defines it
        value = getattr(report, name)
        assert any(getattr(m, name, missing) is value
                   for m in (artefacts, params, index, render, cli))
    assert pvbess.render_report is render.render_report
    assert pvbess.read_balance is artefacts.read_balance
    with pytest.raises(AttributeError, match="no_such_name"):
        report.no_such_name  # noqa: B018


# -- end to end -----------------------------------------------------------------------------------
def _render(tmp_path_factory):
    """Render, into a fresh reports folder, a 14-day run of a smaller battery (notebooks 01, 02
    and 03, the sweep a 2-design grid around it) and a 2-day scheduling replay (04 only)."""
    site = pvbess.load_iquitos().iloc[:DAYS * 24][["pv_kwh", "ev_kwh", "mall_kwh"]]
    root = tmp_path_factory.mktemp("render")
    csv = root / "site.csv"
    site.to_csv(csv, index_label="time")
    params = root / "tiny.yaml"
    params.write_text(f"data_path: {csv}\ncapacity_kwh: 1500.0\npower_kw: 300.0\n"
                      "pv_scale: 1.1\npeak_threshold_kw: 1800.0\nrun_baselines: true\n"
                      "capacity_kwh_values: [0.0, 1500.0]\npower_kw_values: [300.0]\n")
    replay = root / "replay.yaml"
    replay.write_text("run_id: replay\nnotebooks: [04_scheduling_replay.ipynb]\ndays: 2\n"
                      "forecast: persistence\nview_hour: 10\n")
    reports = root / "reports"
    log: list[str] = []
    folders = report.render_report([params, replay], reports, progress=False, log=log.append)
    return {"root": root, "params": params, "reports": reports, "folders": folders,
            "log": log, "site": site}


def _listed_files(notebook):
    """What the "files for the report" cell of an executed notebook showed (its listing)."""
    import ast

    nb = nbformat.read(str(notebook), as_version=4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "report.file_names(" in c.source]
    (result,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    return ast.literal_eval(result.data["text/plain"])


def _check_complete_report(rendered):
    reports = rendered["reports"]
    folder = reports / "tiny"
    assert rendered["folders"] == [folder, reports / "replay"]
    for name in report.expected_files():
        assert (folder / name).is_file(), name
    for name in report.expected_files([NB4]):
        assert (reports / "replay" / name).is_file(), name
    assert not (folder / "scheduler").exists()  # 04 ran only for the replay
    assert not (reports / "replay" / report.SUMMARY_NAME).exists()
    leftovers = [p.name for p in reports.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert (reports / "index.html").is_file() and (reports / "summary.csv").is_file()
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert 'href="tiny/03_sizing_sweep.html"' in index
    assert 'href="replay/04_scheduling_replay.html"' in index
    pngs = sorted((folder / report.FIGURES_DIRNAME).glob("*.png"))
    assert [p.name for p in pngs] == [s.filename for s in pvbess.FIGURES]
    for p in [*pngs, folder / "sweep_heatmaps.png", folder / "sweep_pareto.png",
              reports / "replay" / "daily_view.png", reports / "replay" / "replay_comparison.png"]:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000, p
    for name in (NB1, NB3):  # rendered side by side in one folder: each lists its own files
        assert _listed_files(folder / name) == sorted(report.STEPS[name].outputs), name
    for path in [*(folder / n for n in (NB1, NB2, NB3)), reports / "replay" / NB4]:
        nb = nbformat.read(str(path), as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                  if o.output_type == "error"]
        assert errors == []
        html = path.with_suffix(".html").read_text(encoding="utf-8")
        assert report.remote_references(html) == [], path.name  # opens without network
        # the build's temporary folder appears nowhere: the outputs name the report's folder
        built = re.findall(r"\.\w+\.\d+\.\w+\.partial", path.read_text(encoding="utf-8"))
        assert built == [], path.name
        assert str(path.parent) in path.read_text(encoding="utf-8"), path.name
        # no database side files (lock, WAL) left in a finished report
        assert not [p.name for p in path.parent.rglob("*")
                    if p.name.endswith((".lock", "-wal", "-shm"))], path.name
    html1 = (folder / "01_annual_simulation.html").read_text(encoding="utf-8")
    assert "Plotly.newPlot" in html1 and "plotly.js" in html1.lower()
    html2 = (folder / "02_energy_balance_report.html").read_text(encoding="utf-8")
    assert html2.count("data:image/png;base64") >= 16
    timings = [line for line in rendered["log"] if "done in" in line]
    assert len(timings) == 3 + 1 + 2  # each notebook, then each run


def _check_sweep_and_replay(rendered):
    """03 got the design's shared parameters: its 1,500 kWh / 300 kW row is the run of 01;
    04 replayed the days asked for."""
    from pvbess.studies.sizing import read_sweep

    folder = rendered["reports"] / "tiny"
    table, sweep = read_sweep(folder)
    assert sweep["n_designs"] == len(table) == 2 and sweep["run_id"] == "tiny"
    assert sorted(table["capacity_kwh"]) == [0.0, 1500.0]
    row = table.loc[table["capacity_kwh"] == 1500.0].iloc[0]
    assert row["pv_scale"] == 1.1 and row["peak_threshold_kw"] == 1800.0
    kpis = report.read_summary(folder / report.SUMMARY_NAME)["kpis"]
    for name in ("pv_kwh", "grid_import_kwh", "co2_t", "self_sufficiency_frac",
                 "equivalent_full_cycles"):
        assert row[name] == pytest.approx(kpis[name], rel=1e-9), name
    replay = json.loads((rendered["reports"] / "replay" / report.REPLAY_NAME).read_text())
    assert replay["run_id"] == "replay" and replay["periods"] == 2 * 24
    assert replay["forecast"] == "persistence"
    cost = replay["total_cost_pen"]
    assert min(cost.values()) == pytest.approx(cost["exact_bound"])


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
    np.testing.assert_array_equal(balance["soe_end_kwh"].to_numpy(), expected["soe_end_kwh"].to_numpy())
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


def _check_a_rerun_among_other_files_lists_the_same(rendered):
    """Notebook 01 run again by hand into a copy of the finished report, which holds the other
    notebooks' files and one being written: its listing is still its own three files."""
    import papermill

    folder = rendered["root"] / "rerun"
    shutil.copytree(rendered["reports"] / "tiny", folder)
    (folder / ".sweep_pareto.png.x1y2.tmp").write_bytes(b"")
    parameters = {"run_id": "tiny", "output_dir": str(folder), "data_path": str(
        rendered["root"] / "site.csv"), "run_baselines": False, "run_optimal": False}
    with pytest.MonkeyPatch.context() as env:  # the kernel imports this checkout, draws off-screen
        env.setenv("PYTHONPATH", os.pathsep.join(
            p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p))
        env.setenv("MPLBACKEND", "Agg")
        papermill.execute_notebook(
            str(NOTEBOOKS_DIR / NB1), str(rendered["root"] / NB1), parameters=parameters,
            progress_bar=False, request_save_on_cell_execute=False,
            resources={"metadata": {"path": str(PROJECT_ROOT)}})
    listed = _listed_files(rendered["root"] / NB1)
    assert listed == _listed_files(folder / NB1) == sorted(report.STEPS[NB1].outputs)


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


def _check_failure_in_the_sweep_names_notebook_03(rendered, capsys):
    reports = rendered["reports"]
    bad = rendered["root"] / "sweep-bad.yaml"
    bad.write_text(f"notebooks: [03_sizing_sweep]\ndata_path: {rendered['root'] / 'site.csv'}\n"
                   "capacity_kwh_values: [-500.0]\n")
    code = report.main([str(bad), "--reports-dir", str(reports), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "notebook 03_sizing_sweep.ipynb failed in cell" in err
    assert "capacity_kwh" in err and "pvbess.sweep(" in err  # the error and the cell
    assert not (reports / "sweep-bad").exists()
    assert [p.name for p in reports.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_render_end_to_end(tmp_path_factory, capsys):
    """One render of two runs (the slow part), then: the reports are complete and open
    offline; the summary equals pvbess.kpis of the same run; the sweep and the replay got their
    parameters; a failing re-render of the same run id stops with the notebook and cell named,
    leaves nothing half-written and keeps the old report; so does a failing sweep. Notebooks 01
    and 03 list exactly their own files, 01 also when run again among the others' files."""
    rendered = _render(tmp_path_factory)
    _check_complete_report(rendered)
    _check_summary_equals_kpis_of_the_same_run(rendered)
    _check_sweep_and_replay(rendered)
    _check_a_rerun_among_other_files_lists_the_same(rendered)
    _check_failure_leaves_no_report_and_keeps_the_old_one(rendered, capsys)
    _check_failure_in_the_sweep_names_notebook_03(rendered, capsys)


@pytest.mark.slow
def test_a_params_file_sets_the_tariff_of_the_bill(tmp_path):
    """Notebook 01 rendered from a params file that moves the HP window and sets the demand
    charges and the export price: the bill in summary.json is that tariff's, recomputed here
    from the run's own balance (energy by window, each month's peak per window, exports)."""
    site = pvbess.load_iquitos().iloc[:7 * 24][["pv_kwh", "ev_kwh", "mall_kwh"]]
    csv = tmp_path / "site.csv"
    site.to_csv(csv, index_label="time")
    params = tmp_path / "tariff.yaml"
    params.write_text(f"notebooks: [{NB1}]\ndata_path: {csv}\nrun_baselines: false\n"
                      "run_optimal: false\nexport_limit_kw: -1.0\n"
                      "tariff: {hp_start_h: 17.0, hp_end_h: 21.0, energy_hp_pen_per_kwh: 0.6,\n"
                      "         demand_hp_pen_per_kw_month: 100.0,\n"
                      "         demand_hfp_pen_per_kw_month: 10.0, export_pen_per_kwh: 0.05}\n")
    (folder,) = report.render_report([params], tmp_path / "reports", progress=False)
    kpis = report.read_summary(folder / report.SUMMARY_NAME)["kpis"]
    balance = report.read_balance(folder)
    hour = balance.index.hour
    hp = (hour >= 17) & (hour < 21)
    imp = balance["grid_import_kwh"].to_numpy()
    assert kpis["energy_cost_pen"] == pytest.approx(
        0.6 * imp[hp].sum() + 0.28 * imp[~hp].sum(), rel=1e-9)
    assert kpis["demand_charge_pen"] == pytest.approx(
        100.0 * imp[hp].max() + 10.0 * imp[~hp].max(), rel=1e-9)  # one month, hourly [kW]
    assert kpis["export_revenue_pen"] == pytest.approx(
        0.05 * (balance["pv_export_kwh"] + balance["bess_export_kwh"]).sum(), rel=1e-9)
    # and it is not MT3's bill
    mt3 = pvbess.kpis(pvbess.simulate(site, pvbess.Battery(), pvbess.SixPhaseRules()))
    assert abs(kpis["demand_charge_pen"] - mt3["demand_charge_pen"]) > 1000.0
