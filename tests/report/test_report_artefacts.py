"""pvbess.report.artefacts: the balance table on disk and the summary JSON."""

from __future__ import annotations

import json
import math
import pathlib
import subprocess
import sys

import pandas as pd
import pytest

import pvbess
from pvbess.identities import TOL_KWH
from pvbess.config import PROJECT_ROOT
from pvbess.report import artefacts


# -- balance on disk ------------------------------------------------------------------------------
def test_balance_round_trip_is_exact(balance, tmp_path):
    path, meta = artefacts.write_balance(balance, tmp_path)
    assert path.name == artefacts.BALANCE_NAME and meta.name == artefacts.BALANCE_META_NAME
    assert sorted(tmp_path.iterdir()) == [path, meta]  # what it returns is all it wrote
    back = artefacts.read_balance(tmp_path)
    pd.testing.assert_frame_equal(back, balance, check_exact=True)
    assert back.index.tz is not None and str(back.index.tz) == "America/Lima"
    assert back.attrs == balance.attrs  # nested dicts, inf export limit included
    assert math.isinf(back.attrs["rules"]["export_limit_kw"])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# -- a notebook's own files ------------------------------------------------------------------------
def test_file_names_lists_the_run_files_not_the_folder(balance, tmp_path):
    """A report folder shared with other notebooks: the listing is the files the writers
    returned and the figures saved, sorted, relative to the folder; never another notebook's file,
    a file being written or a subfolder."""
    (tmp_path / "03_sizing_sweep.ipynb").write_text("{}")  # another notebook of the run
    (tmp_path / ".sweep_heatmaps.png.x1y2.tmp").write_bytes(b"")  # a PNG being written
    (tmp_path / "scheduler").mkdir()
    balance_files = artefacts.write_balance(balance, tmp_path)
    summary_file = artefacts.write_summary(
        artefacts.make_summary(balance, run_id="unit", kpis=pvbess.kpis(balance)),
        tmp_path / artefacts.SUMMARY_NAME)
    figure = artefacts.write_text(tmp_path / artefacts.FIGURES_DIRNAME / "01_a.png", "png")
    listed = artefacts.file_names(tmp_path, summary_file, figure, *balance_files)
    assert listed == ["balance.csv.gz", "balance_meta.json", "figures/01_a.png", "summary.json"]
    assert artefacts.file_names(tmp_path, *reversed([*balance_files, summary_file, figure]),
                                summary_file) == listed  # any order, a file named twice once
    assert artefacts.file_names(tmp_path) == []


def test_file_names_of_a_relative_report_folder(balance, tmp_path, monkeypatch):
    """``output_dir`` given relative: the writers return paths relative to the working
    directory, as the folder is."""
    monkeypatch.chdir(tmp_path)
    out = pathlib.Path("reports") / "unit"
    written = artefacts.write_balance(balance, out)
    assert not written[0].is_absolute()
    assert artefacts.file_names(out, *written) == ["balance.csv.gz", "balance_meta.json"]
    assert artefacts.file_names(str(out), "reports/unit/balance.csv.gz") == ["balance.csv.gz"]


@pytest.mark.parametrize("where, message", [
    ("../outside.json", "not inside the report folder"),
    ("missing.json", "no such file"),
    ("scheduler", "no such file"),  # a folder is not a file the run wrote
])
def test_file_names_refuses_what_the_run_did_not_leave_there(tmp_path, where, message):
    folder = tmp_path / "run"
    (folder / "scheduler").mkdir(parents=True)
    (tmp_path / "outside.json").write_text("{}")
    with pytest.raises(ValueError, match=message):
        artefacts.file_names(folder, folder / where)


