"""stable-baselines3 agents on :class:`~pvbess.learn.env.SiteBatteryEnv`, trained and replayed.

:func:`train_agent` trains SAC, PPO or A2C (seeded, one torch thread) on some months of a site
table, recording its learning curve (:class:`~pvbess.learn.callbacks.LearningCurveCallback`:
each training episode's bill and, optionally, the deterministic policy's bill on held-out
months at a few timesteps); :func:`train_agents` trains several, side by side in worker
processes if asked. :func:`evaluate_agent` runs the deterministic policy on held-out months and
replays its setpoints through ``simulate(strategy="schedule")``, so its bill is computed exactly
like every other strategy's (:func:`balance_bill`, :func:`pvbess.bill.site_bill`).
:mod:`pvbess.learn.scores` puts them beside the optimum.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..balance import simulate
from ..battery import Battery
from ..bill import site_bill
from ..tariff import Tariff
from ..timeseries import DataError
from .env import SiteBatteryEnv

__all__ = ["ALGORITHMS", "TrainedAgent", "balance_bill", "evaluate_agent", "evaluation_steps",
           "run_policy", "train_agent", "train_agents", "whole_number"]

#: The algorithms :func:`train_agent` knows (stable-baselines3 class names).
ALGORITHMS: tuple[str, ...] = ("SAC", "PPO", "A2C")


@dataclass
class TrainedAgent:
    """A trained policy and how it was trained."""

    algorithm: str
    model: Any  # a stable_baselines3 BaseAlgorithm
    seed: int
    steps: int  # trained (PPO and A2C finish their last rollout: may exceed the budget)
    train_time_s: float
    scale_kwh: float  # the training table's observation scale (given to evaluation envs)
    reward_scale: float
    #: The learning curve: :data:`pvbess.learn.callbacks.CURVE_COLUMNS` (bills in PEN).
    curve: pd.DataFrame = field(default_factory=pd.DataFrame)


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


def whole_number(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int, or a DataError naming ``name`` unless it is a whole number at least
    ``minimum`` (a bool or a float is refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise DataError(f"{name} = {value!r}: must be a whole number >= {minimum}")
    return int(value)


def evaluation_steps(steps: int, points: int) -> list[int]:
    """The timesteps at which a learning curve evaluates the policy: 0 (untrained), then
    ``points`` evenly spaced up to ``steps`` (none when ``points`` is 0)."""
    points = whole_number("eval_points", points, 0)
    if points == 0:
        return []
    return sorted({0, *(int(round(steps * (i + 1) / points)) for i in range(int(points)))})


def train_agent(algorithm: str, site: pd.DataFrame, *, steps: int, seed: int = 0,
                eval_site: pd.DataFrame | None = None, eval_points: int = 0,
                **env_options: Any) -> TrainedAgent:
    """Train one agent on ``site`` for ``steps`` periods (episodes: the whole table, repeated;
    PPO and A2C finish their last rollout, :attr:`TrainedAgent.steps` says how many ran).

    ``env_options`` go to :class:`SiteBatteryEnv` (battery, tariff, charge source, CO2 price,
    forecasts...); the reward is scaled by :func:`_reward_scale` (a constant factor, so the
    policy that maximises it minimises the bill). The learning curve records every training
    episode's bill and, with ``eval_site``, the deterministic policy's bill on it at
    :func:`evaluation_steps` (``eval_points`` of them after the untrained policy); evaluating
    changes nothing in the training (the same seed trains the same policy). Its wall time is
    left out of ``train_time_s``.
    """
    if algorithm not in ALGORITHMS:
        raise DataError(f"algorithm = {algorithm!r}: must be one of {ALGORITHMS}")
    steps = whole_number("steps", steps, 1)
    eval_at = evaluation_steps(steps, eval_points)
    if eval_at and eval_site is None:
        raise DataError("eval_points > 0 needs an eval_site (the held-out months)")
    sb3, torch = _sb3()
    from stable_baselines3.common.monitor import Monitor

    from .callbacks import LearningCurveCallback

    torch.set_num_threads(1)
    probe = SiteBatteryEnv(site, **env_options)
    scale = _reward_scale(probe)
    env = Monitor(SiteBatteryEnv(site, reward_scale=scale, **env_options))
    model = _model(algorithm, env, seed, steps, sb3)
    evaluate = (_Evaluation(SiteBatteryEnv(eval_site, scale_kwh=probe.scale_kwh, **env_options),
                            seed) if eval_at else None)
    callback = LearningCurveCallback(scale, evaluate, eval_at)
    t0 = time.perf_counter()
    model.learn(total_timesteps=steps, callback=callback)
    elapsed = time.perf_counter() - t0 - (evaluate.wall_s if evaluate else 0.0)
    return TrainedAgent(algorithm, model, seed, int(model.num_timesteps), elapsed,
                        probe.scale_kwh, scale, callback.curve())


class _Evaluation:
    """The deterministic policy's bill on an evaluation environment, timed (a learning curve's
    evaluations are not training time)."""

    def __init__(self, env: SiteBatteryEnv, seed: int) -> None:
        self.env, self.seed, self.wall_s = env, seed, 0.0

    def __call__(self, model: Any) -> float:
        t0 = time.perf_counter()
        cost = run_policy(model, self.env, self.seed)
        self.wall_s += time.perf_counter() - t0
        return cost


def _train_in_worker(job: tuple[str, int, int], site: pd.DataFrame,
                     options: dict[str, Any]) -> dict[str, Any]:
    """:func:`train_agent` in a worker process; the model comes back as its saved zip."""
    algorithm, seed, steps = job
    agent = train_agent(algorithm, site, steps=steps, seed=seed, **options)
    buffer = io.BytesIO()
    agent.model.save(buffer, exclude=["env", "replay_buffer"])
    return {**agent.__dict__, "model": buffer.getvalue()}


def train_agents(jobs: Sequence[tuple[str, int, int]], site: pd.DataFrame, *, workers: int = 1,
                 **options: Any) -> list[TrainedAgent]:
    """Train one agent per ``(algorithm, seed, steps)`` job, in order.

    ``options`` go to :func:`train_agent`. With ``workers`` > 1 the jobs run in that many
    worker processes (one torch thread each; started with ``spawn``, so each pays the imports
    once) and every model comes back through stable-baselines3's save and load: the same
    weights, so the same policy as training it here.
    """
    workers = whole_number("workers", workers, 1)
    for algorithm, _, steps in jobs:
        if algorithm not in ALGORITHMS:
            raise DataError(f"algorithm = {algorithm!r}: must be one of {ALGORITHMS}")
        whole_number("steps", steps, 1)
    if workers == 1 or len(jobs) < 2:
        return [train_agent(a, site, steps=n, seed=s, **options) for a, s, n in jobs]
    import multiprocessing

    sb3, _ = _sb3()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context) as pool:
        done = list(pool.map(_train_in_worker, jobs, [site] * len(jobs),
                             [options] * len(jobs)))
    agents = []
    for fields in done:
        model = getattr(sb3, fields["algorithm"]).load(io.BytesIO(fields["model"]),
                                                         device="cpu")
        agents.append(TrainedAgent(**{**fields, "model": model}))
    return agents


def run_policy(model: Any, env: SiteBatteryEnv, seed: int) -> float:
    """Run ``model``'s deterministic policy through one episode of ``env``; its bill
    (minus the summed rewards, divided by the reward scale). [PEN]"""
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        action, _ = model.predict(obs, deterministic=True)
        obs, reward, done, _, _ = env.step(action)
        total += reward
    return -total / env.reward_scale if env.reward_scale > 0 else float("nan")


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
    cost = run_policy(agent.model, env, agent.seed)
    balance = simulate(site, env.battery, strategy="schedule", setpoint_kwh=env.setpoints(),
                       tariff=env.tariff, co2_kg_per_kwh=env.co2_kg_per_kwh,
                       charge_source=env.charge_source,
                       allow_battery_export=env.allow_battery_export)
    return env.setpoints(), cost, balance


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
