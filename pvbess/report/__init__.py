"""Render the reports: papermill runs the notebooks of each params file into ``reports/<run-id>/``.

``python -m pvbess.report params/iquitos.yaml [more.yaml ...]`` (``make report``) renders, for each
parameter file, the notebooks it lists under ``notebooks:`` (default: 01, 02 and 03, a design's
report), each after the notebooks whose files it reads, into a temporary sibling folder of
``reports/<run-id>/`` (``--jobs``: that many notebooks at once, by default one more than the
cores).
Each notebook gets the file's values of the parameters it declares (:func:`step_parameters`)
and leaves its executed copy ``NN_<name>.ipynb``, a self-contained ``NN_<name>.html`` (images and
plotly.js embedded, nothing loaded from the network) and its own files:

- ``01_annual_simulation``: ``balance.csv.gz`` and ``balance_meta.json`` (the balance table and
  its ``attrs``), ``summary.json`` (headline figures; :func:`read_summary` validates it);
- ``02_energy_balance_report`` (reads the balance of 01): ``figures/NN_<name>.png``, 16 figures;
- ``03_sizing_sweep``: ``sweep.csv.gz`` (one row per design), ``sweep_summary.json``,
  ``sweep_heatmaps.png``, ``sweep_pareto.png``;
- ``04_scheduling_replay``: ``scheduling_replay.json``, ``daily_view.png``,
  ``replay_comparison.png``, ``scheduler/`` (each forecast's event history and plans);
- ``05_learned_controllers`` (the ``rl`` extra): ``learned_controllers.json`` (headline
  figures), ``learned_scores.csv`` (the score table), ``learned_scores.png``,
  ``learning_curves.png``, ``policy_week.png``.

Only when every notebook ran and its files exist and read back is the folder renamed into place
(replacing an older report of the same run id), so a failure never leaves a half-written report.
A failing cell stops the run with the notebook and cell named and a non-zero exit status.
Afterwards ``reports/index.html`` links every run's notebooks and compares the runs side by side
(``reports/summary.csv``: the KPIs of the annual simulations).

The modules, bottom to top (each imports only those above it in this list):

- :mod:`~pvbess.report.artefacts`: the files (atomic writes, the balance table on disk, the
  summary JSON, PNGs); importable by anything;
- :mod:`~pvbess.report.params`: params files, the notebooks of a report and their parameters;
- :mod:`~pvbess.report.index`: ``reports/index.html`` and ``reports/summary.csv``;
- :mod:`~pvbess.report.kernels`: the notebooks' kernels, forked from a process that has already
  imported what they import (seconds of CPU less per notebook);
- :mod:`~pvbess.report.render`: papermill, HTML, the order the notebooks run in;
- :mod:`~pvbess.report.strip`: notebooks as git keeps them (the git filter ``pvbess-strip``);
- :mod:`~pvbess.report.cli`: the command line (``python -m pvbess.report``, ``--strip``).

The names below are importable from ``pvbess.report`` itself; each is loaded on first use, so
``from pvbess.report.artefacts import read_balance`` does not load the renderer.
"""

from __future__ import annotations

from .._lazy import lazy_exports

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys((
        "SUMMARY_NAME", "BALANCE_NAME", "BALANCE_META_NAME", "FIGURES_DIRNAME",
        "SWEEP_TABLE_NAME", "SWEEP_SUMMARY_NAME", "REPLAY_NAME", "LEARNED_NAME", "SUMMARY_SCHEMA",
        "RUN_ID",
        "atomic_path", "write_text", "jsonable", "save_png", "file_names", "write_balance",
        "read_balance", "make_summary", "write_summary", "validate_summary", "read_summary",
        "summary_matches",
    ), "artefacts"),
    **dict.fromkeys((
        "ReportError", "NotebookStep", "STEPS", "DEFAULT_NOTEBOOKS", "NOTEBOOKS",
        "RESERVED_PARAMS", "notebook_parameters", "load_params", "run_steps", "step_parameters",
        "expected_files",
    ), "params"),
    **dict.fromkeys((
        "CELL_TIMEOUT_S", "WIDGET_MIME", "notebook_to_html", "remote_references", "render_one",
        "render_report",
    ), "render"),
    "write_index": "index",
    "strip_notebook": "strip",
    "main": "cli",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
