"""Rendering: papermill runs the notebooks of each params file into ``reports/<run-id>/``.

:func:`render_report` (``python -m pvbess.report``) renders the notebooks of every params file
(its steps, :mod:`pvbess.report.params`) into a temporary sibling folder of
``reports/<run-id>/``, converts each executed notebook to self-contained HTML
(:func:`notebook_to_html`), checks the files each wrote (:mod:`pvbess.report.artefacts`) and,
once all the notebooks of a params file are done, renames its folder into place. With
``jobs > 1`` the notebooks themselves are the tasks: that many run at once (each in its own
kernel, driven from a thread of this process), a notebook as soon as the ones it reads have
finished, the longest chain first, so the cores stay busy to the end whatever the mix of params
files. The kernels fork from a process that has imported what the notebooks import
(:mod:`pvbess.report.kernels`). :func:`pvbess.report.index.write_index` then writes
``reports/index.html``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR
from .artefacts import atomic_path, clean_leftovers, replace_dir, work_dir, write_text
from .index import write_index
from .kernels import KernelZygote, kernel_manager_class, preloaded_kernels
from .params import (
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


# -- one notebook to HTML -------------------------------------------------------------------------
_REMOTE = re.compile(r"<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>\s*"
                     r"|<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>\s*", re.IGNORECASE)


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

#: The kernels' own log shows errors only: its transport warning (a local kernel on loopback,
#: started and stopped by this process) says nothing to a reader of the run.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


def notebook_to_html(notebook: str | Path, html_path: str | Path, title: str | None = None) -> Path:
    """Convert an executed notebook to self-contained HTML (no network needed to view it).

    nbconvert's lab template embeds outputs (PNGs as base64, plotly.js as emitted by
    :func:`pvbess.plotting.interactive.use_offline_plotly`); the remote scripts it links by
    default (require.js, MathJax from a CDN) are removed, as the notebooks need neither, and widget
    outputs (which would fetch a widget renderer from a CDN) become their static view
    (:class:`pvbess.plotting.interactive.InteractiveView`) or, without one, a short note.
    """
    import nbformat

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
    title = title or Path(notebook).stem.replace("_", " ")
    with _EXPORTER_LOCK:  # one conversion at a time (they hold the GIL anyway)
        body, _ = _html_exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _REMOTE.sub("", body)
    return write_text(Path(html_path), body)


_EXPORTER_LOCK = threading.Lock()


@functools.cache
def _html_exporter():
    """The lab-template exporter, built once (its templates compile on the first conversion).

    Its ``clean_html`` filter is the identity: the template passes every code cell through
    bleach after pygments (which escapes it) and every Markdown cell of these notebooks, our
    own; sanitising them changed no byte of a report's pages and took a quarter of the
    conversion. Outputs are not sanitised either way (nbconvert's default).
    """
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", embed_images=True,
                        filters={"clean_html": _trusted_html})


def _trusted_html(element: str | bytes) -> str:
    return element.decode() if isinstance(element, bytes) else str(element)


def remote_references(html_text: str) -> list[str]:
    """Scripts or stylesheets an HTML page would load from the network (should be [])."""
    return re.findall(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=\"(https?://[^\"]*)\"",
                      html_text, flags=re.IGNORECASE)


# -- one notebook of a report ---------------------------------------------------------------------
@dataclass
class _Run:
    """A params file being rendered: its steps, the folder it is built in, the notebooks done."""

    params_file: Path
    params: dict[str, Any]
    steps: tuple[NotebookStep, ...]
    final: Path
    work: Path | None = None
    done: list[str] = field(default_factory=list)
    started: float | None = None

    @property
    def run_id(self) -> str:
        return self.params["run_id"]

    def ready(self, step: NotebookStep) -> bool:
        return all(n in self.done for n in step.needs)


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


def _execute(run: _Run, step: NotebookStep, notebooks_dir: Path, *, progress: bool,
             kernel_name: str | None, zygote: KernelZygote | None = None) -> None:
    """Run one notebook of ``run`` into its build folder with papermill (raises ReportError).

    The executed notebook is written once, at the end (or at the failing cell): papermill's
    save after every cell re-serialised the whole notebook each time (seconds of CPU for one
    that embeds plotly.js). The kernel starts in the project root (nbclient's ``resources``
    path, not papermill's ``cwd``, which changes the working directory of the whole process).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    name, work = step.notebook, run.work
    parameters = step_parameters(step, run.params, notebook_parameters(notebooks_dir / name), work)
    running: dict[str, Any] = {}  # the cell under way: named if the kernel dies or times out

    def on_cell_start(cell, cell_index: int) -> None:
        lines = cell.source.strip().splitlines()
        running.update(index=cell_index, first=lines[0] if lines else "")

    try:
        papermill.execute_notebook(
            str(notebooks_dir / name), str(work / name), parameters=parameters,
            progress_bar=progress, kernel_name=kernel_name, report_mode=False,
            execution_timeout=step.cell_timeout_s, request_save_on_cell_execute=False,
            extra_arguments=KERNEL_ARGUMENTS, on_cell_start=on_cell_start,
            resources={"metadata": {"path": str(PROJECT_ROOT)}},
            kernel_manager_class=kernel_manager_class(zygote))
    except PapermillExecutionError as exc:
        kept = Path(tempfile.mkdtemp(prefix=f"pvbess-failed-{run.run_id}-"))
        if (work / name).exists():
            shutil.copy2(work / name, kept / name)
        raise ReportError(_failure_message(run.params_file, name, exc)
                          + f"\n  executed notebook kept in {kept / name}") from None
    except Exception as exc:  # noqa: BLE001 - a cell timeout, a dead kernel, ...
        cell = f"{running['index']} ({running['first']})" if running else "?"
        raise ReportError(f"{run.params_file}: notebook {name} failed in cell {cell}: "
                          f"{type(exc).__name__}: {exc}") from None


def _render_step(run: _Run, step: NotebookStep, notebooks_dir: Path, *, progress: bool,
                 kernel_name: str | None, zygote: KernelZygote | None = None) -> None:
    """Execute one notebook, convert it to HTML and check the files it wrote."""
    name, work = step.notebook, run.work
    _execute(run, step, notebooks_dir, progress=progress, kernel_name=kernel_name, zygote=zygote)
    _show_final_paths(work / name, work, run.final)
    notebook_to_html(work / name, work / step.html,
                     title=f"{run.run_id}: {name.removesuffix('.ipynb').replace('_', ' ')}")
    missing = [f for f in step.files if not (work / f).is_file()]
    if missing:
        raise ReportError(f"{run.params_file}: notebook {name} ran but did not write {missing}")
    if step.check is not None:
        try:
            step.check(work)
        except (ValueError, KeyError, OSError) as exc:
            raise ReportError(f"{run.params_file}: notebook {name} wrote a malformed file: "
                              f"{type(exc).__name__}: {exc}") from None


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


# -- scheduling -----------------------------------------------------------------------------------
def _expected_seconds(run: _Run, step: NotebookStep) -> float:
    """Seconds the notebook took when ``run`` was last rendered (papermill records it in the
    executed notebook); the step's :attr:`~NotebookStep.expected_s` when it never was."""
    try:
        meta = json.loads((run.final / step.notebook).read_text("utf-8"))
        return float(meta["metadata"]["papermill"]["duration"])
    except (OSError, ValueError, KeyError, TypeError):
        return step.expected_s


def _chain_seconds(run: _Run) -> dict[str, float]:
    """Per notebook of ``run``: its expected time plus the longest chain of notebooks that wait
    for it (the critical path from its start to the end of the report)."""
    chain: dict[str, float] = {}
    for step in reversed(run.steps):  # steps run in order: a notebook's readers come after it
        after = [chain[s.notebook] for s in run.steps if step.notebook in s.needs]
        chain[step.notebook] = _expected_seconds(run, step) + max(after, default=0.0)
    return chain


Task = tuple[_Run, NotebookStep]

#: After a Ctrl-C, how long the notebooks' threads get to finish once their kernels are ended. [s]
STOP_WAIT_S = 10.0


def _schedule(runs: Sequence[_Run], jobs: int, execute: Callable[[_Run, NotebookStep], None],
              finish: Callable[[_Run], None], stop: Callable[[], None] | None = None
              ) -> list[BaseException]:
    """Run every notebook of ``runs``, ``jobs`` at a time; ``finish(run)`` once all of a run's
    are done. Returns the failures, in the order of the runs and their steps: after the first,
    no notebook starts, and those under way finish.

    ``jobs == 1`` runs the notebooks here, params file by params file in order; otherwise each
    runs in a daemon thread (a Ctrl-C ends the process; its kernels stop with it), the next one
    chosen among those whose inputs are done by the longest chain of notebooks it leads. On a
    Ctrl-C (any exception here), ``stop()`` ends the kernels under way and their threads get
    :data:`STOP_WAIT_S` to finish, so that none writes into a folder the caller then removes.
    """
    order = [(r, s) for r in runs for s in r.steps]
    pending: list[Task] = list(order)
    if jobs > 1:
        chains = {id(r): _chain_seconds(r) for r in runs}
        pending.sort(key=lambda t: -chains[id(t[0])][t[1].notebook])  # stable: ties in order
    results: queue.Queue = queue.Queue()
    running: list[Task] = []
    failures: dict[int, BaseException] = {}  # position in ``order`` -> what went wrong

    def work(task: Task) -> None:
        try:
            execute(*task)
        except BaseException as exc:  # noqa: BLE001 - handed to the scheduling thread
            results.put((task, exc))
        else:
            results.put((task, None))
        finally:
            if jobs > 1:
                _close_thread_loop()

    threads: list[threading.Thread] = []
    try:
        while pending or running:
            while not failures and len(running) < jobs:
                task = next((t for t in pending if t[0].ready(t[1])), None)
                if task is None:
                    break
                pending.remove(task)
                running.append(task)
                task[0].started = task[0].started or time.perf_counter()
                if jobs == 1:
                    work(task)
                else:
                    threads.append(threading.Thread(
                        target=work, args=(task,), daemon=True,
                        name=f"{task[0].run_id}/{task[1].notebook}"))
                    threads[-1].start()
            if not running:
                break  # after a failure: nothing under way, nothing more to start
            task, exc = results.get()
            running.remove(task)
            run, step = task
            if exc is None:
                run.done.append(step.notebook)
                if len(run.done) == len(run.steps):
                    try:
                        finish(run)
                    except Exception as error:  # noqa: BLE001 - e.g. the folder was not replaced
                        exc = error
            if exc is not None:
                failures[order.index(task)] = exc
    except BaseException:
        if stop is not None:
            stop()
            deadline = time.monotonic() + STOP_WAIT_S
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
        raise
    return [failures[k] for k in sorted(failures)]


def _close_thread_loop() -> None:
    """Close the event loop jupyter_core made for this thread to drive the kernel: it keeps one
    per thread and never closes it, which would leave its sockets to the garbage collector."""
    from jupyter_core.utils import ensure_event_loop

    loop = ensure_event_loop()
    if not loop.is_running():
        loop.close()


def _render(params_files: Sequence[str | Path], reports_dir: Path, *, progress: bool,
            notebooks_dir: Path, kernel_name: str | None, log, jobs: int,
            preload: bool = True) -> list[Path]:
    """Render the params files (checked first); the report folders in input order. The
    kernels fork from a :class:`~pvbess.report.kernels.KernelZygote` unless ``preload`` is
    False, started first: it imports while the params files are read."""
    with _kernel_env(), preloaded_kernels(preload, cwd=PROJECT_ROOT) as zygote:
        return _render_runs(params_files, reports_dir, progress=progress,
                            notebooks_dir=notebooks_dir, kernel_name=kernel_name, log=log,
                            jobs=jobs, zygote=zygote)


def _render_runs(params_files: Sequence[str | Path], reports_dir: Path, *, progress: bool,
                 notebooks_dir: Path, kernel_name: str | None, log, jobs: int,
                 zygote: KernelZygote | None) -> list[Path]:
    plans = [load_params(p, notebooks_dir) for p in params_files]
    ids = [p["run_id"] for p in plans]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ReportError(f"run id(s) {dup} used by more than one params file")
    runs = [_Run(Path(path), plan, run_steps(plan), reports_dir / plan["run_id"])
            for path, plan in zip(params_files, plans, strict=True)]
    for line in clean_leftovers(reports_dir):
        log(f"  {line}")
    n_notebooks = sum(len(r.steps) for r in runs)
    if jobs > 1:
        log(f"rendering {len(runs)} reports ({n_notebooks} notebooks), {jobs} notebooks at a time")

    def execute(run: _Run, step: NotebookStep) -> None:
        if jobs == 1 and step is run.steps[0]:
            names = ", ".join(s.notebook.split("_", 1)[0] for s in run.steps)
            log(f"[{runs.index(run) + 1}/{len(runs)}] {run.params_file} -> {run.final}/ "
                f"(notebooks {names})")
        t0 = time.perf_counter()
        k = run.steps.index(step) + 1
        log(f"  {run.run_id}: [{k}/{len(run.steps)}] running {step.notebook}")
        _render_step(run, step, notebooks_dir, progress=progress and jobs == 1,
                     kernel_name=kernel_name, zygote=zygote)
        log(f"  {run.run_id}: {step.notebook} and its HTML done in "
            f"{time.perf_counter() - t0:.1f} s")

    def finish(run: _Run) -> None:
        replace_dir(run.work, run.final)
        run.work = None
        n = len(run.steps)
        log(f"  {run.run_id}: report ({n} notebook{'' if n == 1 else 's'}) done in "
            f"{time.perf_counter() - run.started:.1f} s wall")

    try:
        for run in runs:
            run.work = work_dir(reports_dir, run.run_id)
        failures = _schedule(runs, max(1, min(int(jobs), n_notebooks)), execute, finish,
                             stop=zygote.close if zygote is not None else None)
    finally:
        for run in runs:  # a failed or interrupted report leaves nothing half-written
            if run.work is not None:
                shutil.rmtree(run.work, ignore_errors=True)
    for exc in failures:  # anything but a notebook's failure (a Ctrl-C, a bug) as it is
        if not isinstance(exc, ReportError):
            raise exc
    if failures:  # notebooks run at once may fail together (one bad parameter): every one
        raise ReportError("\n".join(str(exc) for exc in failures))
    return [run.final for run in runs]


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
    (folder,) = _render([params_file], Path(reports_dir or REPORTS_DIR), progress=progress,
                        notebooks_dir=Path(notebooks_dir or NOTEBOOKS_DIR),
                        kernel_name=kernel_name, log=log, jobs=1)
    return folder


def render_report(params_files: Sequence[str | Path], reports_dir: str | Path | None = None, *,
                  progress: bool = True, notebooks_dir: str | Path | None = None,
                  kernel_name: str | None = None, log=print, jobs: int = 1,
                  preload_kernels: bool = True) -> list[Path]:
    """Render each params file into ``reports_dir/<run-id>/`` (see the module docstring).

    Every params file is checked (parameters, notebooks, distinct run ids) before any renders.
    ``jobs > 1`` runs that many notebooks at once, of any params files (cell progress bars are
    then replaced by one line per notebook); a report's folder is put in place as soon as its
    notebooks are done. The first failure stops the run (raising :class:`ReportError`, which
    names every notebook that failed): no new notebook starts, those under way finish, the
    reports already complete stay, and nothing half-written does. Returns the report folders in
    input order. The kernels fork from a process that has imported what the notebooks import
    (:mod:`pvbess.report.kernels`: the same outputs, seconds of CPU less per notebook) unless
    ``preload_kernels`` is False.
    """
    if not params_files:
        raise ReportError("no params files given (e.g. params/iquitos.yaml)")
    reports_dir = Path(reports_dir or REPORTS_DIR)
    out = _render(params_files, reports_dir, progress=progress,
                  notebooks_dir=Path(notebooks_dir or NOTEBOOKS_DIR), kernel_name=kernel_name,
                  log=log, jobs=jobs, preload=preload_kernels)
    write_index(reports_dir)
    return out
