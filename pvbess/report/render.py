"""Rendering: papermill runs the notebooks of each params file into ``reports/<run-id>/``.

:func:`render_report` (``python -m pvbess.report``) renders, for each params file, the notebooks
of its steps (:mod:`pvbess.report.params`) one after the other into a temporary sibling folder of
``reports/<run-id>/``, converts each executed notebook to self-contained HTML
(:func:`notebook_to_html`), checks the files each wrote (:mod:`pvbess.report.artefacts`) and only
then renames the folder into place. :func:`write_index` writes ``reports/index.html`` and
``reports/summary.csv``, every run side by side.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR
from ..variables import format_value, label, unit_of
from .artefacts import (
    LEARNED_NAME,
    REPLAY_NAME,
    SUMMARY_NAME,
    SWEEP_SUMMARY_NAME,
    atomic_path,
    clean_leftovers,
    read_summary,
    replace_dir,
    work_dir,
    write_text,
)
from .params import (
    STEPS,
    NotebookStep,
    ReportError,
    load_params,
    notebook_parameters,
    run_steps,
    step_parameters,
)

#: A cell running longer than this fails the report, unless its step says otherwise
#: (:attr:`NotebookStep.cell_timeout_s`). [s]
CELL_TIMEOUT_S = NotebookStep.cell_timeout_s


# -- rendering ------------------------------------------------------------------------------------
_REMOTE = re.compile(r"<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>\s*"
                     r"|<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>\s*", re.IGNORECASE)


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

#: The kernels' own log shows errors only: its transport warning (a local kernel on loopback,
#: started and stopped by this process) says nothing to a reader of the run.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


def notebook_to_html(notebook: str | Path, html_path: str | Path, title: str | None = None) -> Path:
    """Convert an executed notebook to self-contained HTML (no network needed to view it).

    nbconvert's lab template embeds outputs (PNGs as base64, plotly.js as emitted by
    :func:`pvbess.interactive.use_offline_plotly`); the remote scripts it links by default
    (require.js, MathJax from a CDN) are removed, as the notebooks need neither, and widget
    outputs (which would fetch a widget renderer from a CDN) become their static view
    (:class:`pvbess.plotting.interactive.InteractiveView`) or, without one, a short note.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    # without the saved widget state the template adds no loader of a widget renderer from a CDN
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:  # live widgets need a kernel: their static view, else a note
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_MIME in data:
                static = {k: v for k, v in data.items() if k not in (WIDGET_MIME, "text/plain")}
                output["data"] = static or {"text/plain": "[interactive widget: open the "
                                                          "notebook in Jupyter to use it]"}
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    title = title or Path(notebook).stem.replace("_", " ")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _REMOTE.sub("", body)
    return write_text(Path(html_path), body)


def remote_references(html_text: str) -> list[str]:
    """Scripts or stylesheets an HTML page would load from the network (should be [])."""
    return re.findall(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=\"(https?://[^\"]*)\"",
                      html_text, flags=re.IGNORECASE)


@contextlib.contextmanager
def _kernel_env() -> Iterator[None]:
    """Kernels import this checkout of pvbess and draw off-screen."""
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "MPLBACKEND")}
    path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), path) if p)
    os.environ["MPLBACKEND"] = "Agg"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _failure_message(params_file: Path, notebook: str, exc: Exception) -> str:
    cell = getattr(exc, "cell_index", None)
    count = getattr(exc, "exec_count", None)
    source = (getattr(exc, "source", "") or "").strip().splitlines()
    head = (f"{params_file}: notebook {notebook} failed in cell {cell} "
            f"(execution count {count}): "
            f"{getattr(exc, 'ename', type(exc).__name__)}: {getattr(exc, 'evalue', exc)}")
    lines = [head]
    if source:
        lines.append("  cell source: " + " | ".join(s.strip() for s in source[:4])
                     + (" | ..." if len(source) > 4 else ""))
    return "\n".join(lines)


def _unfinished_cell(executed: Path) -> str:
    """The index and first line of the cell papermill marked running/failed, if any."""
    try:
        import nbformat

        nb = nbformat.read(str(executed), as_version=4)
    except Exception:  # noqa: BLE001 - no notebook written yet
        return "?"
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("papermill", {}).get("status") in ("running", "failed"):
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            return f"{i} ({first})"
    return "?"


