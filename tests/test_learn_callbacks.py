"""The learning-curve callback on a hand-driven model: episode bills at the steps episodes end,
evaluations when due (several at once when a rollout jumps past them) and of the final policy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("stable_baselines3", reason="the rl extra (stable-baselines3) is not installed")

from pvbess.learn.agents import evaluation_steps  # noqa: E402
from pvbess.learn.callbacks import (  # noqa: E402
    CURVE_COLUMNS,
    EVALUATION,
    TRAINING,
    LearningCurveCallback,
)


def _model():
    return SimpleNamespace(num_timesteps=0, get_env=lambda: None, logger=None)


def _drive(callback, model, steps, episode_ends, rewards):
    callback.init_callback(model)
    callback.on_training_start({}, {})
    ended = iter(rewards)
    for t in steps:
        model.num_timesteps = t
        infos = [{"episode": {"r": next(ended), "l": 1, "t": 0.0}} if t in episode_ends else {}]
        callback.update_locals({"infos": infos})
        assert callback.on_step()
    callback.on_training_end()
    return callback.curve()


def test_points_at_episode_ends_and_when_due():
    calls = []
    model = _model()

    def evaluate(m):
        assert m is model
        calls.append(m.num_timesteps)
        return 1000.0 + m.num_timesteps

    callback = LearningCurveCallback(0.01, evaluate, eval_at=[0, 3, 4, 9])
    # a rollout that jumps from 2 to 6 steps passes two due evaluations at once
    curve = _drive(callback, model, [1, 2, 6, 7, 8], episode_ends={2, 8}, rewards=[-5.0, -7.5])
    assert list(curve.columns) == list(CURVE_COLUMNS)
    assert calls == [0, 6, 6, 8]  # 0 before learning, 3 and 4 at 6, the final policy at 8
    training = curve[curve["kind"] == TRAINING]
    assert list(training["timesteps"]) == [2, 8]
    assert list(training["total_cost_pen"]) == pytest.approx([500.0, 750.0])  # -r / scale
    evaluated = curve[curve["kind"] == EVALUATION]
    assert list(evaluated["total_cost_pen"]) == [1000.0, 1006.0, 1006.0, 1008.0]


def test_no_evaluation_without_a_site_and_none_repeated_at_the_end():
    only_training = _drive(LearningCurveCallback(1.0), _model(), [1, 2], {2}, [-3.0])
    assert list(only_training["kind"]) == [TRAINING]
    calls = []
    callback = LearningCurveCallback(1.0, lambda m: calls.append(m.num_timesteps) or 0.0,
                                     eval_at=evaluation_steps(4, 2))
    _drive(callback, _model(), [1, 2, 3, 4], set(), [])
    assert calls == [0, 2, 4]  # the last due evaluation is already the final policy's


@pytest.mark.parametrize("steps,points,expected", [(200, 2, [0, 100, 200]), (10, 0, []),
                                                   (3, 5, [0, 1, 2, 3])])
def test_evaluation_steps(steps, points, expected):
    assert evaluation_steps(steps, points) == expected
