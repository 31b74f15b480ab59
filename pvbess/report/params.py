"""The notebooks of a report and their parameters: params files, steps, what each notebook gets.

A params file (``params/<run-id>.yaml``) is a flat mapping of notebook parameters; its optional
``notebooks:`` key lists the notebooks of the report (default :data:`DEFAULT_NOTEBOOKS`), which
run in the order of :data:`STEPS`. :func:`load_params` reads and checks a file,
:func:`run_steps` gives its steps and :func:`step_parameters` what papermill passes to each.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import NOTEBOOKS_DIR
from ..plotting import FIGURE_FILENAMES
from ..timeseries import DataError
from .artefacts import (
    BALANCE_META_NAME,
    BALANCE_NAME,
    FIGURES_DIRNAME,
    LEARNED_NAME,
    REPLAY_NAME,
    RUN_ID,
    SUMMARY_NAME,
    SWEEP_SUMMARY_NAME,
    SWEEP_TABLE_NAME,
    read_summary,
)


class ReportError(DataError):
    """A report could not be rendered; the message names the params file, notebook and cell.

    A :class:`pvbess.DataError`: what stops a report is its input (a params file, a notebook's
    data) and the message says where."""


@dataclass(frozen=True)
class NotebookStep:
    """One notebook of a report: what it writes and what it needs.

    Attributes
    ----------
    notebook : str
        File name in ``notebooks/``; the executed copy keeps it, its HTML ends in ``.html``.
    title : str
        Link text in ``reports/index.html``.
    outputs : tuple of str
        Files it writes into the report folder (paths relative to it), besides the executed
        notebook and its HTML; the report fails if one is missing.
    needs : tuple of str
        Notebooks that must run before it in the same report: it reads their files, passed as
        its ``input_dir`` parameter (the report folder).
    defaults : mapping
        Values of its parameters the report uses unless the params file sets them.
    check : callable or None
        ``check(folder)`` reads its outputs back and raises ValueError if one is malformed.
    cell_timeout_s : float
        A cell running longer than this fails the report (a stalled kernel never hangs it). [s]
    expected_s : float
        About how long it runs with the report's defaults, kernel start included, when no
        earlier render says: the renderer starts the longest chains of notebooks first. [s]
    """

    notebook: str
    title: str
    outputs: tuple[str, ...]
    needs: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict, hash=False)
    check: Callable[[Path], Any] | None = None
    cell_timeout_s: float = 600.0
    expected_s: float = 10.0

    @property
    def html(self) -> str:
        """File name of the rendered HTML."""
        return self.notebook.removesuffix(".ipynb") + ".html"

    @property
    def files(self) -> tuple[str, ...]:
        """Every file the step leaves in the report folder (notebook, HTML, outputs)."""
        return (self.notebook, self.html, *self.outputs)


def _check_summary(folder: Path) -> None:
    read_summary(folder / SUMMARY_NAME)


def _check_sweep(folder: Path) -> None:
    from ..studies.sizing import read_sweep

    table, summary = read_sweep(folder)
    if summary.get("n_designs") != len(table):
        raise ValueError(f"{SWEEP_SUMMARY_NAME}: n_designs {summary.get('n_designs')} but "
                         f"{len(table)} rows in {SWEEP_TABLE_NAME}")


def _check_replay(folder: Path) -> None:
    data = json.loads((folder / REPLAY_NAME).read_text(encoding="utf-8"))
    if not (isinstance(data, dict) and isinstance(data.get("total_cost_pen"), dict)
            and data["total_cost_pen"]):
        raise ValueError(f"{REPLAY_NAME}: expected a mapping with a non-empty 'total_cost_pen' table")


def _check_learned(folder: Path) -> None:
    """The score table of notebook 05: the LP bound scores 1, no battery 0, every share a number
    (or null where undefined), every row's bill at or above the bound."""
    import math

    data = json.loads((folder / LEARNED_NAME).read_text(encoding="utf-8"))
    share = data.get("optimal_saving_share_frac") if isinstance(data, dict) else None
    cost = data.get("total_cost_pen") if isinstance(data, dict) else None
    if not (isinstance(share, dict) and isinstance(cost, dict) and share.keys() == cost.keys()
            and {"exact", "no_battery"} <= share.keys()):
        raise ValueError(f"{LEARNED_NAME}: expected 'optimal_saving_share_frac' and "
                         "'total_cost_pen' tables with rows 'exact' and 'no_battery'")
    if not (math.isclose(share["exact"], 1.0) and abs(share["no_battery"]) < 1e-9):
        raise ValueError(f"{LEARNED_NAME}: the LP bound must score 1 and no battery 0, got "
                         f"{share['exact']} and {share['no_battery']}")
    bound = cost["exact"]
    below = [k for k, v in cost.items() if not isinstance(v, int | float)
             or v < bound - 1e-9 * abs(bound)]
    if below:
        raise ValueError(f"{LEARNED_NAME}: rows {below} bill less than the LP bound {bound}")


