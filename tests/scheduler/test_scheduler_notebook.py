"""notebooks/04_scheduling_replay.ipynb runs headless (short replay) and the figures draw."""

from __future__ import annotations

import json
import os

import nbformat
import pytest
from matplotlib.figure import Figure
from sched_synthetic import STEP_KWH, make_site, small_battery

from pvbess import DailyViewBuilder, replay
from pvbess.config import NOTEBOOKS_DIR, PROJECT_ROOT
from pvbess.scheduler.db import Database
from pvbess.scheduler.events import HistoricalDataStore
from pvbess.plotting.daily_view import plot_bill_ladder, plot_comparison, plot_daily_view
from pvbess.scheduler.schedules import ScheduleStore

NOTEBOOK = NOTEBOOKS_DIR / "04_scheduling_replay.ipynb"


def test_notebook_is_thin_and_stripped():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for cell in code:
        assert not cell.get("outputs") and cell.get("execution_count") is None
        assert "def " not in cell.source and "class " not in cell.source
    assert "assert" in code[-1].source


def test_plots_return_figures(tmp_path):
    site = make_site(days=2, seed=4)
    db = tmp_path / "v.sqlite"
    res = replay(site, battery=small_battery(), energy_step_kwh=STEP_KWH, db=db)
    fig = plot_comparison(res.comparison)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    fig = plot_bill_ladder(res.comparison, "2 days")
    assert "2 days" in fig.axes[0].get_title() and "[PEN]" in fig.axes[0].get_xlabel()
    with Database(db, read_only=True) as reader:
        builder = DailyViewBuilder(HistoricalDataStore(reader), ScheduleStore(reader))
        view = builder.build_daily_view(site.index[24 + 10])
    fig = plot_daily_view(view, capacity_kwh=200.0)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert "10 actual" in fig.axes[0].get_title()


@pytest.mark.slow
def test_notebook_runs_headless(tmp_path):
    papermill = pytest.importorskip("papermill")
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env_path) if p)
    try:
        papermill.execute_notebook(
            str(NOTEBOOK), str(tmp_path / "out.ipynb"), cwd=str(PROJECT_ROOT),
            parameters={"output_dir": str(tmp_path), "days": 2, "view_hour": 9,
                        "forecast": "noisy"},
            progress_bar=False, kernel_name="python3")
    finally:
        if env_path:
            os.environ["PYTHONPATH"] = env_path
        else:
            del os.environ["PYTHONPATH"]
    headline = json.loads((tmp_path / "scheduling_replay.json").read_text())
    assert headline["periods"] == 48 and headline["plans"] == 48
    cost = headline["total_cost_pen"]
    assert cost["exact_bound"] <= min(cost.values()) + 1e-6
    assert set(cost) == {"exact_bound", "perfect_foresight_dp", "replay_perfect",
                         "replay_persistence", "replay_mean7", "replay_noisy", "six_phase_rules",
                         "no_battery"}
    assert (tmp_path / "daily_view.png").stat().st_size > 0
