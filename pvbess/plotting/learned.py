"""Figures and the display table of learned controllers (notebook 05).

Each takes the tables of :mod:`pvbess.learn.tables` (numbers only) and adds the words, units
(:func:`pvbess.variables.label`) and colours (:func:`pvbess.plotting.palette.strategy_color`);
the figures are bare matplotlib Figures, never saved or shown here, titled with the scenario.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..learn.tables import SUMMARY_COLUMNS, row_algorithm, seed_summary
from ..tariff import Tariff
from ..timeseries import DataError
from ..variables import format_value, label
from .common import legend_right, naive_local
from .daily_view import STRATEGY_LABELS
from .palette import strategy_color

__all__ = ["plot_learning_curves", "plot_policy_week", "plot_scores", "score_display",
           "strategy_words"]

SHARE = "optimal_saving_share_frac"
_AGENT_STYLES = ("-", "--", ":", "-.")
#: Characters of a 10-point title line per inch of figure width (with room to spare).
_CHARS_PER_INCH = 12


def _suptitle(fig: Figure, what: str, scenario: str) -> None:
    """What the figure shows, then the scenario, broken at its " · " into lines that fit."""
    limit = int(fig.get_figwidth() * _CHARS_PER_INCH)
    lines: list[str] = []
    for part in scenario.split(" · "):
        if lines and len(lines[-1]) + 3 + len(part) <= limit:
            lines[-1] += " · " + part
        else:
            lines += textwrap.wrap(part, limit) or [""]
    fig.suptitle("\n".join([*textwrap.wrap(what, limit), *lines]), fontsize=10)


def strategy_words(name: str, seeds: int | None = None) -> str:
    """Words for a strategy row or algorithm: ``"exact optimum (LP)"``, ``"scheduler,
    persistence forecast"``, ``"PPO, seed 1"``, ``"PPO (3 seeds)"``."""
    if name in STRATEGY_LABELS:
        return STRATEGY_LABELS[name]
    if name.startswith("scheduler_"):
        return f"scheduler, {name.removeprefix('scheduler_')} forecast"
    algorithm, _, seed = name.rpartition("_s")
    if algorithm and seed.isdigit():
        return f"{algorithm}, seed {seed}"
    if seeds is not None:
        return f"{name} ({seeds} seed{'' if seeds == 1 else 's'})"
    return name