#: Every notebook the report can render, in the order they run (a notebook's ``needs`` first).
STEPS: dict[str, NotebookStep] = {s.notebook: s for s in (
    NotebookStep("01_annual_simulation.ipynb", "simulation",
                 outputs=(SUMMARY_NAME, BALANCE_NAME, BALANCE_META_NAME), check=_check_summary,
                 expected_s=7.0),
    NotebookStep("02_energy_balance_report.ipynb", "energy balance",
                 outputs=tuple(f"{FIGURES_DIRNAME}/{name}" for name in FIGURE_FILENAMES),
                 needs=("01_annual_simulation.ipynb",), expected_s=11.0),
    NotebookStep("03_sizing_sweep.ipynb", "sizing sweep",
                 outputs=(SWEEP_TABLE_NAME, SWEEP_SUMMARY_NAME, "sweep_heatmaps.png",
                          "sweep_pareto.png"),
                 defaults={"progress": False},  # a tqdm widget would only become a note in HTML
                 check=_check_sweep, expected_s=8.0),
    NotebookStep("04_scheduling_replay.ipynb", "scheduling replay",
                 outputs=(REPLAY_NAME, "daily_view.png", "replay_comparison.png"),
                 defaults={"progress": False},  # as 03: the bars would only become notes
                 check=_check_replay, expected_s=14.0),
    NotebookStep("05_learned_controllers.ipynb", "learned controllers",
                 outputs=(LEARNED_NAME, "learned_scores.csv", "learned_scores.png",
                          "learning_curves.png", "policy_week.png"),
                 check=_check_learned,
                 # the full budget trains for tens of minutes in one cell
                 cell_timeout_s=3 * 3600.0, expected_s=1800.0),
)}

#: The notebooks a params file without a ``notebooks:`` key renders (a design's report).
DEFAULT_NOTEBOOKS: tuple[str, ...] = ("01_annual_simulation.ipynb",
                                      "02_energy_balance_report.ipynb", "03_sizing_sweep.ipynb")

#: Every notebook the report knows, in run order.
NOTEBOOKS: tuple[str, ...] = tuple(STEPS)

#: Longest run id: a folder name with room for the build folder's prefix and suffix.
MAX_RUN_ID = 120

#: Parameters only the renderer sets (where a report is written and read).
RESERVED_PARAMS = ("output_dir", "input_dir")


# -- parameters -----------------------------------------------------------------------------------
def notebook_parameters(notebook: str | Path) -> dict[str, Any]:
    """The parameters of a notebook's ``parameters`` cell, name -> default (papermill)."""
    path = Path(notebook)
    return dict(_inspect_notebook(str(path.resolve()), path.stat().st_mtime_ns))