def render_one(params_file: str | Path, reports_dir: str | Path | None = None, *,
               progress: bool = True, notebooks_dir: str | Path | None = None,
               kernel_name: str | None = None, log=print) -> Path:
    """Render one params file into ``reports_dir/<run-id>/``; returns that folder.

    Runs the notebooks of the file (:func:`run_steps`) one after the other into a temporary
    sibling folder, each with :func:`step_parameters`, converts each to HTML and checks its
    files; only then the folder replaces ``reports_dir/<run-id>/``. Logs each notebook's and
    the whole run's wall time.

    Raises
    ------
    ReportError
        A notebook failed (the message names the notebook and cell), or did not write an
        expected file, or wrote a malformed one. Nothing is left in ``reports_dir`` (the failed
        executed notebook is kept in a temporary folder named in the message).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    t_run = time.perf_counter()
    params_file = Path(params_file)
    reports_dir = Path(reports_dir or REPORTS_DIR)
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)
    params = load_params(params_file, notebooks_dir)
    run_id = params["run_id"]
    steps = run_steps(params)
    for line in clean_leftovers(reports_dir):
        log(f"  {line}")
    work = work_dir(reports_dir, run_id)
    try:
        for k, step in enumerate(steps, start=1):
            name = step.notebook
            t0 = time.perf_counter()
            log(f"  {run_id}: [{k}/{len(steps)}] running {name}")
            parameters = step_parameters(step, params, notebook_parameters(notebooks_dir / name),
                                         work)
            try:
                with _kernel_env():
                    papermill.execute_notebook(
                        str(notebooks_dir / name), str(work / name), parameters=parameters,
                        progress_bar=progress, cwd=str(PROJECT_ROOT), kernel_name=kernel_name,
                        report_mode=False, execution_timeout=step.cell_timeout_s,
                        extra_arguments=KERNEL_ARGUMENTS)
            except PapermillExecutionError as exc:
                kept = Path(tempfile.mkdtemp(prefix=f"pvbess-failed-{run_id}-"))
                if (work / name).exists():
                    shutil.copy2(work / name, kept / name)
                raise ReportError(_failure_message(params_file, name, exc)
                                  + f"\n  executed notebook kept in {kept / name}") from None
            except Exception as exc:  # noqa: BLE001 - a cell timeout, a dead kernel, ...
                raise ReportError(f"{params_file}: notebook {name} failed in cell "
                                  f"{_unfinished_cell(work / name)}: {type(exc).__name__}: "
                                  f"{exc}") from None
            _show_final_paths(work / name, work, reports_dir / run_id)
            notebook_to_html(work / name, work / step.html,
                             title=f"{run_id}: {name.removesuffix('.ipynb').replace('_', ' ')}")
            missing = [f for f in step.files if not (work / f).is_file()]
            if missing:
                raise ReportError(f"{params_file}: notebook {name} ran but did not write "
                                  f"{missing}")
            if step.check is not None:
                try:
                    step.check(work)
                except (ValueError, KeyError, OSError) as exc:
                    raise ReportError(f"{params_file}: notebook {name} wrote a malformed file: "
                                      f"{type(exc).__name__}: {exc}") from None
            log(f"  {run_id}: {name} and its HTML done in {time.perf_counter() - t0:.1f} s")
        final = reports_dir / run_id
        replace_dir(work, final)
        log(f"  {run_id}: report ({len(steps)} notebook{'' if len(steps) == 1 else 's'}) done in "
            f"{time.perf_counter() - t_run:.1f} s wall")
        return final
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _show_final_paths(notebook: Path, work: Path, final: Path) -> None:
    """The executed notebook names the report's folder, not the temporary one it was built in."""
    text = notebook.read_text(encoding="utf-8")
    try:
        shown = final.resolve().relative_to(PROJECT_ROOT.resolve()).as_posix()
    except ValueError:
        shown = str(final)
    for built in {str(work), str(work.resolve())}:
        text = text.replace(json.dumps(built)[1:-1], json.dumps(shown)[1:-1])
    with atomic_path(notebook) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "n/a" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of already escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table border='1' class='dataframe'><thead><tr>{head}</tr></thead>" \
           f"<tbody>{body}</tbody></table>"


#: Decimals of a KPI in summary.csv, by unit (fractions keep 4: 0.1 % resolution).
_CSV_DECIMALS = {"kWh": 1, "kW": 1, "PEN": 2, "t": 3, "kg": 1, "h": 0, "d": 0, "-": 4,
                 "PEN/kWh": 4}


