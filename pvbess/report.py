"""Render the reports: papermill runs the notebooks of each params file into ``reports/<run-id>/``.

``python -m pvbess.report params/iquitos.yaml [more.yaml ...]`` (``make report``) renders, for each
parameter file, the notebooks it lists under ``notebooks:`` (default: 01, 02 and 03, a design's
report), in the order of :data:`STEPS`, into a temporary sibling folder of ``reports/<run-id>/``.
Each notebook gets the file's values of the parameters it declares (:func:`step_parameters`)
and leaves its executed copy ``NN_<name>.ipynb``, a self-contained ``NN_<name>.html`` (images and
plotly.js embedded, nothing loaded from the network) and its own files:

- ``01_annual_simulation``: ``balance.csv.gz`` and ``balance_meta.json`` (the balance table and
  its ``attrs``), ``summary.json`` (headline figures; :func:`read_summary` validates it);
- ``02_energy_balance_report`` (reads the balance of 01): ``figures/NN_<name>.png``, 16 figures;
- ``03_sizing_sweep``: ``sweep.csv.gz`` (one row per design), ``sweep_summary.json``,
  ``sweep_heatmaps.png``, ``sweep_pareto.png``;
- ``04_scheduling_replay``: ``scheduling_replay.json``, ``daily_view.png``,
  ``replay_comparison.png``, ``scheduler.sqlite`` (the scheduler's event history and plans).

Only when every notebook ran and its files exist and read back is the folder renamed into place
(replacing an older report of the same run id), so a failure never leaves a half-written report.
A failing cell stops the run with the notebook and cell named and a non-zero exit status.
Afterwards ``reports/index.html`` links every run's notebooks and compares the runs side by side
(``reports/summary.csv``: the KPIs of the annual simulations).

Besides the renderer this module holds what the notebooks and tests share: writing and reading
the balance table (:func:`write_balance`, :func:`read_balance`), the per-step energy identities
(:func:`balance_residuals`), and the summary JSON (:func:`make_summary`, :func:`write_summary`,
:func:`read_summary`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR
from .plotting import FIGURES
from .plotting.common import battery_of, e_initial_kwh, scenario_label

SUMMARY_NAME = "summary.json"
BALANCE_NAME = "balance.csv.gz"
BALANCE_META_NAME = "balance_meta.json"
FIGURES_DIRNAME = "figures"
SWEEP_TABLE_NAME = "sweep.csv.gz"  # as pvbess.studies.sizing.SWEEP_TABLE_NAME (a test checks)
SWEEP_SUMMARY_NAME = "sweep_summary.json"  # as pvbess.studies.sizing.SWEEP_SUMMARY_NAME
REPLAY_NAME = "scheduling_replay.json"
SUMMARY_SCHEMA = "pvbess.summary/1"

#: A cell running longer than this fails the report (a stalled kernel never hangs it). [s]
CELL_TIMEOUT_S = 600

#: Tolerance of the per-step energy identities. [kWh]
TOL_KWH = 1e-9

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ReportError(RuntimeError):
    """A report could not be rendered; the message names the params file, notebook and cell."""


# -- atomic files ---------------------------------------------------------------------------------
@contextlib.contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is for reading
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_text(path: Path, text: str) -> Path:
    with _atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _jsonable(value: Any) -> Any:
    """Plain JSON types; NaN and infinities become None (strict JSON has neither)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (str, type(None))):
        return value
    return str(value)


def save_png(fig, path: str | Path, dpi: int = 110):
    """Save a figure as PNG (atomically) and return it as an ``IPython.display.Image``.

    The notebook shows exactly the file it saved (the display also works when matplotlib's
    inline backend is not active, e.g. under ``MPLBACKEND=Agg``).
    """
    from IPython.display import Image

    path = Path(path)
    with _atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return Image(filename=str(path))


