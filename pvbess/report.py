"""Render the annual report: papermill runs the notebooks into ``reports/<run-id>/``.

``python -m pvbess.report params/iquitos.yaml [more.yaml ...]`` (``make report``) renders, for each
parameter file, ``notebooks/01_annual_simulation.ipynb`` (simulation, KPIs, balance table,
summary JSON) and then ``notebooks/02_energy_balance_report.ipynb`` (the 16 figures, reading the
balance written by 01) into a temporary sibling folder of ``reports/<run-id>/``:

- ``01_annual_simulation.ipynb``, ``02_energy_balance_report.ipynb``: the executed notebooks;
- ``01_annual_simulation.html``, ``02_energy_balance_report.html``: self-contained HTML (images
  and plotly.js embedded, no script or stylesheet loaded from the network);
- ``figures/NN_<name>.png``: the 16 figures;
- ``balance.csv.gz`` and ``balance_meta.json``: the balance table and its ``attrs``;
- ``summary.json``: the headline figures (:func:`read_summary` validates it).

Only when both notebooks ran and every expected file exists is the folder renamed into place
(replacing an older report of the same run id), so a failure never leaves a half-written report.
A failing cell stops the run with the notebook and cell named and a non-zero exit status.
Afterwards ``reports/index.html`` and ``reports/summary.csv`` compare all runs side by side.

Besides the renderer this module holds what the notebooks and tests share: writing and reading
the balance table (:func:`write_balance`, :func:`read_balance`), the per-step energy identities
(:func:`balance_residuals`), and the summary JSON (:func:`make_summary`, :func:`write_summary`,
:func:`read_summary`).
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR
from .figures import FIGURES
from .figures._common import battery_of, e_initial_kwh, scenario_label

NOTEBOOKS: tuple[str, str] = ("01_annual_simulation.ipynb", "02_energy_balance_report.ipynb")
SUMMARY_NAME = "summary.json"
BALANCE_NAME = "balance.csv.gz"
BALANCE_META_NAME = "balance_meta.json"
FIGURES_DIRNAME = "figures"
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


# -- parameters -----------------------------------------------------------------------------------
def notebook_parameters(notebook: str | Path) -> dict[str, Any]:
    """The parameters of a notebook's ``parameters`` cell, name -> default (papermill)."""
    import papermill

    info = papermill.inspect_notebook(str(notebook))
    return {name: spec["default"] for name, spec in info.items()}


def load_params(path: str | Path, notebook: str | Path | None = None) -> dict[str, Any]:
    """Read a params YAML file (a flat mapping of notebook 01's parameters).

    Unknown names are an error naming them and the known ones; ``run_id`` defaults to the file's
    stem.
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ReportError(f"{path}: params file not found") from None
    except yaml.YAMLError as exc:
        raise ReportError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a mapping of parameter names to values")
    known = notebook_parameters(notebook or NOTEBOOKS_DIR / NOTEBOOKS[0])
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ReportError(f"{path}: unknown parameter(s) {unknown}; known: {sorted(known)}")
    import datetime

    for key, value in data.items():  # YAML reads 2025-03-13 as a date; notebooks take strings
        if isinstance(value, (datetime.date, datetime.datetime)):
            data[key] = value.isoformat()
    data.setdefault("run_id", path.stem)
    run_id = str(data["run_id"])
    if not _RUN_ID.match(run_id):
        raise ReportError(f"{path}: run_id {run_id!r} must be letters, digits, '_', '-', '.'")
    data["run_id"] = run_id
    return data


# -- rendering ------------------------------------------------------------------------------------
_REMOTE = re.compile(r"<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>\s*"
                     r"|<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>\s*", re.IGNORECASE)


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def notebook_to_html(notebook: str | Path, html_path: str | Path, title: str | None = None) -> Path:
    """Convert an executed notebook to self-contained HTML (no network needed to view it).

    nbconvert's lab template embeds outputs (PNGs as base64, plotly.js as emitted by
    :func:`pvbess.interactive.use_offline_plotly`); the remote scripts it links by default
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


def expected_files() -> list[str]:
    """Files every rendered report holds, relative to ``reports/<run-id>/``."""
    return [*NOTEBOOKS, *(n.replace(".ipynb", ".html") for n in NOTEBOOKS), SUMMARY_NAME,
            BALANCE_NAME, BALANCE_META_NAME,
            *(f"{FIGURES_DIRNAME}/{spec.filename}" for spec in FIGURES)]


