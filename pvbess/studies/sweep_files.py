"""Files of a sizing sweep: the table (``sweep.csv.gz``) and its headline summary (JSON).

:func:`write_sweep` writes both atomically (a temporary name moved into place);
:func:`read_sweep` reads them back; :func:`sweep_summary` is the JSON-ready summary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SWEEP_SUMMARY_NAME", "SWEEP_TABLE_NAME", "read_sweep", "sweep_summary",
           "write_sweep"]

SWEEP_TABLE_NAME = "sweep.csv.gz"
SWEEP_SUMMARY_NAME = "sweep_summary.json"
SWEEP_SUMMARY_SCHEMA = "pvbess.sweep_summary/1"

#: Headline columns of the best design in :func:`sweep_summary`.
_SUMMARY_COLUMNS = ("capacity_kwh", "power_kw", "pv_scale", "pv_kwp", "self_sufficiency_frac",
                    "co2_t", "co2_avoided_vs_pv_only_t", "equivalent_full_cycles",
                    "total_cost_pen", "capex_bess_pen", "npv_vs_grid_pen", "npv_vs_pv_pen",
                    "payback_vs_pv_years", "lcos_pen_per_kwh", "cost_per_tco2_vs_pv_pen",
                    "eac_pen_per_year")


def _plain(value: Any) -> Any:
    """JSON-ready: NaN and infinities become None; numpy scalars become Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def sweep_summary(table: pd.DataFrame, *, run_id: str = "sweep",
                  by: str = "npv_vs_pv_pen") -> dict:
    """Headline figures of a sweep as a JSON-ready dict (schema ``pvbess.sweep_summary/1``).

    Holds the number of designs, the swept parameters and their values, the strategy, the
    size of the Pareto front, the best design by ``by`` (largest) with its headline columns,
    and the specs (``table.attrs``). NaN and infinities become null.
    """
    best = table.loc[table[by].idxmax()]
    params = list(table.attrs.get("parameters", ()))
    return _plain({
        "schema": SWEEP_SUMMARY_SCHEMA,
        "run_id": run_id,
        "strategy": table.attrs.get("strategy"),
        "n_designs": len(table),
        "parameters": {p: sorted(table[p].unique().tolist()) for p in params},
        "n_pareto": int(table["pareto"].sum()),
        "best_by": by,
        "best_config": int(best.name),
        "best": {c: best[c] for c in (*params, *_SUMMARY_COLUMNS) if c in table.columns},
        "specs": {k: table.attrs.get(k) for k in ("battery", "rules", "tariff", "site", "pv",
                                                  "economics", "years")},
    })


def _atomic_write(path, write) -> None:
    """Call ``write(tmp_path)`` and move the file into place only if it succeeded."""
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_sweep(table: pd.DataFrame, directory, *, run_id: str = "sweep",
                by: str = "npv_vs_pv_pen"):
    """Write ``sweep.csv.gz`` (the table) and ``sweep_summary.json`` into ``directory``.

    Both are written to a temporary name and moved into place. Returns the two paths.
    """
    import json
    from pathlib import Path

    directory = Path(directory)
    table_path = directory / SWEEP_TABLE_NAME
    summary_path = directory / SWEEP_SUMMARY_NAME
    _atomic_write(table_path, lambda tmp: table.to_csv(tmp, compression="gzip"))
    text = json.dumps(sweep_summary(table, run_id=run_id, by=by), indent=1, allow_nan=False)
    _atomic_write(summary_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return table_path, summary_path


def read_sweep(directory) -> tuple[pd.DataFrame, dict]:
    """Read back what :func:`write_sweep` wrote: the table and the summary dict."""
    import json
    from pathlib import Path

    directory = Path(directory)
    table = pd.read_csv(directory / SWEEP_TABLE_NAME, index_col="config")
    summary = json.loads((directory / SWEEP_SUMMARY_NAME).read_text(encoding="utf-8"))
    if summary.get("schema") != SWEEP_SUMMARY_SCHEMA:
        raise ValueError(f"{directory / SWEEP_SUMMARY_NAME}: schema {summary.get('schema')!r}, "
                         f"expected {SWEEP_SUMMARY_SCHEMA!r}")
    return table, summary