# -- the balance table on disk --------------------------------------------------------------------
def write_balance(balance: pd.DataFrame, directory: str | Path) -> Path:
    """Write the balance table (``balance.csv.gz``) and its attrs (``balance_meta.json``).

    Floats are written with full precision (they read back bit for bit); the index as local
    ISO timestamps with their UTC offset; ``attrs`` and the time zone go to the JSON file.
    Returns the CSV path.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"attrs": _jsonable(dict(balance.attrs)), "tz": str(balance.index.tz),
            "index_name": balance.index.name, "index_dtype": str(balance.index.dtype),
            "index_freq": balance.index.freqstr,
            "columns": list(balance.columns),
            "dtypes": {c: str(t) for c, t in balance.dtypes.items()}}
    # attrs may hold inf (export_limit_kw): keep it as a string so it reads back as inf
    meta["attrs_inf"] = _inf_paths(dict(balance.attrs))
    path = directory / BALANCE_NAME
    with _atomic_path(path) as tmp:
        balance.to_csv(tmp, index_label="time", compression="gzip", float_format=None)
    _write_text(directory / BALANCE_META_NAME, json.dumps(meta, indent=1, allow_nan=False))
    return path


def _inf_paths(value: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(value, Mapping):
        for k, v in value.items():
            out |= _inf_paths(v, f"{prefix}{k}/")
    elif isinstance(value, (float, np.floating)) and math.isinf(value):
        out[prefix.rstrip("/")] = 1.0 if value > 0 else -1.0
    return out


def read_balance(directory: str | Path) -> pd.DataFrame:
    """Read a balance written by :func:`write_balance` (same values, index, dtypes and attrs)."""
    directory = Path(directory)
    meta = json.loads((directory / BALANCE_META_NAME).read_text(encoding="utf-8"))
    frame = pd.read_csv(directory / BALANCE_NAME, index_col="time", compression="gzip",
                        keep_default_na=False, na_values=[""])
    index = pd.to_datetime(frame.index, utc=True, format="ISO8601").tz_convert(meta["tz"])
    index = pd.DatetimeIndex(index, name=meta.get("index_name"))
    if meta.get("index_dtype") and str(index.dtype) != meta["index_dtype"]:
        index = index.astype(meta["index_dtype"])
    if meta.get("index_freq"):
        index = pd.DatetimeIndex(index, freq=meta["index_freq"])
    frame.index = index
    for c, dtype in meta["dtypes"].items():
        if c in frame.columns and str(frame[c].dtype) != dtype:
            frame[c] = frame[c].astype(dtype)
    attrs = meta["attrs"]
    for path, sign in meta.get("attrs_inf", {}).items():
        node = attrs
        *parents, leaf = path.split("/")
        for p in parents:
            node = node[p]
        node[leaf] = math.copysign(math.inf, sign)
    frame.attrs.update(attrs)
    return frame[meta["columns"]]


# -- invariants -----------------------------------------------------------------------------------
def balance_residuals(balance: pd.DataFrame) -> pd.Series:
    """The largest violation of each energy identity of the spec over all steps. [kWh]

    ``pv_split`` (PV = its five destinations), ``ev_supply``, ``mall_supply``, ``grid_import``
    (= grid to EV + mall + battery), ``storage`` (E_next = E + eta_c*charge - discharge/eta_d,
    from the initial energy), ``soc_bounds`` (distance outside [E_min, E_max]),
    ``charge_and_discharge`` (min of the two in a step), ``charge_power`` and
    ``discharge_power`` (above P*dt), ``run_closure`` (the whole-run energy account, divided by
    the run's total energy so that it is comparable to 1e-9 per step). All should be <= 1e-9.
    """
    b = balance
    c = lambda name: b[name].to_numpy(dtype=float) if name in b else np.zeros(len(b))
    bat = battery_of(b)
    dt = float(b.attrs.get("dt_h") or (b.index[1] - b.index[0]).total_seconds() / 3600)
    charge = c("pv_to_bess_kwh") + c("grid_to_bess_kwh")
    discharge = c("bess_to_ev_kwh") + c("bess_to_mall_kwh") + c("bess_export_kwh")
    e = c("soc_kwh")
    e_prev = np.concatenate([[e_initial_kwh(b)], e[:-1]])
    out = {
        "pv_split": c("pv_kwh") - (c("pv_to_ev_kwh") + c("pv_to_bess_kwh") + c("pv_to_mall_kwh")
                                   + c("pv_export_kwh") + c("pv_curtailed_kwh")),
        "ev_supply": c("ev_kwh") - (c("pv_to_ev_kwh") + c("bess_to_ev_kwh") + c("grid_to_ev_kwh")),
        "mall_supply": c("mall_kwh") - (c("pv_to_mall_kwh") + c("bess_to_mall_kwh")
                                        + c("grid_to_mall_kwh")),
        "grid_import": c("grid_import_kwh") - (c("grid_to_ev_kwh") + c("grid_to_mall_kwh")
                                               + c("grid_to_bess_kwh")),
        "charge_column": c("bess_charge_kwh") - charge,
        "discharge_column": c("bess_discharge_kwh") - discharge,
    }
    if bat.capacity_kwh > 0:
        out["storage"] = e - (e_prev + bat.eta_charge * charge - discharge / bat.eta_discharge)
        out["soc_bounds"] = np.maximum.reduce([bat.e_min_kwh - e, e - bat.e_max_kwh,
                                               np.zeros(len(b))])
    else:
        out["storage"] = e
        out["soc_bounds"] = charge + discharge
    out["charge_and_discharge"] = np.minimum(charge, discharge)
    out["charge_power"] = np.maximum(charge - bat.power_charge_kw * dt, 0.0)
    out["discharge_power"] = np.maximum(discharge - bat.power_discharge_kw * dt, 0.0)
    res = pd.Series({k: float(np.max(np.abs(v))) if len(v) else 0.0 for k, v in out.items()})
    inflow = c("pv_kwh").sum() + c("grid_import_kwh").sum() + e_initial_kwh(b)
    outflow = (c("ev_kwh").sum() + c("mall_kwh").sum() + c("pv_export_kwh").sum()
               + c("bess_export_kwh").sum() + c("pv_curtailed_kwh").sum()
               + c("bess_loss_kwh").sum() + (e[-1] if len(e) else 0.0))
    res["run_closure"] = abs(inflow - outflow) / max(inflow, 1.0)
    return res


# -- the summary JSON -----------------------------------------------------------------------------
def make_summary(balance: pd.DataFrame, *, run_id: str, kpis: pd.Series | Mapping[str, float],
                 params: Mapping[str, Any] | None = None,
                 baselines: Mapping[str, pd.Series | Mapping[str, float]] | None = None,
                 extra: Mapping[str, Any] | None = None) -> dict:
    """The headline figures of a run as a JSON-ready dict (schema ``pvbess.summary/1``).

    ``kpis`` is ``pvbess.kpis(balance)``; ``baselines`` maps a name (e.g. ``"grid_only"``) to the
    KPIs of a baseline run. NaN becomes null. The run's scenario, battery, rules and tariff
    come from ``balance.attrs``; ``params`` are the notebook parameters as given.
    """
    attrs = balance.attrs
    summary = {
        "schema": SUMMARY_SCHEMA,
        "run_id": run_id,
        "scenario": scenario_label(balance),
        "strategy": attrs.get("strategy"),
        "start": str(balance.index[0]),
        "end": str(balance.index[-1]),
        "n_steps": len(balance),
        "dt_h": attrs.get("dt_h"),
        "pv_kwp": attrs.get("pv_kwp"),
        "co2_kg_per_kwh": attrs.get("co2_kg_per_kwh"),
        "battery": attrs.get("battery"),
        "rules": attrs.get("rules"),
        "tariff": attrs.get("tariff"),
        "params": dict(params or {}),
        "kpis": dict(kpis),
        "baselines": {k: dict(v) for k, v in (baselines or {}).items()},
        "checks": {"max_residual_kwh": balance_residuals(balance).to_dict()},
    }
    summary.update(dict(extra or {}))
    return _jsonable(summary)


def write_summary(summary: Mapping[str, Any], path: str | Path) -> Path:
    """Write the summary as strict JSON (atomically); validates it first."""
    validate_summary(summary)
    return _write_text(Path(path), json.dumps(_jsonable(summary), indent=1, allow_nan=False))


def validate_summary(summary: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``summary`` follows schema ``pvbess.summary/1``.

    Checks: the schema tag, a valid run id, the required keys, ``kpis`` (and each baseline) a
    non-empty mapping of names to numbers or null, and the residual checks numbers.
    """
    if not isinstance(summary, Mapping):
        # a malformed file is a ValueError, whatever went wrong in it
        raise ValueError(  # noqa: TRY004
            f"summary: expected a mapping, got {type(summary).__name__}")
    if summary.get("schema") != SUMMARY_SCHEMA:
        raise ValueError(f"summary: schema is {summary.get('schema')!r}, expected "
                         f"{SUMMARY_SCHEMA!r}")
    for key in ("run_id", "scenario", "strategy", "n_steps", "kpis", "checks"):
        if key not in summary:
            raise ValueError(f"summary: missing key {key!r}")
    if not (isinstance(summary["run_id"], str) and _RUN_ID.match(summary["run_id"])):
        raise ValueError(f"summary: run_id {summary['run_id']!r} is not a valid run id")
    tables = {"kpis": summary["kpis"], **{f"baselines/{k}": v
                                          for k, v in (summary.get("baselines") or {}).items()}}
    for where, table in tables.items():
        if not isinstance(table, Mapping) or not table:
            raise ValueError(f"summary: {where} must be a non-empty mapping")
        for name, value in table.items():
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, (int, float))):
                raise ValueError(f"summary: {where}/{name} = {value!r} is not a number")
    residuals = summary["checks"].get("max_residual_kwh", {})
    for name, value in residuals.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(  # noqa: TRY004
                f"summary: checks/max_residual_kwh/{name} = {value!r} is not a number")


