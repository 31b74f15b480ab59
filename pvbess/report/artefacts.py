"""The files of a report, at the bottom of the stack: atomic writes, the balance table on disk,
the summary JSON and figure PNGs.

Anything may import this module (notebooks, the renderer, tests): it needs only NumPy, pandas
and the standard library at import time.

File names of a report folder (``reports/<run-id>/``):

- ``balance.csv.gz`` and ``balance_meta.json``: the balance table and its ``attrs``
  (:func:`write_balance`, :func:`read_balance`; floats read back bit for bit);
- ``summary.json``: the headline figures of a run, schema ``pvbess.summary/1``
  (:func:`make_summary`, :func:`write_summary`, :func:`validate_summary`, :func:`read_summary`);
- ``figures/NN_<name>.png`` (:func:`save_png`), the sweep's and the replay's files.

The writers return the paths they wrote; :func:`file_names` lists a notebook's own files from
them (a report folder is shared by the notebooks of a run, rendered side by side).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SUMMARY_NAME = "summary.json"
BALANCE_NAME = "balance.csv.gz"
BALANCE_META_NAME = "balance_meta.json"
FIGURES_DIRNAME = "figures"
SWEEP_TABLE_NAME = "sweep.csv.gz"  # as pvbess.studies.sizing.SWEEP_TABLE_NAME (a test checks)
SWEEP_SUMMARY_NAME = "sweep_summary.json"  # as pvbess.studies.sizing.SWEEP_SUMMARY_NAME
REPLAY_NAME = "scheduling_replay.json"
#: Headline figures of the learned controllers (notebook 05).
LEARNED_NAME = "learned_controllers.json"
SUMMARY_SCHEMA = "pvbess.summary/1"

#: What a run id may be: letters, digits, ``_``, ``-``, ``.``, not starting with ``.``/``-``/``_``.
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z")  # \Z: no trailing newline


# -- atomic files ---------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; move it into place only if the block succeeds.

    Readers never see a half-written file: they see the old one or the new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; a report is for reading
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# -- atomic folders -------------------------------------------------------------------------------
_RENAME_EXCHANGE = 2  # renameat2(2) flag: swap two paths in one step (Linux >= 3.15)
_LEFTOVER = re.compile(r"^\.(?P<run>[^.].*)\.(?P<pid>\d+)\.[^.]+\.(?P<kind>partial|old)$")


def work_dir(reports_dir: Path, run_id: str) -> Path:
    """A new hidden sibling folder ``.<run-id>.<pid>.<random>.partial`` to build a report in.

    The process id in its name lets a later run tell a killed run's leftover from a running one
    (:func:`clean_leftovers`).
    """
    reports_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{run_id}.{os.getpid()}.", suffix=".partial",
                                 dir=reports_dir))
    os.chmod(work, 0o777 & ~current_umask())
    return work


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (``renameat2(RENAME_EXCHANGE)``); False if not supported."""
    import ctypes
    import errno

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def replace_dir(new: Path, final: Path) -> None:
    """Put the folder ``new`` in place of ``final``; a reader sees the old or the new, whole.

    Where the file system can swap two folders in one step, it does so, and the old report ends
    in ``new``'s place, removed afterwards. Elsewhere the old folder is first moved into a
    ``.<run-id>.<pid>.<random>.old`` sibling: a kill between the two renames leaves it there,
    and the next run puts it back (:func:`clean_leftovers`).
    """
    new, final = Path(new), Path(final)
    if not final.exists():
        os.replace(new, final)
        return
    if _exchange(new, final):
        shutil.rmtree(new, ignore_errors=True)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".old",
                                dir=final.parent))
    os.replace(final, old / final.name)
    os.replace(new, final)
    shutil.rmtree(old, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def clean_leftovers(reports_dir: Path) -> list[str]:
    """Undo what killed runs left in ``reports_dir``; returns what was done, one line each.

    A ``.partial`` build folder of a dead process is removed; a ``.old`` folder of a dead
    process whose report is missing is put back in place (the kill fell between the two renames
    of :func:`replace_dir`), otherwise removed. Folders of live processes are left alone.
    """
    done: list[str] = []
    reports_dir = Path(reports_dir)
    if not reports_dir.is_dir():
        return done
    for path in sorted(reports_dir.iterdir()):
        match = _LEFTOVER.match(path.name)
        if not path.is_dir() or match is None or _alive(int(match["pid"])):
            continue
        run_id, kept = match["run"], path / match["run"]
        if match["kind"] == "old" and kept.is_dir() and not (reports_dir / run_id).exists():
            os.replace(kept, reports_dir / run_id)
            done.append(f"restored {reports_dir / run_id} (a killed run had moved it aside)")
        shutil.rmtree(path, ignore_errors=True)
        done.append(f"removed {path.name} (left by a killed run)")
    return done


def current_umask() -> int:
    """The process's file mode creation mask (read without changing it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: Path, text: str) -> Path:
    """Write a UTF-8 text file atomically (:func:`atomic_path`); returns its path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def jsonable(value: Any) -> Any:
    """Plain JSON types; NaN and infinities become None (strict JSON has neither)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
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
    inline backend is not active, e.g. under ``MPLBACKEND=Agg``). A figure with constrained
    layout is laid out once before (:func:`pvbess.plotting.common.laid_out`): the pixels of
    ``fig.savefig``, a tenth less work.
    """
    from IPython.display import Image

    from ..plotting.common import laid_out

    path = Path(path)
    with atomic_path(path) as tmp, laid_out(fig, dpi):
        fig.savefig(tmp, dpi=dpi, format="png")
    return Image(filename=str(path))


def file_names(folder: str | Path, *paths: str | Path) -> list[str]:
    """The files a notebook wrote into ``folder``, as sorted paths relative to it.

    ``paths`` are what its writers returned and the paths it saved figures under: the listing
    is the run's own files, whatever else the shared report folder holds (another notebook's
    files, a file being written). A path outside ``folder`` or not a file is a ValueError: the
    listing never names a file the run did not leave there.
    """
    folder = Path(folder).resolve()
    names = set()
    for path in map(Path, paths):
        full = path.resolve()  # as the writer returned it: relative to the working directory
        if not full.is_relative_to(folder):
            raise ValueError(f"{path}: not inside the report folder {folder}")
        if not full.is_file():
            raise ValueError(f"{path}: no such file in {folder}")
        names.add(full.relative_to(folder).as_posix())
    return sorted(names)


# -- the balance table on disk --------------------------------------------------------------------
def write_balance(balance: pd.DataFrame, directory: str | Path) -> tuple[Path, Path]:
    """Write the balance table (``balance.csv.gz``) and its attrs (``balance_meta.json``).

    Floats are written with full precision (they read back bit for bit); the index as local
    ISO timestamps with their UTC offset; ``attrs`` and the time zone go to the JSON file.
    Returns the two paths written: the CSV, then the JSON.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"attrs": jsonable(dict(balance.attrs)), "tz": str(balance.index.tz),
            "index_name": balance.index.name, "index_dtype": str(balance.index.dtype),
            "index_freq": balance.index.freqstr,
            "columns": list(balance.columns),
            "dtypes": {c: str(t) for c, t in balance.dtypes.items()}}
    # attrs may hold inf (export_limit_kw): keep it as a string so it reads back as inf
    meta["attrs_inf"] = _inf_paths(dict(balance.attrs))
    path = directory / BALANCE_NAME
    with atomic_path(path) as tmp:
        # zlib's default level: half the CPU of gzip's 9 for a file 1.4 % larger
        balance.to_csv(tmp, index_label="time", float_format=None,
                       compression={"method": "gzip", "compresslevel": 6})
    meta_path = write_text(directory / BALANCE_META_NAME,
                           json.dumps(meta, indent=1, allow_nan=False))
    return path, meta_path


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


# -- the summary JSON -----------------------------------------------------------------------------
def make_summary(balance: pd.DataFrame, *, run_id: str, kpis: pd.Series | Mapping[str, float],
                 params: Mapping[str, Any] | None = None,
                 baselines: Mapping[str, pd.Series | Mapping[str, float]] | None = None,
                 extra: Mapping[str, Any] | None = None) -> dict:
    """The headline figures of a run as a JSON-ready dict (schema ``pvbess.summary/1``).

    ``kpis`` is ``pvbess.kpis(balance)``; ``baselines`` maps a name (e.g. ``"grid_only"``) to the
    KPIs of a baseline run. NaN becomes null. The run's scenario, battery, rules and tariff
    come from ``balance.attrs``; ``params`` are the notebook parameters as given. ``checks``
    records :func:`pvbess.max_residuals` (the largest violation of each energy identity).
    """
    # imported here, not at the top: this module stays importable without numba or matplotlib
    from ..identities import max_residuals
    from ..plotting import scenario_label

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
        "checks": {"max_residual_kwh": max_residuals(balance).to_dict()},
    }
    summary.update(dict(extra or {}))
    return jsonable(summary)


def write_summary(summary: Mapping[str, Any], path: str | Path) -> Path:
    """Write the summary as strict JSON (atomically); validates it first."""
    validate_summary(summary)
    return write_text(Path(path), json.dumps(jsonable(summary), indent=1, allow_nan=False))


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
    if not (isinstance(summary["run_id"], str) and RUN_ID.match(summary["run_id"])):
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

