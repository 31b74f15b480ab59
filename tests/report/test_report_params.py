"""pvbess.report.params: params files, the notebooks of a report and what each one gets."""

from __future__ import annotations

import pytest

import pvbess
import pvbess.report.params as rp
from pvbess.config import NOTEBOOKS_DIR
from pvbess.report import artefacts


def test_load_params(tmp_path):
    good = tmp_path / "my-design.yaml"
    good.write_text("capacity_kwh: 1000.0\n")
    assert rp.load_params(good) == {"capacity_kwh": 1000.0, "run_id": "my-design",
                                        "notebooks": rp.DEFAULT_NOTEBOOKS}
    good.write_text("day: 2025-03-13\n")  # YAML date -> the string the notebooks take
    assert rp.load_params(good)["day"] == "2025-03-13"
    bad = tmp_path / "bad.yaml"
    bad.write_text("capacity_kwh: 1000.0\ncapacity_kWh: 5\n")
    with pytest.raises(rp.ReportError, match=r"unknown parameter\(s\) \['capacity_kWh'\]"):
        rp.load_params(bad)
    bad.write_text("run_id: ../escape\n")
    with pytest.raises(rp.ReportError, match="run_id"):
        rp.load_params(bad)
    bad.write_text("output_dir: /tmp/elsewhere\n")  # where a report goes is the renderer's
    with pytest.raises(rp.ReportError, match="output_dir.*renderer"):
        rp.load_params(bad)
    with pytest.raises(rp.ReportError, match="not found"):
        rp.load_params(tmp_path / "missing.yaml")



NB1, NB2, NB3, NB4, NB5 = rp.NOTEBOOKS


def test_notebooks_key_selects_the_steps_and_the_known_parameters(tmp_path):
    path = tmp_path / "p.yaml"
    # a parameter of 03 only is known when 03 is rendered (the default) ...
    path.write_text("capacity_kwh_values: [0.0, 500.0]\nsweep_strategy: six_phase\n")
    params = rp.load_params(path)
    assert params["notebooks"] == (NB1, NB2, NB3)
    assert [s.notebook for s in rp.run_steps(params)] == [NB1, NB2, NB3]
    # ... and unknown when only 01 and 02 are
    path.write_text("notebooks: [01_annual_simulation, 02_energy_balance_report.ipynb]\n"
                    "capacity_kwh_values: [0.0]\n")
    with pytest.raises(rp.ReportError,
                       match=r"unknown parameter\(s\) \['capacity_kwh_values'\]"):
        rp.load_params(path)
    # listed in any order, run in the order of STEPS; ".ipynb" optional
    path.write_text(f"notebooks: [{NB4}, 03_sizing_sweep]\ndays: 3\n")
    assert rp.load_params(path)["notebooks"] == (NB3, NB4)
    for text, message in [
        ("notebooks: [05_nothing.ipynb]\n", "unknown notebook '05_nothing.ipynb'"),
        (f"notebooks: [{NB2}]\n", f"{NB2} reads the files of \\['{NB1}'\\]"),
        (f"notebooks: [{NB1}, {NB1}]\n", "listed twice"),
        ("notebooks: []\n", "non-empty list"),
        (f"notebooks: {NB1}\n", "non-empty list"),
    ]:
        path.write_text(text)
        with pytest.raises(rp.ReportError, match=message):
            rp.load_params(path)


def test_each_notebook_gets_the_parameters_it_declares(tmp_path):
    path = tmp_path / "design.yaml"
    path.write_text("capacity_kwh: 1500.0\npv_scale: 1.1\nday: 2025-03-13\n"
                    "power_kw_values: [100.0, 200.0]\n")
    params = rp.load_params(path)
    got = {s.notebook: rp.step_parameters(s, params, rp.notebook_parameters(
        NOTEBOOKS_DIR / s.notebook), tmp_path / "work") for s in rp.run_steps(params)}
    work = str(tmp_path / "work")
    assert got[NB1] == {"run_id": "design", "capacity_kwh": 1500.0, "pv_scale": 1.1,
                        "day": "2025-03-13", "output_dir": work}
    assert got[NB2] == {"run_id": "design", "day": "2025-03-13", "output_dir": work,
                        "input_dir": work}  # reads what 01 wrote
    assert got[NB3] == {"run_id": "design", "pv_scale": 1.1, "power_kw_values": [100.0, 200.0],
                        "progress": False, "output_dir": work}  # no capacity_kwh: 03 sweeps it
    path.write_text(f"notebooks: [{NB3}, {NB4}]\nprogress: true\ndays: 2\n"
                    "capacity_kwh: 1000.0\n")
    params = rp.load_params(path)
    got = {s.notebook: rp.step_parameters(s, params, rp.notebook_parameters(
        NOTEBOOKS_DIR / s.notebook), work) for s in rp.run_steps(params)}
    assert got[NB3]["progress"] is True  # a params file overrides the report's default
    assert got[NB4] == {"run_id": "design", "days": 2, "capacity_kwh": 1000.0,
                        "progress": True, "output_dir": work}
    path.write_text(f"notebooks: [{NB4}]\ndays: 2\n")
    (step,) = rp.run_steps(rp.load_params(path))
    got = rp.step_parameters(step, rp.load_params(path), rp.notebook_parameters(
        NOTEBOOKS_DIR / NB4), work)
    assert got["progress"] is False  # the replay's bars would only become notes in the HTML