def read_summary(path: str | Path) -> dict:
    """Read and validate a summary JSON; null KPIs come back as NaN."""
    summary = json.loads(Path(path).read_text(encoding="utf-8"))
    validate_summary(summary)
    for key in ("kpis",):
        summary[key] = {k: (math.nan if v is None else float(v)) for k, v in summary[key].items()}
    summary["baselines"] = {
        name: {k: (math.nan if v is None else float(v)) for k, v in table.items()}
        for name, table in (summary.get("baselines") or {}).items()}
    return summary


def summary_matches(summary: Mapping[str, Any], kpis: pd.Series | Mapping[str, float],
                    rtol: float = 1e-9, atol: float = 1e-9) -> list[str]:
    """The KPI names whose summary value differs from ``kpis`` (NaN equals NaN); [] if none."""
    table = summary["kpis"]
    kpis = dict(kpis)
    bad = [name for name in kpis if name not in table]
    for name, value in kpis.items():
        if name not in table:
            continue
        got = table[name]
        got = math.nan if got is None else float(got)
        value = float(value)
        if math.isnan(value) and math.isnan(got):
            continue
        if not math.isclose(got, value, rel_tol=rtol, abs_tol=atol):
            bad.append(name)
    bad += [name for name in table if name not in kpis]
    return bad