def summary_csv(table: pd.DataFrame) -> pd.DataFrame:
    """The KPIs of the runs (one column a run) with their unit and words, rounded by unit."""
    out = table.copy().astype(object)
    for name in out.index:
        if name == "scenario":
            continue
        decimals = _CSV_DECIMALS.get(unit_of(name), 4)
        out.loc[name] = [round(float(v), decimals) if v is not None and v == v else v
                         for v in out.loc[name]]
    out.insert(0, "label", [label(n, unit=False) for n in out.index])
    out.insert(0, "unit", ["" if n == "scenario" else unit_of(n) for n in out.index])
    return out


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_index(reports_dir: str | Path | None = None) -> Path:
    """``reports/index.html`` and ``reports/summary.csv``: every run side by side.

    The page links each run's rendered notebooks and compares the headline KPIs of the runs
    with a ``summary.json`` (notebook 01), the sweeps (``sweep_summary.json``, notebook 03) and
    the scheduling replays (``scheduling_replay.json``, notebook 04), the learned controllers
    (``learned_controllers.json``, notebook 05); ``summary.csv`` holds
    every KPI of the first table.
    """
    reports_dir = Path(reports_dir or REPORTS_DIR)
    e = html.escape
    folders = sorted(p for p in reports_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
                     and any((p / s.html).is_file() for s in STEPS.values()))
    rows, runs, sweeps, replays, learned_runs = {}, [], [], [], []
    for folder in folders:
        scenario = ""
        try:
            s = read_summary(folder / SUMMARY_NAME)
            rows[s["run_id"]] = {"scenario": s["scenario"], **s["kpis"]}
            scenario = s["scenario"]
        except (ValueError, OSError):
            pass
        links = " · ".join(f'<a href="{e(folder.name)}/{e(s.html)}">{e(s.title)}</a>'
                           for s in STEPS.values() if (folder / s.html).is_file())
        sweep = _read_json(folder / SWEEP_SUMMARY_NAME)
        if sweep is not None:
            best = sweep.get("best") or {}
            sweeps.append([e(folder.name), e(str(sweep.get("strategy"))),
                           *(e(_fmt(v)) for v in (
                               sweep.get("n_designs"), sweep.get("n_pareto"),
                               best.get("capacity_kwh"), best.get("power_kw"),
                               best.get("npv_vs_pv_pen"), best.get("payback_vs_pv_years")))])
        replay = _read_json(folder / REPLAY_NAME)
        if replay is not None:
            scenario = scenario or (f"scheduler replay: {replay.get('forecast')} forecast, "
                                    f"{replay.get('periods')} periods")
            cost = replay.get("total_cost_pen") or {}
            replays.append([e(folder.name), e(str(replay.get("forecast"))),
                            *(e(_fmt(v)) for v in (
                                replay.get("periods"),
                                cost.get(f"replay_{replay.get('forecast')}"),
                                cost.get("exact_bound"), cost.get("six_phase_rules"),
                                cost.get("no_battery"), replay.get("replay_gap_vs_exact_pct")))])
        learned = _read_json(folder / LEARNED_NAME)
        if learned is not None:
            scenario = scenario or str(learned.get("scenario", ""))
            learned_runs.append([e(folder.name), *_learned_cells(learned)])
        runs.append([e(folder.name), e(scenario), links])
    table = pd.DataFrame(rows)
    with atomic_path(reports_dir / "summary.csv") as tmp:
        summary_csv(table).to_csv(tmp, index_label="kpi")
    headline = ["pv_kwh", "load_kwh", "grid_import_kwh", "self_sufficiency_frac",
                "self_consumption_frac", "equivalent_full_cycles", "closure_miss_days",
                "hours_above_peak_after_h", "co2_t", "co2_avoided_vs_grid_only_t",
                "co2_avoided_vs_pv_only_t", "total_cost_pen"]
    parts = [("<!DOCTYPE html><html><head><meta charset='utf-8'><title>pvbess reports</title>"
              "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;"
              "text-align:right}th:first-child,td:first-child{text-align:left}</style></head>"
              "<body><h1>pvbess reports</h1><h2>Runs</h2>"),
             _html_table(["run", "scenario", "notebooks"], runs)]
    if len(table):
        shown = [[e(label(h))] + [e(format_value(h, v)) for v in table.loc[h]]
                 for h in headline if h in table.index]
        parts += ["<h2>Annual simulations (headline KPIs)</h2>",
                  _html_table(["KPI", *map(e, table.columns)], shown),
                  "<p>summary.csv holds every KPI, with its unit.</p>"]
    if sweeps:
        parts += ["<h2>Sizing sweeps (best design by NPV against PV only)</h2>",
                  _html_table(["run", "strategy", "designs", "Pareto front", "capacity [kWh]",
                               "power [kW]", "NPV vs PV only [PEN]",
                               "payback vs PV only [yr]"], sweeps)]
    if replays:
        parts += ["<h2>Scheduling replays (cost of the replayed period) [PEN]</h2>",
                  _html_table(["run", "forecast", "periods", "replay", "exact optimum",
                               "six-phase rules", "no battery", "gap vs exact [%]"], replays)]
    if learned_runs:
        parts += ["<h2>Learned controllers (share of the optimal saving on the held-out months, "
                  "mean ± std over seeds)</h2>",
                  _html_table(["run", "agents", "six-phase rules", "scheduler"], learned_runs)]
    parts.append("</body></html>")
    return write_text(reports_dir / "index.html", "".join(parts))


