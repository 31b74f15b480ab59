"""Learned agents with a smoke budget: trained, replayed through simulate, scored on the bill,
their learning curves recorded while they train, in one process or several."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("stable_baselines3",
                    reason="the rl extra (stable-baselines3, torch) is not installed")

import pvbess  # noqa: E402
from pvbess.learn.agents import (  # noqa: E402
    ALGORITHMS,
    evaluate_agent,
    evaluation_steps,
    train_agent,
    train_agents,
)
from pvbess.learn.callbacks import EVALUATION, TRAINING  # noqa: E402
from pvbess.learn.scores import score_table  # noqa: E402
from pvbess.learn.tables import learning_curves  # noqa: E402

SMOKE_STEPS = 200

#: One xdist worker for the module: its trained smoke agents (a module fixture) train once.
pytestmark = pytest.mark.xdist_group("learn_agents")


@pytest.fixture(scope="module")
def weeks():
    site = pvbess.load_iquitos()[["pv_kwh", "ev_kwh", "mall_kwh"]]
    return site.loc["2025-03-03":"2025-03-09"], site.loc["2025-03-10":"2025-03-16"]


@pytest.fixture(scope="module")
def smoke_scores(weeks):
    return score_table(*weeks, steps=SMOKE_STEPS, seeds=(0,), co2_price_per_kg=0.05,
                       scheduler_forecast="persistence", eval_points=2)


def test_every_algorithm_trains_and_is_scored(smoke_scores):
    table, agents = smoke_scores.table, smoke_scores.agents
    assert list(table.index) == ["exact", "six_phase", "no_battery", "scheduler_persistence",
                                 *(f"{a}_s0" for a in ALGORITHMS)]
    share = table["optimal_saving_share_frac"]
    assert share["exact"] == pytest.approx(1.0) and share["no_battery"] == pytest.approx(0.0)
    assert 0.0 < share["six_phase"] < 1.0 and 0.0 < share["scheduler_persistence"] < 1.0
    # nothing beats the LP bound of the full bill
    assert (table["total_cost_pen"] >= table.loc["exact", "total_cost_pen"] * (1 - 1e-9)).all()
    for name, agent in agents.items():
        # PPO and A2C finish their last rollout: the table says how many steps ran
        assert table.loc[name, "train_steps"] == agent.steps >= SMOKE_STEPS
        assert agent.train_time_s > 0 and np.isfinite(share[name])
    # the battery kept per row: the LP's plan and each replay, inside the window
    battery = pvbess.Battery()
    assert set(smoke_scores.battery) == set(table.index) - {"scheduler_persistence"}
    for frame in smoke_scores.battery.values():
        assert frame["soe_end_kwh"].between(battery.e_min_kwh - 1e-9,
                                            battery.e_max_kwh + 1e-9).all()
    assert "held out 2025-03-10 to 2025-03-16" in smoke_scores.scenario


def test_policy_replay_gives_the_environment_bill(weeks, smoke_scores):
    """The acceptance criterion, on a trained policy: simulate's replay bills what the
    environment summed (score_table refuses otherwise; here checked directly)."""
    agent = smoke_scores.agents["SAC_s0"]
    setpoints, env_cost, balance = evaluate_agent(agent, weeks[1], co2_price_per_kg=0.05)
    assert np.abs(setpoints).max() > 0  # the policy moved the battery
    bill = pvbess.bill.site_bill(
        balance["grid_import_kwh"], balance["pv_export_kwh"] + balance["bess_export_kwh"],
        balance.index, pvbess.Tariff(), co2_kg_per_kwh=pvbess.Site().co2_kg_per_kwh,
        co2_price_per_kg=0.05)
    assert env_cost == pytest.approx(bill["total_cost_pen"], rel=1e-6)


def test_learning_curves_are_recorded_while_training(weeks, smoke_scores):
    """Each agent's curve: an evaluation of the untrained and of the final policy and at the
    evaluation steps between, a point per finished training episode; the final evaluation is
    the policy the table scores, so it bills what the table says."""
    table = smoke_scores.table
    episode = len(weeks[0])
    for name, agent in smoke_scores.agents.items():
        curve = agent.curve
        assert curve["timesteps"].is_monotonic_increasing
        evaluated = curve[curve["kind"] == EVALUATION]
        planned = evaluation_steps(SMOKE_STEPS, 2)
        assert list(evaluated["timesteps"])[:len(planned)] == planned == [0, 100, 200]
        assert evaluated["timesteps"].iloc[-1] == agent.steps
        assert evaluated["total_cost_pen"].iloc[-1] == pytest.approx(
            table.loc[name, "total_cost_pen"], rel=1e-6)
        episodes = curve[curve["kind"] == TRAINING]
        assert list(episodes["timesteps"]) == list(range(episode, agent.steps + 1, episode))
        # a training episode's bill is in PEN over the training week (the reward's scale
        # divided out): between the week's LP bound and a battery that only loses money
        refs = smoke_scores.references.loc["train"]
        assert episodes["total_cost_pen"].between(refs["exact"], 1.2 * refs["no_battery"]).all()
    curves = learning_curves(smoke_scores)
    assert set(curves["algorithm"]) == set(ALGORITHMS)
    # untrained, the deterministic policy's mean action is 0: the battery idles, no saving
    first = curves[(curves["kind"] == EVALUATION) & (curves["timesteps"] == 0)]
    np.testing.assert_allclose(first["optimal_saving_share_frac"], 0.0, atol=1e-9)


def test_evaluating_changes_nothing_in_training(weeks):
    plain = train_agent("A2C", weeks[0], steps=50, seed=3)
    watched = train_agent("A2C", weeks[0], steps=50, seed=3, eval_site=weeks[1], eval_points=2)
    assert plain.curve["kind"].eq(TRAINING).all()
    assert watched.curve["kind"].eq(EVALUATION).sum() == 3
    runs = [evaluate_agent(a, weeks[1])[0] for a in (plain, watched)]
    np.testing.assert_array_equal(runs[0].to_numpy(), runs[1].to_numpy())


def test_worker_processes_train_the_same_policies(weeks):
    """Two spawned workers return (by save and load) the policies one process trains."""
    jobs = [("A2C", 3, 40), ("PPO", 4, 64)]
    here = train_agents(jobs, weeks[0])
    there = train_agents(jobs, weeks[0], workers=2)
    for a, b in zip(here, there, strict=True):
        assert (a.algorithm, a.seed, a.steps) == (b.algorithm, b.seed, b.steps)
        np.testing.assert_array_equal(evaluate_agent(a, weeks[1])[0].to_numpy(),
                                      evaluate_agent(b, weeks[1])[0].to_numpy())


@pytest.mark.parametrize("bad", [{"algorithm": "DQN"}, {"steps": 0}, {"steps": 1.5},
                                 {"eval_points": 2}, {"eval_points": -1}])
def test_bad_training_options_are_refused(weeks, bad):
    options = {"algorithm": "PPO", "steps": 10, **bad}
    with pytest.raises(pvbess.DataError):
        train_agent(options.pop("algorithm"), weeks[0], **options)


@pytest.mark.parametrize("bad", [{"algorithms": ("SAC", "SAC")}, {"algorithms": ("DQN",)},
                                 {"seeds": (0, 0)}, {"seeds": (0.5,)},
                                 {"steps": {"SAC": 10}}, {"workers": 0}])
def test_bad_study_options_are_refused(weeks, bad):
    options = {"algorithms": ("SAC", "PPO"), "steps": 10, **bad}
    with pytest.raises(pvbess.DataError):
        score_table(*weeks, **options)