# -- the notebooks of a report --------------------------------------------------------------------
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
    """

    notebook: str
    title: str
    outputs: tuple[str, ...]
    needs: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict, hash=False)
    check: Callable[[Path], Any] | None = None

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
    from .studies.sizing import read_sweep

    table, summary = read_sweep(folder)
    if summary.get("n_designs") != len(table):
        raise ValueError(f"{SWEEP_SUMMARY_NAME}: n_designs {summary.get('n_designs')} but "
                         f"{len(table)} rows in {SWEEP_TABLE_NAME}")


def _check_replay(folder: Path) -> None:
    data = json.loads((folder / REPLAY_NAME).read_text(encoding="utf-8"))
    if not (isinstance(data, dict) and isinstance(data.get("cost"), dict) and data["cost"]):
        raise ValueError(f"{REPLAY_NAME}: expected a mapping with a non-empty 'cost' table")


#: Every notebook the report can render, in the order they run (a notebook's ``needs`` first).
STEPS: dict[str, NotebookStep] = {s.notebook: s for s in (
    NotebookStep("01_annual_simulation.ipynb", "simulation",
                 outputs=(SUMMARY_NAME, BALANCE_NAME, BALANCE_META_NAME), check=_check_summary),
    NotebookStep("02_energy_balance_report.ipynb", "energy balance",
                 outputs=tuple(f"{FIGURES_DIRNAME}/{spec.filename}" for spec in FIGURES),
                 needs=("01_annual_simulation.ipynb",)),
    NotebookStep("03_sizing_sweep.ipynb", "sizing sweep",
                 outputs=(SWEEP_TABLE_NAME, SWEEP_SUMMARY_NAME, "sweep_heatmaps.png",
                          "sweep_pareto.png"),
                 defaults={"progress": False},  # a tqdm widget would only become a note in HTML
                 check=_check_sweep),
    NotebookStep("04_scheduling_replay.ipynb", "scheduling replay",
                 outputs=(REPLAY_NAME, "daily_view.png", "replay_comparison.png",
                          "scheduler.sqlite"),
                 check=_check_replay),
)}

#: The notebooks a params file without a ``notebooks:`` key renders (a design's report).
DEFAULT_NOTEBOOKS: tuple[str, ...] = ("01_annual_simulation.ipynb",
                                      "02_energy_balance_report.ipynb", "03_sizing_sweep.ipynb")

#: Every notebook the report knows, in run order.
NOTEBOOKS: tuple[str, ...] = tuple(STEPS)

#: Parameters only the renderer sets (where a report is written and read).
RESERVED_PARAMS = ("output_dir", "input_dir")


# -- parameters -----------------------------------------------------------------------------------
def notebook_parameters(notebook: str | Path) -> dict[str, Any]:
    """The parameters of a notebook's ``parameters`` cell, name -> default (papermill)."""
    path = Path(notebook)
    return dict(_inspect_notebook(str(path.resolve()), path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=32)
def _inspect_notebook(path: str, mtime_ns: int) -> tuple[tuple[str, Any], ...]:
    import papermill

    info = papermill.inspect_notebook(path)
    return tuple((name, spec["default"]) for name, spec in info.items())


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
    data.setdefault("run_id", path.stem)
    run_id = str(data["run_id"])
    if not _RUN_ID.match(run_id):
        raise ReportError(f"{path}: run_id {run_id!r} must be letters, digits, '_', '-', '.'")
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


# -- rendering ------------------------------------------------------------------------------------
_REMOTE = re.compile(r"<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>\s*"
                     r"|<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>\s*", re.IGNORECASE)


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def notebook_to_html(notebook: str | Path, html_path: str | Path, title: str | None = None) -> Path:
    """Convert an executed notebook to self-contained HTML (no network needed to view it).

    nbconvert's lab template embeds outputs (PNGs as base64, plotly.js as emitted by
    :func:`pvbess.plotting.interactive.use_offline_plotly`); the remote scripts it links by default
    (require.js, MathJax from a CDN) are removed, as the notebooks need neither, and widget
    outputs (which would fetch a widget renderer from a CDN) become a short note.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:  # live widgets need a kernel: say so instead of fetching a renderer
        for output in cell.get("outputs", []):
            if WIDGET_MIME in output.get("data", {}):
                output["data"] = {"text/plain": "[interactive widget: open the notebook in "
                                                "Jupyter to use it]"}
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    title = title or Path(notebook).stem.replace("_", " ")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _REMOTE.sub("", body)
    return _write_text(Path(html_path), body)


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
    reports_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{run_id}.", suffix=".partial", dir=reports_dir))
    os.chmod(work, 0o777 & ~_umask())
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
                        report_mode=False, execution_timeout=CELL_TIMEOUT_S)
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
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{run_id}.", suffix=".old", dir=reports_dir))
            os.replace(final, old / run_id)
        os.replace(work, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        log(f"  {run_id}: report ({len(steps)} notebook{'' if len(steps) == 1 else 's'}) done in "
            f"{time.perf_counter() - t_run:.1f} s wall")
        return final
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


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
    the scheduling replays (``scheduling_replay.json``, notebook 04); ``summary.csv`` holds
    every KPI of the first table.
    """
    reports_dir = Path(reports_dir or REPORTS_DIR)
    e = html.escape
    folders = sorted(p for p in reports_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
                     and any((p / s.html).is_file() for s in STEPS.values()))
    rows, runs, sweeps, replays = {}, [], [], []
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
            cost = replay.get("cost") or {}
            replays.append([e(folder.name), e(str(replay.get("forecast"))),
                            *(e(_fmt(v)) for v in (
                                replay.get("periods"), cost.get("replay"),
                                cost.get("exact_bound"), cost.get("six_phase_rules"),
                                cost.get("no_battery"), replay.get("replay_gap_vs_exact_pct")))])
        runs.append([e(folder.name), e(scenario), links])
    table = pd.DataFrame(rows)
    with _atomic_path(reports_dir / "summary.csv") as tmp:
        table.to_csv(tmp, index_label="kpi")
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
        shown = table.loc[[h for h in headline if h in table.index]]
        parts += ["<h2>Annual simulations (headline KPIs)</h2>",
                  shown.to_html(float_format=_fmt, na_rep="n/a"),
                  ("<p>See summary.csv for every KPI. Units are in the KPI names (kwh, frac, "
                   "h, t, pen).</p>")]
    if sweeps:
        parts += ["<h2>Sizing sweeps (best design by NPV against PV only)</h2>",
                  _html_table(["run", "strategy", "designs", "Pareto front", "capacity [kWh]",
                               "power [kW]", "NPV vs PV only [PEN]",
                               "payback vs PV only [yr]"], sweeps)]
    if replays:
        parts += ["<h2>Scheduling replays (cost of the replayed period) [PEN]</h2>",
                  _html_table(["run", "forecast", "periods", "replay", "exact optimum",
                               "six-phase rules", "no battery", "gap vs exact [%]"], replays)]
    parts.append("</body></html>")
    return _write_text(reports_dir / "index.html", "".join(parts))


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
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = [pool.submit(render_one, path, reports_dir, progress=False,
                                   notebooks_dir=notebooks_dir, kernel_name=kernel_name)
                       for path in params_files]
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


def strip_notebook(path: str | Path) -> bool:
    """Remove outputs, execution counts and run metadata from a notebook in place.

    What git keeps of the notebooks (a test enforces it). Returns True if the file changed.
    """
    import nbformat

    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    before = nbformat.writes(nb)
    for key in ("papermill", "widgets"):
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        for key in ("papermill", "execution", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    after = nbformat.writes(nb)
    if after != before:
        _write_text(path, after)
    return after != before




def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m pvbess.report params/a.yaml [b.yaml ...]``."""
    parser = argparse.ArgumentParser(prog="python -m pvbess.report", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("params", nargs="+",
                        help="params YAML files (one report each); notebooks with --strip")
    parser.add_argument("--reports-dir", default=None, help=f"default: {REPORTS_DIR}")
    parser.add_argument("--no-progress", action="store_true", help="hide the cell progress bars")
    parser.add_argument("--jobs", "-j", type=int, default=0,
                        help="params files rendered at once (default: one per CPU core, at most "
                             "the number of files)")
    parser.add_argument("--strip", action="store_true",
                        help="strip outputs from the given notebooks instead of rendering")
    args = parser.parse_args(argv)
    if args.strip:
        for path in args.params:
            print(f"{path}: {'stripped' if strip_notebook(path) else 'already clean'}")
        return 0
    t0 = time.perf_counter()
    try:
        jobs = args.jobs or min(len(args.params), os.cpu_count() or 1)
        folders = render_report(args.params, args.reports_dir, progress=not args.no_progress,
                                jobs=jobs)
    except ReportError as exc:
        print(f"report FAILED after {time.perf_counter() - t0:.1f} s:\n{exc}", file=sys.stderr)
        return 1
    for folder in folders:
        pages = sorted(p.name for p in folder.glob("*.html"))
        print(f"report: {folder}/ ({', '.join(pages)})")
    print(f"index: {Path(args.reports_dir or REPORTS_DIR) / 'index.html'}")
    print(f"total wall time: {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
