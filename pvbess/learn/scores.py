"""Learned controllers scored against the optimum on the full bill, on held-out months.

:func:`score_table` trains each algorithm and seed on the training months
(:func:`pvbess.learn.agents.train_agents`), replays every policy through
``simulate(strategy="schedule")`` on the held-out months and puts it beside the LP bound
(:func:`pvbess.exact_schedule` on the full bill), the six-phase rules, no battery and, if asked,
the forecast-driven scheduler's replay, every row priced by :func:`pvbess.bill.site_bill`:

``optimal_saving_share_frac = (bill(no battery) - bill(strategy)) / (bill(no battery) - bill(LP))``

1 is the optimum, 0 no better than no battery, below 0 worse than no battery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..battery import Battery
from ..bill import bill_table, site_bill
from ..scheduler.replay import replay
from ..site import Site
from ..studies.optimal_dispatch import iquitos_optimal_dispatch
from ..tariff import Tariff
from ..timeseries import DataError
from .agents import (
    ALGORITHMS,
    TrainedAgent,
    balance_bill,
    evaluate_agent,
    evaluation_steps,
    train_agents,
    whole_number,
)

__all__ = ["BATTERY_COLUMNS", "EXACT", "NO_BATTERY", "RULES", "SCORE_COLUMNS", "LearnedScores",
           "agent_row", "score_table", "share_of_optimal_saving", "split_months"]

#: Columns :func:`score_table` adds to :data:`pvbess.bill.BILL_COLUMNS`.
SCORE_COLUMNS: tuple[str, ...] = ("optimal_saving_share_frac", "train_time_s",
                                  "train_steps", "seed")
#: The reference rows: the LP bound, the six-phase rules, no battery (PV only).
EXACT, RULES, NO_BATTERY = "exact", "six_phase", "no_battery"
#: The battery's columns kept per strategy for the held-out months. [kWh]
BATTERY_COLUMNS: tuple[str, ...] = ("soe_end_kwh", "bess_charge_kwh", "bess_discharge_kwh")


def agent_row(algorithm: str, seed: int) -> str:
    """The score table's row of an agent, e.g. ``"PPO_s0"``."""
    return f"{algorithm}_s{int(seed)}"


