"""stable-baselines3 agents on :class:`~pvbess.learn.env.SiteBatteryEnv`, scored on the full bill.

:func:`train_agent` trains SAC, PPO or A2C (seeded, one torch thread) on some months of a site
table; :func:`evaluate_agent` runs the deterministic policy on held-out months and replays its
setpoints through ``simulate(strategy="schedule")``, so its bill is computed exactly like every
other strategy's (:func:`pvbess.bill.site_bill`); :func:`score_table` puts the agents beside the
LP bound (:func:`pvbess.exact_schedule` on the full bill), the six-phase rules and no battery:

``share_of_optimal_saving = (bill(no battery) - bill(strategy)) / (bill(no battery) - bill(LP))``

1 is the optimum, 0 no better than no battery, below 0 worse than no battery.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..balance import simulate
from ..battery import Battery
from ..bill import bill_table, site_bill
from ..scheduler.replay import replay
from ..site import Site
from ..studies.optimal_dispatch import iquitos_optimal_dispatch
from ..tariff import Tariff
from ..timeseries import DataError
from .env import SiteBatteryEnv

__all__ = ["ALGORITHMS", "SCORE_COLUMNS", "TrainedAgent", "balance_bill", "evaluate_agent",
           "score_table", "train_agent"]

#: The algorithms :func:`train_agent` knows (stable-baselines3 class names).
ALGORITHMS: tuple[str, ...] = ("SAC", "PPO", "A2C")

#: Columns :func:`score_table` adds to :data:`pvbess.bill.BILL_COLUMNS`.
SCORE_COLUMNS: tuple[str, ...] = ("share_of_optimal_saving", "train_time_s", "train_steps",
                                  "seed")


@dataclass
class TrainedAgent:
    """A trained policy and how it was trained."""

    algorithm: str
    model: Any  # a stable_baselines3 BaseAlgorithm
    seed: int
    steps: int
    train_time_s: float
    scale_kwh: float  # the training table's observation scale (given to evaluation envs)
    reward_scale: float
    episode_rewards: list[float] = field(default_factory=list)  # the learning curve (scaled)


def _sb3():
    try:
        import stable_baselines3
        import torch
    except ImportError as exc:  # pragma: no cover - the rl extra is optional
        raise ImportError("pvbess.learn.agents needs the rl extra: pip install -e '.[rl]'"
                          ) from exc
    return stable_baselines3, torch


def _model(algorithm: str, env: Any, seed: int, steps: int, sb3: Any) -> Any:
    """The algorithm with settings that fit a small budget (PPO rolls out at most ``steps``)."""
    if algorithm == "SAC":
        return sb3.SAC("MlpPolicy", env, seed=seed, verbose=0, device="cpu",
                       buffer_size=max(steps, 1) + 1, learning_starts=min(100, steps // 2))
    if algorithm == "PPO":
        n_steps = int(min(1024, max(64, steps // 64 * 64)))  # whole batches of 64
        return sb3.PPO("MlpPolicy", env, seed=seed, verbose=0, device="cpu", n_steps=n_steps,
                       batch_size=64)
    return sb3.A2C("MlpPolicy", env, seed=seed, verbose=0, device="cpu")


def _reward_scale(env: SiteBatteryEnv) -> float:
    """1 / the cost of the largest period's energy at the dearest price: rewards of order 1."""
    return 1.0 / max(env.scale_kwh * float(env.buy.max()), 1e-9)


def train_agent(algorithm: str, site: pd.DataFrame, *, steps: int, seed: int = 0,
                **env_options: Any) -> TrainedAgent:
    """Train one agent on ``site`` for ``steps`` periods (episodes: the whole table, repeated).

    ``env_options`` go to :class:`SiteBatteryEnv` (battery, tariff, charge source, CO2 price,
    forecasts...); the reward is scaled by :func:`_reward_scale` (a constant factor, so the
    policy that maximises it minimises the bill).
    """
    if algorithm not in ALGORITHMS:
        raise DataError(f"algorithm = {algorithm!r}: must be one of {ALGORITHMS}")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise DataError(f"steps = {steps!r}: must be a whole number >= 1")
    sb3, torch = _sb3()
    from stable_baselines3.common.monitor import Monitor

    torch.set_num_threads(1)
    probe = SiteBatteryEnv(site, **env_options)
    scale = _reward_scale(probe)
    env = Monitor(SiteBatteryEnv(site, reward_scale=scale, **env_options))
    model = _model(algorithm, env, seed, int(steps), sb3)
    t0 = time.perf_counter()
    model.learn(total_timesteps=int(steps))
    elapsed = time.perf_counter() - t0
    return TrainedAgent(algorithm, model, seed, int(steps), elapsed, probe.scale_kwh, scale,
                        list(env.get_episode_rewards()))