def _learned_cells(learned: dict) -> list[str]:
    """The agents', the rules' and the scheduler's shares of a ``learned_controllers.json``."""
    def pct(stats: Any) -> str:
        if not isinstance(stats, dict) or not isinstance(stats.get("mean"), int | float):
            return "n/a"
        share = "optimal_saving_share_frac"
        text = f"{format_value(share, stats['mean'])} %"
        if isinstance(stats.get("std"), int | float) and stats.get("seeds", 1) > 1:
            text += f" ± {format_value(share, stats['std'])}"
        return text

    summary = learned.get("summary") if isinstance(learned.get("summary"), dict) else {}
    agents = " · ".join(f"{a}: {pct(summary.get(a))}" for a in learned.get("algorithms") or []
                        if isinstance(a, str))
    scheduler = next((k for k in summary if k.startswith("scheduler_")), None)
    return [html.escape(agents), html.escape(pct(summary.get("six_phase"))),
            html.escape(pct(summary.get(scheduler)) if scheduler else "n/a")]


def _expected_seconds(plan: dict, reports_dir: Path) -> float:
    """Seconds the params file's notebooks took when last rendered into ``reports_dir``
    (papermill records it in each executed notebook); 60 s for a notebook never rendered."""
    total = 0.0
    for name in plan["notebooks"]:
        try:
            meta = json.loads((reports_dir / plan["run_id"] / name).read_text("utf-8"))
            total += float(meta["metadata"]["papermill"]["duration"])
        except (OSError, ValueError, KeyError, TypeError):
            total += 60.0
    return total


def render_report(params_files: Sequence[str | Path], reports_dir: str | Path | None = None, *,
                  progress: bool = True, notebooks_dir: str | Path | None = None,
                  kernel_name: str | None = None, log=print, jobs: int = 1) -> list[Path]:
    """Render each params file into ``reports_dir/<run-id>/`` (see the module docstring).

    Every params file is checked (parameters, notebooks, distinct run ids) before any renders.
    ``jobs > 1`` renders that many params files at once in worker processes (cell progress bars
    are then replaced by one line per notebook). The first failure stops the run (raising
    :class:`ReportError`): no new render starts, renders under way finish, the reports already
    rendered stay, and nothing half-written does. Returns the report folders in input order.
    """
    if not params_files:
        raise ReportError("no params files given (e.g. params/iquitos.yaml)")
    reports_dir = Path(reports_dir or REPORTS_DIR)
    plans = [load_params(p, notebooks_dir) for p in params_files]
    ids = [p["run_id"] for p in plans]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ReportError(f"run id(s) {dup} used by more than one params file")
    jobs = max(1, min(int(jobs), len(params_files)))
    out: list[Path] = []
    if jobs == 1:
        for k, (path, plan) in enumerate(zip(params_files, plans, strict=True), start=1):
            names = ", ".join(n.split("_", 1)[0] for n in plan["notebooks"])
            log(f"[{k}/{len(params_files)}] {path} -> {reports_dir / plan['run_id']}/ "
                f"(notebooks {names})")
            out.append(render_one(path, reports_dir, progress=progress,
                                  notebooks_dir=notebooks_dir, kernel_name=kernel_name, log=log))
    else:
        import multiprocessing
        from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

        log(f"rendering {len(params_files)} reports, {jobs} at a time")
        ctx = multiprocessing.get_context("spawn")
        # longest first (by the last render's times): the slow report does not start last
        order = sorted(range(len(plans)), key=lambda i: -_expected_seconds(plans[i], reports_dir))
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            submitted = {i: pool.submit(render_one, params_files[i], reports_dir, progress=False,
                                        notebooks_dir=notebooks_dir, kernel_name=kernel_name)
                         for i in order}
            futures = [submitted[i] for i in range(len(plans))]
            wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f.done() and f.exception() is not None]
            if failed:
                for f in futures:
                    f.cancel()
                wait(futures)
                raise failed[0].exception()
            out = [f.result() for f in futures]
    write_index(reports_dir)
    return out
