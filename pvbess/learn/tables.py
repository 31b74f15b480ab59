"""The tables behind notebook 05's figures, from :class:`~pvbess.learn.scores.LearnedScores`.

Plain pandas (no training, no torch): :func:`seed_summary` (each algorithm's mean and spread
over its seeds beside the reference rows), :func:`learning_curves` (each agent's bills while it
trained, as shares of the optimal saving), :func:`representative_rows` and :func:`policy_week`
(one held-out week of stored energy and setpoint per policy, the LP's and the rules' beside
them) and :func:`scores_headline` (the JSON a report keeps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..timeseries import DataError
from .scores import EXACT, NO_BATTERY, RULES, LearnedScores, share_of_optimal_saving

__all__ = ["CURVE_TABLE_COLUMNS", "SPREAD_STATS", "SUMMARY_COLUMNS", "WEEK_QUANTITIES",
           "learning_curves", "policy_week", "representative_rows", "row_algorithm",
           "scores_headline", "seed_summary"]

#: The quantities :func:`seed_summary` summarises over seeds.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "optimal_saving_share_frac", "energy_cost_pen", "demand_cost_pen", "total_cost_pen",
    "co2_site_kg", "co2_net_kg", "train_time_s",
)
#: The statistics over seeds: ``std`` is the sample standard deviation (NaN for one seed).
SPREAD_STATS: tuple[str, ...] = ("mean", "std", "min", "max")
#: Columns of :func:`learning_curves`.
CURVE_TABLE_COLUMNS: tuple[str, ...] = ("algorithm", "seed", "kind", "timesteps",
                                        "total_cost_pen", "optimal_saving_share_frac")
#: What :func:`policy_week` shows per strategy: the stored energy at the end of each period and
#: the setpoint as applied by the plant (charge - discharge, after its limits). [kWh]
WEEK_QUANTITIES: tuple[str, ...] = ("soe_end_kwh", "setpoint_kwh")


def row_algorithm(table: pd.DataFrame) -> pd.Series:
    """Each row's group: an agent row (``seed`` set) its algorithm, any other row itself."""
    seeds = table["seed"] if "seed" in table.columns else pd.Series(np.nan, index=table.index)
    names = [name.removesuffix(f"_s{int(seed)}") if pd.notna(seed) else name
             for name, seed in zip(table.index, seeds, strict=True)]
    return pd.Series(names, index=table.index, name="strategy")


def seed_summary(table: pd.DataFrame,
                 quantities: Sequence[str] = SUMMARY_COLUMNS) -> pd.DataFrame:
    """Each algorithm's mean and spread over its seeds, beside the reference rows.

    Parameters
    ----------
    table : DataFrame
        :attr:`LearnedScores.table`.
    quantities : sequence of str
        Its columns to summarise.

    Returns
    -------
    DataFrame
        One row per strategy (the reference rows, then each algorithm, in the table's order);
        columns ``("seeds", "n")`` and ``(quantity, stat)`` for :data:`SPREAD_STATS`. A
        reference row is one value (``std`` NaN).
    """
    missing = [q for q in quantities if q not in table.columns]
    if missing:
        raise DataError(f"score table: missing column(s) {missing}; have {list(table.columns)}")
    group = row_algorithm(table)
    order = list(dict.fromkeys(group))
    grouped = table[list(quantities)].groupby(group, sort=False)
    summary = grouped.agg(list(SPREAD_STATS)).reindex(order)
    summary.insert(0, ("seeds", "n"), grouped.size().reindex(order))
    return summary