def test_steps_and_expected_files():
    from pvbess.studies import sizing

    assert rp.NOTEBOOKS == tuple(rp.STEPS) == (
        "01_annual_simulation.ipynb", "02_energy_balance_report.ipynb",
        "03_sizing_sweep.ipynb", "04_scheduling_replay.ipynb", "05_learned_controllers.ipynb")
    assert set(rp.DEFAULT_NOTEBOOKS) == {NB1, NB2, NB3}
    for i, step in enumerate(rp.STEPS.values()):  # a step runs after the ones it needs
        assert all(rp.NOTEBOOKS.index(n) < i for n in step.needs)
        assert step.html == step.notebook.replace(".ipynb", ".html")
    assert artefacts.SWEEP_TABLE_NAME == sizing.SWEEP_TABLE_NAME
    assert artefacts.SWEEP_SUMMARY_NAME == sizing.SWEEP_SUMMARY_NAME
    files = rp.expected_files()
    assert len(files) == len(set(files))
    assert {artefacts.SUMMARY_NAME, artefacts.BALANCE_NAME, "sweep.csv.gz", "sweep_summary.json",
            "sweep_heatmaps.png", "sweep_pareto.png", "03_sizing_sweep.html"} <= set(files)
    assert "replay_comparison.png" not in files
    assert rp.expected_files([NB4]) == [
        NB4, "04_scheduling_replay.html", "scheduling_replay.json", "daily_view.png",
        "replay_comparison.png"]
    assert sum(f.startswith("figures/") for f in files) == len(pvbess.FIGURES)
    assert rp.expected_files([NB5]) == [
        NB5, "05_learned_controllers.html", artefacts.LEARNED_NAME, "learned_scores.csv",
        "learned_scores.png", "learning_curves.png", "policy_week.png"]



def test_every_billing_notebook_takes_the_whole_tariff(tmp_path):
    """01, 03 and 04 bill the site: each declares ``tariff`` (a mapping of pvbess.Tariff fields)
    and ``tariff_path`` (a YAML file of them), and a params file's values reach all three."""
    for name in (NB1, NB3, NB4):
        declared = rp.notebook_parameters(NOTEBOOKS_DIR / name)
        assert (declared["tariff"], declared["tariff_path"]) == ("{}", '""'), name
        # one way to set the tariff: no stray tariff fields as separate parameters
        assert not set(declared) & set(pvbess.Tariff().asdict()), name
    fields = tmp_path / "spot.yaml"
    fields.write_text("energy_hfp_pen_per_kwh: 0.2\n")
    path = tmp_path / "tariff.yaml"
    path.write_text(f"notebooks: [{NB1}, {NB3}, {NB4}]\ntariff_path: {fields}\n"
                    "tariff: {hp_start_h: 17.0, hp_end_h: 21.0, export_pen_per_kwh: 0.1,\n"
                    "         demand_hp_pen_per_kw_month: 30.0, demand_hfp_pen_per_kw_month: 5.0}\n")
    params = rp.load_params(path)
    for step in rp.run_steps(params):
        got = rp.step_parameters(step, params, rp.notebook_parameters(
            NOTEBOOKS_DIR / step.notebook), tmp_path)
        tariff = pvbess.Tariff.from_params(got["tariff"], got["tariff_path"])
        assert tariff == pvbess.Tariff(hp_start_h=17.0, hp_end_h=21.0, export_pen_per_kwh=0.1,
                                       energy_hfp_pen_per_kwh=0.2,
                                       demand_hp_pen_per_kw_month=30.0,
                                       demand_hfp_pen_per_kw_month=5.0), step.notebook


def test_the_learned_controllers_check_reads_its_json_back(tmp_path):
    """Notebook 05's check: the LP bound scores 1, no battery 0, no row bills below the bound."""
    import json

    check = rp.STEPS[NB5].check
    good = {"optimal_saving_share_frac": {"exact": 1.0, "no_battery": 0.0, "PPO_s0": 0.7},
            "total_cost_pen": {"exact": 100.0, "no_battery": 200.0, "PPO_s0": 130.0}}
    path = tmp_path / artefacts.LEARNED_NAME
    path.write_text(json.dumps(good))
    check(tmp_path)
    bad = [({"optimal_saving_share_frac": {"exact": 0.9}}, "expected"),
           ({"total_cost_pen": {**good["total_cost_pen"], "PPO_s0": 90.0}}, "below|less"),
           ({"optimal_saving_share_frac": {**good["optimal_saving_share_frac"],
                                           "no_battery": 0.1}}, "score 1"),
           ([1, 2], "expected")]
    for change, words in bad:
        data = {**good, **change} if isinstance(change, dict) else change
        path.write_text(json.dumps(data))
        with pytest.raises(ValueError, match=words):
            check(tmp_path)