def render_one(params_file: str | Path, reports_dir: str | Path | None = None, *,
               progress: bool = True, notebooks_dir: str | Path | None = None,
               kernel_name: str | None = None, log=print) -> Path:
    """Render one params file into ``reports_dir/<run-id>/``; returns that folder.

    Raises
    ------
    ReportError
        A notebook failed (the message names the notebook and cell) or an expected file is
        missing. Nothing is left in ``reports_dir`` (the failed executed notebook is kept in a
        temporary folder named in the message).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    params_file = Path(params_file)
    reports_dir = Path(reports_dir or REPORTS_DIR)
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)
    params = load_params(params_file, notebooks_dir / NOTEBOOKS[0])
    run_id = params["run_id"]
    reports_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{run_id}.", suffix=".partial", dir=reports_dir))
    os.chmod(work, 0o777 & ~_umask())
    try:
        runs = [
            (NOTEBOOKS[0], {**params, "output_dir": str(work)}),
            (NOTEBOOKS[1], {"run_id": run_id, "input_dir": str(work), "output_dir": str(work),
                            "day": str(params.get("day", ""))}),
        ]
        for name, parameters in runs:
            t0 = time.perf_counter()
            log(f"  {run_id}: running {name}")
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
            notebook_to_html(work / name, work / name.replace(".ipynb", ".html"),
                             title=f"{run_id}: {name.removesuffix('.ipynb').replace('_', ' ')}")
            log(f"  {run_id}: {name} and its HTML done in {time.perf_counter() - t0:.1f} s")
        missing = [f for f in expected_files() if not (work / f).is_file()]
        if missing:
            raise ReportError(f"{params_file}: the notebooks ran but did not write {missing}")
        read_summary(work / SUMMARY_NAME)
        final = reports_dir / run_id
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{run_id}.", suffix=".old", dir=reports_dir))
            os.replace(final, old / run_id)
        os.replace(work, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return final
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def write_index(reports_dir: str | Path | None = None) -> Path:
    """``reports/summary.csv`` and ``reports/index.html``: the KPIs of every run side by side."""
    reports_dir = Path(reports_dir or REPORTS_DIR)
    rows = {}
    for path in sorted(reports_dir.glob(f"*/{SUMMARY_NAME}")):
        if path.parent.name.startswith("."):
            continue
        try:
            s = read_summary(path)
        except (ValueError, OSError):
            continue
        rows[s["run_id"]] = {"scenario": s["scenario"], **s["kpis"]}
    table = pd.DataFrame(rows)
    with _atomic_path(reports_dir / "summary.csv") as tmp:
        table.to_csv(tmp, index_label="kpi")
    headline = ["pv_kwh", "load_kwh", "grid_import_kwh", "self_sufficiency_frac",
                "self_consumption_frac", "equivalent_full_cycles", "closure_miss_days",
                "hours_above_peak_after_h", "co2_t", "co2_avoided_vs_grid_only_t",
                "co2_avoided_vs_pv_only_t", "total_cost_pen"]
    shown = table.loc[[h for h in headline if h in table.index]] if len(table) else table
    links = " · ".join(f'<a href="{html.escape(r)}/02_energy_balance_report.html">{html.escape(r)}'
                       f'</a> (<a href="{html.escape(r)}/01_annual_simulation.html">simulation</a>)'
                       for r in table.columns)
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>pvbess reports</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;text-align:right}"
        "th:first-child,td:first-child{text-align:left}</style></head><body>"
        f"<h1>pvbess reports</h1><p>{links}</p>"
        + shown.to_html(float_format=lambda v: f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}",
                        na_rep="n/a")
        + "<p>See summary.csv for every KPI. Units are in the KPI names (kwh, frac, h, t, pen)."
          "</p></body></html>")
    return _write_text(reports_dir / "index.html", page)


def render_report(params_files: Sequence[str | Path], reports_dir: str | Path | None = None, *,
                  progress: bool = True, notebooks_dir: str | Path | None = None,
                  kernel_name: str | None = None, log=print, jobs: int = 1) -> list[Path]:
    """Render each params file into ``reports_dir/<run-id>/`` (see the module docstring).

    ``jobs > 1`` renders that many params files at once in worker processes (cell progress bars
    are then replaced by one line per notebook). The first failure stops the run (raising
    :class:`ReportError`): no new render starts, renders under way finish, the reports already
    rendered stay, and nothing half-written does. Returns the report folders in input order.
    """
    if not params_files:
        raise ReportError("no params files given (e.g. params/iquitos.yaml)")
    reports_dir = Path(reports_dir or REPORTS_DIR)
    ids = [load_params(p, Path(notebooks_dir or NOTEBOOKS_DIR) / NOTEBOOKS[0])["run_id"]
           for p in params_files]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ReportError(f"run id(s) {dup} used by more than one params file")
    jobs = max(1, min(int(jobs), len(params_files)))
    out: list[Path] = []
    if jobs == 1:
        for k, path in enumerate(params_files, start=1):
            t0 = time.perf_counter()
            log(f"[{k}/{len(params_files)}] {path} -> {reports_dir / ids[k - 1]}/")
            out.append(render_one(path, reports_dir, progress=progress,
                                  notebooks_dir=notebooks_dir, kernel_name=kernel_name, log=log))
            log(f"  done in {time.perf_counter() - t0:.1f} s")
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
        print(f"report: {folder}/02_energy_balance_report.html")
    print(f"total wall time: {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