# -- summary JSON ---------------------------------------------------------------------------------
def test_summary_round_trip_and_validation(balance, tmp_path):
    kpi = pvbess.kpis(balance)
    summary = artefacts.make_summary(balance, run_id="unit", kpis=kpi, params={"a": 1.5},
                                     baselines={"pv_only": pvbess.kpis(pvbess.simulate(
                                         pd.DataFrame(balance[["pv_kwh", "ev_kwh", "mall_kwh"]]),
                                         strategy="pv_only"))})
    path = artefacts.write_summary(summary, tmp_path / "summary.json")
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON
    back = artefacts.read_summary(path)
    assert artefacts.summary_matches(back, kpi) == []
    assert back["scenario"] == pvbess.scenario_label(balance)
    assert back["kpis"]["pv_kwh"] == balance["pv_kwh"].sum()
    assert math.isnan(back["baselines"]["pv_only"]["ev_bess_share_frac"]) or \
        back["baselines"]["pv_only"]["ev_bess_share_frac"] == 0.0
    assert all(v <= TOL_KWH for v in back["checks"]["max_residual_kwh"].values())
    assert back["checks"]["max_residual_kwh"] == pvbess.max_residuals(balance).to_dict()
    # a different number is caught
    changed = dict(kpi)
    changed["co2_t"] *= 1 + 1e-6
    assert artefacts.summary_matches(back, changed) == ["co2_t"]
    assert artefacts.summary_matches(back, {**kpi, "new_kpi": 1.0}) == ["new_kpi"]


@pytest.mark.parametrize("change, message", [
    ({"schema": "other/1"}, "schema"),
    ({"run_id": "bad id!"}, "run_id"),
    ({"kpis": {}}, "non-empty"),
    ({"kpis": {"co2_t": "lots"}}, "co2_t"),
])
def test_invalid_summaries_are_rejected(balance, tmp_path, change, message):
    summary = artefacts.make_summary(balance, run_id="unit", kpis=pvbess.kpis(balance))
    summary.update(change)
    with pytest.raises(ValueError, match=message):
        artefacts.write_summary(summary, tmp_path / "summary.json")
    assert not (tmp_path / "summary.json").exists()
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ValueError, match=message):
        artefacts.read_summary(tmp_path / "summary.json")


def test_artefacts_load_neither_the_renderer_nor_numba_nor_matplotlib():
    """The bottom layer: anything (a plot module, the scheduler) may import it."""
    heavy = ("numba", "matplotlib", "papermill", "pvbess.report.render", "pvbess.report.params")
    code = ("import sys, pvbess.report.artefacts; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PROJECT_ROOT, env={"PYTHONPATH": str(PROJECT_ROOT)})
    assert out.stdout.strip() == "[]"


# -- PNGs -----------------------------------------------------------------------------------------
def _pixels(path_or_bytes):
    import io

    import numpy as np
    from PIL import Image

    data = path_or_bytes.read_bytes() if hasattr(path_or_bytes, "read_bytes") else path_or_bytes
    with Image.open(io.BytesIO(data)) as image:
        return image.mode, np.asarray(image)


#: Figures that between them have every construct of the report's: panels sharing an axis, a
#: twin axis, colour bars, legends beside and below, an image, the Sankey, the sentence of a
#: design without a battery.
LAYOUTS = [("six_phase", n) for n in ("day_balance", "bess_windows", "energy_flows",
                                      "bess_operation")] + [("pv_only", "bess_operation")]


def test_save_png_draws_the_pixels_of_savefig(site, tmp_path):
    """A figure laid out before it is saved (save_png) has the pixels of ``savefig``, and its
    layout engine back afterwards; a figure without one is saved as it is."""
    import io

    import numpy as np
    from matplotlib.figure import Figure

    balances = {}
    for strategy in {s for s, _ in LAYOUTS}:
        balances[strategy] = pvbess.simulate(site, pvbess.Battery(), pvbess.SixPhaseRules(),
                                             strategy)
        balances[strategy].attrs.update(run_id="unit", pv_kwp=4050.0)
    figures = [lambda s=s, n=n: getattr(pvbess, f"plot_{n}")(balances[s]) for s, n in LAYOUTS]

    def plain():
        fig = Figure(figsize=(3, 2))
        fig.subplots().plot([0, 1], [1, 0])
        return fig

    for k, make in enumerate([*figures, plain]):
        expected = io.BytesIO()
        make().savefig(expected, dpi=60, format="png")
        fig = make()
        engine = fig.get_layout_engine()
        artefacts.save_png(fig, tmp_path / f"{k}.png", dpi=60)
        mode, got = _pixels(tmp_path / f"{k}.png")
        want_mode, want = _pixels(expected.getvalue())
        assert mode == want_mode and got.shape == want.shape, k
        assert np.array_equal(got, want), f"figure {k}: {int((got != want).any(-1).sum())} pixels"
        assert fig.get_layout_engine() is engine
