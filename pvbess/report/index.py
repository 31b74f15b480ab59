"""The index of all runs: ``reports/index.html`` and ``reports/summary.csv``.

:func:`write_index` reads what each run's notebooks left (``summary.json`` of 01, the sweep of 03,
the replay of 04, the learned controllers of 05) and lines the runs up side by side; it renders
nothing itself.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import REPORTS_DIR
from ..variables import format_value, label, unit_of
from .artefacts import (
    LEARNED_NAME,
    REPLAY_NAME,
    SUMMARY_NAME,
    SWEEP_SUMMARY_NAME,
    atomic_path,
    read_summary,
    write_text,
)
from .params import STEPS


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