def split_months(site: pd.DataFrame, train: tuple[str, str], test: tuple[str, str]
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training and held-out periods of a site table.

    ``train`` and ``test`` are ``(first, last)`` local dates or months (``"2025-03-03"``,
    ``"2025-01"``), both inclusive, as pandas slices a tz-aware index by them.

    Raises
    ------
    DataError
        A bound pandas cannot read, a span with no period of the table, or spans that overlap.
    """
    parts = []
    for what, (first, last) in (("train", train), ("test", test)):
        try:
            part = site.loc[str(first):str(last)]
        except (KeyError, ValueError, TypeError) as exc:
            raise DataError(f"{what} months {first!r} to {last!r}: not dates or months of the "
                            f"table ({exc})") from None
        if part.empty:
            raise DataError(f"{what} months {first!r} to {last!r}: no period of the table "
                            f"({site.index[0]} .. {site.index[-1]})")
        parts.append(part)
    train_site, test_site = parts
    if train_site.index.intersection(test_site.index).size:
        raise DataError(f"train months {train} and test months {test} overlap: the held-out "
                        "months must be unseen in training")
    return train_site, test_site


def share_of_optimal_saving(cost: Any, no_battery_cost: float, optimal_cost: float) -> Any:
    """``(no battery - cost) / (no battery - optimum)``: 1 optimal, 0 no saving; NaN when the
    optimum saves nothing. [-]"""
    saving = float(no_battery_cost) - float(optimal_cost)
    return (float(no_battery_cost) - cost) / (saving if saving > 0 else np.nan)


@dataclass
class LearnedScores:
    """What :func:`score_table` found.

    Attributes
    ----------
    table : DataFrame
        One row per strategy (``exact``, ``six_phase``, ``no_battery``, ``scheduler_<forecast>``
        if asked, then ``SAC_s0``...): :data:`pvbess.bill.BILL_COLUMNS` and
        :data:`SCORE_COLUMNS` over the held-out months.
    agents : dict
        The :class:`~pvbess.learn.agents.TrainedAgent` of each agent row.
    battery : dict
        Per strategy row (the scheduler's excepted) its :data:`BATTERY_COLUMNS` over the
        held-out months; for ``exact`` the LP's plan. [kWh]
    references : DataFrame
        ``total_cost_pen`` of ``exact`` and ``no_battery`` (columns) on the ``train`` and
        ``test`` months (rows): what turns a bill into a share of the optimal saving. [PEN]
    scenario : str
        One line naming the battery, the months and the bill (for titles).
    """

    table: pd.DataFrame
    agents: dict[str, TrainedAgent]
    battery: dict[str, pd.DataFrame] = field(default_factory=dict)
    references: pd.DataFrame = field(default_factory=pd.DataFrame)
    scenario: str = ""


def _scheduler_bill(site: pd.DataFrame, forecast: str, battery: Battery, tariff: Tariff,
                    factor: float, co2_price: float, charge_source: str,
                    allow_battery_export: bool) -> dict[str, float]:
    """The bill of the forecast-driven scheduler replayed over ``site`` (hourly re-plans on the
    full bill, :func:`pvbess.replay`), priced like every other row."""
    res = replay(site, battery=battery, forecast=forecast, tariff=tariff,
                 co2_price_per_kg=co2_price, co2_kg_per_kwh=factor, charge_source=charge_source,
                 allow_battery_export=allow_battery_export, compare=False, progress=False)
    bal = res.balance
    return {**site_bill(bal["grid_import_kwh"], bal["grid_export_kwh"], bal.index, tariff,
                        co2_kg_per_kwh=factor, co2_price_per_kg=co2_price,
                        bess_charge_kwh=bal["bess_charge_kwh"],
                        bess_discharge_kwh=bal["bess_discharge_kwh"],
                        wear_cost_per_kwh_stored=battery.wear_cost_per_kwh,
                        eta_charge=battery.eta_charge,
                        final_stored_kwh=float(bal["soe_end_kwh"].iloc[-1])),
            "train_time_s": float(res.info["wall_s"])}


def _steps_by_algorithm(algorithms: tuple[str, ...], steps: int | Mapping[str, int]
                        ) -> dict[str, int]:
    if isinstance(steps, Mapping):
        missing = [a for a in algorithms if a not in steps]
        if missing:
            raise DataError(f"steps = {dict(steps)!r}: no budget for {missing}")
        return {a: whole_number(f"steps[{a!r}]", steps[a], 1) for a in algorithms}
    return dict.fromkeys(algorithms, whole_number("steps", steps, 1))


def _check_choices(algorithms: tuple[str, ...], seeds: tuple[int, ...]) -> None:
    unknown = [a for a in algorithms if a not in ALGORITHMS]
    if unknown or len(set(algorithms)) != len(algorithms):
        raise DataError(f"algorithms = {list(algorithms)!r}: each once, from {ALGORITHMS}")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int | np.integer)]
    if bad or len(set(seeds)) != len(seeds):
        raise DataError(f"seeds = {list(seeds)!r}: distinct whole numbers")


def score_table(train_site: pd.DataFrame, test_site: pd.DataFrame, *,
                algorithms: tuple[str, ...] = ALGORITHMS,
                steps: int | Mapping[str, int] = 20_000, seeds: tuple[int, ...] = (0,),
                battery: Battery | None = None, tariff: Tariff | None = None,
                co2_price_per_kg: float = 0.0, co2_kg_per_kwh: float | None = None,
                charge_source: str = "pv", scheduler_forecast: str | None = None,
                eval_points: int = 0, workers: int = 1, **env_options: Any) -> LearnedScores:
    """Train each algorithm and seed on ``train_site``; score every strategy on ``test_site``.

    Parameters
    ----------
    train_site, test_site : DataFrame
        ``pv_kwh``, ``ev_kwh``, ``mall_kwh`` per period, each on a regular tz-aware index. [kWh]
    algorithms : tuple of str
        From :data:`~pvbess.learn.agents.ALGORITHMS`.
    steps : int or mapping
        Training steps (periods) per agent, or per algorithm.
    seeds : tuple of int
        One agent per algorithm and seed.
    scheduler_forecast : str, optional
        Adds the scheduler's replay with this forecast (its ``train_time_s`` is the replay's
        wall time).
    eval_points : int
        Evaluations of each policy on ``test_site`` during training, for its learning curve
        (:func:`~pvbess.learn.agents.evaluation_steps`).
    workers : int
        Processes training agents side by side (:func:`~pvbess.learn.agents.train_agents`).
    env_options
        More options of :class:`~pvbess.learn.env.SiteBatteryEnv` (forecasts, weights, ...).

    Raises
    ------
    RuntimeError
        When a policy's replay through ``simulate`` does not bill what its environment summed
        (1e-6 relative): the environment and the plant would disagree.
    """
    algorithms, seeds = tuple(algorithms), tuple(seeds)
    _check_choices(algorithms, seeds)
    budget = _steps_by_algorithm(algorithms, steps)
    whole_number("workers", workers, 1)
    evaluation_steps(1, eval_points)  # checks eval_points before any work
    battery = Battery() if battery is None else battery
    tariff = Tariff() if tariff is None else tariff
    factor = Site().co2_kg_per_kwh if co2_kg_per_kwh is None else float(co2_kg_per_kwh)
    export = bool(env_options.get("allow_battery_export", False))
    options = dict(battery=battery, tariff=tariff, co2_price_per_kg=co2_price_per_kg,
                   co2_kg_per_kwh=factor, charge_source=charge_source, **env_options)
    priced = dict(tariff=tariff, co2_price_pen_per_kg=co2_price_per_kg, co2_kg_per_kwh=factor,
                  charge_source=charge_source, allow_battery_export=export, dp=False)
    reference, results = iquitos_optimal_dispatch(test_site, battery, **priced)
    train_reference, _ = iquitos_optimal_dispatch(train_site, battery, six_phase=False,
                                                  **priced)
    rows = {name: dict(reference.loc[name].drop("solve_time_s")) for name in reference.index}
    kept = {EXACT: results[EXACT].periods, RULES: results[RULES],
            NO_BATTERY: results[NO_BATTERY]}
    if scheduler_forecast:
        rows[f"scheduler_{scheduler_forecast}"] = _scheduler_bill(
            test_site, scheduler_forecast, battery, tariff, factor, co2_price_per_kg,
            charge_source, export)
    jobs = [(a, int(s), budget[a]) for a in algorithms for s in seeds]
    trained = train_agents(jobs, train_site, workers=workers, eval_site=test_site,
                           eval_points=eval_points, **options)
    agents: dict[str, TrainedAgent] = {}
    for agent in trained:
        _, env_cost, balance = evaluate_agent(agent, test_site, **options)
        bill = balance_bill(balance, tariff, battery, co2_kg_per_kwh=factor,
                            co2_price_per_kg=co2_price_per_kg)
        if not np.isclose(env_cost, bill["total_cost_pen"], rtol=1e-6, atol=0.0):
            raise RuntimeError(f"{agent.algorithm} seed {agent.seed}: the environment summed "
                               f"{env_cost} PEN, simulate's replay bills "
                               f"{bill['total_cost_pen']} PEN")
        name = agent_row(agent.algorithm, agent.seed)
        rows[name] = {**bill, "train_time_s": agent.train_time_s, "train_steps": agent.steps,
                      "seed": agent.seed}
        agents[name] = agent
        kept[name] = balance
    table = bill_table(rows, extra=SCORE_COLUMNS)
    table.insert(table.columns.get_loc("train_time_s"), "optimal_saving_share_frac",
                 share_of_optimal_saving(table["total_cost_pen"],
                                         table.loc[NO_BATTERY, "total_cost_pen"],
                                         table.loc[EXACT, "total_cost_pen"]))
    references = pd.DataFrame(
        {name: [train_reference.loc[name, "total_cost_pen"], reference.loc[name, "total_cost_pen"]]
         for name in (EXACT, NO_BATTERY)}, index=pd.Index(["train", "test"], name="months"))
    battery_table = {name: frame.loc[:, list(BATTERY_COLUMNS)].astype(float)
                     for name, frame in kept.items()}
    scenario = (f"BESS {battery.capacity_kwh:,.0f} kWh / {battery.power_discharge_kw:,.0f} kW, "
                f"charging from {charge_source} · trained {_span(train_site)}, held out "
                f"{_span(test_site)} · full bill"
                + (f", CO2 at {co2_price_per_kg:g} PEN/kg" if co2_price_per_kg else ""))
    return LearnedScores(table, agents, battery_table, references, scenario)


def _span(site: pd.DataFrame) -> str:
    return f"{site.index[0]:%Y-%m-%d} to {site.index[-1]:%Y-%m-%d}"