def evaluate_agent(agent: TrainedAgent, site: pd.DataFrame, **env_options: Any
                   ) -> tuple[pd.Series, float, pd.DataFrame]:
    """Run the deterministic policy over ``site`` (the held-out months).

    Returns
    -------
    tuple
        ``(setpoints, env_cost, balance)``: the setpoints the policy applied [kWh], the bill the
        environment summed (minus its rewards) [PEN] and the balance table of
        ``simulate(strategy="schedule")`` on those setpoints.
    """
    env = SiteBatteryEnv(site, scale_kwh=agent.scale_kwh, **env_options)
    obs, _ = env.reset(seed=agent.seed)
    total, done = 0.0, False
    while not done:
        action, _ = agent.model.predict(obs, deterministic=True)
        obs, reward, done, _, _ = env.step(action)
        total += reward
    balance = simulate(site, env.battery, strategy="schedule", setpoint_kwh=env.setpoints(),
                       tariff=env.tariff, co2_kg_per_kwh=env.co2_kg_per_kwh,
                       charge_source=env.charge_source,
                       allow_battery_export=env.allow_battery_export)
    return env.setpoints(), -total, balance


def balance_bill(balance: pd.DataFrame, tariff: Tariff, battery: Battery, *,
                 co2_kg_per_kwh: float, co2_price_per_kg: float = 0.0) -> dict[str, float]:
    """The full bill of a balance table (:func:`pvbess.bill.site_bill`)."""
    return site_bill(balance["grid_import_kwh"],
                     balance["pv_export_kwh"] + balance["bess_export_kwh"], balance.index,
                     tariff, co2_kg_per_kwh=co2_kg_per_kwh, co2_price_per_kg=co2_price_per_kg,
                     bess_charge_kwh=balance["bess_charge_kwh"],
                     bess_discharge_kwh=balance["bess_discharge_kwh"],
                     wear_cost_per_kwh_stored=battery.wear_cost_per_kwh,
                     eta_charge=battery.eta_charge,
                     final_stored_kwh=float(balance["soe_end_kwh"].iloc[-1]))


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


def score_table(train_site: pd.DataFrame, test_site: pd.DataFrame, *,
                algorithms: tuple[str, ...] = ALGORITHMS, steps: int = 20_000,
                seeds: tuple[int, ...] = (0,), battery: Battery | None = None,
                tariff: Tariff | None = None, co2_price_per_kg: float = 0.0,
                co2_kg_per_kwh: float | None = None, charge_source: str = "pv",
                scheduler_forecast: str | None = None,
                **env_options: Any) -> tuple[pd.DataFrame, dict[str, TrainedAgent]]:
    """Train each algorithm and seed on ``train_site``; score every strategy on ``test_site``.

    Returns
    -------
    table : DataFrame
        One row per strategy (``exact``, ``six_phase``, ``no_battery``, with
        ``scheduler_forecast`` the scheduler's replay ``scheduler_<forecast>`` (its
        ``train_time_s`` is the replay's wall time), then ``SAC_s0``...):
        :data:`pvbess.bill.BILL_COLUMNS` and :data:`SCORE_COLUMNS`.
    agents : dict
        The :class:`TrainedAgent` of each agent row.
    """
    battery = Battery() if battery is None else battery
    tariff = Tariff() if tariff is None else tariff
    factor = Site().co2_kg_per_kwh if co2_kg_per_kwh is None else float(co2_kg_per_kwh)
    options = dict(battery=battery, tariff=tariff, co2_price_per_kg=co2_price_per_kg,
                   co2_kg_per_kwh=factor, charge_source=charge_source, **env_options)
    reference, _ = iquitos_optimal_dispatch(
        test_site, battery, tariff=tariff, co2_price_pen_per_kg=co2_price_per_kg,
        co2_kg_per_kwh=factor, charge_source=charge_source,
        allow_battery_export=bool(env_options.get("allow_battery_export", False)), dp=False)
    rows = {name: dict(reference.loc[name].drop("solve_time_s")) for name in reference.index}
    if scheduler_forecast is not None:
        rows[f"scheduler_{scheduler_forecast}"] = _scheduler_bill(
            test_site, scheduler_forecast, battery, tariff, factor, co2_price_per_kg,
            charge_source, bool(env_options.get("allow_battery_export", False)))
    agents: dict[str, TrainedAgent] = {}
    for algorithm in algorithms:
        for seed in seeds:
            agent = train_agent(algorithm, train_site, steps=steps, seed=seed, **options)
            _, env_cost, balance = evaluate_agent(agent, test_site, **options)
            bill = balance_bill(balance, tariff, battery, co2_kg_per_kwh=factor,
                                co2_price_per_kg=co2_price_per_kg)
            if not np.isclose(env_cost, bill["total_cost_pen"], rtol=1e-6, atol=0.0):
                raise RuntimeError(f"{algorithm} seed {seed}: the environment summed "
                                   f"{env_cost} PEN, simulate's replay bills "
                                   f"{bill['total_cost_pen']} PEN")
            name = f"{algorithm}_s{seed}"
            rows[name] = {**bill, "train_time_s": agent.train_time_s, "train_steps": steps,
                          "seed": seed}
            agents[name] = agent
    table = bill_table(rows, extra=SCORE_COLUMNS)
    best, none = table.loc["exact", "total_cost_pen"], table.loc["no_battery", "total_cost_pen"]
    table.insert(table.columns.get_loc("train_time_s"), "share_of_optimal_saving",
                 (none - table["total_cost_pen"]) / (none - best) if none > best else np.nan)
    return table, agents