def learning_curves(scores: LearnedScores) -> pd.DataFrame:
    """Every agent's learning curve as shares of the optimal saving: :data:`CURVE_TABLE_COLUMNS`.

    A training episode's bill is over the training months and becomes a share against their
    LP bound and no battery; an evaluation's bill is over the held-out months, against theirs
    (:attr:`LearnedScores.references`). Empty when no agent recorded a point.
    """
    frames = []
    refs = scores.references
    for agent in scores.agents.values():
        curve = agent.curve
        if curve.empty:
            continue
        months = np.where(curve["kind"] == "training", "train", "test")
        share = [share_of_optimal_saving(cost, refs.loc[m, NO_BATTERY], refs.loc[m, EXACT])
                 for cost, m in zip(curve["total_cost_pen"], months, strict=True)]
        frames.append(curve.assign(algorithm=agent.algorithm, seed=agent.seed,
                                   optimal_saving_share_frac=share))
    if not frames:
        return pd.DataFrame(columns=list(CURVE_TABLE_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(CURVE_TABLE_COLUMNS)]


def representative_rows(table: pd.DataFrame) -> dict[str, str]:
    """Per algorithm, the agent row of its median seed by share of the optimal saving (of an
    even number of seeds, the lower of the middle two: the figure never flatters)."""
    group = row_algorithm(table)
    out = {}
    for algorithm, rows in table[table["seed"].notna()].groupby(group, sort=False):
        ranked = rows["optimal_saving_share_frac"].sort_values(kind="stable")
        out[str(algorithm)] = str(ranked.index[(len(ranked) - 1) // 2])
    return out


def policy_week(scores: LearnedScores, start: Any = None, days: int = 7) -> pd.DataFrame:
    """Stored energy and applied setpoint over one held-out week, per policy.

    Parameters
    ----------
    scores : LearnedScores
    start : date-like, optional
        First local day (default: the first local midnight of the held-out months).
    days : int
        Days shown (fewer if the held-out months end sooner).

    Returns
    -------
    DataFrame
        Columns ``(strategy, quantity)``: the LP bound (``exact``), the six-phase rules and each
        algorithm's :func:`representative_rows` agent; quantities :data:`WEEK_QUANTITIES`. [kWh]
    """
    rows = [EXACT, RULES, *representative_rows(scores.table).values()]
    index = scores.battery[EXACT].index
    local = index.tz_localize(None) if index.tz is not None else index
    if start is None or start == "":
        midnights = local[local == local.normalize()]
        first = midnights[0] if len(midnights) else local[0]
    else:
        first = pd.Timestamp(start)
        first = first.tz_localize(None) if first.tz is not None else first
    mask = (local >= first) & (local < first + pd.Timedelta(days=int(days)))
    if not mask.any():
        raise DataError(f"week from {first.date()}: not in the held-out months ({index[0]} .. "
                        f"{index[-1]})")
    parts = {}
    for row in rows:
        frame = scores.battery[row].loc[mask]
        parts[row] = pd.DataFrame({
            "soe_end_kwh": frame["soe_end_kwh"],
            "setpoint_kwh": frame["bess_charge_kwh"] - frame["bess_discharge_kwh"]})
    week = pd.concat(parts, axis=1, names=["strategy", "quantity"])
    return week


def scores_headline(scores: LearnedScores, summary: pd.DataFrame, **extra: Any) -> dict:
    """The figures a report keeps (``learned_controllers.json``): per row of the score table
    its share, bills and CO2; per strategy of ``summary`` (:func:`seed_summary`) the share's
    statistics; ``extra`` (run id, scenario, parameters) as given."""
    table = scores.table
    columns = ("optimal_saving_share_frac", "energy_cost_pen", "demand_cost_pen",
               "total_cost_pen", "co2_site_kg", "co2_net_kg", "train_time_s", "train_steps")
    share = summary["optimal_saving_share_frac"]
    return {**extra,
            **{c: {str(k): float(v) for k, v in table[c].items()} for c in columns},
            "summary": {str(k): {"seeds": int(summary.loc[k, ("seeds", "n")]),
                                 **{s: float(share.loc[k, s]) for s in SPREAD_STATS}}
                        for k in summary.index},
            "references": {m: {c: float(scores.references.loc[m, c])
                               for c in scores.references.columns}
                           for m in scores.references.index}}
