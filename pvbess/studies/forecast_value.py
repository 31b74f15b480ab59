"""Where the money goes between the exact bound and the rules: the value of forecasts and of
re-planning, on the full bill.

:func:`bill_ladder` replays the scheduler over the same days with each forecast and lines the
results up with the exact bound (the LP with perfect foresight over the whole horizon), the
perfect-foresight DP, the six-phase rules and no battery, each priced by
:func:`pvbess.bill.site_bill`. Read top to bottom: perfect foresight over the horizon against the
bound is the DP's own gap; the day-by-day replay with perfect forecasts against that is what
planning one day at a time costs; each forecast below it is what its errors cost; the rules are
what the scheduler saves over them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..scheduler.forecasts import FORECASTS
from ..scheduler.replay import (
    EXACT, NO_BATTERY, PERFECT_DP, REPLAY, RULES, ReplayResult, replay,
)
from ..timeseries import DataError

__all__ = ["LADDER_COLUMNS", "bill_ladder"]

#: Columns of the ladder: the bill's and the gap to the bound in PEN and percent.
LADDER_COLUMNS: tuple[str, ...] = (
    "energy_cost_pen", "demand_cost_pen", "total_cost_pen", "co2_site_kg", "co2_net_kg",
    "gap_vs_exact", "gap_vs_exact_pct",
)


def bill_ladder(site_table: pd.DataFrame, forecasts: Sequence[str] = ("perfect", "persistence",
                                                                       "mean7", "noisy"),
                *, db_dir: str | os.PathLike[str] | None = None,
                **replay_options: Any) -> tuple[pd.DataFrame, dict[str, ReplayResult]]:
    """Replay each forecast and rank every strategy's bill from the bound to no battery.

    Parameters
    ----------
    site_table : pandas.DataFrame
        As :func:`pvbess.replay`.
    forecasts : sequence of str
        Forecasts to replay (``"perfect"``, ``"persistence"``, ``"mean7"``, ``"noisy"``).
    db_dir : path, optional
        Folder for one database per forecast (``replay_<forecast>.sqlite``, resumable); default
        in memory.
    **replay_options
        Keywords of :func:`pvbess.replay` (battery, start, days, tariff, bill, progress, ...);
        ``forecast_options`` maps a forecast's name to its options (e.g.
        ``{"noisy": {"seed": 1}}``; a forecast not among ``forecasts`` ignores them, a name
        that is no forecast is a ``DataError``).

    Returns
    -------
    table : DataFrame
        Rows ``exact_bound``, ``perfect_foresight_dp``, ``replay_<forecast>`` for each forecast,
        ``six_phase_rules``, ``no_battery``; columns :data:`LADDER_COLUMNS`.
    results : dict
        The :class:`~pvbess.scheduler.replay.ReplayResult` of each forecast.
    """
    if not forecasts:
        raise DataError("forecasts: give at least one forecast to replay")
    for key in ("forecast", "db", "compare"):
        if key in replay_options:
            raise TypeError(f"bill_ladder: {key!r} is set per forecast, not by the caller")
    options = dict(replay_options.pop("forecast_options", None) or {})
    unknown = sorted(set(options) - set(FORECASTS))
    if unknown:  # a typo; options of a known forecast not replayed are left unused
        raise DataError(f"forecast_options: {unknown} are no forecasts; known: {list(FORECASTS)}")
    results: dict[str, ReplayResult] = {}
    for name in forecasts:
        db: Any = ":memory:"
        if db_dir is not None:
            Path(db_dir).mkdir(parents=True, exist_ok=True)
            db = Path(db_dir) / f"replay_{name}.sqlite"
        results[name] = replay(site_table, forecast=name, db=db,
                               forecast_options=options.get(name), **replay_options)
    first = results[forecasts[0]].comparison
    if first.empty:
        raise DataError("bill_ladder: the replay did not finish (stop_after?)")
    rows = {EXACT: first.loc[EXACT], PERFECT_DP: first.loc[PERFECT_DP]}
    for name, res in results.items():
        rows[f"{REPLAY}_{name}"] = res.comparison.loc[REPLAY]
    for row in (RULES, NO_BATTERY):
        if row in first.index:
            rows[row] = first.loc[row]
    table = pd.DataFrame(rows).T
    bound = float(table.loc[EXACT, "total_cost_pen"])
    table["gap_vs_exact"] = table["total_cost_pen"] - bound
    table["gap_vs_exact_pct"] = 100.0 * table["gap_vs_exact"] / bound
    table.index.name = "strategy"
    return table[list(LADDER_COLUMNS)].astype(float), results