def score_display(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`pvbess.learn.tables.seed_summary` for readers: a row per strategy in words, a
    column per quantity with its unit, cells ``mean ± std`` over seeds (one value for a single
    run), fractions in %."""
    quantities = [q for q in SUMMARY_COLUMNS if q in summary.columns.get_level_values(0)]
    n = summary[("seeds", "n")]
    rows = {}
    for name in summary.index:
        agent = name in STRATEGY_LABELS or name.startswith("scheduler_")
        words = strategy_words(name) if agent else strategy_words(name, int(n[name]))
        cells = {}
        for q in quantities:
            mean, std = summary.loc[name, (q, "mean")], summary.loc[name, (q, "std")]
            text = format_value(q, mean)
            if n[name] > 1 and pd.notna(std):
                text += f" ± {format_value(q, std)}"
            cells[label(q)] = text
        rows[words] = cells
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "strategy"
    return table


def plot_scores(table: pd.DataFrame, scenario: str) -> Figure:
    """Each strategy's share of the optimal saving on the held-out months, best first.

    A bar is the mean over seeds, a dot each seed, the whisker the range; the LP bound is 100 %,
    no battery 0 %. ``table``: :attr:`pvbess.learn.scores.LearnedScores.table`.
    """
    summary = seed_summary(table, (SHARE,)).sort_values((SHARE, "mean"), ascending=False)
    group = row_algorithm(table)
    pct = 100.0
    fig = Figure(figsize=(9.5, 0.5 * len(summary) + 1.9), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(summary))[::-1]
    means = summary[(SHARE, "mean")].to_numpy() * pct
    lows, highs = (summary[(SHARE, s)].to_numpy() * pct for s in ("min", "max"))
    colours = [strategy_color(name) for name in summary.index]
    ax.barh(y, means, color=colours, alpha=0.85, height=0.6)
    spread = summary[("seeds", "n")].to_numpy() > 1
    if spread.any():
        ax.errorbar(means[spread], y[spread],
                    xerr=[means[spread] - lows[spread], highs[spread] - means[spread]],
                    fmt="none", ecolor="black", capsize=3, lw=1)
    for yy, name in zip(y, summary.index, strict=True):
        seeds = table.loc[group == name, SHARE].to_numpy() * pct
        if len(seeds) > 1:
            ax.plot(seeds, np.full(len(seeds), yy), "o", ms=3.5, color="black",
                    label="one seed" if yy == y[spread][0] else None)
    left = min(0.0, float(np.nanmin(lows))) - 5.0
    column = max(100.0, float(np.nanmax(highs))) + 4.0  # the values in one column, right
    for yy, mean in zip(y, means, strict=True):
        text = "n/a" if not np.isfinite(mean) else f"{format_value(SHARE, mean / pct)} %"
        ax.text(column, yy, text, va="center", fontsize=8)
    right = column + 14.0
    words = [strategy_words(name, int(summary.loc[name, ("seeds", "n")]))
             if not (name in STRATEGY_LABELS or name.startswith("scheduler_"))
             else strategy_words(name) for name in summary.index]
    ax.set_yticks(y, words)
    ax.axvline(0.0, color="black", lw=0.8)
    ax.axvline(100.0, color="black", lw=0.8, ls=":")
    ax.set_xlim(left, right)
    ax.set_xlabel(label(SHARE) + ": 100 = the LP bound, 0 = no battery")
    if spread.any():
        ax.legend(loc="lower right", fontsize=8)
    _suptitle(fig, "Share of the optimal saving on the held-out months", scenario)
    return fig


def plot_learning_curves(curves: pd.DataFrame, scenario: str,
                         table: pd.DataFrame | None = None) -> Figure:
    """Share of the optimal saving against training steps, per algorithm (colour) and seed
    (line style).

    Left: each training episode (the exploring policy on the training months, against their
    optimum); right: the deterministic policy evaluated on the held-out months during training,
    with the rules' and the scheduler's shares from ``table`` as dashed references.

    Parameters
    ----------
    curves : DataFrame
        :func:`pvbess.learn.tables.learning_curves`.
    scenario : str
        For the title.
    table : DataFrame, optional
        The score table, for the reference lines.
    """
    fig = Figure(figsize=(12, 4.6), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    kinds = (("training", "training episodes (exploring policy, training months)"),
             ("evaluation", "evaluations (deterministic policy, held-out months)"))
    seeds = sorted(curves["seed"].unique()) if len(curves) else []
    for ax, (kind, what) in zip(axes, kinds, strict=True):
        ax.set_title(what, fontsize=9)
        part = curves[curves["kind"] == kind]
        if part.empty:
            ax.axis("off")
            ax.text(0.5, 0.5, f"no {kind} points recorded\n(more steps"
                    + (" or eval_points > 0)" if kind == "evaluation" else " than one episode)"),
                    transform=ax.transAxes, ha="center", va="center", color="#868e96")
            continue
        for (algorithm, seed), line in part.groupby(["algorithm", "seed"], sort=False):
            style = _AGENT_STYLES[seeds.index(seed) % len(_AGENT_STYLES)]
            ax.plot(line["timesteps"], line[SHARE] * 100.0, style, marker=".",
                    color=strategy_color(str(algorithm)), label=f"{algorithm}, seed {seed}")
        ax.axhline(100.0, color=strategy_color("exact"), lw=0.8, ls=":",
                   label=strategy_words("exact"))
        ax.axhline(0.0, color=strategy_color("no_battery"), lw=0.8, label="no battery")
        if kind == "evaluation" and table is not None:
            for name in table.index[table["seed"].isna()]:
                if name.startswith("scheduler_") or name == "six_phase":
                    ax.axhline(table.loc[name, SHARE] * 100.0, color=strategy_color(name),
                               lw=1.0, ls="--", label=strategy_words(name))
        ax.set_xlabel(label("train_steps"))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # 200,000 needs room: few ticks
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(label(SHARE))
    shown = [ax for ax in axes if ax.axison]
    if shown:
        legend_right(shown[-1])
    _suptitle(fig, "Learning curves: share of the optimal saving while training", scenario)
    return fig


def plot_policy_week(week: pd.DataFrame, scenario: str, tariff: Tariff | None = None) -> Figure:
    """One held-out week: each policy's stored energy and applied setpoint against the LP
    bound's and the rules'; the tariff's HP hours shaded.

    ``week``: :func:`pvbess.learn.tables.policy_week`.
    """
    if not isinstance(week.columns, pd.MultiIndex) or week.empty:
        raise DataError("policy week: expected columns (strategy, quantity) with rows; "
                        "see pvbess.learn.tables.policy_week")
    fig = Figure(figsize=(12, 6.8), layout="constrained")
    ax_e, ax_p = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    time = naive_local(week.index)
    step = time[1] - time[0] if len(time) > 1 else pd.Timedelta(hours=1)
    if tariff is not None:
        peak = np.asarray(tariff.is_peak(week.index), dtype=bool)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], peak.astype(int), [0]])))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            for ax in (ax_e, ax_p):
                ax.axvspan(time[start], time[stop - 1] + step, color="#fff3bf", zorder=0,
                           label="HP hours" if ax is ax_e and start == edges[0] else None)
    strategies = list(dict.fromkeys(week.columns.get_level_values(0)))
    for name in strategies:
        reference = name in ("exact", "six_phase")
        style = dict(color=strategy_color(name), label=strategy_words(name),
                     lw=2.2 if name == "exact" else 1.3,
                     ls="--" if name == "six_phase" else "-", zorder=3 if reference else 2)
        ax_e.plot(time + step, week[(name, "soe_end_kwh")], **style)
        ax_p.step(time, week[(name, "setpoint_kwh")], where="post", **style)
    ax_e.set_ylabel(label("soe_end_kwh"))
    ax_p.set_ylabel(label("setpoint_kwh"))
    ax_p.set_title("setpoint as applied by the plant (after its power, storage and charging "
                   "limits)", fontsize=9)
    ax_p.axhline(0.0, color="black", lw=0.6)
    ax_p.set_xlabel("local time")
    for ax in (ax_e, ax_p):
        ax.grid(alpha=0.3)
    legend_right(ax_e)
    days = (time[-1] + step - time[0]) / pd.Timedelta(days=1)
    _suptitle(fig, f"{days:g} held-out days from {time[0]:%Y-%m-%d}: stored energy and setpoint "
              "of each policy against the optimum", scenario)
    return fig