def notebook_parameter_types(notebook: str | Path) -> dict[str, str]:
    """The declared type of each parameter of a notebook (``float``, ``str``, ``list`` ...)."""
    path = Path(notebook)
    return dict(_inspect_types(str(path.resolve()), path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=32)
def _inspect_notebook(path: str, mtime_ns: int) -> tuple[tuple[str, Any], ...]:
    return tuple((name, spec["default"]) for name, spec in _inspect(path, mtime_ns).items())


@functools.lru_cache(maxsize=32)
def _inspect_types(path: str, mtime_ns: int) -> tuple[tuple[str, str], ...]:
    return tuple((name, str(spec["inferred_type_name"]))
                 for name, spec in _inspect(path, mtime_ns).items())


@functools.lru_cache(maxsize=32)
def _inspect(path: str, mtime_ns: int) -> dict[str, dict]:
    import papermill

    return papermill.inspect_notebook(path)


#: What a params file may give for a parameter declared with each type (YAML's own types).
_ACCEPTS: dict[str, tuple[type, ...]] = {
    "float": (int, float), "int": (int,), "bool": (bool,), "str": (str,), "list": (list,),
    "dict": (dict,),
}


def _check_value(path: Path, name: str, value: Any, declared: str) -> None:
    """A params value of the type its notebook declares, finite where a number; else a
    ReportError naming the file, the parameter, the value and the type expected."""
    import math

    accepted = _ACCEPTS.get(declared)
    if accepted is None:  # a type this check does not know: the notebook checks it
        return
    wrong = not isinstance(value, accepted) or (declared != "bool" and isinstance(value, bool))
    if wrong:
        hint = (" (write true or false without quotes)" if declared == "bool"
                and isinstance(value, str) else "")
        raise ReportError(f"{path}: parameter {name}: {value!r} is {type(value).__name__}, "
                          f"the notebook declares {declared}{hint}")
    if declared == "float" and not math.isfinite(value):
        raise ReportError(f"{path}: parameter {name}: {value!r} is not a finite number")
    if declared == "str" and value != value.strip():
        raise ReportError(f"{path}: parameter {name}: {value!r} has leading or trailing "
                          "white space (a newline?)")


def _notebook_names(path: Path, value: Any) -> tuple[str, ...]:
    """The ``notebooks:`` entry of a params file as known notebook file names, checked."""
    if value is None:
        return DEFAULT_NOTEBOOKS
    if isinstance(value, str) or not isinstance(value, list) or not value:
        raise ReportError(f"{path}: notebooks must be a non-empty list of notebook names, e.g. "
                          f"[{NOTEBOOKS[0]}]")
    names = []
    for item in value:
        name = str(item) if str(item).endswith(".ipynb") else f"{item}.ipynb"
        if name not in STEPS:
            raise ReportError(f"{path}: unknown notebook {item!r}; known: {list(STEPS)}")
        if name in names:
            raise ReportError(f"{path}: notebook {name} listed twice")
        names.append(name)
    names.sort(key=list(STEPS).index)  # run order
    for name in names:
        missing = [n for n in STEPS[name].needs if n not in names]
        if missing:
            raise ReportError(f"{path}: notebook {name} reads the files of {missing}: list "
                              f"{'it' if len(missing) == 1 else 'them'} in notebooks too")
    return tuple(names)


def load_params(path: str | Path, notebooks_dir: str | Path | None = None) -> dict[str, Any]:
    """Read a params YAML file: notebook parameters and the notebooks to render.

    The file is a flat mapping. The optional key ``notebooks`` lists the notebooks of the
    report (file names in ``notebooks/``, ``.ipynb`` optional; default :data:`DEFAULT_NOTEBOOKS`);
    they run in the order of :data:`STEPS`. Every other name must be a parameter of at least
    one of them; each notebook receives the names it declares (a name shared by two notebooks
    means the same in both: ``data_path`` is a site CSV for 01 and 03, ``data_dir`` a dataset
    folder for 04). Unknown names are an error naming them and the known ones; ``output_dir``
    and ``input_dir`` are the renderer's; ``run_id`` defaults to the file's stem.

    Returns
    -------
    dict
        The parameters, with ``run_id`` and ``notebooks`` (a tuple of file names) always set.
    """
    import datetime

    import yaml

    path = Path(path)
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ReportError(f"{path}: params file not found") from None
    except yaml.YAMLError as exc:
        raise ReportError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a mapping of parameter names to values")
    notebooks = _notebook_names(path, data.pop("notebooks", None))
    known: set[str] = set()
    for name in notebooks:
        try:
            known |= set(notebook_parameters(notebooks_dir / name))
        except FileNotFoundError:
            raise ReportError(f"{path}: notebook {notebooks_dir / name} not found") from None
    reserved = sorted(set(data) & set(RESERVED_PARAMS))
    if reserved:
        raise ReportError(f"{path}: {reserved} set by the report renderer, not by a params file")
    unknown = sorted(set(data) - known)
    if unknown:
        raise ReportError(f"{path}: unknown parameter(s) {unknown} for notebooks "
                          f"{list(notebooks)}; known: {sorted(known - set(RESERVED_PARAMS))}")
    for key, value in data.items():  # YAML reads 2025-03-13 as a date; notebooks take strings
        if isinstance(value, (datetime.date, datetime.datetime)):
            data[key] = value.isoformat()
    types: dict[str, str] = {}
    for name in notebooks:
        types.update(notebook_parameter_types(notebooks_dir / name))
    for key, value in data.items():
        _check_value(path, key, value, types[key])
    data.setdefault("run_id", path.stem)
    run_id = str(data["run_id"])
    if not RUN_ID.match(run_id) or len(run_id) > MAX_RUN_ID:
        raise ReportError(f"{path}: run_id {run_id!r} must be 1 to {MAX_RUN_ID} letters, digits, "
                          "'_', '-', '.'")
    data["run_id"] = run_id
    data["notebooks"] = notebooks
    return data


def run_steps(params: Mapping[str, Any]) -> tuple[NotebookStep, ...]:
    """The steps of a run, in order, from :func:`load_params`' ``notebooks``."""
    return tuple(STEPS[name] for name in params.get("notebooks", DEFAULT_NOTEBOOKS))


def step_parameters(step: NotebookStep, params: Mapping[str, Any],
                    declared: Mapping[str, Any] | set[str], folder: str | Path) -> dict[str, Any]:
    """What papermill passes to ``step``'s notebook.

    Its report :attr:`~NotebookStep.defaults`, overridden by the params file's values of the
    names the notebook ``declared``, plus ``output_dir`` (the report folder being built) and,
    when the step needs other notebooks, ``input_dir`` (the same folder).
    """
    chosen = {k: v for k, v in {**step.defaults, **params}.items()
              if k in declared and k not in RESERVED_PARAMS}
    chosen["output_dir"] = str(folder)
    if step.needs:
        chosen["input_dir"] = str(folder)
    return chosen


def expected_files(notebooks: Sequence[str] = DEFAULT_NOTEBOOKS) -> list[str]:
    """Files a report of ``notebooks`` holds, relative to ``reports/<run-id>/``."""
    return [f for name in notebooks for f in STEPS[name].files]

